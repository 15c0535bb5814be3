// Micro-benchmarks of the per-interaction hot path: record parsing, content
// analysis (tokenise + lexicon + MinHash + LSH) against a baseline of exact
// hashing of the normalised text, and the whole engine step.
// Run: build/bench/dg_bench  (see BENCHMARKS.md for recorded figures)
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/hash.h"
#include "common/rng.h"
#include "content/analyzer.h"
#include "engine/engine.h"
#include "ingest/parser.h"

namespace {

std::vector<std::string> MakeLines(size_t n) {
  std::vector<std::string> lines;
  dg::Rng rng(42);
  for (size_t idx = 0; idx < n; ++idx) {
    lines.push_back(
        "{\"ts\":\"2026-04-22T10:00:00.123Z\",\"request_id\":\"r" + std::to_string(idx) + "\",\"account_id\":\"a" +
        std::to_string(rng.Below(1000)) +
        "\",\"ip\":\"203.0.113.7\",\"user_agent\":\"openai-python/1.51.0\",\"model\":\"m\",\"messages\":[{\"role\":"
        "\"user\",\"content\":\"Solve the following problem. Think step by step and show your complete reasoning "
        "before the final answer. Problem: a train leaves at " +
        std::to_string(rng.Below(200)) + " km/h and another at " + std::to_string(rng.Below(200)) +
        " km/h; when do they meet?\"}],\"max_tokens\":8192,\"temperature\":0.7}");
  }
  return lines;
}

void BM_Parse(benchmark::State& state) {
  const auto lines = MakeLines(1024);
  dg::RecordParser parser(dg::FieldMapping::Canonical());
  dg::Interaction in;
  size_t idx = 0, bytes = 0;
  for (auto _ : state) {
    const auto& l = lines[idx++ % lines.size()];
    benchmark::DoNotOptimize(parser.Parse(l, false, &in));
    bytes += l.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Parse);

void BM_ContentFingerprint(benchmark::State& state) {
  const auto lines = MakeLines(1024);
  dg::RecordParser parser(dg::FieldMapping::Canonical());
  std::vector<dg::Interaction> ins(lines.size());
  for (size_t idx = 0; idx < lines.size(); ++idx) (void)parser.Parse(lines[idx], false, &ins[idx]);
  dg::ContentAnalyzer analyzer;
  dg::EventFeatures f;
  size_t idx = 0;
  for (auto _ : state) {
    analyzer.Analyze(ins[idx++ % ins.size()], &f);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ContentFingerprint);

// Baseline: exact hash of the lower-cased prompt (no paraphrase robustness).
void BM_ExactHashBaseline(benchmark::State& state) {
  const auto lines = MakeLines(1024);
  dg::RecordParser parser(dg::FieldMapping::Canonical());
  std::vector<dg::Interaction> ins(lines.size());
  for (size_t idx = 0; idx < lines.size(); ++idx) (void)parser.Parse(lines[idx], false, &ins[idx]);
  size_t idx = 0;
  std::string norm;
  for (auto _ : state) {
    const auto& text = ins[idx++ % ins.size()].LastUserText();
    norm.assign(text);
    for (auto& c : norm) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    benchmark::DoNotOptimize(dg::Hash64(norm));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ExactHashBaseline);

void BM_EngineObserve(benchmark::State& state) {
  const auto lines = MakeLines(4096);
  dg::RecordParser parser(dg::FieldMapping::Canonical());
  std::vector<dg::Interaction> ins(lines.size());
  for (size_t idx = 0; idx < lines.size(); ++idx) (void)parser.Parse(lines[idx], false, &ins[idx]);
  dg::Engine engine(dg::Policy::Defaults());
  size_t idx = 0;
  for (auto _ : state) {
    auto& in = ins[idx++ % ins.size()];
    in.ts += 1000;
    benchmark::DoNotOptimize(engine.Observe(in));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EngineObserve);

}  // namespace

BENCHMARK_MAIN();
