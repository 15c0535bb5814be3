#include "account/repeat_table.h"

#include <algorithm>
#include <bit>

namespace dg {

RepeatTable::RepeatTable(size_t max_bytes) : slots_(kMinBuckets * kWays, 0) {
  const size_t want = std::max(kMinBuckets, max_bytes / (kWays * sizeof(uint64_t)));
  max_buckets_ = std::bit_floor(want);
  shift_ = 64 - static_cast<uint32_t>(std::countr_zero(kMinBuckets));
}

bool RepeatTable::Insert(uint64_t key) {
  uint64_t* b = &slots_[BucketOf(key) * kWays];
  for (size_t w = 0; w < kWays; ++w) {
    if (b[w] == 0) {
      b[w] = key;
      ++used_;
      return true;
    }
  }
  return false;
}

void RepeatTable::Grow() {
  std::vector<uint64_t> old;
  old.swap(slots_);
  slots_.assign(old.size() * 2, 0);
  --shift_;
  used_ = 0;
  for (const uint64_t k : old) {
    if (k != 0 && !Insert(k)) ++replaced_;  // a full bucket after doubling is all but impossible: forgotten
  }
}

bool RepeatTable::SeenBefore(uint64_t key) {
  if (key == 0) return false;
  const uint64_t* b = &slots_[BucketOf(key) * kWays];
  for (size_t w = 0; w < kWays; ++w) {
    if (b[w] == key) return true;
  }
  // Grow at half load, or when the key's bucket is full, while the table
  // may; only at its bytes does a new key take an old one's place.
  for (;;) {
    const bool can_grow = slots_.size() / kWays < max_buckets_;
    if (can_grow && used_ + 1 > slots_.size() / 2) {
      Grow();
      continue;
    }
    if (Insert(key)) return false;
    if (can_grow) {
      Grow();
      continue;
    }
    slots_[BucketOf(key) * kWays + victim_++ % kWays] = key;
    ++replaced_;
    return false;
  }
}

}  // namespace dg
