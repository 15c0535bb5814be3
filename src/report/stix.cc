#include "report/stix.h"

#include <chrono>
#include <regex>

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
  const char variant = "89ab"[std::stoi(hex.substr(16, 1), nullptr, 16) & 3];
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


}  // namespace

std::optional<std::vector<std::string>> CampaignObjects(std::string_view campaigns_json, std::string* error) {
  std::vector<std::string> out;
  const size_t first = campaigns_json.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && campaigns_json.substr(first, 13).find("\"campaigns\"") != std::string_view::npos) {
    simdjson::dom::parser parser;
    element doc;
    simdjson::dom::array arr;
    if (parser.parse(campaigns_json.data(), campaigns_json.size()).get(doc) != simdjson::SUCCESS ||
        doc["campaigns"].get_array().get(arr) != simdjson::SUCCESS) {
      *error = "campaigns: not a {\"campaigns\": [...]} document";
      return std::nullopt;
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

std::optional<std::string> ExportStix(std::string_view campaigns_json, const StixExportOptions& options, std::string* error) {
  auto campaign_texts = CampaignObjects(campaigns_json, error);
  if (!campaign_texts) return std::nullopt;
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
      *error = fmt::format("campaigns:{}: not a JSON object", ci + 1);
      return std::nullopt;
    }
    const std::string cid = Field(c, "campaign_id");
    if (cid.empty()) {
      *error = fmt::format("campaigns:{}: field 'campaign_id': missing", ci + 1);
      return std::nullopt;
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
    *error = "no campaign " + options.campaign_id;
    return std::nullopt;
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
  auto need = [&](const char* key) {
    if (Field(o, key).empty()) problems.push_back(fmt::format("{}: required property '{}' missing or not a string", type.empty() ? "?" : type, key));
  };
  static const std::regex id_re(R"(^[a-z0-9][a-z0-9-]*[a-z0-9]--[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$)");
  static const std::regex ts_re(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$)");
  need("type");
  need("id");
  const std::string id = Field(o, "id");
  if (!id.empty() && (!std::regex_match(id, id_re) || id.substr(0, id.find("--")) != type)) {
    problems.push_back(type + ": id '" + id + "' is not '" + type + "--<UUID>'");
  }
  if (type == "bundle") return problems;
  need("spec_version");
  if (Field(o, "spec_version") != "2.1") problems.push_back(type + ": spec_version must be \"2.1\"");
  for (const char* ts : {"created", "modified"}) {
    need(ts);
    const std::string v = Field(o, ts);
    if (!v.empty() && !std::regex_match(v, ts_re)) problems.push_back(fmt::format("{}: {} '{}' is not a STIX timestamp", type, ts, v));
  }
  if (type == "campaign" || type == "identity") need("name");
  if (type == "indicator") {
    need("pattern");
    need("pattern_type");
    need("valid_from");
  }
  if (type == "relationship") {
    need("relationship_type");
    need("source_ref");
    need("target_ref");
  }
  return problems;
}

std::optional<StixImport> ImportStix(std::string_view bundle_json, std::string* error) {
  simdjson::dom::parser parser;
  element doc;
  if (parser.parse(bundle_json.data(), bundle_json.size()).get(doc) != simdjson::SUCCESS) {
    *error = "bundle: not valid JSON";
    return std::nullopt;
  }
  object b;
  simdjson::dom::array objects;
  if (doc.get_object().get(b) != simdjson::SUCCESS || Field(b, "type") != "bundle" || b["objects"].get_array().get(objects) != simdjson::SUCCESS) {
    *error = "bundle: expected a STIX 2.1 bundle ({\"type\": \"bundle\", \"objects\": [...]})";
    return std::nullopt;
  }
  StixImport out;
  // One comparison: <object-path> = '<literal>'.
  static const std::regex cmp_re(R"(([a-z0-9-]+):([A-Za-z0-9_.'-]+)\s*=\s*'((?:[^'\\]|\\.)*)')");
  size_t index = 0;
  for (element e : objects) {
    ++index;
    ++out.objects;
    const std::string text = simdjson::minify(e);
    object o;
    if (e.get_object().get(o) != simdjson::SUCCESS || Field(o, "type") != "indicator") continue;
    if (const auto problems = ValidateStixObject(text); !problems.empty()) {
      *error = fmt::format("bundle object {}: {}", index, problems.front());
      return std::nullopt;
    }
    if (Field(o, "pattern_type") != "stix") {
      ++out.skipped_patterns;
      continue;
    }
    const std::string pattern = Field(o, "pattern");
    const std::string source = Field(o, "id") + (Field(o, "created_by_ref").empty() ? "" : " (" + Field(o, "created_by_ref") + ")");
    bool used = false;
    for (std::sregex_iterator it(pattern.begin(), pattern.end(), cmp_re), end; it != end; ++it) {
      const std::string obj = (*it)[1], path = (*it)[2];
      std::string value;
      const std::string raw = (*it)[3];
      for (size_t i = 0; i < raw.size(); ++i) value += raw[i] == '\\' && i + 1 < raw.size() ? raw[++i] : raw[i];
      std::string kind;
      if ((obj == "ipv4-addr" || obj == "ipv6-addr") && path == "value") kind = "ip_prefix";
      else if (obj == "x-distillguard-payment" && path == "fingerprint") kind = "payment";
      else if (obj == "network-traffic" && path.find("'User-Agent'") != std::string::npos) kind = "client";
      if (kind.empty()) continue;
      out.indicators.push_back({kind, value, source});
      used = true;
    }
    if (!used) ++out.skipped_patterns;
  }
  return out;
}

}  // namespace dg
