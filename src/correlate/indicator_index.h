// IndicatorIndex: from every indicator value (payment fingerprint, IP
// prefix, template cluster, client configuration, ...) to the accounts that
// used it, weighted by how common it is among unrelated accounts.
//
// For each value it counts the distinct accounts that used it, split into
// suspicious ones, cleared ones (observed long enough -- policy: 10
// interactions or a day -- without turning suspicious) and the rest, not yet
// judged; and it keeps the last kMaxMembers suspicious accounts (to find
// link candidates). purity = suspicious / (suspicious + cleared + 1/4 of the
// unjudged + 1 unseen benign account, so that a value seen on two accounts is
// not yet "pure"): a value shared by a whole campus or by every user of a popular
// agent has purity near 0 and ties nobody together; one used only by
// suspicious accounts has purity near 1 -- and a fresh campaign's values,
// used so far only by its own new accounts, become pure as soon as a few of
// them give themselves away, not once half of them have. Veterans (cleared
// accounts still clean after a week and 100 interactions) mark a value as
// public whatever its purity (IndicatorStats::Publicness).
//
// A value of infrastructure, client configuration or timing is also weighed
// by its base rate in the whole population (IndicatorStats::Rarity): the
// share of all cleared accounts that use it, whatever its purity among the
// accounts judged (links.cc, Evidence).
//
// Memory: ~150 bytes per distinct value (128-byte IndicatorStats + key in a
// flat hash map at 7/8 load; a suspicious value also keeps its display
// string, <= 200 bytes), capped at max_values (new values
// past the cap are counted in `dropped` and not indexed). O(1) per update.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include <absl/container/flat_hash_map.h>

#include "account/account_state.h"

namespace dg {

inline constexpr size_t kMaxMembers = 16;

struct IndicatorStats {
  uint32_t accounts = 0;
  uint32_t suspicious = 0;
  uint32_t cleared = 0;
  uint32_t campaign_hint = 0;  // union-find node + 1 of a suspicious member
  uint32_t veterans = 0;       // cleared accounts clean for weeks (see Publicness)
  uint32_t passersby = 0;      // cleared accounts that used it without repeating it (content values; PasserbyLog)
  uint8_t nmembers = 0;
  uint8_t next_member = 0;
  // The IndicatorKind of the value (kNoKind in snapshots before format 4
  // until an account records it again): what the index key cannot say.
  static constexpr uint8_t kNoKind = 0xff;
  uint8_t kind = kNoKind;
  std::array<uint32_t, kMaxMembers> members{};
  std::string display;  // human-readable value, kept only once suspicious
  double Purity() const {
    const double unjudged = static_cast<double>(accounts) - suspicious - cleared;
    return suspicious / (suspicious + cleared + 0.25 * std::max(0.0, unjudged) + kPasserbyWeight * passersby + 1.0);
  }
  // A prompt template copied from a tutorial is sent once or twice by
  // thousands of ordinary customers and repeated only by the few who
  // script it: those one-off uses are what make it public. Only cleared
  // accounts count (an attacker must age clean accounts to fake them), at
  // half the weight of a cleared account that repeats the value.
  static constexpr double kPasserbyWeight = 0.5;
  // Purity is a share, and a share cannot tell a campaign's own value from
  // a popular app's whose heavy users half look automated. What only the
  // public value has is a population that used it for weeks without
  // turning suspicious: its evidence halves at kPublicVeterans of them --
  // plus one per kSuspiciousPerVeteran suspicious users. Without that term
  // thirty aged decoys that only ever send ordinary traffic on a campaign's
  // system prompt, tools or client made it "public" whatever the size of
  // the campaign (issue #16, public-decoys); now decoys must grow with the
  // campaign (one per twelve harvesting accounts, each aged for a week and
  // a hundred requests), while an app with thousands of clean users stays
  // public however many of its heavy users look automated.
  static constexpr double kPublicVeterans = 20;
  static constexpr double kSuspiciousPerVeteran = 12;
  double Publicness() const {
    return 1.0 / (1.0 + veterans / (kPublicVeterans + suspicious / kSuspiciousPerVeteran));
  }
  // Purity and publicness read the value's own users; what they cannot see
  // is how common the value is in the whole population. When a campaign
  // adopts the most popular SDK at its defaults, its thousands of accounts
  // make that value look "pure" while a fifth of all ordinary customers use
  // it too -- and two strangers sharing a value a fifth of everyone uses is
  // no evidence at all (issue #15). The base rate: the share of the cleared
  // population (cleared accounts, and passers-by at their weight) that uses
  // it. Evidence halves at kPopularShare and is ~0 past a few times it.
  // To make its own value common, a campaign must run that share of the
  // platform's clean accounts on it (cleared after 10 requests or a day).
  // Discounting the campaign's own size, as Publicness does, was tried: it
  // gave the popular SDK back to campaigns that adopt it by the thousand
  // (docs/QUALITY.md). `population`: IndicatorIndex::Population().
  static constexpr double kPopularShare = 0.02;
  double Rarity(double population) const {
    const double share = (cleared + kPasserbyWeight * passersby) / population / kPopularShare;
    return 1.0 / (1.0 + share * share);
  }
};

class IndicatorIndex {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  explicit IndicatorIndex(size_t max_values = 16u << 20) : max_values_(max_values) {}
  IndicatorIndex(const IndicatorIndex&) = delete;  // large
  IndicatorIndex& operator=(const IndicatorIndex&) = delete;

