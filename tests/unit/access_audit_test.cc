// The access audit (serve/access_audit.h): records chained by SHA-256
// across a reopen, decision records with the attributes as evaluated, and
// drops counted and written when the queue is full.
#include "serve/access_audit.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/sha256.h"
#include "status_util.h"

namespace dg {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    out.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::string Member(const std::string& line, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = line.find(key);
  if (at == std::string::npos) return "";
  return line.substr(at + key.size(), line.find('"', at + key.size()) - at - key.size());
}

// The chain as docs/ACCESS.md defines it.
bool Verifies(const std::vector<std::string>& lines) {
  std::string prev(64, '0');
  for (const auto& line : lines) {
    const std::string hash = Member(line, "hash");
    const std::string suffix = ",\"hash\":\"" + hash + "\"}";
    if (Member(line, "prev") != prev || line.size() < suffix.size() || line.substr(line.size() - suffix.size()) != suffix) return false;
    if (Sha256Hex(line.substr(0, line.size() - suffix.size()) + "}") != hash) return false;
    prev = hash;
  }
  return true;
}

class AccessAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("dg_access_audit_" + std::to_string(::getpid()))).string();
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(AccessAuditTest, ChainedAcrossAReopenWithTheAttributesAsEvaluated) {
  std::string error;
  const auto rules = ValueOr(AccessRuleSet::FromToml(R"(version = "3"
[[rule]]
id = "eu-only"
models = ["m"]
effect = "deny_model"
customer_reason = "Not available."
audit_reason = "directive 7"
[rule.require]
jurisdiction_in = ["EU"]
verification_level_at_least = 2
)", "rules.toml", nullptr), &error);
  ASSERT_NE(rules, nullptr) << error;
  const Clock clock = [] { return TimeMs{1780000000000}; };
  {
    auto audit = ValueOr(AccessAudit::Open(dir_, clock), &error);
    ASSERT_NE(audit, nullptr) << error;
    ASSERT_TRUE(Ok(audit->RecordEvent("\"kind\":\"reload\",\"by\":\"alice\""), &error)) << error;
    AccessAuditEntry e;
    e.at = 1780000000000;
    e.rules = rules;
    e.account_id = "acct\"1";
    e.model = "m";
    AccountAttributes a;
    a.account_id = "acct\"1";
    a.jurisdiction = "US";
    e.attributes = a;
    e.decision = Decision::kBlock;
    ASSERT_TRUE(audit->Record(e));
    ASSERT_TRUE(audit->Flush());
    EXPECT_EQ(audit->written(), 1u);
  }
  auto audit = ValueOr(AccessAudit::Open(dir_, clock), &error);
  ASSERT_NE(audit, nullptr) << error;
  ASSERT_TRUE(Ok(audit->RecordEvent("\"kind\":\"reload\",\"by\":\"bob\""), &error)) << error;
  std::string out = ValueOr(audit->Export(0, 100), &error);
  ASSERT_TRUE(error.empty()) << error;
  const auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_TRUE(Verifies(lines)) << out;
  EXPECT_NE(lines[1].find("\"rule_id\":\"eu-only\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"account_id\":\"acct\\\"1\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"jurisdiction\":\"US\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"missing\":[\"verification_level\"]"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"rules\":{\"version\":\"3\",\"sha256\":\"" + rules->sha256() + "\""), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\"at\":\"2026-05-28T20:26:40.000Z\""), std::string::npos) << lines[1];
  // Export from a sequence number on.
  out = ValueOr(audit->Export(2, 100), &error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(Lines(out).size(), 1u);
  // Any edit breaks the chain.
  auto edited = lines;
  edited[1].replace(edited[1].find("\"US\""), 4, "\"EU\"");
  EXPECT_FALSE(Verifies(edited));
  EXPECT_FALSE(Verifies({lines[0], lines[2]}));
}

TEST_F(AccessAuditTest, AFullQueueDropsCountsAndSaysSo) {
  std::string error;
  const auto rules = ValueOr(AccessRuleSet::FromToml("version = 1\n[[rule]]\nid = \"r\"\nmodels = [\"*\"]\neffect = \"deny_model\"\n"
                                             "customer_reason = \"c\"\naudit_reason = \"a\"\n[rule.require]\npayment_verified = true\n",
                                             "r.toml", nullptr), &error);
  ASSERT_NE(rules, nullptr) << error;
  auto audit = ValueOr(AccessAudit::Open(dir_, [] { return TimeMs{1780000000000}; }, /*max_queue=*/0), &error);
  ASSERT_NE(audit, nullptr) << error;
  AccessAuditEntry e;
  e.rules = rules;
  e.account_id = "a";
  EXPECT_FALSE(audit->Record(e));
  EXPECT_FALSE(audit->Record(e));
  EXPECT_EQ(audit->dropped(), 2u);
  ASSERT_TRUE(audit->Flush());
  std::string out = ValueOr(audit->Export(0, 100), &error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_NE(out.find("\"kind\":\"dropped\",\"at\":\"2026-05-28T20:26:40.000Z\",\"count\":2"), std::string::npos) << out;
  EXPECT_TRUE(Verifies(Lines(out)));
}

}  // namespace
}  // namespace dg
