// CampaignSet: campaigns as clusters of the account graph, maintained online
// with union-find (path halving, union by size). Linking two accounts merges
// their clusters and their aggregates; a cluster becomes a campaign (gets an
// id "camp_N", N in order of confirmation) once it holds enough accounts.
//
// Clusters can also be split (Split): Correlator::Reexamine re-examines the
// links inside each cluster once a day (correlate/link_graph.h) and breaks
// off the parts held to the rest only by links that no longer hold. The
// part that keeps the aggregate keeps the campaign id; the others start as
// unconfirmed clusters and get new ids when they qualify.
//
// Memory: 4 bytes per account for the forest, plus one aggregate per cluster
// with more than one member (member list, per-day volume, models, samples).
// Union is O(smaller member list); Find is ~O(1) amortised; Split is
// O(members + per-day and per-model entries x parts).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/time.h"
#include "signals/signals.h"

namespace dg {

struct CampaignAggregate {
  std::string id;              // empty until confirmed
  uint32_t confirmed_seq = 0;  // order of confirmation
  std::vector<uint32_t> members;
  double score_sum = 0;        // sum of members' own scores at linking
  uint64_t interactions = 0;   // member interactions since joining
  TimeMs first_seen = -1, last_seen = -1, confirmed_at = -1;
  std::map<int64_t, uint64_t> per_day;       // day index -> interactions
  std::map<std::string, uint64_t> models;    // model -> interactions
  std::map<std::pair<int64_t, std::string>, uint64_t> day_models;  // (day, model) -> interactions (models <= 64)
  std::vector<std::string> samples;          // redacted prompt samples (<= 3)
  ReasonMask link_reasons = 0;                 // Reason bits of the links that built it
  // A link or match in it rested on infrastructure (evidence on a card,
  // address block, creation burst or e-mail domain of at least half the
  // kind's weight -- what CombineKinds calls infrastructure).
  bool infra_linked = false;
};

class CampaignSet {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  void EnsureAccounts(size_t n);
  // A reused account slot (never linked) becomes its own cluster again.
  void Reset(uint32_t account) { parent_[account] = account; }
  uint32_t Find(uint32_t account);
  // Merges the clusters of a and b; returns the new root.
  uint32_t Union(uint32_t a, uint32_t b, double score_a, double score_b);
  // Root without path compression, for readers holding a shared lock.
  uint32_t Root(uint32_t account) const;
  CampaignAggregate* Aggregate(uint32_t root);  // null for singletons never linked
  const CampaignAggregate* Aggregate(uint32_t root) const;
  CampaignAggregate& AggregateFor(uint32_t root, double own_score);
  // Gives the cluster an id if it now qualifies; true when newly confirmed.
  bool MaybeConfirm(uint32_t root, size_t min_accounts, TimeMs now);
  // Splits the cluster of `root` into `parts`, which together hold exactly
  // its members (each part in the order it should keep). parts[0] keeps the
  // aggregate -- id, confirmation, samples, link reasons -- under a root of
  // its own; every other part of two or more accounts gets a new,
  // unconfirmed aggregate; a part of one account is a singleton again.
  // `share[p]` is part p's share of the cluster's volume: per-day and
  // per-model counts and interactions are divided accordingly (what is not
  // given away stays with parts[0]); first/last seen, score sums and link
  // reasons are the caller's to set. Returns each part's new root.
  std::vector<uint32_t> Split(uint32_t root, const std::vector<std::vector<uint32_t>>& parts,
                              const std::vector<double>& share);
  const absl::flat_hash_map<uint32_t, CampaignAggregate>& aggregates() const { return aggs_; }
  uint32_t confirmed() const { return next_seq_ - 1; }

 private:
  std::vector<uint32_t> parent_;
  absl::flat_hash_map<uint32_t, CampaignAggregate> aggs_;
  uint32_t next_seq_ = 1;
};

}  // namespace dg
