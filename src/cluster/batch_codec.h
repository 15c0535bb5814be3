// Batch codec: many records in one JetStream message. Much of the NATS
// servers' cost is per message, so the publisher packs the events of one
// partition into one message on dg.events.<p>, and a worker answers each
// such message with one message of digests on dg.digests.<p>. Measured
// (BENCHMARKS.md): ~150 us of server CPU per event (three replicas) with
// one event per message, ~52 us with 64; past 64 what is left is per byte.
//
// Format: a version byte (kBatchCodecVersion, distinct from the event
// record's), a uint32 record count (1..kMaxBatchRecords), then per record a
// uint32 length and its bytes; host byte order as common/byte_io.h. The
// records are opaque here: event records (event_codec.h) on the events
// stream; an 8-byte global sequence number then the wire record
// (serve/wire.h) on the digests stream.
//
// DecodeBatch is a parser of outside input (anything may be published on a
// subject): it checks the version, the count bound and every length against
// the bytes left, and rejects trailing bytes, returning a status that says
// which; it never allocates beyond one string_view per record (at most
// kMaxBatchRecords), and a batch it accepts encodes back to the same bytes.
// Cost: O(message size) to build, O(records) to decode (no copy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <absl/status/status.h>

namespace dg {

inline constexpr uint8_t kBatchCodecVersion = 0xB1;
// The decoder's bound on records per message (the publisher's default is
// 64 events per message; this leaves room for larger settings, never for a
// hostile count).
inline constexpr uint32_t kMaxBatchRecords = 4096;

// Where the publisher cuts a partition's batch (PublishOptions).
struct BatchLimits {
  size_t max_records = 64;         // records per message
  size_t max_bytes = 256 * 1024;   // framed bytes per message (a single larger record goes alone)
};

// Builds one framed batch; reusable after Take().
class BatchBuilder {
 public:
  BatchBuilder();
  // Appends one record (`prefix` then `body`, as one record: the digest
  // stream's sequence number and wire record without a copy in between).
  void Add(std::string_view body, std::string_view prefix = {});
  size_t count() const { return count_; }
  size_t bytes() const { return out_.size(); }
  // The framed batch (count patched in); the builder is empty again.
  std::string Take();

 private:
  std::string out_;
  uint32_t count_ = 0;
};

// Splits a framed batch into its records (views into `message`). On error
// *records is left empty and the status says what is wrong (InvalidArgument).
absl::Status DecodeBatch(std::string_view message, std::vector<std::string_view>* records);

}  // namespace dg
