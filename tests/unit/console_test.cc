// The analyst console's pieces (issue #19): request parsing, the console
// store (cases, decision log, retention), the batched decision writer, the
// verdict history and the analysts file.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "serve/console.h"
#include "serve/console_requests.h"
#include "serve/console_store.h"
#include "serve/decision_log.h"
#include "serve/verdict_history.h"
#include "status_util.h"

namespace dg {
namespace {

std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("dg-console-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(ConsoleRequests, ActionNeedsAKnownActionAndAReason) {
  ActionBody b;
  std::string error;
  EXPECT_TRUE(Ok(ParseActionBody(R"({"action":"block","reason":"ring"})", "allow|block|escalate", &b), &error)) << error;
  EXPECT_EQ(b.action, "block");
  EXPECT_FALSE(Ok(ParseActionBody(R"({"action":"block"})", "allow|block|escalate", &b), &error));
  EXPECT_NE(error.find("reason"), std::string::npos);
  EXPECT_FALSE(Ok(ParseActionBody(R"({"action":"block","reason":"   "})", "allow|block|escalate", &b), &error));
  EXPECT_FALSE(Ok(ParseActionBody(R"({"action":"clear","reason":"x"})", "allow|block|escalate", &b), &error));
  EXPECT_FALSE(Ok(ParseActionBody(R"({"action":"bloc","reason":"x"})", "allow|block", &b), &error));
  EXPECT_FALSE(Ok(ParseActionBody(R"({"action":1,"reason":"x"})", "allow|block", &b), &error));
  EXPECT_NE(error.find("'action'"), std::string::npos);
  EXPECT_FALSE(Ok(ParseActionBody("[1]", "allow", &b), &error));
  EXPECT_FALSE(Ok(ParseActionBody("{", "allow", &b), &error));
}

TEST(ConsoleRequests, TextFieldsAreBoundedAndFreeOfControlCharacters) {
  ActionBody b;
  std::string error;
  EXPECT_FALSE(Ok(ParseActionBody(R"({"action":"allow","reason":"a\u0007b"})", "allow", &b), &error));
  EXPECT_NE(error.find("control"), std::string::npos);
  EXPECT_TRUE(Ok(ParseActionBody(R"({"action":"allow","reason":"line one\nline two\tok"})", "allow", &b), &error)) << error;
  const std::string long_reason = R"({"action":"allow","reason":")" + std::string(kMaxText + 1, 'x') + "\"}";
  EXPECT_FALSE(Ok(ParseActionBody(long_reason, "allow", &b), &error));
  EXPECT_NE(error.find("longer"), std::string::npos);
}

TEST(ConsoleRequests, CasesAndNotes) {
  CaseCreateBody c;
  std::string error;
  EXPECT_TRUE(Ok(ParseCaseCreateBody(R"({"subject_kind":"campaign","subject_id":"camp_3","title":"t"})", &c), &error)) << error;
  EXPECT_EQ(c.subject_id, "camp_3");
  EXPECT_FALSE(Ok(ParseCaseCreateBody(R"({"subject_kind":"org","subject_id":"x"})", &c), &error));
  EXPECT_FALSE(Ok(ParseCaseCreateBody(R"({"subject_kind":"account"})", &c), &error));
  CasePatchBody p;
  EXPECT_TRUE(Ok(ParseCasePatchBody(R"({"status":"investigating"})", &p), &error)) << error;
  EXPECT_EQ(*p.status, "investigating");
  EXPECT_FALSE(p.assignee.has_value());
  EXPECT_FALSE(Ok(ParseCasePatchBody(R"({})", &p), &error));
  EXPECT_FALSE(Ok(ParseCasePatchBody(R"({"status":"done"})", &p), &error));
  EXPECT_FALSE(Ok(ParseCasePatchBody(R"({"status":"false_positive"})", &p), &error));  // why?
  EXPECT_TRUE(Ok(ParseCasePatchBody(R"({"status":"false_positive","outcome":"lab"})", &p), &error)) << error;
  EXPECT_TRUE(Ok(ParseCasePatchBody(R"({"assignee":""})", &p), &error)) << error;  // unassign
  std::string text;
  EXPECT_TRUE(Ok(ParseNoteBody(R"({"text":"hello"})", &text), &error));
  EXPECT_FALSE(Ok(ParseNoteBody(R"({"text":""})", &text), &error));
  EXPECT_EQ(ParseCaseId("case-12"), 12);
  EXPECT_EQ(ParseCaseId("7"), 7);
  EXPECT_FALSE(ParseCaseId("case-"));
  EXPECT_FALSE(ParseCaseId("case-0"));
  EXPECT_FALSE(ParseCaseId("case--1"));
  EXPECT_FALSE(ParseCaseId("case-99999999999999999999"));
}

TEST(ConsoleRequests, DecisionQuery) {
  DecisionQuery q;
  std::string error;
  ASSERT_TRUE(Ok(ParseDecisionQuery("account=bob%20smith&decision=block&since=2026-05-03T00:00:00Z&until=1800000000000&limit=5", &q), &error))
      << error;
  EXPECT_EQ(q.account_id, "bob smith");
  EXPECT_EQ(q.decision, "block");
  EXPECT_EQ(q.until_ms, 1800000000000);
  EXPECT_GT(q.since_ms, 0);
  EXPECT_EQ(q.limit, 5u);
  EXPECT_TRUE(Ok(ParseDecisionQuery("", &q), &error));
  EXPECT_EQ(q.limit, 200u);
  EXPECT_FALSE(Ok(ParseDecisionQuery("acount=x", &q), &error));  // a typo never widens a search
  EXPECT_FALSE(Ok(ParseDecisionQuery("decision=allow", &q), &error));
  EXPECT_FALSE(Ok(ParseDecisionQuery("since=yesterday", &q), &error));
  EXPECT_FALSE(Ok(ParseDecisionQuery("limit=1001", &q), &error));
  EXPECT_FALSE(Ok(ParseDecisionQuery("before=-3", &q), &error));
  EXPECT_FALSE(Ok(ParseDecisionQuery("account=%zz", &q), &error) && q.account_id == "%zz");
  EXPECT_EQ(QueryParam("a=1&b=x+y", "b"), "x y");
  EXPECT_FALSE(QueryParam("a=1", "b"));
}

TEST(ConsoleStore, CasesAreDurableWithTheirHistory) {
  const std::string dir = TempDir("cases");
  int64_t id = 0;
  {
    std::string error;
    auto st = ValueOr(ConsoleStore::Open(dir), &error);
    ASSERT_TRUE(st) << error;
    CaseRecord c;
    c.subject_kind = "account";
    c.subject_id = "acct_1";
    c.created_by = "alice";
    c.created_at = c.updated_at = "2026-05-03T10:00:00Z";
    ASSERT_TRUE(Ok(st->CreateCase(&c), &error)) << error;
    id = c.id;
    EXPECT_GT(id, 0);
    c.status = "investigating";
    c.assignee = "bob";
    ASSERT_TRUE(Ok(st->UpdateCase(c, {{id, "2026-05-03T11:00:00Z", "alice", "status", "open -> investigating"}}), &error)) << error;
    ASSERT_TRUE(Ok(st->AddCaseEvent({id, "2026-05-03T12:00:00Z", "bob", "note", "called them"}), &error)) << error;
  }
  std::string error;
  auto st = ValueOr(ConsoleStore::Open(dir), &error);
  ASSERT_TRUE(st) << error;
  const auto c = st->GetCase(id);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, "investigating");
  EXPECT_EQ(c->assignee, "bob");
  const auto events = st->CaseEvents(id);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, "opened");
  EXPECT_EQ(events[2].text, "called them");
  EXPECT_EQ(st->ListCases("investigating", "", "", 10).size(), 1u);
  EXPECT_EQ(st->ListCases("open", "", "", 10).size(), 0u);
  EXPECT_EQ(st->ListCases("", "account", "acct_1", 10).size(), 1u);
  EXPECT_FALSE(st->GetCase(id + 1));
  std::filesystem::remove_all(dir);
}

