// Economic evidence (issue #16): tokens per active day read against the
// population's own 99th percentile (TokenBaseline), as the token_volume
// automation signal.
#include "detect/token_baseline.h"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "detect/scoring.h"
#include "engine/engine.h"
#include "harvest_fixture.h"

namespace dg {
namespace {

using testing::kT0;

TEST(TokenBaseline, UnknownUntilEnoughSamplesThenTheUpperQuantile) {
  TokenBaseline b;
  for (uint64_t k = 0; k + 1 < TokenBaseline::kMinSamples; ++k) b.Add(1000);
  EXPECT_EQ(b.Upper(), 0) << "too few accounts to say what is heavy";
  TokenBaseline u;
  for (int v = 1; v <= 10000; ++v) u.Add(v);
  // The 99th percentile of 1..10000 is 9,900; buckets are 1/8 of a doubling.
  EXPECT_GE(u.Upper(), 9900);
  EXPECT_LE(u.Upper(), 9900 * std::exp2(1.0 / TokenBaseline::kPerDoubling) + 1);
  EXPECT_NEAR(u.Quantile(0.5), 5000, 5000 * 0.1);
}

TEST(TokenBaseline, HostileValuesStayInRange) {
  TokenBaseline b;
  b.Add(std::nan(""));
  b.Add(-5);
  b.Add(1e300);
  b.Add(0);
  EXPECT_EQ(b.samples(), 4u);
  EXPECT_GT(b.Quantile(0.99), 0);
}

// A population of ordinary accounts, ~10k output tokens per active day each,
// and one account that takes ten times that.
class TokenVolumeEngine : public ::testing::Test {
 protected:
  Interaction Request(const std::string& account, TimeMs ts, int64_t output_tokens) {
    Interaction in;
    in.ts = ts;
    in.request_id = account + "-" + std::to_string(ts);
    in.account_id = account;
    in.ip = "203.0.113." + std::to_string(std::hash<std::string>{}(account) % 250);
    in.account_created_at = kT0 - 300 * kMsPerDay;
    in.model = "m";
    in.messages.push_back({Role::kUser, "summarise my notes " + std::to_string(ts % 9973), 0, 0, 0});
    if (output_tokens >= 0) {
      in.input_tokens = 50;
      in.output_tokens = output_tokens;
    }
    return in;
  }
  void Run(bool tokens_in_log) {
    for (int day = 0; day < 4; ++day) {
      for (int r = 0; r < 12; ++r) {
        const TimeMs ts = kT0 + day * kMsPerDay + r * 40 * kMsPerMinute;
        for (int k = 0; k < 600; ++k) {
          engine.Observe(Request("acct_" + std::to_string(k), ts + k, tokens_in_log ? 800 + (k % 7) * 40 : -1));
        }
        engine.Observe(Request("heavy", ts + 700, 8000));
      }
    }
  }
  double Strength(const std::string& id) {
    const AccountState* a = engine.FindAccount(id);
    EXPECT_NE(a, nullptr);
    return ScoreAccount(*a, engine.policy()).strength[static_cast<size_t>(Reason::kTokenVolume)];
  }
  Engine engine{Policy::Defaults()};
};

TEST_F(TokenVolumeEngine, TenTimesThePopulationsHeavyUsersIsFullStrength) {
  Run(/*tokens_in_log=*/true);
  EXPECT_GT(engine.FindAccount("heavy")->token_excess, 2.0f);
  EXPECT_DOUBLE_EQ(Strength("heavy"), 1.0);
  EXPECT_EQ(Strength("acct_3"), 0) << "an ordinary account is not above its own population";
  EXPECT_EQ(Strength("acct_6"), 0) << "nor is the heaviest of the ordinary ones";
}

TEST_F(TokenVolumeEngine, NoTokenCountsInTheLogNoBaseline) {
  // Only the heavy account's requests carry counts: one account is no
  // population, so nothing is known to be heavy.
  Run(/*tokens_in_log=*/false);
  EXPECT_EQ(engine.FindAccount("heavy")->token_excess, 0.0f);
  EXPECT_EQ(Strength("heavy"), 0);
}

}  // namespace
}  // namespace dg
