// The traffic simulator: labelled API traffic that resembles a real
// platform, with hard legitimate negatives and the reported distillation
// playbook (see docs/SCENARIOS.md for every archetype and campaign and the
// public report each reflects).
//
// Every account is an actor with its own schedule; a min-heap of next event
// times merges them, so events come out in timestamp order and can be
// streamed (`--out -`) at any scale with memory proportional to the number
// of accounts, not events. All randomness flows from one seed: the same
// options give the same bytes. Nothing in an id, a field or the order of
// events reveals a label; labels go to a separate file.
//
// Cost: ~2 us of one core per interaction (~1.8 KB of JSON each; standard
// seed 42: 2.06M interactions in ~4 s of CPU, BENCHMARKS.md "simulate"),
// memory proportional to the number of accounts.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dg::sim {

struct SimOptions {
  std::string scenario = "demo";  // demo | standard | alibaba-scale
  double scale = 1.0;             // multiplies account counts
  uint64_t seed = 1;
  std::string corpus_dir;         // empty = procedural text
  std::vector<std::string> evasions;  // see KnownEvasions()
  double days = 0;                // 0 = the scenario's own length
  // What the log carries (KnownFieldProfiles): "full" (every field),
  // "gateway" (no payment fingerprint, sign-up time, e-mail domain or org:
  // what a gateway sees without billing data), "no-ua", "no-ip" (no address
  // and no user agent, as in a Helicone export), "content-only".
  std::string fields = "full";
  // Research labs as large as real ones (3-12 researchers on one org, card,
  // office /24 and mail domain) that re-run a fixed benchmark item set on
  // every model, some few-shot with answers they wrote, most on a new model
  // within hours -- instead of the default 2-4 accounts that ask fresh
  // items. A hard negative the default gates do not include yet
  // (docs/QUALITY.md, "Evaluation labs").
  bool realistic_labs = false;
};

struct SimStats {
  uint64_t events = 0;
  uint64_t attack_events = 0;
  uint64_t accounts = 0;
  uint64_t attack_accounts = 0;
  uint64_t bytes = 0;
};

const std::vector<std::string>& KnownScenarios();
const std::vector<std::string>& KnownFieldProfiles();
// Name and one-line description of each evasion `--evade` accepts.
const std::vector<std::pair<std::string, std::string>>& KnownEvasions();

class Simulator {
 public:
  // InvalidArgument for an unknown scenario, evasion or field profile or a
  // scale out of range; TextSource::Create's error for a bad corpus.
  static absl::StatusOr<std::unique_ptr<Simulator>> Create(const SimOptions& options);
  ~Simulator();
  Simulator(const Simulator&) = delete;  // owns all actors
  Simulator& operator=(const Simulator&) = delete;

  // Writes events (JSONL, time-ordered) and labels (JSONL). labels may be
  // null. Returns false on a write error (disk full, closed pipe).
  bool Run(std::FILE* events, std::FILE* labels, SimStats* stats);
  // The same, with the events handed to `write_events` in pieces of about
  // 200 KiB, whole lines each (e.g. a ZstdFileWriter for --out FILE.zst).
  // A false return from it stops the run, and Run returns false.
  bool Run(const std::function<bool(std::string_view)>& write_events, std::FILE* labels, SimStats* stats);

 private:
  struct Impl;
  explicit Simulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::sim
