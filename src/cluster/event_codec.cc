#include "cluster/event_codec.h"

#include <algorithm>
#include <cstring>

#include <simdjson.h>

#include "common/byte_io.h"

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

std::string AccountKey(std::string_view account_id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string key = "a.";
  key.reserve(2 + 2 * account_id.size());
  for (const unsigned char c : account_id) {
    key.push_back(kHex[c >> 4]);
    key.push_back(kHex[c & 15]);
  }
  return key;
}

bool AccountFromKey(std::string_view key, std::string* account_id) {
  if (key.size() < 2 || key.substr(0, 2) != "a." || key.size() % 2 != 0) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  account_id->clear();
  for (size_t pos = 2; pos < key.size(); pos += 2) {
    const int hi = nibble(key[pos]), lo = nibble(key[pos + 1]);
    if (hi < 0 || lo < 0) return false;
    account_id->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

bool ParseVerdictEntry(std::string_view value, VerdictEntry* out) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(value.data(), value.size());
  auto doc = parser.parse(padded);
  std::string_view verdict, campaign;
  if (doc.error() || doc["verdict"].get_string().get(verdict) != simdjson::SUCCESS) return false;
  if (verdict == "block") out->verdict = Verdict::kBlock;
  else if (verdict == "review") out->verdict = Verdict::kReview;
  else if (verdict == "allow") out->verdict = Verdict::kAllow;
  else return false;
  uint64_t reasons = 0, interactions = 0;
  if (doc["score"].get_double().get(out->score) != simdjson::SUCCESS) out->score = 0;
  if (doc["campaign_id"].get_string().get(campaign) != simdjson::SUCCESS) campaign = {};
  if (doc["reasons"].get_uint64().get(reasons) != simdjson::SUCCESS) reasons = 0;
  if (doc["interactions"].get_uint64().get(interactions) != simdjson::SUCCESS) interactions = 0;
  out->reasons = static_cast<uint32_t>(reasons);
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
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(value.data(), value.size());
  auto doc = parser.parse(padded);
  std::string_view action;
  if (doc.error() || doc["action"].get_string().get(action) != simdjson::SUCCESS) return std::nullopt;
  return OverrideActionVerdict(action);
}

}  // namespace dg
