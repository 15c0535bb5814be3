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

bool OptionalString(simdjson::dom::object& obj, const char* key, std::string* out, std::string* error) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return true;
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) {
    *error = fmt::format("field '{}': must be a string", key);
    return false;
  }
  out->assign(v);
  return true;
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

}  // namespace

bool ParseCheckBody(std::string_view body, CheckRequest* out, std::string* error) {
  *out = CheckRequest{};
  simdjson::dom::object obj;
  if (!Object(body, &obj, error)) return false;
  std::string prompt;
  if (!OptionalString(obj, "account_id", &out->account_id, error) || !OptionalString(obj, "api_key_id", &out->api_key_id, error) ||
      !OptionalString(obj, "ip", &out->ip, error) || !OptionalString(obj, "user_agent", &out->user_agent, error) ||
      !OptionalString(obj, "payment_fingerprint", &out->payment_fingerprint, error) ||
      !OptionalString(obj, "model", &out->model, error) || !OptionalString(obj, "prompt", &prompt, error)) {
    return false;
  }
  if (out->account_id.empty()) {
    *error = "field 'account_id': required";
    return false;
  }
  out->prompt_flags = Service::PromptFlags(prompt);
  return true;
}

bool ParseOverrideBody(std::string_view body, OverrideBody* out, std::string* error) {
  *out = OverrideBody{};
  simdjson::dom::object obj;
  if (!Object(body, &obj, error)) return false;
  if (!OptionalString(obj, "action", &out->action, error) || !OptionalString(obj, "by", &out->by, error) ||
      !OptionalString(obj, "reason", &out->reason, error)) {
    return false;
  }
  if (out->by.empty()) {
    *error = "field 'by': required (who decided)";
    return false;
  }
  if (out->reason.empty()) {
    *error = "field 'reason': required (why)";
    return false;
  }
  return true;
}

bool ParseReloadBody(std::string_view body, OverrideBody* out, std::string* error) {
  *out = OverrideBody{};
  simdjson::dom::object obj;
  if (!Object(body.empty() ? std::string_view("{}") : body, &obj, error)) return false;
  if (!OptionalString(obj, "by", &out->by, error) || !OptionalString(obj, "reason", &out->reason, error)) return false;
  if (out->by.empty()) {
    *error = "field 'by': required (who reloads the access rules: it goes into the audit)";
    return false;
  }
  if (out->by.size() > 256 || out->reason.size() > 4096) {
    *error = "fields 'by' and 'reason': at most 256 and 4096 bytes";
    return false;
  }
  return true;
}

bool ParseAuditQuery(std::string_view query, int64_t* since, size_t* limit, std::string* error) {
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
      *error = fmt::format("query parameter '{}': expected since=SEQ or limit=1..1000000", key.substr(0, 64));
      return false;
    }
  }
  return true;
}

bool ParseIndicatorsRequest(std::string_view query, std::string_view body, SharedTrust* trust, std::string* bundle,
                            std::string* error) {
  std::optional<SharedTrust> from_query, from_body;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    const size_t eq = param.find('=');
    const std::string_view key = param.substr(0, eq), value = eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1);
    if (key != "trust") {
      *error = fmt::format("query parameter '{}': unknown (expected trust=block or trust=review)", key.substr(0, 64));
      return false;
    }
    from_query = SharedTrustByName(value);
    if (!from_query) {
      *error = "query parameter 'trust': must be block or review";
      return false;
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
      *error = "field 'bundle': must be a STIX bundle object";
      return false;
    }
    std::string name;
    if (!OptionalString(obj, "trust", &name, error)) return false;
    if (!name.empty()) {
      from_body = SharedTrustByName(name);
      if (!from_body) {
        *error = "field 'trust': must be \"block\" or \"review\"";
        return false;
      }
    }
    bundle->assign(simdjson::minify(inner));
  }
  if (from_query && from_body && *from_query != *from_body) {
    *error = "trust: the query parameter and the envelope's field differ";
    return false;
  }
  *trust = from_body.value_or(from_query.value_or(SharedTrust::kReview));
  return true;
}

}  // namespace dg
