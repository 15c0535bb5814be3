// Signals: the vocabulary every stage shares, as two tables.
//
//   kSignals         one row per Reason a verdict can carry: its one name
//                    (accounts.jsonl, /v1/check, the policy's [weights]
//                    key), its family and its default weight.
//   kIndicatorKinds  one row per kind of value that can tie accounts to one
//                    operator: its one name (policy [links] key,
//                    campaigns.jsonl, the serve store, STIX), the Reason a
//                    link on it gives, default weight, the suspicious
//                    accounts it needs before it counts in full, and its
//                    class (infrastructure / content / client / timing).
//
// Scoring, linking, the policy loader, the report, serve and STIX iterate
// these tables; nothing else lists signals or kinds by position. The order
// of the rows is the order of the enums (checked at compile time), and the
// Reason order is the order reasons are printed in. docs/SIGNALS.md says
// what each signal is, why it exists and what it costs an attacker to evade;
// docs/ARCHITECTURE.md says how to add one. Cost: compile-time constants.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dg {

enum class Reason : uint8_t {
  // the account's own behaviour
  kCotElicitation,
  kReasoningReconstruction,
  kRubricGrading,
  kDataGeneration,
  kSingleTurn,
  kFixedSampling,
  kTemplateConcentration,
  kRoundTheClock,
  kMachinePacing,
  kHighVolume,
  kYoungAccount,
  kMaxOutputCap,
  kUnservedHistory,
  kTokenVolume,
  kAddressRotation,  // sends session after session from a network it has not used before
  // coordination
  kCampaignMember,
  kCampaignIndicatorMatch,
  kSharedPayment,
  kSharedIpPrefix,
  kSharedSystemPrompt,
  kSharedPromptTemplate,
  kSharedPromptFrame,
  kSharedToolset,
  kSharedClient,
  kSharedCreationBurst,
  kSharedEmailDomain,
  kSharedBehaviour,
  kSharedSchedule,
  kSharedOrg,
  // outcomes decided outside the evidence
  kAllowlisted,
  kAnalystOverride,  // a person allowed or blocked the account
  kSharedIndicator,  // matches an indicator shared by another provider (STIX import)
  // coordination, added last so that stored reason masks keep their bits
  kSharedOnset,  // took up harvesting within a day of each other (links.onset)
  kSharedRotation,  // both send from rotating exits, beside a shared value (links.rotation)
  kCount
};
inline constexpr size_t kReasonCount = static_cast<size_t>(Reason::kCount);
// A set of reasons: bit per Reason.
using ReasonMask = uint64_t;
static_assert(kReasonCount <= 64, "reasons are kept in a 64-bit mask");
inline constexpr ReasonMask Bit(Reason r) { return ReasonMask{1} << static_cast<uint32_t>(r); }
inline constexpr bool HasReason(ReasonMask m, size_t r) { return (m >> r) & 1u; }

enum class Family : uint8_t {
  kHarvest,       // what is being extracted (content)
  kAutomation,    // how: bot-like use
  kYouth,         // a fresh account
  kCoordination,  // shared with other accounts
  kOutcome,       // decided outside the evidence (allowlist, analyst, partner)
};

struct SignalSpec {
  Reason reason;
  std::string_view name;
  Family family;
  double weight;  // default weight of an own-behaviour signal (policy [weights]); 0 otherwise
};

