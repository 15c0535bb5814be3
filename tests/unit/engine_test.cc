#include "content/redact.h"
#include "report/views.h"
#include "report/writers.h"

#include <gtest/gtest.h>

#include "common/rng.h"
#include "harvest_fixture.h"

namespace dg {
namespace {

using testing::kT0;

Interaction Harvest(const std::string& account, TimeMs ts, Rng& rng, const std::string& card, const std::string& ip) {
  return testing::HarvestRequest(account, ts, rng, card, ip);
}

Interaction Casual(const std::string& account, TimeMs ts, Rng& rng, const std::string& ip) {
  Interaction in;
  in.ts = ts;
  in.request_id = "c" + std::to_string(rng.Next());
  in.account_id = account;
  in.org_id = "org_" + account;
  in.ip = ip;
  in.user_agent = "Mozilla/5.0";
  in.account_created_at = kT0 - 300 * kMsPerDay;
  in.messages.push_back({Role::kUser, "how do I fix a leaky tap", 0, 0, 0});
  if (rng.Chance(0.5)) {
    in.messages.push_back({Role::kAssistant, "Turn off the water first.", 0, 0, 0});
    in.messages.push_back({Role::kUser, "ok and then?", 0, 0, 0});
  }
  return in;
}

TEST(Engine, CoordinatedHarvestersAreBlockedAndTheirCampaignNamed) {
  Engine engine(Policy::Defaults());
  Rng rng(1);
  TimeMs t = kT0;
  // Ten harvesting accounts sharing two cards and a /24, interleaved.
  for (int round = 0; round < 30; ++round) {
    for (int acct = 0; acct < 10; ++acct) {
      t += 2000;
      engine.Observe(Harvest("h" + std::to_string(acct), t, rng, acct % 2 ? "cardA" : "cardB", "198.51.100." + std::to_string(acct + 1)));
    }
  }
  engine.Finish();
  auto campaigns = Campaigns(engine);
  ASSERT_EQ(campaigns.size(), 1u);
  EXPECT_EQ(campaigns[0].members.size(), 10u);
  int with_payment = 0;
  for (int acct = 0; acct < 10; ++acct) {
    const AccountState* a = engine.FindAccount("h" + std::to_string(acct));
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->verdict, Verdict::kBlock) << a->id;
    EXPECT_LE(a->n_at_flag, 12u) << "blocked within its first interactions";
    const auto why = Explain(engine, *a);
    auto has = [&](const char* name) {
      return std::any_of(why.begin(), why.end(), [&](const auto& r) { return r.first == name; });
    };
    EXPECT_TRUE(has("cot_elicitation"));
    EXPECT_TRUE(has("campaign_member"));
    // Its own links as they were when it was blocked (the first members are
    // blocked before a second account on their card has given itself away).
    EXPECT_TRUE(has("shared_payment") || has("shared_ip_prefix")) << a->id;
    with_payment += has("shared_payment");
  }
  EXPECT_GE(with_payment, 8) << "most members were blocked after their card was shared";
  // A new account on the same card is blocked at its first request.
  engine.Observe(Harvest("newcomer", t + 5000, rng, "cardA", "198.51.100.77"));
  const AccountState* n = engine.FindAccount("newcomer");
  EXPECT_EQ(n->verdict, Verdict::kBlock);
  EXPECT_EQ(n->n_at_flag, 1u);
}

TEST(Engine, CampusBehindOneNatIsNotBlocked) {
  Engine engine(Policy::Defaults());
  Rng rng(2);
  TimeMs t = kT0;
  for (int round = 0; round < 40; ++round) {
    for (int acct = 0; acct < 30; ++acct) {
      t += 60000;
      engine.Observe(Casual("s" + std::to_string(acct), t, rng, "192.0.2.10"));
    }
  }
  engine.Finish();
  EXPECT_TRUE(Campaigns(engine).empty());
  for (const auto& a : engine.accounts()) EXPECT_NE(a.verdict, Verdict::kBlock) << a.id;
}

TEST(Engine, SingleBenchmarkAccountIsReviewedNotBlocked) {
  Engine engine(Policy::Defaults());
  Rng rng(3);
  TimeMs t = kT0;
  for (int idx = 0; idx < 500; ++idx) {
    t += 3000;
    Interaction in = Harvest("lab", t, rng, "labcard", "203.0.113.5");
    in.account_created_at = kT0 - 400 * kMsPerDay;
    engine.Observe(in);
  }
  engine.Finish();
  EXPECT_EQ(engine.FindAccount("lab")->verdict, Verdict::kReview);
}

// Established customers of different orgs that run the same public
// benchmark template with the same SDK settings are not a campaign -- also
// when a policy switches an infrastructure link off (a zero weight once
// counted as "shared infrastructure").
TEST(Engine, EstablishedAccountsSharingOnlyATemplateAreNotLinked) {
  for (const double payment_weight : {1.0, 0.0}) {
    Policy p = Policy::Defaults();
    p.links[static_cast<size_t>(IndicatorKind::kPayment)] = payment_weight;
    Engine engine(p);
    Rng rng(6);
    TimeMs t = kT0;
    for (int round = 0; round < 60; ++round) {
      for (int acct = 0; acct < 5; ++acct) {
        t += 3000;
        Interaction in = Harvest("team" + std::to_string(acct), t, rng, "card" + std::to_string(acct),
                                 "203.0." + std::to_string(acct) + ".5");
        in.account_created_at = kT0 - 500 * kMsPerDay;
        engine.Observe(in);
      }
    }
    engine.Finish();
    EXPECT_TRUE(Campaigns(engine).empty()) << "payment weight " << payment_weight;
    for (const auto& a : engine.accounts()) EXPECT_EQ(a.verdict, Verdict::kReview) << a.id;
  }
}

// A sign-up long ago is history only when the platform saw the account used
// before it harvested: kMinHistory requests behind its sliding window (the
// last one to two days). An old account that harvests with fewer -- from its
// first request, or after a dozen ordinary ones sent just before -- is of
// unknown history (as an account of unknown age in a gateway's log); one
// whose ordinary use lies days back is not, nor is a new account (its
// sign-up says it is new).
TEST(Engine, AnOldSignUpIsNoHistoryWhenTheFirstUseIsHarvesting) {
  Engine engine(Policy::Defaults());
  Rng rng(11);
  const char* questions[] = {"how do I fix a leaky tap", "a good name for a grey cat?", "what should I cook with leftover rice",
                             "is Porto nice in March", "explain the offside rule", "gift ideas for my sister"};
  TimeMs t = kT0;
  for (int i = 0; i < 12; ++i) {
    t += (3 + static_cast<TimeMs>(rng.Next() % 90)) * kMsPerMinute;  // a person's gaps
    Interaction casual = Casual("with_history", t, rng, "198.51.100.7");
    casual.messages.back().text = std::string(questions[i % 6]) + " " + std::to_string(i);
    engine.Observe(casual);
  }
  ASSERT_TRUE(engine.FindAccount("with_history")->cleared);
  t += 3 * kMsPerDay;  // the history is now days behind the sliding window
  for (int i = 0; i < 12; ++i) {  // warmed_up: a dozen ordinary requests just before it harvests
    t += kMsPerMinute;
    Interaction casual = Casual("warmed_up", t, rng, "198.51.100.8");
    casual.messages.back().text = std::string(questions[i % 6]) + " " + std::to_string(i);
    engine.Observe(casual);
  }
  for (int i = 0; i < 30; ++i) {
    t += 5 * kMsPerMinute;
    Interaction bought = Harvest("bought", t, rng, "card_bought", "203.0.113.9");
    bought.account_created_at = kT0 - 400 * kMsPerDay;
    engine.Observe(bought);
    Interaction later = Harvest("with_history", t + 1000, rng, "card_history", "198.51.100.7");
    later.account_created_at = kT0 - 300 * kMsPerDay;
    engine.Observe(later);
    Interaction warmed = Harvest("warmed_up", t + 1500, rng, "card_warmed", "198.51.100.8");
    warmed.account_created_at = kT0 - 300 * kMsPerDay;
    engine.Observe(warmed);
    engine.Observe(Harvest("young", t + 2000, rng, "card_young", "192.0.2.4"));
  }
  const AccountState* bought = engine.FindAccount("bought");
  const AccountState* history = engine.FindAccount("with_history");
  const AccountState* warmed = engine.FindAccount("warmed_up");
  const AccountState* young = engine.FindAccount("young");
  ASSERT_NE(bought, nullptr);
  ASSERT_NE(history, nullptr);
  ASSERT_NE(warmed, nullptr);
  ASSERT_NE(young, nullptr);
  EXPECT_TRUE(bought->harvested_from_start);
  EXPECT_TRUE(bought->HistoryUnknown());
  EXPECT_TRUE(bought->NotKnownEstablished());
  EXPECT_FALSE(history->harvested_from_start);
  EXPECT_FALSE(history->HistoryUnknown());
  EXPECT_TRUE(warmed->harvested_from_start);
  EXPECT_TRUE(warmed->HistoryUnknown());
  EXPECT_TRUE(young->young);
  EXPECT_TRUE(young->harvested_from_start);
  EXPECT_FALSE(young->HistoryUnknown());  // its sign-up says it is new
  EXPECT_TRUE(young->NotKnownEstablished());
  // accounts.jsonl says which reading the account had.
  std::string json;
  AppendAccountJson(json, engine, *bought);
  EXPECT_NE(json.find("\"history_unknown\":true"), std::string::npos) << json;
  json.clear();
  AppendAccountJson(json, engine, *history);
  EXPECT_NE(json.find("\"history_unknown\":false"), std::string::npos) << json;
}

// Aged accounts that ask for nothing special but behave wholly like bots
// (single-turn, one template, fixed settings, maximal output cap, paced
// round the clock). A few of them on one card are left alone -- a customer
// may run several jobs -- and not reviewed; a larger network behind the
// same card is multi-accounting and is blocked as one campaign.
TEST(Engine, AgedBotNetworkOnOneCardIsACampaignOnlyWhenLarge) {
  auto run = [](int accounts) {
    Engine engine(Policy::Defaults());
    Rng rng(7);
    TimeMs t = kT0;
    for (int step = 0; step < 4 * 24 * 3; ++step) {  // every 15 minutes for three days
      for (int acct = 0; acct < accounts; ++acct) {
        Interaction in;
        in.ts = t + step * 15 * kMsPerMinute + acct * 1000;
        in.request_id = "p" + std::to_string(step) + "_" + std::to_string(acct);
        in.account_id = "bot" + std::to_string(acct);
        in.org_id = "org_bot" + std::to_string(acct);
        in.ip = "198.51.100." + std::to_string(acct + 1);
        in.user_agent = "go-resty/2.14.0";
        in.payment_fingerprint = "shared-card";
        in.account_created_at = kT0 - 400 * kMsPerDay;
        in.messages.push_back({Role::kUser, "Write production-quality code for: item " + std::to_string(rng.Next() % 100000) +
                                                " of the queue\nInclude tests.", 0, 0, 0});
        in.max_tokens = 8192;
        in.temperature = 0.2;
        engine.Observe(in);
      }
    }
    engine.Finish();
    return std::make_pair(Campaigns(engine), std::vector<AccountState>(engine.accounts()));
  };
  const auto [few_campaigns, few] = run(4);
  EXPECT_TRUE(few_campaigns.empty());
  for (const auto& a : few) EXPECT_EQ(a.verdict, Verdict::kAllow) << a.id;
  const auto [many_campaigns, many] = run(8);
  ASSERT_EQ(many_campaigns.size(), 1u);
  EXPECT_EQ(many_campaigns[0].members.size(), 8u);
  for (const auto& a : many) EXPECT_EQ(a.verdict, Verdict::kBlock) << a.id;
}

TEST(Engine, AllowlistAndReviewOnlyPolicies) {
  Policy p = Policy::Defaults();
  p.allow_accounts.insert("h0");
  p.review_only = true;
  Engine engine(p);
  Rng rng(4);
  TimeMs t = kT0;
  for (int round = 0; round < 30; ++round) {
    for (int acct = 0; acct < 6; ++acct) {
      t += 2000;
      engine.Observe(Harvest("h" + std::to_string(acct), t, rng, "card", "198.51.100.9"));
    }
  }
  engine.Finish();
  EXPECT_EQ(engine.FindAccount("h0")->verdict, Verdict::kAllow);
  for (int acct = 1; acct < 6; ++acct) EXPECT_EQ(engine.FindAccount("h" + std::to_string(acct))->verdict, Verdict::kReview);
}

TEST(Engine, SameInputSameVerdicts) {
  auto run = [] {
    Engine engine(Policy::Defaults());
    Rng rng(5);
    TimeMs t = kT0;
    std::string out;
    for (int idx = 0; idx < 400; ++idx) {
      t += 1000;
      if (idx % 3) out += VerdictName(engine.Observe(Harvest("h" + std::to_string(idx % 7), t, rng, "c" + std::to_string(idx % 2), "198.51.100.1")));
      else out += VerdictName(engine.Observe(Casual("u" + std::to_string(idx % 11), t, rng, "203.0.113.1")));
    }
    return out;
  };
  EXPECT_EQ(run(), run());
}

// Accounts that use a value for a week and 100 interactions without turning
// suspicious make it public: its link evidence is discounted whatever share
// of its users look automated. Shorter clean histories do not count.
TEST(Engine, ValuesUsedInTheOpenForWeeksArePublic) {
  Engine engine(Policy::Defaults());
  Rng rng(8);
  // Daytime use, 14 times a day for 8 days (112 interactions); the last
  // five accounts only in the mornings (48): cleared, never veterans.
  for (int day = 0; day < 8; ++day) {
    for (int k = 0; k < 14; ++k) {
      for (int acct = 0; acct < 30; ++acct) {
        if (acct >= 25 && k >= 6) continue;
        const TimeMs ts = kT0 + day * kMsPerDay + 9 * kMsPerHour + k * 50 * kMsPerMinute +
                          static_cast<TimeMs>(rng.Next() % (20 * kMsPerMinute)) + acct;
        engine.Observe(Casual("u" + std::to_string(acct), ts, rng, "203.0.113." + std::to_string(acct + 1)));
      }
    }
  }
  const AccountState* first = nullptr;
  for (const auto& a : engine.accounts()) {
    if (a.id == "u0") first = &a;
    if (a.id.empty()) continue;
    EXPECT_FALSE(a.suspicious) << a.id;
    EXPECT_TRUE(a.cleared) << a.id;
    EXPECT_EQ(a.veteran, a.n >= 100) << a.id << " n=" << a.n;
  }
  ASSERT_NE(first, nullptr);
  const auto kind = static_cast<size_t>(IndicatorKind::kIpPrefix);
  ASSERT_EQ(first->indicator_count[kind], 1);
  const IndicatorStats* s = engine.correlator().index().Find(first->indicators[kind][0]);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->accounts, 30u);
  EXPECT_EQ(s->cleared, 30u);
  EXPECT_EQ(s->veterans, 25u);
  EXPECT_NEAR(s->Publicness(), 1.0 / (1.0 + 25.0 / IndicatorStats::kPublicVeterans), 1e-9);
}

