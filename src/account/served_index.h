// ServedIndex: which responses the platform served to which account, as
// fingerprints (content/analyzer.h TurnFingerprint), so that a request's
// conversation history can be checked against what was really served.
//
// A harvester that wraps one-shot prompts in multi-turn histories, or hides
// its instruction in an earlier turn followed by an assistant reply the
// model never gave ("Understood."), sends assistant turns that were never
// served to it. A person continuing a chat sends back what was served.
// Only checked where the log carries response text (an account whose
// responses are logged); a log without responses leaves the question open.
//
// Bounded: two generations of at most `capacity` keys each (key = account
// slot x fingerprint); when the newer one fills, the older is dropped, so
// a turn served long ago (more than ~capacity responses back) may be taken
// for unserved -- a history that old is rare. A false "served" (an account
// slot reused after eviction, a 64-bit collision) only loses evidence.
// Memory: ~2 x capacity x 10 bytes (default 2^20: ~20 MB). O(1) per call.
#pragma once

#include <cstddef>
#include <cstdint>

#include <absl/container/flat_hash_set.h>

namespace dg {

class ServedIndex {
 public:
  explicit ServedIndex(size_t capacity = size_t{1} << 20) : capacity_(capacity == 0 ? 1 : capacity) {}

  void Add(uint32_t account, uint64_t fingerprint);
  bool Contains(uint32_t account, uint64_t fingerprint) const;
  size_t size() const { return current_.size() + previous_.size(); }

 private:
  static uint64_t Key(uint32_t account, uint64_t fingerprint);
  size_t capacity_;
  absl::flat_hash_set<uint64_t> current_, previous_;
};

}  // namespace dg
