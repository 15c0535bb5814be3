// VerdictHistory: every verdict change of every account, with the evidence
// as it was at that change (decide/verdict.h VerdictRecord: time, verdict,
// score, reasons and each own signal's measured value). Fed by the engine's
// verdict observer (Engine::SetVerdictObserver) at the change itself -- not
// sampled -- live and during replay alike, so a restart rebuilds the same
// history from the log (within the log's retention).
//
// Bounded: the newest kPerAccount changes per account are kept (older ones
// are counted in `dropped`); only accounts whose verdict ever changed have
// an entry (~72 B per change kept, plus the id). Not thread-safe: serve
// calls it under the engine's lock (exclusive to record, shared to read).
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include <absl/container/flat_hash_map.h>

#include "decide/verdict.h"

namespace dg {

class VerdictHistory {
 public:
  static constexpr size_t kPerAccount = 32;
  struct Changes {
    std::deque<VerdictRecord> kept;  // oldest first
    uint64_t dropped = 0;            // older changes no longer kept
  };
  void Record(const std::string& account_id, const VerdictRecord& r);
  const Changes* Find(const std::string& account_id) const;
  size_t accounts() const { return by_account_.size(); }

 private:
  absl::flat_hash_map<std::string, Changes> by_account_;
};

}  // namespace dg
