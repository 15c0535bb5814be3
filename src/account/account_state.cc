#include "account/account_state.h"

#include <bit>

#include <algorithm>
#include <cmath>
#include <functional>

#include "common/hash.h"

namespace dg {

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kAllow: return "allow";
    case Verdict::kReview: return "review";
    case Verdict::kBlock: return "block";
  }
  return "allow";
}

void TopK::Add(uint32_t k) {
  size_t min_idx = 0;
  for (size_t idx = 0; idx < kTopTemplates; ++idx) {
    if (key[idx] == k && count[idx] > 0) {
      ++count[idx];
      return;
    }
    if (count[idx] < count[min_idx]) min_idx = idx;
  }
  // Space-saving: replace the smallest, inheriting its count.
  key[min_idx] = k;
  ++count[min_idx];
}

uint32_t RepeatCounter::Add(uint64_t k, Kind kind) {
  for (size_t idx = 0; idx < kSlots; ++idx) {
    if (key[idx] == k && count[idx] > 0) {
      ages_ = static_cast<uint16_t>(ages_ & ~(3u << (2 * idx)));
      return ++count[idx];
    }
  }
  if (++newcomers_ >= kSlots) {  // a sweep: every value not used since ages by one
    newcomers_ = 0;
    for (size_t idx = 0; idx < kSlots; ++idx) {
      if (Age(idx) < 3) ages_ = static_cast<uint16_t>(ages_ + (1u << (2 * idx)));
    }
  }
  // Unlike space-saving, a newcomer starts at 1: a value must really recur
  // to count as repeated. It replaces the least-used stale slot if there is
  // one, else the least-used slot, the oldest among equals (round robin),
  // so a value seen once survives the next kSlots - 1 newcomers: enough for
  // a template used every few requests.
  size_t stale = kSlots, least = next_;
  for (size_t step = 0; step < kSlots; ++step) {
    const size_t idx = (next_ + step) % kSlots;
    if (Age(idx) >= kStaleSweeps && (stale == kSlots || count[idx] < count[stale])) stale = idx;
    if (count[idx] < count[least]) least = idx;
  }
  const size_t victim = stale != kSlots ? stale : least;
  key[victim] = k;
  count[victim] = 1;
  ages_ = static_cast<uint16_t>(ages_ & ~(3u << (2 * victim)));
  const auto mark = [victim](uint8_t bits, bool on) {
    return static_cast<uint8_t>(on ? bits | (1u << victim) : bits & ~(1u << victim));
  };
  system_ = mark(system_, kind == Kind::kSystemPrompt);
  client_ = mark(client_, kind == Kind::kClient);
  next_ = static_cast<uint8_t>((victim + 1) % kSlots);
  return 1;
}

bool PasserbyLog::Record(uint64_t k) {
  for (size_t idx = 0; idx < n; ++idx) {
    if (key[idx] == k) return false;
  }
  if (n == kMax) return false;
  key[n] = k;
  live = static_cast<uint8_t>(live | (1u << n));
  ++n;
  return true;
}

bool PasserbyLog::Withdraw(uint64_t k) {
  for (size_t idx = 0; idx < n; ++idx) {
    if (key[idx] == k && (live & (1u << idx))) {
      live = static_cast<uint8_t>(live & ~(1u << idx));
      return true;
    }
  }
  return false;
}

uint32_t RepeatCounter::TopCount() const { return *std::max_element(count.begin(), count.end()); }

uint32_t RepeatCounter::TopCountBesideSystemPrompts() const {
  uint32_t top = 0;
  for (size_t idx = 0; idx < kSlots; ++idx) {
    if ((system_ & (1u << idx)) == 0) top = std::max(top, count[idx]);
  }
  return top;
}

uint32_t RepeatCounter::TopContentCount() const {
  uint32_t top = 0;
  for (size_t idx = 0; idx < kSlots; ++idx) {
    if (((system_ | client_) & (1u << idx)) == 0) top = std::max(top, count[idx]);
  }
  return top;
}

uint32_t TopK::TopCount() const { return *std::max_element(count.begin(), count.end()); }
uint32_t TopK::TopKey() const { return key[static_cast<size_t>(std::max_element(count.begin(), count.end()) - count.begin())]; }

void RateCounts::Add(const RateCounts& o) {
  n += o.n;
  cot += o.cot;
  recon += o.recon;
  rubric += o.rubric;
  datagen += o.datagen;
  single_turn += o.single_turn;
  high_cap += o.high_cap;
  history += o.history;
  unserved += o.unserved;
}

