#include "content/minhash.h"

#include <algorithm>
#include <limits>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

void DensifySignature(Signature* sig) {
  constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
  static_assert(kMinHashBins == 32, "the bin masks are 32-bit words");
  Signature& s = *sig;
  // Bit b of `empty`: bin b is kEmpty. Bit b of `donors`: bin b holds a
  // value a later bin may borrow (neither kEmpty nor kEmpty - 1, i.e.
  // (v | 1) != kEmpty), kept up to date as bins are filled -- the scan "next
  // bin, step by step" of each empty bin is one rotate and one count of
  // trailing zeros.
  uint32_t empty = 0, donors = 0;
#ifdef __SSE2__
  const __m128i ones = _mm_set1_epi32(-1);
  for (unsigned k = 0; k < kMinHashBins / 4; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + 4 * k));
    empty |= static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(v, ones)))) << (4 * k);
    donors |= static_cast<uint32_t>(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_or_si128(v, _mm_set1_epi32(1)), ones))))
              << (4 * k);
  }
  donors = ~donors;
#else
  for (size_t bin = 0; bin < kMinHashBins; ++bin) {
    empty |= static_cast<uint32_t>(s[bin] == kEmpty) << bin;
    donors |= static_cast<uint32_t>((s[bin] | 1u) != kEmpty) << bin;
  }
#endif
  while (empty != 0) {  // the empty bins in ascending order, each once
    const auto bin = static_cast<size_t>(__builtin_ctz(empty));
    empty &= empty - 1;
    // Bit i of `ahead`: bin (bin + 1 + i) % 32, i.e. step i + 1; bit 31 is
    // this bin itself, which is empty and so never a donor.
    const unsigned shift = static_cast<unsigned>(bin + 1) % 32;
    const uint32_t ahead = shift == 0 ? donors : (donors >> shift) | (donors << (32 - shift));
    if (ahead == 0) continue;  // no bin to borrow from: stays empty
    const size_t step = static_cast<size_t>(__builtin_ctz(ahead)) + 1;
    const uint32_t v = s[(bin + step) % kMinHashBins];
    s[bin] = static_cast<uint32_t>(Mix64(v + step * 0x9e3779b9ULL)) | 1u;
    donors |= static_cast<uint32_t>(s[bin] != kEmpty) << bin;  // odd, so never kEmpty - 1
  }
}

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
  DensifySignature(&s);
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
