// The new-account check on a cluster decision node: the correlator's tables
// (dg_indicators, dg_campaigns) written from a live engine and read back into
// a RequestTable give the same answer to a new account's request as the
// engine's own Check; foreign keys and values are refused, deletes forget,
// and the table keeps to its bound.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "../unit/harvest_fixture.h"
#include "cluster/event_codec.h"
#include "cluster/serve_link.h"
#include "engine/engine.h"

namespace dg {
namespace {

using testing::HarvestRequest;
using testing::kT0;

// Check's inputs from a RequestTable alone: as a decision node sees an
// account it has no verdict for.
class TableInputs final : public CheckInputs {
 public:
  explicit TableInputs(const RequestTable& t) : t_(t) {}
  AccountInputs Account(const std::string&) const override { return {}; }
  std::optional<SharedTrust> Shared(const std::string&, const std::string&) const override { return std::nullopt; }
  std::optional<CampaignMatch> MatchCampaign(const std::string& payment, const std::string& ip) const override {
    return t_.Match(payment, ip);
  }

 private:
  const RequestTable& t_;
};

// What the correlator node publishes (cluster/nodes.cc, CheckTables), fed
// through the same key and value formats into a decision node's table.
size_t Publish(const Engine& engine, RequestTable* table) {
  const Correlator& c = engine.correlator();
  size_t n = 0;
  c.ForEachRequestValue([&](uint64_t key, const ValueEvidence& v) {
    const CampaignAggregate* g = c.campaigns().Aggregate(v.root);
    ASSERT_NE(g, nullptr);
    ASSERT_FALSE(g->id.empty());
    EXPECT_TRUE(table->OnValue(RequestValueKey(key), FormatRequestValueEntry(g->id, v), false));
    EXPECT_TRUE(table->OnCampaign(CampaignKey(g->id), FormatCampaignEntry(CampaignMatchOf(c, *g), g->members.size()), false));
    ++n;
  });
  return n;
}

// Two hydras, each on three cards behind its own /24 with its own client
// and persona, harvesting until their campaigns are confirmed and blocked.
void TwoHydras(Engine& engine) {
  Rng rng(11);
  TimeMs ts = kT0;
  for (int round = 0; round < 30; ++round) {
    for (int k = 0; k < 12; ++k) {
      engine.Observe(HarvestRequest(fmt::format("a{}", k), ts += 2000, rng, fmt::format("pm_a{}", k % 3),
                                    fmt::format("203.0.113.{}", 10 + k)));
    }
  }
  // The second hydra, days later, shares nothing with the first but its tactics.
  ts += 5 * kMsPerDay;
  for (int round = 0; round < 30; ++round) {
    for (int k = 0; k < 12; ++k) {
      Interaction b = HarvestRequest(fmt::format("b{}", k), ts += 7000, rng, fmt::format("pm_b{}", k % 3),
                                     fmt::format("198.51.100.{}", 10 + k));
      b.account_created_at = ts - kMsPerHour;
      b.user_agent = "node-fetch/3.3.2";
      b.system = "Answer as a rigorous olympiad coach would.";
      b.temperature = 0.2;
      b.messages[0].text = fmt::format("Walk me through your full chain of thought: how many ways can {} beads go into {} boxes?",
                                       rng.Next() % 500, rng.Next() % 40);
      engine.Observe(b);
    }
  }
}

TEST(RequestTable, NewAccountsGetTheEnginesAnswer) {
  Engine engine(Policy::Defaults());
  TwoHydras(engine);
  ASSERT_GE(engine.correlator().campaigns().confirmed(), 2u);
  RequestTable table;
  ASSERT_GT(Publish(engine, &table), 0u);
  EXPECT_GE(table.campaigns(), 2u);
  const TableInputs inputs(table);
  const std::vector<std::string> cards = {"pm_a0", "pm_a2", "pm_b1", "pm_unknown", ""};
  const std::vector<std::string> ips = {"203.0.113.200", "198.51.100.7", "::ffff:203.0.113.9", "192.0.2.1", "", "::1",
                                        "not an address"};
  int blocked = 0, challenged = 0, n = 0;
  std::set<std::string> campaigns;
  for (const std::string& card : cards) {
    for (const std::string& ip : ips) {
      CheckRequest r;
      r.account_id = fmt::format("new{}", n++);
      r.payment_fingerprint = card;
      r.ip = ip;
      const CheckResult want = engine.Check(r);
      const CheckResult got = Check(r, inputs, engine.policy());
      EXPECT_EQ(DecisionName(got.decision), DecisionName(want.decision)) << card << " " << ip;
      EXPECT_EQ(got.campaign_id, want.campaign_id) << card << " " << ip;
      EXPECT_EQ(got.reasons, want.reasons) << card << " " << ip;
      EXPECT_EQ(got.score, want.score) << card << " " << ip;
      blocked += want.decision == Decision::kBlock;
      challenged += want.decision == Decision::kChallenge;
      if (!want.campaign_id.empty()) campaigns.insert(want.campaign_id);
    }
  }
  // The comparison means something: a hydra's card and block together
  // are blocked, either alone challenged, and both hydras are matched.
  EXPECT_GE(blocked, 5);
  EXPECT_GE(challenged, 10);
  EXPECT_EQ(campaigns.size(), 2u);
  // One hydra's card with the other's block: the stronger campaign, as the engine picks.
  CheckRequest cross;
  cross.account_id = "cross";
  cross.payment_fingerprint = "pm_a1";
  cross.ip = "198.51.100.99";
  EXPECT_EQ(Check(cross, inputs, engine.policy()).campaign_id, engine.Check(cross).campaign_id);
}

TEST(RequestTable, DeletesForgetAndAMissingCampaignIsNoMatch) {
  Engine engine(Policy::Defaults());
  TwoHydras(engine);
  RequestTable table;
  Publish(engine, &table);
  CheckRequest r;
  r.account_id = "new";
  r.payment_fingerprint = "pm_a0";
  const TableInputs inputs(table);
  const CheckResult before = Check(r, inputs, engine.policy());
  ASSERT_FALSE(before.campaign_id.empty());
  // The campaign's state deleted first (a node between two watch events): no match rather than a guess.
  ASSERT_TRUE(table.OnCampaign(CampaignKey(before.campaign_id), "", true));
  EXPECT_EQ(Check(r, inputs, engine.policy()).decision, Decision::kAllow);
  // The card's value deleted: no match either, and the table shrank.
  const size_t values = table.values();
  ASSERT_TRUE(table.OnValue(RequestValueKey(Correlator::PaymentRequestKey("pm_a0")), "", true));
  EXPECT_EQ(table.values(), values - 1);
}

TEST(RequestTable, ForeignKeysAndValuesAreRefusedAndTheTableIsBounded) {
  RequestTable table(2);
  const std::string key = RequestValueKey(42);
  const std::string good = FormatRequestValueEntry("camp_1", ValueEvidence{IndicatorKind::kPayment, 7, 0.75});
  EXPECT_TRUE(table.OnValue(key, good, false));
  RequestValueEntry e;
  ASSERT_TRUE(ParseRequestValueEntry(good, &e));
  EXPECT_EQ(e.campaign_id, "camp_1");
  EXPECT_EQ(e.value.root, 7u);
  EXPECT_EQ(e.value.evidence, 0.75);
  uint64_t k = 0;
  EXPECT_TRUE(RequestValueFromKey(key, &k));
  EXPECT_EQ(k, 42u);
  // Evidence written in full survives exactly (a node's threshold comparisons are the engine's).
  const double tricky = 0.1 + 0.2;
  ASSERT_TRUE(ParseRequestValueEntry(FormatRequestValueEntry("c", ValueEvidence{IndicatorKind::kIpPrefix, 1, tricky}), &e));
  EXPECT_EQ(e.value.evidence, tricky);
  for (const std::string bad_key : {"k.", "k.0000000000000g2a", "a.00", "k.00000000000000000", "K.000000000000002a", ""}) {
    EXPECT_FALSE(table.OnValue(bad_key, good, false)) << bad_key;
  }
  for (const std::string& bad : {std::string("not json"), std::string("{}"),
                                std::string(R"({"campaign_id":"","kind":"payment","root":1,"evidence":1})"),
                                std::string(R"({"campaign_id":"c","kind":"client","root":1,"evidence":1})"),
                                std::string(R"({"campaign_id":"c","kind":"payment","root":4294967296,"evidence":1})"),
                                std::string(R"({"campaign_id":"c","kind":"payment","root":1,"evidence":-1})"),
                                std::string(R"({"campaign_id":"c","kind":"payment","root":1,"evidence":"1"})"),
                                std::string(R"({"campaign_id":"c","kind":"payment","root":-1,"evidence":1})")}) {
    EXPECT_FALSE(table.OnValue(RequestValueKey(43), bad, false)) << bad;
  }
  EXPECT_EQ(table.values(), 1u);
  EXPECT_TRUE(table.OnValue(RequestValueKey(43), good, false));
  EXPECT_FALSE(table.OnValue(RequestValueKey(44), good, false)) << "past its bound a value is refused";
  EXPECT_TRUE(table.OnValue(RequestValueKey(43), good, false)) << "a value already held may still change";
  EXPECT_EQ(table.values(), 2u);
  // Campaigns: the key must name the value's campaign.
  CampaignMatch c;
  c.campaign_id = "camp_1";
  c.campaign_score = 0.9;
  c.measuring = true;
  const std::string cv = FormatCampaignEntry(c, 12);
  EXPECT_TRUE(table.OnCampaign(CampaignKey("camp_1"), cv, false));
  EXPECT_FALSE(table.OnCampaign(CampaignKey("camp_2"), cv, false));
  EXPECT_FALSE(table.OnCampaign("c.", cv, false));
  EXPECT_FALSE(table.OnCampaign(CampaignKey("camp_1"), R"({"campaign_id":"camp_1","score":"x"})", false));
  CampaignMatch back;
  uint64_t members = 0;
  ASSERT_TRUE(ParseCampaignEntry(cv, &back, &members));
  EXPECT_EQ(back.campaign_score, 0.9);
  EXPECT_TRUE(back.measuring);
  EXPECT_FALSE(back.one_customer);
  EXPECT_EQ(members, 12u);
  std::string id;
  EXPECT_TRUE(CampaignFromKey(CampaignKey("camp \xe2\x9c\x93"), &id));
  EXPECT_EQ(id, "camp \xe2\x9c\x93");
}

}  // namespace
}  // namespace dg
