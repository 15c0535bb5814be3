// The analyst console's static files (web/ built by Vite into one
// index.html and hashed assets), compiled into the binary at build time by
// scripts/embed_console.py (CMakeLists.txt, target dg_console_assets): each
// file gzip-compressed, served as is to browsers that accept gzip and
// inflated for the others. No file is read from disk at run time and
// nothing is fetched from the network. When the build machine had no
// web/node_modules (scripts/install-deps.sh installs them), the table holds
// one page saying so (placeholder() true).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace dg {

struct ConsoleAsset {
  std::string_view path;          // "index.html", "assets/index-1a2b3c.js"
  std::string_view content_type;
  const unsigned char* gzip;      // the file, gzip-compressed
  size_t gzip_size;
  size_t size;                    // uncompressed
};

std::span<const ConsoleAsset> ConsoleAssets();
bool ConsoleAssetsPlaceholder();

}  // namespace dg
