// One customer in the open (Correlator::OneCustomer, OpenCustomer): a group
// of at most policy.one_customer_max_accounts accounts, every one paying
// with the same one card and working from at most two address blocks -- a
// lab's researchers on the org's card and office network -- is judged as
// one customer: membership does not block it, and it is not tied to
// accounts outside it by looking alike. The same group with anything that
// hides where or how it pays (more accounts, other cards, proxy addresses)
// is a campaign as before.
#include <gtest/gtest.h>

#include <functional>

#include "common/rng.h"
#include "decide/check.h"
#include "engine/engine.h"
#include "harvest_fixture.h"
#include "report/views.h"

namespace dg {
namespace {

using testing::kT0;

struct Group {
  std::string prefix;
  int accounts = 12;
  // The card and address of account i at round r.
  std::function<std::string(int)> card = [](int) { return std::string("card_lab"); };
  std::function<std::string(int, int)> ip = [](int i, int) { return "198.51.100." + std::to_string(10 + i % 3); };
  TimeMs created = kT0 - kMsPerHour;  // sign-up (groups made days apart share no sign-up wave)
};

void Play(Engine& engine, const std::vector<Group>& groups, int rounds = 40) {
  Rng rng(7);
  TimeMs t = kT0;
  for (int round = 0; round < rounds; ++round) {
    for (const Group& g : groups) {
      for (int i = 0; i < g.accounts; ++i) {
        t += 2000;
        Interaction in = testing::HarvestRequest(g.prefix + std::to_string(i), t, rng, g.card(i), g.ip(i, round));
        in.org_id = "org_" + g.prefix;
        in.account_created_at = g.created;
        engine.Observe(in);
      }
    }
  }
  engine.Finish();
}

size_t Count(const Engine& engine, const Group& g, Verdict v) {
  size_t n = 0;
  for (int i = 0; i < g.accounts; ++i) {
    const AccountState* a = engine.FindAccount(g.prefix + std::to_string(i));
    n += a != nullptr && a->verdict == v;
  }
  return n;
}

TEST(OneCustomer, ALabOnItsCardAndNetworkIsReviewedNotBlocked) {
  Engine engine(Policy::Defaults());
  const Group lab{"lab"};
  Play(engine, {lab});
  ASSERT_EQ(Campaigns(engine).size(), 1u);
  EXPECT_EQ(Campaigns(engine)[0].members.size(), 12u);
  EXPECT_EQ(Count(engine, lab, Verdict::kReview), 12u);
}

TEST(OneCustomer, SwitchedOffTheLabIsACampaignThatBlocks) {
  Policy p = Policy::Defaults();
  p.one_customer_max_accounts = 0;
  Engine engine(p);
  const Group lab{"lab"};
  Play(engine, {lab});
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 12u);
}

TEST(OneCustomer, MoreAccountsThanALabIsACampaign) {
  Engine engine(Policy::Defaults());
  Group big{"big"};
  big.accounts = 17;
  Play(engine, {big});
  EXPECT_EQ(Count(engine, big, Verdict::kBlock), 17u);
}

TEST(OneCustomer, OneCardBehindProxyAddressesIsACampaign) {
  Engine engine(Policy::Defaults());
  Group hidden{"px"};
  hidden.accounts = 8;
  hidden.ip = [](int i, int round) { return "100." + std::to_string(64 + (i * 7 + round) % 50) + "." + std::to_string(round) + ".9"; };
  Play(engine, {hidden});
  EXPECT_EQ(Count(engine, hidden, Verdict::kBlock), 8u);
}

TEST(OneCustomer, TwoCardsAreTwoCustomersAndACampaign) {
  Engine engine(Policy::Defaults());
  Group two{"two"};
  two.accounts = 8;
  two.card = [](int i) { return "card_" + std::to_string(i % 2); };
  Play(engine, {two});
  EXPECT_EQ(Count(engine, two, Verdict::kBlock), 8u);
}

TEST(OneCustomer, TwoLabsAreNotOneCampaignForLookingAlike) {
  // The same persona, template and client, in step: everything but what
  // they pay with and where they work from.
  Engine engine(Policy::Defaults());
  Group a{"labA"}, b{"labB"};
  a.accounts = b.accounts = 8;
  b.card = [](int) { return std::string("card_labB"); };
  b.ip = [](int i, int) { return "203.0.113." + std::to_string(20 + i % 2); };
  b.created = kT0 - 5 * 24 * kMsPerHour;
  Play(engine, {a, b});
  size_t largest = 0;
  for (const auto& c : Campaigns(engine)) largest = std::max(largest, c.members.size());
  EXPECT_EQ(largest, 8u);
  EXPECT_EQ(Count(engine, a, Verdict::kReview), 8u);
  EXPECT_EQ(Count(engine, b, Verdict::kReview), 8u);
}

TEST(OneCustomer, AccountsThatCopyALabDoNotJoinIt) {
  // A hydra of young accounts on per-account cards and addresses copies
  // the lab's persona, template and client: it is a campaign of its own
  // (blocked), and the lab stays one customer.
  Engine engine(Policy::Defaults());
  const Group lab{"lab"};
  Group copy{"cp"};
  copy.accounts = 8;
  copy.card = [](int i) { return "card_cp" + std::to_string(i); };
  copy.ip = [](int i, int) { return "192.0.2." + std::to_string(100 + i); };
  copy.created = kT0 - 3 * 24 * kMsPerHour;
  Play(engine, {lab, copy});
  EXPECT_EQ(Count(engine, lab, Verdict::kReview), 12u);
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 0u);
}

TEST(OneCustomer, PairsOnACardAreNoCustomersInTheOpen) {
  // An operator that buys "openness" two accounts at a time -- a card and a
  // sticky address block per pair -- is still tied by what its pairs share.
  Engine engine(Policy::Defaults());
  Group pairs{"pr"};
  pairs.accounts = 10;
  pairs.card = [](int i) { return "card_pair" + std::to_string(i / 2); };
  pairs.ip = [](int i, int) { return "192.0." + std::to_string(10 + i / 2) + ".7"; };
  Play(engine, {pairs});
  EXPECT_EQ(Count(engine, pairs, Verdict::kBlock), 10u);
}

TEST(OneCustomer, ANewAccountOnTheLabsCardIsChallengedNotBlocked) {
  Engine engine(Policy::Defaults());
  const Group lab{"lab"};
  Play(engine, {lab});
  CheckRequest r;
  r.account_id = "lab_new";
  r.payment_fingerprint = "card_lab";
  r.ip = "198.51.100.10";
  const CheckResult out = engine.Check(r);
  EXPECT_EQ(out.decision, Decision::kChallenge);
  EXPECT_TRUE(out.reasons & Bit(Reason::kCampaignIndicatorMatch));
}

}  // namespace
}  // namespace dg
