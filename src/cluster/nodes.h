// The cluster's nodes (docs/SCALE.md): the scan pipeline cut at its seam
// between the stateless half (parse, de-duplicate, order; digest content)
// and the stateful half (the Engine), with NATS JetStream in between.
//
//   publish     files -> IngestPipeline (parse, request-id dedup, merge,
//               reorder: scan's exact timeline) -> event records (text
//               included, event_codec.h) numbered 0,1,2.. (the global
//               sequence) on DG_EVENTS, subject dg.events.<p>, p =
//               hash(account) mod partitions; Nats-Msg-Id "e-<seq>"
//   worker      owns partitions p with p mod count == index: a durable pull
//               consumer per partition; DigestContent (tokens, lexicon,
//               MinHash, frames -- the costly, per-interaction half) ->
//               the text-free wire record (serve/wire.h) on DG_DIGESTS,
//               subject dg.digests.<p>, Nats-Msg-Id "d-<seq>", header
//               Dg-Src-Seq = the event's stream sequence; the events are
//               acknowledged only after the stream stored their digests.
//               Its only state is its position, the consumer's ack floor
//               (replicated): a replacement resumes after it. One thread
//               per partition (round trips, not CPU, bound a partition).
//   correlator  every dg.digests.<p> (a fetching thread each), merged back
//               into the global sequence (duplicates dropped by sequence
//               number) -> Engine::
//               ObserveDigest, exactly scan's order; verdict changes to the
//               KV bucket dg_verdicts (key AccountKey, value the account's
//               accounts.jsonl line); state = a replay of DG_DIGESTS.
//   decision    watches dg_verdicts into memory; POST /v1/check answers
//               from it without a network call.
//
// Exactly-once: the publisher's RequestIdDedup (per account and id), the
// streams' de-duplication window on Nats-Msg-Id (a resend after a lost
// acknowledgement is not stored twice) and the correlator's sequence check
// (a redelivered digest is applied once).
//
// Cost: a worker, per event, DigestContent plus ~one publish of the wire
// record (~300 B); a correlator, per event, the engine's ObserveDigest plus
// a KV put per verdict change (batched every flush_ms). Memory: a worker
// holds one batch per partition; a correlator the engine plus at most
// partition_buffer digests per partition.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "engine/engine.h"
#include "ingest/pipeline.h"
#include "policy/policy.h"

namespace dg {

inline constexpr char kEventsStream[] = "DG_EVENTS";
inline constexpr char kDigestsStream[] = "DG_DIGESTS";
inline constexpr char kVerdictBucket[] = "dg_verdicts";
inline constexpr char kMetaBucket[] = "dg_meta";

struct ClusterOptions {
  std::string nats;      // comma-separated server URLs
  int partitions = 8;    // dg.events.<p>, dg.digests.<p>; fixed for a stream's life
  int replicas = 3;      // stream and bucket copies (R=3 on a 3-node cluster)
  int64_t dedup_window_ms = 10 * 60 * 1000;
};

struct PublishOptions {
  ClusterOptions cluster;
  std::vector<std::string> inputs;
  IngestOptions ingest;
  size_t window = 1024;  // asynchronous publishes in flight
  double rate = 0;       // events/s at most (a steady load for measurements); 0: as fast as it goes
};
struct PublishReport {
  IngestStats stats;
  uint64_t first_seq = 0, published = 0, resent = 0, duplicates = 0;
  double seconds = 0;
};
absl::Status RunPublish(const PublishOptions& options, PublishReport* report);

struct WorkerOptions {
  ClusterOptions cluster;
  int index = 0;  // owns partitions p with p % count == index
  int count = 1;
  int batch = 256;
  std::string listen;  // HOST:PORT for /metrics, /healthz, /readyz; empty: none
  std::string port_file;
  const std::atomic<bool>* stop = nullptr;
};
absl::Status RunWorker(const WorkerOptions& options);

struct CorrelatorNodeOptions {
  ClusterOptions cluster;
  Policy policy;
  EngineOptions engine;
  std::string out;        // with until_done: accounts.jsonl, campaigns.jsonl, summary.json here
  bool until_done = false;  // stop (Finish, write) once every published event is applied
  int flush_ms = 500;     // verdict changes to dg_verdicts at most this late
  size_t partition_buffer = 8192;  // digests held per partition while waiting for an earlier one
  std::string listen;
  std::string port_file;
  const std::atomic<bool>* stop = nullptr;
};
absl::Status RunCorrelator(const CorrelatorNodeOptions& options);

struct DecisionOptions {
  ClusterOptions cluster;
  std::string listen = "127.0.0.1:0";
  std::string port_file;
  const std::atomic<bool>* stop = nullptr;
};
absl::Status RunDecisionNode(const DecisionOptions& options);

}  // namespace dg
