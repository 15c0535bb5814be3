// RepeatTable: which (account, deterministic request) pairs were sent
// before -- the memory behind the `evaluation_repeats` evidence (an account
// that sends the same temperature-0 request again and again is measuring
// the model, since a repeat yields the answer it already has; a harvester
// pays for nothing it did not have).
//
// Keys are 64-bit hashes of (account, request_fp) (content/analyzer.h). The
// table is set-associative: buckets of 8 keys (one 64-byte cache line),
// the bucket chosen by the key's high bits. It starts at 1,024 buckets
// (64 KiB) and doubles whenever half its slots are used or a key's bucket
// is full, up to `max_bytes`; once there, a new key in a full bucket takes
// the place of one of its keys, chosen by one round-robin counter for the
// whole table (not the bucket's oldest: a key just stored can go next).
// Keys are hashes with public seeds, so an attacker can aim keys at one
// bucket to make it grow sooner (to max_bytes at most). A forgotten key makes a later repeat look new: the error is
// towards "not a repeat", i.e. towards blocking, never towards exempting.
// A key is never reported seen unless it was inserted (no false positives
// but for 64-bit collisions).
//
// Cost: SeenBefore O(1) (one cache line; a doubling rehashes, amortised
// O(1)). Memory: 64 KiB to max_bytes (default 64 MiB, 8M keys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dg {

class RepeatTable {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  static constexpr size_t kWays = 8;
  static constexpr size_t kMinBuckets = 1024;
  static constexpr size_t kDefaultMaxBytes = size_t{64} << 20;

  explicit RepeatTable(size_t max_bytes = kDefaultMaxBytes);

  // True when `key` was recorded before and is still held; otherwise
  // records it and returns false. Key 0 is never recorded (false).
  bool SeenBefore(uint64_t key);

  size_t bytes() const { return slots_.size() * sizeof(uint64_t); }
  size_t keys() const { return used_; }
  uint64_t replaced() const { return replaced_; }

 private:
  size_t BucketOf(uint64_t key) const { return static_cast<size_t>(key >> shift_); }
  bool Insert(uint64_t key);  // false when the bucket is full (no replacement)
  void Grow();

  std::vector<uint64_t> slots_;  // buckets x kWays, 0 = empty
  size_t max_buckets_ = kMinBuckets;
  uint32_t shift_ = 54;          // 64 - log2(buckets)
  size_t used_ = 0;
  uint64_t replaced_ = 0;
  uint32_t victim_ = 0;          // round-robin way replaced in a full bucket
};

}  // namespace dg
