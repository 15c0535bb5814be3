// Coordination judged against base rates (issues #15, #16):
//  - a client configuration a large share of the whole cleared population
//    uses gives no link evidence, however "pure" a campaign that adopted it
//    makes it look among the accounts judged (IndicatorStats::Rarity);
//  - aged accounts that take up harvesting on the same day, sharing only
//    prompt content, are tied (joint onset); the same accounts turning one
//    by one, days apart, are not: content alone never links.
#include <gtest/gtest.h>

#include "common/rng.h"
#include "correlate/indicator_index.h"
#include "engine/engine.h"
#include "harvest_fixture.h"

namespace dg {
namespace {

using testing::kT0;

TEST(Rarity, APopularValueGivesNoEvidenceWhateverItsPurity) {
  // The most popular SDK at its defaults: a campaign's 900 accounts use it
  // (suspicious) and so do 300 of the 1,500 cleared customers -- purity
  // 0.75, but a fifth of everyone.
  IndicatorStats sdk;
  sdk.accounts = 1200;
  sdk.suspicious = 900;
  sdk.cleared = 300;
  EXPECT_GT(sdk.Purity(), 0.7);
  EXPECT_LT(sdk.Rarity(1500), 0.02);
  // A campaign's own template: 300 suspicious users, 5 cleared ones (its
  // decoys) among 15,000 cleared accounts.
  IndicatorStats own;
  own.accounts = 305;
  own.suspicious = 300;
  own.cleared = 5;
  EXPECT_GT(own.Rarity(15000), 0.99);
  // Half strength at kPopularShare of the population; one-off uses count at
  // the passer-by weight.
  IndicatorStats half;
  half.cleared = 20;
  EXPECT_NEAR(half.Rarity(1000), 0.5, 1e-9);
  half.cleared = 10;
  half.passersby = 20;
  EXPECT_NEAR(half.Rarity(1000), 0.5, 1e-9);
}

TEST(Rarity, SmallDeploymentsReadSharesAgainstAFloor) {
  IndicatorIndex index;
  EXPECT_EQ(index.Population(), IndicatorIndex::kMinPopulation);
  for (int i = 0; i < 1500; ++i) index.CountCleared(+1);
  EXPECT_EQ(index.Population(), 1500);
  index.CountCleared(-1);
  EXPECT_EQ(index.Population(), 1499);
}

// An aged account (made 400 days before or more) with a history of its
// own: four ordinary questions a day, then, from `turn_day`, harvesting on a wrapper it
// shares with the others -- and nothing else: its own card, address block,
// client and sign-up time.
std::vector<Interaction> AgedAccount(const std::string& id, int k, int turn_day, Rng& rng) {
  std::vector<Interaction> out;
  const auto base = [&](TimeMs ts) {
    Interaction in;
    in.ts = ts;
    in.request_id = "r" + std::to_string(rng.Next());
    in.account_id = id;
    in.org_id = "org_" + id;
    in.ip = "10." + std::to_string(k) + "." + std::to_string(rng.Next() % 200) + ".7";
    in.user_agent = "client-" + id + "/1.0";
    in.payment_fingerprint = "pm_" + id;
    in.account_created_at = kT0 - (400 + 3 * k) * kMsPerDay;  // bought one by one: no sign-up wave
    in.model = "m";
    in.max_tokens = 4096;
    in.temperature = 0.7;
    return in;
  };
  // Active every day of 18, so that every pair is in lockstep by
  // days: only the day each one turned tells the groups apart.
  for (int day = 0; day < 18; ++day) {
    const bool harvesting = day >= turn_day;
    const int per_day = harvesting ? 12 : 4;
    for (int r = 0; r < per_day; ++r) {
      // At random minutes: no shared scheduler either.
      Interaction in = base(kT0 + day * kMsPerDay + r * 90 * kMsPerMinute + static_cast<TimeMs>(rng.Next() % (80 * kMsPerMinute)));
      if (harvesting) {
        in.messages.push_back({Role::kUser,
                               "Curriculum batch item " + std::to_string(rng.Next() % 100000) +
                                   ": think step by step and show your complete reasoning before the final answer. Task: integrate x^" +
                                   std::to_string(rng.Next() % 50) + " e^x",
                               0, 0, 0});
      } else {
        in.messages.push_back({Role::kUser, "question " + std::to_string(rng.Next()) + " about my garden " + id, 0, 0, 0});
      }
      out.push_back(std::move(in));
    }
  }
  return out;
}

struct OnsetOutcome {
  std::vector<std::string> campaign;  // per account
  std::vector<ReasonMask> link_reasons;
};

OnsetOutcome PlayOnset(bool together, double onset = Policy::Defaults().onset) {
  Policy policy = Policy::Defaults();
  policy.onset = onset;
  Engine engine(policy);
  Rng rng(21);
  std::vector<Interaction> all;
  constexpr int kAccounts = 6;
  for (int k = 0; k < kAccounts; ++k) {
    // Together: all turn on day 4. Apart: two days between each.
    const auto acct = AgedAccount("aged" + std::to_string(k), k, together ? 4 : 4 + 2 * k, rng);
    all.insert(all.end(), acct.begin(), acct.end());
  }
  std::stable_sort(all.begin(), all.end(), [](const Interaction& x, const Interaction& y) { return x.ts < y.ts; });
  for (const auto& in : all) engine.Observe(in);
  engine.Finish();
  // Every aged account was cleared during its ordinary days and counted in
  // the population, then withdrawn from it when it turned suspicious.
  size_t cleared = 0;
  for (const auto& a : engine.accounts()) cleared += !a.id.empty() && a.cleared;
  EXPECT_EQ(cleared, 0u);
  EXPECT_EQ(engine.correlator().index().cleared_accounts(), 0);
  OnsetOutcome out;
  for (int k = 0; k < kAccounts; ++k) {
    const AccountState* a = engine.FindAccount("aged" + std::to_string(k));
    EXPECT_NE(a, nullptr);
    if (a == nullptr) continue;
    EXPECT_TRUE(a->changed) << a->id;
    EXPECT_GE(a->changed_hour, static_cast<int32_t>(kT0 / kMsPerHour + 4 * 24)) << a->id;  // not before its first harvest day
    out.campaign.push_back(engine.CampaignOf(a->index));
    out.link_reasons.push_back(a->link_reasons);
  }
  return out;
}

TEST(JointOnset, AgedAccountsThatTurnTogetherAreTiedOnSharedContent) {
  const OnsetOutcome together = PlayOnset(true);
  ASSERT_EQ(together.campaign.size(), 6u);
  for (size_t k = 0; k < together.campaign.size(); ++k) {
    EXPECT_FALSE(together.campaign[k].empty()) << k;
    EXPECT_EQ(together.campaign[k], together.campaign[0]) << k;
    EXPECT_TRUE(together.link_reasons[k] & Bit(Reason::kSharedOnset)) << k;
  }
}

TEST(JointOnset, WithoutItSharedContentAloneTiesNoOne) {
  const OnsetOutcome together = PlayOnset(true, /*onset=*/0);
  for (size_t k = 0; k < together.campaign.size(); ++k) EXPECT_TRUE(together.campaign[k].empty()) << k;
}

TEST(JointOnset, TheSameAccountsTurningDaysApartAreNot) {
  const OnsetOutcome apart = PlayOnset(false);
  ASSERT_EQ(apart.campaign.size(), 6u);
  for (size_t k = 0; k < apart.campaign.size(); ++k) {
    EXPECT_TRUE(apart.campaign[k].empty()) << k << " " << apart.campaign[k] << " reasons " << std::hex << apart.link_reasons[k];
    EXPECT_FALSE(apart.link_reasons[k] & Bit(Reason::kSharedOnset)) << k;
  }
}

}  // namespace
}  // namespace dg