void NetworkLog::Note(uint32_t network, bool session_break) {
  if (network == 0 || network == last) return;
  const bool first_network = last == 0;
  last = network;
  if (changes >= kHalveAt) {
    // Both halve together: the share keeps, and the counts read the
    // account's recent moving rather than its whole life.
    changes /= 2;
    first_visits /= 2;
  }
  if (const auto it = std::find(ring.begin(), ring.end(), network); it != ring.end()) {
    used = static_cast<uint16_t>(used | (1u << (it - ring.begin())));
    // A return counts only when it opens a session: flapping between two
    // networks inside one (a phone between Wi-Fi and its carrier, or an
    // operator padding its moves with returns) is one move at most.
    if (session_break) ++changes;
    return;
  }
  if (!first_network) ++changes;
  // CLOCK: pass over (and clear) slots returned to since the last pass;
  // at most kRing steps, then the hand's slot whatever it holds.
  for (size_t step = 0; step < kRing && (used & (1u << next)) != 0; ++step) {
    used = static_cast<uint16_t>(used & ~(1u << next));
    next = static_cast<uint8_t>((next + 1) % kRing);
  }
  ring[next] = network;
  next = static_cast<uint8_t>((next + 1) % kRing);
  if (!first_network) ++first_visits;
}

RateCounts AccountState::Recent() const {
  RateCounts r = window_cur;
  r.Add(window_prev);
  return r;
}

uint32_t AccountState::SynchronizedBins() const {
  constexpr uint32_t kMinActivity = 20;
  uint32_t total = 0;
  for (const auto c : minute_bins) total += c;
  if (total < kMinActivity) return 0;
  std::array<size_t, kMinuteBins> order{};
  for (size_t idx = 0; idx < kMinuteBins; ++idx) order[idx] = idx;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return minute_bins[x] > minute_bins[y]; });
  uint32_t held = 0;
  uint32_t mask = 0;
  for (size_t rank = 0; rank < 3; ++rank) {
    held += minute_bins[order[rank]];
    mask |= 1u << order[rank];
    if (held * 10 >= total * 8) return mask;
  }
  return 0;
}

size_t AccountState::HoursHoldingActivity() const {
  std::array<uint32_t, 24> sorted = hours;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  uint64_t total = 0;
  for (const auto c : sorted) total += c;
  uint64_t held = 0;
  size_t n = 0;
  while (n < sorted.size() && held * 10 < total * 8) held += sorted[n++];
  return n;
}

uint64_t AccountState::TokensOf(const EventFeatures& f) {
  uint64_t served = f.input_tokens >= 0 && f.output_tokens >= 0 ? static_cast<uint64_t>(f.output_tokens) : 0;
  if (f.reasoning_tokens > 0) served += static_cast<uint64_t>(f.reasoning_tokens);
  return served;
}

void AccountState::Observe(const EventFeatures& f, int64_t high_max_tokens, HistoryCheck history) {
  if (n == 0) {
    first_ts = f.ts;
  } else if (f.ts > last_ts) {
    const double gap = static_cast<double>(f.ts - last_ts) / 1000.0;
    gap_sum += gap;
    gap_sq += gap * gap;
    ++gaps;
  }
  last_ts = std::max(last_ts, f.ts);
  const auto day = static_cast<int32_t>(f.ts / kMsPerDay);
  if (n > 0 && day > last_day) {  // a newer active day: the newest one is complete
    tokens_prev_day = tokens_cur_day;
    tokens_cur_day = 0;
  }
  if (n == 0 || day - last_day >= 64) {
    active_days = 0;
    last_day = day;
  } else {
    for (; last_day < day; ++last_day) active_days &= ~(uint64_t{1} << ((last_day + 1) & 63));
  }
  if (last_day - day < 64) {
    const uint64_t bit = uint64_t{1} << (day & 63);
    if ((active_days & bit) == 0 && days_active < UINT16_MAX) ++days_active;
    active_days |= bit;
  }
  ++n;
  // Slide the window: a new day-long bucket starts, the older one is kept
  // only if it is the one just before.
  if (window_cur.n == 0 && window_prev.n == 0) {
    window_start = f.ts;
  } else if (f.ts >= window_start + kRateWindowMs) {
    window_prev = f.ts < window_start + 2 * kRateWindowMs ? window_cur : RateCounts{};
    window_cur = RateCounts{};
    window_start = f.ts;
  }
  RateCounts one;
  one.n = 1;
  one.cot = (f.flags & kFlagCot) != 0;
  one.recon = (f.flags & kFlagRecon) != 0;
  one.rubric = (f.flags & kFlagRubric) != 0;
  one.datagen = (f.flags & kFlagDataGen) != 0;
  // A history none of whose assistant turns was served is a one-shot
  // request dressed as a conversation.
  one.single_turn = f.single_turn || history.unserved;
  one.history = history.checked;
  one.unserved = history.unserved;
  one.high_cap = f.max_tokens >= high_max_tokens;
  life.Add(one);
  window_cur.Add(one);
  tools += (f.flags & kFlagTools) != 0;
  if (f.input_tokens >= 0 && f.output_tokens >= 0) {
    input_tokens += static_cast<uint64_t>(f.input_tokens);
    output_tokens += static_cast<uint64_t>(f.output_tokens);
  }
  if (f.reasoning_tokens > 0) reasoning_tokens += static_cast<uint64_t>(f.reasoning_tokens);
  tokens_cur_day = static_cast<uint32_t>(std::min<uint64_t>(UINT32_MAX, tokens_cur_day + TokensOf(f)));
  harvest_n += (f.flags & (kFlagCot | kFlagRecon | kFlagRubric | kFlagDataGen)) != 0;
  ++capability[static_cast<size_t>(f.capability)];
  if (f.prompt_cluster != 0) templates.Add(f.prompt_cluster);
  if (f.system_cluster != 0) systems.Add(f.system_cluster);
  const uint64_t sk = HashCombine(static_cast<uint64_t>(f.max_tokens + 2), static_cast<uint64_t>(std::lround(f.temperature * 1000) + 7));
  // Only explicit settings count: everyone who leaves the defaults alone
  // sends "the same settings".
  const bool explicit_settings = f.max_tokens >= 0 || f.temperature >= 0;
  if (n == 1) sampling_key = sk;
  sampling_same += explicit_settings && sk == sampling_key;
  const int64_t hour = ((f.ts / kMsPerHour) % 24 + 24) % 24;
  ++hours[static_cast<size_t>(hour)];
  const int64_t minute = ((f.ts / kMsPerMinute) % 60 + 60) % 60;
  ++minute_bins[static_cast<size_t>(minute / 10)];
}

