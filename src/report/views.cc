#include "report/views.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include <absl/container/flat_hash_map.h>

namespace dg {

std::vector<std::pair<std::string, double>> Explain(const Engine& engine, const AccountState& a) {
  const OwnEvidence ev = ScoreAccount(a, engine.policy());
  // A member's links as they stand now (its verdict's reasons are frozen
  // when it is blocked; `decided` keeps those).
  ReasonMask bits = a.reasons;
  if (bits & Bit(Reason::kCampaignMember)) bits = (bits & ~LinkReasonMask()) | engine.correlator().OwnLinkReasons(a);
  std::vector<std::pair<std::string, double>> out;
  for (size_t r = 0; r < kReasonCount; ++r) {
    if (!HasReason(bits, r)) continue;
    const double v = r < kOwnSignals ? ev.value[r] : 1.0;
    out.emplace_back(std::string(ReasonName(static_cast<Reason>(r))), std::round(v * 1000) / 1000);
  }
  return out;
}

std::vector<std::pair<std::string, double>> Explain(const VerdictRecord& rec) {
  std::vector<std::pair<std::string, double>> out;
  for (size_t r = 0; r < kReasonCount; ++r) {
    if (!HasReason(rec.reasons, r)) continue;
    const double v = r < kOwnSignals ? rec.values[r] : 1.0;
    out.emplace_back(std::string(ReasonName(static_cast<Reason>(r))), std::round(v * 1000) / 1000);
  }
  return out;
}

std::vector<CampaignView> Campaigns(const Engine& engine) {
  const CampaignSet& campaigns = engine.correlator().campaigns();
  const IndicatorIndex& index = engine.correlator().index();
  std::vector<CampaignView> out;
  for (const auto& [root, g] : campaigns.aggregates()) {
    if (g.confirmed_seq == 0) continue;
    CampaignView v;
    v.id = g.id;
    v.score = engine.correlator().CampaignScore(g);
    v.members = g.members;
    std::sort(v.members.begin(), v.members.end());
    v.first_seen = g.first_seen;
    v.last_seen = g.last_seen;
    v.confirmed_at = g.confirmed_at;
    v.per_day = g.per_day;
    v.models = g.models;
    v.day_models = g.day_models;
    v.samples = g.samples;
    for (size_t r = 0; r < kReasonCount; ++r) {
      if (HasReason(g.link_reasons, r)) v.reasons.emplace_back(ReasonName(static_cast<Reason>(r)));
    }
    // Aggregate member behaviour and the indicators the members share.
    absl::flat_hash_map<uint64_t, std::pair<size_t, uint32_t>> shared;  // key -> (kind, members)
    for (const uint32_t m : v.members) {
      const AccountState& a = engine.accounts()[m];
      v.interactions += a.n;
      v.input_tokens += a.input_tokens;
      v.output_tokens += a.output_tokens;
      for (size_t c = 0; c < kCapabilityCount; ++c) v.capabilities[c] += a.capability[c];
      for (size_t h = 0; h < 24; ++h) v.hours[h] += a.hours[h];
      for (size_t k = 0; k < kIndicatorKinds; ++k) {
        for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) {
          auto& e = shared[a.indicators[k][idx]];
          e.first = k;
          ++e.second;
        }
      }
    }
    std::vector<std::tuple<uint32_t, size_t, uint64_t>> ranked;
    for (const auto& [key, e] : shared) {
      const IndicatorStats* s = index.Find(key);
      if (e.second >= 2 && s != nullptr && !s->display.empty() && s->Purity() >= 0.5) ranked.emplace_back(e.second, e.first, key);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
      if (std::get<0>(x) != std::get<0>(y)) return std::get<0>(x) > std::get<0>(y);
      return std::get<2>(x) < std::get<2>(y);
    });
    for (size_t idx = 0; idx < ranked.size() && idx < 24; ++idx) {
      const auto& [count, kind, key] = ranked[idx];
      v.indicators.emplace_back(std::string(IndicatorKindName(static_cast<IndicatorKind>(kind))), index.Find(key)->display);
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const CampaignView& x, const CampaignView& y) {
    if (x.members.size() != y.members.size()) return x.members.size() > y.members.size();
    return x.id < y.id;
  });
  return out;
}

std::vector<std::vector<std::pair<uint32_t, uint32_t>>> IndicatorAccounts(const Engine& engine, const CampaignView& c) {
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> out(c.indicators.size());
  const IndicatorIndex& index = engine.correlator().index();
  for (const uint32_t m : c.members) {
    const AccountState& a = engine.accounts()[m];
    for (size_t k = 0; k < kIndicatorKinds; ++k) {
      const std::string_view kind = IndicatorKindName(static_cast<IndicatorKind>(k));
      for (size_t slot = 0; slot < a.indicator_count[k]; ++slot) {
        const IndicatorStats* s = index.Find(a.indicators[k][slot]);
        if (s == nullptr || s->display.empty()) continue;
        for (size_t idx = 0; idx < c.indicators.size(); ++idx) {
          if (c.indicators[idx].first == kind && c.indicators[idx].second == s->display) {
            out[idx].emplace_back(m, std::max<uint32_t>(1, a.indicator_hits[k][slot]));
            break;
          }
        }
      }
    }
  }
  return out;
}

}  // namespace dg
