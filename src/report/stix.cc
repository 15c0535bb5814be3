#include "report/stix.h"

#include <chrono>

#include <fmt/format.h>
#include <simdjson.h>

#include "common/hash.h"
#include "common/json_out.h"
#include "common/time.h"

namespace dg {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

// "type--xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx" from a hash of the seed.
std::string StixId(std::string_view type, std::string_view seed) {
  const uint64_t a = Hash64(seed, 0x5717);
  const uint64_t b = Hash64(seed, 0xc0ffee);
  const std::string hex = fmt::format("{:016x}{:016x}", a, b);
  std::string u = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-5" + hex.substr(13, 3) + "-";
  const char variant = "89ab"[(b >> 60) & 3];  // the top bits of hex[16], b's first digit
  u += variant + hex.substr(17, 3) + "-" + hex.substr(20, 12);
  return std::string(type) + "--" + u;
}

// STIX pattern string literal: backslash and quote escaped.
std::string PatternLiteral(std::string_view v) {
  std::string out = "'";
  for (const char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string Str(element e) {
  std::string_view v;
  return e.get_string().get(v) == simdjson::SUCCESS ? std::string(v) : std::string();
}

std::string Field(object o, const char* key) {
  element e;
  return o.at_key(key).get(e) == simdjson::SUCCESS ? Str(e) : std::string();
}

struct Obj {
  std::string json;
  void Add(std::string_view key, std::string_view value) {
    json += json.size() > 1 ? "," : "";
    AppendJsonString(json, key);
    json += ":";
    AppendJsonString(json, value);
  }
  void Raw(std::string_view key, std::string_view raw) {
    json += json.size() > 1 ? "," : "";
    AppendJsonString(json, key);
    json += ":";
    json += raw;
  }
};

Obj Common(std::string_view type, const std::string& id, const std::string& created, const std::string& creator) {
  Obj o{"{"};
  o.Add("type", type);
  o.Add("spec_version", "2.1");
  o.Add("id", id);
  o.Add("created", created);
  o.Add("modified", created);
  if (!creator.empty()) o.Add("created_by_ref", creator);
  return o;
}

constexpr size_t kMaxIdBytes = 300;         // STIX types are at most 250 characters, plus "--" and a UUID
constexpr size_t kMaxTimestampBytes = 64;   // far more fraction digits than anyone writes
constexpr size_t kMaxShownBytes = 80;       // of a value quoted in an error message

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f'); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsWordChar(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '-'; }

// A value quoted in an error message, in quotes: at most kMaxShownBytes of it.
std::string Shown(std::string_view v) {
  if (v.size() <= kMaxShownBytes) return fmt::format("'{}'", v);
  return fmt::format("'{}...' ({} bytes)", v.substr(0, kMaxShownBytes), v.size());
}

// "<type>--<UUID>": type [a-z0-9][a-z0-9-]*[a-z0-9] equal to `type`, UUID
// in lowercase hex 8-4-4-4-12 with a version 1-8 and the RFC 4122 variant.
bool IsStixId(std::string_view id, std::string_view type) {
  constexpr size_t kUuid = 36;
  if (id.size() > kMaxIdBytes || id.size() < kUuid + 2 + 2) return false;
  const std::string_view prefix = id.substr(0, id.size() - kUuid - 2);
  const std::string_view uuid = id.substr(id.size() - kUuid);
  if (id.substr(prefix.size(), 2) != "--" || prefix != type) return false;
  if (prefix.front() == '-' || prefix.back() == '-') return false;
  for (const char c : prefix) {
    if (!((c >= 'a' && c <= 'z') || IsDigit(c) || c == '-')) return false;
  }
  for (size_t i = 0; i < kUuid; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (uuid[i] != '-') return false;
    } else if (!IsLowerHex(uuid[i])) {
      return false;
    }
  }
  return uuid[14] >= '1' && uuid[14] <= '8' && (uuid[19] == '8' || uuid[19] == '9' || uuid[19] == 'a' || uuid[19] == 'b');
}

// STIX timestamp: YYYY-MM-DDTHH:MM:SS[.fraction]Z.
bool IsStixTimestamp(std::string_view v) {
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  if (v.size() < kShape.size() + 1 || v.size() > kMaxTimestampBytes) return false;
  for (size_t i = 0; i < kShape.size(); ++i) {
    if (kShape[i] == 'd' ? !IsDigit(v[i]) : v[i] != kShape[i]) return false;
  }
  size_t i = kShape.size();
  if (v[i] == '.') {
    const size_t start = ++i;
    while (i < v.size() && IsDigit(v[i])) ++i;
    if (i == start) return false;
  }
  return i + 1 == v.size() && v[i] == 'Z';
}

// Comparison and observation operators, qualifiers and keywords of STIX
// patterning this importer does not implement, with the reason it gives.
std::string UnsupportedKeyword(std::string_view word) {
  static constexpr std::string_view kOperators[] = {"MATCHES", "LIKE", "IN", "ISSUBSET", "ISSUPERSET", "EXISTS", "NOT"};
  static constexpr std::string_view kQualifiers[] = {"WITHIN", "REPEATS", "START", "STOP", "TIMES", "SECONDS"};
  if (word == "AND" || word == "FOLLOWEDBY") return "unsupported: " + std::string(word);
  for (const auto op : kOperators) {
    if (word == op) return "unsupported: operator " + std::string(op);
  }
  for (const auto q : kQualifiers) {
    if (word == q) return "unsupported: qualifier " + std::string(q == "TIMES" ? "REPEATS" : q == "SECONDS" ? "WITHIN" : q);
  }
  return "malformed pattern: unexpected word";
}

}  // namespace

std::string ParseStixPattern(std::string_view p, std::vector<StixComparison>* out) {
  out->clear();
  constexpr int kMaxParens = 64;
  enum class State { kOperand, kOperator, kLiteral, kAfter } state = State::kOperand;
  bool in_brackets = false;
  int parens = 0, parens_at_bracket = 0;
  StixComparison cur;
  size_t i = 0;
  const size_t n = p.size();
  auto word = [&] {  // [A-Za-z0-9_-]* from i
    const size_t start = i;
    while (i < n && IsWordChar(p[i])) ++i;
    return p.substr(start, i - start);
  };
  while (true) {
    while (i < n && IsSpace(p[i])) ++i;
    if (i == n) break;
    const char c = p[i];
    switch (state) {
      case State::kOperand: {
        if (c == '(') {
          if (++parens > kMaxParens) return "malformed pattern: parentheses nested too deep";
          ++i;
          continue;
        }
        if (c == '[') {
          if (in_brackets) return "malformed pattern: '[' inside an observation";
          in_brackets = true;
          parens_at_bracket = parens;
          ++i;
          continue;
        }
        const std::string_view w = word();
        if (w.empty()) return "malformed pattern: expected a comparison";
        if (i == n || p[i] != ':') return UnsupportedKeyword(w);
        if (!in_brackets) return "malformed pattern: a comparison outside [ ]";
        cur.object.assign(w);
        ++i;  // ':'
        // Object path: names, dots and quoted segments ('http-request-ext').
        const size_t start = i;
        while (i < n) {
          if (p[i] == '\'') {
            const size_t close = p.find('\'', i + 1);
            if (close == std::string_view::npos) return "malformed pattern: unterminated quoted path segment";
            i = close + 1;
          } else if (IsWordChar(p[i]) || p[i] == '.') {
            ++i;
          } else {
            break;
          }
        }
        if (i < n && p[i] == '[') return "unsupported: list index in an object path";
        if (i == start) return "malformed pattern: empty object path";
        cur.path.assign(p.substr(start, i - start));
        state = State::kOperator;
        continue;
      }
      case State::kOperator: {
        if (c == '=') {
          ++i;
          state = State::kLiteral;
          continue;
        }
        if (c == '!') return "unsupported: operator !=";
        if (c == '<' || c == '>') return "unsupported: operator < > <= >=";
        const std::string_view w = word();
        if (w.empty()) return "malformed pattern: expected an operator";
        return UnsupportedKeyword(w);
      }
      case State::kLiteral: {
        if (c != '\'') return "unsupported: a comparison with a literal that is not a string";
        cur.value.clear();
        ++i;
        bool closed = false;
        while (i < n) {
          const char d = p[i++];
          if (d == '\'') {
            closed = true;
            break;
          }
          if (d == '\\') {
            if (i == n || (p[i] != '\\' && p[i] != '\'')) return "malformed pattern: bad escape in a string literal";
            cur.value += p[i++];
          } else {
            cur.value += d;
          }
        }
        if (!closed) return "malformed pattern: unterminated string literal";
        out->push_back(cur);
        state = State::kAfter;
        continue;
      }
      case State::kAfter: {
        if (c == ')') {
          if (parens == 0 || (in_brackets && parens == parens_at_bracket)) return "malformed pattern: unbalanced ')'";
          --parens;
          ++i;
          continue;
        }
        if (c == ']') {
          if (!in_brackets || parens != parens_at_bracket) return "malformed pattern: unbalanced ']'";
          in_brackets = false;
          ++i;
          continue;
        }
        const std::string_view w = word();
        if (w == "OR") {
          state = State::kOperand;
          continue;
        }
        if (w.empty()) return "malformed pattern: unexpected character";
        return UnsupportedKeyword(w);
      }
    }
  }
  if (state != State::kAfter || in_brackets || parens != 0) return "malformed pattern: incomplete";
  return {};
}


absl::StatusOr<std::vector<std::string>> CampaignObjects(std::string_view campaigns_json) {
  std::vector<std::string> out;
  const size_t first = campaigns_json.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && campaigns_json.substr(first, 13).find("\"campaigns\"") != std::string_view::npos) {
    simdjson::dom::parser parser;
    element doc;
    simdjson::dom::array arr;
    if (parser.parse(campaigns_json.data(), campaigns_json.size()).get(doc) != simdjson::SUCCESS ||
        doc["campaigns"].get_array().get(arr) != simdjson::SUCCESS) {
      return absl::DataLossError("campaigns: not a {\"campaigns\": [...]} document");
    }
    for (element c : arr) out.push_back(simdjson::minify(c));
    return out;
  }
  size_t pos = 0;
  while (pos < campaigns_json.size()) {
    size_t end = campaigns_json.find('\n', pos);
    if (end == std::string_view::npos) end = campaigns_json.size();
    const std::string_view l = campaigns_json.substr(pos, end - pos);
    pos = end + 1;
    if (l.find_first_not_of(" \t\r") != std::string_view::npos) out.emplace_back(l);
  }
  return out;
}

