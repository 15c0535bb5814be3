// libFuzzer: the two configuration languages an operator (or an attacker
// with write access to a config repository) controls -- the policy and the
// field mapping, both TOML. Errors must be messages, never crashes. A
// mapping that loads is then used on a few records, so fuzzed transforms
// (json, epoch, tz, filters, constants) run too.
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/policy.h"
#include "ingest/mapping.h"
#include "ingest/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)dg::Policy::FromToml(text, "fuzz.toml");
  if (auto m = dg::FieldMapping::FromToml(text, "fuzz.toml"); m.ok()) {
    dg::RecordParser parser(*m);
    dg::Interaction in;
    for (const char* line : {
             R"({"ts":"2026-05-01 12:00:00.123","request_id":"r","account_id":"a","ip":"203.0.113.7, 10.0.0.2:80","messages":[{"role":"user","content":"x"}]})",
             R"({"t":1777636800123,"id":"k","p":{"request":"{"messages":[{"role":"user","content":"hi"}],"max_tokens":"7"}"},"call_type":"completion"})",
             R"({"a":[{"type":"text","text":"s"}],"b":"[1,2]","c":"-","d":"","e":null,"f":{}})"}) {
      (void)parser.Parse(line, false, &in);
    }
  }
  return 0;
}
