// The live service below HTTP: wire records, the SQLite store, and the
// Service's ingest / replay / check / override contract.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/rng.h"
#include "serve/service.h"
#include "serve/store.h"
#include "serve/wire.h"
#include "status_util.h"

namespace dg {
namespace {

std::string TempDir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("dg_serve_test_" + name + "_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

// One JSONL line of a harvesting account sharing `card` (a hydra member).
std::string HarvestLine(int acct, int n, const std::string& card) {
  return "{\"ts\":" + std::to_string(1775001600 + n * 20 + acct) + ",\"request_id\":\"r" + std::to_string(acct) + "_" +
         std::to_string(n) + "\",\"account_id\":\"h" + std::to_string(acct) +
         "\",\"ip\":\"198.51.100." + std::to_string(acct + 1) + "\",\"user_agent\":\"python-httpx/0.27.2\","
         "\"payment_fingerprint\":\"" + card + "\",\"account_created_at\":1775000000,"
         "\"system\":\"You are Professor Sage, a world-class expert tutor.\",\"max_tokens\":8192,\"temperature\":0.7,"
         "\"messages\":[{\"role\":\"user\",\"content\":\"Solve the following problem. Think step by step and show your "
         "complete reasoning. Problem: " + std::to_string(n * 7919 % 1000) + " apples and " + std::to_string(n * 104729 % 1000) +
         " pears\"}],\"response\":{\"content\":\"Step 1: count. Step 2: add. Answer " + std::to_string(n) + "\",\"output_tokens\":900}}";
}

CheckRequest Req(const std::string& account) {
  CheckRequest r;
  r.account_id = account;
  return r;
}

std::string HydraBatch(int from, int to) {
  std::string out;
  for (int n = from; n < to; ++n) {
    for (int acct = 0; acct < 8; ++acct) out += HarvestLine(acct, n, acct % 2 ? "cardA" : "cardB") + "\n";
  }
  return out;
}

TEST(Wire, RoundTripKeepsIdentifiersAndDigestButNoText) {
  Interaction in;
  in.ts = 1775001600123;
  in.request_id = "req-1";
  in.account_id = "acct";
  in.org_id = "org";
  in.ip = "2001:db8::1";
  in.user_agent = "ua/1";
  in.payment_fingerprint = "pm";
  in.account_created_at = 1775000000000;
  in.model = "m";
  in.tool_names = {"web_search", "python"};
  in.system = "SECRET SYSTEM PROMPT";
  in.messages.push_back({Role::kUser, "SECRET USER TEXT think step by step", 0, 0, 0});
  TokenStream scratch;
  ContentDigest d;
  DigestContent(in, &scratch, &d);
  d.has_response_sig = true;
  d.response_sig[3] = 42;
  const std::string rec = EncodeRecord(in, d);
  EXPECT_EQ(rec.find("SECRET"), std::string::npos) << "no text at rest";
  Interaction out;
  ContentDigest d2;
  ASSERT_TRUE(DecodeRecord(rec, &out, &d2));
  EXPECT_EQ(out.ts, in.ts);
  EXPECT_EQ(out.request_id, "req-1");
  EXPECT_EQ(out.ip, "2001:db8::1");
  EXPECT_EQ(out.account_created_at, in.account_created_at);
  EXPECT_EQ(out.tool_names, in.tool_names);
  EXPECT_EQ(d2.features.flags, d.features.flags);
  EXPECT_NE(d2.features.flags & kFlagCot, 0u);
  EXPECT_EQ(d2.prompt_sig, d.prompt_sig);
  EXPECT_EQ(d2.system_sig, d.system_sig);
  EXPECT_EQ(d2.response_sig[3], 42u);
  // Every truncation and a foreign version byte are refused, never half-read.
  for (size_t len = 0; len < rec.size(); ++len) EXPECT_FALSE(DecodeRecord(rec.substr(0, len), &out, &d2)) << len;
  std::string foreign = rec;
  foreign[0] = 99;
  EXPECT_FALSE(DecodeRecord(foreign, &out, &d2));
}

TEST(Store, AppendsDurablyAndReadsBackInOrderAfterReopen) {
  const std::string dir = TempDir("store");
  std::string error;
  {
    auto st = ValueOr(Store::Open(dir), &error);
    ASSERT_TRUE(st) << error;
    ASSERT_TRUE(Ok(st->Append({"a", "b"}, {{"follow:x", "10"}}), &error)) << error;
    ASSERT_TRUE(Ok(st->Append({"c"}, {}), &error)) << error;
    ASSERT_TRUE(Ok(st->AddOverride({"acct", "block", "alice", "fraud ring", "2026-01-01T00:00:00Z", std::nullopt}), &error));
  }
  auto st = ValueOr(Store::Open(dir), &error);
  ASSERT_TRUE(st) << error;
  std::string seen;
  ASSERT_TRUE(Ok(st->ForEachRecord([&](std::string_view r) { seen += r; }), &error));
  EXPECT_EQ(seen, "abc");
  EXPECT_EQ(st->records(), 3u);
  EXPECT_EQ(st->GetMeta("follow:x").value_or(""), "10");
  std::vector<OverrideRecord> overrides;
  Ok(st->ForEachOverride([&](const OverrideRecord& o) { overrides.push_back(o); }), &error);
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_EQ(overrides[0].by, "alice");
  std::filesystem::remove_all(dir);
}

TEST(Store, UnwritableDirectoryIsAClearError) {
  std::string error;
  EXPECT_FALSE(ValueOr(Store::Open("/proc/distillguard-cannot-exist"), &error));
  EXPECT_NE(error.find("/proc/distillguard-cannot-exist"), std::string::npos) << error;
}

TEST(Service, DetectsOnLiveTrafficAndResumesExactlyAfterRestart) {
  const std::string dir = TempDir("service");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  so.clock = [] { return TimeMs{1777636800000}; };  // 2026-05-01T12:00:00Z
  std::string campaign;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    EXPECT_EQ(svc->Check(Req("h0")).decision, Decision::kAllow) << "unknown before any traffic";
    const IngestResult r = svc->Ingest(HydraBatch(0, 30), "batch");
    EXPECT_TRUE(r.stored);
    EXPECT_EQ(r.accepted, 240u);
    EXPECT_EQ(r.rejected, 0u);
    const CheckResult c = svc->Check(Req("h3"));
    EXPECT_EQ(c.decision, Decision::kBlock);
    ASSERT_FALSE(c.campaign_id.empty());
    campaign = c.campaign_id;
    // A brand-new account on the campaign's card is challenged at its first
    // request (one indicator, purity 4/5); on its card and address block, blocked.
    CheckRequest fresh = Req("newcomer");
    fresh.payment_fingerprint = "cardA";
    CheckResult n = svc->Check(fresh);
    EXPECT_EQ(n.decision, Decision::kChallenge);
    EXPECT_EQ(n.campaign_id, campaign);
    EXPECT_NE(n.reasons & Bit(Reason::kCampaignIndicatorMatch), 0u);
    fresh.ip = "198.51.100.200";
    n = svc->Check(fresh);
    EXPECT_EQ(n.decision, Decision::kBlock);
    EXPECT_NE(n.reasons & Bit(Reason::kSharedIpPrefix), 0u);
    EXPECT_EQ(svc->Check(Req("stranger")).decision, Decision::kAllow);
    // A person's decision wins over the engine's and is never overwritten.
    ASSERT_TRUE(svc->Override("h5", "allow", "alice", "known researcher").ok());
    EXPECT_EQ(svc->Check(Req("h5")).decision, Decision::kAllow);
    svc->Ingest(HydraBatch(30, 35), "batch");
    EXPECT_EQ(svc->Check(Req("h5")).decision, Decision::kAllow);
    const absl::Status bad = svc->Override("h5", "maybe", "alice", "x");
    EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(HttpStatus(bad), 400);
    EXPECT_EQ(StatusMessage(bad), "field 'action': must be \"allow\", \"block\" or \"clear\"");
  }
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  EXPECT_EQ(svc->replayed(), 280u);
  const CheckResult c = svc->Check(Req("h3"));
  EXPECT_EQ(c.decision, Decision::kBlock);
  EXPECT_EQ(c.campaign_id, campaign) << "same campaign ids after replay";
  EXPECT_EQ(svc->Check(Req("h5")).decision, Decision::kAllow) << "override survives restart";
  const auto account = svc->AccountJson("h5");
  ASSERT_TRUE(account);
  EXPECT_NE(account->find("\"by\":\"alice\""), std::string::npos) << *account;
  // The override was stamped by the injected clock, not the machine's.
  EXPECT_NE(account->find("2026-05-01T12:00:00.000Z"), std::string::npos) << *account;
  // Everything acknowledged before the restart is known: resending is a duplicate.
  const IngestResult again = svc->Ingest(HydraBatch(0, 35), "resend");
  EXPECT_EQ(again.accepted, 0u);
  EXPECT_EQ(again.duplicates, 280u);
  std::filesystem::remove_all(dir);
}

TEST(Service, BadLinesAreNamedAndDoNotBlockTheRest) {
  const std::string dir = TempDir("badlines");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  const IngestResult r = svc->Ingest(HarvestLine(0, 1, "c") + "\n{\"ts\":1}\nnot json\n" + HarvestLine(0, 2, "c") + "\n", "req");
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(r.rejected, 2u);
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].rfind("req:2: field", 0), 0u) << r.errors[0];
  EXPECT_EQ(r.errors[1].rfind("req:3: ", 0), 0u) << r.errors[1];
  std::filesystem::remove_all(dir);
}

