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

#include "common/status.h"
#include "signals/signals.h"

namespace dg {

constexpr std::array<double, kReasonCount> DefaultWeights() {
  std::array<double, kReasonCount> w{};
  for (size_t i = 0; i < kReasonCount; ++i) w[i] = kSignals[i].weight;
  return w;
}
constexpr std::array<double, kIndicatorKinds> DefaultLinks() {
  std::array<double, kIndicatorKinds> w{};
  for (size_t i = 0; i < kIndicatorKinds; ++i) w[i] = kIndicatorSpecs[i].weight;
  return w;
}

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
  // Members a campaign needs before membership alone blocks: a smaller group
  // (a lab's or a team's few accounts on one card or network) is reviewed.
  int campaign_block_min_accounts = 5;
  // A group of campaign_min_accounts to this many accounts on one card and
  // at most two address blocks is one customer in the open
  // (Correlator::OneCustomer): membership does not block it and likeness
  // does not tie it to others. 0 switches this off; at most 16 (the
  // indicator index keeps a value's last 16 suspicious holders).
  int one_customer_max_accounts = 16;
  double link_threshold = 1.0;       // summed indicator weight that links two accounts
  double min_indicator_purity = 0.5; // share of an indicator's accounts that must be suspicious to match a campaign
  int64_t high_max_tokens = 8000;
  // An account at least this share of whose tokens were served on
  // deterministic requests it had sent before (RepeatShare) is measuring the
  // model -- an evaluation re-asks its fixed items on every run -- not
  // harvesting it: campaign membership reviews it instead of blocking it.
  // 1.01 switches this off.
  double evaluation_repeat_share = 0.5;
  // Own-behaviour evidence weights by Reason (kSignals' defaults; policy
  // [weights] keys are the signal names) and link weights by indicator kind
  // (kIndicatorSpecs' defaults; [links] keys are the kind names).
  std::array<double, kReasonCount> weights = DefaultWeights();
  std::array<double, kIndicatorKinds> links = DefaultLinks();
  // System prompt, template and frame together count at most this much:
  // two operators drawing on the same public prompt set share content and
  // nothing else.
  double content_cap = 0.8;
  // Two accounts that each took up harvesting after a clean history, within
  // kOnsetWindowHours of each other (Correlator::JointOnset): timing
  // evidence added to their link, never enough alone.
  double onset = 0.5;
  // Two accounts that both send from a new network most sessions
  // (NetworkLog::Rotating) and share a value that is evidence on its own:
  // added to their link, weighed by how rare rotation is among cleared
  // accounts (Correlator::JointRotation), never enough alone.
  double rotation = 0.5;
  double weight(Reason r) const { return weights[static_cast<size_t>(r)]; }
  double link(IndicatorKind k) const { return links[static_cast<size_t>(k)]; }
  absl::flat_hash_set<std::string> allow_orgs;
  absl::flat_hash_set<std::string> allow_accounts;

  static Policy Defaults() { return Policy{}; }
  // On error InvalidArgument "ORIGIN:LINE: key 'K': reason".
  static absl::StatusOr<Policy> FromToml(std::string_view text, const std::string& origin);
  // NotFound "PATH: cannot read policy file" when it cannot be opened.
  static absl::StatusOr<Policy> Load(const std::string& path);
};

}  // namespace dg
