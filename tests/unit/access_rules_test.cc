// Access rules (decide/access_rules.h): every predicate and effect, missing
// attributes, dry run against enforce, globs and released-after, the
// stricter of detector and rule, and line-numbered errors.
#include "decide/access_rules.h"

#include <gtest/gtest.h>

#include <random>

#include "common/sha256.h"
#include "ingest/accounts.h"
#include "status_util.h"

namespace dg {
namespace {

constexpr TimeMs kNow = 1780000000000LL;  // 2026-05-28

const char* kCatalogue = R"(format = 1
[models]
"atlas-3" = 2025-01-10
"atlas-4-pro" = 2026-04-01
"atlas-4-mini" = 2026-05-01
)";

std::shared_ptr<const AccessRuleSet> Rules(const std::string& body, std::string* error = nullptr) {
  auto read = [](const std::string& path, std::string* text) {
    if (path != "models.toml") return false;
    *text = kCatalogue;
    return true;
  };
  auto set = AccessRuleSet::FromToml("format = 1\nversion = \"7\"\ncatalogue = \"models.toml\"\n" + body, "rules.toml", read);
  if (!set.ok()) {
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument) << "a refused file is bad input";
    if (error) *error = ErrorOf(set);
    else ADD_FAILURE() << ErrorOf(set);
    return nullptr;
  }
  return *set;
}

// One rule with the given condition line(s) under [rule.<table>].
std::string OneRule(const std::string& table, const std::string& predicates, const std::string& effect = "deny_model",
                    const std::string& mode = "enforce") {
  return "[[rule]]\nid = \"r1\"\nmodels = [\"m\"]\neffect = \"" + effect + "\"\nmode = \"" + mode +
         "\"\ncustomer_reason = \"Not available for your account.\"\naudit_reason = \"test\"\n" +
         (effect == "cap_output_tokens" ? "cap_output_tokens = 1000\n" : "") + "[rule." + table + "]\n" + predicates + "\n";
}

AccountAttributes Account() {
  AccountAttributes a;
  a.account_id = "a";
  a.verified_country = "DE";
  a.jurisdiction = "EU";
  a.verification_level = 2;
  a.org_type = "company";
  a.payment_verified = 1;
  a.org_verified = 1;
  a.created_at = kNow - 100 * kMsPerDay;
  a.labels = {"partner"};
  return a;
}

bool Applies(const AccessRuleSet& set, const AccountAttributes* a, Decision detector = Decision::kAllow, double score = 0) {
  const auto s = set.Subject(a, detector, score, kNow);
  return !set.Evaluate(s, *set.RulesFor("m")).triggered.empty();
}

TEST(AccessRules, EachPredicateInRequire) {
  struct Case {
    std::string predicate;
    std::function<void(AccountAttributes&)> fail;  // makes the requirement fail
  };
  const std::vector<Case> cases = {
      {"verified_country_in = [\"DE\", \"FR\"]", [](auto& a) { a.verified_country = "CN"; }},
      {"verified_country_not_in = [\"CN\"]", [](auto& a) { a.verified_country = "CN"; }},
      {"jurisdiction_in = [\"EU\"]", [](auto& a) { a.jurisdiction = "US"; }},
      {"jurisdiction_not_in = [\"XX\"]", [](auto& a) { a.jurisdiction = "XX"; }},
      {"verification_level_at_least = 2", [](auto& a) { a.verification_level = 1; }},
      {"org_type_in = [\"company\", \"university\"]", [](auto& a) { a.org_type = "individual"; }},
      {"org_type_not_in = [\"reseller\"]", [](auto& a) { a.org_type = "reseller"; }},
      {"account_age_days_at_least = 90", [](auto& a) { a.created_at = kNow - 10 * kMsPerDay; }},
      {"payment_verified = true", [](auto& a) { a.payment_verified = 0; }},
      {"org_verified = true", [](auto& a) { a.org_verified = 0; }},
      {"labels_any = [\"partner\"]", [](auto& a) { a.labels = {"other"}; }},
      {"labels_none = [\"sanctioned\"]", [](auto& a) { a.labels = {"sanctioned"}; }},
  };
  for (const auto& c : cases) {
    const auto set = Rules(OneRule("require", c.predicate));
    ASSERT_NE(set, nullptr) << c.predicate;
    AccountAttributes a = Account();
    EXPECT_FALSE(Applies(*set, &a)) << c.predicate << ": the requirement holds, no effect";
    c.fail(a);
    EXPECT_TRUE(Applies(*set, &a)) << c.predicate << ": the requirement fails, the effect applies";
  }
}