TEST(Service, ImportedIndicatorBlocksAtFirstRequestAndPersists) {
  const std::string dir = TempDir("shared");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    ASSERT_TRUE(ValueOr(svc->ImportIndicator(IndicatorKind::kIpPrefix, "203.0.113.0/24", "provider-x", SharedTrust::kBlock), &error)) << error;
    const auto unusable = svc->ImportIndicator(IndicatorKind::kIpPrefix, "not-an-ip", "provider-x", SharedTrust::kBlock);
    EXPECT_EQ(unusable.status().code(), absl::StatusCode::kInvalidArgument) << ErrorOf(unusable);
  }
  auto svc = ValueOr(Service::Open(so), &error);
  CheckRequest r = Req("someone");
  r.ip = "203.0.113.77";
  const CheckResult c = svc->Check(r);
  EXPECT_EQ(c.decision, Decision::kBlock);
  EXPECT_NE(c.reasons & Bit(Reason::kSharedIndicator), 0u);
  r.ip = "203.0.114.77";
  EXPECT_EQ(svc->Check(r).decision, Decision::kAllow);
  std::filesystem::remove_all(dir);
}

const char* kReviewBundle =
    R"({"type":"bundle","id":"bundle--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","objects":[)"
    R"({"type":"indicator","spec_version":"2.1","id":"indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","created":"2026-11-01T00:00:00Z",)"
    R"("modified":"2026-11-01T00:00:00Z","pattern":"[ipv4-addr:value = '203.0.113.0/24']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"},)"
    R"({"type":"indicator","spec_version":"2.1","id":"indicator--1b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","created":"2026-11-01T00:00:00Z",)"
    R"("modified":"2026-11-01T00:00:00Z","pattern":"[ipv4-addr:value = '198.51.100.0/24' AND x-distillguard-payment:fingerprint = 'pm_1']",)"
    R"("pattern_type":"stix","valid_from":"2026-11-01T00:00:00Z"}]})";

