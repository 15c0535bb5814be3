#include "account/account_state.h"

#include <gtest/gtest.h>

#include <vector>

namespace dg {
namespace {

TEST(AccountState, FixedSizeWhateverTheAccountSends) {
  // docs/ARCHITECTURE.md: 1,632 bytes per account, whatever it sends.
  EXPECT_LE(sizeof(AccountState), 1632u) << sizeof(AccountState);
  AccountState a;
  for (uint64_t v = 1; v <= 100000; ++v) a.AddIndicator(IndicatorKind::kIpPrefix, v);
  EXPECT_EQ(a.indicator_count[static_cast<size_t>(IndicatorKind::kIpPrefix)], kMaxValuesPerKind);
  EXPECT_EQ(a.indicator_overflow[static_cast<size_t>(IndicatorKind::kIpPrefix)], 100000u - kMaxValuesPerKind);
}

// White-box evasion (#16): one-off values sent first to fill the slots must
// not keep out a value the account then keeps using (its card, its /24).
TEST(AccountState, OneOffValuesCannotPinTheSlots) {
  AccountState a;
  const auto kind = IndicatorKind::kPayment;
  for (uint64_t v = 1; v <= 8; ++v) a.AddIndicator(kind, 1000 + v);  // the benign opening
  // Then every request brings the campaign's card and a fresh one-off value.
  for (uint64_t r = 0; r < 50; ++r) {
    a.AddIndicator(kind, 42);
    a.AddIndicator(kind, 5000 + r);
  }
  EXPECT_TRUE(a.HasIndicator(kind, 42)) << "the card is held";
  // A flood of one-offs in which the card still makes a quarter of the uses
  // turns over the other slots only.
  for (uint64_t r = 0; r < 1000; ++r) a.AddIndicator(kind, r % 4 == 0 ? 42 : 90000 + r);
  EXPECT_TRUE(a.HasIndicator(kind, 42));
  EXPECT_EQ(a.indicator_count[static_cast<size_t>(kind)], kMaxValuesPerKind);
}

// White-box evasion (#16): values used many times at the start (the slots
// used to keep any value used twice, for good) must not keep out a value the
// account then goes on to use, even alternated with one-off values. What is
// guaranteed: a value making up more than 1/kMaxValuesPerKind of the
// kind's uses is held (Misra-Gries).
TEST(AccountState, ValuesUsedOftenAtTheStartCannotPinTheSlots) {
  for (const int opening_uses : {2, 40, 250}) {
    AccountState a;
    const auto kind = IndicatorKind::kIpPrefix;
    for (int use = 0; use < opening_uses; ++use) {
      for (uint64_t v = 1; v <= kMaxValuesPerKind; ++v) a.AddIndicator(kind, 1000 + v);
    }
    int rounds_until_held = -1;
    for (int r = 0; r < 1000; ++r) {
      a.AddIndicator(kind, 42);                                // the hydra's /24
      a.AddIndicator(kind, 5000 + static_cast<uint64_t>(r));   // a fresh proxy address
      if (rounds_until_held < 0 && a.HasIndicator(kind, 42)) rounds_until_held = r;
    }
    EXPECT_TRUE(a.HasIndicator(kind, 42)) << opening_uses;
    // 42 is a third or more of the uses once it has been sent
    // opening_uses * 6 / 2 times; Misra-Gries takes it in by then.
    EXPECT_GE(rounds_until_held, 0) << opening_uses;
    EXPECT_LE(rounds_until_held, opening_uses * static_cast<int>(kMaxValuesPerKind) / 2 + 1) << opening_uses;
  }
}

// Counts are a lower bound on the uses: exact while the kind has room.
TEST(AccountState, SlotCountsAreUsesWhileThereIsRoom) {
  AccountState a;
  const auto kind = IndicatorKind::kClient;
  const size_t k = static_cast<size_t>(kind);
  for (int use = 0; use < 7; ++use) a.AddIndicator(kind, 7);
  a.AddIndicator(kind, 8);
  EXPECT_EQ(a.indicator_hits[k][0], 7);
  EXPECT_EQ(a.indicator_hits[k][1], 1);
  for (uint64_t v = 100; v < 104; ++v) a.AddIndicator(kind, v);  // fills the kind
  EXPECT_EQ(a.indicator_overflow[k], 0u);
  // A newcomer to a full kind with no count at zero: every count wears down
  // by one, and it takes the first slot that reached zero.
  EXPECT_EQ(a.AddIndicator(kind, 200), AccountState::Slot::kReplaced);
  EXPECT_EQ(a.indicator_hits[k][0], 6);
  EXPECT_TRUE(a.HasIndicator(kind, 200));
  EXPECT_FALSE(a.HasIndicator(kind, 8));
  EXPECT_EQ(a.indicator_overflow[k], 1u);
}

// Lockstep (#15): days of activity compared over the last 64 days.
TEST(AccountState, ActiveDayOverlapComparesTheSameDays) {
  auto active_on = [](std::initializer_list<int> days) {
    AccountState a;
    for (const int d : days) {
      EventFeatures f;
      f.ts = static_cast<TimeMs>(d) * kMsPerDay + 3600000;
      a.Observe(f, 8000);
    }
    return a;
  };
  const AccountState daily = active_on({100, 101, 102, 103, 104});
  const AccountState same = active_on({100, 101, 102, 103, 104});
  const AccountState other_days = active_on({105, 107, 109});
  const AccountState half = active_on({102, 103, 104, 105, 106});
  int days = 0;
  EXPECT_DOUBLE_EQ(daily.ActiveDayOverlap(same, &days), 1.0);
  EXPECT_EQ(days, 5);
  EXPECT_DOUBLE_EQ(daily.ActiveDayOverlap(other_days, &days), 0.0);
  EXPECT_EQ(days, 8);
  EXPECT_NEAR(daily.ActiveDayOverlap(half, nullptr), 3.0 / 7.0, 1e-9);
  EXPECT_DOUBLE_EQ(half.ActiveDayOverlap(daily, nullptr), daily.ActiveDayOverlap(half, nullptr));
  // Days 64 apart share a bit position but are not the same day.
  const AccountState later = active_on({164, 165, 166});
  EXPECT_DOUBLE_EQ(daily.ActiveDayOverlap(later, nullptr), 0.0);
  const AccountState spans = active_on({100, 163});  // bit of day 100 stale once day 164 is reached
  EXPECT_DOUBLE_EQ(spans.ActiveDayOverlap(later, nullptr), 0.0);
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

// White-box evasion (#16): seven values used many times at the start used
// to hold seven of the eight slots for good, leaving the values an account
// goes on to use (its system prompt, template, frames, client: six a
// request) to take the eighth from each other, so none was ever repeated.
TEST(RepeatCounter, ValuesUsedOftenAtTheStartCannotPinTheSlots) {
  for (const uint32_t opening_uses : {2u, 20u, 300u}) {
    RepeatCounter r;
    for (uint32_t use = 0; use < opening_uses; ++use) {
      for (uint64_t v = 1; v <= 7; ++v) r.Add(1000 + v);
    }
    uint32_t system_prompt = 0, template_count = 0;
    for (uint64_t request = 0; request < 50; ++request) {
      system_prompt = r.Add(42);
      template_count = r.Add(43);
      r.Add(50000 + request);  // head frame: new on every request
      r.Add(60000 + request);  // tail frame
      r.Add(44);               // client
      r.Add(45);               // behaviour
    }
    EXPECT_GE(system_prompt, 40u) << opening_uses;
    EXPECT_GE(template_count, 40u) << opening_uses;
  }
}

// A value the account keeps using stays among one-off values, and its
// count is its uses.
TEST(RepeatCounter, CountsAValueUsedOnEveryRequestInFull) {
  RepeatCounter r;
  for (uint64_t request = 0; request < 500; ++request) {
    r.Add(7);                 // client configuration
    r.Add(100000 + request);  // prompt cluster
    r.Add(200000 + request);  // frames
    r.Add(300000 + request);
    if (request % 2 == 0) r.Add(8);  // a template used every other request
  }
  EXPECT_EQ(r.TopCount(), 500u);
  EXPECT_EQ(r.Add(8), 251u);
}

// An app's system prompt comes with every request; it is counted as a
// repeat (it links accounts as an indicator) but is no template: the top
// count beside system prompts reads the templates, frames and clients only
// (template_concentration). A slot reused by another value takes that
// value's kind.
TEST(RepeatCounter, TheTopCountBesideSystemPromptsLeavesTheAppsSystemPromptOut) {
  RepeatCounter r;
  for (uint64_t request = 0; request < 100; ++request) {
    r.Add(5, RepeatCounter::Kind::kSystemPrompt);
    r.Add(100000 + request);         // prompt cluster: different every time
    if (request % 4 == 0) r.Add(8);  // a template used every fourth request
  }
  EXPECT_EQ(r.TopCount(), 100u);
  EXPECT_EQ(r.TopCountBesideSystemPrompts(), 25u);
  RepeatCounter only_system;
  for (int request = 0; request < 10; ++request) only_system.Add(5, RepeatCounter::Kind::kSystemPrompt);
  EXPECT_EQ(only_system.TopCountBesideSystemPrompts(), 0u);
  for (uint64_t v = 1000; v < 1000 + 3 * RepeatCounter::kSlots * (RepeatCounter::kStaleSweeps + 1); ++v) only_system.Add(v);
  only_system.Add(1000 + 3 * RepeatCounter::kSlots * (RepeatCounter::kStaleSweeps + 1) - 1);
  EXPECT_EQ(only_system.TopCountBesideSystemPrompts(), 2u) << "the system prompt's slot went to ordinary values";
  EXPECT_EQ(only_system.system_, 0u) << "a reused slot takes its new value's kind";
}

// A passer-by counts once per value, a few values per account, and can
// take back what it counted.
TEST(PasserbyLog, CountsEachValueOnceAndCanWithdraw) {
  PasserbyLog log;
  EXPECT_TRUE(log.Record(42));
  EXPECT_FALSE(log.Record(42)) << "the same value again is not another passer-by";
  EXPECT_TRUE(log.Withdraw(42));
  EXPECT_FALSE(log.Withdraw(42)) << "withdrawn once";
  EXPECT_FALSE(log.Record(42)) << "a withdrawn value is not counted again";
  EXPECT_FALSE(log.Withdraw(7)) << "never counted";
  for (uint64_t v = 100; v < 100 + PasserbyLog::kMax - 1; ++v) EXPECT_TRUE(log.Record(v));
  EXPECT_FALSE(log.Record(999)) << "an account churning through values stops counting";
  std::vector<uint64_t> withdrawn;
  log.WithdrawAll([&](uint64_t key) { withdrawn.push_back(key); });
  EXPECT_EQ(withdrawn.size(), PasserbyLog::kMax - 1) << "42 was withdrawn already";
  log.WithdrawAll([&](uint64_t key) { withdrawn.push_back(key); });
  EXPECT_EQ(withdrawn.size(), PasserbyLog::kMax - 1);
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

namespace dg {
namespace {

EventFeatures At(TimeMs ts, uint32_t flags) {
  EventFeatures f;
  f.ts = ts;
  f.flags = flags;
  return f;
}

TEST(AccountState, SlidingWindowSeesAChangeOfBehaviour) {
  AccountState a;
  const TimeMs t0 = 1775001600000LL;
  // Ten days of ordinary use, then one day of reasoning harvesting.
  for (int idx = 0; idx < 500; ++idx) a.Observe(At(t0 + idx * 30 * kMsPerMinute, 0), 8000);
  const TimeMs later = t0 + 12 * kMsPerDay;
  for (int idx = 0; idx < 60; ++idx) a.Observe(At(later + idx * kMsPerMinute, kFlagCot), 8000);
  EXPECT_EQ(a.life.n, 560u);
  EXPECT_EQ(a.life.cot, 60u);
  const RateCounts recent = a.Recent();
  EXPECT_EQ(recent.n, 60u) << "the quiet days before fell out of the window";
  EXPECT_EQ(recent.cot, 60u);
}

TEST(AccountState, SynchronizedBinsNeedConcentratedActivity) {
  AccountState sync, spread;
  const TimeMs t0 = 1775001600000LL;
  for (int idx = 0; idx < 48; ++idx) {
    // Every hour, minutes :20-:39 only.
    sync.Observe(At(t0 + idx * kMsPerHour + (20 + idx % 20) * kMsPerMinute, 0), 8000);
    spread.Observe(At(t0 + idx * 47 * kMsPerMinute, 0), 8000);
  }
  EXPECT_EQ(sync.SynchronizedBins(), 0b001100u);
  EXPECT_EQ(spread.SynchronizedBins(), 0u);
}

TEST(AccountState, HoursHoldingActivityIgnoresAFewStrayRequests) {
  AccountState batch, scheduler, empty;
  const TimeMs t0 = 1775001600000LL;  // midnight UTC
  for (int day = 0; day < 3; ++day) {
    // 42 requests at 15:00-15:07 each day, and one by hand at another hour.
    for (int idx = 0; idx < 42; ++idx) batch.Observe(At(t0 + day * kMsPerDay + 15 * kMsPerHour + idx * 10000, 0), 8000);
    batch.Observe(At(t0 + day * kMsPerDay + (9 + 3 * day) * kMsPerHour, 0), 8000);
  }
  for (int idx = 0; idx < 48; ++idx) scheduler.Observe(At(t0 + idx * kMsPerHour + 2 * kMsPerMinute, 0), 8000);
  EXPECT_EQ(batch.HoursHoldingActivity(), 1u) << "the batch hour holds 126 of 129 requests";
  EXPECT_EQ(scheduler.HoursHoldingActivity(), 20u) << "every hour alike: 80% needs 20 of 24";
  EXPECT_EQ(empty.HoursHoldingActivity(), 0u);
}

}  // namespace
}  // namespace dg
