// Engine: the online detection core, as the sequence of its stages. Feed it
// interactions in timestamp order; after each one, the account's verdict
// uses only what arrived so far. No I/O: scan and serve both drive it.
//
// Per interaction (ObserveFeatures, engine.cc):
//   content    ContentAnalyzer assigns template clusters (text is dropped)
//   account    AccountTable slot; AccountState counters (account/); the
//              population's tokens per active day (detect/token_baseline.h);
//              repeats of deterministic requests (account/repeat_table.h)
//   indicators Correlator::Record -- the account's values into the index
//   score      ScoreAccount -- own evidence (detect/scoring.h)
//   lifecycle  suspicious / cleared / veteran (correlate/)
//   link       Correlator::TryLink -- suspicious accounts on pure values
//   match      Correlator::MatchCampaign -- a new account of a known campaign
//   decide     Decide -- block / review / allow with reasons (decide/verdict.h)
//   activity   campaign volume, models, samples
// Stages never call a later stage; when linking changes an account's
// campaign, the correlator hands the account back and the engine re-decides
// it (the refresh callback), in a fixed order.
//
// Cost: O(prompt length) for content, O(1) amortised for state, plus a link
// check (<= 16 candidates per value) when an account turns suspicious and
// every 16 interactions after. Memory: ~1.68 KB per account (1,632-byte
// AccountState + id map), ~150 B per indicator value, bounded template
// indexes, a 1.3 KB token baseline, a repeat table of 64 KiB growing to
// 64 MiB (8 B per temperature-0 request kept), one 88-byte VerdictRecord per account
// whose verdict changed
// (docs/ARCHITECTURE.md, "Costs and bounds"). Deterministic:
// the same input in the same order gives the same output.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "account/account_state.h"
#include "account/account_table.h"
#include "account/repeat_table.h"
#include "content/analyzer.h"
#include "correlate/correlator.h"
#include "decide/check.h"
#include "decide/verdict.h"
#include "detect/scoring.h"
#include "detect/token_baseline.h"
#include "ingest/interaction.h"
#include "policy/policy.h"

namespace dg {

struct EngineOptions {
  // Redacted prompt samples for flagged campaigns, and redacted prompt text
  // as the shown value of content indicators; off: no prompt text in any
  // output (CorrelatorOptions::keep_samples).
  bool keep_samples = true;
  // Accounts kept at once. Past it, accounts that are neither suspicious,
  // reviewed, overridden nor in a cluster -- least recently active first
  // (CLOCK) -- are forgotten (counted as cleared in their indicators) and
  // their slots reused; a forgotten account that returns starts afresh. If
  // that frees too little, suspicious accounts outside any campaign (not
  // blocked, not overridden) go too, kept as an AccountSummary -- at most
  // max_summaries of them (more are counted, not kept); one that returns
  // starts afresh but stays reviewable.
  size_t max_accounts = 2u << 20;
  size_t max_summaries = 8u << 20;
  size_t max_indicator_values = 16u << 20;
  size_t max_template_clusters = 1u << 20;
};

class Engine {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc: saves and restores every member
  explicit Engine(Policy policy, EngineOptions options = {});
  Engine(const Engine&) = delete;  // owns all state
  Engine& operator=(const Engine&) = delete;

  // Processes one interaction; returns its account's verdict after it.
  Verdict Observe(const Interaction& in);
  // The same, for an interaction whose text was already digested (the
  // interaction's text fields are not read): scan digests on its reading
  // thread, serve on its request threads and when it replays its log.
  // texts: live (texts->replay false), receives the redacted text this
  // interaction gave to the analyst view (a content indicator's shown value,
  // a campaign sample; usually none); on replay, supplies it (EventTexts).
  Verdict ObserveDigest(const Interaction& in, const ContentDigest& digest, EventTexts* texts = nullptr);
  // End of input: campaigns confirmed late are applied to members that sent
  // nothing since (flagged at the confirmation time).
  void Finish();

