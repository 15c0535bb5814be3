// Account enrichment (ingest/accounts.h) and the field coverage report
// (ingest/coverage.h).
#include "ingest/accounts.h"

#include <gtest/gtest.h>

#include "ingest/coverage.h"
#include "status_util.h"

namespace dg {
namespace {

TEST(Accounts, CsvWithHeaderQuotesAndLabels) {
  AccountDirectory d;
  std::string error;
  ASSERT_TRUE(Ok(d.LoadText("account_id,created_at,payment_fingerprint,email_domain,org_id,org_verified,country,verification,labels\n"
                         "a1,2026-03-01T00:00:00Z,pm_1,example.com,org-1,true,DE,kyc,\"vip;  beta\"\n"
                         "\"a,2\",1772323200,,,org-2,no,,,\n",
                         "acc.csv"), &error))
      << error;
  ASSERT_EQ(d.size(), 2u);
  const auto* a1 = d.Find("a1");
  ASSERT_NE(a1, nullptr);
  EXPECT_EQ(a1->created_at, 1772323200000LL);
  EXPECT_EQ(a1->org_verified, 1);
  EXPECT_EQ(a1->labels, (std::vector<std::string>{"vip", "beta"}));
  const auto* a2 = d.Find("a,2");
  ASSERT_NE(a2, nullptr);
  EXPECT_EQ(a2->org_verified, 0);
  EXPECT_EQ(a2->created_at, 1772323200000LL);
}

TEST(Accounts, JsonlAndArrayUpsertFieldByField) {
  AccountDirectory d;
  std::string error;
  ASSERT_TRUE(Ok(d.LoadText(R"({"account_id":"a1","payment_fingerprint":"pm_1","labels":["x"]}
{"account_id":"a1","email_domain":"e.com","payment_fingerprint":""}
)", "acc.jsonl"), &error)) << error;
  ASSERT_TRUE(Ok(d.LoadText(R"([{"account_id":"a2","org_id":"o","org_verified":false}])", "body"), &error)) << error;
  EXPECT_EQ(d.Find("a1")->payment_fingerprint, "pm_1");  // an empty value does not erase
  EXPECT_EQ(d.Find("a1")->email_domain, "e.com");
  EXPECT_EQ(d.Find("a2")->org_verified, 0);
}

TEST(Accounts, ErrorsNameFileLineAndColumn) {
  AccountDirectory d;
  std::string error;
  EXPECT_FALSE(Ok(d.LoadText("account_id,created\na,1\n", "acc.csv"), &error));
  EXPECT_EQ(error.rfind("acc.csv:1: column 'created': unknown column", 0), 0u) << error;
  EXPECT_FALSE(Ok(d.LoadText("account_id,created_at\na,yesterday\n", "acc.csv"), &error));
  EXPECT_EQ(error.rfind("acc.csv:2: column 'created_at': 'yesterday' is not", 0), 0u) << error;
  EXPECT_FALSE(Ok(d.LoadText("account_id,country\na,DE,extra\n", "acc.csv"), &error));
  EXPECT_EQ(error, "acc.csv:2: 3 fields, the header has 2");
  EXPECT_FALSE(Ok(d.LoadText("{\"account_id\":\"a\"}\n{\"org_verified\":\"maybe\",\"account_id\":\"b\"}\n", "acc.jsonl"), &error));
  EXPECT_EQ(error.rfind("acc.jsonl:2: column 'org_verified':", 0), 0u) << error;
  EXPECT_FALSE(Ok(d.LoadText("{\"email_domain\":\"x\"}\n", "acc.jsonl"), &error));
  EXPECT_EQ(error, "acc.jsonl:1: column 'account_id': required");
  EXPECT_FALSE(Ok(d.LoadText("account_id\n\"open\n", "acc.csv"), &error));
  EXPECT_NE(error.find("unterminated"), std::string::npos) << error;
}

// The codes behind those messages: what the CLI exits with and serve
// answers (common/status.h), chosen by code and never by the text.
TEST(Accounts, ErrorsCarryTheirCode) {
  AccountDirectory d;
  EXPECT_EQ(d.LoadText("account_id,country\na,DE,extra\n", "acc.csv").code(), absl::StatusCode::kInvalidArgument);
  const absl::Status missing = d.LoadFile("/nonexistent/accounts.csv");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound) << ErrorOf(missing);
  EXPECT_EQ(ErrorOf(missing), "/nonexistent/accounts.csv: cannot read the accounts file");
  AccountDirectory small;
  small.set_max_accounts(1);
  const absl::Status over = small.LoadText("account_id\na\nb\n", "acc.csv");
  EXPECT_EQ(over.code(), absl::StatusCode::kResourceExhausted) << ErrorOf(over);
  EXPECT_EQ(ErrorOf(over), "acc.csv:3: more than 1 accounts");
}

TEST(Accounts, JoinFillsAndIsNeverErasedByAnEmptyLogField) {
  AccountDirectory d;
  std::string error;
  ASSERT_TRUE(Ok(d.LoadText("account_id,payment_fingerprint,org_id,org_verified,country\nacct,pm_9,org-1,true,FR\n", "a.csv"), &error));
  Interaction in;
  in.account_id = "acct";
  in.email_domain = "from-log.example";  // the directory has none: the log's stays
  in.payment_fingerprint = "";
  ASSERT_TRUE(d.Apply(&in));
  EXPECT_EQ(in.payment_fingerprint, "pm_9");
  EXPECT_EQ(in.email_domain, "from-log.example");
  EXPECT_EQ(in.org_id, "org-1");
  EXPECT_EQ(in.org_verified, 1);
  EXPECT_EQ(in.country, "FR");
  Interaction other;
  other.account_id = "unknown";
  EXPECT_FALSE(d.Apply(&other));
  EXPECT_EQ(other.org_verified, -1);
}

TEST(Coverage, SharesAndWarnings) {
  FieldCoverage c;
  Interaction in;
  in.ip = "192.0.2.1";
  in.messages.push_back(Message{Role::kUser, "hi"});
  c.Observe(in);
  in.ip.clear();
  in.payment_fingerprint = "pm";
  c.Observe(in);
  EXPECT_EQ(c.records(), 2u);
  EXPECT_DOUBLE_EQ(c.Share(FieldCoverage::kIp), 0.5);
  EXPECT_DOUBLE_EQ(c.Share(FieldCoverage::kPrompt), 1.0);
  const std::string r = c.Report();
  EXPECT_EQ(r.find("no payment fingerprints"), std::string::npos) << r;
  EXPECT_NE(r.find("warning: no account creation times"), std::string::npos) << r;
  EXPECT_NE(r.find("warning: no response text"), std::string::npos) << r;
  EXPECT_NE(c.Json().find("\"ip\":0.5000"), std::string::npos) << c.Json();
  EXPECT_NE(c.Metrics().find("distillguard_field_coverage{field=\"prompt_text\"} 1.0000"), std::string::npos);
}

}  // namespace
}  // namespace dg
