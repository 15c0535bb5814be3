// Text that leaves the process: JSON string literals (every writer: scan
// outputs, serve's API, the simulator, STIX), HTML text (report.html) and
// values quoted in log and error lines. Each output is valid UTF-8 whatever
// the input (an invalid byte -- stray continuation, overlong form, UTF-16
// surrogate, code point past U+10FFFF, truncated sequence -- becomes U+FFFD)
// and carries no raw control character (C0, DEL, C1 U+0080-U+009F), so
// client-written values cannot break a JSON parser, a page or a terminal.
// Cost: O(length), one pass (runs of plain ASCII checked 16 bytes at a time
// with SSE2), no allocation beyond the output's growth.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dg {

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
// surrogates, at most U+10FFFF) starting at s[pos], or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s, size_t pos);

// Appends s as a JSON string literal (with quotes). Invalid UTF-8 bytes are
// replaced by U+FFFD; C0 controls, DEL and C1 controls are escaped as \u00XX
// (\n, \r, \t, \", \\ as themselves).
void AppendJsonString(std::string& out, std::string_view s);

// Appends s with HTML special characters escaped (for report.html); invalid
// UTF-8 bytes and control characters other than tab and newline become
// U+FFFD.
void AppendHtmlEscaped(std::string& out, std::string_view s);

// s made safe for a log or error line: control bytes (C0, DEL), C1 controls,
// invalid UTF-8 bytes and backslashes are written as \xHH (C1 as the two
// bytes of its encoding); cut at max_bytes of input with "..." after.
std::string LogSafe(std::string_view s, size_t max_bytes = 256);

}  // namespace dg
