#include "signals/signals.h"

namespace dg {

std::optional<Reason> ReasonByName(std::string_view name) {
  for (const auto& s : kSignals) {
    if (s.name == name) return s.reason;
  }
  return std::nullopt;
}

std::optional<IndicatorKind> IndicatorKindByName(std::string_view name) {
  for (const auto& s : kIndicatorSpecs) {
    if (s.name == name) return s.kind;
  }
  return std::nullopt;
}

}  // namespace dg
