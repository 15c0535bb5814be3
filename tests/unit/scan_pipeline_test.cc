#include "engine/scan_pipeline.h"

#include <stdexcept>

#include <gtest/gtest.h>

#include "policy/policy.h"
#include "test_util.h"

namespace dg {
namespace {

// 3,000 lines: more than the 8 full batches of 256 the queue holds, so the
// reader is blocked on a full queue when the engine's side fails.
std::string Lines(int n) {
  std::string out;
  for (int k = 0; k < n; ++k) {
    char ts[32];
    std::snprintf(ts, sizeof ts, "2026-04-22T10:%02d:%02dZ", (k / 60) % 60, k % 60);
    out += R"({"ts":")" + std::string(ts) + R"(","request_id":"r)" + std::to_string(k) + R"(","account_id":"a)" +
           std::to_string(k % 7) + R"(","messages":[{"role":"user","content":"hello there"}]})" + "\n";
  }
  return out;
}

// 3,000 lines in a file and an engine, scanned on GetParam() threads.
class ScanPipelineErrors : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    testing::WriteText(dir_.File("e.jsonl"), Lines(3000));
    options_.threads = GetParam();
  }
  ScanResult Scan(const ScanHooks& hooks) { return ScanFiles({dir_.File("e.jsonl")}, options_, &engine_, hooks); }

 private:
  testing::TempDir dir_;
  Engine engine_{Policy::Defaults()};
  ScanOptions options_;
};

// A hook that throws on the engine's thread stops the reader and reaches
// the caller, instead of std::terminate with the reader still running.
TEST_P(ScanPipelineErrors, AThrowOnTheEngineSideReachesTheCaller) {
  int seen = 0;
  ScanHooks hooks;
  hooks.observed = [&](const Interaction&, const ContentDigest&) {
    if (++seen == 10) throw std::runtime_error("sink full");
  };
  EXPECT_THROW(Scan(hooks), std::runtime_error);
  EXPECT_EQ(seen, 10);
}

// A throw on the reading thread (here from prepare) is rethrown on the
// caller's thread after the reader is joined.
TEST_P(ScanPipelineErrors, AThrowOnTheReadingSideReachesTheCaller) {
  int prepared = 0;
  ScanHooks hooks;
  hooks.prepare = [&](Interaction&) {
    if (++prepared == 1000) throw std::runtime_error("enrichment failed");
  };
  EXPECT_THROW(Scan(hooks), std::runtime_error);
  EXPECT_EQ(prepared, 1000);
}

TEST_P(ScanPipelineErrors, WithoutAThrowEveryLineReachesTheEngine) {
  int seen = 0;
  ScanHooks hooks;
  hooks.observed = [&](const Interaction&, const ContentDigest&) { ++seen; };
  const ScanResult result = Scan(hooks);
  EXPECT_EQ(seen, 3000);
  EXPECT_EQ(result.stats.accepted, 3000u);
}

INSTANTIATE_TEST_SUITE_P(Threads, ScanPipelineErrors, ::testing::Values(1, 2));

}  // namespace
}  // namespace dg
