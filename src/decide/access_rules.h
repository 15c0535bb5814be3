// Access rules: per-model gating on verified account attributes, decided at
// the same point as the detector's Check (serve's /v1/check and ext_authz)
// -- "model X only for accounts whose verified person or organisation is in
// an allowed jurisdiction, with verification level >= K", "no reasoning
// traces for unverified accounts", "models released after DATE only for
// accounts older than M days with a verified payment instrument".
//
// A rules file (TOML, docs/ACCESS.md) has a format, a version (recorded in
// the audit with the file's SHA-256), an optional model catalogue (release
// dates) and [[rule]] tables:
//
//   id, mode ("enforce" | "dry_run"), models (exact names and * ? globs),
//   released_after (catalogue models released after a date), effect
//   ("deny_model" | "require_verification" | "withhold_reasoning" |
//   "cap_output_tokens" with cap_output_tokens = N), customer_reason,
//   audit_reason, and conditions in two tables of the same keys:
//     [rule.when]     the effect applies only when every predicate holds;
//     [rule.require]  the effect applies unless every predicate holds.
//   Predicates: verified_country_in / _not_in, jurisdiction_in / _not_in,
//   verification_level_at_least, org_type_in / _not_in,
//   account_age_days_at_least, payment_verified, org_verified, labels_any,
//   labels_none, detector_decision_in, detector_score_at_least.
//
// A predicate on a missing attribute never holds: missing is never
// verified. In `require` a missing attribute therefore applies the effect;
// in `when` it never triggers it (write allow-lists as requirements).
// Labels are the provider's own flags: an account without labels has none.
//
// Errors name the file, line and key (like the policy), so a typo never
// silently widens access.
//
// Evaluation (the hot path of /v1/check): attribute values are interned to
// small integers against the rule set's vocabulary once per check
// (Subject), the rules covering a model are listed once per model and
// cached (RulesFor), every condition is a handful of integer compares, and
// the outcome is cached per (account, attribute generation, model, detector
// decision, score bucket, age bucket) -- the buckets are the positions of
// the account's score and age among the thresholds the rules use, so a
// cached outcome is exact. A cache hit costs one hash probe; a miss costs
// O(rules covering the model) compares (~2-5 ns each). The rule set is
// immutable once loaded (a reload builds a new one: no locks but the
// caches' shards).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/status.h"
#include "common/time.h"
#include "decide/check.h"
#include "ingest/accounts.h"