TEST(ConsoleStore, DecisionsQueryAndRetention) {
  const std::string dir = TempDir("decisions");
  std::string error;
  auto st = ValueOr(ConsoleStore::Open(dir), &error);
  ASSERT_TRUE(st) << error;
  std::vector<DecisionRow> rows;
  for (int i = 0; i < 10; ++i) {
    DecisionRow r;
    r.ts_ms = 1000 * kMsPerHour + i * kMsPerHour;
    r.account_id = i % 2 ? "odd" : "even";
    r.decision = i < 5 ? "block" : "throttle";
    r.campaign_id = i < 3 ? "camp_1" : "";
    r.source = "check";
    r.policy_version = 3;
    rows.push_back(r);
  }
  ASSERT_TRUE(Ok(st->AppendDecisions(rows, {{"even", 1000 * kMsPerHour, 4}}), &error)) << error;
  ASSERT_TRUE(Ok(st->AppendDecisions({}, {{"even", 1000 * kMsPerHour, 3}, {"even", 1001 * kMsPerHour, 1}}), &error)) << error;
  DecisionQuery q;
  EXPECT_EQ(st->QueryDecisions(q).size(), 10u);
  q.account_id = "odd";
  EXPECT_EQ(st->QueryDecisions(q).size(), 5u);
  q.decision = "block";
  EXPECT_EQ(st->QueryDecisions(q).size(), 2u);  // i = 1, 3
  q = DecisionQuery{};
  q.campaign_id = "camp_1";
  EXPECT_EQ(st->QueryDecisions(q).size(), 3u);
  q = DecisionQuery{};
  q.since_ms = 1005 * kMsPerHour;
  const auto newest = st->QueryDecisions(q);
  ASSERT_EQ(newest.size(), 5u);
  EXPECT_GT(newest[0].id, newest[1].id);  // newest first
  q.limit = 2;
  q.before_id = newest[1].id;
  EXPECT_EQ(st->QueryDecisions(q)[0].id, newest[2].id);
  const auto allows = st->AllowCounts("even", 10);
  ASSERT_EQ(allows.size(), 2u);
  EXPECT_EQ(allows[1].second, 7u);  // 4 + 3 in hour 1000, summed
  // Retention: rows before hour 1005 go; an allow hour while any of it is kept.
  const auto deleted = ValueOr(st->PruneDecisions(1005 * kMsPerHour), &error);
  ASSERT_TRUE(deleted) << error;
  EXPECT_EQ(st->DecisionCount(), 5u);
  EXPECT_EQ(st->AllowCounts("even", 10).size(), 0u);
  std::filesystem::remove_all(dir);
}

