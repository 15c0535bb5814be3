// Clock: the wall clock, injected. The engine reads time only from the
// interactions; the few places that stamp records with the time of day
// (analyst overrides, STIX objects) take a Clock so that tests and replays
// can fix it. Cost: one call.
#pragma once

#include <chrono>
#include <functional>

#include "common/time.h"

namespace dg {

using Clock = std::function<TimeMs()>;

inline TimeMs SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
inline Clock SystemClock() { return SystemNowMs; }

}  // namespace dg
