#include "correlate/link_graph.h"

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>
#include <numeric>
#include <tuple>

namespace dg {

void LinkGraph::AddOneSide(uint32_t from, const LinkEdge& edge) {
  Edges& es = edges_[from];
  size_t weakest = 0;
  for (size_t i = 0; i < es.n; ++i) {
    if (es.e[i].other == edge.other) {
      es.e[i] = edge;
      return;
    }
    if (es.e[i].score < es.e[weakest].score) weakest = i;
  }
  if (es.n < kMaxEdges) {
    es.e[es.n++] = edge;
  } else if (edge.score > es.e[weakest].score) {
    es.e[weakest] = edge;
  }
}

void LinkGraph::Add(uint32_t a, uint32_t b, float score, ReasonMask reasons, bool paid) {
  if (a == b) return;
  AddOneSide(a, LinkEdge{b, score, reasons, paid});
  AddOneSide(b, LinkEdge{a, score, reasons, paid});
}

void LinkGraph::Update(uint32_t a, uint32_t b, float score, ReasonMask reasons, bool paid) {
  for (const auto& [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
    const auto it = edges_.find(from);
    if (it == edges_.end()) continue;
    for (size_t i = 0; i < it->second.n; ++i) {
      if (it->second.e[i].other == to) it->second.e[i] = LinkEdge{to, score, reasons, paid};
    }
  }
}

void LinkGraph::Remove(uint32_t account) {
  const auto it = edges_.find(account);
  if (it == edges_.end()) return;
  const Edges mine = it->second;
  edges_.erase(it);
  for (size_t i = 0; i < mine.n; ++i) {
    const auto o = edges_.find(mine.e[i].other);
    if (o == edges_.end()) continue;
    Edges& es = o->second;
    size_t w = 0;
    for (size_t r = 0; r < es.n; ++r) {
      if (es.e[r].other != account) es.e[w++] = es.e[r];
    }
    es.n = static_cast<uint8_t>(w);
    if (es.n == 0) edges_.erase(o);
  }
}

const LinkGraph::Edges* LinkGraph::Find(uint32_t account) const {
  const auto it = edges_.find(account);
  return it == edges_.end() ? nullptr : &it->second;
}

std::vector<uint8_t> SelfStandingBridges(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side) {
  const size_t m = edges.size();
  std::vector<uint8_t> cut(m, 0);
  const auto edge = [&](size_t e) { return std::tuple{edges[e].x, edges[e].y, edges[e].infra}; };
  if (n < 2 * static_cast<size_t>(min_side)) return cut;
  // Adjacency in CSR form: for node v, (neighbour, edge) in adj[start[v] .. start[v+1]).
  std::vector<uint32_t> start(n + 1, 0);
  for (size_t e = 0; e < m; ++e) {
    const auto [x, y, infra] = edge(e);
    (void)infra;
    ++start[x + 1];
    ++start[y + 1];
  }
  for (size_t v = 0; v < n; ++v) start[v + 1] += start[v];
  std::vector<std::pair<uint32_t, uint32_t>> adj(2 * m);
  std::vector<uint32_t> fill(start.begin(), start.end() - 1);
  for (size_t e = 0; e < m; ++e) {
    const auto [x, y, infra] = edge(e);
    adj[fill[x]++] = {y, static_cast<uint32_t>(e)};
    adj[fill[y]++] = {x, static_cast<uint32_t>(e)};
  }
  // Iterative DFS (Tarjan's bridges): discovery order, low link, subtree
  // size; a stack of (node, edge it was entered by, next adjacency slot).
  constexpr uint32_t kNone = UINT32_MAX;
  std::vector<uint32_t> disc(n, kNone), low(n, 0), size(n, 1), parent_edge(n, kNone), parent(n, kNone);
  struct Frame {
    uint32_t v, next;
  };
  std::vector<Frame> stack;
  std::vector<std::pair<uint32_t, uint32_t>> bridges;  // (child node, edge)
  uint32_t clock = 0;
  for (uint32_t r = 0; r < n; ++r) {
    if (disc[r] != kNone || start[r] == start[r + 1]) continue;
    const size_t first_bridge = bridges.size();
    disc[r] = low[r] = clock++;
    stack.push_back({r, start[r]});
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next < start[f.v + 1]) {
        const auto [w, e] = adj[f.next++];
        if (e == parent_edge[f.v]) continue;
        if (disc[w] == kNone) {
          disc[w] = low[w] = clock++;
          parent[w] = f.v;
          parent_edge[w] = e;
          stack.push_back({w, start[w]});
        } else {
          low[f.v] = std::min(low[f.v], disc[w]);
        }
        continue;
      }
      const uint32_t v = f.v;
      stack.pop_back();
      if (parent[v] == kNone) continue;
      const uint32_t u = parent[v];
      low[u] = std::min(low[u], low[v]);
      size[u] += size[v];
      if (low[v] > disc[u]) bridges.emplace_back(v, parent_edge[v]);
    }
    // A bridge that carries no infrastructure, between two sides that each
    // block on their own, is cut.
    const uint32_t total = size[r];
    for (size_t b = first_bridge; b < bridges.size(); ++b) {
      const auto [child, e] = bridges[b];
      const auto [x, y, infra] = edge(e);
      if (!infra && size[child] >= min_side && total - size[child] >= min_side) cut[e] = 1;
    }
  }
  return cut;
}

