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

class ScanPipelineErrors : public ::testing::TestWithParam<int> {};

// A hook that throws on the engine's thread stops the reader and reaches
// the caller, instead of std::terminate with the reader still running.
TEST_P(ScanPipelineErrors, AThrowOnTheEngineSideReachesTheCaller) {
  testing::TempDir dir;
  testing::WriteText(dir.File("e.jsonl"), Lines(3000));
  Engine engine(Policy::Defaults());
  ScanOptions options;
  options.threads = GetParam();
  int seen = 0;
  ScanHooks hooks;
  hooks.observed = [&](const Interaction&, const ContentDigest&) {
    if (++seen == 10) throw std::runtime_error("sink full");
  };
  EXPECT_THROW(ScanFiles({dir.File("e.jsonl")}, options, &engine, hooks), std::runtime_error);
  EXPECT_EQ(seen, 10);
}

// A throw on the reading thread (here from prepare) is rethrown on the
// caller's thread after the reader is joined.
TEST_P(ScanPipelineErrors, AThrowOnTheReadingSideReachesTheCaller) {
  testing::TempDir dir;
  testing::WriteText(dir.File("e.jsonl"), Lines(3000));
  Engine engine(Policy::Defaults());
  ScanOptions options;
  options.threads = GetParam();
  int prepared = 0;
  ScanHooks hooks;
  hooks.prepare = [&](Interaction&) {
    if (++prepared == 1000) throw std::runtime_error("enrichment failed");
  };
  EXPECT_THROW(ScanFiles({dir.File("e.jsonl")}, options, &engine, hooks), std::runtime_error);
  EXPECT_EQ(prepared, 1000);
}

TEST_P(ScanPipelineErrors, WithoutAThrowEveryLineReachesTheEngine) {
  testing::TempDir dir;
  testing::WriteText(dir.File("e.jsonl"), Lines(3000));
  Engine engine(Policy::Defaults());
  ScanOptions options;
  options.threads = GetParam();
  int seen = 0;
  ScanHooks hooks;
  hooks.observed = [&](const Interaction&, const ContentDigest&) { ++seen; };
  const ScanResult result = ScanFiles({dir.File("e.jsonl")}, options, &engine, hooks);
  EXPECT_EQ(seen, 3000);
  EXPECT_EQ(result.stats.accepted, 3000u);
}

INSTANTIATE_TEST_SUITE_P(Threads, ScanPipelineErrors, ::testing::Values(1, 2));

}  // namespace
}  // namespace dg
