#include "common/zstd_writer.h"

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace dg {

absl::StatusOr<std::unique_ptr<ZstdFileWriter>> ZstdFileWriter::Create(const std::string& path, int level) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  if (cctx == nullptr) return absl::ResourceExhaustedError("zstd: cannot create a compression context");
  const size_t set = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (ZSTD_isError(set) || level < 1 || level > 19) {
    ZSTD_freeCCtx(cctx);
    return absl::InvalidArgumentError(fmt::format("zstd: compression level {} out of range 1..19", level));
  }
  // One worker thread: compression overlaps with the producer. A library
  // built without threads refuses, and then compresses in the caller.
  (void)ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, 1);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    ZSTD_freeCCtx(cctx);
    return absl::InvalidArgumentError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
  return std::unique_ptr<ZstdFileWriter>(new ZstdFileWriter(file, cctx, path));
}

ZstdFileWriter::ZstdFileWriter(std::FILE* file, ZSTD_CCtx* cctx, std::string path)
    : file_(file), cctx_(cctx), path_(std::move(path)), out_(ZSTD_CStreamOutSize()) {}

ZstdFileWriter::~ZstdFileWriter() {
  if (file_ != nullptr) std::fclose(file_);
  ZSTD_freeCCtx(cctx_);
}

bool ZstdFileWriter::Drain(ZSTD_inBuffer* in, ZSTD_EndDirective mode) {
  for (;;) {
    ZSTD_outBuffer out{out_.data(), out_.size(), 0};
    const size_t left = ZSTD_compressStream2(cctx_, &out, in, mode);
    if (ZSTD_isError(left)) {
      error_ = fmt::format("{}: zstd: {}", path_, ZSTD_getErrorName(left));
      return false;
    }
    if (out.pos > 0 && std::fwrite(out_.data(), 1, out.pos, file_) != out.pos) {
      error_ = fmt::format("cannot write {}: {}", path_, std::strerror(errno));
      return false;
    }
    // ZSTD_e_continue: done when the input is consumed; ZSTD_e_end: when
    // the frame is complete (left == 0).
    if (mode == ZSTD_e_end ? left == 0 : in->pos == in->size) return true;
  }
}

bool ZstdFileWriter::Write(std::string_view data) {
  if (!error_.empty() || file_ == nullptr) return false;
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  return Drain(&in, ZSTD_e_continue);
}

bool ZstdFileWriter::Close() {
  if (file_ == nullptr) return error_.empty();
  ZSTD_inBuffer in{nullptr, 0, 0};
  bool ok = error_.empty() && Drain(&in, ZSTD_e_end);
  if (std::fclose(file_) != 0 && ok) {
    error_ = fmt::format("cannot write {}: {}", path_, std::strerror(errno));
    ok = false;
  }
  file_ = nullptr;
  return ok;
}

}  // namespace dg
