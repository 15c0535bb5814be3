// LinkGraph: the links that built the campaigns, kept as weighted edges of
// the account graph so that a cluster can be re-examined and split
// (Correlator::Reexamine). The union-find (CampaignSet) only says who is
// together; the edges say why, and how strongly.
//
// Each edge is the pair's LinkScore when it was last seen (TryLink, a
// campaign match, or the daily re-examination), its Reason bits and whether
// it rested on paid infrastructure. Every account keeps at most kMaxEdges
// edges; a new edge to a full account replaces its weakest one if it is
// stronger (an account's K strongest ties survive). Edges are stored per
// endpoint, so one side may have dropped an edge the other keeps: readers
// take the union.
//
// Memory: 16 bytes per edge, at most kMaxEdges = 8 per account: ~140 bytes
// per linked account (8 edges, a count, the hash map slot); nothing for an
// account never linked. Add is O(kMaxEdges); Remove(account) is
// O(kMaxEdges^2) (its edges and its neighbours' edges back to it).
#pragma once

#include <array>
#include <cstdint>

#include <absl/container/flat_hash_map.h>

namespace dg {

struct LinkEdge {
  uint32_t other = 0;
  float score = 0;       // LinkScore when last evaluated
  uint32_t reasons = 0;  // Reason bits of the kinds that carried it
  bool paid = false;     // rested on paid infrastructure (card, address block, sign-up wave, mail domain)
};

class LinkGraph {
 public:
  static constexpr size_t kMaxEdges = 8;
  struct Edges {
    std::array<LinkEdge, kMaxEdges> e{};
    uint8_t n = 0;
  };

  // Records (or updates) the edge a-b on both sides.
  void Add(uint32_t a, uint32_t b, float score, uint32_t reasons, bool paid);
  // Updates the edge's score on the sides that still hold it.
  void Update(uint32_t a, uint32_t b, float score, uint32_t reasons, bool paid);
  // An account slot is reused or forgotten: its edges go, on both sides.
  void Remove(uint32_t account);
  // Null when the account has no edges.
  const Edges* Find(uint32_t account) const;
  size_t accounts() const { return edges_.size(); }

 private:
  void AddOneSide(uint32_t from, const LinkEdge& edge);
  absl::flat_hash_map<uint32_t, Edges> edges_;
};

}  // namespace dg
