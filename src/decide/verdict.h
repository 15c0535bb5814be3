// Verdict: the decide stage's rule from evidence to block / review / allow.
//
//   a person's override            -> that verdict, never changed by the engine
//   an allowlisted account or org  -> allow
//   already blocked                -> stays blocked (blocks are sticky),
//                                     but see LiftOneCustomerBlock
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

#include <absl/container/flat_hash_map.h>

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

// The one way a block is lifted without a person: the block rested on a
// campaign alone (the account was blocked as a member, not on its own score,
// an imported indicator or an override), and the campaign is now judged one
// customer (Correlator::OneCustomer: an office grown over days, one card,
// at most one_customer_max_accounts seats or 64 at a person's pace). A lab
// whose first researchers came within a day looks like a cell switched on
// and is blocked as one; when the office then grows as offices do, its
// first members would stay blocked for good beside colleagues in review
// (holdout seed 28, gateway fields: four of a lab of twelve). Such a member
// goes back to review -- its requests still throttled or without reasoning
// at the gateway -- and is decided again from its evidence; its first
// flag is kept. The joiners must be colleagues at work (Correlator::
// GrewSince). Returns the record when the verdict moved; an account whose
// own evidence now reaches the solo bar is left as it was.
// Run once a day over the blocked accounts with one memo (OneCustomer per
// campaign, cleared by the caller each pass); cost per blocked account:
// O(1) unless its campaign has campaign_min_accounts..64 members, then
// O(members) and one ScoreAccount.
using CampaignVerdictMemo = absl::flat_hash_map<const CampaignAggregate*, bool>;
std::optional<VerdictRecord> LiftOneCustomerBlock(AccountState& a, TimeMs now, const Policy& policy, Correlator& correlator,
                                                  CampaignVerdictMemo* memo);

}  // namespace dg
