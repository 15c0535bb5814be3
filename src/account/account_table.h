// AccountTable: the accounts the engine remembers, by id, in reusable
// slots. A slot index is an account's identity for the later stages (the
// indicator index and the campaign forest refer to accounts by index).
//
// Bounded: past max_accounts, Acquire sweeps a CLOCK hand over the slots
// and forgets accounts the caller says may go (evictable) that stayed idle
// since the hand last passed (the `recent` bit), freeing 5% at a time; a
// forgotten account that returns starts afresh. The sweep asks in two tiers:
// tier 0 first (for the engine: accounts never suspicious), and only if that
// frees too little, tier 1 (also suspicious accounts outside any campaign,
// which the engine keeps as a compact summary). When nothing can go, the
// table grows by another 5% before sweeping again, so a sweep that finds
// nothing is not repeated for every new account.
//
// Memory: one AccountState (1,632 B, account_state.h) plus ~50 bytes of id
// map per account. Cost: O(1) per lookup; a sweep is O(slots) and runs at
// most once per max_accounts / 20 new accounts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/functional/function_ref.h>

#include "account/account_state.h"
#include "ingest/interaction.h"

namespace dg {

class AccountTable {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  explicit AccountTable(size_t max_accounts) : max_accounts_(max_accounts) {}
  AccountTable(const AccountTable&) = delete;
  AccountTable& operator=(const AccountTable&) = delete;

  struct Slot {
    uint32_t index;
    bool created;  // a new account (fresh or reused slot)
    bool reused;   // the slot belonged to a forgotten account
  };
  // The slot of the interaction's account, created if new. `evictable`
  // says whether an account may be forgotten in a tier (0, then 1); `forget`
  // is called on it just before its slot is freed.
  using EvictableFn = absl::FunctionRef<bool(const AccountState&, int tier)>;
  Slot Acquire(const Interaction& in, EvictableFn evictable, absl::FunctionRef<void(AccountState&)> forget);

  AccountState& operator[](uint32_t index) { return accounts_[index]; }
  const AccountState& operator[](uint32_t index) const { return accounts_[index]; }
  const AccountState* Find(const std::string& id) const;
  AccountState* FindMutable(const std::string& id);
  // Every slot; a slot whose id is empty is free (a forgotten account).
  const std::vector<AccountState>& slots() const { return accounts_; }
  std::vector<AccountState>& slots() { return accounts_; }
  size_t live() const { return accounts_.size() - free_slots_.size(); }
  uint64_t evicted() const { return evicted_; }

 private:
  void Evict(EvictableFn evictable, absl::FunctionRef<void(AccountState&)> forget);

  size_t max_accounts_;
  std::vector<AccountState> accounts_;
  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<uint32_t> free_slots_;
  size_t clock_hand_ = 0;
  size_t sweep_again_at_ = 0;
  uint64_t evicted_ = 0;
};

}  // namespace dg
