// MinHash signatures of token shingles, and an online LSH index that assigns
// each signature to a template cluster.
//
// Signature: one-permutation MinHash (K=32 bins) with rotation
// densification over 3-token shingles of the masked token stream (unigrams
// for prompts shorter than 3 tokens). Two signatures agree on a bin with
// probability ~ Jaccard similarity of their shingle sets, so light
// paraphrase (a few words changed) keeps most bins. Cost: O(tokens).
//
// TemplateIndex: LSH with 8 bands of 4 bins. A prompt joins the first
// cluster whose representative agrees on >= join_threshold of the bins
// among those sharing a band; otherwise it starts a new cluster. Cluster ids
// are dense uint32 assigned in order of first sight, so the same input
// always yields the same ids. Memory is bounded: at most `max_clusters`
// clusters are kept (when full, the index starts a new generation and
// forgets the older one) -- about 200 bytes a cluster.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <absl/container/flat_hash_map.h>

namespace dg {

inline constexpr size_t kMinHashBins = 32;
inline constexpr size_t kLshBands = 8;
inline constexpr size_t kLshRows = kMinHashBins / kLshBands;

using Signature = std::array<uint32_t, kMinHashBins>;

// Returns false (and leaves *sig untouched) for an empty token stream.
bool ComputeSignature(const std::vector<uint64_t>& tokens, Signature* sig);

// The rotation densification ComputeSignature ends with: each empty bin
// (UINT32_MAX), in order, borrows the value of the first bin after it
// (cyclically) that holds one -- bins filled earlier in this pass included,
// UINT32_MAX - 1 never -- mixed with the distance. O(bins): a 32-bit mask of
// the bins that can lend, one count of trailing zeros per empty bin.
void DensifySignature(Signature* sig);

// Share of bins on which the signatures agree: an estimate of Jaccard.
double EstimateJaccard(const Signature& a, const Signature& b);

class TemplateIndex {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  explicit TemplateIndex(size_t max_clusters = 1u << 20, double join_threshold = 0.5);
  TemplateIndex(const TemplateIndex&) = delete;  // large; share by reference
  TemplateIndex& operator=(const TemplateIndex&) = delete;

  // Cluster id for this signature (new or existing); ids start at 1.
  uint32_t Assign(const Signature& sig);
  size_t clusters() const { return reps_.size() + old_reps_.size(); }
  uint32_t next_id() const { return next_id_; }

 private:
  const Signature* Rep(uint32_t id) const;
  size_t max_clusters_;
  double join_threshold_;
  uint32_t next_id_ = 1;
  absl::flat_hash_map<uint64_t, uint32_t> bands_;
  absl::flat_hash_map<uint64_t, uint32_t> old_bands_;
  absl::flat_hash_map<uint32_t, Signature> reps_;
  absl::flat_hash_map<uint32_t, Signature> old_reps_;
};

}  // namespace dg
