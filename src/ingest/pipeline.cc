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
  if (filtered > 0) s += fmt::format("filtered out by the mapping's [filter]: {}\n", filtered);
  if (reorder_overflow > 0) {
    s += fmt::format("released early to stay within --reorder-bytes: {} (raise it if `late` is high)\n", reorder_overflow);
  }
  if (!late_by_file.empty()) {
    s += "late (stragglers) by file:";
    for (const auto& [file, n] : late_by_file) s += fmt::format(" {}={}", file, n);
    s += "\n";
  }
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

IngestPipeline::~IngestPipeline() = default;

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

uint32_t IngestPipeline::NewOrigin(const std::string& origin) {
  origins_.push_back(origin);
  late_by_source_.push_back(0);
  return static_cast<uint32_t>(origins_.size());  // 1-based, as stats_.files counted
}

bool IngestPipeline::AddFile(const std::string& path) {
  if (stopped_) return false;
  ++stats_.files;
  auto reader = LineReader::Open(path, options_.max_line_bytes);
  if (!reader.ok()) {
    Reject(dg::Reject::kIoError, path, std::string(StatusMessage(reader.status())));
    return !stopped_;
  }
  sequential_.reader = std::move(*reader);
  sequential_.origin = path == "-" ? "<stdin>" : path;
  sequential_.index = NewOrigin(sequential_.origin);
  return ReadAll(sequential_);
}

bool IngestPipeline::AddBuffer(std::string data, const std::string& origin) {
  if (stopped_) return false;
  sequential_.reader = LineReader::FromString(std::move(data), options_.max_line_bytes);
  sequential_.origin = origin;
  sequential_.index = NewOrigin(origin);
  return ReadAll(sequential_);
}

bool IngestPipeline::ReadOne(Source& src) {
  std::string_view line;
  LineReader& reader = *src.reader;
  while (!stopped_) {
    const auto status = reader.Next(&line);
    if (status == LineReader::Status::kEof) return false;
    if (status == LineReader::Status::kError) {
      Reject(dg::Reject::kIoError, fmt::format("{}:{}", src.origin, reader.line_number()), std::string(StatusMessage(reader.error())));
      return false;
    }
    ++stats_.lines_read;
    if (status == LineReader::Status::kTooLong) {
      Reject(dg::Reject::kLineTooLong, fmt::format("{}:{}", src.origin, reader.line_number()),
             fmt::format("line_too_long: line exceeds {} bytes and was skipped", options_.max_line_bytes));
    } else if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      ++stats_.blank_lines;
    } else if (auto err = parser_.Parse(line, true, &SpareSlot())) {
      if (err->filtered) {
        ++stats_.filtered;
      } else {
        Reject(err->reason, fmt::format("{}:{}", src.origin, reader.line_number()), err->Message());
      }
    } else if (Interaction& parsed = slots_[spare_slot_];
               options_.now != kNoTime && options_.max_future_ms > 0 && parsed.ts > options_.now + options_.max_future_ms) {
      Reject(dg::Reject::kOutOfRange, fmt::format("{}:{}", src.origin, reader.line_number()),
             ParseError{dg::Reject::kOutOfRange, "ts",
                        fmt::format("{} is more than {} h after the scan's clock ({}; --now sets it)", FormatRfc3339(parsed.ts),
                                    options_.max_future_ms / kMsPerHour, FormatRfc3339(options_.now))}
                 .Message());
    } else if (DedupKey(parsed), dedup_.SeenBefore(dedup_key_)) {
      ++stats_.duplicates;
    } else {
      parsed.line = reader.line_number();
      parsed.source_index = src.index;
      Push(src, line.size());
      return true;
    }
  }
  return false;
}

bool IngestPipeline::ReadAll(Source& src) {
  while (ReadOne(src)) {
    if (src.heap.size() > options_.reorder_window) Release(src);
    while (held_bytes_ > options_.reorder_bytes && !src.heap.empty()) {
      ++stats_.reorder_overflow;
      Release(src);
    }
  }
  stats_.bytes += src.reader->bytes_consumed();
  src.reader.reset();
  UpdateLateByFile();
  return !stopped_;
}

namespace {
// std::push_heap keeps the largest first: "larger" = later.
struct Later {
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    if (a.ts != b.ts) return a.ts > b.ts;
    if (a.key != b.key) return a.key > b.key;
    return a.seq > b.seq;
  }
};
}  // namespace