std::vector<uint8_t> UncorroboratedTies(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side) {
  const size_t m = edges.size();
  std::vector<uint8_t> cut(m, 0);
  if (n < 2 * static_cast<size_t>(min_side)) return cut;
  // Sorted neighbour lists (a pair linked twice counts once).
  std::vector<std::vector<uint32_t>> adj(n);
  for (const GraphEdge& e : edges) {
    if (e.x == e.y) continue;
    adj[e.x].push_back(e.y);
    adj[e.y].push_back(e.x);
  }
  for (auto& a : adj) {
    std::sort(a.begin(), a.end());
    a.erase(std::unique(a.begin(), a.end()), a.end());
  }
  const auto corroborated = [&](uint32_t x, uint32_t y) {
    const auto& a = adj[x];
    const auto& b = adj[y];
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
      if (a[i] == b[j]) return true;
      if (a[i] < b[j]) {
        ++i;
      } else {
        ++j;
      }
    }
    return false;
  };
  std::vector<uint8_t> weak(m, 0);
  bool any = false;
  for (size_t e = 0; e < m; ++e) {
    weak[e] = !edges[e].infra && edges[e].x != edges[e].y && !corroborated(edges[e].x, edges[e].y);
    any = any || weak[e];
  }
  if (!any) return cut;
  // The parts the other links make; a weak link that touches a part too
  // small to stand alone holds: it is how that part belongs.
  cut = std::move(weak);
  HoldSmallParts(n, edges, min_side, cut);
  return cut;
}

namespace {

// Union-find over 0..n-1 that keeps each set's size and the sum of a
// value over its members; the lower root wins (the result depends only on
// the order of Unite calls). Find halves paths: no recursion.
struct SummingSets {
  std::vector<uint32_t> up, size;
  std::vector<double> sum;
  explicit SummingSets(size_t n) : up(n), size(n, 1), sum(n, 0) { std::iota(up.begin(), up.end(), 0u); }
  uint32_t Find(uint32_t x) {
    while (up[x] != x) x = up[x] = up[up[x]];
    return x;
  }
  bool Unite(uint32_t x, uint32_t y) {
    x = Find(x);
    y = Find(y);
    if (x == y) return false;
    if (y < x) std::swap(x, y);
    up[y] = x;
    size[x] += size[y];
    sum[x] += sum[y];
    return true;
  }
};

struct WeightedPair {
  uint32_t x, y;  // x <= y; x == y: a self loop (a community's inner weight)
  double w;
};

// Sorts by (x, y) and adds up repeated pairs.
void MergePairs(std::vector<WeightedPair>& pairs) {
  std::sort(pairs.begin(), pairs.end(), [](const WeightedPair& a, const WeightedPair& b) {
    return std::tie(a.x, a.y, a.w) < std::tie(b.x, b.y, b.w);  // w too: the sums' order is fixed
  });
  size_t out = 0;
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (out > 0 && pairs[out - 1].x == pairs[i].x && pairs[out - 1].y == pairs[i].y) {
      pairs[out - 1].w += pairs[i].w;
    } else {
      pairs[out++] = pairs[i];
    }
  }
  pairs.resize(out);
}

}  // namespace