inline constexpr std::array<SignalSpec, kReasonCount> kSignals = {{
    {Reason::kCotElicitation, "cot_elicitation", Family::kHarvest, 1.0},
    {Reason::kReasoningReconstruction, "reasoning_reconstruction", Family::kHarvest, 2.0},
    {Reason::kRubricGrading, "rubric_grading", Family::kHarvest, 1.2},
    {Reason::kDataGeneration, "data_generation", Family::kHarvest, 1.0},
    {Reason::kSingleTurn, "single_turn", Family::kAutomation, 0.4},
    {Reason::kFixedSampling, "fixed_sampling", Family::kAutomation, 0.2},
    {Reason::kTemplateConcentration, "template_concentration", Family::kAutomation, 0.3},
    {Reason::kRoundTheClock, "round_the_clock", Family::kAutomation, 0.3},
    {Reason::kMachinePacing, "machine_pacing", Family::kAutomation, 0.2},
    {Reason::kHighVolume, "high_volume", Family::kAutomation, 0.3},
    {Reason::kYoungAccount, "young_account", Family::kYouth, 0.4},
    {Reason::kMaxOutputCap, "max_output_cap", Family::kAutomation, 0.2},
    {Reason::kUnservedHistory, "unserved_history", Family::kAutomation, 0.2},
    {Reason::kTokenVolume, "token_volume", Family::kAutomation, 0.3},
    {Reason::kAddressRotation, "address_rotation", Family::kAutomation, 0.8},
    {Reason::kCampaignMember, "campaign_member", Family::kCoordination, 0},
    {Reason::kCampaignIndicatorMatch, "campaign_indicator_match", Family::kCoordination, 0},
    {Reason::kSharedPayment, "shared_payment", Family::kCoordination, 0},
    {Reason::kSharedIpPrefix, "shared_ip_prefix", Family::kCoordination, 0},
    {Reason::kSharedSystemPrompt, "shared_system_prompt", Family::kCoordination, 0},
    {Reason::kSharedPromptTemplate, "shared_prompt_template", Family::kCoordination, 0},
    {Reason::kSharedPromptFrame, "shared_prompt_frame", Family::kCoordination, 0},
    {Reason::kSharedToolset, "shared_toolset", Family::kCoordination, 0},
    {Reason::kSharedClient, "shared_client", Family::kCoordination, 0},
    {Reason::kSharedCreationBurst, "shared_creation_burst", Family::kCoordination, 0},
    {Reason::kSharedEmailDomain, "shared_email_domain", Family::kCoordination, 0},
    {Reason::kSharedBehaviour, "shared_behaviour", Family::kCoordination, 0},
    {Reason::kSharedSchedule, "shared_schedule", Family::kCoordination, 0},
    {Reason::kSharedOrg, "shared_org", Family::kCoordination, 0},
    {Reason::kAllowlisted, "allowlisted", Family::kOutcome, 0},
    {Reason::kAnalystOverride, "analyst_override", Family::kOutcome, 0},
    {Reason::kSharedIndicator, "shared_indicator", Family::kOutcome, 0},
    {Reason::kSharedOnset, "shared_onset", Family::kCoordination, 0},
    {Reason::kSharedRotation, "shared_rotation", Family::kCoordination, 0},
}};

constexpr const SignalSpec& Signal(Reason r) { return kSignals[static_cast<size_t>(r)]; }
constexpr std::string_view ReasonName(Reason r) { return Signal(r).name; }
// The account's own behaviour (harvest, automation, youth): what ScoreAccount
// computes and the policy weighs.
constexpr bool IsOwnBehaviour(Reason r) {
  const Family f = Signal(r).family;
  return f == Family::kHarvest || f == Family::kAutomation || f == Family::kYouth;
}
std::optional<Reason> ReasonByName(std::string_view name);
// Appends the names of the reasons in m as a JSON array (["a","b"]), in
// Reason order. O(kReasonCount).
void AppendReasonNames(std::string& out, ReasonMask m);
// Own-behaviour signals come first: Reasons below this are what
// ScoreAccount measures (checked below).
inline constexpr size_t kOwnSignals = static_cast<size_t>(Reason::kCampaignMember);

// Kinds of shared value that can tie accounts to one operator.
enum class IndicatorKind : uint8_t {
  kPayment, kIpPrefix, kSystemPrompt, kPromptTemplate, kPromptFrame, kToolset, kClient,
  kCreationBurst, kEmailDomain,
  kBehaviour,  // client configuration used repeatedly for one kind of task
  kSchedule,   // activity concentrated in the same minutes of every hour
  kOrg,        // an organisation id that is not verified (a verified one is one customer)
  kCount
};
inline constexpr size_t kIndicatorKinds = static_cast<size_t>(IndicatorKind::kCount);

enum class IndicatorClass : uint8_t {
  kInfrastructure,  // what the operator pays for or the platform records: cards, address blocks, sign-up waves, orgs
  kContent,         // prompt content: shared by anyone drawing on the same public prompts
  kClient,          // client configuration and tools
  kTiming,          // when it runs
  // What the account says it is: its mail domain, chosen freely at sign-up
  // -- a free webmail provider's, shared by millions, or a custom domain
  // for the price of a name. It adds its evidence (weighed by its base
  // rate, as client values are) and counts as shared infrastructure only
  // while it is private to suspicious accounts (PrivateIdentity in
  // correlate/links.cc): before, a privacy-webmail domain a hydra's heads
  // also used made a heavy scripter's link to them "infrastructure" at its
  // third request, early in the log when the domain's base rate was still
  // unknown, and blocked it (holdout seeds 26 and 28, full fields).
  kIdentity,
};

struct IndicatorSpec {
  IndicatorKind kind;
  std::string_view name;
  Reason reason;        // what a link on this kind is reported as
  double weight;        // default link weight (policy [links])
  double min_support;   // suspicious accounts on a value before it counts in full
  IndicatorClass cls;
};

