#include "ingest/line_reader.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <fmt/format.h>

#include "common/pipe.h"

namespace dg {

// A stream of decompressed bytes.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to n bytes; returns bytes read, 0 at end. On error returns 0
  // and sets error().
  virtual size_t Read(char* out, size_t n) = 0;
  virtual const char* kind() const = 0;
  const absl::Status& error() const { return error_; }

 protected:
  absl::Status error_;
};

namespace {

constexpr size_t kChunk = 1u << 20;

// Raw bytes of a file descriptor, with a few bytes of look-ahead given back.
class FdSource {
 public:
  FdSource(int fd, bool owned, std::string name) : fd_(fd), owned_(owned), name_(std::move(name)) {}
  ~FdSource() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  // Returns bytes read, 0 at EOF, -1 on error (with *error set).
  ssize_t Read(char* out, size_t n, absl::Status* error) {
    if (!pushback_.empty()) {
      const size_t take = std::min(n, pushback_.size() - pushback_pos_);
      std::memcpy(out, pushback_.data() + pushback_pos_, take);
      pushback_pos_ += take;
      if (pushback_pos_ == pushback_.size()) pushback_.clear();
      return static_cast<ssize_t>(take);
    }
    for (;;) {
      const ssize_t got = ::read(fd_, out, n);
      if (got >= 0) return got;
      const int err = errno;
      if (err == EINTR) continue;
      *error = FileError(err, fmt::format("{}: read error: {}", name_, std::strerror(err)));
      return -1;
    }
  }
  void Unread(std::string bytes) {
    pushback_ = std::move(bytes);
    pushback_pos_ = 0;
  }
  const std::string& name() const { return name_; }

 private:
  int fd_;
  bool owned_;
  std::string name_;
  std::string pushback_;
  size_t pushback_pos_ = 0;
};

class PlainSource final : public ByteSource {
 public:
  explicit PlainSource(std::unique_ptr<FdSource> fd) : fd_(std::move(fd)) {}
  size_t Read(char* out, size_t n) override {
    const ssize_t got = fd_->Read(out, n, &error_);
    return got < 0 ? 0 : static_cast<size_t>(got);
  }
  const char* kind() const override { return "plain"; }

 private:
  std::unique_ptr<FdSource> fd_;
};

class GzipSource final : public ByteSource {
 public:
  explicit GzipSource(std::unique_ptr<FdSource> fd) : fd_(std::move(fd)), in_(kChunk) {
    std::memset(&zs_, 0, sizeof(zs_));
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) error_ = absl::InternalError(fd_->name() + ": cannot initialise gzip decoder");
  }
  ~GzipSource() override { inflateEnd(&zs_); }
  size_t Read(char* out, size_t n) override {
    if (!error_.ok() || done_) return 0;
    zs_.next_out = reinterpret_cast<Bytef*>(out);
    zs_.avail_out = static_cast<uInt>(n);
    while (zs_.avail_out == n) {
      if (zs_.avail_in == 0) {
        const ssize_t got = fd_->Read(in_.data(), in_.size(), &error_);
        if (got < 0) return 0;
        if (got == 0) {
          if (!at_member_end_) error_ = absl::InvalidArgumentError(fd_->name() + ": truncated gzip stream (unexpected end of file)");
          done_ = true;
          return n - zs_.avail_out;
        }
        zs_.next_in = reinterpret_cast<Bytef*>(in_.data());
        zs_.avail_in = static_cast<uInt>(got);
      }
      if (at_member_end_) {  // another gzip member follows (concatenated .gz)
        inflateReset(&zs_);
        at_member_end_ = false;
      }
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        at_member_end_ = true;
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        error_ = absl::InvalidArgumentError(fmt::format("{}: corrupt gzip stream ({})", fd_->name(), zs_.msg ? zs_.msg : "inflate error"));
        return n - zs_.avail_out;
      }
    }
    return n - zs_.avail_out;
  }
  const char* kind() const override { return "gzip"; }

 private:
  std::unique_ptr<FdSource> fd_;
  std::vector<char> in_;
  z_stream zs_;
  bool at_member_end_ = false;
  bool done_ = false;
};

class ZstdSource final : public ByteSource {
 public:
  explicit ZstdSource(std::unique_ptr<FdSource> fd) : fd_(std::move(fd)), in_(ZSTD_DStreamInSize()) {
    ds_ = ZSTD_createDStream();
    ZSTD_initDStream(ds_);
  }
  ~ZstdSource() override { ZSTD_freeDStream(ds_); }
  size_t Read(char* out, size_t n) override {
    if (!error_.ok() || done_) return 0;
    ZSTD_outBuffer ob{out, n, 0};
    while (ob.pos == 0) {
      if (ib_.pos == ib_.size) {
        const ssize_t got = fd_->Read(in_.data(), in_.size(), &error_);
        if (got < 0) return 0;
        if (got == 0) {
          if (last_ret_ != 0) error_ = absl::InvalidArgumentError(fd_->name() + ": truncated zstd stream (unexpected end of file)");
          done_ = true;
          return ob.pos;
        }
        ib_ = ZSTD_inBuffer{in_.data(), static_cast<size_t>(got), 0};
      }
      const size_t ret = ZSTD_decompressStream(ds_, &ob, &ib_);
      if (ZSTD_isError(ret)) {
        error_ = absl::InvalidArgumentError(fmt::format("{}: corrupt zstd stream ({})", fd_->name(), ZSTD_getErrorName(ret)));
        return ob.pos;
      }
      last_ret_ = ret;
    }
    return ob.pos;
  }
  const char* kind() const override { return "zstd"; }

