#include "signals/signals.h"

#include "common/json_out.h"

namespace dg {

std::optional<Reason> ReasonByName(std::string_view name) {
  for (const auto& s : kSignals) {
    if (s.name == name) return s.reason;
  }
  return std::nullopt;
}

void AppendReasonNames(std::string& out, ReasonMask m) {
  out += '[';
  bool first = true;
  for (size_t r = 0; r < kReasonCount; ++r) {
    if (!HasReason(m, r)) continue;
    if (!first) out += ',';
    first = false;
    AppendJsonString(out, ReasonName(static_cast<Reason>(r)));
  }
  out += ']';
}

std::optional<IndicatorKind> IndicatorKindByName(std::string_view name) {
  for (const auto& s : kIndicatorSpecs) {
    if (s.name == name) return s.kind;
  }
  return std::nullopt;
}

}  // namespace dg