  // Decision for a request about to be served (decide/check.h). Read-only.
  CheckResult Check(const CheckRequest& request) const;
  // A person's decision on an account: kAllow or kBlock, or kReview to
  // withdraw it. Applies to the account when it appears if not seen yet;
  // the engine never overwrites it.
  void SetOverride(const std::string& account_id, Verdict verdict);
  // Indicators shared by another provider (Correlator::AddShared): with
  // kBlock a new or barely seen account matching one is blocked; with
  // kReview it is sent to review at most (Check: throttle or withhold).
  bool AddSharedIndicator(IndicatorKind kind, const std::string& value, const std::string& source, SharedTrust trust);
  // Forgets one: later requests and interactions no longer match it.
  // Accounts that already matched keep their verdict (blocks are sticky;
  // an analyst's override releases one). O(1).
  bool RemoveSharedIndicator(IndicatorKind kind, const std::string& value);
  // The form a shared value is stored and keyed by (Correlator::CanonicalShared).
  static std::optional<std::string> CanonicalSharedIndicator(IndicatorKind kind, const std::string& value) {
    return Correlator::CanonicalShared(kind, value);
  }
  // Restores a campaign's redacted sample kept by earlier versions of serve
  // (one table of samples per campaign id); now the texts ride with their
  // events (ObserveDigest's texts).
  void RestoreSample(const std::string& campaign_id, const std::string& sample);

  // Account slots; a slot whose id is empty is free (a forgotten account).
  const std::vector<AccountState>& accounts() const { return accounts_.slots(); }
  const AccountState* FindAccount(const std::string& id) const { return accounts_.Find(id); }
  size_t live_accounts() const { return accounts_.live(); }
  // Suspicious accounts forgotten to stay within max_accounts, by id.
  const absl::flat_hash_map<std::string, AccountSummary>& summaries() const { return summaries_; }
  uint64_t summaries_dropped() const { return summaries_dropped_; }
  uint64_t evicted_accounts() const { return accounts_.evicted(); }
  // The record of the account's latest verdict change (the evidence as it
  // was then), or null if its verdict never changed.
  const VerdictRecord* LastDecision(uint32_t account) const;
  // Campaign id of an account (confirmed campaigns only), or empty.
  std::string CampaignOf(uint32_t account) const;
  // Called at every verdict change with the account and the record just
  // made (serve keeps a verdict history per account from it). Runs inside
  // Observe / SetOverride: keep it cheap; it must not call the engine.
  using VerdictObserver = std::function<void(const AccountState&, const VerdictRecord&)>;
  void SetVerdictObserver(VerdictObserver observer) { verdict_observer_ = std::move(observer); }

  const Policy& policy() const { return policy_; }
  const Correlator& correlator() const { return correlator_; }
  uint64_t interactions() const { return interactions_; }
  uint32_t confirmed_campaigns() const { return correlator_.campaigns().confirmed(); }
  size_t shared_indicators() const { return correlator_.shared_count(); }
  size_t indicator_values() const { return correlator_.index().size(); }
  size_t template_clusters() const { return analyzer_.system_clusters() + analyzer_.prompt_clusters(); }

 private:
  Verdict ObserveFeatures(const Interaction& in, const EventFeatures& f);
  AccountState& AccountFor(const Interaction& in);
  // Re-decides an account and keeps the record of a change.
  // Keeps a verdict change and tells the observer.
  void NoteVerdict(const AccountState& a, const VerdictRecord& record);
  void Decide(AccountState& a, TimeMs now, const OwnEvidence* known = nullptr);
  // Who gets the answer of a repeated request (RepeatTable's key): the
  // payment instrument, else the address block, else the account. O(1).
  static uint64_t CustomerKey(const Interaction& in);
  // Takes a later verification of the account's org (see engine.cc).
  void NoteOrgVerified(AccountState& a, const Interaction& in);
  // Adds the account's completed active day to the population's token
  // baseline when it starts a newer one (cleared accounts only), and
  // updates a.token_excess. O(1).
  void NoteTokenVolume(AccountState& a, bool newer_day);

  Policy policy_;
  EngineOptions options_;
  ContentAnalyzer analyzer_;
  AccountTable accounts_;
  Correlator correlator_;
  absl::flat_hash_map<std::string, Verdict> overrides_;
  absl::flat_hash_map<uint32_t, VerdictRecord> decisions_;  // account index -> latest verdict change
  VerdictObserver verdict_observer_;
  absl::flat_hash_map<std::string, AccountSummary> summaries_;
  uint64_t summaries_dropped_ = 0;
  uint64_t interactions_ = 0;
  TimeMs now_ = 0;
  int64_t last_reexamined_day_ = -1;
  TokenBaseline token_baseline_;  // the population's tokens per active day
  RepeatTable repeats_;           // (account, deterministic request) pairs sent before
};

}  // namespace dg