  // Key for a value of a kind (kinds never collide).
  static uint64_t Key(IndicatorKind kind, uint64_t value);

  // An account used this value for the first time.
  IndicatorStats* AddAccount(uint64_t key);
  // A suspicious account uses this value (was_cleared: it had been counted
  // as cleared and is no longer).
  void AddSuspicious(uint64_t key, uint32_t account, uint32_t campaign_hint, bool was_cleared = false);
  // An account that uses this value was observed long enough and is not
  // suspicious.
  void AddCleared(uint64_t key);
  // A cleared account used this (already indexed) value without repeating
  // it. Values not in the index are not added: one-off prompts never are.
  void AddPasserby(uint64_t key);
  // That use turned out not to be a passer-by's: the account repeated the
  // value, or turned suspicious (see PasserbyLog).
  void RemovePasserby(uint64_t key);
  // A cleared account that uses this value became a veteran (clean for
  // weeks); RemoveVeteran when it turns suspicious after all.
  void AddVeteran(uint64_t key);
  void RemoveVeteran(uint64_t key);
  const IndicatorStats* Find(uint64_t key) const;
  IndicatorStats* FindMutable(uint64_t key);
  // fn(key, stats) for every value, in no particular order. O(values).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& [key, stats] : values_) fn(key, stats);
  }
  size_t size() const { return values_.size(); }
  uint64_t dropped() const { return dropped_; }
  // Accounts cleared (observed long enough without turning suspicious), in
  // the whole population: an account cleared (+1) and found suspicious
  // after all (-1).
  void CountCleared(int delta) { cleared_accounts_ += delta; }
  int64_t cleared_accounts() const { return cleared_accounts_; }
  // Of the cleared accounts, those that send from rotating exits
  // (NetworkLog::Rotating): the base rate of rotation among ordinary
  // customers (Correlator::RotationRarity). Evicted accounts stay counted,
  // as they stay counted among the cleared.
  void CountRotating(int delta) { rotating_cleared_ += delta; }
  int64_t rotating_cleared() const { return rotating_cleared_; }
  // The population a value's share is read against (IndicatorStats::Rarity):
  // the cleared accounts, at least kMinPopulation -- until the platform has
  // seen that many, a value's users are counted against as many strangers
  // as a small deployment has (a value 20 cleared accounts use is then 2%).
  static constexpr double kMinPopulation = 1000;
  double Population() const { return std::max(kMinPopulation, static_cast<double>(cleared_accounts_)); }

 private:
  size_t max_values_;
  uint64_t dropped_ = 0;
  int64_t cleared_accounts_ = 0;
  int64_t rotating_cleared_ = 0;
  absl::flat_hash_map<uint64_t, IndicatorStats> values_;
};

}  // namespace dg