bool IngestPipeline::AddFiles(const std::vector<std::string>& paths) {
  if (paths.size() == 1) return AddFile(paths[0]);
  if (stopped_) return false;
  while (!sequential_.heap.empty()) Release(sequential_);
  std::vector<std::unique_ptr<Source>> sources;
  for (const auto& path : paths) {
    ++stats_.files;
    auto reader = LineReader::Open(path, options_.max_line_bytes);
    if (!reader.ok()) {
      Reject(dg::Reject::kIoError, path, std::string(StatusMessage(reader.status())));
      if (stopped_) return false;
      continue;
    }
    auto src = std::make_unique<Source>();
    src->reader = std::move(*reader);
    src->origin = path == "-" ? "<stdin>" : path;
    src->index = NewOrigin(src->origin);
    sources.push_back(std::move(src));
  }
  // Keeps a source's heap one past its window (as ReadAll does), so the
  // head is the earliest of window + 1 of its records.
  auto fill = [&](Source& s) {
    while (!s.done && s.heap.size() <= options_.reorder_window) {
      if (!ReadOne(s)) s.done = true;
    }
  };
  auto earliest = [&]() -> Source* {
    Source* best = nullptr;
    for (auto& s : sources) {
      if (s->heap.empty()) continue;
      if (best == nullptr || Later{}(best->heap.front(), s->heap.front())) best = s.get();
    }
    return best;
  };
  for (auto& s : sources) {
    if (stopped_) break;
    // Filling every file's window first could exceed the byte cap: release
    // the earliest as it goes (counted) rather than hold more.
    while (!s->done && s->heap.size() <= options_.reorder_window) {
      if (!ReadOne(*s)) s->done = true;
      while (held_bytes_ > options_.reorder_bytes) {
        ++stats_.reorder_overflow;
        Release(*earliest());
      }
    }
  }
  while (!stopped_) {
    Source* s = earliest();
    if (s == nullptr) break;
    Release(*s);
    fill(*s);
    while (held_bytes_ > options_.reorder_bytes) {
      ++stats_.reorder_overflow;
      Release(*earliest());
    }
  }
  for (auto& s : sources) {
    if (s->reader) stats_.bytes += s->reader->bytes_consumed();
    while (!s->heap.empty()) Release(*s);  // only after a strict stop
  }
  UpdateLateByFile();
  return !stopped_;
}

Interaction& IngestPipeline::SpareSlot() {
  if (spare_slot_ == kNoSlot) {
    if (free_slots_.empty()) {
      spare_slot_ = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    } else {
      spare_slot_ = free_slots_.back();
      free_slots_.pop_back();
    }
  }
  return slots_[spare_slot_];
}

void IngestPipeline::DedupKey(const Interaction& in) {
  dedup_key_.assign(in.account_id);
  dedup_key_.push_back('\x1f');
  dedup_key_.append(in.request_id);
}

void IngestPipeline::Push(Source& src, size_t bytes) {
  ++stats_.accepted;
  const uint32_t slot = spare_slot_;
  spare_slot_ = kNoSlot;
  Interaction& in = slots_[slot];
  in.seq = arrival_seq_++;
  const uint64_t key = Hash64(in.request_id, Hash64(in.account_id, 0x0de7));
  const auto b = static_cast<uint32_t>(std::min<size_t>(bytes, UINT32_MAX));
  src.heap.push_back({in.ts, key, in.seq, slot, b});
  std::push_heap(src.heap.begin(), src.heap.end(), Later{});
  held_bytes_ += b;
}

void IngestPipeline::Release(Source& src) {
  std::pop_heap(src.heap.begin(), src.heap.end(), Later{});
  const HeapEntry next = src.heap.back();
  src.heap.pop_back();
  held_bytes_ -= next.bytes;
  Interaction& in = slots_[next.slot];
  if (released_until_ != kNoTime && in.ts < released_until_) {
    ++stats_.late;
    if (in.source_index >= 1 && in.source_index <= late_by_source_.size()) ++late_by_source_[in.source_index - 1];
  }
  released_until_ = std::max(released_until_, in.ts);
  sink_(in);
  free_slots_.push_back(next.slot);
}

void IngestPipeline::Flush() {
  while (!sequential_.heap.empty()) Release(sequential_);
  UpdateLateByFile();
}

void IngestPipeline::UpdateLateByFile() {
  stats_.late_by_file.clear();
  for (size_t idx = 0; idx < origins_.size(); ++idx) {
    if (late_by_source_[idx] > 0) stats_.late_by_file.emplace_back(origins_[idx], late_by_source_[idx]);
  }
}

}  // namespace dg
