// RequestGuard: what serve's HTTP front end trusts in a request, as small
// pure functions apart from the network code so that unit tests and fuzzers
// reach them directly (docs/THREAT_MODEL.md maps each to its threat).
//
//   BearerToken / RoleOf   "Authorization: Bearer X" (scheme case-insensitive)
//                          -> the role of X, compared in constant time
//   ClientAddress          the client address from X-Forwarded-For: the
//                          entry the trusted proxy appended (N-th from the
//                          right), never the client-written leftmost one
//   NormalizeIp            IPv4-mapped IPv6 -> IPv4 (::ffff:1.2.3.4 -> 1.2.3.4)
//   PercentDecode          path ids (bob%20smith); false on a bad escape or a NUL
//   Printable              a request field made safe for a log line
//   RateLimiter            token bucket per key (throttle as a rate)
//
// Costs: every function is O(input length), no allocation beyond its
// result; RateLimiter is O(1) per call and holds at most `capacity` keys
// (~40 B each). Nothing here recurses or throws on hostile input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

namespace dg {

// True when a and b are equal; the time taken depends only on the lengths
// (never on where they first differ), so a token cannot be guessed byte by
// byte from response times.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The credentials of "Bearer <token>" (any case of "bearer", spaces or tabs
// around the token), or nullopt for another scheme or an empty token.
std::optional<std::string_view> BearerToken(std::string_view authorization);

enum class AuthRole { kNone, kGateway, kAnalyst };

// The configured secrets. Empty: that role has no token. `--token-file`
// sets both to one token (one token for every role).
struct Tokens {
  std::string gateway;  // /v1/check, ext_authz, /v1/events
  std::string analyst;  // analyst reads, overrides, indicators (and gateway routes)
  bool any() const { return !gateway.empty() || !analyst.empty(); }
};

// The role an Authorization header grants: kAnalyst if it carries the
// analyst token, kGateway if the gateway token, else kNone. Both compares
// always run (constant time whatever matches).
AuthRole RoleOf(const Tokens& tokens, std::string_view authorization);

// The client's address from an X-Forwarded-For value when `trusted_hops`
// proxies we run sit in front of serve's caller, each appending the address
// it received the request from: the trusted_hops-th entry from the right.
// Entries to its left were written by the client and are ignored. With fewer
// entries than trusted_hops, the leftmost (the one the first proxy appended).
// The result is trimmed and normalised (NormalizeIp); "" if the header is empty.
std::string ClientAddress(std::string_view x_forwarded_for, int trusted_hops);

// An IP address in the form decisions key on: surrounding spaces removed,
// an IPv4-mapped IPv6 address (::ffff:a.b.c.d, any case, also in hex form)
// turned into its IPv4 address. Anything else is returned trimmed, unchanged.
std::string NormalizeIp(std::string_view ip);

// Decodes %XX escapes of a URL path segment into *out. False on a truncated
// or non-hex escape, or an escape that decodes to NUL ('+' is kept: it is a
// space only in query strings).
bool PercentDecode(std::string_view in, std::string* out);

// `s` for a log line: control characters (< 0x20, 0x7f) and backslashes
// written as \xHH, at most max_bytes of input shown (then "...").
std::string Printable(std::string_view s, size_t max_bytes = 256);

// Token bucket per key: `rate` tokens a second up to `burst`. Take() spends
// one token and returns nullopt, or, when the bucket is empty, returns the
// seconds until a token is available (nothing spent). Time is passed in, so
// tests need no clock. Bounded: past `capacity` keys, buckets that have
// refilled completely are forgotten (a full bucket is the default state);
// if none has, all are. Not thread-safe.
class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst, size_t capacity = 1u << 18);
  std::optional<double> Take(std::string_view key, double now_s);
  size_t size() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens;
    double at_s;
  };
  double rate_, burst_;
  size_t capacity_;
  absl::flat_hash_map<uint64_t, Bucket> buckets_;
};

}  // namespace dg