TEST(AccessRules, DetectorPredicatesInWhen) {
  const auto set = Rules(OneRule("when", "detector_decision_in = [\"throttle\", \"withhold_reasoning\"]", "withhold_reasoning"));
  const AccountAttributes a = Account();
  EXPECT_FALSE(Applies(*set, &a, Decision::kAllow));
  EXPECT_TRUE(Applies(*set, &a, Decision::kThrottle));
  EXPECT_TRUE(set->rules()[0].reads_detector);
  const auto score = Rules(OneRule("when", "detector_score_at_least = 0.4"));
  EXPECT_FALSE(Applies(*score, &a, Decision::kAllow, 0.39));
  EXPECT_TRUE(Applies(*score, &a, Decision::kAllow, 0.4));
}

TEST(AccessRules, MissingAttributesAreNeverVerified) {
  // In require: a missing attribute fails the requirement (the effect applies).
  for (const char* p : {"verified_country_in = [\"DE\"]", "verified_country_not_in = [\"CN\"]", "jurisdiction_in = [\"EU\"]",
                        "verification_level_at_least = 0", "org_type_in = [\"company\"]", "account_age_days_at_least = 0",
                        "payment_verified = true", "payment_verified = false", "org_verified = true"}) {
    const auto set = Rules(OneRule("require", p));
    AccountAttributes bare;
    bare.account_id = "a";
    EXPECT_TRUE(Applies(*set, &bare)) << p << " on an account with no attributes";
    EXPECT_TRUE(Applies(*set, nullptr)) << p << " on an unknown account";
    const auto s = set->Subject(&bare, Decision::kAllow, 0, kNow);
    EXPECT_EQ(set->Missing(set->rules()[0], s).size(), 1u) << p;
  }
  // In when: a predicate on a missing attribute never holds.
  const auto when = Rules(OneRule("when", "verified_country_not_in = [\"DE\"]"));
  EXPECT_FALSE(Applies(*when, nullptr));
  // Labels are the provider's own flags: no labels means none of them.
  const auto none = Rules(OneRule("require", "labels_none = [\"sanctioned\"]"));
  EXPECT_FALSE(Applies(*none, nullptr));
}

TEST(AccessRules, WhenAndRequireTogether) {
  // Unverified accounts lose reasoning traces, but only on the EU jurisdiction.
  const auto set = Rules(OneRule("when", "jurisdiction_in = [\"EU\"]", "withhold_reasoning") +
                         "[rule.require]\nverification_level_at_least = 3\n");
  AccountAttributes a = Account();
  EXPECT_TRUE(Applies(*set, &a));  // EU, level 2
  a.verification_level = 3;
  EXPECT_FALSE(Applies(*set, &a));
  a.verification_level = 0;
  a.jurisdiction = "US";
  EXPECT_FALSE(Applies(*set, &a));
}

