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
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/functional/function_ref.h>

#include "signals/signals.h"

namespace dg {

struct LinkEdge {
  uint32_t other = 0;
  float score = 0;       // LinkScore when last evaluated
  ReasonMask reasons = 0;  // Reason bits of the kinds that carried it
  bool paid = false;     // rested on paid infrastructure (card, address block, sign-up wave, mail domain)
};

class LinkGraph {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  static constexpr size_t kMaxEdges = 8;
  struct Edges {
    std::array<LinkEdge, kMaxEdges> e{};
    uint8_t n = 0;
  };

  // Records (or updates) the edge a-b on both sides.
  void Add(uint32_t a, uint32_t b, float score, ReasonMask reasons, bool paid);
  // Updates the edge's score on the sides that still hold it.
  void Update(uint32_t a, uint32_t b, float score, ReasonMask reasons, bool paid);
  // An account slot is reused: its edges go, and the edges back to it from
  // the accounts it held. An account that holds an edge the other side had
  // dropped keeps it: it names the slot, and whoever reads it scores the
  // pair again on the slot's current account (SplitClusters does), so a
  // stale edge is a pair to look at, never a link.
  void Remove(uint32_t account);
  // Null when the account has no edges.
  const Edges* Find(uint32_t account) const;
  size_t accounts() const { return edges_.size(); }

 private:
  void AddOneSide(uint32_t from, const LinkEdge& edge);
  absl::flat_hash_map<uint32_t, Edges> edges_;
};

// A link among n accounts numbered 0..n-1, for SelfStandingBridges.
struct GraphEdge {
  uint32_t x = 0, y = 0;
  bool infra = false;  // rests on infrastructure (Correlator::CombineKinds' sense)
  float weight = 1;    // the link's score (SparseCommunityCuts)
};

// The links to cut (1 per edge): a link that is the only one between two
// parts (a bridge) which each have min_side accounts or more, and that
// rests on content and client configuration alone. One pair of accounts
// alike in public-ish ways does not make two groups that each block on
// their own (min_side: what a group needs to block on its own) one operation -- the
// rule TryLink applies to two self-standing campaigns, applied to groups
// that grew after the link was made. A link on infrastructure is never
// cut. Iterative (Tarjan's bridges, no recursion); O(n + edges) time and
// memory; the result depends only on the input order.
std::vector<uint8_t> SelfStandingBridges(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side);

// The links to cut (1 per edge) that SelfStandingBridges misses when two
// groups are joined by two or more stray links: a link that rests on
// content and client configuration alone and that no third account
// corroborates (its two accounts have no linked account in common) is a
// tie between groups, not within one, when the groups it joins -- the
// parts the other links make, small parts taken into their neighbours
// first -- each have min_side accounts or more. Accounts of one operation
// are tied by many overlapping links (shared cards, blocks, waves, or one
// value shared by many of them, so linked pairs share neighbours); two
// operations that adopted the same public template touch in a few pairs
// that share nobody. O(edges x kMaxEdges) time after sorting adjacency,
// O(n + edges) memory, no recursion; the result depends only on the input
// order.
std::vector<uint8_t> UncorroboratedTies(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side);

// Communities of the weighted graph by modularity: the Louvain method
// (Blondel, Guillaume, Lambiotte, Lefebvre 2008) -- every node moves to the
// neighbouring community that gains the most modularity, until none moves;
// the communities become the nodes of the next level; until a level
// changes nothing. Deterministic: nodes are visited in index order, a node
// moves only for a strictly larger gain, ties go to the lowest community,
// communities are numbered by their lowest node. (igraph's Louvain and
// Leiden, in Debian, shuffle with the library's global RNG and abort on
// error by default; this engine's verdicts must depend on its input only.)
// Returns a community number per node, 0..k-1. O(levels x passes x edges)
// time (at most 16 levels of at most 32 passes), O(n + edges) memory, no
// recursion.
std::vector<uint32_t> ModularityCommunities(size_t n, const std::vector<GraphEdge>& edges);

// The links to cut (1 per edge) between communities of accounts that are
// linked to each other much less than chance would link them: two
// operations that adopted the same public template or the popular client at
// its defaults touch in tens of pairs among thousands of links inside each.
// Bridges and uncorroborated ties (above) miss that: the touching pairs are
// many and share neighbours. Communities by ModularityCommunities, then
// taken back together where the split would not hold:
//   - a link on infrastructure between two communities joins them (never
//     cut, as above);
//   - a community of fewer than min_side accounts joins the one it is most
//     linked to (what a group needs to block on its own);
//   - two communities whose links between them weigh at least max_ratio of
//     what chance gives (w_ab >= max_ratio x vol_a x vol_b / 2m, the
//     modularity null model) join: one operation that Louvain cut in two
//     is linked across the cut about as densely as within.
// Then HoldSmallParts (a community need not be connected).
// O(edges log edges) per join after the communities (at most one join per
// community; a review measured 0.95 s for 90 joins at 50,000 accounts and
// 200,000 links), HoldSmallParts after, no recursion; a weight that is not
// finite and positive is no link (an infrastructure link still joins its
// communities); the result depends only on the input order.
std::vector<uint8_t> SparseCommunityCuts(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side,
                                         double max_ratio);

// Un-cuts (cut[e] = 0) every cut link that touches a part -- what the
// links not cut connect -- that cannot stand alone, or that lies inside one
// part; until nothing changes. Rules that each keep their own sides whole
// can together leave a small part (an account with a strong link into one
// group and weaker ones into another, each cut by a different rule); a
// part of one leaves its campaign and a small one may not block.
// stands(size, sum) says whether a part of `size` nodes whose node_value
// add up to `sum` stands alone (HoldSmallParts: size >= min_side).
// O(edges) per pass, each pass but the last joins two parts; no recursion.
void HoldParts(size_t n, const std::vector<GraphEdge>& edges, const std::vector<double>& node_value,
               absl::FunctionRef<bool(size_t size, double sum)> stands, std::vector<uint8_t>& cut);
void HoldSmallParts(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side, std::vector<uint8_t>& cut);

}  // namespace dg
