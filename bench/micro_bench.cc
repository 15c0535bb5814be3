// Micro-benchmarks of the per-interaction hot path: record parsing, content
// analysis (tokenise + lexicon + MinHash + LSH) against a baseline of exact
// hashing of the normalised text, and the whole engine step; and the content
// stages one at a time on the simulator's prose (BM_Tokenize,
// BM_ComputeSignature, BM_MatchLexicon, BM_TemplateAssign). The writers:
// AppendJsonString against the byte-at-a-time loop it replaced, and the
// simulator's events per second (#21).
// Run: build/bench/dg_bench  (see BENCHMARKS.md for recorded figures)
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/hash.h"
#include "common/json_out.h"
#include "common/rng.h"
#include "content/analyzer.h"
#include "engine/engine.h"
#include "ingest/parser.h"
#include "sim/simulator.h"
#include "sim/text.h"

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

// Prompts and answers as the simulator writes them (procedural text, no
// corpus): what the content stages below read.
std::vector<std::string> MakeTexts(size_t n) {
  auto source = dg::sim::TextSource::Create("");
  std::vector<std::string> texts;
  if (!source.ok()) return texts;
  dg::Rng rng(7);
  for (size_t idx = 0; idx < n; ++idx) {
    const auto kind = static_cast<dg::sim::TopicKind>(idx % static_cast<size_t>(dg::sim::TopicKind::kCount));
    std::string prompt = idx % 2 ? (*source)->HumanPrompt(kind, rng) : (*source)->TaskPrompt(kind, rng);
    std::string answer = (*source)->Response(prompt, kind, rng);
    texts.push_back(std::move(prompt));
    texts.push_back(answer.substr(0, dg::kResponsePrintBytes));
  }
  return texts;
}

void BM_Tokenize(benchmark::State& state) {
  const auto texts = MakeTexts(512);
  dg::TokenStream tokens;
  size_t idx = 0, bytes = 0;
  for (auto _ : state) {
    const auto& text = texts[idx++ % texts.size()];
    dg::Tokenize(text, &tokens);
    benchmark::DoNotOptimize(tokens.masked.data());
    bytes += text.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Tokenize);

void BM_ComputeSignature(benchmark::State& state) {
  const auto texts = MakeTexts(512);
  std::vector<std::vector<uint64_t>> masked;
  for (const auto& text : texts) {
    dg::TokenStream tokens;
    dg::Tokenize(text, &tokens);
    masked.push_back(tokens.masked);
  }
  dg::Signature sig;
  size_t idx = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dg::ComputeSignature(masked[idx++ % masked.size()], &sig));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ComputeSignature);

void BM_MatchLexicon(benchmark::State& state) {
  const auto texts = MakeTexts(512);
  std::vector<dg::TokenStream> streams(texts.size());
  for (size_t idx = 0; idx < texts.size(); ++idx) dg::Tokenize(texts[idx], &streams[idx]);
  size_t idx = 0;
  for (auto _ : state) {
    dg::LexiconHits hits;
    const size_t at = idx++ % streams.size();
    dg::MatchLexicon(texts[at], streams[at], &hits);
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MatchLexicon);

// One LSH assignment against an index of ~50k clusters (a busy day's
// templates): eight band probes, representatives compared.
void BM_TemplateAssign(benchmark::State& state) {
  const auto texts = MakeTexts(4096);
  std::vector<dg::Signature> sigs;
  dg::TokenStream tokens;
  for (const auto& text : texts) {
    dg::Tokenize(text, &tokens);
    dg::Signature sig;
    if (dg::ComputeSignature(tokens.masked, &sig)) sigs.push_back(sig);
  }
  dg::TemplateIndex index;
  dg::Rng rng(3);
  for (int idx = 0; idx < 50000; ++idx) {  // unrelated clusters to probe past
    dg::Signature sig;
    for (auto& v : sig) v = static_cast<uint32_t>(rng.Next());
    index.Assign(sig);
  }
  size_t idx = 0;
  for (auto _ : state) benchmark::DoNotOptimize(index.Assign(sigs[idx++ % sigs.size()]));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TemplateAssign);

// JSON string writing on the simulator's prose (plain ASCII with a few
// newlines): the SSE2 run skipping of AppendJsonString against the loop it
// replaced, which looked at every byte (ASCII-only reference copy below).
void AppendJsonStringBytewise(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0, pos = 0;
  auto flush = [&] { out.append(s.data() + run_start, pos - run_start); };
  while (pos < s.size()) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7F) {
      ++pos;
      continue;
    }
    flush();
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    ++pos;
    run_start = pos;
  }
  flush();
  out.push_back('"');
}

template <bool kBytewise>
void BM_AppendJsonString(benchmark::State& state) {
  const auto texts = MakeTexts(512);
  std::string out;
  size_t idx = 0, bytes = 0;
  for (auto _ : state) {
    out.clear();
    const auto& text = texts[idx++ % texts.size()];
    if constexpr (kBytewise) AppendJsonStringBytewise(out, text);
    else dg::AppendJsonString(out, text);
    benchmark::DoNotOptimize(out.data());
    bytes += text.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_AppendJsonString<false>);
BENCHMARK(BM_AppendJsonString<true>);

// The simulator writing the demo scenario at scale 0.1 (~4k events) into
// memory: events per second of one core (simulate's CPU per interaction).
void BM_SimulateDemo(benchmark::State& state) {
  dg::sim::SimOptions options;
  options.scenario = "demo";
  options.scale = 0.1;
  options.seed = 3;
  uint64_t events = 0, bytes = 0;
  for (auto _ : state) {
    auto sim = std::move(*dg::sim::Simulator::Create(options));
    dg::sim::SimStats stats;
    sim->Run([](std::string_view piece) { benchmark::DoNotOptimize(piece.data()); return true; }, nullptr, &stats);
    events += stats.events;
    bytes += stats.bytes;
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_SimulateDemo)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
