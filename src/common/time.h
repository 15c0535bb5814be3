// Timestamps: parsing and formatting of the two forms SCHEMA.md allows.
//
// All of distillguard keeps time as int64 milliseconds since the Unix epoch
// (UTC). ParseTimestamp accepts RFC 3339 ("2026-04-22T10:00:00.123Z",
// "+02:00" offsets, 'T' or ' ' separator) and epoch seconds given as a JSON
// number (fraction allowed). Cost: O(length of the string), no allocation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dg {

using TimeMs = int64_t;

inline constexpr TimeMs kMsPerSecond = 1000;
inline constexpr TimeMs kMsPerMinute = 60 * kMsPerSecond;
inline constexpr TimeMs kMsPerHour = 60 * kMsPerMinute;
inline constexpr TimeMs kMsPerDay = 24 * kMsPerHour;

// Earliest and latest instants accepted anywhere (1990 .. 2100): values
// outside are treated as bad timestamps rather than silently wrapped.
inline constexpr TimeMs kMinValidTime = 631152000000LL;   // 1990-01-01
inline constexpr TimeMs kMaxValidTime = 4102444800000LL;  // 2100-01-01

// RFC 3339 text to ms since epoch; nullopt when the text is not a valid
// RFC 3339 date-time or lies outside [kMinValidTime, kMaxValidTime).
std::optional<TimeMs> ParseRfc3339(std::string_view text);

// Epoch seconds (fraction allowed) to ms; nullopt when out of range or NaN.
std::optional<TimeMs> EpochSecondsToMs(double seconds);

// "2026-04-22T10:00:00.123Z" (milliseconds always present).
std::string FormatRfc3339(TimeMs t);

// Days since epoch for a civil date, and back (Howard Hinnant's algorithms).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

}  // namespace dg