// A cleared account's one-off use of a value makes it look public (a
// passer-by), once per account and value; a use the account repeats, or an
// account that turns suspicious, takes its count back. The aged-accounts
// evasion (QUALITY.md): bought accounts, clean at first, counted their own
// campaign's first harvest requests as passers-by and kept it out of links
// (seed 13: recall 0.99 -> 0.78).
TEST(Engine, PassersByCountOnceAndAreWithdrawnByHarvesters) {
  Engine engine(Policy::Defaults());
  Rng rng(11);
  TimeMs ts = kT0;
  auto scripted = [&](const std::string& account) {
    Interaction in = Casual(account, ts += kMsPerMinute, rng, "198.51.100.7");
    in.user_agent = "summarize-tool/2.1";  // a client configuration used in the open
    return in;
  };
  // A scripter repeats the tool's client configuration: the value is indexed.
  for (int k = 0; k < 3; ++k) engine.Observe(scripted("scripter"));
  // Three aged customers, cleared after a day of ordinary questions.
  for (int k = 0; k < 12; ++k) {
    for (const char* acct : {"aged_a", "aged_b", "aged_c"}) {
      engine.Observe(Casual(acct, ts += 2 * kMsPerHour, rng, std::string("203.0.113.") + acct[5]));
    }
  }
  uint64_t client_key = 0;
  for (const auto& a : engine.accounts()) {
    if (a.id == "scripter") {
      const auto kind = static_cast<size_t>(IndicatorKind::kClient);
      ASSERT_GE(a.indicator_count[kind], 1);
      client_key = a.indicators[kind][0];
    }
    if (a.id.rfind("aged_", 0) == 0) {
      ASSERT_TRUE(a.cleared) << a.id;
    }
  }
  auto passersby = [&] { return engine.correlator().index().Find(client_key)->passersby; };
  ASSERT_EQ(passersby(), 0u);
  // Each aged customer tries the tool once: three passers-by.
  for (const char* acct : {"aged_a", "aged_b", "aged_c"}) engine.Observe(scripted(acct));
  EXPECT_EQ(passersby(), 3u);
  // aged_a uses it again after other clients pushed it out of its repeat
  // slots: still one passer-by, not two.
  for (int k = 0; k < 12; ++k) {
    Interaction in = Casual("aged_a", ts += kMsPerMinute, rng, "203.0.113.97");
    in.user_agent = "browser-" + std::to_string(k);
    engine.Observe(in);
  }
  engine.Observe(scripted("aged_a"));
  EXPECT_EQ(passersby(), 3u);
  // aged_b goes on using it: a user of the value, no longer a passer-by.
  engine.Observe(scripted("aged_b"));
  EXPECT_EQ(passersby(), 2u);
  // aged_c turns to harvesting: its one-off use is withdrawn.
  for (int k = 0; k < 60; ++k) {
    Interaction in = testing::HarvestRequest("aged_c", ts += kMsPerMinute, rng, "pm_c", "203.0.113.99");
    in.account_created_at = kT0 - 300 * kMsPerDay;
    engine.Observe(in);
  }
  for (const auto& a : engine.accounts()) {
    if (a.id == "aged_c") {
      ASSERT_TRUE(a.suspicious);
    }
  }
  EXPECT_EQ(passersby(), 1u);
}

