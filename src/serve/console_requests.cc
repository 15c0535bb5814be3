#include "serve/console_requests.h"

#include <charconv>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/time.h"
#include "serve/request_guard.h"

namespace dg {
namespace {

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

absl::Status Object(std::string_view body, simdjson::dom::object* obj) {
  simdjson::dom::element doc;
  if (ThreadParser().parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body is not valid JSON");
  }
  if (doc.get_object().get(*obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body must be a JSON object");
  }
  return absl::OkStatus();
}

// Text a person wrote: no control characters but newline and tab (simdjson
// has already checked the UTF-8), at most max bytes.
absl::Status CleanText(const char* key, std::string_view v, size_t max) {
  if (v.size() > max) {
    return absl::InvalidArgumentError(fmt::format("field '{}': longer than {} bytes", key, max));
  }
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      return absl::InvalidArgumentError(fmt::format("field '{}': control characters are not allowed", key));
    }
  }
  return absl::OkStatus();
}

// nullopt in *out when absent or null.
absl::Status Field(simdjson::dom::object& obj, const char* key, size_t max, std::optional<std::string>* out) {
  simdjson::dom::element e;
  out->reset();
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return absl::OkStatus();
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("field '{}': must be a string", key));
  }
  DG_RETURN_IF_ERROR(CleanText(key, v, max));
  out->emplace(v);
  return absl::OkStatus();
}

absl::Status Field(simdjson::dom::object& obj, const char* key, size_t max, std::string* out) {
  std::optional<std::string> v;
  DG_RETURN_IF_ERROR(Field(obj, key, max, &v));
  *out = v.value_or("");
  return absl::OkStatus();
}

bool Blank(std::string_view s) { return s.find_first_not_of(" \t\n") == std::string_view::npos; }

bool OneOf(std::string_view v, std::string_view allowed) {
  while (!allowed.empty()) {
    const size_t bar = allowed.find('|');
    if (allowed.substr(0, bar) == v) return true;
    if (bar == std::string_view::npos) break;
    allowed.remove_prefix(bar + 1);
  }
  return false;
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseTime(std::string_view s) {
  if (auto ms = ParseInt(s)) return ms;
  return ParseRfc3339(s);
}

}  // namespace

absl::Status ParseLoginBody(std::string_view body, std::string* token) {
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body, &obj));
  DG_RETURN_IF_ERROR(Field(obj, "token", 1024, token));
  if (token->empty()) {
    return absl::InvalidArgumentError("field 'token': required");
  }
  return absl::OkStatus();
}

absl::Status ParseActionBody(std::string_view body, std::string_view allowed, ActionBody* out) {
  *out = ActionBody{};
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body, &obj));
  DG_RETURN_IF_ERROR(Field(obj, "action", kMaxShort, &out->action));
  DG_RETURN_IF_ERROR(Field(obj, "reason", kMaxText, &out->reason));
  if (!OneOf(out->action, allowed)) {
    return absl::InvalidArgumentError(fmt::format("field 'action': must be one of {}", allowed));
  }
  if (Blank(out->reason)) {
    return absl::InvalidArgumentError("field 'reason': required (why)");
  }
  return absl::OkStatus();
}

absl::Status ParseCaseCreateBody(std::string_view body, CaseCreateBody* out) {
  *out = CaseCreateBody{};
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body, &obj));
  DG_RETURN_IF_ERROR(Field(obj, "subject_kind", kMaxShort, &out->subject_kind));
  DG_RETURN_IF_ERROR(Field(obj, "subject_id", kMaxShort, &out->subject_id));
  DG_RETURN_IF_ERROR(Field(obj, "title", kMaxShort, &out->title));
  DG_RETURN_IF_ERROR(Field(obj, "assignee", kMaxShort, &out->assignee));
  DG_RETURN_IF_ERROR(Field(obj, "note", kMaxText, &out->note));
  if (out->subject_kind != "campaign" && out->subject_kind != "account") {
    return absl::InvalidArgumentError("field 'subject_kind': must be \"campaign\" or \"account\"");
  }
  if (Blank(out->subject_id)) {
    return absl::InvalidArgumentError("field 'subject_id': required");
  }
  return absl::OkStatus();
}

