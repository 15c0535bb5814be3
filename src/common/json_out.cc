#include "common/json_out.h"

namespace dg {

namespace {
// Length of the valid UTF-8 sequence starting at s[pos], or 0 if invalid.
size_t Utf8SeqLen(std::string_view s, size_t pos) {
  const auto c = static_cast<unsigned char>(s[pos]);
  size_t len;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) len = 3;
  else if (c >= 0xF0 && c <= 0xF4) len = 4;
  else return 0;
  if (pos + len > s.size()) return 0;
  for (size_t idx = 1; idx < len; ++idx) {
    if ((static_cast<unsigned char>(s[pos + idx]) & 0xC0) != 0x80) return 0;
  }
  return len;
}
}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run_start = 0;
  size_t pos = 0;
  auto flush = [&] { out.append(s.data() + run_start, pos - run_start); };
  while (pos < s.size()) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++pos;
      continue;
    }
    if (c >= 0x80) {
      const size_t len = Utf8SeqLen(s, pos);
      if (len > 0) {
        pos += len;
        continue;
      }
      flush();
      out.append("\xEF\xBF\xBD");
      ++pos;
      run_start = pos;
      continue;
    }
    flush();
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    ++pos;
    run_start = pos;
  }
  flush();
  out.push_back('"');
}

void AppendHtmlEscaped(std::string& out, std::string_view s) {
  for (const char c : s) {
    switch (c) {
      case '&': out.append("&amp;"); break;
      case '<': out.append("&lt;"); break;
      case '>': out.append("&gt;"); break;
      case '"': out.append("&quot;"); break;
      case '\'': out.append("&#39;"); break;
      default: out.push_back(c);
    }
  }
}

}  // namespace dg
