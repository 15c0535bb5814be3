// Check: the decision for a request about to be served (serve's /v1/check
// and ext_authz). The rule is written once, over CheckInputs -- what the
// detector knows about the request's account and indicators -- so that serve
// answers from its live engine (EngineCheckInputs: read-only, safe under a
// shared lock while no interaction is applied) and a cluster decision node
// (serve --nats, cluster/cluster_view.h) from its watched copy of the
// cluster's buckets, with the same answers for the same inputs.
// O(indicators of the request) plus the inputs' look-ups.
//
//   an analyst's decision on an account not seen yet -> that decision;
//   known account: block -> block; review -> withhold_reasoning when its
//   evidence (or this prompt) is reasoning harvest, else throttle; an
//   analyst's allow -> allow;
//   new or barely seen account: its payment / address block matched against
//   imported indicators -> block (block trust) or as in review (review
//   trust: throttle / withhold_reasoning), and against confirmed campaigns'
//   pure indicators -> block (enough evidence to link) or challenge (weaker).
// An established account is not judged on the infrastructure it shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <absl/container/flat_hash_map.h>

#include "account/account_table.h"
#include "correlate/correlator.h"
#include "policy/policy.h"

namespace dg {

// What a gateway knows before serving a request.
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
  ReasonMask reasons = 0;  // Reason bits
  int ttl_s = 60;        // how long the gateway may cache the answer
  // Set when an access rule (decide/access_rules.h) decided or capped the
  // request: its id, its customer-facing text, and whether the customer
  // may see the id (not for rules that read the detector's verdict).
  std::string rule_id, rule_message;
  bool rule_visible = false;
  bool rule_decided = false;       // the decision is the rule's (else the rule only capped)
  uint32_t max_output_tokens = 0;  // 0: no cap
};

// An account in review: withhold_reasoning when its evidence (`reasons`,
// Reason bits) or this prompt (`prompt_flags`, ContentFlag bits) is
// reasoning harvest, else throttle.
Decision ReviewDecision(ReasonMask reasons, uint32_t prompt_flags);

// What Check reads about the account a request names.
struct AccountInputs {
  enum class Source : uint8_t {
    kNone,      // never seen, no analyst decision
    kLive,      // an account the detector judged
    kOverride,  // not seen yet, but an analyst decided (verdict: allow or block)
    kSummary,   // forgotten to bound memory, its verdict kept
  };
  Source source = Source::kNone;
  Verdict verdict = Verdict::kAllow;
  double score = 0;
  ReasonMask reasons = 0;       // Reason bits
  uint32_t interactions = 0;  // kLive
  bool analyst_allow = false; // kLive: an analyst allowed it
  std::string campaign_id;    // kLive: its confirmed campaign, if any
};

// A request's payment fingerprint / address block matched against a
// confirmed campaign's pure indicators (Correlator::MatchRequest).
struct CampaignMatch {
  std::string campaign_id;
  double campaign_score = 0;  // Correlator::CampaignScore
  double total = 0;           // summed link evidence
  ReasonMask reasons = 0;       // Reason bits of the kinds that matched
  // The campaign's members are measuring the model (Correlator::Measuring
  // over the campaign): a new account on its values is challenged, not
  // blocked -- as its members are reviewed, not blocked.
  bool measuring = false;
  // The campaign is one customer in the open (Correlator::OneCustomer: a
  // lab's accounts on its card and office network): a new account on its
  // values is challenged, not blocked -- as its members are not blocked by
  // membership.
  bool one_customer = false;
};

// The campaign side of a CampaignMatch -- everything but total and reasons
// -- as the live engine judges the campaign now: what EngineCheckInputs
// answers, and what a cluster correlator publishes per campaign for
// decision nodes (dg_campaigns). O(members).
CampaignMatch CampaignMatchOf(const Correlator& correlator, const CampaignAggregate& campaign);

// Check's inputs. Implementations are read concurrently by every checking
// thread: each call must be safe against the others (and return copies).
class CheckInputs {
 public:
  virtual ~CheckInputs() = default;
  virtual AccountInputs Account(const std::string& account_id) const = 0;
  // An imported indicator matching the payment fingerprint or the address.
  virtual std::optional<SharedTrust> Shared(const std::string& payment, const std::string& ip) const = 0;
  // The confirmed campaign the request's indicators link to, if any.
  virtual std::optional<CampaignMatch> MatchCampaign(const std::string& payment, const std::string& ip) const = 0;
};

CheckResult Check(const CheckRequest& request, const CheckInputs& inputs, const Policy& policy);

// The engine's state as Check's inputs. `overrides`: analysts' decisions by
// account id, including accounts not seen yet (a block issued before the
// account's first event holds at once). `summaries`: suspicious accounts
// forgotten to bound memory (still reviewed). Holds references: valid as
// long as they are, read under the caller's lock.
class EngineCheckInputs final : public CheckInputs {
 public:
  EngineCheckInputs(const AccountTable& accounts, const Correlator& correlator,
                    const absl::flat_hash_map<std::string, Verdict>& overrides,
                    const absl::flat_hash_map<std::string, AccountSummary>& summaries)
      : accounts_(accounts), correlator_(correlator), overrides_(overrides), summaries_(summaries) {}
  AccountInputs Account(const std::string& account_id) const override;
  std::optional<SharedTrust> Shared(const std::string& payment, const std::string& ip) const override;
  std::optional<CampaignMatch> MatchCampaign(const std::string& payment, const std::string& ip) const override;

 private:
  const AccountTable& accounts_;
  const Correlator& correlator_;
  const absl::flat_hash_map<std::string, Verdict>& overrides_;
  const absl::flat_hash_map<std::string, AccountSummary>& summaries_;
};

// Check over the engine's state (EngineCheckInputs).
CheckResult Check(const CheckRequest& request, const AccountTable& accounts, const Correlator& correlator,
                  const Policy& policy, const absl::flat_hash_map<std::string, Verdict>& overrides,
                  const absl::flat_hash_map<std::string, AccountSummary>& summaries);

}  // namespace dg