absl::StatusOr<std::string> ExportStix(std::string_view campaigns_json, const StixExportOptions& options) {
  auto campaign_texts = CampaignObjects(campaigns_json);
  if (!campaign_texts.ok()) return campaign_texts.status();
  simdjson::dom::parser parser;
  const std::string created = options.created.empty() ? FormatRfc3339(options.clock()) : options.created;  // STIX: RFC 3339 UTC with a Z, as ours
  const std::string identity = StixId("identity", options.producer);
  std::vector<std::string> objects;
  {
    Obj o = Common("identity", identity, created, "");
    o.Add("name", options.producer);
    o.Add("identity_class", "organization");
    objects.push_back(o.json + "}");
  }
  size_t exported = 0;
  for (size_t ci = 0; ci < campaign_texts->size(); ++ci) {
    element doc;
    object c;
    if (parser.parse((*campaign_texts)[ci]).get(doc) != simdjson::SUCCESS || doc.get_object().get(c) != simdjson::SUCCESS) {
      return absl::DataLossError(fmt::format("campaigns:{}: not a JSON object", ci + 1));
    }
    const std::string cid = Field(c, "campaign_id");
    if (cid.empty()) {
      return absl::DataLossError(fmt::format("campaigns:{}: field 'campaign_id': missing", ci + 1));
    }
    if (!options.campaign_id.empty() && cid != options.campaign_id) continue;
    ++exported;
    const std::string first_seen = Field(c, "first_seen");
    const std::string campaign_ref = StixId("campaign", options.producer + "/" + cid + "/" + first_seen);
    int64_t accounts = 0, interactions = 0;
    if (c["account_count"].get_int64().get(accounts) != simdjson::SUCCESS) accounts = 0;
    if (c["interactions"].get_int64().get(interactions) != simdjson::SUCCESS) interactions = 0;
    std::vector<std::string> reasons;
    simdjson::dom::array arr;
    if (c["reasons"].get_array().get(arr) == simdjson::SUCCESS) {
      for (element r : arr) reasons.push_back(Str(r));
    }
    std::string capabilities;
    object caps;
    if (c["capabilities"].get_object().get(caps) == simdjson::SUCCESS) {
      for (auto [k, v] : caps) {
        int64_t n = 0;
        if (v.get_int64().get(n) != simdjson::SUCCESS) n = 0;
        capabilities += fmt::format("{}{} {}", capabilities.empty() ? "" : ", ", std::string_view(k), n);
      }
    }
    std::string models;
    object ms;
    if (c["models"].get_object().get(ms) == simdjson::SUCCESS) {
      for (auto [k, v] : ms) models += (models.empty() ? "" : ", ") + std::string(std::string_view(k));
    }
    {
      Obj o = Common("campaign", campaign_ref, created, identity);
      o.Add("name", "distillguard " + cid);
      std::string desc = fmt::format("Distillation campaign: {} accounts, {} interactions. Capabilities targeted: {}. Models: {}. "
                                     "Reasons: {}.",
                                     accounts, interactions, capabilities.empty() ? "n/a" : capabilities,
                                     models.empty() ? "n/a" : models, fmt::join(reasons, ", "));
      if (options.include_prompts && c["samples"].get_array().get(arr) == simdjson::SUCCESS) {
        for (element s : arr) desc += " Sample (redacted): " + Str(s);
      }
      o.Add("description", desc);
      o.Raw("objective", "\"harvest model outputs to train another model (distillation)\"");
      if (!first_seen.empty()) o.Add("first_seen", first_seen);
      if (const std::string last = Field(c, "last_seen"); !last.empty()) o.Add("last_seen", last);
      objects.push_back(o.json + "}");
    }
    if (c["indicators"].get_array().get(arr) != simdjson::SUCCESS) continue;
    for (element ie : arr) {
      object io;
      if (ie.get_object().get(io) != simdjson::SUCCESS) continue;
      const std::string kind = Field(io, "kind");
      const std::string value = Field(io, "value");
      // A prompt-content value under --no-samples: an opaque key of this
      // run's, nothing a partner could match. (Content kinds only: a client
      // could name its user agent "fingerprint ..." to stay unshared.)
      const bool content = kind == "prompt_template" || kind == "system_prompt" || kind == "prompt_frame";
      if (content && value.starts_with("fingerprint ")) continue;
      std::string pattern, name;
      if (kind == "ip_prefix") {
        pattern = fmt::format("[{}:value = {}]", value.find(':') != std::string::npos ? "ipv6-addr" : "ipv4-addr", PatternLiteral(value));
        name = "address block " + value;
      } else if (kind == "payment" || kind == "payment_fingerprint") {  // the second: campaigns.jsonl before the names were unified
        pattern = "[x-distillguard-payment:fingerprint = " + PatternLiteral(value) + "]";
        name = "payment fingerprint " + value;
      } else if (kind == "client") {
        const std::string ua = value.substr(0, value.find(" max_tokens="));
        if (ua.empty()) continue;
        pattern = "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = " + PatternLiteral(ua) + "]";
        name = "client " + ua;
      } else if (options.include_prompts && (kind == "prompt_template" || kind == "system_prompt" || kind == "prompt_frame")) {
        pattern = "[x-distillguard-prompt:" + kind + " = " + PatternLiteral(value) + "]";
        name = kind + " (redacted)";
      } else {
        continue;
      }
      const std::string ind_ref = StixId("indicator", campaign_ref + "/" + pattern);
      Obj o = Common("indicator", ind_ref, created, identity);
      o.Add("name", name);
      o.Raw("indicator_types", "[\"malicious-activity\"]");
      o.Add("pattern", pattern);
      o.Add("pattern_type", "stix");
      o.Add("valid_from", first_seen.empty() ? created : first_seen);
      objects.push_back(o.json + "}");
      Obj r = Common("relationship", StixId("relationship", ind_ref + "/indicates/" + campaign_ref), created, identity);
      r.Add("relationship_type", "indicates");
      r.Add("source_ref", ind_ref);
      r.Add("target_ref", campaign_ref);
      objects.push_back(r.json + "}");
    }
  }
  if (!options.campaign_id.empty() && exported == 0) {
    return absl::NotFoundError("no campaign " + options.campaign_id);
  }
  std::string out = "{\"type\":\"bundle\",\"id\":\"" + StixId("bundle", created + identity + std::to_string(objects.size())) +
                    "\",\"objects\":[\n";
  for (size_t i = 0; i < objects.size(); ++i) out += objects[i] + (i + 1 < objects.size() ? ",\n" : "\n");
  out += "]}\n";
  return out;
}

