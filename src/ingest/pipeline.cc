#include "ingest/pipeline.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/hash.h"
#include "ingest/line_reader.h"

namespace dg {

uint64_t IngestStats::RejectedTotal() const {
  uint64_t total = 0;
  for (const auto n : rejected) total += n;
  return total;
}

std::string IngestStats::Summary() const {
  std::string s = fmt::format(
      "lines read: {}  interactions accepted: {}  duplicates: {}  rejected: {}  blank: {}  late (out of order): {}\n",
      lines_read, accepted, duplicates, RejectedTotal(), blank_lines, late);
  if (RejectedTotal() > 0) {
    s += "rejected by reason:";
    for (size_t idx = 0; idx < kRejectCount; ++idx) {
      if (rejected[idx] > 0) s += fmt::format(" {}={}", RejectName(static_cast<dg::Reject>(idx)), rejected[idx]);
    }
    s += "\n";
  }
  return s;
}

bool RequestIdDedup::Contains(std::string_view request_id) const {
  const uint64_t h = Hash64(request_id, 0xd3d0);
  return current_.contains(h) || previous_.contains(h);
}

void RequestIdDedup::Insert(std::string_view request_id) {
  if (current_.size() >= capacity_) {
    previous_ = std::move(current_);
    current_ = {};
  }
  current_.insert(Hash64(request_id, 0xd3d0));
}

bool RequestIdDedup::SeenBefore(std::string_view request_id) {
  if (Contains(request_id)) return true;
  Insert(request_id);
  return false;
}

IngestPipeline::IngestPipeline(IngestOptions options, Sink sink, ErrorFn on_error)
    : options_(std::move(options)),
      sink_(std::move(sink)),
      on_error_(std::move(on_error)),
      parser_(options_.mapping),
      dedup_(options_.dedup_capacity) {}

void IngestPipeline::Reject(dg::Reject reason, const std::string& where, const std::string& message) {
  ++stats_.rejected[static_cast<size_t>(reason)];
  if (options_.strict) {
    on_error_(fmt::format("{}: {}", where, message));
    stopped_ = true;
    return;
  }
  if (errors_shown_ < options_.max_errors_shown) {
    on_error_(fmt::format("{}: {}", where, message));
  } else if (errors_shown_ == options_.max_errors_shown) {
    on_error_("further errors are counted but not shown (see the summary)");
  }
  ++errors_shown_;
}

bool IngestPipeline::AddFile(const std::string& path) {
  if (stopped_) return false;
  ++stats_.files;
  std::string error;
  auto reader = LineReader::Open(path, options_.max_line_bytes, &error);
  if (!reader) {
    Reject(dg::Reject::kIoError, path, error);
    return !stopped_;
  }
  return ReadAll(*reader, path == "-" ? "<stdin>" : path);
}

bool IngestPipeline::AddBuffer(std::string data, const std::string& origin) {
  if (stopped_) return false;
  auto reader = LineReader::FromString(std::move(data), options_.max_line_bytes);
  return ReadAll(*reader, origin);
}

bool IngestPipeline::ReadAll(LineReader& reader, const std::string& origin) {
  std::string_view line;
  Interaction interaction;
  for (;;) {
    const auto status = reader.Next(&line);
    if (status == LineReader::Status::kEof) break;
    if (status == LineReader::Status::kError) {
      Reject(dg::Reject::kIoError, fmt::format("{}:{}", origin, reader.line_number()), reader.error());
      break;
    }
    ++stats_.lines_read;
    const std::string where = fmt::format("{}:{}", origin, reader.line_number());
    if (status == LineReader::Status::kTooLong) {
      Reject(dg::Reject::kLineTooLong, where,
             fmt::format("line_too_long: line exceeds {} bytes and was skipped", options_.max_line_bytes));
    } else if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      ++stats_.blank_lines;
      continue;
    } else if (auto err = parser_.Parse(line, true, &interaction)) {
      Reject(err->reason, where, err->Message());
    } else if (dedup_.SeenBefore(interaction.request_id)) {
      ++stats_.duplicates;
    } else {
      interaction.line = reader.line_number();
      interaction.source_index = static_cast<uint32_t>(stats_.files);
      Accept(std::move(interaction));
    }
    if (stopped_) break;
  }
  stats_.bytes += reader.bytes_consumed();
  return !stopped_;
}

namespace {
// std::push_heap keeps the largest first: "larger" = later.
struct Later {
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    if (a.ts != b.ts) return a.ts > b.ts;
    return a.seq > b.seq;
  }
};
}  // namespace

void IngestPipeline::Accept(Interaction&& interaction) {
  ++stats_.accepted;
  if (options_.reorder_window == 0) {
    if (released_until_ != kNoTime && interaction.ts < released_until_) ++stats_.late;
    released_until_ = std::max(released_until_, interaction.ts);
    sink_(interaction);
    return;
  }
  interaction.seq = arrival_seq_++;
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::move(interaction));
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    std::swap(slots_[slot], interaction);  // the old buffers go back to the parser's object
  }
  heap_.push_back({slots_[slot].ts, slots_[slot].seq, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  if (heap_.size() > options_.reorder_window) Release();
}

void IngestPipeline::Release() {
  std::pop_heap(heap_.begin(), heap_.end(), Later{});
  const HeapEntry next = heap_.back();
  heap_.pop_back();
  Interaction& in = slots_[next.slot];
  if (released_until_ != kNoTime && in.ts < released_until_) ++stats_.late;
  released_until_ = std::max(released_until_, in.ts);
  sink_(in);
  free_slots_.push_back(next.slot);
}

void IngestPipeline::Flush() {
  while (!heap_.empty()) Release();
}

}  // namespace dg