TEST(IndicatorIndex, VeteransWhoTurnSuspiciousStopCounting) {
  IndicatorIndex index;
  const uint64_t key = IndicatorIndex::Key(IndicatorKind::kClient, 42);
  for (int i = 0; i < 3; ++i) index.AddAccount(key);
  for (int i = 0; i < 3; ++i) index.AddCleared(key);
  for (int i = 0; i < 3; ++i) index.AddVeteran(key);
  EXPECT_EQ(index.Find(key)->veterans, 3u);
  index.RemoveVeteran(key);
  index.AddSuspicious(key, 7, 0, /*was_cleared=*/true);
  const IndicatorStats* s = index.Find(key);
  EXPECT_EQ(s->veterans, 2u);
  EXPECT_EQ(s->cleared, 2u);
  EXPECT_EQ(s->suspicious, 1u);
  EXPECT_DOUBLE_EQ(s->Publicness(),
                   1.0 / (1.0 + 2.0 / (IndicatorStats::kPublicVeterans + 1.0 / IndicatorStats::kSuspiciousPerVeteran)));
  // Thirty decoys make a value of a handful of suspicious accounts public,
  // not one of hundreds: veterans count against the campaign's size.
  IndicatorIndex big;
  const uint64_t campaign_value = IndicatorIndex::Key(IndicatorKind::kSystemPrompt, 9);
  for (int i = 0; i < 30; ++i) {
    big.AddAccount(campaign_value);
    big.AddCleared(campaign_value);
    big.AddVeteran(campaign_value);
  }
  for (uint32_t i = 0; i < 1200; ++i) {
    big.AddAccount(campaign_value);
    big.AddSuspicious(campaign_value, 100 + i, 0);
  }
  EXPECT_GT(big.Find(campaign_value)->Publicness(), 0.7);
  EXPECT_LT(s->Publicness(), 1.0);
  for (int i = 0; i < 5; ++i) index.RemoveVeteran(key);  // never below zero
  EXPECT_EQ(index.Find(key)->veterans, 0u);
  EXPECT_DOUBLE_EQ(index.Find(key)->Publicness(), 1.0);
}

