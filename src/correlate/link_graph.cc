#include "correlate/link_graph.h"

#include <algorithm>
#include <cstdint>
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
  // Parts: the other links' components (iterative union-find).
  std::vector<uint32_t> up(n), size(n, 1);
  for (size_t v = 0; v < n; ++v) up[v] = static_cast<uint32_t>(v);
  const auto find = [&](uint32_t x) {
    while (up[x] != x) x = up[x] = up[up[x]];
    return x;
  };
  const auto unite = [&](uint32_t x, uint32_t y) {
    x = find(x);
    y = find(y);
    if (x == y) return false;
    if (y < x) std::swap(x, y);
    up[y] = x;
    size[x] += size[y];
    return true;
  };
  for (size_t e = 0; e < m; ++e) {
    if (!weak[e]) unite(edges[e].x, edges[e].y);
  }
  // A weak link that touches a part too small to stand alone holds: it is
  // how that part belongs. Repeated until nothing changes (each pass either
  // joins two parts or stops: at most n passes, each O(m)).
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t e = 0; e < m; ++e) {
      if (!weak[e]) continue;
      const uint32_t rx = find(edges[e].x), ry = find(edges[e].y);
      if (rx != ry && (size[rx] < min_side || size[ry] < min_side)) changed = unite(rx, ry) || changed;
    }
  }
  for (size_t e = 0; e < m; ++e) {
    if (weak[e] && find(edges[e].x) != find(edges[e].y)) cut[e] = 1;
  }
  return cut;
}

}  // namespace dg
