#include "ingest/interaction.h"

namespace dg {

// A field added to Interaction changes its size: reset it in Clear (below)
// and update this figure.
static_assert(sizeof(void*) != 8 || sizeof(Interaction) == 632, "a new Interaction field: reset it in Interaction::Clear");

void Interaction::Clear(size_t max_kept_bytes) {
  const auto clear = [max_kept_bytes](std::string& s) {
    if (s.capacity() > max_kept_bytes) {
      std::string().swap(s);
    } else {
      s.clear();
    }
  };
  ts = 0;
  clear(request_id);
  clear(account_id);
  clear(org_id);
  clear(api_key_id);
  clear(ip);
  clear(user_agent);
  clear(payment_fingerprint);
  account_created_at = kNoTime;
  clear(email_domain);
  clear(country);
  clear(verification);
  org_verified = -1;
  clear(model);
  clear(system);
  constexpr size_t kMaxKeptItems = 1024;  // of messages and tool names
  if (messages.capacity() > kMaxKeptItems) {
    std::vector<Message>().swap(messages);
  } else {
    messages.clear();
  }
  if (tool_names.capacity() > kMaxKeptItems) {
    std::vector<std::string>().swap(tool_names);
  } else {
    tool_names.clear();
  }
  tools_hash = 0;
  max_tokens = -1;
  temperature = std::numeric_limits<double>::quiet_NaN();
  clear(conversation_id);
  has_response = false;
  clear(response_text);
  clear(stop_reason);
  input_tokens = -1;
  output_tokens = -1;
  reasoning_tokens = -1;
  source_index = 0;
  line = 0;
  seq = 0;
}

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
