#include "detect/token_baseline.h"

#include <algorithm>
#include <cmath>

namespace dg {

void TokenBaseline::Add(double tokens_per_day) {
  if (!(tokens_per_day >= 1.0)) tokens_per_day = 1.0;  // also NaN
  const double b = std::floor(std::log2(tokens_per_day) * kPerDoubling);
  const auto bucket = static_cast<size_t>(std::clamp(b, 0.0, static_cast<double>(kBuckets - 1)));
  if (counts_[bucket] != UINT32_MAX) ++counts_[bucket];
  ++total_;
  if (total_ >= kMinSamples && (total_ % 256 == 0 || upper_ == 0)) upper_ = Quantile(kQuantile);
}

double TokenBaseline::Quantile(double q) const {
  if (total_ == 0) return 0;
  const auto need = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= need) return std::exp2(static_cast<double>(b + 1) / kPerDoubling);
  }
  return std::exp2(static_cast<double>(kBuckets) / kPerDoubling);
}

}  // namespace dg
