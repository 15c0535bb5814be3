#include "content/minhash.h"

#include <algorithm>
#include <limits>

#include "common/hash.h"

namespace dg {

namespace {

// The mixed hash of each 3-token shingle starting at t[0, count): the
// element-wise half of the signature, with no dependence between shingles,
// so that it vectorises (the avx2 clone is chosen at load time where the
// CPU has it; both compute the same values).
#if defined(__x86_64__) && defined(__GNUC__)
#define DG_SHINGLE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define DG_SHINGLE_CLONES
#endif
DG_SHINGLE_CLONES void ShingleHashes(const uint64_t* t, size_t count, uint64_t* out) {
  for (size_t pos = 0; pos < count; ++pos) out[pos] = Mix64(HashCombine(HashCombine(t[pos], t[pos + 1]), t[pos + 2]));
}

constexpr size_t kShingleChunk = 256;

}  // namespace

bool ComputeSignature(const std::vector<uint64_t>& tokens, Signature* sig) {
  if (tokens.empty()) return false;
  constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  Signature s;
  s.fill(kEmpty);
  auto add_mixed = [&](uint64_t h) {
    const size_t bin = h % kMinHashBins;
    const auto v = static_cast<uint32_t>(h >> 32);
    if (v < s[bin]) s[bin] = v;
  };
  if (tokens.size() < 3) {
    for (const uint64_t t : tokens) add_mixed(Mix64(t));
  } else {
    uint64_t mixed[kShingleChunk];
    const size_t shingles = tokens.size() - 2;
    for (size_t from = 0; from < shingles; from += kShingleChunk) {
      const size_t count = std::min(kShingleChunk, shingles - from);
      ShingleHashes(tokens.data() + from, count, mixed);
      for (size_t idx = 0; idx < count; ++idx) add_mixed(mixed[idx]);
    }
  }
  // Rotation densification: an empty bin borrows the next non-empty one,
  // salted by distance, so short prompts still give full signatures.
  for (size_t bin = 0; bin < kMinHashBins; ++bin) {
    if (s[bin] != kEmpty) continue;
    for (size_t step = 1; step < kMinHashBins; ++step) {
      const uint32_t v = s[(bin + step) % kMinHashBins];
      if (v != kEmpty && v != kEmpty - 1) {
        s[bin] = static_cast<uint32_t>(Mix64(v + step * 0x9e3779b9ULL)) | 1u;
        break;
      }
    }
  }
  *sig = s;
  return true;
}

double EstimateJaccard(const Signature& a, const Signature& b) {
  size_t same = 0;
  for (size_t bin = 0; bin < kMinHashBins; ++bin) same += (a[bin] == b[bin]);
  return static_cast<double>(same) / kMinHashBins;
}

TemplateIndex::TemplateIndex(size_t max_clusters, double join_threshold)
    : max_clusters_(max_clusters), join_threshold_(join_threshold) {}

const Signature* TemplateIndex::Rep(uint32_t id) const {
  if (auto it = reps_.find(id); it != reps_.end()) return &it->second;
  if (auto it = old_reps_.find(id); it != old_reps_.end()) return &it->second;
  return nullptr;
}

uint32_t TemplateIndex::Assign(const Signature& sig) {
  std::array<uint64_t, kLshBands> keys;
  for (size_t band = 0; band < kLshBands; ++band) {
    uint64_t h = band + 1;
    for (size_t row = 0; row < kLshRows; ++row) h = HashCombine(h, sig[band * kLshRows + row]);
    keys[band] = h;
  }
  // The eight probes go to unrelated places of a large table: start all
  // their cache misses at once rather than one after the other.
  for (const uint64_t key : keys) bands_.prefetch(key);
  uint32_t best = 0;
  double best_sim = 0;
  for (const uint64_t key : keys) {
    uint32_t cand = 0;
    if (auto it = bands_.find(key); it != bands_.end()) cand = it->second;
    else if (auto it2 = old_bands_.find(key); it2 != old_bands_.end()) cand = it2->second;
    if (cand == 0 || cand == best) continue;
    const Signature* rep = Rep(cand);
    if (rep == nullptr) continue;
    const double sim = EstimateJaccard(sig, *rep);
    if (sim > best_sim || (sim == best_sim && cand < best)) {
      best_sim = sim;
      best = cand;
    }
  }
  if (best != 0 && best_sim >= join_threshold_) {
    // Remember this member's bands too, so the cluster follows drift.
    if (!reps_.contains(best)) reps_.emplace(best, *Rep(best));
    if (bands_.size() < max_clusters_ * kLshBands) {
      for (const uint64_t key : keys) bands_.try_emplace(key, best);
    }
    return best;
  }
  if (reps_.size() >= max_clusters_ || bands_.size() >= max_clusters_ * kLshBands) {
    old_reps_ = std::move(reps_);
    old_bands_ = std::move(bands_);
    reps_ = {};
    bands_ = {};
  }
  const uint32_t id = next_id_++;
  reps_.emplace(id, sig);
  for (const uint64_t key : keys) bands_[key] = id;
  return id;
}

}  // namespace dg
