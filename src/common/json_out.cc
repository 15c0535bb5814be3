#include "common/json_out.h"

#include <algorithm>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace dg {

size_t Utf8SequenceLength(std::string_view s, size_t pos) {
  const auto c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;       // overlong below U+0800
    else if (c == 0xED) hi = 0x9F;  // surrogates U+D800-U+DFFF
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;       // overlong below U+10000
    else if (c == 0xF4) hi = 0x8F;  // past U+10FFFF
  } else {
    return 0;  // continuation byte, C0/C1 overlong lead, or F5-FF
  }
  if (pos + len > s.size()) return 0;
  const auto b1 = static_cast<unsigned char>(s[pos + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t idx = 2; idx < len; ++idx) {
    if ((static_cast<unsigned char>(s[pos + idx]) & 0xC0) != 0x80) return 0;
  }
  return len;
}

namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// A two-byte sequence encoding a C1 control (U+0080-U+009F).
bool IsC1(std::string_view s, size_t pos, size_t len) {
  return len == 2 && static_cast<unsigned char>(s[pos]) == 0xC2 && static_cast<unsigned char>(s[pos + 1]) < 0xA0;
}

// Length of the prefix of s[pos..] made of bytes that go out as they are
// without a look: printable ASCII other than '"' and '\\'. Sixteen bytes at
// a time with SSE2 (every x86-64 has it): in a signed compare, bytes
// >= 0x80 are negative, so "< 0x20" catches them with the C0 controls.
size_t PlainAsciiRun(std::string_view s, size_t pos) {
  const size_t start = pos;
#ifdef __SSE2__
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i del = _mm_set1_epi8(0x7F);
  while (pos + 16 <= s.size()) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + pos));
    const __m128i special = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                         _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, del)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return pos + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask))) - start;
    pos += 16;
  }
#endif
  while (pos < s.size()) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7F) break;
    ++pos;
  }
  return pos - start;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t run_start = 0;
  size_t pos = 0;
  auto flush = [&] { out.append(s.data() + run_start, pos - run_start); };
  while (pos < s.size()) {
    pos += PlainAsciiRun(s, pos);
    if (pos == s.size()) break;
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7F) {
      ++pos;
      continue;
    }
    if (c >= 0x80) {
      const size_t len = Utf8SequenceLength(s, pos);
      if (len > 0 && !IsC1(s, pos, len)) {
        pos += len;
        continue;
      }
      flush();
      if (len == 0) {
        out.append(kReplacement);
        ++pos;
      } else {
        const auto cp = static_cast<unsigned char>(s[pos + 1]);  // C2 80-9F encodes U+0080-U+009F
        out.append("\\u00");
        out.push_back(kHex[cp >> 4]);
        out.push_back(kHex[cp & 0xF]);
        pos += 2;
      }
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
      default:  // C0 controls and DEL
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
  size_t pos = 0;
  while (pos < s.size()) {
    const char c = s[pos];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const size_t len = Utf8SequenceLength(s, pos);
      if (len == 0 || IsC1(s, pos, len)) {
        out.append(kReplacement);
        pos += len == 0 ? 1 : len;
      } else {
        out.append(s.data() + pos, len);
        pos += len;
      }
      continue;
    }
    switch (c) {
      case '&': out.append("&amp;"); break;
      case '<': out.append("&lt;"); break;
      case '>': out.append("&gt;"); break;
      case '"': out.append("&quot;"); break;
      case '\'': out.append("&#39;"); break;
      default:
        if ((u < 0x20 && c != '\t' && c != '\n') || u == 0x7F) out.append(kReplacement);
        else out.push_back(c);
    }
    ++pos;
  }
}

std::string LogSafe(std::string_view s, size_t max_bytes) {
  std::string out;
  const size_t n = std::min(s.size(), max_bytes);
  out.reserve(n + 8);
  auto hex = [&](unsigned char b) {
    out += "\\x";
    out += kHex[b >> 4];
    out += kHex[b & 15];
  };
  size_t pos = 0;
  while (pos < n) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7F || c == '\\') hex(c);
      else out.push_back(static_cast<char>(c));
      ++pos;
      continue;
    }
    const size_t len = Utf8SequenceLength(s.substr(0, n), pos);
    if (len == 0 || IsC1(s, pos, len)) {
      const size_t bad = len == 0 ? 1 : len;
      for (size_t idx = 0; idx < bad; ++idx) hex(static_cast<unsigned char>(s[pos + idx]));
      pos += bad;
    } else {
      out.append(s.data() + pos, len);
      pos += len;
    }
  }
  if (s.size() > n) out += "...";
  return out;
}

}  // namespace dg
