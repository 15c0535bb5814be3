// FieldMapping: which JSON pointer (RFC 6901) in a log line holds each field
// of SCHEMA.md, and how to turn what it finds into that field, so a platform
// can feed its own gateway logs unchanged.
//
// Each field has an ordered list of pointers; the first one present in a
// record with a non-empty value (not null, "", [] or {}) wins. The built-in
// "canonical" mapping reads both SCHEMA.md shapes (canonical and OpenAI).
// Presets (config/mappings/*.toml, compiled in from those files) cover the
// shapes gateways write: see docs/LOGS.md. A mapping file is TOML:
//
//   version = 1
//   name = "my-gateway"
//   [fields]
//   account_id = ["/auth/customer", "/user"]     # pointers, first non-empty wins
//   ts = { from = "/started_at", epoch = "ms" }  # epoch s | ms | us | ns | auto
//   ip = { from = "/headers/x-forwarded-for", transforms = ["first_of_list", "strip_port"] }
//   messages = { from = "/request/body", json = "/messages" }  # JSON inside a string (or a list of pointers)
//   max_tokens = { from = "/params/max_tokens", transforms = ["to_number"] }
//   system = { from = "/system", transforms = ["text"] }      # content blocks to text
//   org_id = { value = "acme" }                  # a constant
//   [fields.account_created_at]
//   from = "/created"
//   tz = "+02:00"                                # naive date-times are in this offset,
//                                                # or an IANA zone: tz = "America/New_York" (DST:
//                                                # common/time_zone.h; resolved once, at load)
//   [defaults]            # used when no pointer matches
//   account_id = "unknown"
//   [filter]              # only records whose value at `field` is in `in`
//   field = "/call_type"  # (or not in `not_in`); the others are counted as filtered
//   in = ["completion", "acompletion"]
//   [options]
//   messages_required = true
//
// Loading validates every key; errors name the file, line and key.
//
// Cost: one pass over a record's top-level keys, then a field with only
// pointers costs a slot lookup per pointer tried, plus the path below the
// first segment (the canonical path does nothing more). A transform costs
// O(value length); `json` parses the embedded JSON once per record and
// source string (memory: one more simdjson buffer, sized to that string).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/time_zone.h"

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

// Per-field transforms, applied in this order after the value is found.
enum Transform : uint16_t {
  kTransformFirstOfList = 1 << 0,  // "a, b" -> "a"; [a, b] -> a
  kTransformStripPort = 1 << 1,    // "1.2.3.4:80" -> "1.2.3.4"; "[::1]:80" -> "::1"
  kTransformText = 1 << 2,         // content blocks / message items -> their text
  kTransformToNumber = 1 << 3,     // "256" -> 256
};

enum class EpochUnit : uint8_t { kSeconds, kMillis, kMicros, kNanos, kAuto };

// What a field needs beyond its pointer list. Default-constructed = plain.
struct FieldRule {
  uint16_t transforms = 0;              // Transform bits
  std::optional<std::string> constant;  // the field is always this
  bool json_in_string = false;          // the value found is a string holding JSON ...
  std::vector<std::string> json_pointers;  // ... and the field is at the first of these non-empty in it ("" = all of it)
  EpochUnit epoch = EpochUnit::kSeconds;  // unit of numeric (and all-digit string) timestamps
  std::optional<std::string> tz;        // "+02:00" or "America/New_York": zone of date-times that carry no offset
  const TimeZone* zone = nullptr;       // resolved when tz is a zone name (at load, never per record)
  bool Plain() const {
    return transforms == 0 && !constant && !json_in_string && epoch == EpochUnit::kSeconds && !tz;
  }
  bool operator==(const FieldRule&) const = default;
};

// Which records a mapping keeps: those whose value at `pointer` (a string,
// or a number compared as its decimal text) is in `in` (when `in` is not
// empty; a record without the value is then dropped) and not in `not_in`.
struct RecordFilter {
  std::string pointer;
  std::vector<std::string> in;
  std::vector<std::string> not_in;
  bool Active() const { return !pointer.empty(); }
  bool operator==(const RecordFilter&) const = default;
};

struct FieldMapping {
  std::string name = "canonical";
  std::array<std::vector<std::string>, kFieldCount> pointers;
  std::array<std::optional<std::string>, kFieldCount> defaults;
  std::array<FieldRule, kFieldCount> rules;
  RecordFilter filter;
  bool messages_required = true;
  bool dash_is_empty = false;  // options.dash_is_empty: "-" (Envoy, nginx) means absent

  const FieldRule& RuleFor(Field f) const { return rules[static_cast<size_t>(f)]; }
  // Names of the presets, for help texts and errors.
  static std::vector<std::string> PresetNames();

  const std::vector<std::string>& PointersFor(Field f) const { return pointers[static_cast<size_t>(f)]; }
  const std::optional<std::string>& DefaultFor(Field f) const { return defaults[static_cast<size_t>(f)]; }

  // Both SCHEMA.md shapes.
  static FieldMapping Canonical();
  // A built-in preset by name ("canonical" or a config/mappings/*.toml
  // name, e.g. "litellm", "anthropic-messages").
  static std::optional<FieldMapping> Preset(std::string_view name);
  // Parses TOML text; on error InvalidArgument "ORIGIN:LINE: key 'K': reason".
  static absl::StatusOr<FieldMapping> FromToml(std::string_view text, const std::string& origin);
  // A preset name or a path to a TOML file (NotFound when it is neither).
  static absl::StatusOr<FieldMapping> Load(const std::string& name_or_path);
};

}  // namespace dg
