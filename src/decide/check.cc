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
Decision ReviewDecision(ReasonMask reasons, uint32_t prompt_flags) {
  constexpr ReasonMask kReasoning = Bit(Reason::kCotElicitation) | Bit(Reason::kReasoningReconstruction);
  const bool reasoning_prompt = (prompt_flags & (kFlagCot | kFlagRecon)) != 0;
  return (reasons & kReasoning) || reasoning_prompt ? Decision::kWithholdReasoning : Decision::kThrottle;
}

AccountInputs EngineCheckInputs::Account(const std::string& account_id) const {
  AccountInputs out;
  const AccountState* a = accounts_.Find(account_id);
  if (a != nullptr) {
    out.source = AccountInputs::Source::kLive;
    out.verdict = a->verdict;
    out.score = a->score;
    out.reasons = a->reasons;
    out.interactions = a->n;
    out.analyst_allow = a->override_verdict == static_cast<int8_t>(Verdict::kAllow);
    if (const CampaignAggregate* g = correlator_.ConfirmedCampaignConst(a->index)) out.campaign_id = g->id;
    return out;
  }
  if (const auto o = overrides_.find(account_id); o != overrides_.end()) {
    out.source = AccountInputs::Source::kOverride;
    out.verdict = o->second;
    return out;
  }
  if (const auto it = summaries_.find(account_id); it != summaries_.end()) {
    out.source = AccountInputs::Source::kSummary;
    out.verdict = it->second.verdict;
    out.score = it->second.score;
    out.reasons = it->second.reasons;
  }
  return out;
}

std::optional<SharedTrust> EngineCheckInputs::Shared(const std::string& payment, const std::string& ip) const {
  if (const SharedEntry* shared = correlator_.MatchesShared(payment, ip)) return shared->trust;
  return std::nullopt;
}

CampaignMatch CampaignMatchOf(const Correlator& correlator, const CampaignAggregate& campaign) {
  // Measuring, as its members are judged -- and as most of them were: a
  // campaign whose members are mostly blocked already (blocks are sticky)
  // does not get challenges for its new accounts by padding its share
  // afterwards; a lab whose first-pass runner was blocked still does.
  size_t blocked = 0;
  const double share = correlator.CampaignRepeatShare(campaign, &blocked);
  CampaignMatch out;
  out.campaign_id = campaign.id;
  out.campaign_score = correlator.CampaignScore(campaign);
  out.measuring = 2 * blocked < campaign.members.size() && share >= correlator.policy().evaluation_repeat_share;
  out.one_customer = correlator.OneCustomer(campaign);
  return out;
}

std::optional<CampaignMatch> EngineCheckInputs::MatchCampaign(const std::string& payment, const std::string& ip) const {
  const Correlator::RequestMatch m = correlator_.MatchRequest(payment, ip);
  if (m.campaign == nullptr) return std::nullopt;
  CampaignMatch out = CampaignMatchOf(correlator_, *m.campaign);
  out.total = m.total;
  out.reasons = m.reasons;
  return out;
}

CheckResult Check(const CheckRequest& r, const AccountTable& accounts, const Correlator& correlator, const Policy& policy,
                  const absl::flat_hash_map<std::string, Verdict>& overrides,
                  const absl::flat_hash_map<std::string, AccountSummary>& summaries) {
  return Check(r, EngineCheckInputs(accounts, correlator, overrides, summaries), policy);
}

CheckResult Check(const CheckRequest& r, const CheckInputs& inputs, const Policy& policy) {
  CheckResult out;
  AccountInputs a = inputs.Account(r.account_id);
  using Source = AccountInputs::Source;
  if (a.source == Source::kOverride) {
    out.reasons = Bit(Reason::kAnalystOverride);
    if (a.verdict == Verdict::kBlock) {
      out.decision = Decision::kBlock;
      out.score = 1.0;
      out.ttl_s = 3600;
    }
    return out;
  }
  if (a.source == Source::kSummary && a.verdict == Verdict::kReview) {
    out.score = a.score;
    out.reasons = a.reasons;
    out.decision = ReviewDecision(a.reasons, r.prompt_flags);
    out.ttl_s = 300;
    return out;
  }
  if (a.source == Source::kLive) {
    out.score = a.score;
    out.reasons = a.reasons;
    out.campaign_id = std::move(a.campaign_id);
    if (a.verdict == Verdict::kBlock) {
      out.decision = Decision::kBlock;
      out.ttl_s = 3600;
      return out;
    }
    if (a.analyst_allow) return out;
    if (a.verdict == Verdict::kReview) {
      out.decision = ReviewDecision(a.reasons, r.prompt_flags);
      out.ttl_s = 300;
      return out;
    }
    // An established account is not judged on the infrastructure it shares.
    if (a.interactions > static_cast<uint32_t>(3 * policy.min_interactions)) return out;
  }
  if (const auto trust = inputs.Shared(r.payment_fingerprint, r.ip)) {
    out.reasons |= Bit(Reason::kSharedIndicator);
    if (*trust == SharedTrust::kBlock) {
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
  const auto m = inputs.MatchCampaign(r.payment_fingerprint, r.ip);
  if (!m) return out;
  out.campaign_id = m->campaign_id;
  out.reasons |= Bit(Reason::kCampaignIndicatorMatch) | m->reasons;
  out.score = std::max(out.score, std::min(1.0, m->campaign_score * std::min(1.0, m->total / policy.link_threshold)));
  out.decision = m->total >= policy.link_threshold && !m->measuring && !m->one_customer ? Decision::kBlock : Decision::kChallenge;
  out.ttl_s = out.decision == Decision::kBlock ? 3600 : 300;
  return out;
}

}  // namespace dg
