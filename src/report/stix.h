// STIX 2.1 indicator sharing (OASIS STIX 2.1, section 4 "STIX Domain
// Objects" and 9 "Patterning").
//
// Export: campaigns (as scan writes them to campaigns.jsonl, or serve's
// analyst API returns them) become one bundle: an identity for the producer,
// a `campaign` per campaign, an `indicator` per shareable indicator with a
// STIX pattern, and an `indicates` relationship from each indicator to its
// campaign. Shareable: IP prefixes ([ipv4-addr:value = 'a.b.c.0/24'] /
// ipv6-addr), client user agents ([network-traffic:extensions.
// 'http-request-ext'.request_header.'User-Agent' = '...']) and payment
// fingerprints (custom object [x-distillguard-payment:fingerprint = '...'],
// opaque hashes that match only where providers share a hashing scheme).
// Prompt text -- template indicators and samples -- is left out unless
// include_prompts is set. Object ids are UUIDv5-style hashes of their
// content, so the same campaigns give the same bundle.
//
// Import: reads a bundle and returns the indicators it can act on (the
// three kinds above), skipping the rest with a counted reason. Only
// patterns of `=` comparisons on string literals joined by OR (within an
// observation or between observations; parentheses allowed) are usable: a
// pattern with AND or FOLLOWEDBY is skipped whole (its comparisons taken
// one by one would match far more than the partner meant), as is one with
// any operator or qualifier not implemented here (!=, <, >, MATCHES, LIKE,
// IN, ISSUBSET, ISSUPERSET, EXISTS, NOT, WITHIN, REPEATS, START/STOP) or a
// non-string literal. Indicators with `revoked: true` or a `valid_until`
// at or before the injected clock's now are skipped, as are patterns over
// max_pattern_bytes. An object that lacks a property STIX 2.1 requires
// refuses the whole bundle (error naming the object, property and reason).
// ValidateStixObject checks the properties STIX 2.1 requires of each object
// type used here.
//
// Untrusted input: every scanner here (ids, timestamps, patterns) is a
// hand-written single pass with no recursion and no backtracking; values
// quoted in errors are cut to 80 bytes. A bundle costs O(its size) time and
// memory whatever it holds (no std::regex: its recursive matcher overflowed
// the stack on a 50k-character literal, issue #18 finding 1).
//
// Cost: linear in the campaigns / bundle size; run offline or on import.
#pragma once

#include "common/clock.h"
#include "common/status.h"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg {

struct StixExportOptions {
  std::string producer = "distillguard";
  std::string campaign_id;        // only this campaign (empty: all)
  bool include_prompts = false;   // template indicators and redacted samples
  std::string created;            // RFC 3339 time stamped on objects (default: clock's now)
  Clock clock = SystemClock();
};

// The campaign objects of either campaigns form -- campaigns.jsonl (one per
// line) or serve's {"campaigns": [...]} -- each as JSON text. DataLoss for a
// {"campaigns": ...} document that is not one (both forms are written by
// distillguard: one that does not read back is corrupt).
absl::StatusOr<std::vector<std::string>> CampaignObjects(std::string_view campaigns_json);

// campaigns_json: JSON objects in campaigns.jsonl form, either one per line
// or as {"campaigns": [...]}. Returns the bundle; DataLoss for campaigns
// that do not parse ("campaigns:N: ..."), NotFound for an options.campaign_id
// that is not among them ("no campaign ID").
absl::StatusOr<std::string> ExportStix(std::string_view campaigns_json, const StixExportOptions& options);

struct SharedIndicator {
  std::string kind;    // an indicator kind name (signals.h): "ip_prefix", "client" or "payment"
  std::string value;
  std::string source;  // "<indicator id> (<created_by_ref>)"; created_by_ref only when a valid identity id
};

struct StixImportOptions {
  Clock clock = SystemClock();      // "now" for valid_until
  size_t max_pattern_bytes = 4096;  // longer patterns are skipped ("pattern over N bytes")
};

struct StixImport {
  std::vector<SharedIndicator> indicators;
  size_t objects = 0;
  size_t skipped_patterns = 0;            // indicators not imported: the sum of `skipped`
  std::map<std::string, size_t> skipped;  // reason (a fixed phrase, never input text) -> indicators
};

// InvalidArgument for a bundle that cannot be used: not JSON, not a bundle,
// or an indicator missing a property STIX 2.1 requires ("bundle object N:
// ...").
absl::StatusOr<StixImport> ImportStix(std::string_view bundle_json, const StixImportOptions& options = {});

// One `=` comparison of a pattern: [object:path = 'value'].
struct StixComparison {
  std::string object, path, value;
};
// Parses a STIX pattern in one linear pass. Empty when every comparison is
// `=` on a string literal and they are joined by OR (*out has them, the
// value unescaped); otherwise the reason it is not usable ("unsupported:
// AND", "malformed pattern: ...": fixed phrases).
std::string ParseStixPattern(std::string_view pattern, std::vector<StixComparison>* out);

// Empty when the object (a parsed JSON object, as text) has every property
// STIX 2.1 requires for its type; otherwise the problems, one per entry.
std::vector<std::string> ValidateStixObject(std::string_view object_json);

}  // namespace dg
