// Own-behaviour scoring: from an account's counters to evidence strengths in
// [0, 1] and one score, score = 1 - exp(-sum(weight_i * strength_i)).
// Every term is evidence, none is a verdict: an enterprise batch job is
// single-turn, templated, paced and round the clock, yet carries no
// harvesting content, so it stays under the suspicion threshold.
// Rates are shrunk towards zero for small samples (count / (n + 2)).
// Cost: ~100 arithmetic operations per call; called once per interaction.
#pragma once

#include <array>

#include "account/account_state.h"
#include "decide/policy.h"
#include "detect/reasons.h"

namespace dg {

struct OwnEvidence {
  std::array<double, kReasonCount> strength{};  // own-behaviour reasons only
  std::array<double, kReasonCount> value{};     // the measured value behind it
  double score = 0;
};

OwnEvidence ScoreAccount(const AccountState& a, const Policy& policy);

}  // namespace dg
