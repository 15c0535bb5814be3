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

bool Object(std::string_view body, simdjson::dom::object* obj, std::string* error) {
  simdjson::dom::element doc;
  if (ThreadParser().parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    *error = "body is not valid JSON";
    return false;
  }
  if (doc.get_object().get(*obj) != simdjson::SUCCESS) {
    *error = "body must be a JSON object";
    return false;
  }
  return true;
}

// Text a person wrote: no control characters but newline and tab (simdjson
// has already checked the UTF-8), at most max bytes.
bool CleanText(const char* key, std::string_view v, size_t max, std::string* error) {
  if (v.size() > max) {
    *error = fmt::format("field '{}': longer than {} bytes", key, max);
    return false;
  }
  for (const char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n' && c != '\t') || u == 0x7f) {
      *error = fmt::format("field '{}': control characters are not allowed", key);
      return false;
    }
  }
  return true;
}

// nullopt in *out when absent or null.
bool Field(simdjson::dom::object& obj, const char* key, size_t max, std::optional<std::string>* out, std::string* error) {
  simdjson::dom::element e;
  out->reset();
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return true;
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) {
    *error = fmt::format("field '{}': must be a string", key);
    return false;
  }
  if (!CleanText(key, v, max, error)) return false;
  out->emplace(v);
  return true;
}

bool Field(simdjson::dom::object& obj, const char* key, size_t max, std::string* out, std::string* error) {
  std::optional<std::string> v;
  if (!Field(obj, key, max, &v, error)) return false;
  *out = v.value_or("");
  return true;
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

bool ParseLoginBody(std::string_view body, std::string* token, std::string* error) {
  simdjson::dom::object obj;
  if (!Object(body, &obj, error)) return false;
  if (!Field(obj, "token", 1024, token, error)) return false;
  if (token->empty()) {
    *error = "field 'token': required";
    return false;
  }
  return true;
}

bool ParseActionBody(std::string_view body, std::string_view allowed, ActionBody* out, std::string* error) {
  *out = ActionBody{};
  simdjson::dom::object obj;
  if (!Object(body, &obj, error)) return false;
  if (!Field(obj, "action", kMaxShort, &out->action, error) || !Field(obj, "reason", kMaxText, &out->reason, error)) return false;
  if (!OneOf(out->action, allowed)) {
    *error = fmt::format("field 'action': must be one of {}", allowed);
    return false;
  }
  if (Blank(out->reason)) {
    *error = "field 'reason': required (why)";
    return false;
  }
  return true;
}

bool ParseCaseCreateBody(std::string_view body, CaseCreateBody* out, std::string* error) {
  *out = CaseCreateBody{};
  simdjson::dom::object obj;
  if (!Object(body, &obj, error)) return false;
  if (!Field(obj, "subject_kind", kMaxShort, &out->subject_kind, error) || !Field(obj, "subject_id", kMaxShort, &out->subject_id, error) ||
      !Field(obj, "title", kMaxShort, &out->title, error) || !Field(obj, "assignee", kMaxShort, &out->assignee, error) ||
      !Field(obj, "note", kMaxText, &out->note, error)) {
    return false;
  }
  if (out->subject_kind != "campaign" && out->subject_kind != "account") {
    *error = "field 'subject_kind': must be \"campaign\" or \"account\"";
    return false;
  }
  if (Blank(out->subject_id)) {
    *error = "field 'subject_id': required";
    return false;
  }
  return true;
}

bool ParseCasePatchBody(std::string_view body, CasePatchBody* out, std::string* error) {
  *out = CasePatchBody{};
  simdjson::dom::object obj;
  if (!Object(body, &obj, error)) return false;
  if (!Field(obj, "status", kMaxShort, &out->status, error) || !Field(obj, "assignee", kMaxShort, &out->assignee, error) ||
      !Field(obj, "outcome", kMaxText, &out->outcome, error) || !Field(obj, "title", kMaxShort, &out->title, error) ||
      !Field(obj, "note", kMaxText, &out->note, error)) {
    return false;
  }
  if (!out->status && !out->assignee && !out->outcome && !out->title && !out->note) {
    *error = "body: nothing to change (status, assignee, outcome, title or note)";
    return false;
  }
  if (out->status && !IsCaseStatus(*out->status)) {
    *error = "field 'status': must be open, investigating, confirmed, false_positive or closed";
    return false;
  }
  if (out->status && (*out->status == "false_positive" || *out->status == "confirmed") && Blank(out->outcome.value_or("")) &&
      Blank(out->note.value_or(""))) {
    *error = "field 'outcome': required with status " + *out->status + " (why: an outcome or a note)";
    return false;
  }
  return true;
}

bool ParseNoteBody(std::string_view body, std::string* text, std::string* error) {
  simdjson::dom::object obj;
  if (!Object(body, &obj, error)) return false;
  if (!Field(obj, "text", kMaxText, text, error)) return false;
  if (Blank(*text)) {
    *error = "field 'text': required";
    return false;
  }
  return true;
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

bool ParseDecisionQuery(std::string_view query, DecisionQuery* out, std::string* error) {
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
      *error = fmt::format("query parameter '{}': unknown (account, campaign, decision, since, until, before, limit)",
                           Printable(key, 64));
      return false;
    }
  }
  out->account_id = QueryParam(query, "account").value_or("");
  out->campaign_id = QueryParam(query, "campaign").value_or("");
  out->decision = QueryParam(query, "decision").value_or("");
  if (!out->decision.empty() && !OneOf(out->decision, "block|challenge|throttle|withhold_reasoning")) {
    *error = "query parameter 'decision': must be block, challenge, throttle or withhold_reasoning (allows are counted per hour)";
    return false;
  }
  for (const char* key : {"since", "until"}) {
    const auto v = QueryParam(query, key);
    if (!v || v->empty()) continue;
    const auto t = ParseTime(*v);
    if (!t) {
      *error = fmt::format("query parameter '{}': must be RFC 3339 or milliseconds since the epoch", key);
      return false;
    }
    (std::string_view(key) == "since" ? out->since_ms : out->until_ms) = *t;
  }
  if (const auto v = QueryParam(query, "before"); v && !v->empty()) {
    const auto id = ParseInt(*v);
    if (!id || *id < 0) {
      *error = "query parameter 'before': must be a row id";
      return false;
    }
    out->before_id = *id;
  }
  if (const auto v = QueryParam(query, "limit"); v && !v->empty()) {
    const auto n = ParseInt(*v);
    if (!n || *n < 1 || *n > 1000) {
      *error = "query parameter 'limit': must be an integer in [1, 1000]";
      return false;
    }
    out->limit = static_cast<size_t>(*n);
  }
  return true;
}

std::optional<int64_t> ParseCaseId(std::string_view id) {
  if (id.substr(0, 5) == "case-") id.remove_prefix(5);
  if (id.empty() || id.size() > 18) return std::nullopt;
  const auto v = ParseInt(id);
  if (!v || *v <= 0) return std::nullopt;
  return v;
}

}  // namespace dg
