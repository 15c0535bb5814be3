// FieldMapping: which JSON pointer (RFC 6901) in a log line holds each field
// of SCHEMA.md, so a platform can feed its own gateway logs unchanged.
//
// Each field has an ordered list of pointers; the first one present in a
// record wins. The built-in "canonical" mapping reads both SCHEMA.md shapes
// (canonical and OpenAI). Presets for LiteLLM's StandardLoggingPayload and
// the OpenAI Batch API output lines ship in config/mappings/ and are also
// compiled in. A mapping file is TOML:
//
//   version = 1
//   name = "my-gateway"
//   [fields]
//   account_id = ["/auth/customer", "/user"]
//   ts = "/time"
//   [defaults]            # used when no pointer matches
//   account_id = "unknown"
//   [options]
//   messages_required = true
//
// Loading validates every key; errors name the file, line and key.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg {

enum class Field : uint8_t {
  kTs, kRequestId, kAccountId, kOrgId, kApiKeyId, kIp, kUserAgent, kPaymentFingerprint,
  kAccountCreatedAt, kEmailDomain, kModel, kSystem, kMessages, kTools, kMaxTokens,
  kTemperature, kConversationId, kResponseContent, kStopReason, kInputTokens,
  kOutputTokens, kReasoningTokens,
  kCount
};
inline constexpr size_t kFieldCount = static_cast<size_t>(Field::kCount);

std::string_view FieldName(Field f);
std::optional<Field> FieldFromName(std::string_view name);

struct FieldMapping {
  std::string name = "canonical";
  std::array<std::vector<std::string>, kFieldCount> pointers;
  std::array<std::optional<std::string>, kFieldCount> defaults;
  bool messages_required = true;

  const std::vector<std::string>& PointersFor(Field f) const { return pointers[static_cast<size_t>(f)]; }
  const std::optional<std::string>& DefaultFor(Field f) const { return defaults[static_cast<size_t>(f)]; }

  // Both SCHEMA.md shapes.
  static FieldMapping Canonical();
  // A built-in preset by name ("canonical", "litellm", "openai-batch").
  static std::optional<FieldMapping> Preset(std::string_view name);
  // Parses TOML text; on error returns nullopt and sets *error to
  // "ORIGIN:LINE: key 'K': reason".
  static std::optional<FieldMapping> FromToml(std::string_view text, const std::string& origin,
                                              std::string* error);
  // A preset name or a path to a TOML file.
  static std::optional<FieldMapping> Load(const std::string& name_or_path, std::string* error);
};

}  // namespace dg