// min_support: a creation "burst" is many accounts made together, not two
// that happen to share a two-hour window; an e-mail domain and a schedule
// likewise.
inline constexpr std::array<IndicatorSpec, kIndicatorKinds> kIndicatorSpecs = {{
    {IndicatorKind::kPayment, "payment", Reason::kSharedPayment, 1.0, 1, IndicatorClass::kInfrastructure},
    {IndicatorKind::kIpPrefix, "ip_prefix", Reason::kSharedIpPrefix, 0.6, 1, IndicatorClass::kInfrastructure},
    {IndicatorKind::kSystemPrompt, "system_prompt", Reason::kSharedSystemPrompt, 0.5, 1, IndicatorClass::kContent},
    {IndicatorKind::kPromptTemplate, "prompt_template", Reason::kSharedPromptTemplate, 0.6, 1, IndicatorClass::kContent},
    {IndicatorKind::kPromptFrame, "prompt_frame", Reason::kSharedPromptFrame, 0.5, 1, IndicatorClass::kContent},
    {IndicatorKind::kToolset, "toolset", Reason::kSharedToolset, 0.4, 1, IndicatorClass::kClient},
    {IndicatorKind::kClient, "client", Reason::kSharedClient, 0.5, 1, IndicatorClass::kClient},
    {IndicatorKind::kCreationBurst, "creation_burst", Reason::kSharedCreationBurst, 0.4, 10, IndicatorClass::kInfrastructure},
    {IndicatorKind::kEmailDomain, "email_domain", Reason::kSharedEmailDomain, 0.3, 5, IndicatorClass::kIdentity},
    {IndicatorKind::kBehaviour, "behaviour", Reason::kSharedBehaviour, 0.5, 1, IndicatorClass::kClient},
    {IndicatorKind::kSchedule, "schedule", Reason::kSharedSchedule, 0.4, 5, IndicatorClass::kTiming},
    {IndicatorKind::kOrg, "org", Reason::kSharedOrg, 1.2, 5, IndicatorClass::kInfrastructure},
}};

constexpr const IndicatorSpec& Spec(IndicatorKind k) { return kIndicatorSpecs[static_cast<size_t>(k)]; }
constexpr std::string_view IndicatorKindName(IndicatorKind k) { return Spec(k).name; }
constexpr Reason LinkReason(IndicatorKind k) { return Spec(k).reason; }
constexpr bool IsInfrastructure(IndicatorKind k) { return Spec(k).cls == IndicatorClass::kInfrastructure; }
constexpr bool IsContent(IndicatorKind k) { return Spec(k).cls == IndicatorClass::kContent; }
std::optional<IndicatorKind> IndicatorKindByName(std::string_view name);
// Reason bits of every indicator kind's link reason.
constexpr ReasonMask LinkReasonMask() {
  ReasonMask m = 0;
  for (const auto& s : kIndicatorSpecs) m |= Bit(s.reason);
  return m;
}

// Reason bits of the infrastructure kinds' link reasons.
constexpr ReasonMask InfrastructureLinkMask() {
  ReasonMask m = 0;
  for (const auto& s : kIndicatorSpecs) {
    if (s.cls == IndicatorClass::kInfrastructure) m |= Bit(s.reason);
  }
  return m;
}

namespace signals_check {
constexpr bool TablesInOrder() {
  for (size_t i = 0; i < kReasonCount; ++i) {
    if (static_cast<size_t>(kSignals[i].reason) != i || kSignals[i].name.empty()) return false;
    if (!IsOwnBehaviour(kSignals[i].reason) && kSignals[i].weight != 0) return false;
    if (IsOwnBehaviour(kSignals[i].reason) != (i < kOwnSignals)) return false;
  }
  for (size_t i = 0; i < kIndicatorKinds; ++i) {
    const auto& s = kIndicatorSpecs[i];
    if (static_cast<size_t>(s.kind) != i || s.name.empty() || s.min_support < 1) return false;
    if (Signal(s.reason).family != Family::kCoordination) return false;
  }
  return true;
}
constexpr bool NamesUnique() {
  for (size_t i = 0; i < kReasonCount; ++i) {
    for (size_t j = i + 1; j < kReasonCount; ++j) {
      if (kSignals[i].name == kSignals[j].name) return false;
    }
  }
  for (size_t i = 0; i < kIndicatorKinds; ++i) {
    for (size_t j = i + 1; j < kIndicatorKinds; ++j) {
      if (kIndicatorSpecs[i].name == kIndicatorSpecs[j].name || kIndicatorSpecs[i].reason == kIndicatorSpecs[j].reason) return false;
    }
  }
  return true;
}
}  // namespace signals_check
static_assert(signals_check::TablesInOrder(), "a signal or indicator-kind row is out of enum order, unnamed or misclassified");
static_assert(signals_check::NamesUnique(), "two signals or indicator kinds share a name or a reason");

}  // namespace dg