// Issue #18 finding 7, serve side: a bundle imported with the default
// (review) trust is stored and listed but sends matching accounts to review;
// an indicator removed by its id stays removed after a restart; the trust
// survives a restart.
TEST(Service, ImportedIndicatorsHaveTrustAndCanBeListedAndRemoved) {
  const std::string dir = TempDir("trust");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  so.clock = [] { return TimeMs{1793491200000}; };  // 2026-11-01T00:00:00Z
  std::string id;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    const auto r = svc->ImportStix(kReviewBundle, "test", SharedTrust::kReview);
    ASSERT_TRUE(r.ok()) << ErrorOf(r);
    EXPECT_EQ(r->imported, 1u);
    EXPECT_EQ(r->skipped.at("unsupported: AND"), 1u);
    CheckRequest req = Req("fresh");
    req.ip = "203.0.113.5";
    EXPECT_EQ(svc->Check(req).decision, Decision::kThrottle) << "review trust never blocks";
    req.ip = "198.51.100.5";
    EXPECT_EQ(svc->Check(req).decision, Decision::kAllow) << "half of an AND is not an indicator";
    ASSERT_TRUE(ValueOr(svc->ImportIndicator(IndicatorKind::kPayment, "pm_blocked", "analyst", SharedTrust::kBlock), &error)) << error;
    const std::string list = ValueOr(svc->IndicatorsJson(), &error);
    EXPECT_NE(list.find("\"value\":\"203.0.113.0/24\""), std::string::npos) << list << error;
    EXPECT_NE(list.find("\"trust\":\"review\""), std::string::npos) << list;
    EXPECT_NE(list.find("\"trust\":\"block\""), std::string::npos) << list;
    EXPECT_NE(list.find("\"imported_at\":\"2026-11-01T00:00:00.000Z\""), std::string::npos) << list;
    EXPECT_NE(list.find("indicator--0b6d6b9e"), std::string::npos) << "source listed: " << list;
    id = Service::IndicatorId("ip_prefix", "203.0.113.0/24");
    EXPECT_NE(list.find(id), std::string::npos) << list;
    const absl::Status unknown = svc->RemoveIndicator("ind_0000000000000000");
    EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound) << "unknown id: not found, not a failure";
    EXPECT_EQ(HttpStatus(unknown), 404);
    EXPECT_EQ(ErrorOf(unknown), "no such indicator");
  }
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    CheckRequest req = Req("fresh2");
    req.ip = "203.0.113.5";
    EXPECT_EQ(svc->Check(req).decision, Decision::kThrottle) << "trust kept across restart";
    req.payment_fingerprint = "pm_blocked";
    EXPECT_EQ(svc->Check(req).decision, Decision::kBlock);
    ASSERT_TRUE(Ok(svc->RemoveIndicator(id), &error)) << error;
    req.payment_fingerprint.clear();
    EXPECT_EQ(svc->Check(req).decision, Decision::kAllow);
  }
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  CheckRequest req = Req("fresh3");
  req.ip = "203.0.113.5";
  EXPECT_EQ(svc->Check(req).decision, Decision::kAllow) << "removal is durable";
  EXPECT_EQ(ValueOr(svc->IndicatorsJson(), &error).find("203.0.113.0/24"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// A store written before indicators had a trust: its rows are migrated
// (they could only block then, and keep doing so) and listed.
TEST(Store, IndicatorsFromBeforeTheTrustColumnAreMigrated) {
  const std::string dir = TempDir("trust_migration");
  std::string error;
  {
    auto st = ValueOr(Store::Open(dir), &error);
    ASSERT_TRUE(st) << error;
  }
  // Rebuild the table in its first form, with one row.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/distillguard.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "DROP TABLE shared_indicators;"
                           "CREATE TABLE shared_indicators(kind TEXT NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL,"
                           " PRIMARY KEY(kind, value));"
                           "INSERT INTO shared_indicators VALUES('ip_prefix', '203.0.113.0/24', 'old-partner');",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  ServiceOptions so;
  so.data_dir = dir;
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  const std::string list = ValueOr(svc->IndicatorsJson(), &error);
  EXPECT_NE(list.find("\"trust\":\"block\""), std::string::npos) << list;
  EXPECT_NE(list.find("\"imported_at\":null"), std::string::npos) << list;
  CheckRequest req = Req("fresh");
  req.ip = "203.0.113.5";
  EXPECT_EQ(svc->Check(req).decision, Decision::kBlock);
  std::filesystem::remove_all(dir);
}

// #18 finding 13: the analyst view after a restart is the one before it,
// byte for byte -- samples taken before their campaign was confirmed and
// the content indicators' shown text included, though the log keeps no
// text: each event's redacted texts are stored with it and handed back.
TEST(Service, RestartRestoresSamplesAndContentIndicatorsByteForByte) {
  const std::string dir = TempDir("restart_texts");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  so.clock = [] { return TimeMs{1777636800000}; };  // 2026-05-01T12:00:00Z
  std::string before;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    for (int from = 0; from < 40; from += 5) ASSERT_TRUE(svc->Ingest(HydraBatch(from, from + 5), "batch").stored);
    before = svc->CampaignsJson();
  }
  EXPECT_NE(before.find("\"samples\":[\"Solve the following problem"), std::string::npos) << before;
  EXPECT_NE(before.find("{\"kind\":\"system_prompt\",\"value\":\"You are Professor Sage"), std::string::npos) << before;
  EXPECT_NE(before.find("{\"kind\":\"prompt_template\",\"value\":\"Solve the following problem"), std::string::npos) << before;
  std::string more;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    EXPECT_EQ(svc->CampaignsJson(), before);
    // A restarted service keeps storing texts where the replay finds them.
    ASSERT_TRUE(svc->Ingest(HydraBatch(40, 60), "batch").stored);
    more = svc->CampaignsJson();
  }
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  EXPECT_EQ(svc->CampaignsJson(), more);
  std::filesystem::remove_all(dir);
}