std::vector<std::string> ValidateStixObject(std::string_view object_json) {
  std::vector<std::string> problems;
  simdjson::dom::parser parser;
  element doc;
  object o;
  if (parser.parse(object_json.data(), object_json.size()).get(doc) != simdjson::SUCCESS || doc.get_object().get(o) != simdjson::SUCCESS) {
    return {"not a JSON object"};
  }
  const std::string type = Field(o, "type");
  // The type as it appears in messages: bounded, like every quoted value.
  const std::string t = type.empty() ? "?" : type.size() <= kMaxShownBytes ? type : Shown(type);
  auto need = [&](const char* key) {
    if (Field(o, key).empty()) problems.push_back(fmt::format("{}: required property '{}' missing or not a string", t, key));
  };
  need("type");
  need("id");
  const std::string id = Field(o, "id");
  if (!id.empty() && !IsStixId(id, type)) problems.push_back(fmt::format("{}: id {} is not '{}--<UUID>'", t, Shown(id), t));
  if (type == "bundle") return problems;
  need("spec_version");
  if (Field(o, "spec_version") != "2.1") problems.push_back(t + ": spec_version must be \"2.1\"");
  for (const char* ts : {"created", "modified"}) {
    need(ts);
    const std::string v = Field(o, ts);
    if (!v.empty() && !IsStixTimestamp(v)) problems.push_back(fmt::format("{}: {} {} is not a STIX timestamp", t, ts, Shown(v)));
  }
  if (type == "campaign" || type == "identity") need("name");
  if (type == "indicator") {
    need("pattern");
    need("pattern_type");
    need("valid_from");
    const std::string until = Field(o, "valid_until");
    if (!until.empty() && !IsStixTimestamp(until)) problems.push_back(fmt::format("{}: valid_until {} is not a STIX timestamp", t, Shown(until)));
  }
  if (type == "relationship") {
    need("relationship_type");
    need("source_ref");
    need("target_ref");
  }
  return problems;
}

