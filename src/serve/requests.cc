#include "serve/requests.h"

#include <fmt/format.h>
#include <simdjson.h>

#include "serve/service.h"

namespace dg {
namespace {

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

absl::Status OptionalString(simdjson::dom::object& obj, const char* key, std::string* out) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return absl::OkStatus();
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("field '{}': must be a string", key));
  }
  out->assign(v);
  return absl::OkStatus();
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

}  // namespace

absl::Status ParseCheckBody(std::string_view body, CheckRequest* out) {
  *out = CheckRequest{};
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body, &obj));
  std::string prompt;
  DG_RETURN_IF_ERROR(OptionalString(obj, "account_id", &out->account_id));
  DG_RETURN_IF_ERROR(OptionalString(obj, "api_key_id", &out->api_key_id));
  DG_RETURN_IF_ERROR(OptionalString(obj, "ip", &out->ip));
  DG_RETURN_IF_ERROR(OptionalString(obj, "user_agent", &out->user_agent));
  DG_RETURN_IF_ERROR(OptionalString(obj, "payment_fingerprint", &out->payment_fingerprint));
  DG_RETURN_IF_ERROR(OptionalString(obj, "model", &out->model));
  DG_RETURN_IF_ERROR(OptionalString(obj, "prompt", &prompt));
  if (out->account_id.empty()) {
    return absl::InvalidArgumentError("field 'account_id': required");
  }
  out->prompt_flags = Service::PromptFlags(prompt);
  return absl::OkStatus();
}

absl::Status ParseOverrideBody(std::string_view body, OverrideBody* out) {
  *out = OverrideBody{};
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body, &obj));
  DG_RETURN_IF_ERROR(OptionalString(obj, "action", &out->action));
  DG_RETURN_IF_ERROR(OptionalString(obj, "by", &out->by));
  DG_RETURN_IF_ERROR(OptionalString(obj, "reason", &out->reason));
  if (out->by.empty()) {
    return absl::InvalidArgumentError("field 'by': required (who decided)");
  }
  if (out->reason.empty()) {
    return absl::InvalidArgumentError("field 'reason': required (why)");
  }
  return absl::OkStatus();
}

absl::Status ParseReloadBody(std::string_view body, OverrideBody* out) {
  *out = OverrideBody{};
  simdjson::dom::object obj;
  DG_RETURN_IF_ERROR(Object(body.empty() ? std::string_view("{}") : body, &obj));
  DG_RETURN_IF_ERROR(OptionalString(obj, "by", &out->by));
  DG_RETURN_IF_ERROR(OptionalString(obj, "reason", &out->reason));
  if (out->by.empty()) {
    return absl::InvalidArgumentError("field 'by': required (who reloads the access rules: it goes into the audit)");
  }
  if (out->by.size() > 256 || out->reason.size() > 4096) {
    return absl::InvalidArgumentError("fields 'by' and 'reason': at most 256 and 4096 bytes");
  }
  return absl::OkStatus();
}

absl::Status ParseAuditQuery(std::string_view query, int64_t* since, size_t* limit) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq), value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    uint64_t v = 0;
    bool ok = !value.empty() && value.size() <= 18;
    for (const char c : value) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (key == "since" && ok) {
      *since = static_cast<int64_t>(v);
    } else if (key == "limit" && ok && v >= 1 && v <= 1000000) {
      *limit = static_cast<size_t>(v);
    } else {
      return absl::InvalidArgumentError(fmt::format("query parameter '{}': expected since=SEQ or limit=1..1000000", key.substr(0, 64)));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseIndicatorsRequest(std::string_view query, std::string_view body, SharedTrust* trust, std::string* bundle) {
  std::optional<SharedTrust> from_query, from_body;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq), value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    if (key != "trust") {
      return absl::InvalidArgumentError(
          fmt::format("query parameter '{}': unknown (expected trust=block or trust=review)", key.substr(0, 64)));
    }
    from_query = SharedTrustByName(value);
    if (!from_query) {
      return absl::InvalidArgumentError("query parameter 'trust': must be block or review");
    }
  }
  bundle->assign(body);
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  simdjson::dom::element inner;
  if (ThreadParser().parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS && doc.get_object().get(obj) == simdjson::SUCCESS &&
      obj.at_key("bundle").get(inner) == simdjson::SUCCESS) {
    simdjson::dom::object bundle_obj;
    if (inner.get_object().get(bundle_obj) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("field 'bundle': must be a STIX bundle object");
    }
    std::string name;
    DG_RETURN_IF_ERROR(OptionalString(obj, "trust", &name));
    if (!name.empty()) {
      from_body = SharedTrustByName(name);
      if (!from_body) {
        return absl::InvalidArgumentError("field 'trust': must be \"block\" or \"review\"");
      }
    }
    bundle->assign(simdjson::minify(inner));
  }
  if (from_query && from_body && *from_query != *from_body) {
    return absl::InvalidArgumentError("trust: the query parameter and the envelope's field differ");
  }
  *trust = from_body.value_or(from_query.value_or(SharedTrust::kReview));
  return absl::OkStatus();
}

}  // namespace dg
