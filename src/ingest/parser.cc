#include "ingest/parser.h"

#include <arpa/inet.h>

#include <cmath>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/hash.h"
#include "common/json_out.h"
#include "ingest/line_reader.h"

namespace dg {

using simdjson::dom::element;
using simdjson::dom::element_type;

namespace {

constexpr std::array<std::string_view, kRejectCount> kRejectNames = {
    "malformed_json", "not_an_object", "missing_field", "wrong_type",
    "bad_timestamp",  "bad_value",     "line_too_long", "io_error"};

constexpr size_t kMaxShownValue = 60;

// A client-written value quoted in an error message: cut, and with control
// characters and invalid UTF-8 escaped (messages go to stderr and logs).
std::string Shown(std::string_view v) { return LogSafe(v, kMaxShownValue); }

const char* TypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "array";
    case element_type::OBJECT: return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "number";
    case element_type::STRING: return "string";
    case element_type::BOOL: return "boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "value";
}

ParseError Err(Reject r, std::string_view field, std::string detail) {
  return ParseError{r, std::string(field), std::move(detail)};
}

bool IsNumber(element e) {
  const auto t = e.type();
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double AsDouble(element e) {
  switch (e.type()) {
    case element_type::INT64: return static_cast<double>(int64_t(e));
    case element_type::UINT64: return static_cast<double>(uint64_t(e));
    default: return double(e);
  }
}

// Appends the text of a content value (string or array of blocks) to *text
// and counts tool blocks.
std::optional<ParseError> ReadContent(element content, std::string_view field, Message* msg) {
  if (content.type() == element_type::STRING) {
    msg->text.append(std::string_view(content));
    return std::nullopt;
  }
  if (content.type() == element_type::NULL_VALUE) return std::nullopt;
  if (content.type() != element_type::ARRAY) {
    return Err(Reject::kWrongType, field, fmt::format("expected string or array of blocks, got {}", TypeName(content.type())));
  }
  for (element block : simdjson::dom::array(content)) {
    if (block.type() == element_type::STRING) {  // tolerate bare strings in block arrays
      if (!msg->text.empty()) msg->text.push_back('\n');
      msg->text.append(std::string_view(block));
      continue;
    }
    if (block.type() != element_type::OBJECT) {
      return Err(Reject::kWrongType, field, fmt::format("content block must be an object, got {}", TypeName(block.type())));
    }
    std::string_view type;
    if (block["type"].get(type) != simdjson::SUCCESS) {
      ++msg->other_blocks;
      continue;
    }
    if (type == "text" || type == "input_text" || type == "output_text") {
      std::string_view text;
      if (block["text"].get(text) != simdjson::SUCCESS) {
        return Err(Reject::kWrongType, field, "text block without a string 'text'");
      }
      if (!msg->text.empty()) msg->text.push_back('\n');
      msg->text.append(text);
    } else if (type == "tool_use") {
      ++msg->tool_use_blocks;
    } else if (type == "tool_result") {
      ++msg->tool_result_blocks;
      // Tool results often carry text; keep it for content features.
      element inner;
      if (block["content"].get(inner) == simdjson::SUCCESS && inner.type() == element_type::STRING) {
        if (!msg->text.empty()) msg->text.push_back('\n');
        msg->text.append(std::string_view(inner));
      }
    } else {
      ++msg->other_blocks;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view RejectName(Reject r) { return kRejectNames[static_cast<size_t>(r)]; }

std::string ParseError::Message() const {
  if (field.empty()) return fmt::format("{}: {}", RejectName(reason), detail);
  return fmt::format("field '{}': {}: {}", field, RejectName(reason), detail);
}

struct RecordParser::Impl {
  simdjson::dom::parser parser;
  std::string copy;  // padded copy for unpadded input
};

RecordParser::RecordParser(FieldMapping mapping) : mapping_(std::move(mapping)), impl_(std::make_unique<Impl>()) {}
RecordParser::~RecordParser() = default;

std::optional<ParseError> RecordParser::Parse(std::string_view line, bool padded, Interaction* out) {
  *out = Interaction{};
  element doc;
  simdjson::error_code ec;
  if (padded) {
    ec = impl_->parser.parse(line.data(), line.size(), false).get(doc);
  } else {
    ec = impl_->parser.parse(line.data(), line.size(), true).get(doc);
  }
  if (ec != simdjson::SUCCESS) {
    return Err(Reject::kMalformedJson, "", simdjson::error_message(ec));
  }
  if (doc.type() != element_type::OBJECT) {
    return Err(Reject::kNotObject, "", fmt::format("a record must be a JSON object, got {}", TypeName(doc.type())));
  }

  // Finds the first present, non-null pointer for a field.
  auto find = [&](Field f, element* found) -> bool {
    for (const auto& ptr : mapping_.PointersFor(f)) {
      element e;
      if (doc.at_pointer(ptr).get(e) == simdjson::SUCCESS && e.type() != element_type::NULL_VALUE) {
        *found = e;
        return true;
      }
    }
    return false;
  };
  auto read_string = [&](Field f, std::string* dst, bool required) -> std::optional<ParseError> {
    element e;
    if (!find(f, &e)) {
      if (const auto& def = mapping_.DefaultFor(f)) {
        *dst = *def;
        return std::nullopt;
      }
      if (required) return Err(Reject::kMissingField, FieldName(f), "required field is absent");
      return std::nullopt;
    }
    switch (e.type()) {
      case element_type::STRING: dst->assign(std::string_view(e)); break;
      case element_type::INT64: *dst = std::to_string(int64_t(e)); break;
      case element_type::UINT64: *dst = std::to_string(uint64_t(e)); break;
      default:
        return Err(Reject::kWrongType, FieldName(f), fmt::format("expected string, got {}", TypeName(e.type())));
    }
    if (required && dst->empty()) return Err(Reject::kMissingField, FieldName(f), "required field is empty");
    return std::nullopt;
  };
  auto read_time = [&](Field f, TimeMs* dst, bool required) -> std::optional<ParseError> {
    element e;
    if (!find(f, &e)) {
      if (required) return Err(Reject::kMissingField, FieldName(f), "required field is absent");
      return std::nullopt;
    }
    if (e.type() == element_type::STRING) {
      const std::string_view s(e);
      const auto t = ParseRfc3339(s);
      if (!t) return Err(Reject::kBadTimestamp, FieldName(f), fmt::format("'{}' is not an RFC 3339 date-time between 1990 and 2100", Shown(s)));
      *dst = *t;
      return std::nullopt;
    }
    if (IsNumber(e)) {
      const double secs = AsDouble(e);
      const auto t = EpochSecondsToMs(secs);
      if (!t) return Err(Reject::kBadTimestamp, FieldName(f), fmt::format("{} is not epoch seconds between 1990 and 2100", secs));
      *dst = *t;
      return std::nullopt;
    }
    return Err(Reject::kWrongType, FieldName(f), fmt::format("expected RFC 3339 string or epoch seconds, got {}", TypeName(e.type())));
  };

#define DG_TRY(expr) \
  if (auto err_ = (expr)) return err_

  DG_TRY(read_time(Field::kTs, &out->ts, true));
  DG_TRY(read_string(Field::kRequestId, &out->request_id, true));
  DG_TRY(read_string(Field::kAccountId, &out->account_id, true));
  DG_TRY(read_string(Field::kOrgId, &out->org_id, false));
  DG_TRY(read_string(Field::kApiKeyId, &out->api_key_id, false));
  DG_TRY(read_string(Field::kIp, &out->ip, false));
  if (!out->ip.empty()) {
    unsigned char addr[16];
    const bool v6 = out->ip.find(':') != std::string::npos;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, out->ip.c_str(), addr) != 1) {
      return Err(Reject::kBadValue, "ip", fmt::format("'{}' is not an IPv4 or IPv6 address", Shown(out->ip)));
    }
  }
  DG_TRY(read_string(Field::kUserAgent, &out->user_agent, false));
  DG_TRY(read_string(Field::kPaymentFingerprint, &out->payment_fingerprint, false));
  DG_TRY(read_time(Field::kAccountCreatedAt, &out->account_created_at, false));
  DG_TRY(read_string(Field::kEmailDomain, &out->email_domain, false));
  DG_TRY(read_string(Field::kModel, &out->model, false));
  DG_TRY(read_string(Field::kSystem, &out->system, false));
  DG_TRY(read_string(Field::kConversationId, &out->conversation_id, false));

  // messages
  {
    element e;
    if (!find(Field::kMessages, &e)) {
      if (mapping_.messages_required) return Err(Reject::kMissingField, "messages", "required field is absent");
    } else if (e.type() != element_type::ARRAY) {
      return Err(Reject::kWrongType, "messages", fmt::format("expected array, got {}", TypeName(e.type())));
    } else {
      size_t msg_idx = 0;
      for (element m : simdjson::dom::array(e)) {
        const std::string field = fmt::format("messages[{}]", msg_idx++);
        if (m.type() != element_type::OBJECT) {
          return Err(Reject::kWrongType, field, fmt::format("expected object, got {}", TypeName(m.type())));
        }
        std::string_view role;
        if (m["role"].get(role) != simdjson::SUCCESS) {
          return Err(Reject::kMissingField, field + ".role", "each message needs a string role");
        }
        element content;
        const bool has_content = m["content"].get(content) == simdjson::SUCCESS;
        if (role == "system" || role == "developer") {
          Message tmp;
          if (has_content) DG_TRY(ReadContent(content, field + ".content", &tmp));
          if (!out->system.empty()) out->system.push_back('\n');
          out->system += tmp.text;
          continue;
        }
        Message msg;
        if (role == "user") {
          msg.role = Role::kUser;
        } else if (role == "assistant") {
          msg.role = Role::kAssistant;
        } else if (role == "tool" || role == "function") {
          msg.role = Role::kUser;
          msg.tool_result_blocks = 1;
        } else {
          return Err(Reject::kBadValue, field + ".role", fmt::format("unknown role '{}' (expected user, assistant or system)", Shown(role)));
        }
        if (has_content) DG_TRY(ReadContent(content, field + ".content", &msg));
        simdjson::dom::array calls;
        if (m["tool_calls"].get(calls) == simdjson::SUCCESS) msg.tool_use_blocks += static_cast<uint16_t>(std::min<size_t>(calls.size(), 1000));
        out->messages.push_back(std::move(msg));
      }
      if (out->messages.empty() && mapping_.messages_required) {
        return Err(Reject::kBadValue, "messages", "no user or assistant message");
      }
    }
  }
  // tools
  {
    element e;
    if (find(Field::kTools, &e)) {
      if (e.type() != element_type::ARRAY) {
        return Err(Reject::kWrongType, "tools", fmt::format("expected array, got {}", TypeName(e.type())));
      }
      out->tools_hash = Hash64(simdjson::minify(e), 0x7001);
      for (element t : simdjson::dom::array(e)) {
        std::string_view name;
        if (t.type() == element_type::OBJECT &&
            (t["name"].get(name) == simdjson::SUCCESS || t.at_pointer("/function/name").get(name) == simdjson::SUCCESS)) {
          out->tool_names.emplace_back(name);
        }
      }
    }
  }
  // numbers
  {
    element e;
    if (find(Field::kMaxTokens, &e)) {
      if (!IsNumber(e)) return Err(Reject::kWrongType, "max_tokens", fmt::format("expected integer, got {}", TypeName(e.type())));
      const double v = AsDouble(e);
      if (!(v >= 0 && v <= 1e9) || std::floor(v) != v) return Err(Reject::kBadValue, "max_tokens", fmt::format("{} is not an integer in [0, 1e9]", v));
      out->max_tokens = static_cast<int64_t>(v);
    }
    if (find(Field::kTemperature, &e)) {
      if (!IsNumber(e)) return Err(Reject::kWrongType, "temperature", fmt::format("expected number, got {}", TypeName(e.type())));
      const double v = AsDouble(e);
      if (!(v >= 0 && v <= 100)) return Err(Reject::kBadValue, "temperature", fmt::format("{} is out of range [0, 100]", v));
      out->temperature = v;
    }
    auto read_count = [&](Field f, int64_t* dst) -> std::optional<ParseError> {
      element c;
      if (!find(f, &c)) return std::nullopt;
      if (!IsNumber(c)) return Err(Reject::kWrongType, FieldName(f), fmt::format("expected integer, got {}", TypeName(c.type())));
      const double v = AsDouble(c);
      if (!(v >= 0 && v <= 1e12)) return Err(Reject::kBadValue, FieldName(f), fmt::format("{} is out of range", v));
      *dst = static_cast<int64_t>(v);
      return std::nullopt;
    };
    DG_TRY(read_count(Field::kInputTokens, &out->input_tokens));
    DG_TRY(read_count(Field::kOutputTokens, &out->output_tokens));
    DG_TRY(read_count(Field::kReasoningTokens, &out->reasoning_tokens));
  }
  // response
  {
    element e;
    if (find(Field::kResponseContent, &e)) {
      Message tmp;
      DG_TRY(ReadContent(e, "response.content", &tmp));
      out->response_text = std::move(tmp.text);
      out->has_response = true;
    }
    DG_TRY(read_string(Field::kStopReason, &out->stop_reason, false));
    if (!out->stop_reason.empty() || out->output_tokens >= 0) out->has_response = true;
  }
#undef DG_TRY
  return std::nullopt;
}

}  // namespace dg
