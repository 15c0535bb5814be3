// Redaction: masks what identifies a person or unlocks something in a
// prompt sample before it is kept (campaign samples, indicator displays):
// e-mail addresses, phone numbers, API keys / long tokens and URLs with
// credentials. It belongs to the content stage because samples are taken
// while the text still exists; nothing after this stage sees raw text.
// Cost: O(length) with no backtracking; reads at most 4 * max_len bytes.
#pragma once

#include <string>
#include <string_view>

namespace dg {

// Masks e-mail addresses, phone numbers, API keys / long tokens and URLs
// with credentials in a prompt sample; truncates to max_len bytes.
std::string RedactSample(std::string_view text, size_t max_len = 240);
// Replaces runs of digits, spaces, '+', '-', '(' and ')' that hold at least
// nine digits (phone numbers, also written with spaces) by [PHONE].
std::string MaskPhoneRuns(std::string_view text);

}  // namespace dg
