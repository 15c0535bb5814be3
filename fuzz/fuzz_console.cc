// libFuzzer: what the analyst console parses from requests (serve/console_requests.h):
// the login, review/override, case and note bodies, the decision-log query
// string, query parameters and case ids. Traps when a parser accepts a text
// field with a control character (other than newline and tab) or over its
// bound, a limit outside [1, 1000], or a case id that is not positive.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "serve/console_requests.h"

namespace {

void CheckText(const std::string& s, size_t max) {
  if (s.size() > max) __builtin_trap();
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) __builtin_trap();
  }
}

void CheckText(const std::optional<std::string>& s, size_t max) {
  if (s) CheckText(*s, max);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string token;
  if (dg::ParseLoginBody(in, &token).ok() && token.empty()) __builtin_trap();
  dg::ActionBody action;
  if (dg::ParseActionBody(in, "allow|block|escalate", &action).ok()) {
    if (action.action != "allow" && action.action != "block" && action.action != "escalate") __builtin_trap();
    CheckText(action.reason, dg::kMaxText);
    if (action.reason.find_first_not_of(" \t\n") == std::string::npos) __builtin_trap();
  }
  dg::CaseCreateBody create;
  if (dg::ParseCaseCreateBody(in, &create).ok()) {
    if (create.subject_kind != "campaign" && create.subject_kind != "account") __builtin_trap();
    CheckText(create.subject_id, dg::kMaxShort);
    CheckText(create.title, dg::kMaxShort);
    CheckText(create.note, dg::kMaxText);
  }
  dg::CasePatchBody patch;
  if (dg::ParseCasePatchBody(in, &patch).ok()) {
    if (patch.status && !dg::IsCaseStatus(*patch.status)) __builtin_trap();
    CheckText(patch.assignee, dg::kMaxShort);
    CheckText(patch.outcome, dg::kMaxText);
    CheckText(patch.note, dg::kMaxText);
  }
  std::string note;
  if (dg::ParseNoteBody(in, &note).ok()) CheckText(note, dg::kMaxText);
  dg::DecisionQuery q;
  if (const absl::Status st = dg::ParseDecisionQuery(in, &q); st.ok()) {
    if (q.limit < 1 || q.limit > 1000 || q.before_id < 0) __builtin_trap();
  } else if (st.message().empty() || st.code() != absl::StatusCode::kInvalidArgument) {
    __builtin_trap();  // a refusal always says why, as bad input (HTTP 400)
  }
  (void)dg::QueryParam(in, "account");
  if (const auto id = dg::ParseCaseId(in); id && *id <= 0) __builtin_trap();
  return 0;
}
