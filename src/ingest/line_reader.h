// LineReader: lines of a JSONL input from a file or standard input ("-"),
// plain, gzip or zstd (detected from the first bytes, not the file name).
//
// Each line is returned as a view into an internal buffer, valid until the
// next call, with at least kLinePadding readable bytes after it (what
// simdjson needs to parse in place). Lines longer than max_line_bytes are
// skipped whole and reported as kTooLong; a truncated or corrupt compressed
// stream (InvalidArgument) or a failed read (Unavailable) ends the file with
// kError and error(). Memory: one buffer of
// about max(max_line_bytes, 1 MiB). Cost: one memchr per byte, plus
// decompression.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dg {

inline constexpr size_t kLinePadding = 64;
inline constexpr size_t kDefaultMaxLineBytes = 16u << 20;  // 16 MiB

class ByteSource;

class LineReader {
 public:
  enum class Status { kLine, kEof, kTooLong, kError };

  // Opens path ("-" = standard input). On failure a status naming the file
  // (NotFound, PermissionDenied or Unavailable from errno: FileError).
  static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path, size_t max_line_bytes);
  // For tests and the HTTP ingest: lines of an in-memory buffer.
  static std::unique_ptr<LineReader> FromString(std::string data, size_t max_line_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;  // owns a file descriptor and decoder state
  LineReader& operator=(const LineReader&) = delete;

  Status Next(std::string_view* line);
  // 1-based number of the line last returned (or being skipped).
  uint64_t line_number() const { return line_number_; }
  // Why the last Next() returned kError (its message names the file).
  const absl::Status& error() const { return error_; }
  // "gzip", "zstd" or "plain".
  const char* compression() const;
  uint64_t bytes_consumed() const { return bytes_out_; }

 private:
  LineReader(std::unique_ptr<ByteSource> src, size_t max_line_bytes);
  bool Fill();  // reads more bytes; false at EOF or error

  std::unique_ptr<ByteSource> src_;
  size_t max_line_bytes_;
  std::vector<char> buf_;
  size_t begin_ = 0;  // start of unread data
  size_t end_ = 0;    // end of valid data
  uint64_t line_number_ = 0;
  uint64_t bytes_out_ = 0;
  bool eof_ = false;
  absl::Status error_;
};

}  // namespace dg
