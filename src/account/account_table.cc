#include "account/account_table.h"

#include <algorithm>

namespace dg {

const AccountState* AccountTable::Find(const std::string& id) const {
  const auto it = ids_.find(id);
  return it == ids_.end() ? nullptr : &accounts_[it->second];
}

AccountState* AccountTable::FindMutable(const std::string& id) {
  const auto it = ids_.find(id);
  return it == ids_.end() ? nullptr : &accounts_[it->second];
}

AccountTable::Slot AccountTable::Acquire(const Interaction& in, EvictableFn evictable, absl::FunctionRef<void(AccountState&)> forget) {
  if (const auto found = ids_.find(in.account_id); found != ids_.end()) {
    AccountState& a = accounts_[found->second];
    if (a.created_at < 0 && in.account_created_at != kNoTime) a.created_at = in.account_created_at;
    a.recent = true;
    return {found->second, false, false};
  }
  if (max_accounts_ > 0 && live() >= std::max(max_accounts_, sweep_again_at_)) Evict(evictable, forget);
  Slot slot{0, true, false};
  if (!free_slots_.empty()) {
    slot.index = free_slots_.back();
    slot.reused = true;
    free_slots_.pop_back();
    accounts_[slot.index] = AccountState{};
  } else {
    slot.index = static_cast<uint32_t>(accounts_.size());
    accounts_.emplace_back();
  }
  ids_.emplace(in.account_id, slot.index);
  AccountState& a = accounts_[slot.index];
  a.id = in.account_id;
  a.recent = true;
  a.org = in.org_id;
  a.org_verified = in.org_verified;
  a.index = slot.index;
  if (in.account_created_at != kNoTime) a.created_at = in.account_created_at;
  return slot;
}

void AccountTable::Evict(EvictableFn evictable, absl::FunctionRef<void(AccountState&)> forget) {
  const size_t target = max_accounts_ - max_accounts_ / 20;  // free 5% at a time
  for (int tier = 0; tier < 2 && live() > target; ++tier) {
    // Two full turns of the hand: the first clears CLOCK bits, the second
    // finds the accounts that stayed idle since.
    for (size_t steps = 0; steps < 2 * accounts_.size() && live() > target; ++steps) {
      if (clock_hand_ >= accounts_.size()) clock_hand_ = 0;
      const uint32_t idx = static_cast<uint32_t>(clock_hand_++);
      AccountState& a = accounts_[idx];
      if (a.id.empty() || !evictable(a, tier)) continue;
      if (a.recent) {
        a.recent = false;
        continue;
      }
      forget(a);
      ids_.erase(a.id);
      a.id.clear();
      a.id.shrink_to_fit();
      a.org.clear();
      a.org.shrink_to_fit();
      free_slots_.push_back(idx);
      ++evicted_;
    }
  }
  sweep_again_at_ = live() > target ? live() + max_accounts_ / 20 + 1 : 0;
}

}  // namespace dg
