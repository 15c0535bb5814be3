// SharedIndicators: indicators another provider shared (STIX imports) as
// the engine and a cluster decision node match them -- payment
// fingerprints, user agents, and networks matched with their own prefix
// length (IPv4-mapped IPv6 as IPv4; nothing wider than /16 or /32: one
// shared indicator must not be able to block a whole provider's customers).
//
// Cost: Add and Remove O(1) (a network's prefix length joins a sorted list
// of the lengths in use); Match one hash look-up for the payment plus one
// per distinct prefix length of the address's family. Memory ~60 B per
// indicator plus its source text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "signals/signals.h"

namespace dg {

// How far an imported (partner) indicator is trusted. kReview: a match
// sends the account to review at most, never a block. kBlock: a new or
// barely seen account matching it is blocked (an established one reviewed).
enum class SharedTrust : uint8_t { kReview, kBlock };
std::string_view SharedTrustName(SharedTrust t);
std::optional<SharedTrust> SharedTrustByName(std::string_view name);

// One imported indicator as it is held.
struct SharedEntry {
  std::string source;
  SharedTrust trust = SharedTrust::kReview;
};

class SharedIndicators {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  // Kind + raw value (payment fingerprint; a network "a.b.c.0/24" or an
  // address; user agent). False for a value that cannot be used. The same
  // value imported again replaces its source and trust, except that a
  // kReview import never lowers a kBlock one (a second, less trusted feed
  // cannot disarm the first; remove it to lower it).
  bool Add(IndicatorKind kind, const std::string& value, const std::string& source, SharedTrust trust);
  // Forgets an indicator (the value as given to Add, or any form with the
  // same canonical value). False if it was not there.
  bool Remove(IndicatorKind kind, const std::string& value);
  // The form a value is keyed by: networks as "a.b.c.0/24" (masked, IPv4-
  // mapped as IPv4, host addresses with /32 or /128), others unchanged;
  // nullopt for a value Add would refuse.
  static std::optional<std::string> Canonical(IndicatorKind kind, const std::string& value);
  // The indicator this payment / address matches (a kBlock one when both
  // kinds match), or null.
  const SharedEntry* Match(const std::string& payment, const std::string& ip) const;
  size_t size() const { return entries_.size(); }

 private:
  absl::flat_hash_map<uint64_t, SharedEntry> entries_;  // indicator key -> source and trust
  std::vector<int> v4_lengths_, v6_lengths_;           // prefix lengths of shared networks, longest first
};

}  // namespace dg
