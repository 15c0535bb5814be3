#include "account/account_state.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

TEST(AccountState, FixedSizeWhateverTheAccountSends) {
  // docs/ARCHITECTURE.md: about 1 KB per account, whatever it sends.
  EXPECT_LE(sizeof(AccountState), 1100u) << sizeof(AccountState);
  AccountState a;
  for (uint64_t v = 1; v <= 100000; ++v) a.AddIndicator(IndicatorKind::kIpPrefix, v);
  EXPECT_EQ(a.indicator_count[static_cast<size_t>(IndicatorKind::kIpPrefix)], kMaxValuesPerKind);
  EXPECT_EQ(a.indicator_overflow[static_cast<size_t>(IndicatorKind::kIpPrefix)], 100000u - kMaxValuesPerKind);
}

TEST(RepeatCounter, OnlyRecurringValuesCountAsRepeated) {
  RepeatCounter r;
  // One-off values churn through the slots and never reach 2...
  for (uint64_t v = 1; v <= 1000; ++v) EXPECT_EQ(r.Add(v * 7919), 1u);
  // ...while a value that keeps coming back is counted as repeated.
  r.Add(42);
  for (uint64_t v = 2000; v < 2005; ++v) r.Add(v);
  EXPECT_EQ(r.Add(42), 2u);
}

TEST(TopK, KeepsTheHeavyHitter) {
  TopK t;
  for (uint32_t idx = 0; idx < 1000; ++idx) {
    t.Add(7);
    t.Add(1000 + idx);
  }
  EXPECT_EQ(t.TopKey(), 7u);
  EXPECT_GE(t.TopCount(), 1000u);
}

}  // namespace
}  // namespace dg
