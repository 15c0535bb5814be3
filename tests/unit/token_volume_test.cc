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
  const double lowest = std::exp2(1.0 / TokenBaseline::kPerDoubling);
  EXPECT_EQ(b.Quantile(0.75), lowest) << "NaN, negative and zero count as the least";
  EXPECT_EQ(b.Quantile(1.0), std::exp2(TokenBaseline::kDoublings)) << "huge values land in the last bucket";
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
  // tokens_in_log: the ordinary accounts' requests carry token counts.
  // harvesters: that many accounts that ask for reasoning (suspicious on
  // their own) and take as much as the heavy one.
  void Run(bool tokens_in_log, int harvesters = 0) {
    Rng rng(7);
    for (int day = 0; day < 4; ++day) {
      for (int r = 0; r < 12; ++r) {
        const TimeMs ts = kT0 + day * kMsPerDay + r * 40 * kMsPerMinute;
        for (int k = 0; k < 600; ++k) {
          engine.Observe(Request("acct_" + std::to_string(k), ts + k, tokens_in_log ? 800 + (k % 7) * 40 : -1));
        }
        engine.Observe(Request("heavy", ts + 700, 8000));
        for (int h = 0; h < harvesters; ++h) {
          Interaction in = testing::HarvestRequest("harvester" + std::to_string(h), ts + 800 + h, rng,
                                                   "pm_h" + std::to_string(h), "198.18." + std::to_string(h) + ".1");
          in.input_tokens = 50;
          in.output_tokens = 8000;
          engine.Observe(in);
        }
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

TEST_F(TokenVolumeEngine, HarvestersDoNotRaiseTheBarTheyAreReadAgainst) {
  // Sixty harvesting accounts as heavy as the probe: a tenth of the
  // account-days. Counted in the population, they would set its 99th
  // percentile at their own volume.
  Run(/*tokens_in_log=*/true, /*harvesters=*/60);
  ASSERT_TRUE(engine.FindAccount("harvester0")->suspicious);
  EXPECT_DOUBLE_EQ(Strength("heavy"), 1.0);
  EXPECT_DOUBLE_EQ(Strength("harvester0"), 1.0);
}

TEST_F(TokenVolumeEngine, AQuietPastDoesNotAverageAHarvestAway) {
  Run(/*tokens_in_log=*/true);
  // An aged account that sent one small request a day for nine days, then
  // takes a hundred thousand tokens in one day.
  for (int day = 0; day < 9; ++day) engine.Observe(Request("aged", kT0 + day * kMsPerDay + 5 * kMsPerHour, 10));
  for (int r = 0; r < 12; ++r) engine.Observe(Request("aged", kT0 + 9 * kMsPerDay + r * kMsPerHour, 8000));
  EXPECT_DOUBLE_EQ(Strength("aged"), 1.0);
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
