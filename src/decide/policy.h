// Policy: the thresholds, weights and lists that turn evidence into
// verdicts, loaded from a versioned TOML file (config/policy.toml holds the
// shipped defaults, with the reason for each value).
//
// Validation is strict: an unknown key, a wrong type or an out-of-range
// value is an error naming the file, line and key, so a typo can never
// silently fall back to a default. Cost: parsed once at start-up.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_set.h>

namespace dg {

struct EvidenceWeights {
  double reasoning_elicitation = 1.0;
  double reasoning_reconstruction = 2.0;
  double rubric_grading = 1.2;
  double data_generation = 1.0;
  double single_turn = 0.4;
  double fixed_sampling = 0.2;
  double template_concentration = 0.3;
  double round_the_clock = 0.3;
  double machine_pacing = 0.2;
  double high_volume = 0.3;
  double young_account = 0.4;
  double max_output_cap = 0.2;
};

struct LinkWeights {
  double payment = 1.0;
  double ip_prefix = 0.6;
  double system_prompt = 0.5;
  double prompt_template = 0.6;
  double prompt_frame = 0.5;
  double toolset = 0.4;
  double client = 0.5;
  double creation_burst = 0.4;
  double email_domain = 0.3;
  double behaviour = 0.5;
  double schedule = 0.4;
  double content_cap = 0.8;  // system prompt + template + frame together
};

struct Policy {
  int version = 1;
  bool review_only = false;          // never block; what would be blocked is reviewed
  double suspicious_score = 0.5;     // own score that makes an account a campaign candidate
  double automation_score = 0.7;     // automation score of a young account that does the same
  double established_automation_score = 0.65;  // ... and of an older one (links through infrastructure only)
  double young_account_days = 14;    // account age at first use that counts as young
  double review_score = 0.5;
  double solo_block_score = 0.97;    // own score that blocks without a campaign
  double campaign_block_score = 0.7; // campaign score that blocks its members
  int min_interactions = 3;          // before an account's own score counts
  int campaign_min_accounts = 3;
  double link_threshold = 1.0;       // summed indicator weight that links two accounts
  double min_indicator_purity = 0.5; // share of an indicator's accounts that must be suspicious to match a campaign
  int64_t high_max_tokens = 8000;
  EvidenceWeights weights;
  LinkWeights links;
  absl::flat_hash_set<std::string> allow_orgs;
  absl::flat_hash_set<std::string> allow_accounts;

  static Policy Defaults() { return Policy{}; }
  // On error returns nullopt and sets *error to "ORIGIN:LINE: key 'K': reason".
  static std::optional<Policy> FromToml(std::string_view text, const std::string& origin, std::string* error);
  static std::optional<Policy> Load(const std::string& path, std::string* error);
};

}  // namespace dg
