// libFuzzer: one JSONL line through everything that reads it -- the record
// parser (canonical, OpenAI and litellm shapes, and a mapping that uses
// every transform: lists, ports, epoch units, naive time, JSON in a string,
// numbers from strings, content blocks to text, a record filter, and every
// shipped preset), content digest, the serve
// log's wire encoding (decode(encode(x)) must give x's fields back), and
// the engine (one instance across inputs, so state builds up as in a run).
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_out.h"
#include "content/analyzer.h"
#include "content/redact.h"
#include "engine/engine.h"
#include "ingest/parser.h"
#include "serve/wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static dg::RecordParser canonical(dg::FieldMapping::Canonical());
  static dg::RecordParser litellm(*dg::FieldMapping::Preset("litellm"));
  static dg::RecordParser transforms(*dg::FieldMapping::FromToml(R"(version = 1
[fields]
ts = { from = ["/t", "/ts"], epoch = "auto", tz = "+02:00" }
account_created_at = { from = "/c", tz = "-05:30", epoch = "ms" }
ip = { from = ["/xff", "/ip"], transforms = ["first_of_list", "strip_port"] }
messages = { from = ["/req", "/messages", "/input"], json = "/messages" }
model = { from = "/req", json = "/model" }
system = { from = "/system", transforms = ["text"] }
max_tokens = { from = "/p/max_tokens", transforms = ["to_number"] }
temperature = { from = "/p/temperature", transforms = ["first_of_list", "to_number"] }
response_content = { from = ["/resp", "/output"], json = "", transforms = ["text"] }
org_id = { value = "o" }
[filter]
field = "/call_type"
not_in = ["embedding"]
)", "fuzz.toml"));
  static std::vector<std::unique_ptr<dg::RecordParser>> presets = [] {
    std::vector<std::unique_ptr<dg::RecordParser>> v;
    for (const auto& name : dg::FieldMapping::PresetNames()) v.push_back(std::make_unique<dg::RecordParser>(*dg::FieldMapping::Preset(name)));
    return v;
  }();
  static dg::Engine engine(dg::Policy::Defaults());
  static dg::TokenStream scratch;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  dg::Interaction in;
  if (!canonical.Parse(line, false, &in)) {
    dg::ContentDigest digest;
    dg::DigestContent(in, &scratch, &digest);
    const std::string rec = dg::EncodeRecord(in, digest);
    dg::Interaction back;
    dg::ContentDigest d2;
    if (!dg::DecodeRecord(rec, &back, &d2) || back.account_id != in.account_id || back.ts != in.ts ||
        back.request_id != in.request_id || d2.prompt_sig != digest.prompt_sig) {
      std::abort();  // the log must give back what was written
    }
    engine.Observe(in);
    dg::CheckRequest cr;
    cr.account_id = in.account_id;
    cr.ip = in.ip;
    cr.payment_fingerprint = in.payment_fingerprint;
    engine.Check(cr);
  }
  dg::Interaction other;
  (void)litellm.Parse(line, false, &other);
  (void)transforms.Parse(line, false, &other);
  for (auto& p : presets) (void)p->Parse(line, false, &other);
  // Arbitrary bytes as a logged record (a corrupted data directory).
  dg::Interaction r;
  dg::ContentDigest d;
  (void)dg::DecodeRecord(line, &r, &d);
  // The same bytes as text leaving the process: a redacted sample stays
  // within its bound; a JSON literal is valid UTF-8 without raw controls.
  if (dg::RedactSample(line, 240).size() > 243) std::abort();
  std::string json;
  dg::AppendJsonString(json, line);
  for (size_t pos = 0; pos < json.size();) {
    const size_t n = dg::Utf8SequenceLength(json, pos);
    if (n == 0 || static_cast<unsigned char>(json[pos]) < 0x20 || json[pos] == 0x7f) std::abort();
    pos += n;
  }
  (void)dg::LogSafe(line);
  return 0;
}
