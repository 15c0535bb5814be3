// BatchInputIndex: the requests of an OpenAI Batch API *input* file, by
// custom_id, so the output file's records (which carry the response but no
// prompt) can be scanned with their prompts: `scan --mapping openai-batch
// --batch-input INPUT.jsonl OUTPUT.jsonl`.
//
// Input lines (platform.openai.com/docs/guides/batch):
//   {"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions",
//    "body": {"model": ..., "messages": [...], "max_tokens": ..., ...}}
// (`/v1/responses` bodies: `input` and `instructions` are read too). Lines
// for other endpoints (embeddings, ...) are skipped and counted as
// `other_endpoint`. Bad lines are reported as FILE:LINE: field 'F': reason,
// counted, and skipped; a custom_id seen twice keeps the first request.
//
// Join rule (Apply): the output record's custom_id is its conversation_id
// (the openai-batch preset maps /custom_id there). What the record lacks is
// filled from the request: messages, system, model, tools, max_tokens,
// temperature; a value the record has is kept. A record whose custom_id is
// not in the index is left as it is (response only) and counted.
//
// Memory: only the parsed fields the engine reads are kept (message texts,
// system, model, tool names and hash, two numbers), never the raw line;
// their bytes plus a fixed per-entry overhead are counted, and once the
// next request would take the total past max_bytes no more are indexed:
// the rest of the file is still read (to count them) and reported as
// `not_indexed`; their responses are scanned without prompts. The index is
// in memory only and freed with the object (prompt text is never written).
// Cost: Load is one JSON parse per line (O(file)); Apply is one hash lookup
// plus a copy of the request's fields.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/status.h"
#include "ingest/interaction.h"

namespace dg {

class BatchInputIndex {
 public:
  struct Stats {
    uint64_t lines = 0;           // non-blank lines read
    uint64_t indexed = 0;         // requests kept
    uint64_t rejected = 0;        // bad lines (reported with file:line)
    uint64_t duplicates = 0;      // custom_id seen before (first kept)
    uint64_t other_endpoint = 0;  // not a chat / responses request
    uint64_t not_indexed = 0;     // skipped: the index was at max_bytes
    uint64_t bytes = 0;           // accounted bytes of the index
    uint64_t joined = 0;          // output records given a request by Apply
    uint64_t unmatched = 0;       // output records whose custom_id was not indexed
  };
  using ErrorFn = std::function<void(const std::string&)>;

  BatchInputIndex();
  ~BatchInputIndex();
  BatchInputIndex(const BatchInputIndex&) = delete;
  BatchInputIndex& operator=(const BatchInputIndex&) = delete;

  // Reads `path` (plain, .gz or .zst). Bad lines go to on_error (the first
  // max_errors_shown of them) and are counted. An error only when the file
  // cannot be opened (LineReader::Open's) or read to its end ("F:LINE: ...":
  // InvalidArgument for a corrupt or truncated stream, Unavailable for a
  // failed read).
  absl::Status Load(const std::string& path, size_t max_bytes, size_t max_line_bytes, const ErrorFn& on_error,
                    size_t max_errors_shown);
  // The same for an input file's text already in memory (tests, fuzzing);
  // `origin` names it in errors. An error (Internal) only if the built-in
  // mapping fails.
  absl::Status LoadText(std::string_view text, const std::string& origin, size_t max_bytes, const ErrorFn& on_error,
                        size_t max_errors_shown);
  // Fills what *in lacks from the request with custom_id in->conversation_id.
  // True when one was found.
  bool Apply(Interaction* in);

  const Stats& stats() const { return stats_; }
  size_t size() const { return index_.size(); }
  // "batch input F: N requests indexed (X KiB), R rejected, ..." (one line).
  std::string Summary(const std::string& path) const;

 private:
  struct Request {
    std::string model;
    std::string system;
    std::vector<Message> messages;
    std::vector<std::string> tool_names;
    uint64_t tools_hash = 0;
    int64_t max_tokens = -1;
    double temperature = 0;
    bool has_temperature = false;
  };
  struct Loader;
  void AddLine(Loader& ld, std::string_view line, bool padded, uint64_t line_no);

  absl::flat_hash_map<std::string, Request> index_;
  Stats stats_;
};

}  // namespace dg
