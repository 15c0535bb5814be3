#include "serve/verdict_history.h"

namespace dg {

void VerdictHistory::Record(const std::string& account_id, const VerdictRecord& r) {
  Changes& c = by_account_[account_id];
  if (c.kept.size() >= kPerAccount) {
    c.kept.pop_front();
    ++c.dropped;
  }
  c.kept.push_back(r);
}

const VerdictHistory::Changes* VerdictHistory::Find(const std::string& account_id) const {
  const auto it = by_account_.find(account_id);
  return it == by_account_.end() ? nullptr : &it->second;
}

}  // namespace dg
