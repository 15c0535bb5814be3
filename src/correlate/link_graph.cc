#include "correlate/link_graph.h"

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

void LinkGraph::Add(uint32_t a, uint32_t b, float score, uint32_t reasons, bool paid) {
  if (a == b) return;
  AddOneSide(a, LinkEdge{b, score, reasons, paid});
  AddOneSide(b, LinkEdge{a, score, reasons, paid});
}

void LinkGraph::Update(uint32_t a, uint32_t b, float score, uint32_t reasons, bool paid) {
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

}  // namespace dg