// #18 finding 13: after an allow -> clear sequence, first_flagged_at moved
// across a restart: overrides were replayed after the whole log, so the
// replayed account was blocked at its events (no allow yet) instead of at
// the clear. They are now replayed at the place in the log they were made.
TEST(Service, OverridesAreReplayedWhereTheyWereMade) {
  const std::string dir = TempDir("restart_overrides");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  so.clock = [] { return TimeMs{1777636800000}; };
  std::string h3, h5, campaigns;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    ASSERT_TRUE(svc->Override("h3", "allow", "alice", "before its first event").ok());
    ASSERT_TRUE(svc->Ingest(HydraBatch(0, 15), "batch").stored);
    ASSERT_TRUE(svc->Override("h5", "block", "alice", "mid-stream").ok());
    ASSERT_TRUE(svc->Ingest(HydraBatch(15, 30), "batch").stored);
    EXPECT_EQ(svc->Check(Req("h3")).decision, Decision::kAllow);
    ASSERT_TRUE(svc->Override("h3", "clear", "alice", "back to the evidence").ok());
    EXPECT_EQ(svc->Check(Req("h3")).decision, Decision::kBlock);
    h3 = *svc->AccountJson("h3");
    h5 = *svc->AccountJson("h5");
    campaigns = svc->CampaignsJson();
  }
  // Flagged when the allow was cleared: at the stream's time then (the
  // last event, h7's n = 29, at 1775001600 + 29 * 20 + 7 s).
  EXPECT_NE(h3.find("\"first_flagged_at\":\"2026-04-01T00:09:47.000Z\""), std::string::npos) << h3;
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  EXPECT_EQ(*svc->AccountJson("h3"), h3);
  EXPECT_EQ(*svc->AccountJson("h5"), h5);
  EXPECT_EQ(svc->CampaignsJson(), campaigns);
  std::filesystem::remove_all(dir);
}

