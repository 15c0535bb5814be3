// TimeZone: an IANA time zone ("America/New_York", "Europe/Berlin", "UTC")
// from the operating system's tz database (/usr/share/zoneinfo, Debian's
// tzdata), read through Howard Hinnant's date/tz library (Debian's
// libhowardhinnant-date-dev, built with USE_OS_TZDB: nothing is downloaded).
// Used for log timestamps written in local time without an offset
// (LiteLLM_SpendLogs, Helicone ClickHouse exports): mapping `tz = "NAME"`.
//
// DST rule for local times that do not name one instant:
//   - ambiguous (the repeated hour when clocks go back, e.g. 01:30 on the
//     first Sunday of November in New York): the EARLIEST instant, i.e. the
//     first occurrence, with the offset in effect before the transition
//     (01:30 EDT = 05:30Z);
//   - non-existent (the skipped hour when clocks go forward, e.g. 02:30 on
//     the second Sunday of March in New York): read with the offset in
//     effect before the gap, so it lands as far after the transition as it
//     was written after it (02:30 EST = 07:30Z = 03:30 EDT). This is what
//     java.time and Python's zoneinfo (fold=0) do. Times inside the gap keep
//     their order among themselves; a gap time reads later than one written
//     just after the gap (02:50 -> 07:50Z, 03:00 -> 07:00Z): such a log line
//     was not written by a clock that follows the zone anyway.
// For every UTC instant u: u - 3h <= LocalToUtc(u + OffsetAt(u)) <= u
// (equal unless u is the second occurrence of a repeated local time).
//
// After 2037 (where the zone files stop listing transitions) a zone that
// still keeps DST in 2037 is read with the rules of the same calendar 28 or
// 56 years earlier (2010..2037): right while the zone's rules stay as they
// were then (true of the US and the EU since 2007).
//
// Cost: Find() reads the zone directory's index once per process (the
// first call, a few ms and ~100 KB) and the zone's file once; call it when a
// mapping is loaded, never per record. LocalToUtc is a binary search over
// the zone's transitions (O(log transitions), no allocation, thread-safe).
// Zones found live until the process exits (at most the ~600 in the db).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"

namespace dg {

class TimeZone {
 public:
  // The zone named `name` (never null), or InvalidArgument for a name that
  // cannot be one / NotFound for one the database lacks ("unknown time zone
  // 'X' (an IANA name such as \"America/New_York\", ...)"). Names are at
  // most 64 characters of [A-Za-z0-9/_+-] without "..".
  static absl::StatusOr<const TimeZone*> Find(std::string_view name);

  const std::string& name() const { return name_; }
  // `local` is a wall-clock time in this zone written as ms since the epoch
  // as if it were UTC; returns the UTC instant (DST rule above).
  TimeMs LocalToUtc(TimeMs local) const;
  // Offset from UTC (ms) in effect at UTC instant `utc`.
  TimeMs OffsetAt(TimeMs utc) const;

  TimeZone(std::string name, const void* zone) : name_(std::move(name)), zone_(zone) {}

 private:
  std::string name_;
  const void* zone_;  // const date::time_zone*, owned by the library's tzdb
};

}  // namespace dg
