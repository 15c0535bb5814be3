// libFuzzer: the cluster's event records (src/cluster/event_codec.h) as a
// worker receives them from the stream -- any bytes are decoded or refused,
// never half-read; a decoded record encodes back to the same bytes; the
// KV account keys a decision node watches, and the values of its watched
// buckets (dg_verdicts, dg_overrides).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/event_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  uint64_t seq = 0;
  dg::Interaction in;
  if (dg::DecodeEvent(bytes, &seq, &in) && dg::EncodeEvent(seq, in) != bytes) std::abort();
  std::string account;
  if (dg::AccountFromKey(bytes, &account) && dg::AccountKey(account) != bytes) std::abort();
  // A bucket value: parsed or refused; an accepted one holds nothing longer than the value.
  dg::VerdictEntry entry;
  if (dg::ParseVerdictEntry(bytes, &entry) && entry.campaign_id.size() > size) std::abort();
  (void)dg::ParseOverrideEntry(bytes);
  return 0;
}
