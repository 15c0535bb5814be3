#include "common/time_zone.h"

#include <chrono>
#include <deque>
#include <mutex>

#include <date/tz.h>
#include <fmt/format.h>

namespace dg {
namespace {

bool PlausibleName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.find("..") != std::string_view::npos || name[0] == '/') return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
                    c == '_' || c == '+' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const date::time_zone* Zone(const void* p) { return static_cast<const date::time_zone*>(p); }

// The zone files list transitions up to 2037 and the library does not read
// their rule footer, so later instants would keep the last listed offset
// (winter time, in New York). The Gregorian calendar repeats every 28 years
// between 1901 and 2099 (10,227 days = 1,461 weeks: same dates on the same
// weekdays), so a later time is read 28 (or 56) years earlier, in
// 2010..2037, where the file spells out the rules -- as long as the zone
// still keeps DST in 2037 (otherwise the last offset is the right one).
constexpr TimeMs kFirst2038 = 2145916800000LL;  // 2038-01-01T00:00:00Z
constexpr TimeMs k28Years = 10227LL * kMsPerDay;
TimeMs Fold(const date::time_zone* z, TimeMs t) {
  if (t < kFirst2038) return t;
  using std::chrono::milliseconds;
  const auto jul = z->get_info(date::sys_time<milliseconds>{milliseconds(kFirst2038 - 180 * kMsPerDay)});
  const auto jan = z->get_info(date::sys_time<milliseconds>{milliseconds(kFirst2038 - 360 * kMsPerDay)});
  if (jan.offset == jul.offset) return t;
  while (t >= kFirst2038) t -= k28Years;
  return t;
}

}  // namespace

absl::StatusOr<const TimeZone*> TimeZone::Find(std::string_view name) {
  static std::mutex mu;
  static std::deque<TimeZone> found;  // stable addresses; only names the db knows
  if (!PlausibleName(name)) {
    return absl::InvalidArgumentError(fmt::format(
        "unknown time zone '{}' (an IANA name such as \"America/New_York\", or an offset such as \"+02:00\")", name.substr(0, 80)));
  }
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& z : found) {
    if (z.name() == name) return &z;
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(name);
    // Loads the zone's transitions now (and fails now if the file is bad),
    // not on the first record.
    (void)zone->get_info(date::sys_seconds{});
  } catch (const std::exception& e) {
    return absl::NotFoundError(fmt::format("unknown time zone '{}' (an IANA name such as \"America/New_York\" from /usr/share/zoneinfo, "
                                           "or an offset such as \"+02:00\"): {}",
                                           name, e.what()));
  }
  return &found.emplace_back(std::string(name), zone);
}

TimeMs TimeZone::LocalToUtc(TimeMs local) const {
  using std::chrono::milliseconds;
  const date::local_time<milliseconds> lt{milliseconds(Fold(Zone(zone_), local))};
  const date::local_info info = Zone(zone_)->get_info(date::floor<std::chrono::seconds>(lt));
  // unique: first.offset; ambiguous: first = the earlier (pre-transition)
  // offset, i.e. the earliest instant; nonexistent: first = the offset
  // before the gap.
  return local - std::chrono::duration_cast<milliseconds>(info.first.offset).count();
}

TimeMs TimeZone::OffsetAt(TimeMs utc) const {
  using std::chrono::milliseconds;
  const date::sys_time<milliseconds> st{milliseconds(Fold(Zone(zone_), utc))};
  const date::sys_info info = Zone(zone_)->get_info(st);
  return std::chrono::duration_cast<milliseconds>(info.offset).count();
}

}  // namespace dg
