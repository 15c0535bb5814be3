#include "account/account_state.h"

#include <algorithm>
#include <cmath>

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

std::string_view IndicatorKindName(IndicatorKind k) {
  static constexpr std::array<std::string_view, kIndicatorKinds> kNames = {
      "payment_fingerprint", "ip_prefix", "system_prompt", "prompt_template", "prompt_frame",
      "toolset", "client", "creation_burst", "email_domain", "behaviour"};
  return kNames[static_cast<size_t>(k)];
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

uint32_t RepeatCounter::Add(uint64_t k) {
  for (size_t idx = 0; idx < kSlots; ++idx) {
    if (key[idx] == k && count[idx] > 0) return ++count[idx];
  }
  // Unlike space-saving, a newcomer starts at 1: a value must really recur
  // to count as repeated. It replaces the least-used slot, the oldest among
  // equals (round robin), so a value seen once survives the next
  // kSlots - 1 newcomers: enough for a template used every few requests.
  size_t victim = next_;
  for (size_t step = 0; step < kSlots; ++step) {
    const size_t idx = (next_ + step) % kSlots;
    if (count[idx] < count[victim]) victim = idx;
  }
  key[victim] = k;
  count[victim] = 1;
  next_ = static_cast<uint8_t>((victim + 1) % kSlots);
  return 1;
}

uint32_t RepeatCounter::TopCount() const { return *std::max_element(count.begin(), count.end()); }

uint32_t TopK::TopCount() const { return *std::max_element(count.begin(), count.end()); }
uint32_t TopK::TopKey() const { return key[static_cast<size_t>(std::max_element(count.begin(), count.end()) - count.begin())]; }

void AccountState::Observe(const EventFeatures& f, int64_t high_max_tokens) {
  if (n == 0) {
    first_ts = f.ts;
  } else if (f.ts > last_ts) {
    const double gap = static_cast<double>(f.ts - last_ts) / 1000.0;
    gap_sum += gap;
    gap_sq += gap * gap;
    ++gaps;
  }
  last_ts = std::max(last_ts, f.ts);
  ++n;
  cot += (f.flags & kFlagCot) != 0;
  recon += (f.flags & kFlagRecon) != 0;
  rubric += (f.flags & kFlagRubric) != 0;
  datagen += (f.flags & kFlagDataGen) != 0;
  tools += (f.flags & kFlagTools) != 0;
  single_turn += f.single_turn;
  high_cap += f.max_tokens >= high_max_tokens;
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
}

bool AccountState::AddIndicator(IndicatorKind kind, uint64_t value) {
  if (value == 0) return false;
  const size_t k = static_cast<size_t>(kind);
  auto& vals = indicators[k];
  for (size_t idx = 0; idx < indicator_count[k]; ++idx) {
    if (vals[idx] == value) return false;
  }
  if (indicator_count[k] < kMaxValuesPerKind) {
    vals[indicator_count[k]++] = value;
    return true;
  }
  ++indicator_overflow[k];
  return false;
}

bool AccountState::HasIndicator(IndicatorKind kind, uint64_t value) const {
  const size_t k = static_cast<size_t>(kind);
  for (size_t idx = 0; idx < indicator_count[k]; ++idx) {
    if (indicators[k][idx] == value) return true;
  }
  return false;
}

double AccountState::ActiveDays() const {
  return std::max(1.0 / 24, static_cast<double>(last_ts - first_ts) / kMsPerDay);
}

}  // namespace dg
