// Parsing of serve's small JSON request bodies (/v1/check, overrides,
// /v1/indicators' trust),
// apart from the HTTP layer so that the fuzzers reach them directly.
// Every field is optional unless said; a present field of the wrong type is
// an error naming the field. Every error is InvalidArgument ("field 'F':
// why", "query parameter 'P': why"; HTTP 400 by common/status.h). O(body
// size).
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/engine.h"

namespace dg {

// /v1/check: account_id (required), api_key_id, ip, user_agent,
// payment_fingerprint, model, prompt (read for its lexicon flags only).
absl::Status ParseCheckBody(std::string_view body, CheckRequest* out);

struct OverrideBody {
  std::string action, by, reason;
};
// /v1/accounts/{id}/override: action, by and reason (by and reason required).
absl::Status ParseOverrideBody(std::string_view body, OverrideBody* out);
// /v1/access/reload: by (required) and reason (optional) into out->by, out->reason.
absl::Status ParseReloadBody(std::string_view body, OverrideBody* out);
// GET /v1/access/audit?since=SEQ&limit=N (both optional; limit 1..1,000,000).
absl::Status ParseAuditQuery(std::string_view query, int64_t* since, size_t* limit);

// POST /v1/indicators: the body is a STIX bundle, or an envelope
// {"trust": "block"|"review", "bundle": {...}}; the trust may also come as
// the query parameter (`?trust=block`). Default: review. Sets *trust and
// *bundle (the bundle's JSON text, or the body as given when it is not an
// envelope: ImportStix reports what is wrong with it). InvalidArgument for
// an unknown trust or query parameter, or a query and envelope that differ.
absl::Status ParseIndicatorsRequest(std::string_view query, std::string_view body, SharedTrust* trust, std::string* bundle);

}  // namespace dg
