// libFuzzer: STIX 2.1 import as serve's POST /v1/indicators and `import
// --stix` run it -- the trust envelope, the bundle, every object's
// validation and the pattern scanner -- on inputs up to hundreds of KB
// (scripts/fuzz.sh runs it with -max_len 300000: issue #18 finding 1 was a
// 50k-character literal overflowing std::regex's recursion). The clock is
// fixed, so a run is reproducible. Checks what must hold whatever the input:
// skipped counts add up, no imported value is longer than the pattern cap,
// a usable pattern's values are no longer than the pattern.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "report/stix.h"
#include "serve/requests.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  dg::StixImportOptions options;
  options.clock = [] { return dg::TimeMs{1793491200000}; };  // 2026-11-01T00:00:00Z
  options.max_pattern_bytes = 4096;
  if (const auto r = dg::ImportStix(body, options); r.ok()) {
    size_t skipped = 0;
    for (const auto& [reason, n] : r->skipped) skipped += n;
    if (skipped != r->skipped_patterns) __builtin_trap();
    for (const auto& ind : r->indicators) {
      if (ind.value.size() > options.max_pattern_bytes) __builtin_trap();
    }
  } else if (dg::StatusMessage(r.status()).size() > 1024) {
    __builtin_trap();  // error messages quote bounded prefixes only
  }
  for (const auto& problem : dg::ValidateStixObject(body)) {
    if (problem.size() > 1024) __builtin_trap();
  }
  // The scanner alone, on the whole input as a pattern (no length cap).
  std::vector<dg::StixComparison> comparisons;
  if (dg::ParseStixPattern(body, &comparisons).empty()) {
    if (comparisons.empty()) __builtin_trap();  // usable means at least one comparison
    for (const auto& c : comparisons) {
      if (c.value.size() > size || c.object.empty() || c.path.empty()) __builtin_trap();
    }
  }
  dg::SharedTrust trust;
  std::string bundle;
  const size_t q = body.find('\n');
  (void)dg::ParseIndicatorsRequest(q == std::string_view::npos ? std::string_view() : body.substr(0, q), body, &trust, &bundle);
  return 0;
}
