#include "ingest/interaction.h"

namespace dg {

const std::string& Interaction::LastUserText() const {
  static const std::string kEmpty;
  for (auto it = messages.rbegin(); it != messages.rend(); ++it) {
    if (it->role == Role::kUser && !it->text.empty()) return it->text;
  }
  return kEmpty;
}

int Interaction::PriorAssistantTurns() const {
  int n = 0;
  for (const auto& m : messages) n += (m.role == Role::kAssistant);
  return n;
}

}  // namespace dg
