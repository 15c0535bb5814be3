#include "content/redact.h"

#include <array>

namespace dg {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return IsUpper(c) || IsLower(c); }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsKeyChar(char c) { return IsAlnum(c) || c == '_' || c == '-'; }
bool IsBase64Url(char c) { return IsKeyChar(c); }
bool IsUpperOrDigit(char c) { return IsUpper(c) || IsDigit(c); }
char Lower(char c) { return IsUpper(c) ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
// Token boundaries: whitespace and the punctuation of JSON, code and prose
// that never belongs to a secret.
bool IsSeparator(char c) {
  switch (c) {
    case '"': case '\'': case '`': case '{': case '}': case '[': case ']':
    case '(': case ')': case ',': case ';': case '<': case '>':
      return true;
    default:
      return IsSpace(c);
  }
}
bool IsAssign(char c) { return c == '=' || c == ':'; }

bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t idx = 0; idx < s.size(); ++idx) {
    if (Lower(s[idx]) != lower[idx]) return false;
  }
  return true;
}
bool EndsWithLower(std::string_view s, std::string_view lower) {
  return s.size() > lower.size() && EqualsLower(s.substr(s.size() - lower.size()), lower);
}
bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

template <typename Pred>
size_t Span(std::string_view s, size_t from, Pred pred) {
  size_t end = from;
  while (end < s.size() && pred(s[end])) ++end;
  return end - from;
}

// The token without leading / trailing markup (`*sk-...*.`, `#ghp_...`).
std::string_view Core(std::string_view t) {
  while (!t.empty() && !IsKeyChar(t.front())) t.remove_prefix(1);
  while (!t.empty() && !IsKeyChar(t.back())) t.remove_suffix(1);
  return t;
}

// A name whose value (after '=' or ':') is a secret: password=, pw=,
// pwd:, secret=, token=, api_key:, AWS_SECRET_ACCESS_KEY=, db_password=...
bool IsSecretName(std::string_view name) {
  name = Core(name);
  static constexpr std::array<std::string_view, 19> kNames = {
      "password", "passwd",  "pass",          "pwd",         "pw",         "passphrase", "secret",
      "token",    "apikey",  "api_key",       "api-key",     "key",        "auth",       "authorization",
      "bearer",   "private_key", "access_key", "client_secret", "credentials"};
  for (const auto n : kNames) {
    if (EqualsLower(name, n)) return true;
  }
  static constexpr std::array<std::string_view, 11> kSuffixes = {
      "_password", "-password", "_passwd", "_pwd", "_pass", "_secret", "-secret", "_token", "-token", "_key", "-key"};
  for (const auto s : kSuffixes) {
    if (EndsWithLower(name, s)) return true;
  }
  return false;
}

bool IsCvvName(std::string_view name) {
  name = Core(name);
  return EqualsLower(name, "cvv") || EqualsLower(name, "cvc") || EqualsLower(name, "cvv2") || EqualsLower(name, "cvc2") ||
         EqualsLower(name, "csc");
}

bool IsCvvValue(std::string_view v) {
  while (!v.empty() && (v.back() == '.' || v.back() == ':')) v.remove_suffix(1);
  return (v.size() == 3 || v.size() == 4) && Span(v, 0, IsDigit) == v.size();
}

// A key recognised by its issuer's prefix, or a long mixed token.
bool IsKey(std::string_view v) {
  v = Core(v);
  auto body = [&](size_t from, auto pred) { return Span(v, from, pred); };
  auto has_digit = [](std::string_view s) { return s.find_first_of("0123456789") != std::string_view::npos; };
  if (StartsWith(v, "sk-")) {  // OpenAI (sk-, sk-proj-), Anthropic (sk-ant-): short ones too, not "sk-learn"
    const size_t n = body(3, IsKeyChar);
    if (n >= 6 && (n >= 20 || has_digit(v.substr(3, n)))) return true;
  }
  if (v.size() >= 5 && StartsWith(v, "xox") && std::string_view("abporse").find(v[3]) != std::string_view::npos && v[4] == '-' &&
      body(5, IsKeyChar) >= 6) {
    return true;  // Slack
  }
  for (const std::string_view p : {"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"}) {
    if (StartsWith(v, p) && body(p.size(), IsKeyChar) >= 16) return true;  // GitHub
  }
  if ((StartsWith(v, "AKIA") || StartsWith(v, "ASIA")) && body(4, IsUpperOrDigit) >= 16) return true;  // AWS access key id
  if (StartsWith(v, "AIza") && body(4, IsKeyChar) >= 30) return true;                                     // Google API key
  if (StartsWith(v, "eyJ")) {  // JWT: header.payload.signature, base64url
    const size_t h = Span(v, 0, IsBase64Url);
    if (h >= 10 && h < v.size() && v[h] == '.') {
      const size_t p = Span(v, h + 1, IsBase64Url);
      if (p >= 4 && h + 1 + p < v.size() && v[h + 1 + p] == '.') return true;
    }
  }
  // Long tokens of letters and digits (hex digests, other vendors' keys).
  size_t digits = 0, letters = 0, keychars = 0;
  for (const char c : v) {
    digits += IsDigit(c);
    letters += IsAlpha(c);
    keychars += IsKeyChar(c);
  }
  return v.size() >= 20 && digits > 0 && letters > 0 && keychars * 10 >= v.size() * 9;
}

