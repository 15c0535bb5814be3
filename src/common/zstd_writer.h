// A zstd-compressed output file (`simulate --out FILE.zst`): bytes go in
// through Write, a standard zstd frame comes out, which `scan FILE.zst`
// (and the zstd CLI) reads back.
//
// Streaming (libzstd ZSTD_compressStream2): memory is the compressor's
// window and buffers (a few MB at the default level 3), whatever the size
// of the stream. The compression runs on one libzstd worker thread when
// the library has them (Debian's does), so it overlaps with the producer;
// cost ~4 ns a byte of input (~250 MB/s) of that thread at level 3, 8-10:1
// on simulated traffic (BENCHMARKS.md "simulate (#21)").
#pragma once

#include <zstd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dg {

class ZstdFileWriter {
 public:
  // Creates (truncates) `path`. InvalidArgument when the file cannot be
  // created or the compressor refuses `level` (1..19).
  static absl::StatusOr<std::unique_ptr<ZstdFileWriter>> Create(const std::string& path, int level = 3);
  ~ZstdFileWriter();  // closes without finishing the frame when Close was not called
  ZstdFileWriter(const ZstdFileWriter&) = delete;  // owns a FILE and a ZSTD_CCtx
  ZstdFileWriter& operator=(const ZstdFileWriter&) = delete;

  // Compresses `data` into the file. False on a write or compression error
  // (then error() says which); every later call fails too.
  bool Write(std::string_view data);
  // Ends the frame, flushes and closes the file. False on an error.
  bool Close();
  const std::string& error() const { return error_; }

 private:
  ZstdFileWriter(std::FILE* file, ZSTD_CCtx* cctx, std::string path);
  bool Drain(ZSTD_inBuffer* in, ZSTD_EndDirective mode);

  std::FILE* file_;
  ZSTD_CCtx* cctx_;
  std::string path_;
  std::vector<char> out_;
  std::string error_;
};

}  // namespace dg
