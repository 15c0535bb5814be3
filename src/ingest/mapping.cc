#include "common/toml_int.h"
#include "ingest/mapping.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace dg {
namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "ts", "request_id", "account_id", "org_id", "api_key_id", "ip", "user_agent",
    "payment_fingerprint", "account_created_at", "email_domain", "model", "system", "messages",
    "tools", "max_tokens", "temperature", "conversation_id", "response_content", "stop_reason",
    "input_tokens", "output_tokens", "reasoning_tokens"};

void Set(FieldMapping& m, Field f, std::vector<std::string> ptrs) { m.pointers[static_cast<size_t>(f)] = std::move(ptrs); }

// LiteLLM StandardLoggingPayload, as written by its logging callbacks
// (docs.litellm.ai/docs/proxy/logging_spec): id, startTime (epoch seconds),
// model, messages, response (OpenAI chat completion), metadata.user_api_key_*
// and requester_ip_address, end_user, model_parameters.
FieldMapping LiteLlm() {
  FieldMapping m = FieldMapping::Canonical();
  m.name = "litellm";
  Set(m, Field::kTs, {"/startTime"});
  Set(m, Field::kRequestId, {"/id"});
  Set(m, Field::kAccountId, {"/metadata/user_api_key_user_id", "/end_user", "/metadata/user_api_key_team_id"});
  Set(m, Field::kOrgId, {"/metadata/user_api_key_team_id", "/metadata/user_api_key_org_id"});
  Set(m, Field::kApiKeyId, {"/metadata/user_api_key_hash"});
  Set(m, Field::kIp, {"/metadata/requester_ip_address"});
  Set(m, Field::kUserAgent, {"/metadata/user_agent", "/metadata/requester_metadata/user_agent"});
  Set(m, Field::kModel, {"/model"});
  Set(m, Field::kMessages, {"/messages"});
  Set(m, Field::kMaxTokens, {"/model_parameters/max_tokens", "/model_parameters/max_completion_tokens"});
  Set(m, Field::kTemperature, {"/model_parameters/temperature"});
  Set(m, Field::kResponseContent, {"/response/choices/0/message/content"});
  Set(m, Field::kStopReason, {"/response/choices/0/finish_reason"});
  Set(m, Field::kInputTokens, {"/prompt_tokens", "/response/usage/prompt_tokens"});
  Set(m, Field::kOutputTokens, {"/completion_tokens", "/response/usage/completion_tokens"});
  Set(m, Field::kConversationId, {"/trace_id"});
  return m;
}

// OpenAI Batch API output file lines
// (platform.openai.com/docs/guides/batch): {"id","custom_id","response":
// {"status_code","request_id","body":{chat completion}},"error"}. Output
// lines carry neither the prompt nor the account, so messages are optional
// and the account defaults to the batch owner ("batch-owner" unless the
// mapping or --default-account sets it).
FieldMapping OpenAiBatch() {
  FieldMapping m = FieldMapping::Canonical();
  m.name = "openai-batch";
  Set(m, Field::kTs, {"/response/body/created"});
  Set(m, Field::kRequestId, {"/response/request_id", "/id", "/custom_id"});
  Set(m, Field::kAccountId, {"/account_id", "/response/body/user"});
  m.defaults[static_cast<size_t>(Field::kAccountId)] = "batch-owner";
  Set(m, Field::kModel, {"/response/body/model"});
  Set(m, Field::kMessages, {"/request/body/messages", "/body/messages"});
  Set(m, Field::kResponseContent, {"/response/body/choices/0/message/content"});
  Set(m, Field::kStopReason, {"/response/body/choices/0/finish_reason"});
  Set(m, Field::kInputTokens, {"/response/body/usage/prompt_tokens"});
  Set(m, Field::kOutputTokens, {"/response/body/usage/completion_tokens"});
  Set(m, Field::kReasoningTokens, {"/response/body/usage/completion_tokens_details/reasoning_tokens"});
  Set(m, Field::kConversationId, {"/custom_id"});
  m.messages_required = false;
  return m;
}

}  // namespace

std::string_view FieldName(Field f) { return kFieldNames[static_cast<size_t>(f)]; }

std::optional<Field> FieldFromName(std::string_view name) {
  for (size_t idx = 0; idx < kFieldCount; ++idx) {
    if (kFieldNames[idx] == name) return static_cast<Field>(idx);
  }
  return std::nullopt;
}