absl::Status ParseCasePatchBody(std::string_view body, CasePatchBody* out) {
  *out = CasePatchBody{};
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body, &obj));
  DG_RETURN_IF_ERROR(Field(obj, "status", kMaxShort, &out->status));
  DG_RETURN_IF_ERROR(Field(obj, "assignee", kMaxShort, &out->assignee));
  DG_RETURN_IF_ERROR(Field(obj, "outcome", kMaxText, &out->outcome));
  DG_RETURN_IF_ERROR(Field(obj, "title", kMaxShort, &out->title));
  DG_RETURN_IF_ERROR(Field(obj, "note", kMaxText, &out->note));
  if (!out->status && !out->assignee && !out->outcome && !out->title && !out->note) {
    return absl::InvalidArgumentError("body: nothing to change (status, assignee, outcome, title or note)");
  }
  if (out->status && !IsCaseStatus(*out->status)) {
    return absl::InvalidArgumentError("field 'status': must be open, investigating, confirmed, false_positive or closed");
  }
  if (out->status && (*out->status == "false_positive" || *out->status == "confirmed") && Blank(out->outcome.value_or("")) &&
      Blank(out->note.value_or(""))) {
    return absl::InvalidArgumentError("field 'outcome': required with status " + *out->status + " (why: an outcome or a note)");
  }
  return absl::OkStatus();
}

absl::Status ParseNoteBody(std::string_view body, std::string* text) {
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body, &obj));
  DG_RETURN_IF_ERROR(Field(obj, "text", kMaxText, text));
  if (Blank(*text)) {
    return absl::InvalidArgumentError("field 'text': required");
  }
  return absl::OkStatus();
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = param.find('=');
    if (param.substr(0, eq) != key) continue;
    std::string raw(eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1));
    for (char& c : raw) {
      if (c == '+') c = ' ';
    }
    std::string decoded;
    if (!PercentDecode(raw, &decoded)) return std::nullopt;
    return decoded;
  }
  return std::nullopt;
}

absl::Status ParseDecisionQuery(std::string_view query, DecisionQuery* out) {
  *out = DecisionQuery{};
  // Every parameter must be known (a typo must not silently widen a search).
  std::string_view rest = query;
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string_view param = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (param.empty()) continue;
    const std::string_view key = param.substr(0, param.find('='));
    if (key != "account" && key != "campaign" && key != "decision" && key != "since" && key != "until" && key != "before" &&
        key != "limit") {
      return absl::InvalidArgumentError(fmt::format(
          "query parameter '{}': unknown (account, campaign, decision, since, until, before, limit)", Printable(key, 64)));
    }
  }
  out->account_id = QueryParam(query, "account").value_or("");
  out->campaign_id = QueryParam(query, "campaign").value_or("");
  out->decision = QueryParam(query, "decision").value_or("");
  if (!out->decision.empty() && !OneOf(out->decision, "block|challenge|throttle|withhold_reasoning")) {
    return absl::InvalidArgumentError(
        "query parameter 'decision': must be block, challenge, throttle or withhold_reasoning (allows are counted per hour)");
  }
  for (const char* key : {"since", "until"}) {
    const auto v = QueryParam(query, key);
    if (!v || v->empty()) continue;
    const auto t = ParseTime(*v);
    if (!t) {
      return absl::InvalidArgumentError(fmt::format("query parameter '{}': must be RFC 3339 or milliseconds since the epoch", key));
    }
    (std::string_view(key) == "since" ? out->since_ms : out->until_ms) = *t;
  }
  if (const auto v = QueryParam(query, "before"); v && !v->empty()) {
    const auto id = ParseInt(*v);
    if (!id || *id < 0) {
      return absl::InvalidArgumentError("query parameter 'before': must be a row id");
    }
    out->before_id = *id;
  }
  if (const auto v = QueryParam(query, "limit"); v && !v->empty()) {
    const auto n = ParseInt(*v);
    if (!n || *n < 1 || *n > 1000) {
      return absl::InvalidArgumentError("query parameter 'limit': must be an integer in [1, 1000]");
    }
    out->limit = static_cast<size_t>(*n);
  }
  return absl::OkStatus();
}

std::optional<int64_t> ParseCaseId(std::string_view id) {
  if (id.substr(0, 5) == "case-") id.remove_prefix(5);
  if (id.empty() || id.size() > 18) return std::nullopt;
  const auto v = ParseInt(id);
  if (!v || *v <= 0) return std::nullopt;
  return v;
}

}  // namespace dg