// Stores from before finding 13's fix: overrides without a place in the log
// are replayed after it (as they were), and samples kept per campaign id are
// restored; the new columns and table are added on open.
TEST(Store, OverridesAndSamplesFromBeforeTheEventTextsAreMigrated) {
  const std::string dir = TempDir("texts_migration");
  std::string error;
  std::string campaign;
  ServiceOptions so;
  so.data_dir = dir;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    ASSERT_TRUE(svc->Ingest(HydraBatch(0, 30), "batch").stored);
    campaign = svc->Check(Req("h3")).campaign_id;
    ASSERT_FALSE(campaign.empty());
  }
  // The tables in their earlier form: no texts, overrides without a place.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir + "/distillguard.db").c_str(), &db), SQLITE_OK);
    const std::string sql =
        "DROP TABLE event_texts; DROP TABLE overrides;"
        "CREATE TABLE overrides(seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, action TEXT NOT NULL,"
        " by TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL);"
        "INSERT INTO overrides(account_id, action, by, reason, at) VALUES('h3', 'allow', 'bob', 'old', '2026-04-02T00:00:00Z');"
        "INSERT INTO samples VALUES('" + campaign + "', 'an old stored sample');";
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    EXPECT_EQ(svc->Check(Req("h3")).decision, Decision::kAllow) << "the old override applies";
    EXPECT_NE(svc->AccountJson("h3")->find("\"by\":\"bob\""), std::string::npos);
    EXPECT_NE(svc->CampaignsJson().find("an old stored sample"), std::string::npos) << svc->CampaignsJson();
    // A new override after the old one: both replayed in their order.
    ASSERT_TRUE(svc->Override("h3", "clear", "alice", "new").ok());
    EXPECT_EQ(svc->Check(Req("h3")).decision, Decision::kBlock);
  }
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  EXPECT_EQ(svc->Check(Req("h3")).decision, Decision::kBlock) << "old allow, then the new clear";
  std::filesystem::remove_all(dir);
}

