// Check: the decision for a request about to be served (serve's /v1/check
// and ext_authz). Read-only over the engine's state: safe under a shared
// lock while no interaction is applied. O(indicators of the request).
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
  uint32_t reasons = 0;  // Reason bits
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
// reasoning harvest, else throttle. Check uses it; so does the cluster's
// decision node (cluster/nodes.h), which knows an account only by the
// verdict, score, reasons and campaign the correlator put in its bucket.
Decision ReviewDecision(uint32_t reasons, uint32_t prompt_flags);

// `overrides`: analysts' decisions by account id, including accounts not
// seen yet (a block issued before the account's first event holds at once).
// `summaries`: suspicious accounts forgotten to bound memory (still reviewed).
CheckResult Check(const CheckRequest& request, const AccountTable& accounts, const Correlator& correlator,
                  const Policy& policy, const absl::flat_hash_map<std::string, Verdict>& overrides,
                  const absl::flat_hash_map<std::string, AccountSummary>& summaries);

}  // namespace dg
