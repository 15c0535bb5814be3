// Reading a decimal integer from outside input (a flag, a stored value, a
// shared indicator) without exceptions: std::stoi and its kin throw on "",
// "x" or an overflow -- std::terminate on a thread with no handler -- and
// take "80abc" as 80. ParseDecimal takes the whole text or nothing: digits
// only (a leading '-' for signed types), no spaces, no '+', within T's
// range. O(length), no allocation.
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>

namespace dg {

template <typename T>
std::optional<T> ParseDecimal(std::string_view text) {
  T value{};
  if (text.empty()) return std::nullopt;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace dg
