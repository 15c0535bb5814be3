// libFuzzer: the two configuration languages an operator (or an attacker
// with write access to a config repository) controls -- the policy and the
// field mapping, both TOML. Errors must be messages, never crashes.
#include <cstdint>
#include <string>
#include <string_view>

#include "policy/policy.h"
#include "ingest/mapping.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string error;
  (void)dg::Policy::FromToml(text, "fuzz.toml", &error);
  (void)dg::FieldMapping::FromToml(text, "fuzz.toml", &error);
  return 0;
}