TEST(Redact, MasksPersonalDataAndSecrets) {
  EXPECT_EQ(RedactSample("mail me at jane.doe@example.com or +44 7700 900123 now"), "mail me at [EMAIL] or [PHONE] now");
  EXPECT_EQ(RedactSample("call 447700900123 key sk_live_abcdefghijklmnop1234 url https://x.io/a?token=secret"),
            "call [PHONE] key [KEY] url https://[URL]");
}


// A member is reported with its own links, not the campaign's union: an
// account tied in through an address block does not "share a payment".
TEST(Engine, MembersAreReportedWithTheirOwnLinksOnly) {
  Engine engine(Policy::Defaults());
  Rng rng(11);
  TimeMs t = kT0;
  for (int round = 0; round < 30; ++round) {
    for (int acct = 0; acct < 6; ++acct) {
      t += 2000;
      engine.Observe(Harvest("h" + std::to_string(acct), t, rng, "cardA", "198.51." + std::to_string(100 + acct) + ".1"));
    }
    t += 2000;
    engine.Observe(Harvest("other_card", t, rng, "cardZ", "198.51.100.99"));
  }
  engine.Finish();
  const AccountState* h = engine.FindAccount("h1");
  const AccountState* o = engine.FindAccount("other_card");
  ASSERT_NE(h, nullptr);
  ASSERT_NE(o, nullptr);
  ASSERT_FALSE(engine.CampaignOf(o->index).empty()) << "linked through the address block it shares with h0";
  EXPECT_EQ(engine.CampaignOf(o->index), engine.CampaignOf(h->index));
  EXPECT_NE(h->reasons & Bit(Reason::kSharedPayment), 0u);
  EXPECT_EQ(o->reasons & Bit(Reason::kSharedPayment), 0u) << "it never used the campaign's card";
  EXPECT_NE(o->reasons & Bit(Reason::kCampaignMember), 0u);
}

