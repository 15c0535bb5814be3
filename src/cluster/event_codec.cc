#include "cluster/event_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include <simdjson.h>

#include "common/byte_io.h"
#include "common/json_out.h"
#include "signals/signals.h"

namespace dg {
namespace {

using Writer = ByteWriter;
using Reader = ByteReader;

}  // namespace

std::string EncodeEvent(uint64_t global_seq, const Interaction& in) {
  std::string out;
  size_t text = in.system.size() + in.response_text.size();
  for (const Message& m : in.messages) text += m.text.size() + 12;
  out.reserve(256 + text);
  Writer w(&out);
  w.Put<uint8_t>(kEventCodecVersion);
  w.Put<uint64_t>(global_seq);
  w.Put<int64_t>(in.ts);
  w.Put<int64_t>(in.account_created_at);
  for (const std::string* s : {&in.request_id, &in.account_id, &in.org_id, &in.api_key_id, &in.ip, &in.user_agent,
                               &in.payment_fingerprint, &in.email_domain, &in.country, &in.verification, &in.model,
                               &in.system, &in.conversation_id, &in.response_text, &in.stop_reason}) {
    w.Str(*s);
  }
  w.Put<int8_t>(in.org_verified);
  w.Put<uint32_t>(static_cast<uint32_t>(in.messages.size()));
  for (const Message& m : in.messages) {
    w.Put<uint8_t>(static_cast<uint8_t>(m.role));
    w.Str(m.text);
    w.Put<uint16_t>(m.tool_use_blocks);
    w.Put<uint16_t>(m.tool_result_blocks);
    w.Put<uint16_t>(m.other_blocks);
  }
  w.Put<uint32_t>(static_cast<uint32_t>(in.tool_names.size()));
  for (const std::string& t : in.tool_names) w.Str(t);
  w.Put<uint64_t>(in.tools_hash);
  w.Put<int64_t>(in.max_tokens);
  w.Put<double>(in.temperature);
  w.Put<uint8_t>(in.has_response ? 1 : 0);
  w.Put<int64_t>(in.input_tokens);
  w.Put<int64_t>(in.output_tokens);
  w.Put<int64_t>(in.reasoning_tokens);
  w.Put<uint32_t>(in.source_index);
  w.Put<uint64_t>(in.line);
  w.Put<uint64_t>(in.seq);
  return out;
}

bool PeekEventSequence(std::string_view record, uint64_t* global_seq) {
  Reader r(record);
  uint8_t version = 0;
  return r.Get(&version) && version == kEventCodecVersion && r.Get(global_seq);
}

bool DecodeEvent(std::string_view record, uint64_t* global_seq, Interaction* in) {
  Reader r(record);
  uint8_t version = 0;
  if (!r.Get(&version) || version != kEventCodecVersion) return false;
  if (!r.Get(global_seq) || !r.Get(&in->ts) || !r.Get(&in->account_created_at)) return false;
  for (std::string* s : {&in->request_id, &in->account_id, &in->org_id, &in->api_key_id, &in->ip, &in->user_agent,
                         &in->payment_fingerprint, &in->email_domain, &in->country, &in->verification, &in->model,
                         &in->system, &in->conversation_id, &in->response_text, &in->stop_reason}) {
    if (!r.Str(s)) return false;
  }
  uint32_t n = 0;
  if (!r.Get(&in->org_verified) || !r.Get(&n) || n > kMaxEventMessages) return false;
  in->messages.resize(n);
  for (Message& m : in->messages) {
    uint8_t role = 0;
    if (!r.Get(&role) || role > static_cast<uint8_t>(Role::kAssistant)) return false;
    m.role = static_cast<Role>(role);
    if (!r.Str(&m.text) || !r.Get(&m.tool_use_blocks) || !r.Get(&m.tool_result_blocks) || !r.Get(&m.other_blocks)) {
      return false;
    }
  }
  if (!r.Get(&n) || n > kMaxEventToolNames) return false;
  in->tool_names.resize(n);
  for (std::string& t : in->tool_names) {
    if (!r.Str(&t)) return false;
  }
  uint8_t has_response = 0;
  if (!r.Get(&in->tools_hash) || !r.Get(&in->max_tokens) || !r.Get(&in->temperature) || !r.Get(&has_response) ||
      has_response > 1) {
    return false;
  }
  in->has_response = has_response == 1;
  if (!r.Get(&in->input_tokens) || !r.Get(&in->output_tokens) || !r.Get(&in->reasoning_tokens) ||
      !r.Get(&in->source_index) || !r.Get(&in->line) || !r.Get(&in->seq)) {
    return false;
  }
  return r.done();
}

namespace {

// A bucket value as a JSON document, parsed by this thread's parser (the
// element lives until this thread parses the next value).
simdjson::simdjson_result<simdjson::dom::element> ParseBucketValue(std::string_view value) {
  thread_local simdjson::dom::parser parser;
  return parser.parse(value.data(), value.size());  // copies into the parser's padded buffer
}

// A value's "campaign_id": present, non-empty and at most kMaxCampaignIdBytes.
bool CampaignIdField(simdjson::simdjson_result<simdjson::dom::element>& doc, std::string_view* campaign) {
  return doc["campaign_id"].get_string().get(*campaign) == simdjson::SUCCESS && !campaign->empty() &&
         campaign->size() <= kMaxCampaignIdBytes;
}

std::string HexKey(std::string_view prefix, std::string_view id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key(prefix);
  key.reserve(prefix.size() + 2 * id.size());
  for (const unsigned char c : id) {
    key.push_back(kHex[c >> 4]);
    key.push_back(kHex[c & 15]);
  }
  return key;
}

int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool FromHexKey(std::string_view prefix, std::string_view key, std::string* id) {
  if (key.size() < prefix.size() || key.substr(0, prefix.size()) != prefix || (key.size() - prefix.size()) % 2 != 0) {
    return false;
  }
  id->clear();
  for (size_t pos = prefix.size(); pos < key.size(); pos += 2) {
    const int hi = Nibble(key[pos]), lo = Nibble(key[pos + 1]);
    if (hi < 0 || lo < 0) return false;
    id->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

}  // namespace

std::string AccountKey(std::string_view account_id) { return HexKey("a.", account_id); }

bool AccountFromKey(std::string_view key, std::string* account_id) { return FromHexKey("a.", key, account_id); }

std::string CampaignKey(std::string_view campaign_id) { return HexKey("c.", campaign_id); }

bool CampaignFromKey(std::string_view key, std::string* campaign_id) {
  return FromHexKey("c.", key, campaign_id) && !campaign_id->empty();
}

std::optional<IndicatorKind> SharedKindByName(std::string_view name) {
  // Only the names serve writes: one key per (kind, value).
  const std::optional<IndicatorKind> k = IndicatorKindByName(name);
  if (k && (*k == IndicatorKind::kPayment || *k == IndicatorKind::kIpPrefix || *k == IndicatorKind::kClient)) return k;
  return std::nullopt;
}

std::string SharedIndicatorKey(std::string_view kind, std::string_view value) {
  std::string raw(kind);
  raw += '\x1f';
  raw += value;
  return HexKey("s.", raw);
}

bool SharedIndicatorFromKey(std::string_view key, std::string* kind, std::string* value) {
  std::string raw;
  if (!FromHexKey("s.", key, &raw)) return false;
  const size_t sep = raw.find('\x1f');
  if (sep == std::string::npos || sep == 0 || sep + 1 == raw.size()) return false;
  kind->assign(raw, 0, sep);
  value->assign(raw, sep + 1);
  return true;
}

std::string FormatSharedIndicator(const SharedIndicatorRecord& r) {
  std::string out = "{\"kind\":";
  AppendJsonString(out, r.kind);
  out += ",\"value\":";
  AppendJsonString(out, r.value);
  out += ",\"source\":";
  AppendJsonString(out, r.source);
  out += ",\"trust\":";
  AppendJsonString(out, r.trust);
  out += ",\"imported_at\":";
  AppendJsonString(out, r.imported_at);
  out += "}";
  return out;
}

bool ParseSharedIndicator(std::string_view value, SharedIndicatorRecord* out, IndicatorKind* kind_out) {
  auto doc = ParseBucketValue(value);
  std::string_view kind, v, source, trust, at;
  if (doc.error() || doc["kind"].get_string().get(kind) != simdjson::SUCCESS ||
      doc["value"].get_string().get(v) != simdjson::SUCCESS || doc["trust"].get_string().get(trust) != simdjson::SUCCESS ||
      !SharedTrustByName(trust)) {
    return false;
  }
  if (doc["source"].get_string().get(source) != simdjson::SUCCESS) source = {};
  if (v.size() > kMaxSharedValueBytes || source.size() > kMaxSharedValueBytes) return false;
  if (doc["imported_at"].get_string().get(at) != simdjson::SUCCESS) at = {};
  const std::optional<IndicatorKind> k = SharedKindByName(kind);
  if (!k) return false;
  const std::string raw(v);
  const std::optional<std::string> canonical = SharedIndicators::Canonical(*k, raw);
  if (!canonical || *canonical != raw) return false;
  out->kind.assign(kind);
  out->value = raw;
  out->source.assign(source);
  out->trust.assign(trust);
  out->imported_at.assign(at);
  *kind_out = *k;
  return true;
}

std::string RequestValueKey(uint64_t index_key) { return fmt::format("k.{:016x}", index_key); }

bool RequestValueFromKey(std::string_view key, uint64_t* index_key) {
  if (key.size() != 18 || key.substr(0, 2) != "k.") return false;
  uint64_t v = 0;
  for (size_t pos = 2; pos < key.size(); ++pos) {
    const int d = Nibble(key[pos]);
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *index_key = v;
  return true;
}

std::string FormatRequestValueEntry(const std::string& campaign_id, const ValueEvidence& v) {
  std::string out = "{\"campaign_id\":";
  AppendJsonString(out, campaign_id);
  out += fmt::format(",\"kind\":\"{}\",\"root\":{},\"evidence\":{}}}", IndicatorKindName(v.kind), v.root, v.evidence);
  return out;
}

bool ParseRequestValueEntry(std::string_view value, RequestValueEntry* out) {
  auto doc = ParseBucketValue(value);
  std::string_view campaign, kind;
  uint64_t root = 0;
  double evidence = 0;
  if (doc.error() || !CampaignIdField(doc, &campaign) || doc["kind"].get_string().get(kind) != simdjson::SUCCESS ||
      doc["root"].get_uint64().get(root) != simdjson::SUCCESS || root > UINT32_MAX ||
      doc["evidence"].get_double().get(evidence) != simdjson::SUCCESS || !std::isfinite(evidence) || evidence < 0) {
    return false;
  }
  const std::optional<IndicatorKind> k = IndicatorKindByName(kind);
  if (!k || (*k != IndicatorKind::kPayment && *k != IndicatorKind::kIpPrefix)) return false;
  out->campaign_id.assign(campaign);
  out->value = ValueEvidence{*k, static_cast<uint32_t>(root), evidence};
  return true;
}

std::string FormatCampaignEntry(const CampaignMatch& c, size_t members) {
  std::string out = "{\"campaign_id\":";
  AppendJsonString(out, c.campaign_id);
  out += fmt::format(",\"members\":{},\"score\":{},\"measuring\":{},\"one_customer\":{}}}", members, c.campaign_score,
                     c.measuring, c.one_customer);
  return out;
}

bool ParseCampaignEntry(std::string_view value, CampaignMatch* out, uint64_t* members) {
  auto doc = ParseBucketValue(value);
  std::string_view campaign;
  double score = 0;
  if (doc.error() || !CampaignIdField(doc, &campaign) || doc["score"].get_double().get(score) != simdjson::SUCCESS ||
      !std::isfinite(score)) {
    return false;
  }
  bool measuring = false, one_customer = false;
  if (doc["measuring"].get_bool().get(measuring) != simdjson::SUCCESS) measuring = false;
  if (doc["one_customer"].get_bool().get(one_customer) != simdjson::SUCCESS) one_customer = false;
  uint64_t n = 0;
  if (doc["members"].get_uint64().get(n) != simdjson::SUCCESS) n = 0;
  if (members != nullptr) *members = n;
  *out = CampaignMatch{};
  out->campaign_id.assign(campaign);
  out->campaign_score = score;
  out->measuring = measuring;
  out->one_customer = one_customer;
  return true;
}

bool ParseVerdictEntry(std::string_view value, VerdictEntry* out) {
  auto doc = ParseBucketValue(value);
  std::string_view verdict, campaign;
  if (doc.error() || doc["verdict"].get_string().get(verdict) != simdjson::SUCCESS) return false;
  if (verdict == "block") out->verdict = Verdict::kBlock;
  else if (verdict == "review") out->verdict = Verdict::kReview;
  else if (verdict == "allow") out->verdict = Verdict::kAllow;
  else return false;
  uint64_t interactions = 0;
  if (doc["score"].get_double().get(out->score) != simdjson::SUCCESS) out->score = 0;
  if (doc["campaign_id"].get_string().get(campaign) != simdjson::SUCCESS) campaign = {};
  // Reasons by name; a name this version does not know is skipped, and a
  // number (the bits of a version before names) is read as none: bits
  // renumber when a reason is added.
  out->reasons = 0;
  simdjson::dom::array names;
  if (doc["reasons"].get_array().get(names) == simdjson::SUCCESS) {
    for (simdjson::dom::element item : names) {
      std::string_view name;
      if (item.get_string().get(name) != simdjson::SUCCESS) continue;
      if (const auto r = ReasonByName(name)) out->reasons |= Bit(*r);
    }
  }
  if (doc["interactions"].get_uint64().get(interactions) != simdjson::SUCCESS) interactions = 0;
  out->interactions = static_cast<uint32_t>(std::min<uint64_t>(interactions, UINT32_MAX));
  out->campaign_id.assign(campaign);
  return true;
}

std::optional<Verdict> OverrideActionVerdict(std::string_view action) {
  if (action == "allow") return Verdict::kAllow;
  if (action == "block") return Verdict::kBlock;
  if (action == "clear") return Verdict::kReview;
  return std::nullopt;
}

std::optional<Verdict> ParseOverrideEntry(std::string_view value) {
  auto doc = ParseBucketValue(value);
  std::string_view action;
  if (doc.error() || doc["action"].get_string().get(action) != simdjson::SUCCESS) return std::nullopt;
  return OverrideActionVerdict(action);
}

}  // namespace dg
