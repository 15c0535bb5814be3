// IngestPipeline: input files -> parsed, de-duplicated, time-ordered
// Interactions, delivered one at a time to a sink (the engine).
//
//   files (plain/.gz/.zst/stdin) -> LineReader -> RecordParser
//     -> RequestIdDedup -> ReorderBuffer -> sink(Interaction&)
//
// Bad lines are reported (file:line, field, reason) to the error callback,
// counted by reason, and skipped; with strict=true the first one stops the
// run. Interactions are released in timestamp order through a bounded
// reorder buffer (reorder_window events); one arriving after a later one was
// already released is still delivered and counted as `late`.
//
// Memory: the reorder buffer (window x interaction size) plus the dedup set
// (2 generations x dedup_capacity x ~16 bytes). Cost per line: one parse.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
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
  size_t reorder_window = 4096;       // events held back to restore time order
  size_t dedup_capacity = 4u << 20;   // request ids per generation (2 kept)
  size_t max_errors_shown = 20;       // further errors are counted, not printed
};

struct IngestStats {
  uint64_t files = 0;
  uint64_t lines_read = 0;
  uint64_t blank_lines = 0;
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t late = 0;
  uint64_t bytes = 0;
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

class IngestPipeline {
 public:
  using Sink = std::function<void(Interaction&)>;
  using ErrorFn = std::function<void(const std::string&)>;

  IngestPipeline(IngestOptions options, Sink sink, ErrorFn on_error);

  // Reads one input ("-" = stdin). Returns false when strict mode stopped
  // the run (the message went to on_error).
  bool AddFile(const std::string& path);
  // Reads JSONL from memory (HTTP ingest, tests); `origin` names it in errors.
  bool AddBuffer(std::string data, const std::string& origin);
  // Releases everything still held in the reorder buffer.
  void Flush();

  const IngestStats& stats() const { return stats_; }
  bool stopped() const { return stopped_; }

 private:
  bool ReadAll(class LineReader& reader, const std::string& origin);
  void Reject(dg::Reject reason, const std::string& where, const std::string& message);
  void Accept(Interaction&& interaction);
  void Release();

  IngestOptions options_;
  Sink sink_;
  ErrorFn on_error_;
  RecordParser parser_;
  RequestIdDedup dedup_;
  IngestStats stats_;
  // Reorder buffer: interactions stay in `slots_` (reused, so their string
  // buffers are too); the heap orders small (ts, arrival, slot) entries.
  struct HeapEntry {
    TimeMs ts;
    uint64_t seq;
    uint32_t slot;
  };
  std::vector<Interaction> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<HeapEntry> heap_;  // min-heap by (ts, arrival)
  uint64_t arrival_seq_ = 0;
  TimeMs released_until_ = kNoTime;
  uint64_t errors_shown_ = 0;
  bool stopped_ = false;
};

}  // namespace dg