absl::StatusOr<StixImport> ImportStix(std::string_view bundle_json, const StixImportOptions& options) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(bundle_json.data(), bundle_json.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("bundle: not valid JSON");
  }
  object b;
  simdjson::dom::array objects;
  if (doc.get_object().get(b) != simdjson::SUCCESS || Field(b, "type") != "bundle" || b["objects"].get_array().get(objects) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("bundle: expected a STIX 2.1 bundle ({\"type\": \"bundle\", \"objects\": [...]})");
  }
  StixImport out;
  const TimeMs now = options.clock();
  std::vector<StixComparison> comparisons;
  size_t index = 0;
  for (element e : objects) {
    ++index;
    ++out.objects;
    object o;
    if (e.get_object().get(o) != simdjson::SUCCESS || Field(o, "type") != "indicator") continue;
    if (const auto problems = ValidateStixObject(simdjson::minify(e)); !problems.empty()) {
      return absl::InvalidArgumentError(fmt::format("bundle object {}: {}", index, problems.front()));
    }
    auto skip = [&](const std::string& reason) {
      ++out.skipped[reason];
      ++out.skipped_patterns;
    };
    bool revoked = false;
    if (o["revoked"].get_bool().get(revoked) == simdjson::SUCCESS && revoked) {
      skip("revoked");
      continue;
    }
    if (const std::string until = Field(o, "valid_until"); !until.empty()) {
      const auto t = ParseRfc3339(until);
      if (!t) {
        skip("valid_until not a date");
        continue;
      }
      if (*t <= now) {
        skip("expired (valid_until in the past)");
        continue;
      }
    }
    if (Field(o, "pattern_type") != "stix") {
      skip("pattern_type is not stix");
      continue;
    }
    const std::string pattern = Field(o, "pattern");
    if (pattern.size() > options.max_pattern_bytes) {
      skip(fmt::format("pattern over {} bytes", options.max_pattern_bytes));
      continue;
    }
    if (const std::string why = ParseStixPattern(pattern, &comparisons); !why.empty()) {
      skip(why);
      continue;
    }
    const std::string creator = Field(o, "created_by_ref");
    const std::string source = Field(o, "id") + (IsStixId(creator, "identity") ? " (" + creator + ")" : "");
    bool used = false;
    for (const StixComparison& cmp : comparisons) {
      std::string kind;
      if ((cmp.object == "ipv4-addr" || cmp.object == "ipv6-addr") && cmp.path == "value") kind = "ip_prefix";
      else if (cmp.object == "x-distillguard-payment" && cmp.path == "fingerprint") kind = "payment";
      else if (cmp.object == "network-traffic" && cmp.path == "extensions.'http-request-ext'.request_header.'User-Agent'") kind = "client";
      if (kind.empty() || cmp.value.empty()) continue;
      out.indicators.push_back({kind, cmp.value, source});
      used = true;
    }
    if (!used) skip("no comparison of a kind this engine uses");
  }
  return out;
}

}  // namespace dg
