#include "account/served_index.h"

#include "common/hash.h"

namespace dg {

uint64_t ServedIndex::Key(uint32_t account, uint64_t fingerprint) { return HashCombine(fingerprint, account); }

void ServedIndex::Add(uint32_t account, uint64_t fingerprint) {
  if (fingerprint == 0) return;
  const uint64_t key = Key(account, fingerprint);
  if (current_.size() >= capacity_) {
    previous_ = std::move(current_);
    current_ = {};
  }
  current_.insert(key);
}

bool ServedIndex::Contains(uint32_t account, uint64_t fingerprint) const {
  const uint64_t key = Key(account, fingerprint);
  return current_.contains(key) || previous_.contains(key);
}

}  // namespace dg
