// Views: what an analyst reads of the engine's state -- confirmed campaigns
// with their members' aggregate behaviour and the indicators they share,
// and the evidence behind an account's verdict. Built on demand (end of a
// scan, an analyst request); read-only over the engine.
// Cost: Campaigns is O(members x indicator slots) per campaign plus a sort;
// Explain is one ScoreAccount.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/engine.h"

namespace dg {

struct CampaignView {
  std::string id;
  double score = 0;
  std::vector<uint32_t> members;  // account indices
  uint64_t interactions = 0;      // all interactions of its members
  uint64_t input_tokens = 0, output_tokens = 0;
  TimeMs first_seen = -1, last_seen = -1, confirmed_at = -1;
  std::array<uint64_t, kCapabilityCount> capabilities{};
  std::array<uint64_t, 24> hours{};
  std::map<int64_t, uint64_t> per_day;
  std::map<std::string, uint64_t> models;
  std::map<std::pair<int64_t, std::string>, uint64_t> day_models;  // (day, model) -> interactions
  std::vector<std::pair<std::string, std::string>> indicators;  // (kind, value)
  std::vector<std::string> samples;
  std::vector<std::string> reasons;
};

// Confirmed campaigns, largest first (ties by id).
std::vector<CampaignView> Campaigns(const Engine& engine);
// For each of c.indicators (same order): the members holding that value and
// how often each used it (the account's slot count, saturating at 255).
// O(members x indicator slots).
std::vector<std::vector<std::pair<uint32_t, uint32_t>>> IndicatorAccounts(const Engine& engine, const CampaignView& c);
// Evidence names and values behind an account's current verdict (own
// signals with their measured value now, coordination and outcomes as 1;
// a campaign member's links as they stand now, Correlator::OwnLinkReasons).
std::vector<std::pair<std::string, double>> Explain(const Engine& engine, const AccountState& a);
// The same for the evidence recorded when its latest verdict was made.
std::vector<std::pair<std::string, double>> Explain(const VerdictRecord& r);

}  // namespace dg