// Imported indicators: a network is matched with its own prefix length, an
// IPv4-mapped IPv6 address is its IPv4 address, networks wider than /16 are
// refused, and an account that was established before it first used a
// shared value is reviewed rather than blocked.
TEST(Engine, ImportedNetworksKeepTheirPrefixLengthAndSpareEstablishedAccounts) {
  Engine engine(Policy::Defaults());
  EXPECT_TRUE(engine.AddSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.7/32", "partner", SharedTrust::kBlock));
  EXPECT_TRUE(engine.AddSharedIndicator(IndicatorKind::kIpPrefix, "::ffff:198.51.100.0/120", "partner", SharedTrust::kBlock));
  EXPECT_FALSE(engine.AddSharedIndicator(IndicatorKind::kIpPrefix, "10.0.0.0/8", "partner", SharedTrust::kBlock));
  EXPECT_FALSE(engine.AddSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.7/33", "partner", SharedTrust::kBlock));
  EXPECT_FALSE(engine.AddSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.7/x", "partner", SharedTrust::kBlock));
  auto check = [&](const std::string& account, const std::string& ip) {
    CheckRequest r;
    r.account_id = account;
    r.ip = ip;
    return engine.Check(r).decision;
  };
  EXPECT_EQ(check("n1", "203.0.113.7"), Decision::kBlock);
  EXPECT_EQ(check("n2", "203.0.113.8"), Decision::kAllow) << "a /32 is one host, not its /24";
  EXPECT_EQ(check("n3", "::ffff:203.0.113.7"), Decision::kBlock) << "IPv4-mapped is the same host";
  EXPECT_EQ(check("n4", "198.51.100.200"), Decision::kBlock) << "::ffff:198.51.100.0/120 is 198.51.100.0/24";
  EXPECT_EQ(check("n5", "::1"), Decision::kAllow);
  // An established account (2 years old, 50 interactions) that then uses the address.
  Rng rng(5);
  TimeMs t = kT0;
  for (int i = 0; i < 50; ++i) engine.Observe(Casual("old", t += kMsPerHour, rng, "192.0.2.10"));
  engine.Observe(Casual("old", t += kMsPerHour, rng, "203.0.113.7"));
  const AccountState* old = engine.FindAccount("old");
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->verdict, Verdict::kReview);
  EXPECT_NE(old->reasons & Bit(Reason::kSharedIndicator), 0u);
  // A new account on it is blocked at its first event.
  engine.Observe(Casual("fresh", t += 1000, rng, "203.0.113.7"));
  EXPECT_EQ(engine.FindAccount("fresh")->verdict, Verdict::kBlock);
}

// Issue #18 finding 7: a partner's indicator imported with review trust
// sends a matching account to review -- never a block, at the gateway or in
// the verdict -- while block trust keeps blocking new accounts; a review
// import does not lower a block one; a removed indicator no longer matches.
TEST(Engine, ReviewTrustIndicatorsNeverBlockAndRemovedOnesNoLongerMatch) {
  Engine engine(Policy::Defaults());
  ASSERT_TRUE(engine.AddSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.0/24", "partner-r", SharedTrust::kReview));
  ASSERT_TRUE(engine.AddSharedIndicator(IndicatorKind::kPayment, "pm_bad", "partner-b", SharedTrust::kBlock));
  ASSERT_TRUE(engine.AddSharedIndicator(IndicatorKind::kPayment, "pm_bad", "partner-r", SharedTrust::kReview));  // not lowered
  auto check = [&](const std::string& account, const std::string& ip, const std::string& card = "") {
    CheckRequest r;
    r.account_id = account;
    r.ip = ip;
    r.payment_fingerprint = card;
    return engine.Check(r);
  };
  CheckResult c = check("n1", "203.0.113.9");
  EXPECT_EQ(c.decision, Decision::kThrottle) << "review trust: as an account in review";
  EXPECT_NE(c.reasons & Bit(Reason::kSharedIndicator), 0u);
  EXPECT_EQ(check("n2", "203.0.113.9", "pm_bad").decision, Decision::kBlock) << "the block-trust card decides";
  EXPECT_EQ(check("n3", "192.0.2.1", "pm_bad").decision, Decision::kBlock);
  // Observed: a new account on the review-trust block is reviewed, not blocked.
  Rng rng(9);
  TimeMs t = kT0;
  for (int i = 0; i < 3; ++i) engine.Observe(Casual("fresh", t += 1000, rng, "203.0.113.9"));
  const AccountState* fresh = engine.FindAccount("fresh");
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(fresh->verdict, Verdict::kReview);
  EXPECT_NE(fresh->reasons & Bit(Reason::kSharedIndicator), 0u);
  // ... until it uses the block-trust card.
  Interaction in = Casual("fresh", t += 1000, rng, "203.0.113.9");
  in.payment_fingerprint = "pm_bad";
  engine.Observe(in);
  EXPECT_EQ(engine.FindAccount("fresh")->verdict, Verdict::kBlock);
  // Removed: no longer matched.
  EXPECT_TRUE(engine.RemoveSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.0/24"));
  EXPECT_FALSE(engine.RemoveSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.0/24"));
  EXPECT_EQ(check("n4", "203.0.113.9").decision, Decision::kAllow);
  EXPECT_TRUE(engine.RemoveSharedIndicator(IndicatorKind::kPayment, "pm_bad"));
  EXPECT_EQ(check("n5", "192.0.2.1", "pm_bad").decision, Decision::kAllow);
  EXPECT_EQ(engine.shared_indicators(), 0u);
  EXPECT_EQ(Engine::CanonicalSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.77/24"), "203.0.113.0/24");
  EXPECT_EQ(Engine::CanonicalSharedIndicator(IndicatorKind::kIpPrefix, "::ffff:198.51.100.7/120"), "198.51.100.0/24");
  EXPECT_EQ(Engine::CanonicalSharedIndicator(IndicatorKind::kIpPrefix, "2001:db8:1:2::5/48"), "2001:db8:1::/48");
  EXPECT_EQ(Engine::CanonicalSharedIndicator(IndicatorKind::kIpPrefix, "203.0.113.7"), "203.0.113.7/32");
  EXPECT_FALSE(Engine::CanonicalSharedIndicator(IndicatorKind::kIpPrefix, "10.0.0.0/8"));
}

// The engine keys address blocks of IPv4-mapped IPv6 addresses as IPv4
// (they used to share one /48 key), and ignores loopback.
TEST(Engine, MappedAddressesAreTheirIpv4Block) {
  EXPECT_EQ(IpPrefixKey("::ffff:203.0.113.9", nullptr), IpPrefixKey("203.0.113.77", nullptr));
  EXPECT_NE(IpPrefixKey("::ffff:203.0.113.9", nullptr), IpPrefixKey("::ffff:198.51.100.9", nullptr));
  EXPECT_EQ(IpPrefixKey("::1", nullptr), 0u);
  EXPECT_EQ(IpPrefixKey("not an address", nullptr), 0u);
  std::string shown;
  IpPrefixKey("2001:db8:1:2::5", &shown);
  EXPECT_EQ(shown, "2001:db8:1::/48");
}

// An analyst's block on an account that has sent nothing yet holds at the
// gateway at once, not from its first event.
TEST(Engine, OverridesOfAccountsNotSeenYetHoldAtTheGateway) {
  Engine engine(Policy::Defaults());
  engine.SetOverride("bob smith", Verdict::kBlock);
  CheckRequest r;
  r.account_id = "bob smith";
  const CheckResult c = engine.Check(r);
  EXPECT_EQ(c.decision, Decision::kBlock);
  EXPECT_EQ(c.reasons, Bit(Reason::kAnalystOverride));
  engine.SetOverride("bob smith", Verdict::kReview);  // withdrawn
  EXPECT_EQ(engine.Check(r).decision, Decision::kAllow);
}


// An analyst's allow and then clear re-decide the account from its evidence;
// the block that follows keeps the time it was first flagged.
TEST(Engine, AllowThenClearKeepsFirstFlaggedAt) {
  Engine engine(Policy::Defaults());
  Rng rng(1);
  TimeMs t = kT0;
  for (int round = 0; round < 30; ++round) {
    for (int acct = 0; acct < 10; ++acct) {
      t += 2000;
      engine.Observe(Harvest("h" + std::to_string(acct), t, rng, acct % 2 ? "cardA" : "cardB", "198.51.100." + std::to_string(acct + 1)));
    }
  }
  const AccountState* a = engine.FindAccount("h3");
  ASSERT_EQ(a->verdict, Verdict::kBlock);
  const TimeMs first = a->flagged_at;
  const uint32_t n_first = a->n_at_flag;
  ASSERT_GE(first, 0);
  ASSERT_NE(engine.LastDecision(a->index), nullptr);
  EXPECT_EQ(engine.LastDecision(a->index)->at, first) << "the verdict record is the block's";
  engine.SetOverride("h3", Verdict::kAllow);
  EXPECT_EQ(a->verdict, Verdict::kAllow);
  engine.Observe(Harvest("h3", t += 60000, rng, "cardA", "198.51.100.4"));
  engine.SetOverride("h3", Verdict::kReview);  // clear
  EXPECT_EQ(a->verdict, Verdict::kBlock);
  EXPECT_EQ(a->flagged_at, first);
  EXPECT_EQ(a->n_at_flag, n_first);
}


// Suspicious accounts outside any campaign are forgotten too when the table
// is full of them, kept as summaries: still reviewed at the gateway, and
// reviewable again if they return.
TEST(Engine, SuspiciousAccountsBeyondTheLimitBecomeSummaries) {
  EngineOptions o;
  o.max_accounts = 100;
  Engine engine(Policy::Defaults(), o);
  Rng rng(3);
  TimeMs t = kT0;
  auto bot = [&](int k) {
    Interaction in;
    in.ts = t += 1000;
    in.request_id = "b" + std::to_string(rng.Next());
    in.account_id = "bot" + std::to_string(k);
    in.ip = "10." + std::to_string(k / 250) + "." + std::to_string(k % 250) + ".7";  // a /24 each
    in.user_agent = "bot-" + std::to_string(k);
    in.max_tokens = 8192;
    in.temperature = 0;
    in.messages.push_back({Role::kUser, "Think step by step and show your complete reasoning. Q" + std::to_string(rng.Next() % 100000), 0, 0, 0});
    return in;
  };
  for (int k = 0; k < 400; ++k) {
    for (int i = 0; i < 6; ++i) engine.Observe(bot(k));
  }
  EXPECT_LE(engine.live_accounts(), 106u);
  ASSERT_GE(engine.summaries().size(), 250u);
  // Copies: Observe below erases the summary, and a reference would dangle.
  const std::string id = engine.summaries().begin()->first;
  const AccountSummary summary = engine.summaries().begin()->second;
  EXPECT_EQ(summary.verdict, Verdict::kReview);
  EXPECT_EQ(summary.n, 6u);
  CheckRequest r;
  r.account_id = id;
  const Decision d = engine.Check(r).decision;
  EXPECT_TRUE(d == Decision::kWithholdReasoning || d == Decision::kThrottle) << DecisionName(d);
  const int k = std::stoi(id.substr(3));
  engine.Observe(bot(k));
  ASSERT_NE(engine.FindAccount(id), nullptr);
  EXPECT_TRUE(engine.FindAccount(id)->reviewable);
  EXPECT_FALSE(engine.summaries().contains(id));
}

}  // namespace
}  // namespace dg

namespace dg {
namespace {

// Two operations, each tied by its own cards and address block and big
// enough to block on its own, later take up the same public tooling (the
// same SDK and harness: its tool set, the same prompt wrapper; they also
// run on one schedule). That blocks no one more and would hand the analyst
// two operations as one: they stay two.
constexpr const char* kWrapperA = "Our internal curriculum pipeline, batch item follows; reply in the house format with numbered steps. ";
constexpr const char* kWrapperB = "QA harvest job -- respond verbosely, cite each intermediate quantity, mark the answer with ANSWER: ";

TEST(Engine, SelfStandingCampaignsDoNotMergeOnSharedToolingAlone) {
  // Review-only: blocked accounts are never looked at again, so the merge
  // this guards against happens through members still being decided.
  Policy policy = Policy::Defaults();
  policy.review_only = true;
  Engine engine(policy);
  Rng rng(11);
  TimeMs ts = testing::kT0;
  auto request = [&](int group, int k, bool shared_tooling) {
    const std::string g = group == 0 ? "a" : "b";
    Interaction in = testing::HarvestRequest("op" + g + std::to_string(k), ts += 3000, rng, "pm_" + g + std::to_string(k % 2),
                                             (group == 0 ? "198.51.100." : "203.0.113.") + std::to_string(10 + k),
                                             shared_tooling ? "" : std::string(group == 0 ? kWrapperA : kWrapperB));
    if (!shared_tooling) in.user_agent = "harness-" + g + "/1.0";
    if (shared_tooling) {  // the same public agent harness: its tool set
      in.tool_names = {"python", "web_search"};
      in.tools_hash = 0x5eed700151;
    }
    in.account_created_at = testing::kT0 - (group == 0 ? 2 : 40) * kMsPerHour;  // separate sign-up waves
    return in;
  };
  for (const bool shared : {false, true}) {
    for (int round = 0; round < 25; ++round) {
      for (int group = 0; group < 2; ++group) {
        for (int k = 0; k < 6; ++k) engine.Observe(request(group, k, shared));
      }
    }
    if (!shared) {
      const auto campaigns = Campaigns(engine);
      ASSERT_EQ(campaigns.size(), 2u) << "each operation is its own campaign before they share tooling";
    }
  }
  engine.Finish();
  const auto campaigns = Campaigns(engine);
  ASSERT_EQ(campaigns.size(), 2u);
  for (const auto& c : campaigns) EXPECT_EQ(c.members.size(), 6u);
  for (const char* acct : {"opa0", "opb5"}) {
    const AccountState* a = engine.FindAccount(acct);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->verdict, Verdict::kReview) << acct;
  }
}

}  // namespace
}  // namespace dg