TEST(DecisionLog, BatchesOffThePathAndCountsAllows) {
  const std::string dir = TempDir("dlog");
  std::string error;
  auto st = ValueOr(ConsoleStore::Open(dir), &error);
  ASSERT_TRUE(st) << error;
  TimeMs now = 500 * kMsPerDay;
  DecisionLogOptions o;
  o.retention_days = 0;
  o.flush_interval_ms = 60000;  // only explicit flushes here
  o.max_pending = 3;
  o.clock = [&] { return now; };
  DecisionLog log(st.get(), o);
  for (int i = 0; i < 5; ++i) log.Record({0, 0, "a", "block", "analyst_override", "", "check", "", 1, 1});
  for (int i = 0; i < 7; ++i) log.Record({0, 0, "b", "allow", "", "", "check", "", 0, 1});
  EXPECT_EQ(st->DecisionCount(), 0u);  // nothing written on the caller's thread
  log.Flush();
  EXPECT_EQ(st->DecisionCount(), 3u);  // bounded: 2 dropped
  EXPECT_EQ(log.dropped(), 2u);
  EXPECT_EQ(log.written(), 3u);
  const auto allows = st->AllowCounts("b", 5);
  ASSERT_EQ(allows.size(), 1u);
  EXPECT_EQ(allows[0].second, 7u);
  EXPECT_EQ(allows[0].first, now - now % kMsPerHour);
  std::filesystem::remove_all(dir);
}

