#include "common/toml_int.h"
#include "ingest/mapping.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <toml++/toml.h>

namespace dg {
namespace {

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "ts", "request_id", "account_id", "org_id", "api_key_id", "ip", "user_agent",
    "payment_fingerprint", "account_created_at", "email_domain", "model", "system", "messages",
    "tools", "max_tokens", "temperature", "conversation_id", "response_content", "stop_reason",
    "input_tokens", "output_tokens", "reasoning_tokens"};

void Set(FieldMapping& m, Field f, std::vector<std::string> ptrs) { m.pointers[static_cast<size_t>(f)] = std::move(ptrs); }

// The presets: config/mappings/*.toml, embedded at build time (CMake writes
// this file from those files), so the shipped files and `--mapping NAME`
// can never disagree.
struct EmbeddedMapping {
  std::string_view name;
  std::string_view toml;
};
constexpr EmbeddedMapping kEmbedded[] = {
#include "ingest/mappings_embedded.inc"
};

bool Dig(char c) { return c >= '0' && c <= '9'; }

bool IsPointer(std::string_view p) { return p.empty() || p[0] == '/'; }

// Reads one [fields] entry: a pointer, a list of pointers, or a table
// { from, transforms, json, epoch, tz, value }.
std::optional<std::string> ReadFieldSpec(const toml::node& fnode, Field field, std::vector<std::string>* ptrs,
                                         FieldRule* rule, const toml::node** bad) {
  *bad = &fnode;
  auto read_ptrs = [&](const toml::node& n) -> std::optional<std::string> {
    *bad = &n;
    if (n.is_string()) {
      ptrs->push_back(*n.value<std::string>());
    } else if (const auto* arr = n.as_array()) {
      for (const auto& el : *arr) {
        if (!el.is_string()) {
          *bad = &el;
          return "pointer list must hold strings";
        }
        ptrs->push_back(*el.value<std::string>());
      }
    } else {
      return "must be a JSON pointer string or a list of them";
    }
    for (const auto& p : *ptrs) {
      if (!IsPointer(p)) return fmt::format("'{}' is not a JSON pointer (must start with '/')", p);
    }
    return std::nullopt;
  };
  const auto* tbl = fnode.as_table();
  if (tbl == nullptr) return read_ptrs(fnode);
  for (const auto& [k, n] : *tbl) {
    const std::string_view key = k.str();
    *bad = &n;
    if (key == "from") {
      if (auto e = read_ptrs(n)) return fmt::format("from: {}", *e);
    } else if (key == "value") {
      if (const auto v = n.value<std::string>(); v && n.is_string()) {
        rule->constant = *v;
      } else if (n.is_integer()) {
        rule->constant = std::to_string(*n.value<int64_t>());
      } else if (n.is_floating_point()) {
        rule->constant = fmt::format("{}", *n.value<double>());
      } else if (n.is_boolean()) {
        rule->constant = *n.value<bool>() ? "true" : "false";
      } else {
        return "value: must be a string, number or boolean";
      }
    } else if (key == "json") {
      rule->json_in_string = true;
      rule->json_pointers.clear();
      if (n.is_string()) {
        rule->json_pointers.push_back(*n.value<std::string>());
      } else if (const auto* arr = n.as_array(); arr != nullptr && !arr->empty()) {
        for (const auto& el : *arr) {
          if (!el.is_string()) return "json: a list of pointers must hold strings";
          rule->json_pointers.push_back(*el.value<std::string>());
        }
      } else {
        return "json: must be a JSON pointer string (\"\" for the whole embedded document) or a list of them";
      }
      for (const auto& p : rule->json_pointers) {
        if (!IsPointer(p)) return fmt::format("json: '{}' is not a JSON pointer (must start with '/')", p);
      }
    } else if (key == "transforms" || key == "transform") {
      std::vector<std::string> names;
      if (n.is_string()) {
        names.push_back(*n.value<std::string>());
      } else if (const auto* arr = n.as_array()) {
        for (const auto& el : *arr) {
          if (!el.is_string()) return "transforms: must be a list of names";
          names.push_back(*el.value<std::string>());
        }
      } else {
        return "transforms: must be a list of names";
      }
      for (const auto& t : names) {
        if (t == "first_of_list") rule->transforms |= kTransformFirstOfList;
        else if (t == "strip_port") rule->transforms |= kTransformStripPort;
        else if (t == "text") rule->transforms |= kTransformText;
        else if (t == "to_number") rule->transforms |= kTransformToNumber;
        else if (t == "json_in_string") rule->json_in_string = true;
        else return fmt::format("transforms: unknown transform '{}' (expected first_of_list, strip_port, text, to_number, json_in_string)", t);
      }
    } else if (key == "epoch") {
      const auto v = n.value<std::string>();
      if (!n.is_string()) return "epoch: must be \"s\", \"ms\", \"us\", \"ns\" or \"auto\"";
      if (*v == "s") rule->epoch = EpochUnit::kSeconds;
      else if (*v == "ms") rule->epoch = EpochUnit::kMillis;
      else if (*v == "us") rule->epoch = EpochUnit::kMicros;
      else if (*v == "ns") rule->epoch = EpochUnit::kNanos;
      else if (*v == "auto") rule->epoch = EpochUnit::kAuto;
      else return fmt::format("epoch: unknown unit '{}' (expected s, ms, us, ns or auto)", *v);
    } else if (key == "tz") {
      const auto v = n.value<std::string>();
      if (!n.is_string()) return "tz: must be an offset such as \"+02:00\" or \"Z\", or an IANA zone name such as \"America/New_York\"";
      const std::string& z = *v;
      const bool fixed = z == "Z" ||
                         (z.size() == 6 && (z[0] == '+' || z[0] == '-') && Dig(z[1]) && Dig(z[2]) && z[3] == ':' &&
                          Dig(z[4]) && Dig(z[5]) && (z[1] - '0') * 10 + (z[2] - '0') <= 23 &&
                          (z[4] - '0') * 10 + (z[5] - '0') <= 59);
      if (fixed) {
        rule->tz = z;
        rule->zone = nullptr;
      } else if (z == "UTC") {  // kept as the fixed offset: no database needed
        rule->tz = "Z";
        rule->zone = nullptr;
      } else if (!z.empty() && (z[0] == '+' || z[0] == '-' || Dig(z[0]))) {
        return fmt::format("tz: '{}' is not a UTC offset (\"+02:00\", \"-05:30\", \"Z\") or an IANA zone name", z);
      } else {
        // A named zone: resolved here, once, so an unknown name is a
        // mapping error and a record never looks a name up.
        const auto zone = TimeZone::Find(z);
        if (!zone.ok()) return fmt::format("tz: {}", StatusMessage(zone.status()));
        rule->tz = z;
        rule->zone = *zone;
      }
    } else {
      return fmt::format("unknown key '{}' (expected from, value, json, transforms, epoch, tz)", key);
    }
  }
  *bad = &fnode;
  if (ptrs->empty() && !rule->constant) return "needs 'from' (pointers) or 'value' (a constant)";
  if (rule->json_in_string && ptrs->empty()) return "'json' needs 'from'";
  if (rule->json_in_string && rule->json_pointers.empty()) rule->json_pointers.push_back("");  // transforms = ["json_in_string"]
  const bool is_time = field == Field::kTs || field == Field::kAccountCreatedAt;
  if (!is_time && (rule->epoch != EpochUnit::kSeconds || rule->tz)) return "epoch and tz apply only to ts and account_created_at";
  return std::nullopt;
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
  for (const auto& e : kEmbedded) {
    if (e.name != name) continue;
    auto m = FromToml(e.toml, fmt::format("config/mappings/{}.toml", e.name));
    if (!m.ok()) {
      // A shipped file that does not load is a build defect; ctest catches it
      // (Mapping.ShippedMappingFilesLoad), here it reads as an unknown preset.
      return std::nullopt;
    }
    return std::move(*m);
  }
  return std::nullopt;
}

std::vector<std::string> FieldMapping::PresetNames() {
  std::vector<std::string> names{"canonical"};
  for (const auto& e : kEmbedded) names.emplace_back(e.name);
  return names;
}

absl::StatusOr<FieldMapping> FieldMapping::FromToml(std::string_view text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", origin, err.source().begin.line, err.description()));
  }
  auto fail = [&](const toml::node& node, std::string_view key, std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: key '{}': {}", origin, node.source().begin.line, key, why));
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
        FieldRule rule;
        const toml::node* bad = &fnode;
        if (auto why = ReadFieldSpec(fnode, *field, &ptrs, &rule, &bad)) return fail(*bad, full, *why);
        m.pointers[static_cast<size_t>(*field)] = std::move(ptrs);
        m.rules[static_cast<size_t>(*field)] = std::move(rule);
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
    } else if (k == "filter") {
      const auto* tbl = node.as_table();
      if (tbl == nullptr) return fail(node, k, "must be a table");
      for (const auto& [fkey, fnode] : *tbl) {
        const std::string full = "filter." + std::string(fkey.str());
        if (fkey.str() == "field") {
          if (!fnode.is_string()) return fail(fnode, full, "must be a JSON pointer string");
          m.filter.pointer = *fnode.value<std::string>();
          if (m.filter.pointer.empty() || m.filter.pointer[0] != '/') return fail(fnode, full, "must be a JSON pointer (start with '/')");
        } else if (fkey.str() == "in" || fkey.str() == "not_in") {
          auto& dst = fkey.str() == "in" ? m.filter.in : m.filter.not_in;
          const auto* arr = fnode.as_array();
          if (arr == nullptr) return fail(fnode, full, "must be a list of strings");
          for (const auto& el : *arr) {
            if (!el.is_string()) return fail(el, full, "must be a list of strings");
            dst.push_back(*el.value<std::string>());
          }
        } else {
          return fail(fnode, full, "unknown key (expected field, in, not_in)");
        }
      }
      if (!m.filter.Active()) return fail(node, k, "needs 'field'");
      if (m.filter.in.empty() && m.filter.not_in.empty()) return fail(node, k, "needs 'in' or 'not_in'");
    } else if (k == "options") {
      const auto* tbl = node.as_table();
      if (tbl == nullptr) return fail(node, k, "must be a table");
      for (const auto& [okey, onode] : *tbl) {
        const std::string full = "options." + std::string(okey.str());
        if (okey.str() == "messages_required") {
          if (!onode.is_boolean()) return fail(onode, full, "must be true or false");
          m.messages_required = *onode.value<bool>();
        } else if (okey.str() == "dash_is_empty") {
          if (!onode.is_boolean()) return fail(onode, full, "must be true or false");
          m.dash_is_empty = *onode.value<bool>();
        } else {
          return fail(onode, full, "unknown option");
        }
      }
    } else {
      return fail(node, k, "unknown key (expected version, name, fields, defaults, filter, options)");
    }
  }
  return m;
}

absl::StatusOr<FieldMapping> FieldMapping::Load(const std::string& name_or_path) {
  if (auto preset = Preset(name_or_path)) return std::move(*preset);
  std::ifstream in(name_or_path);
  if (!in) {
    return absl::NotFoundError(
        fmt::format("{}: not a preset ({}) and not a readable file", name_or_path, fmt::join(PresetNames(), ", ")));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return FromToml(ss.str(), name_or_path);
}

}  // namespace dg
