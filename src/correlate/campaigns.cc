#include "correlate/campaigns.h"

#include <algorithm>
#include <cmath>

namespace dg {

void CampaignSet::EnsureAccounts(size_t n) {
  while (parent_.size() < n) parent_.push_back(static_cast<uint32_t>(parent_.size()));
}

uint32_t CampaignSet::Find(uint32_t x) {
  while (parent_[x] != x) {
    parent_[x] = parent_[parent_[x]];
    x = parent_[x];
  }
  return x;
}

uint32_t CampaignSet::Root(uint32_t x) const {
  while (parent_[x] != x) x = parent_[x];
  return x;
}

const CampaignAggregate* CampaignSet::Aggregate(uint32_t root) const {
  const auto it = aggs_.find(root);
  return it == aggs_.end() ? nullptr : &it->second;
}

CampaignAggregate& CampaignSet::AggregateFor(uint32_t root, double own_score) {
  auto it = aggs_.find(root);
  if (it == aggs_.end()) {
    it = aggs_.emplace(root, CampaignAggregate{}).first;
    it->second.members.push_back(root);
    it->second.score_sum = own_score;
  }
  return it->second;
}

CampaignAggregate* CampaignSet::Aggregate(uint32_t root) {
  const auto it = aggs_.find(root);
  return it == aggs_.end() ? nullptr : &it->second;
}

uint32_t CampaignSet::Union(uint32_t a, uint32_t b, double score_a, double score_b) {
  uint32_t ra = Find(a);
  uint32_t rb = Find(b);
  if (ra == rb) return ra;
  AggregateFor(ra, score_a);
  AggregateFor(rb, score_b);  // may rehash: take both pointers afterwards
  CampaignAggregate* ga = Aggregate(ra);
  CampaignAggregate* gb = Aggregate(rb);
  // Keep the confirmed (older) campaign's identity; else the larger.
  const bool swap = (gb->confirmed_seq != 0 && (ga->confirmed_seq == 0 || gb->confirmed_seq < ga->confirmed_seq)) ||
                    (ga->confirmed_seq == 0 && gb->confirmed_seq == 0 && gb->members.size() > ga->members.size());
  if (swap) {
    std::swap(ra, rb);
    std::swap(ga, gb);
  }
  parent_[rb] = ra;
  ga->members.insert(ga->members.end(), gb->members.begin(), gb->members.end());
  ga->score_sum += gb->score_sum;
  ga->interactions += gb->interactions;
  if (gb->first_seen >= 0 && (ga->first_seen < 0 || gb->first_seen < ga->first_seen)) ga->first_seen = gb->first_seen;
  ga->last_seen = std::max(ga->last_seen, gb->last_seen);
  for (const auto& [day, n] : gb->per_day) ga->per_day[day] += n;
  for (const auto& [model, n] : gb->models) ga->models[model] += n;
  for (const auto& [key, n] : gb->day_models) ga->day_models[key] += n;
  for (auto& s : gb->samples) {
    if (ga->samples.size() < 3) ga->samples.push_back(std::move(s));
  }
  ga->link_reasons |= gb->link_reasons;
  ga->infra_linked = ga->infra_linked || gb->infra_linked;
  aggs_.erase(rb);
  return ra;
}

std::vector<uint32_t> CampaignSet::Split(uint32_t root, const std::vector<std::vector<uint32_t>>& parts,
                                         const std::vector<double>& share) {
  std::vector<uint32_t> roots;
  const auto it = aggs_.find(root);
  if (it == aggs_.end() || parts.empty()) return roots;
  CampaignAggregate core = std::move(it->second);
  aggs_.erase(it);
  const auto portion = [](uint64_t n, double s) { return static_cast<uint64_t>(std::floor(static_cast<double>(n) * s)); };
  std::vector<CampaignAggregate> made(parts.size());
  for (size_t p = 1; p < parts.size(); ++p) {
    CampaignAggregate& g = made[p];
    const double s = std::clamp(share[p], 0.0, 1.0);
    g.interactions = portion(core.interactions, s);
    for (const auto& [day, n] : core.per_day) {
      if (const uint64_t k = portion(n, s)) g.per_day[day] = k;
    }
    for (const auto& [model, n] : core.models) {
      if (const uint64_t k = portion(n, s)) g.models[model] = k;
    }
    for (const auto& [key, n] : core.day_models) {
      if (const uint64_t k = portion(n, s)) g.day_models[key] = k;
    }
  }
  // What the other parts took leaves the core.
  for (size_t p = 1; p < parts.size(); ++p) {
    const CampaignAggregate& g = made[p];
    core.interactions -= std::min(core.interactions, g.interactions);
    for (const auto& [day, n] : g.per_day) core.per_day[day] -= std::min(core.per_day[day], n);
    for (const auto& [model, n] : g.models) core.models[model] -= std::min(core.models[model], n);
    for (const auto& [key, n] : g.day_models) core.day_models[key] -= std::min(core.day_models[key], n);
  }
  std::erase_if(core.per_day, [](const auto& e) { return e.second == 0; });
  std::erase_if(core.models, [](const auto& e) { return e.second == 0; });
  std::erase_if(core.day_models, [](const auto& e) { return e.second == 0; });
  made[0] = std::move(core);
  for (size_t p = 0; p < parts.size(); ++p) {
    const std::vector<uint32_t>& part = parts[p];
    if (part.empty()) {
      roots.push_back(root);
      continue;
    }
    const bool has_old_root = std::find(part.begin(), part.end(), root) != part.end();
    const uint32_t r = has_old_root ? root : *std::min_element(part.begin(), part.end());
    for (const uint32_t m : part) parent_[m] = r;
    roots.push_back(r);
    if (part.size() < 2 && p != 0) continue;
    made[p].members = part;
    aggs_.emplace(r, std::move(made[p]));
  }
  return roots;
}

bool CampaignSet::MaybeConfirm(uint32_t root, size_t min_accounts, TimeMs now) {
  CampaignAggregate* g = Aggregate(root);
  if (g == nullptr || g->confirmed_seq != 0 || g->members.size() < min_accounts) return false;
  g->confirmed_seq = next_seq_++;
  g->id = "camp_" + std::to_string(g->confirmed_seq);
  g->confirmed_at = now;
  return true;
}

}  // namespace dg
