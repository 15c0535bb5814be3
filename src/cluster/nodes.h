// The cluster's nodes (docs/SCALE.md): the scan pipeline cut at its seam
// between the stateless half (parse, de-duplicate, order; digest content)
// and the stateful half (the Engine), with NATS JetStream in between.
//
//   publish     files -> IngestPipeline (parse, request-id dedup, merge,
//               reorder: scan's exact timeline) -> event records (text
//               included, event_codec.h) numbered 0,1,2.. (the global
//               sequence), packed per partition p = hash(account) mod
//               partitions into batches (batch_codec.h: at most 64 events
//               or 256 KiB a message by default) on DG_EVENTS, subject
//               dg.events.<p>, Nats-Msg-Id "e-<first seq>-<last seq>"
//   worker      owns partitions p with p mod count == index: a durable pull
//               consumer per partition; per event message, DigestContent
//               (tokens, lexicon, MinHash, frames -- the costly,
//               per-interaction half) of each event -> one message of
//               text-free wire records (serve/wire.h), each after its
//               sequence number, on DG_DIGESTS, subject dg.digests.<p>,
//               Nats-Msg-Id "d-<first seq>-<last seq>", header Dg-Src-Seq =
//               the event message's stream sequence; the events are
//               acknowledged only after the stream stored their digests.
//               Its only state is its position, the consumer's ack floor
//               (replicated): a replacement resumes after it. One thread
//               per partition (round trips, not CPU, bound a partition).
//               The event messages it has digested and acknowledged are
//               erased from DG_EVENTS, one by one (MessageEraser: never a
//               purge by subject, which nats-server 2.9.10 replays wrongly):
//               prompt text stays in the cluster only until it is digested
//               (--keep-events keeps it, for a re-digest).
//   correlator  every dg.digests.<p> (a fetching thread each), merged back
//               into the global sequence (duplicates dropped by sequence
//               number) -> Engine::
//               ObserveDigest, exactly scan's order; verdict changes to the
//               KV bucket dg_verdicts (key AccountKey, value the account's
//               accounts.jsonl line); state = the newest engine snapshot
//               in the KV bucket dg_snapshots (chunked; a manifest under
//               "head" names the slot, the sequence number applied through
//               and each partition's digest stream position) plus a replay
//               of DG_DIGESTS after it; no snapshot: a replay from the start.
//   decision    `decide`: the minimal decision node -- ClusterView
//               (cluster/serve_link.h: dg_verdicts and dg_overrides watched
//               into memory) and decide/check.h's rule behind an OpsServer;
//               `serve --nats` is the full one (cluster/serve_link.h). The
//               new-account check reads dg_indicators and dg_campaigns,
//               which the correlator rewrites where they changed at each
//               verdict flush (the payment and address-block values of
//               confirmed campaigns' members, and those campaigns' state).
//   The correlator also runs the intake sequencer for serve --nats nodes
//   and applies analysts' overrides from dg_overrides (serve_link.h).
//
// Exactly-once: the publisher's RequestIdDedup (per account and id), the
// streams' de-duplication window on Nats-Msg-Id (a resend after a lost
// acknowledgement is not stored twice) and the correlator's sequence check
// (a redelivered digest is applied once).
//
// Batch boundaries: a partition's batch is sent when it holds
// batch.max_records events or batch.max_bytes, at the end of the input,
// and -- only when the publisher waits for input (--rate pacing) -- once it
// has been open linger_ms. Reading a file at full speed the boundaries are
// therefore a function of the file, the first sequence number and the
// limits alone: a re-run after a crash before `published` was written
// gives the same message ids, and the stream's de-duplication drops them.
// Where boundaries differ (paced runs), a batch overlapping a stored one is
// stored again and the correlator's sequence check drops its events.
//
// Cost (measured, BENCHMARKS.md): the NATS servers ~52 us of CPU per event
// over three replicas (their per-message work shared by up to 64 events;
// the rest is per byte); a worker ~9 us per event, DigestContent plus its
// share of one publish of ~64 wire records (~300 B each); a correlator, per event, the
// engine's ObserveDigest plus a KV put per verdict change (batched every
// flush_ms). Memory: the publisher holds one open batch per partition
// (<= max_bytes each); a worker holds one fetch (<= batch messages) per
// partition; a correlator the engine plus at most partition_buffer (+ one
// fetch) digests per partition.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/status.h>

#include "cluster/batch_codec.h"
#include "cluster/digest_merger.h"
#include "engine/engine.h"
#include "ingest/pipeline.h"
#include "policy/policy.h"

namespace dg {

inline constexpr char kEventsStream[] = "DG_EVENTS";
inline constexpr char kVerdictBucket[] = "dg_verdicts";
inline constexpr char kMetaBucket[] = "dg_meta";
inline constexpr char kSnapshotBucket[] = "dg_snapshots";
// The new-account check's tables (cluster/event_codec.h): the values a new
// account's request is matched on, and the campaigns they point to.
inline constexpr char kIndicatorBucket[] = "dg_indicators";
inline constexpr char kCampaignBucket[] = "dg_campaigns";

struct ClusterOptions {
  std::string nats;      // comma-separated server URLs
  int partitions = 8;    // dg.events.<p>, dg.digests.<p>; fixed for a stream's life
  int replicas = 3;      // stream and bucket copies (R=3 on a 3-node cluster)
  int64_t dedup_window_ms = 10 * 60 * 1000;
  // The intake sequencer (in the correlator) erases DG_INTAKE messages it
  // numbered this long ago: what a restarted sequencer reads back to know
  // the request ids it already numbered (a retry within this horizon of a
  // restart still counts once), and how long serve --nats's prompt text
  // stays at rest in the cluster.
  int64_t intake_keep_s = 3600;
};

struct PublishOptions {
  ClusterOptions cluster;
  std::vector<std::string> inputs;
  IngestOptions ingest;
  size_t window = 64;    // asynchronous publishes (batch messages) in flight
  double rate = 0;       // events/s at most (a steady load for measurements); 0: as fast as it goes
  BatchLimits batch;     // events per message
  int linger_ms = 50;    // while waiting for input, a batch open this long is sent
};
struct PublishReport {
  IngestStats stats;
  uint64_t first_seq = 0, published = 0, messages = 0, resent = 0, duplicates = 0;
  double seconds = 0, cpu_seconds = 0;  // wall and this process's CPU
};
absl::Status RunPublish(const PublishOptions& options, PublishReport* report);

struct WorkerOptions {
  ClusterOptions cluster;
  int index = 0;  // owns partitions p with p % count == index
  int count = 1;
  int batch = 16;       // event messages (each up to 64 events) fetched, digested and acknowledged at once
  // Erase what was digested and acknowledged from DG_EVENTS (one message
  // at a time, MessageEraser): text is not kept at rest once digested.
  bool keep_events = false;
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
  // Engine snapshots to the KV bucket dg_snapshots (docs/SCALE.md, "Correlator
  // snapshots"): one every snapshot_every_s seconds or every
  // snapshot_every_events applied events, whichever comes first (0: that
  // trigger off; both 0: no snapshots), and one when stopped. At start the
  // newest valid snapshot is loaded (resume) and the digest stream replayed
  // from the position saved with it; a missing or bad one: full replay.
  int snapshot_every_s = 60;
  uint64_t snapshot_every_events = 0;
  bool resume = true;
  size_t snapshot_chunk = 256u << 10;  // bytes per KV value (the server's max_payload is 1 MiB by default)
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
