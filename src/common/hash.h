// Hashing used for fingerprints, interning and dedup: XXH3 (Debian's
// libxxhash). 64-bit, seeded, ~10 GB/s on long input; one call per string.
#pragma once

#include <cstdint>
#include <string_view>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace dg {

inline uint64_t Hash64(std::string_view s, uint64_t seed = 0) {
  return XXH3_64bits_withSeed(s.data(), s.size(), seed);
}

// Cheap avalanche of one 64-bit word (splitmix64 finaliser); used to derive
// the k MinHash functions from one base hash and to combine hashes.
inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t HashCombine(uint64_t a, uint64_t b) { return Mix64(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6))); }

}  // namespace dg
