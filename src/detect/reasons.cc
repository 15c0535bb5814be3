#include "detect/reasons.h"

#include <array>

namespace dg {

std::string_view ReasonName(Reason r) {
  static constexpr std::array<std::string_view, kReasonCount> kNames = {
      "cot_elicitation", "reasoning_reconstruction", "rubric_grading", "data_generation", "single_turn",
      "fixed_sampling", "template_concentration", "round_the_clock", "machine_pacing", "high_volume",
      "young_account", "max_output_cap", "campaign_member", "campaign_indicator_match", "shared_payment",
      "shared_ip_prefix", "shared_system_prompt", "shared_template", "shared_prompt_frame", "shared_toolset",
      "shared_client", "creation_burst", "shared_email_domain", "shared_behaviour", "synchronized_burst", "allowlisted",
      "analyst_override", "shared_indicator"};
  return kNames[static_cast<size_t>(r)];
}

}  // namespace dg