// An e-mail address, also URL-encoded (jdoe%40example.com).
bool IsEmail(std::string_view t) {
  size_t at = t.find('@');
  size_t after = at + 1;
  if (at == std::string_view::npos) {
    for (size_t idx = 0; idx + 2 < t.size(); ++idx) {
      if (t[idx] == '%' && t[idx + 1] == '4' && t[idx + 2] == '0') {
        at = idx;
        after = idx + 3;
        break;
      }
    }
  }
  if (at == std::string_view::npos || at == 0) return false;
  const size_t dot = t.find('.', after);
  return dot != std::string_view::npos && dot > after && dot + 1 < t.size();
}

// An IBAN without spaces: country, check digits, 11-30 letters and digits,
// and the ISO 13616 mod-97 check.
bool IsIban(std::string_view t) {
  t = Core(t);
  if (t.size() < 15 || t.size() > 34 || !IsUpper(t[0]) || !IsUpper(t[1]) || !IsDigit(t[2]) || !IsDigit(t[3])) return false;
  if (Span(t, 0, IsUpperOrDigit) != t.size()) return false;
  unsigned rem = 0;
  for (size_t idx = 0; idx < t.size(); ++idx) {
    const char c = t[(idx + 4) % t.size()];
    rem = IsDigit(c) ? (rem * 10 + static_cast<unsigned>(c - '0')) % 97 : (rem * 100 + static_cast<unsigned>(c - 'A' + 10)) % 97;
  }
  return rem == 1;
}

enum class Pending { kNone, kAssign, kValue, kCvv, kBearer };

