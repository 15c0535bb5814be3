// Quality figures of a scan against labels (SCHEMA.md, "How quality is
// scored"): account recall, false-positive rate, legit interactions
// blocked, campaign purity and completeness and leakage, overall, per attack campaign and per
// legit archetype. Reads the two JSONL files; O(accounts) memory.
#pragma once

#include <map>
#include <string>

#include "common/status.h"

namespace dg::sim {

struct GroupFigures {
  uint64_t accounts = 0;
  uint64_t blocked = 0;
  uint64_t review = 0;
  uint64_t interactions = 0;
  uint64_t served_before_block = 0;  // attack: leaked; legit: interactions after block are "blocked"
  uint64_t interactions_blocked = 0;
  // Attacker yield (accounts.jsonl's harvest and token counts): what was
  // served before the block -- everything, for an account never blocked.
  uint64_t harvest = 0, harvest_served = 0;      // requests carrying a harvest flag
  uint64_t tokens = 0, tokens_served = 0;        // output + reasoning tokens
  uint64_t tokens_served_in_review = 0;          // of tokens_served: to accounts left in review (throttled at a gateway)
  uint64_t account_days = 0;                     // active days, summed over accounts
};

struct EvalResult {
  GroupFigures attack, legit;
  std::map<std::string, GroupFigures> campaigns;   // by true campaign
  std::map<std::string, GroupFigures> archetypes;  // by legit archetype
  double purity = 1.0;           // size-weighted majority share of predicted campaigns
  uint64_t predicted_campaigns = 0;
  // The other side of purity: of the attack accounts placed in a predicted
  // campaign, the share that are in the predicted campaign holding most of
  // their true campaign's (1.0: no true campaign is split; a true campaign
  // in four equal pieces counts 0.25 of its accounts). pieces: how many
  // (true campaign, predicted campaign) pairs hold attack accounts.
  double completeness = 1.0;
  uint64_t true_campaigns_placed = 0, pieces = 0;
  uint64_t unlabelled_accounts = 0;
  // Labelled accounts the scan did not list at all (counted as allowed,
  // with no interactions known), and the labelled accounts it did list.
  uint64_t missing_accounts = 0;
  uint64_t matched_accounts = 0;
  double Recall() const { return attack.accounts ? double(attack.blocked) / attack.accounts : 1.0; }
  double Fpr() const { return legit.accounts ? double(legit.blocked) / legit.accounts : 0.0; }
  double Leakage() const { return attack.interactions ? double(attack.served_before_block) / attack.interactions : 0.0; }
  double LegitInteractionsBlocked() const {
    return legit.interactions ? double(legit.interactions_blocked) / legit.interactions : 0.0;
  }
};

// NotFound "PATH: cannot read" for a file that cannot be opened,
// InvalidArgument "PATH:LINE: expected ..." for a line that is not a label
// or an accounts.jsonl line.
absl::StatusOr<EvalResult> Evaluate(const std::string& labels_path, const std::string& accounts_path);
std::string FormatEval(const EvalResult& r);
std::string FormatEvalJson(const EvalResult& r);

}  // namespace dg::sim
