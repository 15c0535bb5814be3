// Parsing of serve's small JSON request bodies (/v1/check, overrides),
// apart from the HTTP layer so that the fuzzers reach them directly.
// Every field is optional unless said; a present field of the wrong type is
// an error naming the field. O(body size).
#pragma once

#include <string>
#include <string_view>

#include "engine/engine.h"

namespace dg {

// /v1/check: account_id (required), api_key_id, ip, user_agent,
// payment_fingerprint, model, prompt (read for its lexicon flags only).
bool ParseCheckBody(std::string_view body, CheckRequest* out, std::string* error);

struct OverrideBody {
  std::string action, by, reason;
};
// /v1/accounts/{id}/override: action, by and reason (by and reason required).
bool ParseOverrideBody(std::string_view body, OverrideBody* out, std::string* error);

}  // namespace dg