std::vector<uint32_t> ModularityCommunities(size_t n, const std::vector<GraphEdge>& edges) {
  constexpr int kMaxLevels = 16;
  constexpr int kMaxPasses = 32;
  constexpr double kEps = 1e-12;
  std::vector<uint32_t> member(n);
  std::iota(member.begin(), member.end(), 0u);
  std::vector<WeightedPair> pairs;
  pairs.reserve(edges.size());
  for (const GraphEdge& e : edges) {
    if (e.x >= n || e.y >= n || e.x == e.y || !(e.weight > 0) || !std::isfinite(e.weight)) continue;
    pairs.push_back({std::min(e.x, e.y), std::max(e.x, e.y), static_cast<double>(e.weight)});
  }
  MergePairs(pairs);
  size_t ln = n;  // nodes of this level
  for (int level = 0; level < kMaxLevels && !pairs.empty(); ++level) {
    // Adjacency (CSR) without self loops; k: each node's strength, a self
    // loop counted twice (both of its ends are inside).
    std::vector<double> k(ln, 0);
    std::vector<uint32_t> start(ln + 1, 0);
    for (const WeightedPair& p : pairs) {
      if (p.x == p.y) {
        k[p.x] += 2 * p.w;
        continue;
      }
      k[p.x] += p.w;
      k[p.y] += p.w;
      ++start[p.x + 1];
      ++start[p.y + 1];
    }
    for (size_t v = 0; v < ln; ++v) start[v + 1] += start[v];
    std::vector<std::pair<uint32_t, double>> arcs(start[ln]);
    {
      std::vector<uint32_t> fill(start.begin(), start.end() - 1);
      for (const WeightedPair& p : pairs) {
        if (p.x == p.y) continue;
        arcs[fill[p.x]++] = {p.y, p.w};
        arcs[fill[p.y]++] = {p.x, p.w};
      }
    }
    const double m2 = std::accumulate(k.begin(), k.end(), 0.0);
    if (!(m2 > 0)) break;
    std::vector<uint32_t> comm(ln);
    std::iota(comm.begin(), comm.end(), 0u);
    std::vector<double> tot = k;
    std::vector<double> wto(ln, 0);
    std::vector<uint8_t> seen(ln, 0);
    std::vector<uint32_t> touched;
    bool any_move = false;
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      bool moved = false;
      for (uint32_t v = 0; v < ln; ++v) {
        const uint32_t c = comm[v];
        touched.clear();
        for (uint32_t a = start[v]; a < start[v + 1]; ++a) {
          const uint32_t d = comm[arcs[a].first];
          if (!seen[d]) {
            seen[d] = 1;
            touched.push_back(d);
          }
          wto[d] += arcs[a].second;
        }
        tot[c] -= k[v];
        const double stay = wto[c] - tot[c] * k[v] / m2;
        uint32_t best = c;
        double best_gain = -std::numeric_limits<double>::infinity();
        for (const uint32_t d : touched) {
          if (d == c) continue;
          const double gain = wto[d] - tot[d] * k[v] / m2;
          if (gain > best_gain + kEps || (std::fabs(gain - best_gain) <= kEps && d < best)) {
            best_gain = gain;
            best = d;
          }
        }
        if (best == c || !(best_gain > stay + kEps)) best = c;
        tot[best] += k[v];
        if (best != c) {
          comm[v] = best;
          moved = true;
        }
        for (const uint32_t d : touched) {
          wto[d] = 0;
          seen[d] = 0;
        }
      }
      if (!moved) break;
      any_move = true;
    }
    if (!any_move) break;
    // Communities numbered by their lowest node; the next level's nodes.
    std::vector<uint32_t> id(ln, UINT32_MAX);
    uint32_t next = 0;
    for (size_t v = 0; v < ln; ++v) {
      if (id[comm[v]] == UINT32_MAX) id[comm[v]] = next++;
    }
    for (uint32_t& m : member) m = id[comm[m]];
    if (next == ln) break;
    for (WeightedPair& p : pairs) {
      const uint32_t cx = id[comm[p.x]], cy = id[comm[p.y]];
      p.x = std::min(cx, cy);
      p.y = std::max(cx, cy);
    }
    MergePairs(pairs);
    ln = next;
  }
  // Number by the lowest original node (levels may have reordered them).
  std::vector<uint32_t> id(n, UINT32_MAX);
  uint32_t next = 0;
  for (uint32_t& m : member) {
    if (id[m] == UINT32_MAX) id[m] = next++;
    m = id[m];
  }
  return member;
}

