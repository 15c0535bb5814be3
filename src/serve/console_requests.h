// Parsing of the analyst console's request bodies and query strings, apart
// from the HTTP layer so that unit tests and the fuzzer (fuzz/fuzz_console.cc)
// reach them directly. Bodies are small JSON objects (at most the small-body
// limit, 64 KiB); every text field is bounded (kMaxText) and must be valid
// UTF-8 without control characters other than newline and tab, so what is
// stored and shown back is text. A present field of the wrong type, an
// unknown value or a missing required field is an error naming the field
// (InvalidArgument "field 'F': why"; HTTP 400 by common/status.h).
// O(body size).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "serve/console_store.h"

namespace dg {

inline constexpr size_t kMaxText = 4000;    // reasons, notes, outcomes
inline constexpr size_t kMaxShort = 200;    // titles, assignees, ids

// POST /ui/api/login: {"token": "..."}.
absl::Status ParseLoginBody(std::string_view body, std::string* token);

// POST /v1/review/{account} and /v1/console/accounts/{id}/override:
// {"action": ..., "reason": "..."} -- reason required (non-blank).
// allowed: the actions this route takes ("allow|block|escalate" or "allow|block|clear").
struct ActionBody {
  std::string action, reason;
};
absl::Status ParseActionBody(std::string_view body, std::string_view allowed, ActionBody* out);

// POST /v1/cases: {"subject_kind": "campaign"|"account", "subject_id", "title"?, "assignee"?, "note"?}.
struct CaseCreateBody {
  std::string subject_kind, subject_id, title, assignee, note;
};
absl::Status ParseCaseCreateBody(std::string_view body, CaseCreateBody* out);

// PATCH /v1/cases/{id}: any of {"status", "assignee", "outcome", "title", "note"}; at least one.
// A status of false_positive or confirmed needs an outcome or a note (why).
struct CasePatchBody {
  std::optional<std::string> status, assignee, outcome, title, note;
};
absl::Status ParseCasePatchBody(std::string_view body, CasePatchBody* out);

// POST /v1/cases/{id}/notes: {"text": "..."} (required).
absl::Status ParseNoteBody(std::string_view body, std::string* text);

// GET /v1/decisions?account=&campaign=&decision=&since=&until=&before=&limit=
// since/until: RFC 3339 or milliseconds since the epoch; limit 1..1000
// (default 200); before: a row id, for paging. Values percent-decoded
// ('+' is a space).
absl::Status ParseDecisionQuery(std::string_view query, DecisionQuery* out);

// One query-string parameter, percent-decoded, or nullopt (first match).
std::optional<std::string> QueryParam(std::string_view query, std::string_view key);

// "case-12" -> 12 (also "12"); nullopt for anything else.
std::optional<int64_t> ParseCaseId(std::string_view id);

}  // namespace dg
