#include "content/redact.h"

namespace dg {
namespace {

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

// Replaces runs of digits, spaces, '+', '-', '(' and ')' that hold at least
// nine digits (phone numbers, also written with spaces) by [PHONE].
std::string MaskPhoneRuns(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if ((c >= '0' && c <= '9') || c == '+') {
      size_t end = pos;
      size_t digits = 0;
      size_t last_digit = pos;
      while (end < text.size()) {
        const char d = text[end];
        if (d >= '0' && d <= '9') {
          ++digits;
          last_digit = end;
        } else if (d != ' ' && d != '-' && d != '(' && d != ')' && d != '+' && d != '.') {
          break;
        }
        ++end;
      }
      if (digits >= 9) {
        out += "[PHONE]";
        pos = last_digit + 1;
        continue;
      }
      out.append(text.substr(pos, last_digit + 1 - pos));
      pos = last_digit + 1;
      continue;
    }
    out.push_back(c);
    ++pos;
  }
  return out;
}

std::string RedactSample(std::string_view raw, size_t max_len) {
  const std::string masked = MaskPhoneRuns(raw.substr(0, 4 * max_len));
  const std::string_view text = masked;
  std::string out;
  size_t pos = 0;
  while (pos < text.size() && out.size() < max_len) {
    // Take a whitespace-delimited word.
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\t') ++end;
    const std::string_view word = text.substr(pos, end - pos);
    size_t digits = 0, letters = 0, keychars = 0;
    for (const char c : word) {
      digits += (c >= '0' && c <= '9');
      letters += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      keychars += IsKeyChar(c);
    }
    if (word.find('@') != std::string_view::npos && word.find('.') != std::string_view::npos) {
      out += "[EMAIL]";
    } else if (word.find("://") != std::string_view::npos &&
               (word.find('?') != std::string_view::npos || word.find('@') != std::string_view::npos)) {
      out += std::string(word.substr(0, word.find("://") + 3)) + "[URL]";
    } else if (word.size() >= 20 && digits > 0 && letters > 0 && keychars * 10 >= word.size() * 9) {
      out += "[KEY]";
    } else {
      out.append(word);
    }
    if (end < text.size()) out.push_back(' ');
    pos = end + 1;
  }
  if (out.size() > max_len) out.resize(max_len);
  if (pos < text.size() || raw.size() > 4 * max_len) out += "...";
  return out;
}

}  // namespace dg
