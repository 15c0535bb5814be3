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

}  // namespace dg