std::vector<uint8_t> SparseCommunityCuts(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side,
                                         double max_ratio) {
  const size_t m = edges.size();
  std::vector<uint8_t> cut(m, 0);
  if (n < 2 * static_cast<size_t>(min_side) || m == 0) return cut;
  const std::vector<uint32_t> comm = ModularityCommunities(n, edges);
  const uint32_t k = comm.empty() ? 0 : 1 + *std::max_element(comm.begin(), comm.end());
  if (k < 2) return cut;
  SummingSets sets(k);  // communities; sum: the volume (links' weight at each end)
  std::fill(sets.size.begin(), sets.size.end(), 0);
  for (size_t v = 0; v < n; ++v) ++sets.size[comm[v]];
  const std::vector<uint32_t>& size = sets.size;
  std::vector<double>& vol = sets.sum;
  const auto in_range = [&](const GraphEdge& e) { return e.x < n && e.y < n && e.x != e.y; };
  const auto valid = [&](const GraphEdge& e) { return in_range(e) && e.weight > 0 && std::isfinite(e.weight); };
  double m2 = 0;
  for (const GraphEdge& e : edges) {
    if (!valid(e)) continue;
    vol[comm[e.x]] += e.weight;
    vol[comm[e.y]] += e.weight;
    m2 += 2.0 * e.weight;
  }
  for (const GraphEdge& e : edges) {
    if (in_range(e) && e.infra) sets.Unite(comm[e.x], comm[e.y]);  // whatever its weight
  }
  std::vector<WeightedPair> between;
  for (uint32_t joins = 0; joins + 1 < k; ++joins) {
    between.clear();
    for (const GraphEdge& e : edges) {
      if (!valid(e)) continue;
      const uint32_t gx = sets.Find(comm[e.x]), gy = sets.Find(comm[e.y]);
      if (gx != gy) between.push_back({std::min(gx, gy), std::max(gx, gy), static_cast<double>(e.weight)});
    }
    MergePairs(between);
    if (between.empty()) break;
    // A group too small to stand alone joins the group it is most linked
    // to: the smallest such group first, ties to the lowest numbers.
    const WeightedPair* join = nullptr;
    uint32_t small = UINT32_MAX;
    for (const WeightedPair& p : between) {
      for (const uint32_t g : {p.x, p.y}) {
        if (size[g] >= min_side) continue;
        if (small == UINT32_MAX || size[g] < size[small] || (size[g] == size[small] && g < small)) small = g;
      }
    }
    if (small != UINT32_MAX) {
      for (const WeightedPair& p : between) {
        if ((p.x == small || p.y == small) && (join == nullptr || p.w > join->w)) join = &p;
      }
    } else {
      // Otherwise the pair linked most densely against chance, if at least
      // max_ratio of it.
      double best = max_ratio;
      for (const WeightedPair& p : between) {
        const double expected = vol[p.x] * vol[p.y] / m2;
        if (!(expected > 0)) continue;
        const double ratio = p.w / expected;
        if (ratio >= best && (join == nullptr || ratio > best)) {
          best = ratio;
          join = &p;
        }
      }
    }
    if (join == nullptr) break;
    sets.Unite(join->x, join->y);
  }
  for (size_t e = 0; e < m; ++e) {
    if (valid(edges[e]) && sets.Find(comm[edges[e].x]) != sets.Find(comm[edges[e].y])) cut[e] = 1;
  }
  // A Louvain community need not be connected (a node that joined through
  // a neighbour that later left): the parts the kept links make, not the
  // communities, are what splits.
  HoldSmallParts(n, edges, min_side, cut);
  return cut;
}

void HoldParts(size_t n, const std::vector<GraphEdge>& edges, const std::vector<double>& node_value,
               absl::FunctionRef<bool(size_t size, double sum)> stands, std::vector<uint8_t>& cut) {
  const size_t m = std::min(edges.size(), cut.size());
  SummingSets sets(n);  // parts; sum: node_value
  for (size_t v = 0; v < n && v < node_value.size(); ++v) sets.sum[v] = node_value[v];
  const std::vector<uint32_t>& size = sets.size;
  const std::vector<double>& sum = sets.sum;
  const auto in_range = [&](const GraphEdge& e) { return e.x < n && e.y < n; };
  for (size_t e = 0; e < m; ++e) {
    if (in_range(edges[e]) && !cut[e]) sets.Unite(edges[e].x, edges[e].y);
  }
  // Repeated until nothing changes: each pass joins two parts or ends it.
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t e = 0; e < m; ++e) {
      if (!cut[e] || !in_range(edges[e])) continue;
      const uint32_t rx = sets.Find(edges[e].x), ry = sets.Find(edges[e].y);
      if (rx == ry || !stands(size[rx], sum[rx]) || !stands(size[ry], sum[ry])) {
        cut[e] = 0;
        changed = sets.Unite(rx, ry) || changed;
      }
    }
  }
}

void HoldSmallParts(size_t n, const std::vector<GraphEdge>& edges, uint32_t min_side, std::vector<uint8_t>& cut) {
  HoldParts(n, edges, {}, [min_side](size_t size, double) { return size >= min_side; }, cut);
}

}  // namespace dg
