#include "serve/body_codec.h"

#include <zlib.h>

#include <fmt/format.h>
#include <simdjson.h>

namespace dg {
namespace {

std::string_view TrimSpace(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.front() == '\r' || v.front() == '\n')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t' || v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
  return v;
}

// Inflates gzip (window_bits 16+15) or zlib/deflate (32+15 auto-detects
// both) into *out, at most `cap` bytes: InvalidArgument for data that is
// not a compressed stream, PayloadTooLarge past the cap.
absl::Status Inflate(std::string_view in, int window_bits, size_t cap, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return absl::InternalError("cannot start the decompressor");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  out->clear();
  int rc = Z_OK;
  char buf[64 * 1024];
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return absl::InvalidArgumentError(fmt::format("body is not valid compressed data ({})", zs.msg != nullptr ? zs.msg : "truncated"));
    }
    const size_t got = sizeof(buf) - zs.avail_out;
    if (out->size() + got > cap) {
      inflateEnd(&zs);
      out->clear();
      return PayloadTooLargeError(fmt::format("decompressed body exceeds {} bytes", cap));
    }
    out->append(buf, got);
    if (rc == Z_OK && got == 0 && zs.avail_in == 0) {  // input ended before the stream did
      inflateEnd(&zs);
      return absl::InvalidArgumentError("body is not valid compressed data (truncated)");
    }
    if (rc == Z_STREAM_END && zs.avail_in > 0) {
      // Concatenated gzip members (RFC 1952 allows them): continue.
      if (inflateReset(&zs) != Z_OK) break;
      rc = Z_OK;
    }
  }
  inflateEnd(&zs);
  return absl::OkStatus();
}

}  // namespace

DecodedBody DecodeEventsBody(std::string_view body, std::string_view content_encoding, size_t max_inflated) {
  DecodedBody d;
  std::string enc(TrimSpace(content_encoding));
  for (auto& c : enc) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view text = body;
  if (enc == "gzip" || enc == "x-gzip" || enc == "deflate") {
    std::string inflated;
    d.status = Inflate(body, enc == "deflate" ? 32 + 15 : 16 + 15, max_inflated, &inflated);
    if (!d.status.ok()) return d;
    d.owned = std::move(inflated);
    d.made = true;
    text = d.owned;
  } else if (!enc.empty() && enc != "identity") {
    d.status = UnsupportedMediaTypeError(fmt::format("unsupported Content-Encoding '{}' (gzip, deflate or identity)", enc.substr(0, 40)));
    return d;
  }
  std::string_view start = text;
  if (start.substr(0, 3) == "\xEF\xBB\xBF") start.remove_prefix(3);
  start = TrimSpace(start);
  if (start.empty() || start.front() != '[') return d;
  // One JSON array of records: each element becomes a line.
  simdjson::dom::parser parser;
  simdjson::dom::array arr;
  if (const auto ec = parser.parse(start.data(), start.size()).get(arr); ec != simdjson::SUCCESS) {
    d.status = absl::InvalidArgumentError(fmt::format("body starts with '[' but is not a JSON array: {}", simdjson::error_message(ec)));
    return d;
  }
  std::string lines;
  lines.reserve(start.size());
  for (simdjson::dom::element el : arr) {
    lines += simdjson::minify(el);  // minified JSON has no newline
    lines.push_back('\n');
  }
  d.owned = std::move(lines);
  d.made = true;
  return d;
}

}  // namespace dg
