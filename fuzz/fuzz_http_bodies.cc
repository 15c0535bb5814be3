// libFuzzer: the bodies serve's HTTP routes parse -- /v1/events (NDJSON,
// JSON array, gzip; inflation bounded), /v1/check, overrides,
// STIX bundles for /v1/indicators (and every object's validation), and
// suspect-text lines for traceback; and what serve reads from headers and
// paths (serve/request_guard.h: path escapes, X-Forwarded-For, bearer, log text).
#include <cstdint>
#include <string>
#include <string_view>

#include "report/stix.h"
#include "serve/body_codec.h"
#include "serve/request_guard.h"
#include "serve/requests.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  // /v1/events bodies: NDJSON, a JSON array, gzip/deflate with a bounded inflate.
  for (const char* enc : {"", "gzip", "deflate"}) {
    const dg::DecodedBody d = dg::DecodeEventsBody(body, enc, 1 << 16);
    if (d.status.ok() && d.made && d.owned.size() > (1u << 16) + size + 2) __builtin_trap();
  }
  dg::CheckRequest cr;
  (void)dg::ParseCheckBody(body, &cr);  // crashes and hangs are what is looked for
  dg::OverrideBody ob;
  (void)dg::ParseOverrideBody(body, &ob);
  (void)dg::ImportStix(body);
  (void)dg::ValidateStixObject(body);
  // Exporting arbitrary "campaigns" must give a bundle or an error.
  (void)dg::ExportStix(body, dg::StixExportOptions{});
  // What serve reads from request headers and paths (serve/request_guard.h).
  std::string decoded;
  if (dg::PercentDecode(body, &decoded) && decoded.find('\0') != std::string::npos) __builtin_trap();
  const std::string ip = dg::ClientAddress(body, 1 + static_cast<int>(size % 4));
  if (ip.find(',') != std::string::npos) __builtin_trap();  // one entry, never the list
  (void)dg::NormalizeIp(body);
  (void)dg::RoleOf(dg::Tokens{"gateway-token", "analyst-token"}, body);
  const std::string shown = dg::Printable(body);
  for (const char c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) __builtin_trap();  // log lines stay one line
  }
  dg::RateLimiter limiter(1, 3, 8);
  for (size_t i = 0; i < size && i < 64; ++i) (void)limiter.Take(body.substr(i, 1), static_cast<double>(i) / 4);
  if (limiter.size() > 8) __builtin_trap();
  return 0;
}