TEST(DecisionLog, RetentionAtStart) {
  const std::string dir = TempDir("dlog-ret");
  std::string error;
  auto st = ValueOr(ConsoleStore::Open(dir), &error);
  ASSERT_TRUE(st) << error;
  const TimeMs now = 900 * kMsPerDay;
  ASSERT_TRUE(Ok(st->AppendDecisions({{0, now - 3 * kMsPerDay, "old", "block", "", "", "check", "", 0, 1},
                                   {0, now - kMsPerHour, "new", "block", "", "", "check", "", 0, 1}},
                                  {}), &error));
  DecisionLogOptions o;
  o.retention_days = 2;
  o.clock = [now] { return now; };
  DecisionLog log(st.get(), o);
  DecisionQuery q;
  const auto rows = st->QueryDecisions(q);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].account_id, "new");
  log.Stop();
  std::filesystem::remove_all(dir);
}

TEST(VerdictHistory, KeepsTheNewestChangesPerAccount) {
  VerdictHistory h;
  for (int i = 0; i < 40; ++i) {
    VerdictRecord r;
    r.at = i;
    r.verdict = i % 2 ? Verdict::kReview : Verdict::kBlock;
    h.Record("a", r);
  }
  const auto* c = h.Find("a");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->kept.size(), VerdictHistory::kPerAccount);
  EXPECT_EQ(c->dropped, 40 - VerdictHistory::kPerAccount);
  EXPECT_EQ(c->kept.back().at, 39);
  EXPECT_EQ(h.Find("b"), nullptr);
}

TEST(Console, AnalystsFile) {
  const std::string dir = TempDir("analysts");
  const std::string path = dir + "/analysts";
  std::vector<std::pair<std::string, std::string>> out;
  std::string error;
  std::ofstream(path) << "# who\nalice  0123456789abcdef0\n\nbob\tfedcba98765432100\n";
  ASSERT_TRUE(Ok(LoadAnalystsFile(path, &out), &error)) << error;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].first, "bob");
  EXPECT_EQ(out[1].second, "fedcba98765432100");
  out.clear();
  std::ofstream(path) << "alice short\n";
  EXPECT_FALSE(Ok(LoadAnalystsFile(path, &out), &error));
  EXPECT_NE(error.find(":1:"), std::string::npos);
  std::ofstream(path) << "alice 0123456789abcdef0\nbob 0123456789abcdef0\n";
  EXPECT_FALSE(Ok(LoadAnalystsFile(path, &out), &error));  // one token, two names
  std::ofstream(path) << "al<ice> 0123456789abcdef0\n";
  EXPECT_FALSE(Ok(LoadAnalystsFile(path, &out), &error));
  std::filesystem::remove_all(dir);
}

TEST(Console, OwnsItsRoutesOnly) {
  EXPECT_TRUE(Console::Owns("/ui"));
  EXPECT_TRUE(Console::Owns("/ui/assets/index.js"));
  EXPECT_TRUE(Console::Owns("/v1/cases/case-1/notes"));
  EXPECT_TRUE(Console::Owns("/v1/decisions?account=x"));
  EXPECT_TRUE(Console::Owns("/v1/review/acct_1"));
  EXPECT_FALSE(Console::Owns("/uix"));
  EXPECT_FALSE(Console::Owns("/v1/campaigns"));
  EXPECT_FALSE(Console::Owns("/v1/accounts/x/override"));
  EXPECT_FALSE(Console::Owns("/v1/casesx"));
}

}  // namespace
}  // namespace dg
