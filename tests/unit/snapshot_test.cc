// Engine snapshots (engine/snapshot.h): a run interrupted by a snapshot and
// resumed in a fresh engine gives the same accounts.jsonl and
// campaigns.jsonl as the run without the interruption; a snapshot that is
// torn, corrupt, of another version or of another policy is refused with
// a reason, never half-loaded.
#include "engine/snapshot.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/hash.h"
#include "engine/scan_pipeline.h"
#include "harvest_fixture.h"
#include "report/views.h"
#include "report/writers.h"
#include "sim/simulator.h"
#include "test_util.h"

namespace dg {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The demo scenario's events, cut into two time-ordered files at `share`
// of the lines.
struct SplitLog {
  testing::TempDir dir;
  std::string first, second;
  size_t lines = 0;
};

void MakeLog(double scale, double share, SplitLog* log) {
  sim::SimOptions o;
  o.scenario = "demo";
  o.scale = scale;
  o.seed = 7;
  auto simulator = sim::Simulator::Create(o);
  ASSERT_TRUE(simulator.ok()) << simulator.status();
  std::string events;
  sim::SimStats stats;
  ASSERT_TRUE((*simulator)->Run(
      [&](std::string_view piece) {
        events.append(piece);
        return true;
      },
      nullptr, &stats));
  std::vector<size_t> starts{0};
  for (size_t pos = events.find('\n'); pos != std::string::npos && pos + 1 < events.size(); pos = events.find('\n', pos + 1)) {
    starts.push_back(pos + 1);
  }
  log->lines = starts.size();
  const size_t cut = starts[static_cast<size_t>(share * static_cast<double>(starts.size()))];
  log->first = log->dir.File("first.jsonl");
  log->second = log->dir.File("second.jsonl");
  testing::WriteText(log->first, events.substr(0, cut));
  testing::WriteText(log->second, events.substr(cut));
}

void Scan(const std::string& file, Engine* engine) {
  ScanOptions options;
  options.threads = 1;
  ScanFiles({file}, options, engine, ScanHooks{});
}

// accounts.jsonl + campaigns.jsonl of a finished engine.
std::string Outputs(Engine* engine, const testing::TempDir& dir, const std::string& name) {
  engine->Finish();
  const std::string accounts = dir.File(name + "_accounts.jsonl");
  const std::string campaigns = dir.File(name + "_campaigns.jsonl");
  EXPECT_TRUE(WriteAccounts(*engine, accounts).ok());
  EXPECT_TRUE(WriteCampaigns(Campaigns(*engine), *engine, campaigns).ok());
  return ReadFile(accounts) + "\n--- campaigns ---\n" + ReadFile(campaigns);
}

struct ResumeCase {
  double share;         // where the snapshot is taken
  size_t max_accounts;  // small: eviction, summaries and reused slots are in the snapshot
};

class SnapshotResume : public ::testing::TestWithParam<ResumeCase> {};

TEST_P(SnapshotResume, ResumedRunEqualsTheUninterruptedOne) {
  SplitLog log;
  MakeLog(0.5, GetParam().share, &log);
  ASSERT_GT(log.lines, 1000u);
  EngineOptions options;
  options.max_accounts = GetParam().max_accounts;
  const Policy policy = Policy::Defaults();

  Engine whole(policy, options);
  Scan(log.first, &whole);
  std::string snapshot;
  SaveSnapshot(whole, &snapshot);
  Scan(log.second, &whole);

  auto resumed = LoadSnapshot(snapshot, policy, options);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  // The same state gives the same bytes.
  std::string again;
  SaveSnapshot(**resumed, &again);
  EXPECT_EQ(again, snapshot);
  Scan(log.second, resumed->get());

  ASSERT_GT(whole.confirmed_campaigns(), 0u);
  const std::string expected = Outputs(&whole, log.dir, "whole");
  const std::string got = Outputs(resumed->get(), log.dir, "resumed");
  EXPECT_EQ(got, expected);
  EXPECT_EQ((*resumed)->interactions(), whole.interactions());
  if (GetParam().max_accounts < 1000) {
    EXPECT_GT(whole.evicted_accounts(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Points, SnapshotResume,
                         ::testing::Values(ResumeCase{0.5, 2u << 20}, ResumeCase{0.3, 2u << 20}, ResumeCase{0.8, 2u << 20},
                                           ResumeCase{0.5, 300}),
                         [](const ::testing::TestParamInfo<ResumeCase>& info) {
                           return "At" + std::to_string(static_cast<int>(info.param.share * 100)) +
                                  (info.param.max_accounts < 1000 ? "Evicting" : "");
                         });

// Overrides and imported indicators are state too.
TEST(Snapshot, OverridesAndSharedIndicatorsSurvive) {
  const Policy policy = Policy::Defaults();
  Engine e(policy);
  e.SetOverride("acct-1", Verdict::kBlock);
  ASSERT_TRUE(e.AddSharedIndicator(IndicatorKind::kPayment, "card-xyz", "partner", SharedTrust::kBlock));
  ASSERT_TRUE(e.AddSharedIndicator(IndicatorKind::kIpPrefix, "10.1.2.0/24", "partner", SharedTrust::kReview));
  std::string bytes;
  SaveSnapshot(e, &bytes);
  auto loaded = LoadSnapshot(bytes, policy, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->shared_indicators(), 2u);
  CheckRequest req;
  req.account_id = "acct-1";
  EXPECT_EQ((*loaded)->Check(req).decision, e.Check(req).decision);
  EXPECT_EQ((*loaded)->Check(req).decision, Decision::kBlock);
  CheckRequest shared;
  shared.account_id = "new";
  shared.payment_fingerprint = "card-xyz";
  EXPECT_EQ((*loaded)->Check(shared).decision, e.Check(shared).decision);
  std::string again;
  SaveSnapshot(**loaded, &again);
  EXPECT_EQ(again, bytes);
}

TEST(Snapshot, EmptyEngineRoundTrips) {
  const Policy policy = Policy::Defaults();
  Engine e(policy);
  std::string bytes;
  SaveSnapshot(e, &bytes);
  EXPECT_GT(bytes.size(), kSnapshotHeaderBytes);
  auto loaded = LoadSnapshot(bytes, policy, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ((*loaded)->interactions(), 0u);
  EXPECT_EQ((*loaded)->live_accounts(), 0u);
  std::string again;
  SaveSnapshot(**loaded, &again);
  EXPECT_EQ(again, bytes);
}

class SnapshotErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    SplitLog log;
    MakeLog(0.1, 0.5, &log);
    Engine e(policy_);
    Scan(log.first, &e);
    ASSERT_GT(e.live_accounts(), 0u);
    SaveSnapshot(e, &bytes_);
  }
  // Rewrites the header's checksum after a change to the payload, so that
  // the change reaches the decoder.
  void Reseal(std::string* s) {
    const uint64_t sum = XXH3_64bits(s->data() + kSnapshotHeaderBytes, s->size() - kSnapshotHeaderBytes);
    std::memcpy(s->data() + 24, &sum, sizeof(sum));
  }
  const Policy policy_ = Policy::Defaults();
  std::string bytes_;
};

TEST_F(SnapshotErrors, FlippedByteIsAChecksumError) {
  std::string bad = bytes_;
  bad[bad.size() / 2] ^= 0x40;
  auto loaded = LoadSnapshot(bad, policy_, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("checksum"), std::string::npos) << loaded.status();
}

TEST_F(SnapshotErrors, TruncatedIsTorn) {
  for (const size_t keep : {size_t{0}, size_t{7}, kSnapshotHeaderBytes, bytes_.size() - 1}) {
    auto loaded = LoadSnapshot(std::string_view(bytes_).substr(0, keep), policy_, {});
    ASSERT_FALSE(loaded.ok()) << keep;
    EXPECT_FALSE(loaded.status().message().empty());
  }
  auto torn = LoadSnapshot(std::string_view(bytes_).substr(0, bytes_.size() - 1), policy_, {});
  EXPECT_NE(torn.status().message().find("torn"), std::string::npos) << torn.status();
}

TEST_F(SnapshotErrors, OtherVersionIsRefused) {
  std::string other = bytes_;
  const uint32_t version = kSnapshotVersion + 1;
  std::memcpy(other.data() + 8, &version, sizeof(version));
  auto loaded = LoadSnapshot(other, policy_, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(loaded.status().message().find("version"), std::string::npos) << loaded.status();
}

TEST_F(SnapshotErrors, OtherPolicyOrOptionsAreRefused) {
  Policy stricter = policy_;
  stricter.solo_block_score = 0.9;
  auto loaded = LoadSnapshot(bytes_, stricter, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EngineOptions smaller;
  smaller.max_accounts = 10;
  EXPECT_EQ(LoadSnapshot(bytes_, policy_, smaller).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(SnapshotConfigFingerprint(policy_, {}), SnapshotConfigFingerprint(stricter, {}));
}

// A huge count inside an intact (resealed) payload is refused by the bound,
// with the section and byte it was found at.
TEST_F(SnapshotErrors, HugeCountIsBoundedByTheBytesLeft) {
  std::string bad = bytes_;
  // The account slot count follows "POLI" + fingerprint + "ENGN" + 4 engine
  // words + two template indexes; find it through the "ACCT" tag.
  const size_t at = bad.find("ACCT", kSnapshotHeaderBytes);
  ASSERT_NE(at, std::string::npos);
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(bad.data() + at + 4, &huge, sizeof(huge));
  Reseal(&bad);
  auto loaded = LoadSnapshot(bad, policy_, {});
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("section ACCT"), std::string::npos) << loaded.status();
  EXPECT_NE(loaded.status().message().find("cannot fit"), std::string::npos) << loaded.status();
}

// Every single-byte change of the payload, resealed: loaded or refused with
// a reason, never a crash (ASan / UBSan builds check the rest). A sample of
// positions keeps it fast; fuzz/fuzz_snapshot.cc does the rest.
TEST_F(SnapshotErrors, ResealedByteChangesLoadOrFailCleanly) {
  size_t refused = 0, loaded_ok = 0;
  const size_t step = std::max<size_t>(1, (bytes_.size() - kSnapshotHeaderBytes) / 3000);
  for (size_t pos = kSnapshotHeaderBytes; pos < bytes_.size(); pos += step) {
    std::string bad = bytes_;
    bad[pos] = static_cast<char>(bad[pos] ^ 0xA5);
    Reseal(&bad);
    auto loaded = LoadSnapshot(bad, policy_, {});
    if (loaded.ok()) {
      ++loaded_ok;
    } else {
      ++refused;
      EXPECT_NE(loaded.status().message().find("snapshot section"), std::string::npos) << loaded.status();
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(loaded_ok, 0u);  // most bytes are counters and scores: any value is a valid state
}

// Whether the log has carried a card decides whether a group can be one
// customer by its office block: a card that came when the index was full
// is in no index entry, so the flag is state of its own and a restored
// engine must not treat the log as card-less.
TEST(Snapshot, ACardSeenWhenTheIndexWasFullSurvives) {
  const Policy policy = Policy::Defaults();
  EngineOptions options;
  options.max_indicator_values = 2;
  Engine e(policy, options);
  Rng rng(5);
  e.Observe(testing::HarvestRequest("gateway-only", testing::kT0, rng, "", "198.51.100.7"));
  e.Observe(testing::HarvestRequest("gateway-too", testing::kT0 + 1000, rng, "", "203.0.113.9"));
  ASSERT_FALSE(e.correlator().cards_seen());
  e.Observe(testing::HarvestRequest("paying", testing::kT0 + 2000, rng, "card-late", "192.0.2.4"));
  ASSERT_TRUE(e.correlator().cards_seen());
  ASSERT_EQ(e.correlator().index().Find(IndicatorIndex::Key(IndicatorKind::kPayment, Hash64("card-late"))), nullptr);  // in no entry
  std::string bytes;
  SaveSnapshot(e, &bytes);
  auto loaded = LoadSnapshot(bytes, policy, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_TRUE((*loaded)->correlator().cards_seen());
}

// The fuzzer's seeds (fuzz/corpus/fuzz_snapshot) must be snapshots the
// current code accepts under the default policy, or fuzz_snapshot only
// ever reaches the refusal of a version or policy it no longer has: this
// fails when the format or the policy changes and the seeds were not
// regenerated (docs/RELIABILITY.md says how).
TEST(Snapshot, FuzzSeedsLoadWithTheDefaultPolicy) {
  const std::string dir = std::string(DG_TEST_DATA) + "/../../fuzz/corpus/fuzz_snapshot/";
  for (const char* name : {"engine_0.payload", "engine_20.payload", "engine_60.payload"}) {
    const std::string payload = ReadFile(dir + name);
    ASSERT_FALSE(payload.empty()) << name;
    std::string sealed("DGSNAPv1", 8);
    const uint32_t version = kSnapshotVersion, reserved = 0;
    const uint64_t length = payload.size(), sum = XXH3_64bits(payload.data(), payload.size());
    sealed.append(reinterpret_cast<const char*>(&version), 4);
    sealed.append(reinterpret_cast<const char*>(&reserved), 4);
    sealed.append(reinterpret_cast<const char*>(&length), 8);
    sealed.append(reinterpret_cast<const char*>(&sum), 8);
    sealed.append(payload);
    const auto loaded = LoadSnapshot(sealed, Policy::Defaults(), {});
    EXPECT_TRUE(loaded.ok()) << name << ": " << loaded.status();
  }
}

}  // namespace
}  // namespace dg