// Redacts one token; `pending` carries a secret name or cvv keyword over to
// the tokens after it (`"password": "x"`, `cvv 123`, `Bearer x`).
void RedactToken(std::string_view t, Pending& pending, std::string& out) {
  const Pending was = pending;
  pending = Pending::kNone;
  const bool only_assign = Span(t, 0, IsAssign) == t.size();
  switch (was) {
    case Pending::kAssign:
      if (only_assign) {
        pending = Pending::kValue;
        out.append(t);
        return;
      }
      if (IsAssign(t[0])) {  // password :hunter2
        const size_t n = Span(t, 0, IsAssign);
        out.append(t.substr(0, n));
        out += "[SECRET]";
        return;
      }
      break;
    case Pending::kValue:
      if (EqualsLower(t, "bearer") || EqualsLower(t, "basic") || EqualsLower(t, "token")) {
        pending = Pending::kValue;
        out.append(t);
        return;
      }
      out += "[SECRET]";
      return;
    case Pending::kCvv:
      if (only_assign) {
        pending = Pending::kCvv;
        out.append(t);
        return;
      }
      if (IsCvvValue(t)) {
        out += "[CVV]";
        return;
      }
      break;
    case Pending::kBearer:
      if (t.size() >= 8 && (t.size() >= 16 || t.find_first_of("0123456789") != std::string_view::npos)) {
        out += "[SECRET]";
        return;
      }
      break;
    case Pending::kNone:
      break;
  }
  // A URL with credentials or a query string.
  if (const size_t scheme = t.find("://"); scheme != std::string_view::npos &&
                                           t.find_first_of("?@", scheme) != std::string_view::npos) {
    out.append(t.substr(0, scheme + 3));
    out += "[URL]";
    return;
  }
  // name=value / name:value in the token.
  const size_t assign = t.find_first_of("=:");
  if (assign != std::string_view::npos && assign > 0) {
    const std::string_view name = t.substr(0, assign);
    const size_t n = Span(t, assign, IsAssign);
    const std::string_view value = t.substr(assign + n);
    if (IsSecretName(name)) {
      out.append(t.substr(0, assign + n));
      if (value.empty()) pending = Pending::kValue;
      else out += "[SECRET]";
      return;
    }
    if (IsCvvName(name)) {
      out.append(t.substr(0, assign + n));
      if (value.empty()) pending = Pending::kCvv;
      else out += IsCvvValue(value) ? "[CVV]" : std::string(value);
      return;
    }
  } else if (assign == std::string_view::npos) {
    if (EqualsLower(Core(t), "bearer")) {
      pending = Pending::kBearer;
      out.append(t);
      return;
    }
    if (IsCvvName(t)) {
      pending = Pending::kCvv;
      out.append(t);
      return;
    }
    if (IsSecretName(t) && Core(t).size() == t.size()) {
      pending = Pending::kAssign;
      out.append(t);
      return;
    }
  }
  // An e-mail address, the whole token or the value after its name.
  if (assign != std::string_view::npos && IsEmail(t.substr(assign + 1))) {
    out.append(t.substr(0, assign + 1));
    out += "[EMAIL]";
    return;
  }
  if (IsEmail(t)) {
    out += "[EMAIL]";
    return;
  }
  if (IsIban(t)) {  // before the long-token rule, which would call it a key
    out += "[IBAN]";
    return;
  }
  // Keys: what follows the token's first or last '=' / ':' (export
  // OPENAI=sk-..., url:AIza...), or the whole token.
  if (assign != std::string_view::npos) {
    const size_t last = t.find_last_of("=:");
    for (const size_t at : {assign, last}) {
      if (IsKey(t.substr(at + 1))) {
        out.append(t.substr(0, at + 1));
        out += "[KEY]";
        return;
      }
    }
  }
  if (IsKey(t)) {
    out += "[KEY]";
    return;
  }
  out.append(t);
}

bool LuhnValid(const std::array<char, 19>& digits, size_t n) {
  unsigned sum = 0;
  for (size_t idx = 0; idx < n; ++idx) {
    unsigned d = static_cast<unsigned>(digits[n - 1 - idx] - '0');
    if (idx % 2 == 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 == 0;
}

}  // namespace

std::string MaskNumberRuns(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (IsDigit(c) || c == '+') {
      size_t end = pos;
      size_t count = 0;
      size_t last_digit = pos;
      std::array<char, 19> digits{};
      while (end < text.size()) {
        const char d = text[end];
        if (IsDigit(d)) {
          if (count < digits.size()) digits[count] = d;
          ++count;
          last_digit = end;
        } else if (d != ' ' && d != '-' && d != '(' && d != ')' && d != '+' && d != '.') {
          break;
        }
        ++end;
      }
      if (count >= 13 && count <= 19 && LuhnValid(digits, count)) {
        out += "[CARD]";
        pos = last_digit + 1;
        continue;
      }
      if (count >= 9) {
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
  std::string_view text = raw.substr(0, 4 * max_len);
  bool cut = raw.size() > text.size();
  if (cut) {
    // Never judge half a token: drop the one the limit cut through.
    size_t end = text.size();
    while (end > 0 && !IsSeparator(text[end - 1])) --end;
    text = text.substr(0, end);
  }
  std::string tokens;
  tokens.reserve(text.size());
  Pending pending = Pending::kNone;
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (IsSeparator(c)) {
      tokens.push_back(IsSpace(c) ? ' ' : c);
      ++pos;
      continue;
    }
    size_t end = pos;
    while (end < text.size() && !IsSeparator(text[end])) ++end;
    RedactToken(text.substr(pos, end - pos), pending, tokens);
    pos = end;
  }
  // Secrets are masked by now, so a key's digits are never taken for a
  // phone number (xoxb-1234567890-... once left its secret half behind).
  std::string out = MaskNumberRuns(tokens);
  if (out.size() > max_len) {
    size_t n = max_len;
    while (n > 0 && (static_cast<unsigned char>(out[n]) & 0xC0) == 0x80) --n;  // a UTF-8 boundary
    // Not inside a placeholder: "[PHO" would read as text.
    const size_t open = out.rfind('[', n);
    if (open != std::string::npos && open + 10 > n && out.find(']', open) >= n) n = open;
    out.resize(n);
    cut = true;
  }
  if (cut) out += "...";
  return out;
}

}  // namespace dg
