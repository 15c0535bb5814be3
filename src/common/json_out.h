// Appending JSON text to a std::string: string escaping and small helpers.
// Used by every writer (scan outputs, simulator, reports). O(length), no
// allocation beyond the output string's growth.
#pragma once

#include <string>
#include <string_view>

namespace dg {

// Appends s as a JSON string literal (with quotes). Invalid UTF-8 bytes are
// replaced by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

// Appends s with HTML special characters escaped (for report.html).
void AppendHtmlEscaped(std::string& out, std::string_view s);

}  // namespace dg
