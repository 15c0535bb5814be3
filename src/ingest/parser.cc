#include "ingest/parser.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cmath>

#include <absl/container/flat_hash_map.h>
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
    "bad_timestamp",  "bad_value",     "line_too_long", "io_error", "out_of_range"};

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
    if (type == "message") {
      // An OpenAI Responses output/input item: its own content is a string
      // or a list of blocks. Read one level only (no recursion on input).
      element inner;
      if (block["content"].get(inner) != simdjson::SUCCESS) continue;
      if (inner.type() == element_type::STRING) {
        if (!msg->text.empty()) msg->text.push_back('\n');
        msg->text.append(std::string_view(inner));
      } else if (inner.type() == element_type::ARRAY) {
        for (element b : simdjson::dom::array(inner)) {
          std::string_view btype, btext;
          if (b.type() != element_type::OBJECT || b["type"].get(btype) != simdjson::SUCCESS) continue;
          if ((btype == "text" || btype == "input_text" || btype == "output_text") &&
              b["text"].get(btext) == simdjson::SUCCESS) {
            if (!msg->text.empty()) msg->text.push_back('\n');
            msg->text.append(btext);
          } else {
            ++msg->other_blocks;
          }
        }
      }
    } else if (type == "function_call") {
      ++msg->tool_use_blocks;
    } else if (type == "text" || type == "input_text" || type == "output_text") {
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

bool IsEmptyValue(element e) {
  switch (e.type()) {
    case element_type::NULL_VALUE: return true;
    case element_type::STRING: return std::string_view(e).empty();
    case element_type::ARRAY: return simdjson::dom::array(e).size() == 0;
    case element_type::OBJECT: return simdjson::dom::object(e).size() == 0;
    default: return false;
  }
}

bool IsDash(element e) { return e.type() == element_type::STRING && std::string_view(e) == "-"; }

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// "1.2.3.4:80" -> "1.2.3.4", "[::1]:80" -> "::1", "[::1]" -> "::1"; a bare
// IPv6 address (two or more colons, no brackets) is left alone.
std::string_view StripPort(std::string_view v) {
  if (!v.empty() && v.front() == '[') {
    const size_t close = v.find(']');
    if (close != std::string_view::npos) return v.substr(1, close - 1);
    return v;
  }
  const size_t colon = v.find(':');
  if (colon != std::string_view::npos && v.find(':', colon + 1) == std::string_view::npos) return v.substr(0, colon);
  return v;
}

// Epoch value in `unit` to ms; kAuto picks the unit by magnitude (the
// ranges of s, ms, us and ns between 1990 and 2100 do not overlap).
std::optional<TimeMs> EpochToMs(double v, EpochUnit unit) {
  if (!std::isfinite(v)) return std::nullopt;
  if (unit == EpochUnit::kAuto) {
    const double a = std::fabs(v);
    unit = a < 1e11 ? EpochUnit::kSeconds : a < 1e14 ? EpochUnit::kMillis : a < 1e17 ? EpochUnit::kMicros : EpochUnit::kNanos;
  }
  switch (unit) {
    case EpochUnit::kMillis: return EpochSecondsToMs(v / 1e3);
    case EpochUnit::kMicros: return EpochSecondsToMs(v / 1e6);
    case EpochUnit::kNanos: return EpochSecondsToMs(v / 1e9);
    default: return EpochSecondsToMs(v);
  }
}

// A whole-string decimal number ("256", "0.7", "1714564800123"), or nullopt.
std::optional<double> NumberText(std::string_view v) {
  v = Trim(v);
  if (v.empty() || v.size() > 64) return std::nullopt;
  double out = 0;
  const auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
  return out;
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
  // For `json` (JSON inside a string): a second parser, and which source
  // string its document came from, so fields sharing a source parse it once.
  simdjson::dom::parser inner;
  element inner_doc;
  const char* inner_src = nullptr;
  size_t inner_len = 0;
  std::string scratch;  // a transformed value, consumed before the next field
  // Message text buffers of earlier records, handed to the next messages
  // (a few, none over kMaxSpareBytes: memory stays bounded).
  std::vector<std::string> spare_texts;
  static constexpr size_t kMaxSpareTexts = 16;
  static constexpr size_t kMaxSpareBytes = 64u << 10;

  // *out = Interaction{} (Interaction::Clear), keeping the string buffers
  // of the record the caller passes back (the pipeline recycles its objects): no allocation
  // per field in the steady state.
  void Reset(Interaction* out) {
    for (Message& m : out->messages) {
      if (spare_texts.size() < kMaxSpareTexts && m.text.capacity() <= kMaxSpareBytes) spare_texts.push_back(std::move(m.text));
    }
    out->Clear(kMaxSpareBytes);
  }
  // The mapping's pointers resolved through one pass over the record's
  // top-level keys instead of a linear at_key scan per pointer tried: each
  // pointer's first segment is a slot; Index() fills the slots with the
  // first occurrence of each key (what at_key finds) and Lookup() goes on
  // from there with the rest of the pointer, exactly as at_pointer would.
  struct CompiledPointer {
    int32_t slot = -1;   // -1: not indexable (empty, no leading '/', '~' escape): plain at_pointer
    std::string rest;    // after the first segment: "" or "/..."
    std::string full;
  };
  absl::flat_hash_map<std::string, uint32_t> top_slots;
  std::vector<element> top_vals;
  std::vector<uint8_t> top_found;
  std::array<std::vector<CompiledPointer>, kFieldCount> field_pointers;
  CompiledPointer filter_pointer;

  CompiledPointer Compile(const std::string& ptr) {
    CompiledPointer cp;
    cp.full = ptr;
    if (ptr.empty() || ptr[0] != '/') return cp;
    const size_t slash = ptr.find('/', 1);
    const std::string key = ptr.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
    if (key.find('~') != std::string::npos) return cp;
    cp.rest = slash == std::string::npos ? std::string() : ptr.substr(slash);
    const auto [it, added] = top_slots.try_emplace(key, static_cast<uint32_t>(top_slots.size()));
    cp.slot = static_cast<int32_t>(it->second);
    return cp;
  }
  void CompileMapping(const FieldMapping& m) {
    for (size_t f = 0; f < kFieldCount; ++f) {
      for (const auto& ptr : m.pointers[f]) field_pointers[f].push_back(Compile(ptr));
    }
    if (m.filter.Active()) filter_pointer = Compile(m.filter.pointer);
    top_vals.resize(top_slots.size());
    top_found.resize(top_slots.size());
  }
  // One pass over the record's keys; stops once every slot is found. O(keys).
  void Index(simdjson::dom::object doc) {
    std::fill(top_found.begin(), top_found.end(), 0);
    size_t left = top_found.size();
    if (left == 0) return;
    for (const auto field : doc) {
      const auto it = top_slots.find(absl::string_view(field.key.data(), field.key.size()));
      if (it == top_slots.end() || top_found[it->second]) continue;
      top_found[it->second] = 1;
      top_vals[it->second] = field.value;
      if (--left == 0) break;
    }
  }
  // doc.at_pointer(cp.full), through the index.
  simdjson::simdjson_result<element> Lookup(element doc, const CompiledPointer& cp) const {
    if (cp.slot < 0) return doc.at_pointer(cp.full);
    const auto slot = static_cast<size_t>(cp.slot);
    if (!top_found[slot]) return simdjson::NO_SUCH_FIELD;
    if (cp.rest.empty()) return element(top_vals[slot]);
    return top_vals[slot].at_pointer(cp.rest);
  }

  // An empty string with a recycled buffer, if there is one.
  void TakeSpare(std::string* text) {
    if (spare_texts.empty()) return;
    text->swap(spare_texts.back());
    text->clear();
    spare_texts.pop_back();
  }
};

// What a field resolved to: a JSON element, or a value a transform made.
struct Resolved {
  enum Kind : uint8_t { kAbsent, kElement, kString, kNumber } kind = kAbsent;
  element e;
  std::string_view str;
  double num = 0;
};

RecordParser::RecordParser(FieldMapping mapping) : mapping_(std::move(mapping)), impl_(std::make_unique<Impl>()) {
  impl_->CompileMapping(mapping_);
}
RecordParser::~RecordParser() = default;

std::optional<ParseError> RecordParser::Parse(std::string_view line, bool padded, Interaction* out) {
  impl_->Reset(out);
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
  impl_->inner_src = nullptr;  // the previous record's embedded document is gone
  impl_->Index(simdjson::dom::object(doc));

  if (const auto& filter = mapping_.filter; filter.Active()) {
    element e;
    std::string_view v;
    std::string num;
    bool has = impl_->Lookup(doc, impl_->filter_pointer).get(e) == simdjson::SUCCESS;
    if (has && e.type() == element_type::STRING) {
      v = std::string_view(e);
    } else if (has && (e.type() == element_type::INT64 || e.type() == element_type::UINT64)) {
      num = e.type() == element_type::INT64 ? std::to_string(int64_t(e)) : std::to_string(uint64_t(e));
      v = num;
    } else if (has && e.type() == element_type::BOOL) {
      v = bool(e) ? "true" : "false";
    } else {
      has = false;
    }
    const auto listed = [&](const std::vector<std::string>& list) {
      return std::find(list.begin(), list.end(), v) != list.end();
    };
    if ((!filter.in.empty() && (!has || !listed(filter.in))) || (has && listed(filter.not_in))) {
      ParseError skip = Err(Reject::kBadValue, "", fmt::format("filtered out by {} = '{}'", filter.pointer, Shown(v)));
      skip.filtered = true;
      return skip;
    }
  }

  const bool dash_is_empty = mapping_.dash_is_empty;
  // Finds the first present, non-empty pointer for a field (plain fields).
  auto find = [&](Field f, element* found) -> bool {
    for (const auto& ptr : impl_->field_pointers[static_cast<size_t>(f)]) {
      element e;
      if (impl_->Lookup(doc, ptr).get(e) == simdjson::SUCCESS && !IsEmptyValue(e) && !(dash_is_empty && IsDash(e))) {
        *found = e;
        return true;
      }
    }
    return false;
  };
  // Finds a field's value and applies its rule (constant, JSON in a string,
  // transforms). A plain field costs only `find`.
  auto resolve = [&](Field f, Resolved* r) -> std::optional<ParseError> {
    *r = Resolved{};
    const FieldRule& rule = mapping_.RuleFor(f);
    if (rule.Plain()) {
      if (find(f, &r->e)) r->kind = Resolved::kElement;
      return std::nullopt;
    }
    if (rule.constant) {
      r->kind = Resolved::kString;
      r->str = *rule.constant;
      return std::nullopt;
    }
    element e;
    bool found = false;
    for (const auto& cp : impl_->field_pointers[static_cast<size_t>(f)]) {
      const std::string& ptr = cp.full;
      if (impl_->Lookup(doc, cp).get(e) != simdjson::SUCCESS || IsEmptyValue(e) || (dash_is_empty && IsDash(e))) continue;
      if (rule.json_in_string) {
        element inner;
        if (e.type() == element_type::STRING) {
          const std::string_view src(e);
          if (impl_->inner_src != src.data() || impl_->inner_len != src.size()) {
            impl_->inner_src = nullptr;
            if (const auto iec = impl_->inner.parse(src.data(), src.size(), true).get(impl_->inner_doc); iec != simdjson::SUCCESS) {
              return Err(Reject::kBadValue, FieldName(f),
                         fmt::format("the string at {} is not JSON: {}", ptr, simdjson::error_message(iec)));
            }
            impl_->inner_src = src.data();
            impl_->inner_len = src.size();
          }
          inner = impl_->inner_doc;
        } else if (e.type() == element_type::OBJECT || e.type() == element_type::ARRAY) {
          inner = e;  // already JSON: tolerate a gateway that stopped double-encoding
        } else {
          return Err(Reject::kWrongType, FieldName(f),
                     fmt::format("expected a string holding JSON at {}, got {}", ptr, TypeName(e.type())));
        }
        bool inside = false;
        for (const auto& jp : rule.json_pointers) {
          if (jp.empty()) {
            e = inner;
          } else if (inner.at_pointer(jp).get(e) != simdjson::SUCCESS) {
            continue;
          }
          if (!IsEmptyValue(e) && !(dash_is_empty && IsDash(e))) {
            inside = true;
            break;
          }
        }
        if (!inside) continue;
      }
      found = true;
      break;
    }
    if (!found) return std::nullopt;
    r->kind = Resolved::kElement;
    r->e = e;
    if (rule.transforms & kTransformFirstOfList) {
      if (e.type() == element_type::ARRAY) {
        simdjson::dom::array arr(e);
        if (arr.size() == 0) {
          r->kind = Resolved::kAbsent;
          return std::nullopt;
        }
        r->e = e = *arr.begin();
      } else if (e.type() == element_type::STRING) {
        const std::string_view v(e);
        r->kind = Resolved::kString;
        r->str = Trim(v.substr(0, v.find(',')));
      }
    }
    if ((rule.transforms & kTransformText) && f != Field::kMessages) {  // messages: see below
      if (r->kind == Resolved::kElement && r->e.type() != element_type::STRING) {
        Message tmp;
        element content = r->e;
        // A single message object ({"role", "content"}) reads as its content.
        element c;
        if (content.type() == element_type::OBJECT && content["content"].get(c) == simdjson::SUCCESS) content = c;
        if (content.type() == element_type::OBJECT) {
          std::string_view t;
          if (content["text"].get(t) == simdjson::SUCCESS) tmp.text.assign(t);
        } else if (auto err = ReadContent(content, FieldName(f), &tmp)) {
          return err;
        }
        impl_->scratch = std::move(tmp.text);
        r->kind = Resolved::kString;
        r->str = impl_->scratch;
      }
    }
    if (rule.transforms & kTransformStripPort) {
      if (r->kind == Resolved::kElement && r->e.type() == element_type::STRING) {
        r->kind = Resolved::kString;
        r->str = std::string_view(r->e);
      }
      if (r->kind == Resolved::kString) r->str = StripPort(Trim(r->str));
    }
    if (rule.transforms & kTransformToNumber) {
      std::string_view text;
      if (r->kind == Resolved::kString) {
        text = r->str;
      } else if (r->e.type() == element_type::STRING) {
        text = std::string_view(r->e);
      } else {
        return std::nullopt;  // already a number (or a type the reader will name)
      }
      const auto v = NumberText(text);
      if (!v) return Err(Reject::kBadValue, FieldName(f), fmt::format("'{}' is not a number", Shown(text)));
      r->kind = Resolved::kNumber;
      r->num = *v;
    }
    if (r->kind == Resolved::kString && r->str.empty()) r->kind = Resolved::kAbsent;
    return std::nullopt;
  };

#define DG_TRY(expr) \
  if (auto err_ = (expr)) return err_

  auto read_string = [&](Field f, std::string* dst, bool required) -> std::optional<ParseError> {
    Resolved r;
    DG_TRY(resolve(f, &r));
    switch (r.kind) {
      case Resolved::kAbsent:
        if (const auto& def = mapping_.DefaultFor(f)) {
          *dst = *def;
          return std::nullopt;
        }
        if (required) return Err(Reject::kMissingField, FieldName(f), "required field is absent");
        return std::nullopt;
      case Resolved::kString: dst->assign(r.str); break;
      case Resolved::kNumber: *dst = fmt::format("{}", r.num); break;
      case Resolved::kElement:
        switch (r.e.type()) {
          case element_type::STRING: dst->assign(std::string_view(r.e)); break;
          case element_type::INT64: *dst = std::to_string(int64_t(r.e)); break;
          case element_type::UINT64: *dst = std::to_string(uint64_t(r.e)); break;
          default:
            return Err(Reject::kWrongType, FieldName(f), fmt::format("expected string, got {}", TypeName(r.e.type())));
        }
        break;
    }
    if (required && dst->empty()) return Err(Reject::kMissingField, FieldName(f), "required field is empty");
    return std::nullopt;
  };
  auto read_time = [&](Field f, TimeMs* dst, bool required) -> std::optional<ParseError> {
    Resolved r;
    DG_TRY(resolve(f, &r));
    const FieldRule& rule = mapping_.RuleFor(f);
    std::string_view text;
    double num = 0;
    bool is_num = false;
    switch (r.kind) {
      case Resolved::kAbsent:
        if (required) return Err(Reject::kMissingField, FieldName(f), "required field is absent");
        return std::nullopt;
      case Resolved::kString: text = r.str; break;
      case Resolved::kNumber: num = r.num; is_num = true; break;
      case Resolved::kElement:
        if (r.e.type() == element_type::STRING) {
          text = std::string_view(r.e);
        } else if (IsNumber(r.e)) {
          num = AsDouble(r.e);
          is_num = true;
        } else {
          return Err(Reject::kWrongType, FieldName(f), fmt::format("expected RFC 3339 string or epoch seconds, got {}", TypeName(r.e.type())));
        }
        break;
    }
    if (!is_num) {
      if (const auto t = ParseRfc3339(text)) {
        *dst = *t;
        return std::nullopt;
      }
      if (rule.zone != nullptr && text.size() <= 40) {  // a naive date-time in the declared named zone
        char buf[48];
        std::memcpy(buf, text.data(), text.size());
        buf[text.size()] = 'Z';
        if (const auto local = ParseRfc3339(std::string_view(buf, text.size() + 1))) {
          const TimeMs t = rule.zone->LocalToUtc(*local);
          if (t < kMinValidTime || t >= kMaxValidTime) {
            return Err(Reject::kBadTimestamp, FieldName(f),
                       fmt::format("'{}' in {} is not between 1990 and 2100", Shown(text), rule.zone->name()));
          }
          *dst = t;
          return std::nullopt;
        }
      } else if (rule.tz && text.size() <= 40) {  // a naive date-time in the declared offset
        char buf[48];
        std::memcpy(buf, text.data(), text.size());
        std::memcpy(buf + text.size(), rule.tz->data(), rule.tz->size());
        if (const auto t = ParseRfc3339(std::string_view(buf, text.size() + rule.tz->size()))) {
          *dst = *t;
          return std::nullopt;
        }
      }
      if (const auto v = NumberText(text)) {  // epoch as digits in a string
        num = *v;
        is_num = true;
      } else {
        bool naive = false;
        if (!rule.tz && text.size() <= 40) {
          char buf[48];
          std::memcpy(buf, text.data(), text.size());
          buf[text.size()] = 'Z';
          naive = ParseRfc3339(std::string_view(buf, text.size() + 1)).has_value();
        }
        return Err(Reject::kBadTimestamp, FieldName(f),
                   fmt::format("'{}' is not an RFC 3339 date-time between 1990 and 2100{}", Shown(text),
                               naive ? " (it has no offset: set tz in the mapping)" : ""));
      }
    }
    const auto t = EpochToMs(num, rule.epoch);
    if (!t) {
      static constexpr std::string_view kUnit[] = {"seconds", "milliseconds", "microseconds", "nanoseconds", "s/ms/us/ns"};
      return Err(Reject::kBadTimestamp, FieldName(f),
                 fmt::format("{} is not epoch {} between 1990 and 2100{}", num, kUnit[static_cast<size_t>(rule.epoch)],
                             rule.epoch == EpochUnit::kSeconds && EpochToMs(num, EpochUnit::kAuto)
                                 ? " (set epoch = \"ms\", \"us\", \"ns\" or \"auto\" in the mapping)"
                                 : ""));
    }
    *dst = *t;
    return std::nullopt;
  };
  // A number field: an element that is a number, or a transformed number.
  auto read_number = [&](Field f, double* dst, bool* present, std::string_view expected) -> std::optional<ParseError> {
    Resolved r;
    DG_TRY(resolve(f, &r));
    *present = false;
    if (r.kind == Resolved::kAbsent) return std::nullopt;
    if (r.kind == Resolved::kNumber) {
      *dst = r.num;
    } else if (r.kind == Resolved::kElement && IsNumber(r.e)) {
      *dst = AsDouble(r.e);
    } else {
      return Err(Reject::kWrongType, FieldName(f),
                 fmt::format("expected {}, got {}", expected, r.kind == Resolved::kString ? "string" : TypeName(r.e.type())));
    }
    *present = true;
    return std::nullopt;
  };

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
      return Err(Reject::kBadValue, "ip",
                 fmt::format("'{}' is not an IPv4 or IPv6 address{}", Shown(out->ip),
                             (out->ip.find(',') != std::string::npos || out->ip.find(':') != std::string::npos)
                                 ? " (for lists or ip:port add transforms = [\"first_of_list\", \"strip_port\"])"
                                 : ""));
    }
  }
  DG_TRY(read_string(Field::kUserAgent, &out->user_agent, false));
  DG_TRY(read_string(Field::kPaymentFingerprint, &out->payment_fingerprint, false));
  DG_TRY(read_time(Field::kAccountCreatedAt, &out->account_created_at, false));
  DG_TRY(read_string(Field::kEmailDomain, &out->email_domain, false));
  DG_TRY(read_string(Field::kModel, &out->model, false));
  {
    // system: a string, or (Anthropic's prompt-caching form) content blocks.
    Resolved r;
    DG_TRY(resolve(Field::kSystem, &r));
    if (r.kind == Resolved::kAbsent) {
      if (const auto& def = mapping_.DefaultFor(Field::kSystem)) out->system = *def;
    } else if (r.kind == Resolved::kString) {
      out->system.assign(r.str);
    } else if (r.kind == Resolved::kElement) {
      if (r.e.type() == element_type::STRING) {
        out->system.assign(std::string_view(r.e));
      } else if (r.e.type() == element_type::ARRAY) {
        Message tmp;
        DG_TRY(ReadContent(r.e, "system", &tmp));
        out->system = std::move(tmp.text);
      } else {
        return Err(Reject::kWrongType, "system", fmt::format("expected string or array of blocks, got {}", TypeName(r.e.type())));
      }
    }
  }
  DG_TRY(read_string(Field::kConversationId, &out->conversation_id, false));

  // messages
  {
    Resolved r;
    DG_TRY(resolve(Field::kMessages, &r));
    if (r.kind == Resolved::kAbsent) {
      if (mapping_.messages_required) return Err(Reject::kMissingField, "messages", "required field is absent");
    } else if ((mapping_.RuleFor(Field::kMessages).transforms & kTransformText) &&
               (r.kind == Resolved::kString || (r.kind == Resolved::kElement && r.e.type() == element_type::STRING))) {
      // With `text`, a bare prompt is one user turn (OpenAI Responses
      // `input` as a string, a completion prompt).
      Message msg;
      msg.text.assign(r.kind == Resolved::kString ? r.str : std::string_view(r.e));
      out->messages.push_back(std::move(msg));
    } else if (r.kind != Resolved::kElement || r.e.type() != element_type::ARRAY) {
      return Err(Reject::kWrongType, "messages",
                 fmt::format("expected array, got {}{}",
                             r.kind == Resolved::kNumber ? "number" : r.kind == Resolved::kString ? "string" : TypeName(r.e.type()),
                             r.kind == Resolved::kString || r.e.type() == element_type::STRING
                                 ? " (for a bare prompt add transforms = [\"text\"])"
                                 : ""));
    } else {
      size_t msg_idx = 0;
      for (element m : simdjson::dom::array(r.e)) {
        // "messages[N]" and "messages[N].content" without a heap string:
        // they are only read when the message is bad.
        // (std::to_chars, not fmt: this runs for every message.)
        char field_buf[48] = "messages[";
        char* field_end = std::to_chars(field_buf + 9, field_buf + 30, msg_idx++).ptr;
        *field_end++ = ']';
        const std::string_view field(field_buf, static_cast<size_t>(field_end - field_buf));
        std::memcpy(field_buf + field.size(), ".content", 8);
        const std::string_view content_field(field_buf, field.size() + 8);
        if (m.type() != element_type::OBJECT) {
          return Err(Reject::kWrongType, field, fmt::format("expected object, got {}", TypeName(m.type())));
        }
        std::string_view role;
        if (m["role"].get(role) != simdjson::SUCCESS) {
          // OpenAI Responses input items without a role: tool calls and
          // their outputs; reasoning and other items carry no prompt text.
          std::string_view type;
          if (m["type"].get(type) != simdjson::SUCCESS) {
            return Err(Reject::kMissingField, std::string(field) + ".role", "each message needs a string role");
          }
          if (type == "function_call" || type == "custom_tool_call") {
            Message call;
            call.role = Role::kAssistant;
            call.tool_use_blocks = 1;
            out->messages.push_back(std::move(call));
          } else if (type == "function_call_output" || type == "custom_tool_call_output") {
            Message res;
            res.tool_result_blocks = 1;
            std::string_view text;
            if (m["output"].get(text) == simdjson::SUCCESS) res.text.assign(text);
            out->messages.push_back(std::move(res));
          }
          continue;
        }
        element content;
        const bool has_content = m["content"].get(content) == simdjson::SUCCESS;
        if (role == "system" || role == "developer") {
          Message tmp;
          if (has_content) DG_TRY(ReadContent(content, content_field, &tmp));
          if (!out->system.empty()) out->system.push_back('\n');
          out->system += tmp.text;
          continue;
        }
        Message msg;
        impl_->TakeSpare(&msg.text);
        if (role == "user") {
          msg.role = Role::kUser;
        } else if (role == "assistant") {
          msg.role = Role::kAssistant;
        } else if (role == "tool" || role == "function") {
          msg.role = Role::kUser;
          msg.tool_result_blocks = 1;
        } else {
          return Err(Reject::kBadValue, std::string(field) + ".role", fmt::format("unknown role '{}' (expected user, assistant or system)", Shown(role)));
        }
        if (has_content) DG_TRY(ReadContent(content, content_field, &msg));
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
    Resolved r;
    DG_TRY(resolve(Field::kTools, &r));
    if (r.kind != Resolved::kAbsent) {
      if (r.kind != Resolved::kElement || r.e.type() != element_type::ARRAY) {
        return Err(Reject::kWrongType, "tools", fmt::format("expected array, got {}", r.kind == Resolved::kElement ? TypeName(r.e.type()) : "string"));
      }
      out->tools_hash = Hash64(simdjson::minify(r.e), 0x7001);
      for (element t : simdjson::dom::array(r.e)) {
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
    double v = 0;
    bool present = false;
    DG_TRY(read_number(Field::kMaxTokens, &v, &present, "integer"));
    if (present) {
      if (!(v >= 0 && v <= 1e9) || std::floor(v) != v) return Err(Reject::kBadValue, "max_tokens", fmt::format("{} is not an integer in [0, 1e9]", v));
      out->max_tokens = static_cast<int64_t>(v);
    }
    DG_TRY(read_number(Field::kTemperature, &v, &present, "number"));
    if (present) {
      if (!(v >= 0 && v <= 100)) return Err(Reject::kBadValue, "temperature", fmt::format("{} is out of range [0, 100]", v));
      out->temperature = v;
    }
    auto read_count = [&](Field f, int64_t* dst) -> std::optional<ParseError> {
      double c = 0;
      bool has = false;
      DG_TRY(read_number(f, &c, &has, "integer"));
      if (!has) return std::nullopt;
      if (!(c >= 0 && c <= 1e12)) return Err(Reject::kBadValue, FieldName(f), fmt::format("{} is out of range", c));
      *dst = static_cast<int64_t>(c);
      return std::nullopt;
    };
    DG_TRY(read_count(Field::kInputTokens, &out->input_tokens));
    DG_TRY(read_count(Field::kOutputTokens, &out->output_tokens));
    DG_TRY(read_count(Field::kReasoningTokens, &out->reasoning_tokens));
  }
  // response
  {
    Resolved r;
    DG_TRY(resolve(Field::kResponseContent, &r));
    if (r.kind == Resolved::kString) {
      out->response_text.assign(r.str);
      out->has_response = true;
    } else if (r.kind == Resolved::kElement) {
      Message tmp;
      tmp.text.swap(out->response_text);  // its buffer, emptied by Reset
      DG_TRY(ReadContent(r.e, "response.content", &tmp));
      out->response_text.swap(tmp.text);
      out->has_response = true;
    } else if (r.kind == Resolved::kNumber) {
      return Err(Reject::kWrongType, "response.content", "expected string or array of blocks, got number");
    }
    DG_TRY(read_string(Field::kStopReason, &out->stop_reason, false));
    if (!out->stop_reason.empty() || out->output_tokens >= 0) out->has_response = true;
  }
#undef DG_TRY
  return std::nullopt;
}

}  // namespace dg
