#include "serve/request_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

#include "common/hash.h"

namespace dg {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walk the longer length so the time does not reveal a common prefix;
  // the length difference itself is folded into the result.
  const size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | (x ^ y);
  }
  return diff == 0;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  std::string_view s = Trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (s.size() <= kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (static_cast<char>(std::tolower(static_cast<unsigned char>(s[i]))) != kScheme[i]) return std::nullopt;
  }
  if (s[kScheme.size()] != ' ' && s[kScheme.size()] != '\t') return std::nullopt;
  s = Trim(s.substr(kScheme.size()));
  if (s.empty()) return std::nullopt;
  return s;
}

AuthRole RoleOf(const Tokens& tokens, std::string_view authorization) {
  const auto token = BearerToken(authorization);
  if (!token) return AuthRole::kNone;
  // Both compares run whatever the first answers.
  const bool analyst = !tokens.analyst.empty() && ConstantTimeEquals(*token, tokens.analyst);
  const bool gateway = !tokens.gateway.empty() && ConstantTimeEquals(*token, tokens.gateway);
  if (analyst) return AuthRole::kAnalyst;
  if (gateway) return AuthRole::kGateway;
  return AuthRole::kNone;
}

std::string ClientAddress(std::string_view xff, int trusted_hops) {
  if (trusted_hops < 1) trusted_hops = 1;
  // Walk from the right: entry k (1-based from the right) is the one the
  // k-th proxy from us appended.
  std::string_view rest = xff;
  std::string_view entry;
  for (int k = 0; k < trusted_hops; ++k) {
    const size_t comma = rest.rfind(',');
    if (comma == std::string_view::npos) {
      entry = rest;  // fewer entries than hops: the leftmost
      break;
    }
    entry = rest.substr(comma + 1);
    rest = rest.substr(0, comma);
  }
  return NormalizeIp(entry);
}

std::string NormalizeIp(std::string_view ip) {
  ip = Trim(ip);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (ip.find(':') == std::string_view::npos || ip.size() >= INET6_ADDRSTRLEN) return std::string(ip);
  char buf[INET6_ADDRSTRLEN] = {};
  std::copy(ip.begin(), ip.end(), buf);
  in6_addr a6{};
  if (inet_pton(AF_INET6, buf, &a6) != 1 || !IN6_IS_ADDR_V4MAPPED(&a6)) return std::string(ip);
  char out[INET_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET, &a6.s6_addr[12], out, sizeof(out)) == nullptr) return std::string(ip);
  return out;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      if (in[i] == '\0') return false;  // no id holds a NUL, raw or escaped
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;  // truncated
    const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    const char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return false;
    out->push_back(c);
    i += 2;
  }
  return true;
}

std::string Printable(std::string_view s, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  const size_t n = std::min(s.size(), max_bytes);
  out.reserve(n + 8);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > n) out += "...";
  return out;
}

RateLimiter::RateLimiter(double rate_per_s, double burst, size_t capacity)
    : rate_(rate_per_s > 0 ? rate_per_s : 1e-9), burst_(std::max(1.0, burst)), capacity_(std::max<size_t>(1, capacity)) {}

std::optional<double> RateLimiter::Take(std::string_view key, double now_s) {
  const uint64_t h = Hash64(key, 0x7468726f74746c65ULL);
  auto it = buckets_.find(h);
  if (it == buckets_.end()) {
    if (buckets_.size() >= capacity_) {
      absl::erase_if(buckets_, [&](const auto& kv) {
        return kv.second.tokens + (now_s - kv.second.at_s) * rate_ >= burst_;
      });
      if (buckets_.size() >= capacity_) buckets_.clear();
    }
    it = buckets_.emplace(h, Bucket{burst_, now_s}).first;
  }
  Bucket& b = it->second;
  if (now_s > b.at_s) {
    b.tokens = std::min(burst_, b.tokens + (now_s - b.at_s) * rate_);
    b.at_s = now_s;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  return (1.0 - b.tokens) / rate_;
}

}  // namespace dg
