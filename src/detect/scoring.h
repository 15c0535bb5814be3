// Own-behaviour scoring: from an account's counters to evidence strengths in
// [0, 1], grouped in three families:
//   H  harvest content: reasoning elicitation / reconstruction, rubric
//      grading, data generation -- what is being extracted;
//   A  automation: single-turn, fixed sampling, one template, round the
//      clock, machine pacing, volume, maximal output caps, conversation
//      histories the platform never served, tokens per active day over the
//      population's 99th percentile (AccountState::token_excess) -- how;
//   Y  a young account (created shortly before its first use).
// score = 1 - exp(-(H * min(1, A / 0.4) + (A + Y) * min(1, H / 0.5))), with
// youth counted only beside bot-like automation: automation amplifies
// harvesting but never creates it, because real customers automate too (an
// enterprise batch job is single-turn, templated, paced and round the
// clock). automation_score = 1 - exp(-(A + Y)) makes a young account a
// campaign candidate: a fresh account that behaves like a harvesting bot is
// worth correlating even when its prompts ask for nothing special. An
// established account needs policy.established_automation_score of
// automation alone to become a candidate, and then links only through
// operator infrastructure (payment, address block, creation burst): many
// bot accounts paid by one card are multi-accounting around per-account
// limits whatever they ask, while one busy customer is just a customer.
// Every automation signal is the client's to avoid, so harvest content
// without automation makes a new account (or one of unknown age) a
// candidate the same way: linked through infrastructure only, never
// reviewed on its own (OwnEvidence::infra_only).
// Rates are shrunk towards zero for small samples (count / (n + 2)).
// Cost: ~100 arithmetic operations per call; called once per interaction.
#pragma once

#include <array>

#include "account/account_state.h"
#include "policy/policy.h"
#include "signals/signals.h"

namespace dg {

// Requests an account must have made before its sliding window (the last
// one to two days) for a change of behaviour to be called
// (OwnEvidence::changed) -- and for its sign-up to count as a history the
// platform saw: an account that harvests with fewer behind it is
// AccountState::harvested_from_start.
inline constexpr uint32_t kMinHistory = 10;

struct OwnEvidence {
  std::array<double, kReasonCount> strength{};  // own-behaviour reasons only
  std::array<double, kReasonCount> value{};     // the measured value behind it
  double harvest = 0, automation = 0, youth = 0;
  double score = 0;
  double automation_score = 0;
  bool young = false;  // first used within policy.young_account_days of creation
  // Started harvesting recently after a history without it: an aged or
  // bought account put to work. Treated like a young account for linking.
  bool changed = false;
  // A candidate linked through operator infrastructure only (payment,
  // address block, creation burst, e-mail domain), never on shared content
  // or client configuration: one by automation alone, with no harvest
  // content (an established one is not reviewed on its own; a young one is,
  // policy.automation_score); or one whose requests are mostly harvest
  // content with too little automation to score as suspicious, when it is
  // young, changed or of unknown age (no sign-up time; on one network only
  // with ten harvest requests per active day) -- not reviewed on
  // its own: people ask for reasoning too, forty such accounts on one card
  // or proxy block are one operator's.
  bool infra_only = false;
};

OwnEvidence ScoreAccount(const AccountState& a, const Policy& policy);

}  // namespace dg
