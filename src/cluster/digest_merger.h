// DigestMerger: the digest partitions (dg.digests.<p>) merged back into the
// global sequence the publisher or sequencer numbered -- what the
// correlator applies to its engine, and what an analyst replica on a
// `serve --nats` node follows (docs/SCALE.md).
//
// One durable pull consumer and one fetching thread per partition fill a
// buffer ordered by sequence number; Take hands out the contiguous run from
// the next number expected, in order. A digest whose number was already
// handed out, or is already held, is dropped and counted (a resend or a
// redelivery: applied once). A malformed batch or record is counted,
// described on stderr (the first 20) and skipped; an empty record is a
// worker's placeholder for a number it could not decode (handed out empty,
// so the sequence moves on), and a real digest replaces a placeholder still
// held.
//
// Cost: a fetch round trip per 16 messages (up to 64 digests each) per
// partition, overlapped across partitions; a map insert and erase per
// digest. Memory: at most `per_partition` digests held per partition (plus
// one fetch): the next one is always reachable, since a partition's digests
// are out of order by at most a publish window.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include "cluster/jetstream.h"
#include "common/status.h"

namespace dg {

inline constexpr char kDigestsStream[] = "DG_DIGESTS";
std::string DigestsSubject(int p);

// Runs fn(0..n-1) on a thread each (n is a node's partition count: small)
// and returns the first error.
absl::Status ForEachParallel(size_t n, const std::function<absl::Status(size_t)>& fn);

class DigestMerger {
 public:
  struct Counters {
    std::atomic<uint64_t> duplicates{0}, bad_batches{0}, bad_records{0}, fetch_errors{0}, buffered{0};
  };
  // Consumers "<durable_prefix><p>", each made again at stream sequence
  // pos[p] (0: the start); `next`: the first sequence number expected.
  // `who` names the node in what it reports. Counters outlive the merger.
  // inactive_s > 0: consumers the server deletes once unused that long
  // (PullConsumer::Create), for a node whose consumers are its own.
  static absl::StatusOr<std::unique_ptr<DigestMerger>> Start(NatsLink* link, int partitions, const std::string& durable_prefix,
                                                             const std::vector<uint64_t>& pos, uint64_t next,
                                                             size_t per_partition, std::string who, Counters* counters,
                                                             int64_t inactive_s = 0);
  ~DigestMerger();  // stops and joins the fetching threads
  DigestMerger(const DigestMerger&) = delete;
  DigestMerger& operator=(const DigestMerger&) = delete;

  // Appends the contiguous run from the next expected number to *run (an
  // empty record: a placeholder, never to be applied); waits up to wait_ms
  // when there is none yet.
  void Take(std::vector<std::string>* run, int wait_ms);
  // Where a restart resumes: returns the next expected number and fills
  // pos[p] with the stream sequence partition p's consumer starts from --
  // the oldest digest message still held for p, else one past the last
  // fetched -- so every digest at or after that number comes again.
  uint64_t Positions(std::vector<uint64_t>* pos) const;
  // Messages the consumers have not yet delivered or had acknowledged.
  uint64_t Lag() const;

 private:
  DigestMerger() = default;
  void Fetch(int p);
  struct Held {
    std::string record;   // empty: a placeholder
    int p;
    uint64_t stream_seq;  // of the digest message it came in
  };
  std::string who_;
  Counters* m_ = nullptr;
  size_t per_partition_ = 0;
  std::vector<std::unique_ptr<PullConsumer>> consumers_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, Held> held_;           // under mu_
  std::vector<size_t> held_per_;            // under mu_
  std::vector<uint64_t> fetched_through_;   // under mu_: per partition, the last message taken in
  uint64_t next_ = 0;                       // under mu_
  std::atomic<bool> quit_{false};
  std::vector<std::thread> threads_;
};

}  // namespace dg
