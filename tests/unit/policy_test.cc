#include "policy/policy.h"

#include <gtest/gtest.h>

#include "status_util.h"

namespace dg {
namespace {

TEST(Policy, ShippedDefaultsLoadAndMatchCompiledDefaults) {
  auto p = Policy::Load(std::string(DG_SOURCE_DIR) + "/config/policy.toml");
  ASSERT_TRUE(p.ok()) << p.status();
  const Policy d = Policy::Defaults();
  EXPECT_EQ(p->suspicious_score, d.suspicious_score);
  EXPECT_EQ(p->automation_score, d.automation_score);
  EXPECT_EQ(p->established_automation_score, d.established_automation_score);
  EXPECT_EQ(p->solo_block_score, d.solo_block_score);
  EXPECT_EQ(p->campaign_block_score, d.campaign_block_score);
  EXPECT_EQ(p->link_threshold, d.link_threshold);
  EXPECT_EQ(p->min_interactions, d.min_interactions);
  EXPECT_EQ(p->weights, d.weights);
  EXPECT_EQ(p->links, d.links);
  EXPECT_EQ(p->content_cap, d.content_cap);
  EXPECT_FALSE(p->review_only);
}

// fuzz_config finding: a float where an integer belongs was cast by the
// TOML library (undefined behaviour for 8.8e66); it is now "not an integer".
TEST(Policy, HugeFloatWhereAnIntegerBelongsIsAnErrorNotACast) {
  std::string error;
  error = ErrorOf(Policy::FromToml("version = 8888888888888888888888888888888888888888888888888888888888888888880.0\n", "p.toml"));
  EXPECT_EQ(error, "p.toml:1: key 'version': unsupported policy version (expected 1)");
  error = ErrorOf(Policy::FromToml("[thresholds]\nmin_interactions = 1e300\n", "p.toml"));
  EXPECT_EQ(error, "p.toml:2: key 'thresholds.min_interactions': must be an integer");
}

TEST(Policy, ErrorsNameLineAndKey) {
  std::string error;
  error = ErrorOf(Policy::FromToml("version = 1\n[thresholds]\nblock = 0.9\n", "p.toml"));
  EXPECT_EQ(error, "p.toml:3: key 'thresholds.block': unknown key");
  error = ErrorOf(Policy::FromToml("version = 1\n\n[weights]\nsingle_turn = \"high\"\n", "p.toml"));
  EXPECT_EQ(error, "p.toml:4: key 'weights.single_turn': must be a number");
  error = ErrorOf(Policy::FromToml("[thresholds]\nsuspicious_score = 7\n", "p.toml"));
  EXPECT_EQ(error, "p.toml:2: key 'thresholds.suspicious_score': must be in [0, 1]");
  error = ErrorOf(Policy::FromToml("mode = \"yolo\"\n", "p.toml"));
  EXPECT_EQ(error, "p.toml:1: key 'mode': must be \"enforce\" or \"review-only\"");
  error = ErrorOf(Policy::FromToml("colour = 1\n", "p.toml"));
  EXPECT_EQ(error, "p.toml:1: key 'colour': unknown key (expected version, mode, thresholds, weights, links, allowlist)");
}

TEST(Policy, ErrorCodes) {
  const auto missing = Policy::Load("/nonexistent/policy.toml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(missing), "/nonexistent/policy.toml: cannot read policy file");
  EXPECT_EQ(ExitCode(missing.status()), 2) << "a usage error, as before";
  EXPECT_EQ(Policy::FromToml("colour = 1\n", "p.toml").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Policy::FromToml("[x\n", "p.toml").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Policy, AllowlistsAndReviewOnly) {
  auto p = Policy::FromToml("mode = \"review-only\"\n[allowlist]\norgs = [\"org_a\"]\naccounts = [\"acct_b\"]\n", "p.toml");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->review_only);
  EXPECT_TRUE(p->allow_orgs.contains("org_a"));
  EXPECT_TRUE(p->allow_accounts.contains("acct_b"));
}

}  // namespace

// Every own-behaviour signal and indicator kind has its policy key, named
// as in signals/signals.h; other reasons have none.
TEST(Policy, EverySignalAndKindHasItsKey) {
  for (const auto& sig : kSignals) {
    const std::string toml = "[weights]\n" + std::string(sig.name) + " = 3.5\n";
    const auto p = Policy::FromToml(toml, "t.toml");
    if (IsOwnBehaviour(sig.reason)) {
      ASSERT_TRUE(p.ok()) << sig.name << ": " << p.status();
      EXPECT_EQ(p->weight(sig.reason), 3.5) << sig.name;
    } else {
      EXPECT_FALSE(p.ok()) << sig.name << " is not an own-behaviour signal and has no weight";
    }
  }
  for (const auto& spec : kIndicatorSpecs) {
    const auto p = Policy::FromToml("[links]\n" + std::string(spec.name) + " = 2.5\n", "t.toml");
    ASSERT_TRUE(p.ok()) << spec.name << ": " << p.status();
    EXPECT_EQ(p->link(spec.kind), 2.5) << spec.name;
  }
  // The name version 1 used before the names were unified is still read.
  const auto old = Policy::FromToml("[weights]\nreasoning_elicitation = 4.0\n", "t.toml");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->weight(Reason::kCotElicitation), 4.0);
}

// One name per indicator kind: the reason a link on it gives is
// "shared_<kind>", and names resolve back to their rows.
TEST(Signals, OneNamePerKindAndReason) {
  for (const auto& spec : kIndicatorSpecs) {
    EXPECT_EQ(ReasonName(spec.reason), "shared_" + std::string(spec.name));
    EXPECT_EQ(IndicatorKindByName(spec.name), spec.kind);
  }
  for (const auto& sig : kSignals) EXPECT_EQ(ReasonByName(sig.name), sig.reason);
  EXPECT_FALSE(ReasonByName("no_such_signal"));
}

}  // namespace dg