// Retention deletes old batches; batch numbers never come back (event texts
// and overrides refer to them), and a deleted batch's texts go with it.
TEST(Store, BatchNumbersOnlyGrowAcrossRetention) {
  const std::string dir = TempDir("batch_numbers");
  std::string error;
  int64_t seq = 0;
  {
    auto st = ValueOr(Store::Open(dir), &error);
    ASSERT_TRUE(st) << error;
    ASSERT_TRUE(Ok(st->Append({"a"}, {}, 1000, &seq), &error)) << error;
    EXPECT_EQ(seq, 1);
    ASSERT_TRUE(Ok(st->Append({"b", "c"}, {}, 2000, &seq), &error)) << error;
    EXPECT_EQ(seq, 2);
    ASSERT_TRUE(Ok(st->AddEventTexts({{1, 0, 2, "text of a"}, {2, 1, 2, "text of c"}}), &error)) << error;
    ASSERT_EQ(ValueOr(st->PruneBefore(5000), &error), 3u) << error;
  }
  auto st = ValueOr(Store::Open(dir), &error);
  ASSERT_TRUE(st) << error;
  EXPECT_EQ(st->last_batch(), 2);
  ASSERT_TRUE(Ok(st->Append({"d"}, {}, 6000, &seq), &error)) << error;
  EXPECT_EQ(seq, 3) << "not 1 again";
  std::vector<std::string> texts;
  ASSERT_TRUE(Ok(st->ForEachEventText([&](const EventTextRecord& r) { texts.push_back(r.text); }), &error));
  EXPECT_TRUE(texts.empty());
  std::vector<std::pair<int64_t, uint32_t>> at;
  ASSERT_TRUE(Ok(st->ForEachLoggedRecord([&](std::string_view, int64_t b, uint32_t i) { at.emplace_back(b, i); }), &error));
  EXPECT_EQ(at, (std::vector<std::pair<int64_t, uint32_t>>{{3, 0}}));
  std::filesystem::remove_all(dir);
}