TEST(AccessRules, EachEffectAndTheStricterWins) {
  const AccountAttributes a = Account();
  struct Case {
    std::string effect;
    Decision rule_decision;
  };
  for (const auto& c : std::vector<Case>{{"deny_model", Decision::kBlock},
                                         {"require_verification", Decision::kChallenge},
                                         {"withhold_reasoning", Decision::kWithholdReasoning}}) {
    const auto set = Rules(OneRule("require", "verification_level_at_least = 5", c.effect));
    for (const Decision detector : {Decision::kAllow, Decision::kWithholdReasoning, Decision::kThrottle, Decision::kChallenge,
                                    Decision::kBlock}) {
      const auto s = set->Subject(&a, detector, 0.3, kNow);
      const auto out = set->Evaluate(s, *set->RulesFor("m"));
      CheckResult r;
      r.decision = detector;
      ApplyAccess(*set, out, &r);
      const bool rule_wins = DecisionRank(c.rule_decision) >= DecisionRank(detector);
      EXPECT_EQ(r.decision, rule_wins ? c.rule_decision : detector) << c.effect << " vs " << DecisionName(detector);
      EXPECT_EQ(r.rule_id, rule_wins ? "r1" : "") << c.effect << " vs " << DecisionName(detector);
      if (rule_wins) {
        EXPECT_EQ(r.rule_message, "Not available for your account.");
        EXPECT_TRUE(r.rule_visible);
      }
    }
  }
  // A cap rides along with any decision that serves the request.
  const auto cap = Rules(OneRule("require", "verification_level_at_least = 5", "cap_output_tokens"));
  const auto out = cap->Evaluate(cap->Subject(&a, Decision::kAllow, 0, kNow), *cap->RulesFor("m"));
  CheckResult r;
  ApplyAccess(*cap, out, &r);
  EXPECT_EQ(r.decision, Decision::kAllow);
  EXPECT_EQ(r.max_output_tokens, 1000u);
  EXPECT_EQ(r.rule_id, "r1");
  CheckResult blocked;
  blocked.decision = Decision::kBlock;
  ApplyAccess(*cap, out, &blocked);
  EXPECT_EQ(blocked.max_output_tokens, 0u);
}

TEST(AccessRules, DryRunIsTriggeredButNotEnforced) {
  const AccountAttributes a = Account();
  const auto dry = Rules(OneRule("require", "verified_country_in = [\"US\"]", "deny_model", "dry_run"));
  const auto out = dry->Evaluate(dry->Subject(&a, Decision::kAllow, 0, kNow), *dry->RulesFor("m"));
  ASSERT_EQ(out.triggered.size(), 1u);  // logged as "would deny"
  EXPECT_EQ(out.enforced, -1);
  CheckResult r;
  ApplyAccess(*dry, out, &r);
  EXPECT_EQ(r.decision, Decision::kAllow);
  EXPECT_EQ(r.rule_id, "");
  const auto enforce = Rules(OneRule("require", "verified_country_in = [\"US\"]", "deny_model", "enforce"));
  const auto out2 = enforce->Evaluate(enforce->Subject(&a, Decision::kAllow, 0, kNow), *enforce->RulesFor("m"));
  CheckResult r2;
  ApplyAccess(*enforce, out2, &r2);
  EXPECT_EQ(r2.decision, Decision::kBlock);
}

TEST(AccessRules, RulesReadingTheDetectorAreNotNamedToTheCustomer) {
  const auto set = Rules(OneRule("when", "detector_decision_in = [\"throttle\"]", "deny_model"));
  const AccountAttributes a = Account();
  const auto out = set->Evaluate(set->Subject(&a, Decision::kThrottle, 0.6, kNow), *set->RulesFor("m"));
  CheckResult r;
  r.decision = Decision::kThrottle;
  ApplyAccess(*set, out, &r);
  EXPECT_EQ(r.decision, Decision::kBlock);
  EXPECT_EQ(r.rule_id, "r1");
  EXPECT_FALSE(r.rule_visible);
  std::string error;
  EXPECT_EQ(Rules("[[rule]]\nid = \"x\"\nmodels = [\"m\"]\neffect = \"deny_model\"\n"
                  "customer_reason = \"Your score is too high\"\naudit_reason = \"a\"\n[rule.when]\ndetector_score_at_least = 0.5\n",
                  &error),
            nullptr);
  EXPECT_EQ(error, "rules.toml:8: key 'rule[1].customer_reason': a customer-facing text must not reveal the detector (it says 'score')");
}

