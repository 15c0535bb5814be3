#include "engine/engine.h"

#include <algorithm>
#include <cmath>

#include "common/hash.h"

namespace dg {
namespace {

constexpr uint32_t kRelinkEvery = 16;
constexpr uint32_t kRematchEvery = 32;
// An account observed this long without turning suspicious counts as
// unrelated to any campaign that shares its values.
constexpr uint32_t kClearAfterInteractions = 10;
constexpr TimeMs kClearAfterMs = kMsPerDay;
// Token volume is read once an account has sent this many requests.
constexpr uint32_t kTokenVolumeMinInteractions = 10;
// A cleared account this long and this busy without turning suspicious is a
// veteran: its values are used in the open (IndicatorStats::Publicness).
constexpr uint32_t kVeteranAfterInteractions = 100;
constexpr TimeMs kVeteranAfterMs = 7 * kMsPerDay;
// Review is sticky (AccountState::reviewable) only for an account that
// reached the suspicious score after this many requests. Before that the
// score rests on a handful of requests -- four of four asking for steps,
// all single-turn, one template -- which is what most people's first
// session looks like; such an account is reviewed while its score holds
// and returns to allow when its later requests bring the score down. An
// operator that harvests fewer requests than this from an account and then
// dilutes it with cover traffic gets out of review: a harvest of fewer than
// 20 requests per account -- in practice fewer (a review found 7 harvest
// requests and 13 cover requests by the 20th end at allow; 8 stay in
// review) -- throttled and without reasoning while it lasts, and linking
// (campaigns) still sees it. A young account that automates stays
// reviewable from its first requests.
constexpr uint32_t kStickyReviewAfter = 20;
// Sticky review is lifted, once, from an account whose own evidence has
// stayed under the bar for a week of the log and kReleaseAfterRequests of
// its requests: review throttles and withholds reasoning, and an early
// adopter who tried a new model with a day of one-shot reasoning questions
// and then used it as people do should not pay for that for ever (holdout
// seed 33: 62 of 136 early adopters in review sat under the bar). The
// cost to an operator: to get out it must keep the account's harvest under
// the bar for a week and 30 requests, and the next time it reaches the bar
// its review stays (review_released). Linking and campaigns are not
// affected: they read `suspicious` and `harvesting`, not review.
constexpr int32_t kReleaseAfterHours = 7 * 24;
constexpr uint32_t kReleaseAfterRequests = 30;

// One more request under the bar for a reviewable account: starts or
// extends its clean run and lifts its review at the end of one.
void LiftStickyReview(AccountState& a, TimeMs ts) {
  if (a.review_released) return;
  const auto hour = static_cast<int32_t>(ts / kMsPerHour);
  if (a.clean_since_hour < 0) {
    a.clean_since_hour = hour;
    a.n_at_clean = a.n;
    return;
  }
  if (hour - a.clean_since_hour >= kReleaseAfterHours && a.n - a.n_at_clean >= kReleaseAfterRequests) {
    a.reviewable = false;
    a.review_released = true;
    a.clean_since_hour = -1;
  }
}

}  // namespace

Engine::Engine(Policy policy, EngineOptions options)
    : policy_(std::move(policy)),
      options_(options),
      analyzer_(options.max_template_clusters),
      accounts_(options.max_accounts),
      correlator_(policy_, accounts_, CorrelatorOptions{options.keep_samples, options.max_indicator_values}) {}

Verdict Engine::Observe(const Interaction& in) {
  EventFeatures f;
  analyzer_.Analyze(in, &f);
  return ObserveFeatures(in, f);
}

Verdict Engine::ObserveDigest(const Interaction& in, const ContentDigest& digest, EventTexts* texts) {
  EventFeatures f;
  analyzer_.Assign(digest, &f);
  correlator_.set_event_texts(texts);
  const Verdict v = ObserveFeatures(in, f);
  correlator_.set_event_texts(nullptr);
  return v;
}

AccountState& Engine::AccountFor(const Interaction& in) {
  // Tier 0: accounts never suspicious. Tier 1 (only when tier 0 frees too
  // little, e.g. a flood of suspicious accounts): suspicious ones outside any
  // campaign, neither blocked nor overridden, kept as a summary.
  auto evictable = [&](const AccountState& a, int tier) {
    if (a.override_verdict >= 0 || a.shared_match || !correlator_.Unlinked(a.index)) return false;
    if (tier == 0) return !(a.suspicious || a.reviewable || a.verdict != Verdict::kAllow);
    return a.verdict != Verdict::kBlock;
  };
  auto forget = [&](AccountState& a) {
    if (a.suspicious || a.reviewable || a.verdict != Verdict::kAllow) {
      if (summaries_.size() < options_.max_summaries) {
        summaries_[a.id] = AccountSummary{a.verdict, a.score, a.reasons, a.n, a.first_ts, a.last_ts, a.flagged_at};
      } else {
        ++summaries_dropped_;
      }
    } else if (!a.cleared) {
      correlator_.MarkCleared(a);  // observed and never suspicious: counts as cleared in its values
      correlator_.NoteRotation(a);
    }
    decisions_.erase(a.index);
  };
  const AccountTable::Slot slot = accounts_.Acquire(in, evictable, forget);
  AccountState& a = accounts_[slot.index];
  if (slot.created) {
    if (const auto o = overrides_.find(in.account_id); o != overrides_.end()) {
      a.override_verdict = static_cast<int8_t>(o->second);
    }
    // A summarised account that returns starts afresh but stays reviewable:
    // its summary is all that is left of the evidence, so even an early,
    // not yet sticky review carries over (else flooding the table with
    // accounts would wipe a harvester's review).
    // Its one lift of sticky review (LiftStickyReview) is spent: a clean
    // week on a fresh state, after the evidence was forgotten, proves little.
    if (!summaries_.empty()) {
      if (const auto it = summaries_.find(in.account_id); it != summaries_.end()) {
        a.reviewable = it->second.verdict != Verdict::kAllow;
        a.review_released = a.reviewable;
        summaries_.erase(it);
      }
    }
    correlator_.OnNewAccount(slot, accounts_.slots().size());
  }
  return a;
}

void Engine::NoteTokenVolume(AccountState& a, bool newer_day) {
  // Only where the log reports token counts for the account.
  if (a.TokensServed() == 0) return;
  // The population is the accounts observed without turning suspicious: a
  // campaign's harvesting accounts must not raise the bar they are read
  // against (an operator who wants to raise it pays for the tokens of
  // clean accounts).
  if (newer_day && a.cleared && !a.suspicious) token_baseline_.Add(a.tokens_prev_day);
  const double upper = token_baseline_.Upper();
  if (upper <= 0 || a.days_active == 0 || a.n < kTokenVolumeMinInteractions) {
    a.token_excess = 0;
    return;
  }
  // The stronger of the life's mean per active day and the last two active
  // days: a quiet past does not average a harvest away.
  const double per_day = std::max({static_cast<double>(a.TokensServed()) / a.days_active,
                                   static_cast<double>(a.tokens_prev_day), static_cast<double>(a.tokens_cur_day)});
  a.token_excess = static_cast<float>(std::max(0.0, std::log2(per_day / upper)));
}

uint64_t Engine::CustomerKey(const Interaction& in) {
  if (!in.payment_fingerprint.empty()) return Hash64(in.payment_fingerprint, 1);
  if (const uint64_t block = IpPrefixKey(in.ip, nullptr); block != 0) return HashCombine(block, 2);
  return Hash64(in.account_id, 3);
}

void Engine::NoteOrgVerified(AccountState& a, const Interaction& in) {
  // The provider verified the account's org after it was first seen (serve:
  // PUT /v1/accounts). From now on the org is no indicator and no campaign
  // of colleagues blocks it; a block that rested on a campaign is decided
  // again (its own evidence may still block it; first flagged stays first).
  if (in.org_verified != 1 || a.org_verified == 1 || a.org.empty() || (!in.org_id.empty() && in.org_id != a.org)) return;
  a.org_verified = 1;
  if (a.verdict == Verdict::kBlock && a.override_verdict < 0 && !a.shared_match) a.verdict = Verdict::kReview;
}

void Engine::NoteVerdict(const AccountState& a, const VerdictRecord& record) {
  decisions_[a.index] = record;
  if (verdict_observer_) verdict_observer_(a, record);
}

void Engine::Decide(AccountState& a, TimeMs now, const OwnEvidence* known) {
  if (auto record = dg::Decide(a, now, known, policy_, correlator_)) NoteVerdict(a, *record);
}

Verdict Engine::ObserveFeatures(const Interaction& in, const EventFeatures& f) {
  ++interactions_;
  now_ = std::max(now_, in.ts);
  auto refresh = [&](AccountState& b, TimeMs at) { Decide(b, at); };
  if (const int64_t day = now_ / kMsPerDay; day != last_reexamined_day_) {
    if (last_reexamined_day_ >= 0) {
      correlator_.Reexamine(now_, refresh);
      // A block that rested on a campaign now judged one customer (decide/verdict.h).
      CampaignVerdictMemo one_customer;
      for (auto& b : accounts_.slots()) {
        if (b.verdict != Verdict::kBlock) continue;
        if (auto record = LiftOneCustomerBlock(b, now_, policy_, correlator_, &one_customer)) NoteVerdict(b, *record);
      }
    }
    last_reexamined_day_ = day;
  }
  // account
  AccountState& a = AccountFor(in);
  NoteOrgVerified(a, in);
  // history: was the latest assistant turn it sends back served to this
  // account? (A conversation continues from the last answer it got.)
  HistoryCheck history;
  if (f.history_turns > 0 && a.responses_logged) {
    history.checked = true;
    history.unserved = !a.WasServed(f.history_fp[0]);
  }
  if (f.response_fp != 0) {
    a.NoteServed(f.response_fp);
    a.responses_logged = true;
  }
  const bool newer_day = a.n > 0 && in.ts / kMsPerDay > a.last_day;
  // The same deterministic request again: the answer is one its customer
  // already has. The customer is the payment instrument where the log has
  // one (a lab's researchers re-run each other's benchmarks on one card; a
  // platform-side value no outsider shares), else the address block (the
  // lab's office NAT in a gateway's log), else the account. Whoever else
  // shares the key gains nothing from it: the answer went to the key's
  // holder, not to them.
  if (const uint64_t t = AccountState::TokensOf(f); f.request_fp != 0 && t > 0 && repeats_.SeenBefore(HashCombine(CustomerKey(in), f.request_fp))) {
    a.repeat_tokens = static_cast<uint32_t>(std::min<uint64_t>(UINT32_MAX, a.repeat_tokens + t));
  }
  // A gap this long opens a new session (NetworkLog: returns count there).
  constexpr TimeMs kSessionBreakMs = 30 * kMsPerMinute;
  a.networks.Note(NetworkKey(in.ip), a.n == 0 || in.ts - a.last_ts >= kSessionBreakMs);
  a.Observe(f, policy_.high_max_tokens, history);
  NoteTokenVolume(a, newer_day);
  // indicators
  const bool new_indicator = correlator_.Record(a, in, f);
  // Imported indicators: the first match is sticky; an account that matched
  // only review-trust indicators is looked at again, in case it comes to
  // use a block-trust one.
  if (!a.shared_match || a.shared_match_review) {
    if (const SharedEntry* m = correlator_.MatchesShared(in.payment_fingerprint, in.ip)) {
      const bool review = m->trust == SharedTrust::kReview;
      if (!a.shared_match || !review) {
        a.shared_match_established = a.n > static_cast<uint32_t>(3 * policy_.min_interactions);
        a.shared_match_review = review;
      }
      a.shared_match = true;
    }
  }
  if (a.verdict == Verdict::kBlock) {
    a.clean_since_hour = -1;  // requests not scored are no clean run
  } else {
    // score
    const OwnEvidence ev = ScoreAccount(a, policy_);
    a.own_score = static_cast<float>(std::max(ev.score, ev.automation_score));
    a.young = ev.young;
    if (ev.changed && !a.changed) a.changed_hour = static_cast<int32_t>(in.ts / kMsPerHour);
    a.changed = a.changed || ev.changed;
    a.infra_only = ev.infra_only;
    const bool at_score = ev.score >= policy_.suspicious_score;
    const bool young_bot = ev.young && ev.automation_score >= policy_.automation_score;
    a.harvesting = at_score || young_bot;
    if (a.harvesting) {
      // At the bar: sticky from the 20th request (or young and automating),
      // and never part of a clean run, whatever the count.
      a.reviewable = a.reviewable || (a.n >= kStickyReviewAfter && at_score) || young_bot;
      a.clean_since_hour = -1;
    } else if (a.reviewable) {
      LiftStickyReview(a, in.ts);
    }
    const bool suspicious_now = a.harvesting || ev.infra_only;
    // Harvesting with fewer than kMinHistory requests behind its sliding
    // window: the platform never saw the account used otherwise (with them,
    // a turn to harvesting is a change of use: OwnEvidence::changed).
    if (!a.harvested_from_start && at_score && a.life.n - a.Recent().n < kMinHistory) {
      a.harvested_from_start = true;
    }
    // lifecycle and link
    if (!a.suspicious && suspicious_now) {
      correlator_.MarkSuspicious(a);
      correlator_.TryLink(a, in.ts, refresh);
    } else if (!a.suspicious && !a.cleared && (a.n >= kClearAfterInteractions || in.ts - a.first_ts >= kClearAfterMs)) {
      correlator_.MarkCleared(a);
    } else if (a.cleared && !a.veteran && a.n >= kVeteranAfterInteractions && in.ts - a.first_ts >= kVeteranAfterMs) {
      correlator_.MarkVeteran(a);
    } else if (a.suspicious && (new_indicator || a.n - a.last_link_check >= kRelinkEvery)) {
      correlator_.TryLink(a, in.ts, refresh);
    }
    correlator_.NoteRotation(a);
    // match a known campaign
    const bool in_campaign = correlator_.ConfirmedCampaign(a.index) != nullptr;
    const uint32_t rematch_every = a.n < 64 ? 1 : kRematchEvery;
    if (!in_campaign && confirmed_campaigns() > 0 && (a.n <= 4 || new_indicator || a.n % rematch_every == 0)) {
      correlator_.MatchCampaign(a, in.ts, refresh);
    }
    // decide
    Decide(a, in.ts, &ev);
  }
  correlator_.NoteActivity(a, in, f);
  return a.verdict;
}

void Engine::Finish() {
  for (auto& a : accounts_.slots()) {
    if (a.verdict == Verdict::kBlock) continue;
    const CampaignAggregate* g = correlator_.ConfirmedCampaign(a.index);
    if (g != nullptr) Decide(a, std::max(a.last_ts, g->confirmed_at));
  }
}

CheckResult Engine::Check(const CheckRequest& request) const { return dg::Check(request, accounts_, correlator_, policy_, overrides_, summaries_); }

void Engine::SetOverride(const std::string& account_id, Verdict verdict) {
  if (verdict == Verdict::kReview) {
    overrides_.erase(account_id);
  } else {
    overrides_[account_id] = verdict;
  }
  AccountState* a = accounts_.FindMutable(account_id);
  if (a == nullptr) return;
  if (verdict == Verdict::kReview) {
    a->override_verdict = -1;
    a->verdict = Verdict::kAllow;  // re-decided from the evidence
    a->reasons = 0;
  } else {
    a->override_verdict = static_cast<int8_t>(verdict);
  }
  Decide(*a, std::max(now_, a->last_ts));
}

bool Engine::AddSharedIndicator(IndicatorKind kind, const std::string& value, const std::string& source, SharedTrust trust) {
  return correlator_.AddShared(kind, value, source, trust);
}

bool Engine::RemoveSharedIndicator(IndicatorKind kind, const std::string& value) { return correlator_.RemoveShared(kind, value); }

void Engine::RestoreSample(const std::string& campaign_id, const std::string& sample) {
  correlator_.RestoreSample(campaign_id, sample);
}

const VerdictRecord* Engine::LastDecision(uint32_t account) const {
  const auto it = decisions_.find(account);
  return it == decisions_.end() ? nullptr : &it->second;
}

std::string Engine::CampaignOf(uint32_t account) const {
  const CampaignAggregate* g = correlator_.ConfirmedCampaignConst(account);
  return g != nullptr ? g->id : std::string();
}

}  // namespace dg
