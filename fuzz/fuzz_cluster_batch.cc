// libFuzzer: the cluster's batch messages (src/cluster/batch_codec.h) as a
// worker or the correlator receives them from a stream -- any bytes are
// split into records or refused with a reason, never half-read; an accepted
// batch is built back to the same bytes; every record is then offered to
// the event decoder, as the worker does.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/batch_codec.h"
#include "cluster/event_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> records;
  const absl::Status s = dg::DecodeBatch(bytes, &records);
  if (!s.ok()) {
    if (!records.empty() || s.message().empty()) std::abort();
    return 0;
  }
  if (records.empty() || records.size() > dg::kMaxBatchRecords) std::abort();
  dg::BatchBuilder b;
  for (const std::string_view r : records) {
    if (r.data() < bytes.data() || r.data() + r.size() > bytes.data() + bytes.size()) std::abort();
    b.Add(r);
  }
  if (b.Take() != bytes) std::abort();
  for (const std::string_view r : records) {
    uint64_t seq = 0;
    dg::Interaction in;
    if (dg::DecodeEvent(r, &seq, &in) && dg::EncodeEvent(seq, in) != r) std::abort();
  }
  return 0;
}
