// Verdict: the decide stage's rule from evidence to block / review / allow.
//
//   a person's override            -> that verdict, never changed by the engine
//   an allowlisted account or org  -> allow
//   already blocked                -> stays blocked (blocks are sticky)
//   own score >= solo_block_score, or a member (itself suspicious) of a
//   confirmed campaign whose score >= campaign_block_score, or a new or
//   barely seen user of an imported indicator of block trust  -> block
//   an established account that starts using an imported indicator, or
//   any account on one of review trust                       -> review
//   otherwise a campaign member, a reviewable account, or own score >=
//   review_score                                           -> review
// policy.review_only turns every block into review. Reasons: the account's
// own signals at strength >= 0.5, plus campaign membership and the links
// the account itself was linked or matched on (not the campaign's union).
//
// Each change of verdict leaves a VerdictRecord: the evidence as it was
// when the verdict was made (accounts.jsonl reports it next to the latest).
// Cost: one ScoreAccount (~100 operations) per call unless given.
#pragma once

#include <array>
#include <optional>

#include "account/account_state.h"
#include "correlate/correlator.h"
#include "detect/scoring.h"
#include "policy/policy.h"

namespace dg {

struct VerdictRecord {
  TimeMs at = -1;
  Verdict verdict = Verdict::kAllow;
  float score = 0;
  ReasonMask reasons = 0;
  std::array<float, kOwnSignals> values{};  // measured value of each own signal then
};

// Re-decides the account at `now`. `known` is its evidence if already
// computed for this interaction. Returns the record when the verdict changed.
std::optional<VerdictRecord> Decide(AccountState& a, TimeMs now, const OwnEvidence* known, const Policy& policy,
                                    Correlator& correlator);

}  // namespace dg
