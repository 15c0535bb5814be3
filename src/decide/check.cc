#include "decide/check.h"

#include <algorithm>

#include "content/features.h"

namespace dg {

std::string_view DecisionName(Decision d) {
  switch (d) {
    case Decision::kAllow: return "allow";
    case Decision::kThrottle: return "throttle";
    case Decision::kChallenge: return "challenge";
    case Decision::kBlock: return "block";
    case Decision::kWithholdReasoning: return "withhold_reasoning";
  }
  return "allow";
}

// An account in review is served without its reasoning trace when its
// evidence (or this prompt) is reasoning harvest, else throttled.
Decision ReviewDecision(uint32_t reasons, uint32_t prompt_flags) {
  constexpr uint32_t kReasoning = Bit(Reason::kCotElicitation) | Bit(Reason::kReasoningReconstruction);
  const bool reasoning_prompt = (prompt_flags & (kFlagCot | kFlagRecon)) != 0;
  return (reasons & kReasoning) || reasoning_prompt ? Decision::kWithholdReasoning : Decision::kThrottle;
}

CheckResult Check(const CheckRequest& r, const AccountTable& accounts, const Correlator& correlator, const Policy& policy,
                  const absl::flat_hash_map<std::string, Verdict>& overrides,
                  const absl::flat_hash_map<std::string, AccountSummary>& summaries) {
  CheckResult out;
  const AccountState* a = accounts.Find(r.account_id);
  if (a == nullptr) {
    if (const auto o = overrides.find(r.account_id); o != overrides.end()) {
      out.reasons = Bit(Reason::kAnalystOverride);
      if (o->second == Verdict::kBlock) {
        out.decision = Decision::kBlock;
        out.score = 1.0;
        out.ttl_s = 3600;
      }
      return out;
    }
    if (const auto it = summaries.find(r.account_id); it != summaries.end() && it->second.verdict == Verdict::kReview) {
      out.score = it->second.score;
      out.reasons = it->second.reasons;
      out.decision = ReviewDecision(it->second.reasons, r.prompt_flags);
      out.ttl_s = 300;
      return out;
    }
  }
  if (a != nullptr) {
    out.score = a->score;
    out.reasons = a->reasons;
    if (const CampaignAggregate* g = correlator.ConfirmedCampaignConst(a->index)) out.campaign_id = g->id;
    if (a->verdict == Verdict::kBlock) {
      out.decision = Decision::kBlock;
      out.ttl_s = 3600;
      return out;
    }
    if (a->override_verdict == static_cast<int8_t>(Verdict::kAllow)) return out;
    if (a->verdict == Verdict::kReview) {
      out.decision = ReviewDecision(a->reasons, r.prompt_flags);
      out.ttl_s = 300;
      return out;
    }
    // An established account is not judged on the infrastructure it shares.
    if (a->n > static_cast<uint32_t>(3 * policy.min_interactions)) return out;
  }
  if (const SharedEntry* shared = correlator.MatchesShared(r.payment_fingerprint, r.ip)) {
    out.reasons |= Bit(Reason::kSharedIndicator);
    if (shared->trust == SharedTrust::kBlock) {
      out.decision = Decision::kBlock;
      out.score = std::max(out.score, 0.9);
      out.ttl_s = 3600;
      return out;
    }
    // Review trust: as an account in review (a campaign match below may still challenge or block).
    out.decision = ReviewDecision(out.reasons, r.prompt_flags);
    out.score = std::max(out.score, policy.review_score);
    out.ttl_s = 300;
  }
  // The request's indicators against confirmed campaigns, as MatchCampaign
  // does for an account's first interactions.
  const Correlator::RequestMatch m = correlator.MatchRequest(r.payment_fingerprint, r.ip);
  if (m.campaign == nullptr) return out;
  out.campaign_id = m.campaign->id;
  out.reasons |= Bit(Reason::kCampaignIndicatorMatch) | m.reasons;
  out.score = std::max(out.score, std::min(1.0, correlator.CampaignScore(*m.campaign) * std::min(1.0, m.total / policy.link_threshold)));
  out.decision = m.total >= policy.link_threshold ? Decision::kBlock : Decision::kChallenge;
  out.ttl_s = out.decision == Decision::kBlock ? 3600 : 300;
  return out;
}

}  // namespace dg