FieldMapping FieldMapping::Canonical() {
  FieldMapping m;
  for (size_t idx = 0; idx < kFieldCount; ++idx) m.pointers[idx] = {"/" + std::string(kFieldNames[idx])};
  Set(m, Field::kAccountId, {"/account_id", "/user"});
  Set(m, Field::kResponseContent, {"/response/content", "/choices/0/message/content"});
  Set(m, Field::kStopReason, {"/response/stop_reason", "/choices/0/finish_reason"});
  Set(m, Field::kInputTokens, {"/response/input_tokens", "/usage/prompt_tokens"});
  Set(m, Field::kOutputTokens, {"/response/output_tokens", "/usage/completion_tokens"});
  Set(m, Field::kReasoningTokens, {"/response/reasoning_tokens", "/usage/completion_tokens_details/reasoning_tokens"});
  Set(m, Field::kMaxTokens, {"/max_tokens", "/max_completion_tokens"});
  return m;
}

std::optional<FieldMapping> FieldMapping::Preset(std::string_view name) {
  if (name == "canonical") return Canonical();
  if (name == "litellm") return LiteLlm();
  if (name == "openai-batch") return OpenAiBatch();
  return std::nullopt;
}

std::optional<FieldMapping> FieldMapping::FromToml(std::string_view text, const std::string& origin,
                                                   std::string* error) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    *error = fmt::format("{}:{}: {}", origin, err.source().begin.line, err.description());
    return std::nullopt;
  }
  auto fail = [&](const toml::node& node, std::string_view key, std::string_view why) {
    *error = fmt::format("{}:{}: key '{}': {}", origin, node.source().begin.line, key, why);
    return std::nullopt;
  };
  FieldMapping m = Canonical();
  for (const auto& [key, node] : root) {
    const std::string_view k = key.str();
    if (k == "version") {
      if (TomlInteger(node) != 1) return fail(node, k, "unsupported mapping version (expected 1)");
    } else if (k == "name") {
      if (!node.is_string()) return fail(node, k, "must be a string");
      m.name = *node.value<std::string>();
    } else if (k == "fields") {
      const auto* tbl = node.as_table();
      if (tbl == nullptr) return fail(node, k, "must be a table");
      for (const auto& [fkey, fnode] : *tbl) {
        const auto field = FieldFromName(fkey.str());
        const std::string full = "fields." + std::string(fkey.str());
        if (!field) return fail(fnode, full, "unknown field (see SCHEMA.md for field names)");
        std::vector<std::string> ptrs;
        if (fnode.is_string()) {
          ptrs.push_back(*fnode.value<std::string>());
        } else if (const auto* arr = fnode.as_array()) {
          for (const auto& el : *arr) {
            if (!el.is_string()) return fail(el, full, "pointer list must hold strings");
            ptrs.push_back(*el.value<std::string>());
          }
        } else {
          return fail(fnode, full, "must be a JSON pointer string or a list of them");
        }
        for (const auto& p : ptrs) {
          if (!p.empty() && p[0] != '/') return fail(fnode, full, fmt::format("'{}' is not a JSON pointer (must start with '/')", p));
        }
        m.pointers[static_cast<size_t>(*field)] = std::move(ptrs);
      }
    } else if (k == "defaults") {
      const auto* tbl = node.as_table();
      if (tbl == nullptr) return fail(node, k, "must be a table");
      for (const auto& [fkey, fnode] : *tbl) {
        const auto field = FieldFromName(fkey.str());
        const std::string full = "defaults." + std::string(fkey.str());
        if (!field) return fail(fnode, full, "unknown field");
        if (!fnode.is_string()) return fail(fnode, full, "default must be a string");
        m.defaults[static_cast<size_t>(*field)] = *fnode.value<std::string>();
      }
    } else if (k == "options") {
      const auto* tbl = node.as_table();
      if (tbl == nullptr) return fail(node, k, "must be a table");
      for (const auto& [okey, onode] : *tbl) {
        const std::string full = "options." + std::string(okey.str());
        if (okey.str() == "messages_required") {
          if (!onode.is_boolean()) return fail(onode, full, "must be true or false");
          m.messages_required = *onode.value<bool>();
        } else {
          return fail(onode, full, "unknown option");
        }
      }
    } else {
      return fail(node, k, "unknown key (expected version, name, fields, defaults, options)");
    }
  }
  return m;
}

std::optional<FieldMapping> FieldMapping::Load(const std::string& name_or_path, std::string* error) {
  if (auto preset = Preset(name_or_path)) return preset;
  std::ifstream in(name_or_path);
  if (!in) {
    *error = fmt::format("{}: not a preset (canonical, litellm, openai-batch) and not a readable file", name_or_path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return FromToml(ss.str(), name_or_path, error);
}

}  // namespace dg
