// The in-memory event model: one LLM API interaction as SCHEMA.md defines it,
// parsed once by ingest and consumed by every later stage without re-parsing
// text. Both record shapes (canonical and OpenAI) arrive here identical.
//
// Cost: one object per interaction in flight (strings owned; typically
// 1-10 KB with prompt text). The engine keeps only fingerprints and features
// derived from it, never the object itself.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/time.h"

namespace dg {

inline constexpr TimeMs kNoTime = std::numeric_limits<TimeMs>::min();

enum class Role : uint8_t { kUser, kAssistant };

struct Message {
  Role role = Role::kUser;
  std::string text;             // text blocks concatenated with '\n'
  uint16_t tool_use_blocks = 0;
  uint16_t tool_result_blocks = 0;
  uint16_t other_blocks = 0;    // images and other opaque blocks
};

struct Interaction {
  TimeMs ts = 0;
  std::string request_id;
  std::string account_id;
  std::string org_id;
  std::string api_key_id;
  std::string ip;
  std::string user_agent;
  std::string payment_fingerprint;
  TimeMs account_created_at = kNoTime;
  std::string email_domain;
  // From account enrichment (ingest/accounts.h), never from a gateway log.
  std::string country;        // verified country (ISO 3166 alpha-2 as given)
  std::string verification;   // the provider's verification level, as given
  int8_t org_verified = -1;   // -1 unknown, 0 no, 1 yes: whether org_id is a verified organisation
  std::string model;
  std::string system;
  std::vector<Message> messages;  // user and assistant turns, in order
  std::vector<std::string> tool_names;
  uint64_t tools_hash = 0;        // over names, descriptions and schemas; 0 = no tools
  int64_t max_tokens = -1;        // -1 = not given
  double temperature = std::numeric_limits<double>::quiet_NaN();
  std::string conversation_id;
  // Response (optional).
  bool has_response = false;
  std::string response_text;
  std::string stop_reason;
  int64_t input_tokens = -1;
  int64_t output_tokens = -1;
  int64_t reasoning_tokens = -1;
  // Where it came from, for messages.
  uint32_t source_index = 0;
  uint64_t line = 0;
  uint64_t seq = 0;  // arrival order, breaks timestamp ties

  // Back to a default-constructed Interaction, keeping the buffers of its
  // strings (and of the messages vector) so a parser refilling it does not
  // allocate; a string over `max_kept_bytes` of capacity is freed instead.
  // Every field must be reset here: interaction.cc checks the layout, so a
  // new field fails the build until Clear knows it.
  void Clear(size_t max_kept_bytes);

  // The last user turn's text, or empty.
  const std::string& LastUserText() const;
  // Number of assistant turns already in the conversation sent.
  int PriorAssistantTurns() const;
};

}  // namespace dg
