// What serve trusts in a request (serve/request_guard.h) and the store's and
// service's refusals (issue #18: findings 5, 10, 11, 12, 14, 16).
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "serve/request_guard.h"
#include "serve/service.h"
#include "serve/store.h"
#include "serve/wire.h"
#include "test_util.h"
#include "status_util.h"

namespace dg {
namespace {

TEST(Guard, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("s3cret", "s3cret"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3creT"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret", "s3cre"));   // prefix
  EXPECT_FALSE(ConstantTimeEquals("s3cre", "s3cret"));
  EXPECT_FALSE(ConstantTimeEquals("s3cret", std::string("s3cret\0", 7)));
}

TEST(Guard, BearerSchemeIsCaseInsensitive) {
  EXPECT_EQ(BearerToken("Bearer abc").value_or(""), "abc");
  EXPECT_EQ(BearerToken("bearer abc").value_or(""), "abc");
  EXPECT_EQ(BearerToken("BEARER\tabc  ").value_or(""), "abc");
  EXPECT_FALSE(BearerToken("Basic abc"));
  EXPECT_FALSE(BearerToken("Bearerabc"));
  EXPECT_FALSE(BearerToken("Bearer "));
  EXPECT_FALSE(BearerToken(""));
}

TEST(Guard, RolesAreSeparate) {
  const Tokens t{"gw-token", "an-token"};
  EXPECT_EQ(RoleOf(t, "Bearer gw-token"), AuthRole::kGateway);
  EXPECT_EQ(RoleOf(t, "bearer an-token"), AuthRole::kAnalyst);
  EXPECT_EQ(RoleOf(t, "Bearer gw-tokenX"), AuthRole::kNone);
  EXPECT_EQ(RoleOf(t, ""), AuthRole::kNone);
  // One token for every role (--token-file): it is the analyst's.
  EXPECT_EQ(RoleOf(Tokens{"one", "one"}, "Bearer one"), AuthRole::kAnalyst);
  // No analyst token: nothing grants the analyst role (an empty token never matches).
  EXPECT_EQ(RoleOf(Tokens{"gw", ""}, "Bearer "), AuthRole::kNone);
  EXPECT_FALSE(Tokens{}.any());
}

TEST(Guard, ClientAddressIsTheOneTheTrustedProxyAppended) {
  // The client wrote 198.51.100.5; our proxy appended the real peer.
  EXPECT_EQ(ClientAddress("198.51.100.5, 203.0.113.9", 1), "203.0.113.9");
  EXPECT_EQ(ClientAddress("203.0.113.9", 1), "203.0.113.9");
  // Two proxies of ours: the second from the right.
  EXPECT_EQ(ClientAddress("1.1.1.1, 203.0.113.9, 10.0.0.2", 2), "203.0.113.9");
  // Fewer entries than hops: the leftmost (appended by the first proxy).
  EXPECT_EQ(ClientAddress("203.0.113.9", 3), "203.0.113.9");
  EXPECT_EQ(ClientAddress("", 1), "");
  EXPECT_EQ(ClientAddress("198.51.100.5,::ffff:203.0.113.9", 1), "203.0.113.9");
}

TEST(Guard, IPv4MappedAddressesAreNormalised) {
  EXPECT_EQ(NormalizeIp("::ffff:203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(NormalizeIp("::FFFF:203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(NormalizeIp("::ffff:cb00:7109"), "203.0.113.9");
  EXPECT_EQ(NormalizeIp(" [::ffff:203.0.113.9] "), "203.0.113.9");
  EXPECT_EQ(NormalizeIp("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(NormalizeIp("203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(NormalizeIp("not an ip"), "not an ip");
  EXPECT_EQ(NormalizeIp(std::string(100, ':')), std::string(100, ':'));
}

TEST(Guard, PercentDecodingOfPathIds) {
  std::string out;
  ASSERT_TRUE(PercentDecode("bob%20smith", &out));
  EXPECT_EQ(out, "bob smith");
  ASSERT_TRUE(PercentDecode("a%2Fb%2fc+d", &out));
  EXPECT_EQ(out, "a/b/c+d");
  ASSERT_TRUE(PercentDecode("", &out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(PercentDecode("bob%2", &out));
  EXPECT_FALSE(PercentDecode("bob%", &out));
  EXPECT_FALSE(PercentDecode("bob%zz", &out));
  EXPECT_FALSE(PercentDecode("bob%00", &out));
  EXPECT_FALSE(PercentDecode(std::string("bob\0smith", 9), &out)) << "a raw NUL is refused like an escaped one";
}

TEST(Guard, PrintableEscapesControlCharacters) {
  EXPECT_EQ(Printable("ok text"), "ok text");
  EXPECT_EQ(Printable("a\nb\x1b[31mc\\"), "a\\x0ab\\x1b[31mc\\x5c");
  EXPECT_EQ(Printable(std::string(10, 'x'), 4), "xxxx...");
}

TEST(Guard, ThrottleIsATokenBucketNotADenial) {
  RateLimiter limiter(/*rate_per_s=*/2, /*burst=*/3);
  double t = 1000;
  // The burst is served, then the rate.
  EXPECT_FALSE(limiter.Take("acct", t));
  EXPECT_FALSE(limiter.Take("acct", t));
  EXPECT_FALSE(limiter.Take("acct", t));
  const auto wait = limiter.Take("acct", t);
  ASSERT_TRUE(wait);
  EXPECT_NEAR(*wait, 0.5, 1e-9);
  EXPECT_FALSE(limiter.Take("other", t));  // per account
  t += 0.5;
  EXPECT_FALSE(limiter.Take("acct", t));  // one token refilled
  EXPECT_TRUE(limiter.Take("acct", t));
  t += 100;  // refills up to the burst, no more
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("acct", t));
  EXPECT_TRUE(limiter.Take("acct", t));
}

TEST(Guard, ThrottleMemoryIsBounded) {
  RateLimiter limiter(1, 2, /*capacity=*/100);
  for (int i = 0; i < 10000; ++i) limiter.Take("acct" + std::to_string(i), 5.0);
  EXPECT_LE(limiter.size(), 100u);
}

TEST(StoreGuard, ZeroLengthDatabaseIsRefusedNotStartedEmpty) {
  testing::TempDir tmp_zero;
  const auto dir = tmp_zero.File("data");
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/distillguard.db").close();
  std::string error;
  EXPECT_EQ(ValueOr(Store::Open(dir), &error), nullptr);
  EXPECT_NE(error.find("empty (0 bytes)"), std::string::npos) << error;
  // A fresh directory (no file) still starts empty.
  testing::TempDir tmp_fresh;
  const auto fresh = tmp_fresh.File("data");
  EXPECT_NE(ValueOr(Store::Open(fresh), &error), nullptr) << error;
}

TEST(StoreGuard, CorruptDatabaseIsRefusedAtStart) {
  testing::TempDir tmp_corrupt;
  const auto dir = tmp_corrupt.File("data");
  std::string error;
  {
    auto st = ValueOr(Store::Open(dir), &error);
    ASSERT_NE(st, nullptr) << error;
    std::vector<std::string> records;
    for (int i = 0; i < 2000; ++i) records.push_back(std::string(300, static_cast<char>('a' + i % 26)));
    ASSERT_TRUE(Ok(st->Append(records, {}), &error)) << error;
  }
  // Overwrite the middle of the file (b-tree pages) with garbage.
  const auto db = dir + "/distillguard.db";
  std::filesystem::remove(dir + "/distillguard.db-wal");
  std::filesystem::remove(dir + "/distillguard.db-shm");
  const auto size = std::filesystem::file_size(db);
  ASSERT_GT(size, 3 * 4096u);
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    for (uint64_t page = 1; page * 4096 < size; ++page) {
      f.seekp(static_cast<std::streamoff>(page * 4096));
      const std::string junk(64, '\xa5');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  error.clear();
  EXPECT_EQ(ValueOr(Store::Open(dir), &error), nullptr);
  EXPECT_NE(error.find("corrupt"), std::string::npos) << error;
}

TEST(StoreGuard, AFlippedByteInsideARecordIsCaughtByItsChecksum) {
  testing::TempDir tmp;
  const auto dir = tmp.File("data");
  std::string error;
  const std::string marker = "account-PHANTOM-MARKER-0123456789";
  {
    auto st = ValueOr(Store::Open(dir), &error);
    ASSERT_NE(st, nullptr) << error;
    ASSERT_TRUE(Ok(st->Append({"first record", marker, "third record"}, {}), &error)) << error;
  }  // closing checkpoints the WAL into the database file
  const auto db = dir + "/distillguard.db";
  std::string bytes;
  {
    std::ifstream f(db, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  const size_t at = bytes.find(marker);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 8] ^= 0x01;  // one bit of the account id
  {
    std::ofstream f(db, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto st = ValueOr(Store::Open(dir), &error);  // quick_check cannot see it
  ASSERT_NE(st, nullptr) << error;
  std::vector<std::string> seen;
  EXPECT_FALSE(Ok(st->ForEachRecord([&](std::string_view r) { seen.emplace_back(r); }), &error));
  EXPECT_TRUE(seen.empty());
  EXPECT_NE(error.find("fails its checksum"), std::string::npos) << error;
}

TEST(StoreGuard, RetentionPrunesBatchesByTheirNewestEvent) {
  testing::TempDir tmp_retention;
  const auto dir = tmp_retention.File("data");
  std::string error;
  auto st = ValueOr(Store::Open(dir), &error);
  ASSERT_NE(st, nullptr) << error;
  ASSERT_TRUE(Ok(st->Append({"old1", "old2"}, {}, 1000), &error)) << error;
  ASSERT_TRUE(Ok(st->Append({"new"}, {}, 5000), &error)) << error;
  ASSERT_TRUE(Ok(st->Append({"undated"}, {}), &error));
  const auto pruned = st->PruneBefore(2000);
  ASSERT_TRUE(pruned.ok()) << ErrorOf(pruned);
  EXPECT_EQ(*pruned, 2u);
  std::vector<std::string> left;
  ASSERT_TRUE(Ok(st->ForEachRecord([&](std::string_view r) { left.emplace_back(r); }), &error));
  EXPECT_EQ(left, (std::vector<std::string>{"new", "undated"}));
}

TEST(ServiceGuard, SecondServiceOnTheSameDirectoryIsRefused) {
  testing::TempDir tmp_lock;
  const auto dir = tmp_lock.File("data");
  ServiceOptions o;
  o.data_dir = dir;
  o.lock_data_dir = true;
  std::string error;
  auto first = ValueOr(Service::Open(o), &error);
  ASSERT_NE(first, nullptr) << error;
  EXPECT_EQ(ValueOr(Service::Open(o), &error), nullptr);
  EXPECT_NE(error.find("in use by another distillguard serve"), std::string::npos) << error;
  EXPECT_NE(error.find(std::to_string(getpid())), std::string::npos) << error;
  first.reset();  // the lock goes with it
  error.clear();
  EXPECT_NE(ValueOr(Service::Open(o), &error), nullptr) << error;
}

std::string Line(int n, const std::string& ip = "198.51.100.7") {
  return "{\"ts\":" + std::to_string(1775001600 + n) + ",\"request_id\":\"req" + std::to_string(n) +
         "\",\"account_id\":\"acct\",\"ip\":\"" + ip + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hello " +
         std::to_string(n) + "\"}]}\n";
}

TEST(ServiceGuard, ReplayCountsARepeatedRequestIdOnce) {
  testing::TempDir tmp_replaydup;
  const auto dir = tmp_replaydup.File("data");
  std::string error;
  {
    ServiceOptions o;
    o.data_dir = dir;
    auto s = ValueOr(Service::Open(o), &error);
    ASSERT_NE(s, nullptr) << error;
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += Line(i);
    ASSERT_EQ(s->Ingest(batch, "t").accepted, 100u);
  }
  {
    // The log somehow holds every record twice (a restored backup appended,
    // an old bug): copy the logged batches once more.
    auto st = ValueOr(Store::Open(dir), &error);
    ASSERT_NE(st, nullptr) << error;
    std::vector<std::string> again;
    ASSERT_TRUE(Ok(st->ForEachRecord([&](std::string_view r) { again.emplace_back(r); }), &error));
    ASSERT_EQ(again.size(), 100u);
    ASSERT_TRUE(Ok(st->Append(again, {}), &error)) << error;
  }
  ServiceOptions o;
  o.data_dir = dir;
  auto s = ValueOr(Service::Open(o), &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(s->replayed(), 100u);
  EXPECT_EQ(s->replay_duplicates(), 100u);
  const auto json = s->AccountJson("acct");
  ASSERT_TRUE(json);
  EXPECT_NE(json->find("\"interactions\":100"), std::string::npos) << *json;
}

TEST(ServiceGuard, ARequestIdCannotHideAnotherAccountsEvent) {
  testing::TempDir tmp;
  ServiceOptions o;
  o.data_dir = tmp.File("data");
  std::string error;
  auto s = ValueOr(Service::Open(o), &error);
  ASSERT_NE(s, nullptr) << error;
  // The attacker sends first, with the id the victim's gateway will use.
  const std::string mine = "{\"ts\":1775001600,\"request_id\":\"req7\",\"account_id\":\"attacker\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n";
  const std::string victims = "{\"ts\":1775001601,\"request_id\":\"req7\",\"account_id\":\"victim\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\n";
  EXPECT_EQ(s->Ingest(mine, "t").accepted, 1u);
  const auto r = s->Ingest(victims, "t");
  EXPECT_EQ(r.accepted, 1u);
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_EQ(s->Ingest(victims, "t").duplicates, 1u);  // the same account's repeat still counts once
  s.reset();
  s = ValueOr(Service::Open(o), &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(s->replayed(), 2u);
  EXPECT_EQ(s->replay_duplicates(), 0u);
}

TEST(ServiceGuard, AByteOrderMarkDoesNotRejectTheFirstLine) {
  testing::TempDir tmp;
  ServiceOptions o;
  o.data_dir = tmp.File("data");
  std::string error;
  auto s = ValueOr(Service::Open(o), &error);
  ASSERT_NE(s, nullptr) << error;
  const auto r = s->Ingest("\xEF\xBB\xBF" + Line(1) + Line(2), "t");
  EXPECT_EQ(r.accepted, 2u);
  EXPECT_EQ(r.rejected, 0u);
}

TEST(ServiceGuard, IngestNormalisesIPv4MappedAddresses) {
  testing::TempDir tmp_mapped;
  const auto dir = tmp_mapped.File("data");
  ServiceOptions o;
  o.data_dir = dir;
  std::string error;
  auto s = ValueOr(Service::Open(o), &error);
  ASSERT_NE(s, nullptr) << error;
  ASSERT_EQ(s->Ingest(Line(1, "::ffff:203.0.113.9"), "t").accepted, 1u);
  s.reset();
  // What is logged (and replayed, and keyed on) is the IPv4 address.
  auto st = ValueOr(Store::Open(dir), &error);
  ASSERT_NE(st, nullptr) << error;
  std::vector<std::string> ips;
  ASSERT_TRUE(Ok(st->ForEachRecord(
      [&](std::string_view r) {
        Interaction in;
        ContentDigest d;
        if (DecodeRecord(r, &in, &d)) ips.push_back(in.ip);
      }), &error));
  EXPECT_EQ(ips, std::vector<std::string>{"203.0.113.9"});
}

TEST(ServiceGuard, OverrideOnAnAccountNotSeenYetAppliesAtOnce) {
  testing::TempDir tmp;
  ServiceOptions o;
  o.data_dir = tmp.File("data");
  std::string error;
  auto s = ValueOr(Service::Open(o), &error);
  ASSERT_NE(s, nullptr) << error;
  CheckRequest ghost;
  ghost.account_id = "ghost";
  EXPECT_EQ(s->Check(ghost).decision, Decision::kAllow);
  ASSERT_TRUE(s->Override("ghost", "block", "alice", "known fraud").ok());
  EXPECT_EQ(s->Check(ghost).decision, Decision::kBlock);
  ASSERT_TRUE(s->Override("ghost", "clear", "alice", "mistake").ok());
  EXPECT_EQ(s->Check(ghost).decision, Decision::kAllow);
  // And after a restart (overrides are replayed).
  ASSERT_TRUE(s->Override("ghost", "block", "alice", "again").ok());
  s.reset();
  s = ValueOr(Service::Open(o), &error);
  ASSERT_NE(s, nullptr) << error;
  EXPECT_EQ(s->Check(ghost).decision, Decision::kBlock);
}

}  // namespace
}  // namespace dg