AccountState::Slot AccountState::AddIndicator(IndicatorKind kind, uint64_t value, uint64_t* evicted) {
  if (value == 0) return Slot::kKnown;
  const size_t k = static_cast<size_t>(kind);
  auto& vals = indicators[k];
  auto& hits = indicator_hits[k];
  for (size_t idx = 0; idx < indicator_count[k]; ++idx) {
    if (vals[idx] == value) {
      if (hits[idx] < 255) ++hits[idx];
      return Slot::kKnown;
    }
  }
  if (indicator_count[k] < kMaxValuesPerKind) {
    vals[indicator_count[k]] = value;
    hits[indicator_count[k]++] = 1;
    return Slot::kAdded;
  }
  ++indicator_overflow[k];
  // Misra-Gries (frequent items): a full kind admits a newcomer into a slot
  // whose count has worn down to zero, the first from a cursor that turns
  // over the slots. When no slot has, every held value wears down by one
  // and the newcomer takes the first slot that reached zero, if any. Every
  // wearing step costs kMaxValuesPerKind counts, so a value that makes up
  // more than 1/kMaxValuesPerKind of the account's uses of the kind is
  // always held, whatever was sent before it: values used twice at the
  // start no longer pin the slots against the ones the account goes on to
  // use (issue #16). A flood of one-off values turns over the one-off slots
  // in arrival order, as before.
  auto take_zero = [&]() -> bool {
    for (size_t step = 0; step < kMaxValuesPerKind; ++step) {
      const size_t idx = (indicator_cursor[k] + step) % kMaxValuesPerKind;
      if (hits[idx] == 0) {
        if (evicted != nullptr) *evicted = vals[idx];
        vals[idx] = value;
        hits[idx] = 1;
        indicator_cursor[k] = static_cast<uint8_t>((idx + 1) % kMaxValuesPerKind);
        return true;
      }
    }
    return false;
  };
  if (take_zero()) return Slot::kReplaced;
  for (auto& h : hits) h = static_cast<uint8_t>(h - 1);  // none is zero here
  if (take_zero()) return Slot::kReplaced;
  return Slot::kOverflow;
}

bool AccountState::HasIndicator(IndicatorKind kind, uint64_t value) const {
  const size_t k = static_cast<size_t>(kind);
  for (size_t idx = 0; idx < indicator_count[k]; ++idx) {
    if (indicators[k][idx] == value) return true;
  }
  return false;
}

}  // namespace dg

namespace dg {

double AccountState::ActiveDayOverlap(const AccountState& other, int* days) const {
  const AccountState& newer = last_day >= other.last_day ? *this : other;
  const AccountState& older = last_day >= other.last_day ? other : *this;
  const int32_t apart = newer.last_day - older.last_day;
  if (apart >= 64) {
    if (days != nullptr) *days = std::popcount(active_days) + std::popcount(other.active_days);
    return 0;
  }
  // The older mask's bits for the days since its newest day describe days
  // more than 64 days before the newer one's: not comparable.
  uint64_t stale = 0;
  for (int32_t d = older.last_day + 1; d <= newer.last_day; ++d) stale |= uint64_t{1} << (d & 63);
  const uint64_t x = newer.active_days, y = older.active_days & ~stale;
  const int either = std::popcount(x | y);
  if (days != nullptr) *days = either;
  return either == 0 ? 0 : static_cast<double>(std::popcount(x & y)) / either;
}

}  // namespace dg