TEST(AccessRules, ModelsByNameGlobAndReleaseDate) {
  const auto set = Rules(R"([[rule]]
id = "g"
models = ["atlas-4-*", "exact-1", "x?z"]
effect = "deny_model"
customer_reason = "n"
audit_reason = "a"
[rule.require]
payment_verified = true
[[rule]]
id = "new"
released_after = 2026-03-15
effect = "deny_model"
customer_reason = "n"
audit_reason = "a"
[rule.require]
payment_verified = true
)");
  const auto& g = set->rules()[0];
  const auto& fresh = set->rules()[1];
  EXPECT_TRUE(set->Covers(g, "atlas-4-pro"));
  EXPECT_TRUE(set->Covers(g, "atlas-4-"));
  EXPECT_FALSE(set->Covers(g, "atlas-3"));
  EXPECT_TRUE(set->Covers(g, "exact-1"));
  EXPECT_FALSE(set->Covers(g, "exact-10"));
  EXPECT_TRUE(set->Covers(g, "xyz"));
  EXPECT_FALSE(set->Covers(g, "xz"));
  EXPECT_TRUE(set->Covers(fresh, "atlas-4-pro"));   // 2026-04-01
  EXPECT_TRUE(set->Covers(fresh, "atlas-4-mini"));  // 2026-05-01
  EXPECT_FALSE(set->Covers(fresh, "atlas-3"));      // 2025
  EXPECT_FALSE(set->Covers(fresh, "not-in-catalogue"));
  EXPECT_EQ(*set->RulesFor("atlas-4-pro"), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(*set->RulesFor("atlas-3"), (std::vector<uint32_t>{}));
  EXPECT_EQ(*set->RulesFor("xyz"), (std::vector<uint32_t>{0}));
}

TEST(AccessRules, OutcomeCacheIsExactAcrossScoreAndAgeThresholds) {
  const auto set = Rules(OneRule("when", "detector_score_at_least = 0.5", "deny_model") +
                         "[[rule]]\nid = \"young\"\nmodels = [\"m\"]\neffect = \"withhold_reasoning\"\ncustomer_reason = \"n\"\n"
                         "audit_reason = \"a\"\n[rule.require]\naccount_age_days_at_least = 30\n");
  AccountAttributes a = Account();
  a.created_at = kNow - 29 * kMsPerDay;
  auto decide = [&](double score, TimeMs now) {
    std::shared_ptr<const AccessOutcome> out;
    if (!set->Probe("a", 1, "m", Decision::kAllow, score, now, &out)) {
      out = set->Decide("a", 1, "m", set->Subject(&a, Decision::kAllow, score, now));
    }
    return out ? out->triggered : std::vector<uint32_t>{};
  };
  EXPECT_EQ(decide(0.2, kNow), (std::vector<uint32_t>{1}));
  EXPECT_EQ(decide(0.6, kNow), (std::vector<uint32_t>{0, 1}));  // another score bucket
  EXPECT_EQ(decide(0.2, kNow + 2 * kMsPerDay), (std::vector<uint32_t>{}));  // 31 days old: another age bucket
  EXPECT_EQ(decide(0.2, kNow), (std::vector<uint32_t>{1}));
  // Hits and misses as expected: a hit needs no attributes.
  std::shared_ptr<const AccessOutcome> out;
  EXPECT_TRUE(set->Probe("a", 1, "m", Decision::kAllow, 0.2, kNow, &out));
  EXPECT_FALSE(set->Probe("a", 2, "m", Decision::kAllow, 0.2, kNow, &out));  // attributes changed
  EXPECT_FALSE(set->Probe("a", 1, "m", Decision::kBlock, 0.2, kNow, &out));
  EXPECT_FALSE(set->Probe("b", 1, "m", Decision::kAllow, 0.2, kNow, &out));
  a.verification_level = 5;
  a.created_at = kNow - 60 * kMsPerDay;
  EXPECT_EQ(set->Decide("a", 2, "m", set->Subject(&a, Decision::kAllow, 0.2, kNow)), nullptr);  // nothing applies: null
  ASSERT_TRUE(set->Probe("a", 2, "m", Decision::kAllow, 0.2, kNow, &out));
  EXPECT_EQ(out, nullptr);
}

// The rule index gives the reference evaluation's outcome, on random rule
// sets (every predicate kind, both tables, globs, dry run, caps) and random
// accounts (values named by rules, values named by none, missing ones).
TEST(AccessRules, IndexedEqualsReference) {
  std::mt19937 rng(20);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const std::vector<std::string> countries = {"US", "GB", "DE", "CN", "RU", "IN"};
  const std::vector<std::string> labels = {"trial", "partner", "held", "vip", "edu"};
  const std::vector<std::string> orgs = {"company", "individual", "university"};
  const std::vector<std::string> decisions = {"allow", "throttle", "challenge", "block", "withhold_reasoning"};
  const std::vector<std::string> effects = {"deny_model", "require_verification", "withhold_reasoning", "cap_output_tokens"};
  auto list = [&](const std::vector<std::string>& from) {
    std::string out = "[";
    const int n = 1 + pick(3);
    for (int i = 0; i < n; ++i) out += (i ? ", \"" : "\"") + from[static_cast<size_t>(pick(static_cast<int>(from.size())))] + "\"";
    return out + "]";
  };
  auto predicates = [&] {
    std::string out;
    while (out.empty()) {
      if (pick(4) == 0) out += "verified_country_in = " + list(countries) + "\n";
      if (pick(5) == 0) out += "verified_country_not_in = " + list(countries) + "\n";
      if (pick(5) == 0) out += "jurisdiction_in = " + list(countries) + "\n";
      if (pick(6) == 0) out += "jurisdiction_not_in = " + list(countries) + "\n";
      if (pick(4) == 0) out += "verification_level_at_least = " + std::to_string(pick(4)) + "\n";
      if (pick(6) == 0) out += "org_type_in = " + list(orgs) + "\n";
      if (pick(6) == 0) out += "org_type_not_in = " + list(orgs) + "\n";
      if (pick(5) == 0) out += "account_age_days_at_least = " + std::to_string(pick(200)) + "\n";
      if (pick(5) == 0) out += std::string("payment_verified = ") + (pick(2) ? "true" : "false") + "\n";
      if (pick(6) == 0) out += std::string("org_verified = ") + (pick(2) ? "true" : "false") + "\n";
      if (pick(5) == 0) out += "labels_any = " + list(labels) + "\n";
      if (pick(5) == 0) out += "labels_none = " + list(labels) + "\n";
      if (pick(6) == 0) out += "detector_decision_in = " + list(decisions) + "\n";
      if (pick(6) == 0) out += "detector_score_at_least = 0." + std::to_string(pick(10)) + "\n";
    }
    return out;
  };
  const std::vector<std::string> models = {"m", "atlas-4-pro", "atlas-3", "other"};
  size_t checks = 0, triggered = 0, evaluated = 0;
  for (int set_idx = 0; set_idx < 40; ++set_idx) {
    std::string body;
    const int n = 1 + pick(150);
    for (int r = 0; r < n; ++r) {
      const std::string effect = effects[static_cast<size_t>(pick(4))];
      body += "[[rule]]\nid = \"r" + std::to_string(r) + "\"\n";
      body += pick(3) == 0 ? "released_after = 2026-03-01\n" : pick(2) ? "models = [\"m\", \"atlas-*\"]\n" : "models = [\"*\"]\n";
      body += "effect = \"" + effect + "\"\nmode = \"" + (pick(4) == 0 ? "dry_run" : "enforce") + "\"\n";
      if (effect == "cap_output_tokens") body += "cap_output_tokens = " + std::to_string(1 + pick(5000)) + "\n";
      body += "customer_reason = \"c\"\naudit_reason = \"a\"\n";
      const int tables = 1 + pick(3);
      if (tables & 1) body += "[rule.when]\n" + predicates();
      if (tables & 2) body += "[rule.require]\n" + predicates();
    }
    const auto set = Rules(body);
    ASSERT_NE(set, nullptr);
    for (int acct = 0; acct < 60; ++acct) {
      AccountAttributes a;
      a.account_id = "a";
      auto maybe = [&](const std::vector<std::string>& from) {
        const int k = pick(static_cast<int>(from.size()) + 2);
        return k < static_cast<int>(from.size()) ? from[static_cast<size_t>(k)] : k == static_cast<int>(from.size()) ? "" : "ZZ";
      };
      a.verified_country = maybe(countries);
      a.jurisdiction = maybe(countries);
      a.org_type = maybe(orgs);
      a.verification_level = pick(6) - 1;
      a.payment_verified = static_cast<int8_t>(pick(3) - 1);
      a.org_verified = static_cast<int8_t>(pick(3) - 1);
      a.created_at = pick(5) == 0 ? kNoTime : kNow - pick(250) * kMsPerDay;
      for (const auto& l : labels) {
        if (pick(3) == 0) a.labels.push_back(l);
      }
      if (pick(4) == 0) a.labels.push_back("unnamed");
      const auto d = static_cast<Decision>(pick(5));
      const double score = pick(11) / 10.0;
      const AccessSubject sub = set->Subject(pick(10) == 0 ? nullptr : &a, d, score, kNow);
      for (const auto& m : models) {
        const AccessOutcome ref = set->Evaluate(sub, *set->RulesFor(m));
        const AccessOutcome idx = set->EvaluateIndexed(sub, m);
        ASSERT_EQ(ref.triggered, idx.triggered) << "set " << set_idx << " account " << acct << " model " << m;
        ASSERT_EQ(ref.enforced, idx.enforced);
        ASSERT_EQ(ref.cap_rule, idx.cap_rule);
        ASSERT_EQ(ref.cap_tokens, idx.cap_tokens);
        ++checks;
        triggered += ref.triggered.size();
        evaluated += set->RulesFor(m)->size();
      }
    }
  }
  // Both outcomes are common: the comparison is not of empty sets.
  EXPECT_GT(triggered, evaluated / 5) << checks << " checks";
  EXPECT_LT(triggered, evaluated * 4 / 5) << checks << " checks";
}

TEST(AccessRules, ErrorsNameFileLineAndKey) {
  struct Case {
    std::string body, error;
  };
  const std::string head = "[[rule]]\nid = \"r\"\nmodels = [\"m\"]\neffect = \"deny_model\"\ncustomer_reason = \"c\"\naudit_reason = \"a\"\n";
  const std::vector<Case> cases = {
      {"[[rule]]\nid = \"r\"\n", "rules.toml:4: key 'rule[1]': models or released_after is required"},
      {head + "[rule.require]\nverified_country = [\"DE\"]\n", "rules.toml:11: key 'rule[1].require.verified_country': unknown predicate"},
      {head + "[rule.require]\nverification_level_at_least = 101\n",
       "rules.toml:11: key 'rule[1].require.verification_level_at_least': must be an integer in [0, 100]"},
      {head + "[rule.require]\nverified_country_in = []\n", "rules.toml:11: key 'rule[1].require.verified_country_in': must not be empty"},
      {head + "[rule.when]\ndetector_decision_in = [\"review\"]\n",
       "rules.toml:11: key 'rule[1].when.detector_decision_in': 'review' is not a decision"},
      {head, "rules.toml:4: key 'rule[1]': a condition ([rule.when] or [rule.require]) is required"},
      {"[[rule]]\nid = \"r\"\nmodels = [\"m\"]\neffect = \"ban\"\n", "rules.toml:7: key 'rule[1].effect': must be deny_model"},
      {"[[rule]]\nid = \"r\"\nmodels = [\"m\"]\neffect = \"cap_output_tokens\"\ncustomer_reason = \"c\"\naudit_reason = \"a\"\n"
       "[rule.when]\npayment_verified = false\n",
       "rules.toml:4: key 'rule[1]': cap_output_tokens (with effect cap_output_tokens) is required"},
      {head + "mode = \"shadow\"\n[rule.when]\npayment_verified = false\n", "rules.toml:10: key 'rule[1].mode': must be \"enforce\" or \"dry_run\""},
      {head + "[rule.when]\npayment_verified = false\n" + head + "[rule.when]\npayment_verified = false\n",
       "rules.toml:12: key 'rule[2].id': 'r' is used by an earlier rule"},
      {"[[rule]\n", "rules.toml:4: "},
      {"colour = 1\n", "rules.toml:4: key 'colour': unknown key"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_EQ(Rules(c.body, &error), nullptr) << c.body;
    EXPECT_EQ(error.rfind(c.error, 0), 0u) << "got: " << error << "\nwant: " << c.error;
  }
  // No version; a released_after without a catalogue.
  std::string error;
  EXPECT_EQ(ValueOr(AccessRuleSet::FromToml("format = 1\n", "r.toml", nullptr), &error), nullptr);
  EXPECT_EQ(error.rfind("r.toml:1: key 'version': required", 0), 0u) << error;
  EXPECT_EQ(ValueOr(AccessRuleSet::FromToml("version = 1\n[[rule]]\nid = \"x\"\nreleased_after = 2026-01-01\n", "r.toml", nullptr), &error),
            nullptr);
  EXPECT_EQ(error.rfind("r.toml:4: key 'rule[1].released_after': needs a model catalogue", 0), 0u) << error;
  const auto catalogue = AccessRuleSet::ParseCatalogue("[models]\n\"m\" = \"soon\"\n", "models.toml");
  EXPECT_EQ(catalogue.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ErrorOf(catalogue), "models.toml:2: key 'models.m': must be a release date (2026-06-01)");
}

TEST(AccessRules, VersionAndHashOfTheFile) {
  const auto set = Rules(OneRule("require", "payment_verified = true"));
  EXPECT_EQ(set->version(), "7");
  EXPECT_EQ(set->sha256().size(), 64u);
  EXPECT_EQ(set->catalogue_sha256(), Sha256Hex(kCatalogue));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AccessRules, AccountFileCarriesTheVerifiedAttributes) {
  AccountDirectory d;
  std::string error;
  ASSERT_TRUE(Ok(d.LoadText("account_id,verified_country,jurisdiction,verification_level,org_type,payment_verified\n"
                         "a,DE,EU,3,company,yes\n",
                         "acc.csv"), &error))
      << error;
  const auto* a = d.Find("a");
  EXPECT_EQ(a->verified_country, "DE");
  EXPECT_EQ(a->jurisdiction, "EU");
  EXPECT_EQ(a->verification_level, 3);
  EXPECT_EQ(a->org_type, "company");
  EXPECT_EQ(a->payment_verified, 1);
  // Round trip through the stored JSON form.
  AccountDirectory back;
  ASSERT_TRUE(Ok(back.LoadText(AccountToJson(*a), "store"), &error)) << error;
  EXPECT_EQ(back.Find("a")->verification_level, 3);
  EXPECT_EQ(back.Find("a")->payment_verified, 1);
  EXPECT_EQ(back.Find("a")->jurisdiction, "EU");
  EXPECT_FALSE(Ok(d.LoadText("account_id,verification_level\nb,high\n", "acc.csv"), &error));
  EXPECT_EQ(error, "acc.csv:2: column 'verification_level': 'high' is not an integer in [0, 100]");
}

}  // namespace
}  // namespace dg