namespace dg {

enum class AccessEffect : uint8_t { kDenyModel, kRequireVerification, kWithholdReasoning, kCapOutputTokens };
enum class AccessMode : uint8_t { kEnforce, kDryRun };
std::string_view AccessEffectName(AccessEffect e);
std::string_view AccessModeName(AccessMode m);
// The gateway decision an effect gives (a cap leaves the decision as it is).
Decision AccessEffectDecision(AccessEffect e);
// Strictness of a decision: allow < withhold_reasoning < throttle <
// challenge < block. Of the detector's and the rules' decisions the
// stricter wins; at equal strictness the rule is named.
int DecisionRank(Decision d);

// A set of interned values, sorted (membership: a short scan or a binary search).
using AccessIdSet = std::vector<uint16_t>;

// One condition table, compiled. `present` has a bit per predicate given.
struct AccessPredicates {
  enum Bit : uint32_t {
    kCountryIn = 1u << 0, kCountryNotIn = 1u << 1, kJurisdictionIn = 1u << 2, kJurisdictionNotIn = 1u << 3,
    kMinLevel = 1u << 4, kOrgTypeIn = 1u << 5, kOrgTypeNotIn = 1u << 6, kMinAge = 1u << 7,
    kPaymentVerified = 1u << 8, kOrgVerified = 1u << 9, kLabelsAny = 1u << 10, kLabelsNone = 1u << 11,
    kDetectorIn = 1u << 12, kMinScore = 1u << 13,
  };
  uint32_t present = 0;
  AccessIdSet country_in, country_not_in, jurisdiction_in, jurisdiction_not_in, org_type_in, org_type_not_in,
      labels_any, labels_none;
  int32_t min_level = 0;
  TimeMs min_age_ms = 0;
  int8_t payment_verified = 1, org_verified = 1;
  uint8_t detector_mask = 0;  // bits of Decision
  double min_score = 0;
};

struct AccessRule {
  std::string id;
  int line = 0;  // of its [[rule]] header
  AccessMode mode = AccessMode::kEnforce;
  AccessEffect effect = AccessEffect::kDenyModel;
  uint32_t cap_output_tokens = 0;
  std::string customer_reason, audit_reason;
  std::vector<std::string> models;  // exact names and globs
  std::optional<TimeMs> released_after;
  AccessPredicates when, require;
  bool has_when = false, has_require = false;
  bool reads_detector = false;  // its customer-facing answer then names no rule
};

// An account as the rules see it: values interned against the rule set
// (0 missing, 1 present but named by no rule, 2.. a value some rule names).
struct AccessSubject {
  const AccountAttributes* attributes = nullptr;  // null: unknown account
  uint16_t country = 0, jurisdiction = 0, org_type = 0;
  int32_t level = -1;
  int8_t payment_verified = -1, org_verified = -1;
  TimeMs age_ms = -1;  // -1: no sign-up time
  uint64_t labels_lo = 0;                // interned labels < 64 as bits
  std::vector<uint16_t> labels_hi;       // the rest (rare: > 62 distinct labels in the rules)
  Decision detector = Decision::kAllow;
  double score = 0;
  uint32_t score_bucket = 0, age_bucket = 0;
};

// What the rules say for one request. Rule indices into rules().
struct AccessOutcome {
  int32_t enforced = -1;       // strictest enforced deny / require / withhold (first in file order on ties)
  int32_t cap_rule = -1;       // smallest enforced cap
  uint32_t cap_tokens = 0;
  std::vector<uint32_t> triggered;  // every rule whose effect applies, enforced and dry run, file order
};

class AccessRuleSet {
 public:
  // Reads FILE (and its catalogue, relative to FILE). InvalidArgument
  // "FILE:LINE: key 'K': why" when anything in it is wrong; NotFound /
  // PermissionDenied / Unavailable when FILE cannot be read.
  static absl::StatusOr<std::shared_ptr<const AccessRuleSet>> Load(const std::string& path);
  // From text. `read_file(path, &text)` resolves `catalogue = "..."` (null:
  // a catalogue key is an error). InvalidArgument as above. Fuzzed
  // (fuzz/fuzz_access_rules.cc).
  static absl::StatusOr<std::shared_ptr<const AccessRuleSet>> FromToml(
      std::string_view text, const std::string& origin, const std::function<bool(const std::string&, std::string*)>& read_file);
  // A model catalogue alone: [models] "name" = DATE. InvalidArgument
  // "FILE:LINE: key 'K': why".
  static absl::StatusOr<absl::flat_hash_map<std::string, TimeMs>> ParseCatalogue(std::string_view text, const std::string& origin);

  const std::string& version() const { return version_; }
  const std::string& sha256() const { return sha256_; }  // of the rules file's bytes
  const std::string& catalogue_sha256() const { return catalogue_sha256_; }
  const std::string& origin() const { return origin_; }
  const std::vector<AccessRule>& rules() const { return rules_; }
  const absl::flat_hash_map<std::string, TimeMs>& catalogue() const { return catalogue_; }
  bool empty() const { return rules_.empty(); }

  // Indices of the rules covering `model`, file order. Cached per model
  // (at most 4096 models, then the cache starts again). Thread-safe.
  std::shared_ptr<const std::vector<uint32_t>> RulesFor(std::string_view model) const;
  // Whether `rule` covers `model` (uncached; access-impact, tests).
  bool Covers(const AccessRule& rule, std::string_view model) const;

  AccessSubject Subject(const AccountAttributes* a, Decision detector, double score, TimeMs now) const;
  // The reference evaluation: each listed rule's predicates in turn
  // (O(rules x predicates), with a cache miss or two per rule).
  AccessOutcome Evaluate(const AccessSubject& s, const std::vector<uint32_t>& rule_indices) const;
  // The same outcome from the rule index built at load: per predicate kind
  // one bitset over the rules (or the sparse list of rules naming a value,
  // or the rules sorted by threshold), so a check costs O(kinds x rules/64)
  // word operations plus the rules naming the account's own values --
  // whatever the rules' condition sets (AccessRules.IndexedEqualsReference).
  AccessOutcome EvaluateIndexed(const AccessSubject& s, std::string_view model) const;
  bool Holds(const AccessPredicates& p, const AccessSubject& s) const;
  bool Applies(const AccessRule& r, const AccessSubject& s) const;