 private:
  std::unique_ptr<FdSource> fd_;
  std::vector<char> in_;
  ZSTD_DStream* ds_;
  ZSTD_inBuffer ib_{nullptr, 0, 0};
  size_t last_ret_ = 0;
  bool done_ = false;
};

class StringSource final : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  size_t Read(char* out, size_t n) override {
    const size_t take = std::min(n, data_.size() - pos_);
    std::memcpy(out, data_.data() + pos_, take);
    pos_ += take;
    return take;
  }
  const char* kind() const override { return "plain"; }

 private:
  std::string data_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path, size_t max_line_bytes) {
  int fd = 0;
  const bool is_stdin = path == "-";
  const std::string name = is_stdin ? "<stdin>" : path;
  if (!is_stdin) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      return FileError(err, fmt::format("{}: cannot open: {}", path, std::strerror(err)));
    }
  }
  EnlargeIfPipe(fd);
  auto raw = std::make_unique<FdSource>(fd, !is_stdin, name);
  // Sniff the magic bytes.
  std::string head(4, '\0');
  size_t have = 0;
  absl::Status error;
  while (have < head.size()) {
    const ssize_t got = raw->Read(head.data() + have, head.size() - have, &error);
    if (got < 0) return error;
    if (got == 0) break;
    have += static_cast<size_t>(got);
  }
  head.resize(have);
  const bool gz = have >= 2 && static_cast<unsigned char>(head[0]) == 0x1f &&
                  static_cast<unsigned char>(head[1]) == 0x8b;
  const bool zst = have >= 4 && static_cast<unsigned char>(head[0]) == 0x28 &&
                   static_cast<unsigned char>(head[1]) == 0xb5 &&
                   static_cast<unsigned char>(head[2]) == 0x2f &&
                   static_cast<unsigned char>(head[3]) == 0xfd;
  raw->Unread(std::move(head));
  std::unique_ptr<ByteSource> src;
  if (gz) src = std::make_unique<GzipSource>(std::move(raw));
  else if (zst) src = std::make_unique<ZstdSource>(std::move(raw));
  else src = std::make_unique<PlainSource>(std::move(raw));
  if (!src->error().ok()) return src->error();
  return std::unique_ptr<LineReader>(new LineReader(std::move(src), max_line_bytes));
}

std::unique_ptr<LineReader> LineReader::FromString(std::string data, size_t max_line_bytes) {
  return std::unique_ptr<LineReader>(
      new LineReader(std::make_unique<StringSource>(std::move(data)), max_line_bytes));
}

LineReader::LineReader(std::unique_ptr<ByteSource> src, size_t max_line_bytes)
    : src_(std::move(src)), max_line_bytes_(max_line_bytes) {
  buf_.resize(std::max(max_line_bytes_, kChunk) + kChunk + kLinePadding);
}

LineReader::~LineReader() = default;

const char* LineReader::compression() const { return src_->kind(); }

bool LineReader::Fill() {
  if (eof_) return false;
  if (begin_ > 0) {  // compact
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  const size_t room = buf_.size() - kLinePadding - end_;
  if (room == 0) return true;  // caller handles a full buffer
  const size_t got = src_->Read(buf_.data() + end_, std::min(room, kChunk));
  if (got == 0) {
    eof_ = true;
    if (!src_->error().ok()) error_ = src_->error();
    return false;
  }
  end_ += got;
  return true;
}

LineReader::Status LineReader::Next(std::string_view* line) {
  size_t scan_from = begin_;
  bool skipping = false;
  for (;;) {
    const char* nl = static_cast<const char*>(
        std::memchr(buf_.data() + scan_from, '\n', end_ - scan_from));
    if (nl != nullptr) {
      const size_t nl_pos = static_cast<size_t>(nl - buf_.data());
      ++line_number_;
      const size_t start = begin_;
      bytes_out_ += nl_pos + 1 - start;
      begin_ = nl_pos + 1;
      if (skipping) return Status::kTooLong;
      size_t len = nl_pos - start;
      if (len > 0 && buf_[start + len - 1] == '\r') --len;
      if (len > max_line_bytes_) return Status::kTooLong;
      *line = std::string_view(buf_.data() + start, len);
      return Status::kLine;
    }
    // No newline in the buffered data.
    if (end_ - begin_ > max_line_bytes_) {  // drop what we have, keep skipping
      bytes_out_ += end_ - begin_;
      begin_ = end_ = 0;
      skipping = true;
    }
    const size_t scanned = end_ - begin_;
    if (!Fill()) {
      if (!error_.ok()) {
        ++line_number_;  // the error is at the line being read
        begin_ = end_ = 0;
        return Status::kError;
      }
      if (begin_ == end_ && !skipping) return Status::kEof;
      // Last line without a trailing newline.
      ++line_number_;
      const size_t start = begin_;
      bytes_out_ += end_ - start;
      begin_ = end_;
      if (skipping) return Status::kTooLong;
      std::memset(buf_.data() + end_, 0, kLinePadding);
      size_t len = end_ - start;
      if (len > 0 && buf_[start + len - 1] == '\r') --len;
      *line = std::string_view(buf_.data() + start, len);
      return Status::kLine;
    }
    scan_from = begin_ + scanned;
  }
}

}  // namespace dg
