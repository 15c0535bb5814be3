// IngestPipeline: input files -> parsed, de-duplicated, time-ordered
// Interactions, delivered one at a time to a sink (the engine).
//
//   files (plain/.gz/.zst/stdin) -> LineReader -> RecordParser
//     -> RequestIdDedup -> ReorderBuffer -> sink(Interaction&)
//
// Bad lines are reported (file:line, field, reason) to the error callback,
// counted by reason, and skipped; with strict=true the first one stops the
// run. With a clock (IngestOptions::now), an event dated more than
// max_future_ms past it is such a line (`field 'ts': out_of_range`): one
// event dated 2099 would otherwise move the engine's stream time decades
// ahead, freezing its daily re-scoring and stretching campaigns. Interactions are released in timestamp order through a bounded
// reorder buffer (reorder_window events, and at most reorder_bytes of
// records); one arriving after a later one was already released is still
// delivered and counted as `late` (per file, too: stragglers).
//
// AddFiles merges several inputs into one timeline: a k-way merge over one
// reader and one reorder buffer per file, so replicas of a gateway's log and
// files given in any order give the same sequence as one sorted file. Ties
// in time are broken by (account, request id), not by arrival, for the same
// reason. Duplicates (same account and request id) are dropped, first copy
// kept.
//
// Memory: the reorder buffers (at most reorder_window events per file, and
// reorder_bytes of record text in all: past that the earliest is released
// early and counted in `reorder_overflow`), one read buffer per open file
// (about max(max_line_bytes, 1 MiB)), plus the dedup set (2 generations x
// dedup_capacity x ~16 bytes). Cost per line: one parse, one heap push/pop,
// and an O(files) pick of the earliest head when merging.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <absl/container/flat_hash_set.h>

#include "ingest/interaction.h"
#include "ingest/mapping.h"
#include "ingest/parser.h"

namespace dg {

struct IngestOptions {
  FieldMapping mapping = FieldMapping::Canonical();
  bool strict = false;
  size_t max_line_bytes = 16u << 20;
  size_t reorder_window = 4096;       // events held back (per file when merging) to restore time order
  size_t reorder_bytes = 256u << 20;  // record bytes held back in all; past it the earliest goes early
  size_t dedup_capacity = 4u << 20;   // request ids per generation (2 kept)
  size_t max_errors_shown = 20;       // further errors are counted, not printed
  // The run's clock (injected: scan takes the wall clock or --now) and how
  // far past it an event may be dated. kNoTime: no bound. The past is not
  // bounded beyond the parser's 1990 floor (old logs are scanned on purpose).
  TimeMs now = kNoTime;
  TimeMs max_future_ms = 24 * kMsPerHour;
};

struct IngestStats {
  uint64_t files = 0;
  uint64_t lines_read = 0;
  uint64_t blank_lines = 0;
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t filtered = 0;  // excluded by the mapping's [filter] (not errors)
  uint64_t late = 0;
  uint64_t reorder_overflow = 0;  // released early to stay within reorder_bytes
  uint64_t bytes = 0;
  std::vector<std::pair<std::string, uint64_t>> late_by_file;  // files with stragglers
  std::array<uint64_t, kRejectCount> rejected{};
  uint64_t RejectedTotal() const;
  // Multi-line human summary.
  std::string Summary() const;
};

// Remembers recently seen request ids (64-bit hashes) in two generations:
// when the current one fills up, the older is dropped. A duplicate is caught
// if its first copy is among the last `capacity`..2x`capacity` ids.
class RequestIdDedup {
 public:
  explicit RequestIdDedup(size_t capacity) : capacity_(capacity) {}
  // True when the id was seen before; records it otherwise.
  bool SeenBefore(std::string_view request_id);
  // The two halves of SeenBefore, for callers that record an id only once
  // the interaction is stored (serve).
  bool Contains(std::string_view request_id) const;
  void Insert(std::string_view request_id);

 private:
  size_t capacity_;
  absl::flat_hash_set<uint64_t> current_;
  absl::flat_hash_set<uint64_t> previous_;
};

class LineReader;

class IngestPipeline {
 public:
  using Sink = std::function<void(Interaction&)>;
  using ErrorFn = std::function<void(const std::string&)>;

  IngestPipeline(IngestOptions options, Sink sink, ErrorFn on_error);
  ~IngestPipeline();

  // Reads one input ("-" = stdin). Returns false when strict mode stopped
  // the run (the message went to on_error).
  bool AddFile(const std::string& path);
  // Reads several inputs merged by timestamp (see above). Releases what an
  // earlier AddFile left in the reorder buffer first. Returns false when
  // strict mode stopped the run.
  bool AddFiles(const std::vector<std::string>& paths);
  // Reads JSONL from memory (HTTP ingest, tests); `origin` names it in errors.
  bool AddBuffer(std::string data, const std::string& origin);
  // Releases everything still held in the reorder buffer.
  void Flush();

  const IngestStats& stats() const { return stats_; }
  bool stopped() const { return stopped_; }

 private:
  struct HeapEntry {
    TimeMs ts;
    uint64_t key;  // hash of (account, request id): ties do not depend on arrival
    uint64_t seq;
    uint32_t slot;
    uint32_t bytes;
  };
  // One input being read, with its own reorder heap (AddFile and AddBuffer
  // share `sequential_`; AddFiles has one per file).
  struct Source {
    std::unique_ptr<LineReader> reader;
    std::string origin;
    uint32_t index = 0;
    bool done = false;
    std::vector<HeapEntry> heap;  // min-heap by (ts, key, arrival)
  };

  bool ReadAll(Source& src);
  // Reads lines until one interaction is pushed onto src's heap; false at
  // the end of the input (or when strict mode stopped the run).
  bool ReadOne(Source& src);
  void Reject(dg::Reject reason, const std::string& where, const std::string& message);
  // The slot the parser fills next (a released one, its buffers reused).
  Interaction& SpareSlot();
  // dedup_key_ = account id, 0x1f, request id (no allocation once grown).
  void DedupKey(const Interaction& in);
  // Queues the spare slot, just parsed and accepted.
  void Push(Source& src, size_t bytes);
  void Release(Source& src);
  uint32_t NewOrigin(const std::string& origin);
  void UpdateLateByFile();

  IngestOptions options_;
  Sink sink_;
  ErrorFn on_error_;
  RecordParser parser_;
  RequestIdDedup dedup_;
  IngestStats stats_;
  // Interactions wait in `slots_` (reused, so their string buffers are
  // too); the heaps order small entries pointing at them.
  std::vector<Interaction> slots_;
  std::vector<uint32_t> free_slots_;
  Source sequential_;
  size_t held_bytes_ = 0;
  std::vector<std::string> origins_;   // by source index
  std::vector<uint64_t> late_by_source_;
  uint64_t arrival_seq_ = 0;
  TimeMs released_until_ = kNoTime;
  uint64_t errors_shown_ = 0;
  bool stopped_ = false;
  // The parser writes straight into slots_[spare_slot_]: a kept record
  // becomes a heap entry without moving the Interaction.
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t spare_slot_ = kNoSlot;
  std::string dedup_key_;
};

}  // namespace dg
