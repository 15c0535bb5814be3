#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "common/pipe.h"
#include "common/zstd_writer.h"
#include "sim/simulator.h"

namespace dg::cli {
namespace {

// Where the labels of `--out FILE.zst` go without --labels: beside it,
// "run.jsonl.zst" -> "run.labels.jsonl".
std::string LabelsBeside(std::string path) {
  for (std::string_view ext : {".zst", ".jsonl"}) {
    if (path.ends_with(ext)) path.resize(path.size() - ext.size());
  }
  return path + ".labels.jsonl";
}

}  // namespace

void AddSimulateOptions(CLI::App& cmd, SimulateArgs& args) {
  std::string evasions = "Evasion to switch on (repeatable; `all` for every one at once):";
  for (const auto& [name, what] : sim::KnownEvasions()) evasions += fmt::format("\n  {}: {}", name, what);
  cmd.add_option("--scenario", args.scenario, "Scenario: demo (seconds), standard (~1M interactions), alibaba-scale (streamed)")
      ->capture_default_str();
  cmd.add_option("--out", args.out,
                 "Output directory for events.jsonl and labels.jsonl; or FILE.zst for the events zstd-compressed in one "
                 "file (labels beside it: run.jsonl.zst -> run.labels.jsonl, or in --labels); or - to stream events to stdout")
      ->required();
  cmd.add_option("--scale", args.scale, "Multiply the number of accounts")->capture_default_str();
  cmd.add_option("--seed", args.seed, "Random seed; the same seed gives the same bytes")->capture_default_str();
  cmd.add_option("--corpus", args.corpus, "Corpus directory (e.g. ../shared/corpora) to draw real prompt text from");
  cmd.add_option("--evade", args.evade, evasions);
  cmd.add_option("--days", args.days, "Override the scenario's length in days");
  cmd.add_option("--fields", args.fields,
                 "What the log carries: full, gateway (no payment, sign-up time, e-mail domain, org), "
                 "no-ua, no-ip (no address, no user agent), content-only")
      ->capture_default_str();
  cmd.add_option("--labels", args.labels, "With --out - or --out FILE.zst: write labels.jsonl to this file");
  cmd.add_flag("--realistic-labs", args.realistic_labs,
               "Research labs of 3-12 researchers on one org, card and office network that re-run fixed benchmark "
               "items on every model (default: labs of 2-4 accounts asking fresh items)");
}

int RunSimulate(const SimulateArgs& args) {
  sim::SimOptions options;
  options.scenario = args.scenario;
  options.scale = args.scale;
  options.seed = args.seed;
  options.corpus_dir = args.corpus;
  options.evasions = args.evade;
  options.days = args.days;
  options.fields = args.fields;
  options.realistic_labs = args.realistic_labs;
  auto created = sim::Simulator::Create(options);
  if (!created.ok()) return PrintError("simulate", created.status());
  std::unique_ptr<sim::Simulator> simulator = std::move(*created);
  std::FILE* events = stdout;
  std::unique_ptr<ZstdFileWriter> compressed;  // --out FILE.zst
  std::FILE* labels = nullptr;
  std::string events_path = "<stdout>";
  std::string labels_path = args.labels;
  if (args.out.ends_with(".zst")) {
    events_path = args.out;
    if (labels_path.empty()) labels_path = LabelsBeside(args.out);
    const std::filesystem::path parent = std::filesystem::path(args.out).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      fmt::print(stderr, "simulate: cannot create {}: {}\n", parent.string(), ec.message());
      return 1;
    }
    auto writer = ZstdFileWriter::Create(args.out);
    if (!writer.ok()) return PrintError("simulate", writer.status());
    compressed = std::move(*writer);
  } else if (args.out == "-") {
    EnlargeIfPipe(fileno(stdout));
  } else {
    std::error_code ec;
    std::filesystem::create_directories(args.out, ec);
    if (ec) {
      fmt::print(stderr, "simulate: cannot create {}: {}\n", args.out, ec.message());
      return 1;
    }
    events_path = args.out + "/events.jsonl";
    labels_path = args.out + "/labels.jsonl";
    events = std::fopen(events_path.c_str(), "wb");
    if (events == nullptr) {
      fmt::print(stderr, "simulate: cannot write in {}: {}\n", args.out, std::strerror(errno));
      return 1;
    }
  }
  if (!labels_path.empty()) {
    labels = std::fopen(labels_path.c_str(), "wb");
    if (labels == nullptr) {
      fmt::print(stderr, "simulate: cannot write {}: {}\n", labels_path, std::strerror(errno));
      if (events != stdout) std::fclose(events);
      return 1;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  sim::SimStats stats;
  bool ok;
  if (compressed != nullptr) {
    ok = simulator->Run([&](std::string_view piece) { return compressed->Write(piece); }, labels, &stats);
    ok = compressed->Close() && ok;
    if (!compressed->error().empty()) fmt::print(stderr, "simulate: {}\n", compressed->error());
  } else {
    ok = simulator->Run(events, labels, &stats);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (events != stdout) ok = std::fclose(events) == 0 && ok;
  if (labels != nullptr) ok = std::fclose(labels) == 0 && ok;
  if (!ok) {
    fmt::print(stderr, "simulate: write error on {} (disk full or closed pipe)\n", events_path);
    return 1;
  }
  fmt::print(stderr,
             "simulate: scenario {} seed {}: {} interactions ({} attack) from {} accounts ({} attack), {:.1f} MB in "
             "{:.1f}s ({:.0f} interactions/s)\n",
             args.scenario, args.seed, stats.events, stats.attack_events, stats.accounts, stats.attack_accounts,
             stats.bytes / 1e6, secs, stats.events / std::max(secs, 1e-9));
  return 0;
}

}  // namespace dg::cli
