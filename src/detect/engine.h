// Engine: the online detection core. Feed it interactions in timestamp
// order; after each one, the account's verdict uses only what arrived so
// far. No I/O: the CLI's scan and the server both drive this class.
//
// Per interaction:
//   ContentAnalyzer  -> EventFeatures (text is dropped here)
//   AccountState     -> counters updated, own score (detect/scoring.h)
//   IndicatorIndex   -> the account's payment / IP prefix / templates /
//                       client / creation burst values, with purity
//   CampaignSet      -> suspicious accounts that share pure indicators are
//                       linked; clusters of >= campaign_min_accounts are
//                       campaigns; a new account that matches a campaign's
//                       pure indicators joins it at its first request
//   verdict          -> block / review / allow with reasons (sticky block)
//
// Cost: O(prompt length) for content, O(1) amortised for state, plus a
// link check (<= 16 candidates per indicator) when an account turns
// suspicious and every 16 interactions after. Memory: ~400 B per account,
// ~64 B per indicator value, bounded template indexes.
// Deterministic: the same input in the same order gives the same output.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/functional/function_ref.h>

#include "account/account_state.h"
#include "content/analyzer.h"
#include "correlate/campaigns.h"
#include "correlate/indicator_index.h"
#include "decide/policy.h"
#include "detect/reasons.h"
#include "detect/scoring.h"
#include "ingest/interaction.h"

namespace dg {

struct EngineOptions {
  bool keep_samples = true;  // redacted prompt samples for flagged campaigns
  // Accounts kept at once. Past it, accounts that are neither suspicious,
  // reviewed, overridden nor in a cluster -- least recently active first
  // (CLOCK) -- are forgotten (counted as cleared in their indicators) and
  // their slots reused; a forgotten account that returns starts afresh.
  size_t max_accounts = 2u << 20;
  size_t max_indicator_values = 16u << 20;
  size_t max_template_clusters = 1u << 20;
};

struct CampaignView {
  std::string id;
  double score = 0;
  std::vector<uint32_t> members;  // account indices
  uint64_t interactions = 0;      // all interactions of its members
  uint64_t input_tokens = 0, output_tokens = 0;
  TimeMs first_seen = -1, last_seen = -1, confirmed_at = -1;
  std::array<uint64_t, kCapabilityCount> capabilities{};
  std::array<uint64_t, 24> hours{};
  std::map<int64_t, uint64_t> per_day;
  std::map<std::string, uint64_t> models;
  std::map<std::pair<int64_t, std::string>, uint64_t> day_models;  // (day, model) -> interactions
  std::vector<std::pair<std::string, std::string>> indicators;  // (kind, value)
  std::vector<std::string> samples;
  std::vector<std::string> reasons;
};

// What a gateway knows before serving a request (serve's /v1/check).
struct CheckRequest {
  std::string account_id, api_key_id, ip, user_agent, payment_fingerprint, model;
  uint32_t prompt_flags = 0;  // ContentFlag bits of the prompt, if the gateway sent it
};

enum class Decision : uint8_t { kAllow, kThrottle, kChallenge, kBlock, kWithholdReasoning };
std::string_view DecisionName(Decision d);

struct CheckResult {
  Decision decision = Decision::kAllow;
  std::string campaign_id;
  double score = 0;
  uint32_t reasons = 0;  // Reason bits
  int ttl_s = 60;        // how long the gateway may cache the answer
};

class Engine {
 public:
  explicit Engine(Policy policy, EngineOptions options = {});
  Engine(const Engine&) = delete;  // owns all state
  Engine& operator=(const Engine&) = delete;

  // Processes one interaction; returns its account's verdict after it.
  Verdict Observe(const Interaction& in);
  // The same, for an interaction whose text was already digested (the
  // interaction's text fields are not read): serve digests on its request
  // threads and replays its log, which keeps digests, never text.
  Verdict ObserveDigest(const Interaction& in, const ContentDigest& digest);

  // Decision for a request about to be served. Read-only: safe under a
  // shared lock while no Observe runs. O(indicators of the request).
  //   known account: block -> block; review -> withhold_reasoning when its
  //   evidence (or this prompt) is reasoning harvest, else throttle;
  //   new or barely seen account: its payment / address block / client
  //   matched against confirmed campaigns' pure indicators and against
  //   imported indicators -> block (payment, or enough together) or
  //   challenge (a weaker match).
  CheckResult Check(const CheckRequest& request) const;

  // A person's decision on an account: kAllow or kBlock, or kReview to
  // withdraw it. Applies to the account when it appears if not seen yet;
  // the engine never overwrites it.
  void SetOverride(const std::string& account_id, Verdict verdict);
  // Indicators shared by another provider (STIX import): kind + raw value
  // (payment fingerprint, IP prefix "a.b.c.0/24" or address, user agent).
  // Returns false for a value the engine cannot use.
  bool AddSharedIndicator(IndicatorKind kind, const std::string& value, const std::string& source);
  size_t shared_indicators() const { return shared_.size(); }
  uint64_t interactions() const { return interactions_; }
  uint32_t confirmed_campaigns() const { return campaigns_.confirmed(); }
  // Campaign id of an account without modifying the forest (shared lock).
  std::string CampaignOfConst(uint32_t account) const;
  // Restores a campaign's redacted sample (serve keeps samples in its
  // store; replayed digests carry no text).
  void RestoreSample(const std::string& campaign_id, const std::string& sample);
  // Called with (campaign id, redacted sample) when a sample is taken.
  void set_sample_sink(std::function<void(const std::string&, const std::string&)> sink) { sample_sink_ = std::move(sink); }
  // End of input: campaigns confirmed late are applied to members that sent
  // nothing since (flagged at the confirmation time, with all their
  // interactions counted as served).
  void Finish();

