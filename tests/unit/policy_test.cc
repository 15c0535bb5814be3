#include "decide/policy.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

TEST(Policy, ShippedDefaultsLoadAndMatchCompiledDefaults) {
  std::string error;
  auto p = Policy::Load(std::string(DG_SOURCE_DIR) + "/config/policy.toml", &error);
  ASSERT_TRUE(p) << error;
  const Policy d = Policy::Defaults();
  EXPECT_EQ(p->suspicious_score, d.suspicious_score);
  EXPECT_EQ(p->automation_score, d.automation_score);
  EXPECT_EQ(p->established_automation_score, d.established_automation_score);
  EXPECT_EQ(p->solo_block_score, d.solo_block_score);
  EXPECT_EQ(p->campaign_block_score, d.campaign_block_score);
  EXPECT_EQ(p->link_threshold, d.link_threshold);
  EXPECT_EQ(p->min_interactions, d.min_interactions);
  EXPECT_EQ(p->weights.reasoning_elicitation, d.weights.reasoning_elicitation);
  EXPECT_EQ(p->links.payment, d.links.payment);
  EXPECT_EQ(p->links.schedule, d.links.schedule);
  EXPECT_EQ(p->links.behaviour, d.links.behaviour);
  EXPECT_EQ(p->links.content_cap, d.links.content_cap);
  EXPECT_FALSE(p->review_only);
}

// fuzz_config finding: a float where an integer belongs was cast by the
// TOML library (undefined behaviour for 8.8e66); it is now "not an integer".
TEST(Policy, HugeFloatWhereAnIntegerBelongsIsAnErrorNotACast) {
  std::string error;
  EXPECT_FALSE(Policy::FromToml("version = 8888888888888888888888888888888888888888888888888888888888888888880.0\n", "p.toml", &error));
  EXPECT_EQ(error, "p.toml:1: key 'version': unsupported policy version (expected 1)");
  EXPECT_FALSE(Policy::FromToml("[thresholds]\nmin_interactions = 1e300\n", "p.toml", &error));
  EXPECT_EQ(error, "p.toml:2: key 'thresholds.min_interactions': must be an integer");
}

TEST(Policy, ErrorsNameLineAndKey) {
  std::string error;
  EXPECT_FALSE(Policy::FromToml("version = 1\n[thresholds]\nblock = 0.9\n", "p.toml", &error));
  EXPECT_EQ(error, "p.toml:3: key 'thresholds.block': unknown key");
  EXPECT_FALSE(Policy::FromToml("version = 1\n\n[weights]\nsingle_turn = \"high\"\n", "p.toml", &error));
  EXPECT_EQ(error, "p.toml:4: key 'weights.single_turn': must be a number");
  EXPECT_FALSE(Policy::FromToml("[thresholds]\nsuspicious_score = 7\n", "p.toml", &error));
  EXPECT_EQ(error, "p.toml:2: key 'thresholds.suspicious_score': must be in [0, 1]");
  EXPECT_FALSE(Policy::FromToml("mode = \"yolo\"\n", "p.toml", &error));
  EXPECT_EQ(error, "p.toml:1: key 'mode': must be \"enforce\" or \"review-only\"");
  EXPECT_FALSE(Policy::FromToml("colour = 1\n", "p.toml", &error));
  EXPECT_EQ(error, "p.toml:1: key 'colour': unknown key (expected version, mode, thresholds, weights, links, allowlist)");
}

TEST(Policy, AllowlistsAndReviewOnly) {
  std::string error;
  auto p = Policy::FromToml("mode = \"review-only\"\n[allowlist]\norgs = [\"org_a\"]\naccounts = [\"acct_b\"]\n", "p.toml", &error);
  ASSERT_TRUE(p) << error;
  EXPECT_TRUE(p->review_only);
  EXPECT_TRUE(p->allow_orgs.contains("org_a"));
  EXPECT_TRUE(p->allow_accounts.contains("acct_b"));
}

}  // namespace
}  // namespace dg
