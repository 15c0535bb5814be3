// TokenBaseline: how many output + reasoning tokens an account takes per
// active day across the whole population -- the base rate the
// `token_volume` signal is read against (issue #16, economic evidence).
//
// A harvest budget is measured in tokens. An operator can keep each
// account's request count under the heaviest real users' by spreading the
// budget over more accounts, but the tokens it must take per account-day
// then cost it accounts in proportion (about ten times as many to get under
// the heaviest individuals). What "heavy" means differs by platform and by
// month, so it is not a constant: it is the population's own upper quantile,
// learnt from the log.
//
// Every time a cleared account that is not suspicious starts a newer active
// day (UTC), the engine adds the total of the day it completed to a
// histogram with eight buckets per doubling (1 token to 2^40); the quantile
// is read from it. Harvesting accounts never add to it (they must not raise
// the bar they are read against), nor do accounts whose log carries no
// token counts.
// The same stream gives the same histogram, so verdicts stay reproducible.
//
// Cost: Add O(1); Quantile O(buckets) = 320 steps, cached and recomputed
// every 256 additions. Memory: 320 x 4 B, fixed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace dg {

class TokenBaseline {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  static constexpr int kPerDoubling = 8;
  static constexpr int kDoublings = 40;
  static constexpr size_t kBuckets = static_cast<size_t>(kPerDoubling * kDoublings);
  // Below this many samples the population is not known: Upper() is 0.
  static constexpr uint64_t kMinSamples = 500;
  // The quantile the signal is read against.
  static constexpr double kQuantile = 0.99;

  void Add(double tokens_per_day);
  // The population's kQuantile of tokens per active day, or 0 while fewer
  // than kMinSamples samples were added.
  double Upper() const { return upper_; }
  uint64_t samples() const { return total_; }
  // Any quantile q in (0, 1) (the bucket's upper edge), 0 when empty.
  double Quantile(double q) const;

 private:
  std::array<uint32_t, kBuckets> counts_{};
  uint64_t total_ = 0;
  double upper_ = 0;
};

}  // namespace dg
