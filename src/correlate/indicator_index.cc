#include "correlate/indicator_index.h"

#include "common/hash.h"

namespace dg {

uint64_t IndicatorIndex::Key(IndicatorKind kind, uint64_t value) {
  return HashCombine(static_cast<uint64_t>(kind) + 0x1d1c, value);
}

IndicatorStats* IndicatorIndex::AddAccount(uint64_t key) {
  auto it = values_.find(key);
  if (it == values_.end()) {
    if (values_.size() >= max_values_) {
      ++dropped_;
      return nullptr;
    }
    it = values_.emplace(key, IndicatorStats{}).first;
  }
  ++it->second.accounts;
  return &it->second;
}

void IndicatorIndex::AddCleared(uint64_t key) {
  auto it = values_.find(key);
  if (it != values_.end()) ++it->second.cleared;
}

void IndicatorIndex::AddPasserby(uint64_t key) {
  auto it = values_.find(key);
  if (it != values_.end() && it->second.passersby < UINT32_MAX) ++it->second.passersby;
}

void IndicatorIndex::RemovePasserby(uint64_t key) {
  auto it = values_.find(key);
  if (it != values_.end() && it->second.passersby > 0) --it->second.passersby;
}

void IndicatorIndex::AddVeteran(uint64_t key) {
  auto it = values_.find(key);
  if (it != values_.end()) ++it->second.veterans;
}

void IndicatorIndex::RemoveVeteran(uint64_t key) {
  auto it = values_.find(key);
  if (it != values_.end() && it->second.veterans > 0) --it->second.veterans;
}

void IndicatorIndex::AddSuspicious(uint64_t key, uint32_t account, uint32_t campaign_hint, bool was_cleared) {
  auto it = values_.find(key);
  if (it == values_.end()) return;
  IndicatorStats& s = it->second;
  ++s.suspicious;
  if (was_cleared && s.cleared > 0) --s.cleared;
  if (campaign_hint != 0) s.campaign_hint = campaign_hint;
  if (s.nmembers < kMaxMembers) {
    s.members[s.nmembers++] = account;
  } else {
    s.members[s.next_member] = account;
    s.next_member = static_cast<uint8_t>((s.next_member + 1) % kMaxMembers);
  }
}

const IndicatorStats* IndicatorIndex::Find(uint64_t key) const {
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

IndicatorStats* IndicatorIndex::FindMutable(uint64_t key) {
  const auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

}  // namespace dg