  // Account slots; a slot whose id is empty is free (an evicted account).
  const std::vector<AccountState>& accounts() const { return accounts_; }
  size_t live_accounts() const { return accounts_.size() - free_slots_.size(); }
  uint64_t evicted_accounts() const { return evicted_; }
  const AccountState* FindAccount(const std::string& id) const;
  // Confirmed campaigns, strongest first.
  std::vector<CampaignView> Campaigns() const;
  // Campaign id of an account, or empty.
  std::string CampaignOf(uint32_t account);
  // Evidence names and values behind an account's verdict.
  std::vector<std::pair<std::string, double>> Explain(const AccountState& a) const;
  const Policy& policy() const { return policy_; }
  size_t indicator_values() const { return index_.size(); }
  const IndicatorIndex& indicator_index() const { return index_; }
  size_t template_clusters() const { return analyzer_.system_clusters() + analyzer_.prompt_clusters(); }

 private:
  Verdict ObserveFeatures(const Interaction& in, const EventFeatures& f);
  // Source of the shared (imported) indicator this payment / address
  // matches, or null.
  const std::string* MatchesShared(const std::string& payment, const std::string& ip) const;
  uint32_t AccountIndex(const Interaction& in);
  void RecordIndicators(AccountState& a, const Interaction& in, const EventFeatures& f);
  using DisplayFn = absl::FunctionRef<std::string()>;
  void AddIndicator(AccountState& a, IndicatorKind kind, uint64_t value, DisplayFn display);
  void MarkSuspicious(AccountState& a);
  void MarkCleared(AccountState& a);
  void MarkVeteran(AccountState& a);
  void TryLink(AccountState& a, TimeMs now);
  // Summed purity-weighted indicators a and b share; *infra is set when one
  // of them is operator infrastructure (payment, IP prefix, creation burst,
  // e-mail domain) rather than content or client configuration.
  double LinkScore(const AccountState& a, const AccountState& b, uint32_t* reasons, bool* infra) const;
  bool MatchCampaign(AccountState& a, TimeMs now);
  // Per confirmed campaign (root), the best evidence per indicator kind.
  using CampaignScores = std::vector<std::pair<uint32_t, std::array<double, kIndicatorKinds>>>;
  // Adds one indicator value's evidence toward the confirmed campaign its
  // hint points to, if it is pure enough (MatchCampaign and Check).
  void AddCampaignEvidence(size_t kind, uint64_t key, CampaignScores* scores) const;
  // Sum of per-kind link weights, prompt-content kinds together capped at
  // policy.links.content_cap: two operators drawing on the same public
  // prompt set share content and nothing else.
  double CombineKinds(const std::array<double, kIndicatorKinds>& per_kind, bool* infra) const;
  // Re-decides an account; `known` is its evidence if already computed for
  // this interaction.
  void Decide(AccountState& a, TimeMs now, const OwnEvidence* known = nullptr);
  void OnConfirmed(uint32_t root, TimeMs now);
  // Campaign hints on the members' indicators, and their verdicts re-decided.
  void RefreshMembers(uint32_t root, const std::vector<uint32_t>& members, TimeMs now);
  double CampaignScore(const CampaignAggregate& g) const;
  // Accounts a cluster needs to be confirmed: policy.campaign_min_accounts,
  // doubled when every member is a candidate by automation alone (without
  // harvesting content only a larger network is evidence of coordination).
  size_t CampaignMinAccounts(const CampaignAggregate& g) const;
  void NoteCampaignActivity(AccountState& a, const Interaction& in, const EventFeatures& f);
  // Once a day of stream time: every campaign's score is recomputed from
  // its members' current evidence (scores given at linking go stale as
  // accounts keep sending).
  void ReexamineCampaigns();

  Policy policy_;
  EngineOptions options_;
  std::array<double, kIndicatorKinds> link_weights_;  // by IndicatorKind
  ContentAnalyzer analyzer_;
  IndicatorIndex index_;
  CampaignSet campaigns_;
  std::vector<AccountState> accounts_;
  absl::flat_hash_map<std::string, uint32_t> account_ids_;
  uint64_t interactions_ = 0;
  TimeMs now_ = 0;
  int64_t last_reexamined_day_ = -1;
  // Frees slots (CLOCK sweep) until the live accounts fit max_accounts.
  void EvictAccounts();
  std::vector<uint32_t> free_slots_;
  size_t clock_hand_ = 0;
  size_t sweep_again_at_ = 0;
  uint64_t evicted_ = 0;
  absl::flat_hash_map<std::string, Verdict> overrides_;
  absl::flat_hash_map<uint64_t, std::string> shared_;  // indicator key -> source
  std::function<void(const std::string&, const std::string&)> sample_sink_;
};

// Masks e-mail addresses, phone numbers, API keys / long tokens and URLs
// with credentials in a prompt sample; truncates to max_len bytes.
std::string RedactSample(std::string_view text, size_t max_len = 240);

}  // namespace dg
