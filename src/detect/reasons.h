// The named reasons a verdict can carry. Each has a reason to exist in the
// attack playbook (see docs/ARCHITECTURE.md, "Signals"); an analyst sees the
// names in accounts.jsonl with the values behind them.
#pragma once

#include <cstdint>
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
  // coordination
  kCampaignMember,
  kCampaignIndicatorMatch,
  kSharedPayment,
  kSharedIpPrefix,
  kSharedSystemPrompt,
  kSharedTemplate,
  kSharedPromptFrame,
  kSharedToolset,
  kSharedClient,
  kCreationBurst,
  kSharedEmailDomain,
  kSharedBehaviour,
  kSynchronizedBurst,
  kAllowlisted,
  kAnalystOverride,      // a person allowed or blocked the account
  kSharedIndicator,      // matches an indicator shared by another provider (STIX import)
  kCount
};
inline constexpr size_t kReasonCount = static_cast<size_t>(Reason::kCount);
static_assert(kReasonCount <= 32, "reasons are kept in a 32-bit mask");

std::string_view ReasonName(Reason r);
inline constexpr uint32_t Bit(Reason r) { return 1u << static_cast<uint32_t>(r); }

}  // namespace dg