  // The outcome cache, in two steps so that a hit needs neither the
  // account's attributes nor their lock. Probe: true on a hit, with
  // *outcome (null: no rule applies). The entry keeps the account's sign-up
  // time, so its age bucket at `now` is checked without the attributes.
  // `generation` changes whenever account attributes change. Thread-safe.
  bool Probe(std::string_view account_id, uint64_t generation, std::string_view model, Decision detector, double score,
             TimeMs now, std::shared_ptr<const AccessOutcome>* outcome) const;
  // Evaluates with the rule index and caches the outcome; null when no
  // rule applies. Thread-safe.
  std::shared_ptr<const AccessOutcome> Decide(std::string_view account_id, uint64_t generation, std::string_view model,
                                              const AccessSubject& s) const;

  // The names of the attributes a rule's predicates read that `s` lacks
  // (for the audit: "missing counts as not verified").
  std::vector<std::string_view> Missing(const AccessRule& r, const AccessSubject& s) const;

 private:
  AccessRuleSet() = default;
  uint16_t Intern(int field, std::string_view value);        // at load
  uint16_t Lookup(int field, std::string_view value) const;  // 0 for empty, 1 unknown
  friend class AccessLoader;

  std::string version_, sha256_, catalogue_sha256_, origin_;
  std::vector<AccessRule> rules_;
  absl::flat_hash_map<std::string, TimeMs> catalogue_;
  static constexpr int kFields = 4;  // country (verified_country), jurisdiction, org_type, label
  std::array<absl::flat_hash_map<std::string, uint16_t>, kFields> vocab_;
  std::vector<double> score_thresholds_;  // sorted, distinct
  std::vector<TimeMs> age_thresholds_;

  // The rule index (BuildIndex): for each condition table (when, require).
  enum ListKind { kCountryInL, kCountryNotInL, kJurisdictionInL, kJurisdictionNotInL, kOrgTypeInL, kOrgTypeNotInL, kLabelsAnyL,
                  kLabelsNoneL, kListKinds };
  struct TableIndex {
    std::vector<uint64_t> present;                               // rules that have this table
    std::array<std::vector<uint64_t>, kListKinds> has;            // rules with the list predicate (empty: none)
    std::array<std::vector<std::vector<uint32_t>>, kListKinds> naming;  // [value id] -> rules whose list names it
    // The same as a bitset where that is smaller (a value most rules name:
    // one AND of rules/64 words instead of a bit per rule).
    std::array<std::vector<std::vector<uint64_t>>, kListKinds> naming_bits;
    std::vector<std::pair<int64_t, uint32_t>> level, age;         // (threshold, rule), highest first
    std::vector<std::pair<double, uint32_t>> score;
    std::vector<uint64_t> has_level, has_age;
    std::array<std::vector<uint64_t>, 3> payment_fail, org_fail;  // [value + 1] -> rules whose predicate fails
    std::array<std::vector<uint64_t>, 5> detector_fail;           // [Decision] -> rules whose predicate fails
  };
  void BuildIndex();
  void Failing(const TableIndex& t, const AccessSubject& s, uint64_t* fail, uint64_t* scratch) const;
  size_t words_ = 0;
  std::array<TableIndex, 2> index_;  // when, require

  struct Covering {
    std::vector<uint32_t> list;
    std::vector<uint64_t> bits;
  };
  std::shared_ptr<const Covering> CoveringFor(std::string_view model) const;
  struct ModelShard {
    std::mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<const Covering>> map;
  };
  uint32_t ScoreBucket(double score) const;
  uint32_t AgeBucket(TimeMs created_at, TimeMs now) const;  // 0: no sign-up time
  static uint64_t CacheKey(std::string_view account_id, uint64_t generation, std::string_view model, Decision detector,
                           uint32_t score_bucket);
  struct CachedOutcome {
    TimeMs created_at = kNoTime;
    uint32_t age_bucket = 0;
    std::shared_ptr<const AccessOutcome> outcome;  // null: no rule applies
  };
  struct OutcomeShard {
    std::mutex mu;
    absl::flat_hash_map<uint64_t, CachedOutcome> map;
  };
  static constexpr size_t kShards = 16;
  mutable std::array<ModelShard, kShards> models_;
  mutable std::array<OutcomeShard, kShards> outcomes_;
};

// Applies the rules' outcome to the detector's result: the stricter
// decision wins (the rule is named at equal strictness); an enforced cap
// rides along with any decision that serves the request.
void ApplyAccess(const AccessRuleSet& rules, const AccessOutcome& outcome, CheckResult* result);

}  // namespace dg