// #18 finding 16: one event dated 2099 moved the engine's stream time years
// ahead for every account. Events more than a day past the service's clock
// are rejected with the field and the reason; the past is never bounded.
TEST(Service, EventsFarInTheFutureAreRejected) {
  const std::string dir = TempDir("future");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  so.clock = [] { return TimeMs{1777636800000}; };  // 2026-05-01T12:00:00Z
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  auto event = [](const char* ts, const char* id) {
    return fmt::format(R"({{"ts":"{}","request_id":"{}","account_id":"acct_x","messages":[{{"role":"user","content":"hi"}}]}})", ts, id) + "\n";
  };
  const IngestResult r = svc->Ingest(event("2099-01-01T00:00:00Z", "f1") + event("2026-05-02T06:00:00Z", "f2") +
                                         event("2020-01-01T00:00:00Z", "f3"),
                                     "batch");
  EXPECT_EQ(r.accepted, 2u) << "an hour ahead (clock skew) and years back are accepted";
  EXPECT_EQ(r.rejected, 1u);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("batch:1: field 'ts': out_of_range"), std::string::npos) << r.errors[0];
  std::filesystem::remove_all(dir);
}

// The wire format keeps no org verification, country or verification level:
// a restart must take them back from the stored account data, or a verified
// org's accounts replay as unverified and are linked into a campaign they
// were not in before the restart (#17).
TEST(Service, ReplayKeepsTheAccountDataTheWireFormatDoesNot) {
  const std::string dir = TempDir("replay-accounts");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  so.clock = [] { return TimeMs{1777636800000}; };
  std::string accounts;
  for (int acct = 0; acct < 8; ++acct) {
    accounts += fmt::format(R"({{"account_id":"h{}","org_id":"org_lab","org_verified":true,"country":"DE"}})", acct) + "\n";
  }
  std::string before;
  {
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    ASSERT_TRUE(ValueOr(svc->PutAccounts(accounts, "accounts"), &error)) << error;
    EXPECT_EQ(svc->Ingest(HydraBatch(0, 30), "batch").accepted, 240u);
    before = svc->CampaignsJson();
    EXPECT_NE(svc->Check(Req("h3")).decision, Decision::kBlock) << "one verified organisation's accounts are not a campaign";
  }
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  EXPECT_EQ(svc->CampaignsJson(), before);
  EXPECT_NE(svc->Check(Req("h3")).decision, Decision::kBlock) << "the same after a restart";
  std::filesystem::remove_all(dir);
}

// PUT /v1/accounts answers by the error's code (common/status.h), not by
// its text: a bad row is InvalidArgument (400, naming origin:line and the
// column), a store that refuses the write is Unavailable (503); neither
// applies anything.
TEST(Service, PutAccountsErrorsCarryTheirCode) {
  const std::string dir = TempDir("put-accounts-codes");
  std::string error;
  ServiceOptions so;
  so.data_dir = dir;
  so.max_store_bytes = 1;  // the smallest cap the store takes (16 pages)
  auto svc = ValueOr(Service::Open(so), &error);
  ASSERT_TRUE(svc) << error;
  const auto bad = svc->PutAccounts("{\"account_id\":\"a\"}\n{\"account_id\":\"b\",\"org_verified\":\"maybe\"}\n", "request");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpStatus(bad.status()), 400);
  EXPECT_EQ(ErrorOf(bad).rfind("request:2: column 'org_verified'", 0), 0u) << ErrorOf(bad);
  std::string many;
  for (int acct = 0; acct < 4000; ++acct) {
    many += fmt::format(R"({{"account_id":"acct-{:05}","org_id":"org-{}","country":"DE","email_domain":"example-{}.com"}})", acct, acct,
                        acct) + "\n";
  }
  const auto full = svc->PutAccounts(many, "request");
  EXPECT_EQ(full.status().code(), absl::StatusCode::kUnavailable) << ErrorOf(full);
  EXPECT_EQ(HttpStatus(full.status()), 503);
  EXPECT_EQ(ExitCode(full.status()), 1) << "serve --accounts: a store failure is a failed run, not a usage error";
  EXPECT_EQ(ExitCode(bad.status()), 2);
  EXPECT_NE(svc->Metrics().find("distillguard_enrichment_accounts 0\n"), std::string::npos) << "nothing applied";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dg
