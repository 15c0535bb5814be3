// Redaction: masks what identifies a person or unlocks something in a
// prompt sample before it is kept (campaign samples, indicator displays).
// It belongs to the content stage because samples are taken while the text
// still exists; nothing after this stage sees raw text.
//
// The text is cut into tokens on whitespace and JSON / code punctuation
// (" ' ` { } [ ] ( ) , ; < >), so `{"api_key":"sk-..."}` is three tokens,
// and each token is judged on its own, secrets first:
//   [KEY]     API keys by prefix -- OpenAI / Anthropic (sk-, sk-ant-,
//             sk-proj-), Slack (xoxb-, xoxp-, ...), GitHub (ghp_, gho_,
//             ghs_, ghu_, ghr_, github_pat_), AWS access key ids (AKIA /
//             ASIA + 16), Google API keys (AIza...), JWTs (eyJ... three
//             dot-separated parts) -- and long mixed letter-digit tokens;
//   [SECRET]  the value after password= / pw= / pwd: / secret= / token= /
//             api_key: / *_key= / *_token= ... (in the same token, or the
//             next one: `"password": "x"`), and the token after `Bearer`;
//   [CVV]     3-4 digits after cvv / cvc (`cvv 123`, `CVC: 4567`);
//   [EMAIL]   addresses, also URL-encoded (jdoe%40example.com);
//   [IBAN]    IBANs written without spaces (mod-97 checked);
//   scheme://[URL]  URLs with credentials or a query string.
// Then runs of digits and phone punctuation: [CARD] for 13-19 digits that
// pass the Luhn check, [PHONE] for other runs of at least nine digits.
// Misses (docs/THREAT_MODEL.md, "Privacy"): secrets in prose ("my password
// is hunter2"), a quoted value's words after the first, short keys without
// a known prefix, names and postal addresses.
// Cost: O(length), no regular expressions, no recursion, no backtracking;
// reads at most 4 * max_len bytes of the text.
#pragma once

#include <string>
#include <string_view>

namespace dg {

// The redacted sample: masked as above, cut to max_len bytes (at a UTF-8
// boundary) with "..." when anything was cut.
std::string RedactSample(std::string_view text, size_t max_len = 240);
// Replaces runs of digits, spaces, '+', '-', '.', '(' and ')' holding 13-19
// digits that pass the Luhn check by [CARD], and other runs holding at least
// nine digits (phone numbers, also written with spaces) by [PHONE].
std::string MaskNumberRuns(std::string_view text);

}  // namespace dg
