#include "serve/wire.h"

#include <cstring>

#include "common/byte_io.h"

namespace dg {
namespace {

using Writer = ByteWriter;
using Reader = ByteReader;

}  // namespace

std::string EncodeRecord(const Interaction& in, const ContentDigest& d) {
  std::string out;
  out.reserve(160 + in.account_id.size() + in.user_agent.size() + (d.has_system_sig + d.has_prompt_sig + d.has_response_sig) * 128);
  Writer w(&out);
  w.Put<uint8_t>(kWireVersion);
  w.Put<int64_t>(in.ts);
  w.Put<int64_t>(in.account_created_at);
  for (const std::string* s : {&in.request_id, &in.account_id, &in.org_id, &in.api_key_id, &in.ip, &in.user_agent,
                               &in.payment_fingerprint, &in.email_domain, &in.model, &in.conversation_id}) {
    w.Str(*s);
  }
  w.Put<uint32_t>(static_cast<uint32_t>(in.tool_names.size()));
  for (const auto& t : in.tool_names) w.Str(t);
  const EventFeatures& f = d.features;
  w.Put<uint32_t>(f.flags);
  w.Put<uint8_t>(static_cast<uint8_t>(f.capability));
  w.Put<uint64_t>(f.frame_head);
  w.Put<uint64_t>(f.frame_tail);
  w.Put<uint64_t>(f.tools_hash);
  w.Put<uint32_t>(f.prompt_tokens);
  w.Put<int64_t>(f.max_tokens);
  w.Put<double>(f.temperature);
  w.Put<int64_t>(f.output_tokens);
  w.Put<int64_t>(f.input_tokens);
  w.Put<uint8_t>(static_cast<uint8_t>((f.single_turn ? 1 : 0) | (d.has_system_sig ? 2 : 0) | (d.has_prompt_sig ? 4 : 0) |
                                      (d.has_response_sig ? 8 : 0)));
  for (const auto* sig : {d.has_system_sig ? &d.system_sig : nullptr, d.has_prompt_sig ? &d.prompt_sig : nullptr,
                          d.has_response_sig ? &d.response_sig : nullptr}) {
    if (sig != nullptr) {
      for (const uint32_t v : *sig) w.Put<uint32_t>(v);
    }
  }
  w.Put<int64_t>(f.reasoning_tokens);
  w.Put<uint64_t>(f.response_fp);
  w.Put<uint8_t>(f.history_turns);
  for (size_t t = 0; t < f.history_turns; ++t) w.Put<uint64_t>(f.history_fp[t]);
  w.Put<uint64_t>(f.request_fp);
  return out;
}

bool DecodeRecord(std::string_view record, Interaction* in, ContentDigest* d) {
  Reader r(record);
  uint8_t version = 0;
  if (!r.Get(&version) || version < 1 || version > kWireVersion) return false;
  *in = Interaction{};
  *d = ContentDigest{};
  if (!r.Get(&in->ts) || !r.Get(&in->account_created_at)) return false;
  for (std::string* s : {&in->request_id, &in->account_id, &in->org_id, &in->api_key_id, &in->ip, &in->user_agent,
                         &in->payment_fingerprint, &in->email_domain, &in->model, &in->conversation_id}) {
    if (!r.Str(s)) return false;
  }
  uint32_t tools = 0;
  if (!r.Get(&tools) || tools > record.size()) return false;
  in->tool_names.resize(tools);
  for (auto& t : in->tool_names) {
    if (!r.Str(&t)) return false;
  }
  EventFeatures& f = d->features;
  uint8_t capability = 0, bits = 0;
  if (!r.Get(&f.flags) || !r.Get(&capability) || !r.Get(&f.frame_head) || !r.Get(&f.frame_tail) || !r.Get(&f.tools_hash) ||
      !r.Get(&f.prompt_tokens) || !r.Get(&f.max_tokens) || !r.Get(&f.temperature) || !r.Get(&f.output_tokens) ||
      !r.Get(&f.input_tokens) || !r.Get(&bits)) {
    return false;
  }
  if (capability >= kCapabilityCount) return false;
  f.capability = static_cast<Capability>(capability);
  f.ts = in->ts;
  f.single_turn = bits & 1;
  d->has_system_sig = bits & 2;
  d->has_prompt_sig = bits & 4;
  d->has_response_sig = bits & 8;
  in->tools_hash = f.tools_hash;
  in->max_tokens = f.max_tokens;
  in->temperature = f.temperature;
  for (auto [has, sig] : {std::pair{d->has_system_sig, &d->system_sig}, std::pair{d->has_prompt_sig, &d->prompt_sig},
                          std::pair{d->has_response_sig, &d->response_sig}}) {
    if (!has) continue;
    for (uint32_t& v : *sig) {
      if (!r.Get(&v)) return false;
    }
  }
  if (version >= 2) {
    if (!r.Get(&f.reasoning_tokens) || !r.Get(&f.response_fp) || !r.Get(&f.history_turns) ||
        f.history_turns > kHistoryFingerprints) {
      return false;
    }
    for (size_t t = 0; t < f.history_turns; ++t) {
      if (!r.Get(&f.history_fp[t])) return false;
    }
  }
  if (version >= 3 && !r.Get(&f.request_fp)) return false;
  return r.done();
}

}  // namespace dg
