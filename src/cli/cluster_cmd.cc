// publish, worker, correlator, decide: the cluster's nodes (docs/SCALE.md,
// src/cluster/nodes.h) as subcommands. Flags only; the nodes live in
// src/cluster, the one place that links libnats.
#include <signal.h>

#include <atomic>
#include <csignal>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cluster/nodes.h"
#include "ingest/mapping.h"

namespace dg::cli {
namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop = true; }

void StopOnSignals() {
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
}

void AddCommon(CLI::App& cmd, ClusterArgs& args) {
  cmd.add_option("--nats", args.nats, "NATS server URLs, comma-separated (nats://127.0.0.1:4222,...)")->required();
  cmd.add_option("--partitions", args.partitions, "Partitions of the event and digest streams (fixed at the first publish)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd.add_option("--replicas", args.replicas, "Copies of each stream and bucket (3 on a 3-node cluster)")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
}

ClusterOptions Cluster(const ClusterArgs& args) {
  ClusterOptions c;
  c.nats = args.nats;
  c.partitions = args.partitions;
  c.replicas = args.replicas;
  c.intake_keep_s = args.intake_keep_s;
  return c;
}

}  // namespace

void AddClusterOptions(CLI::App& publish, CLI::App& worker, CLI::App& correlator, CLI::App& decide, ClusterArgs& args) {
  for (CLI::App* cmd : {&publish, &worker, &correlator, &decide}) AddCommon(*cmd, args);
  publish.add_option("inputs", args.inputs, "JSONL logs (merged into one timeline, as scan reads them)")->required();
  publish.add_option("--mapping", args.mapping, "Field mapping: a preset name or a TOML file (docs/LOGS.md)")
      ->capture_default_str();
  publish.add_option("--window", args.window, "Messages (batches of events) in flight")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  publish.add_option("--batch-events", args.batch_events, "At most this many events of one partition per message")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  publish.add_option("--batch-bytes", args.batch_bytes,
                     "At most this many bytes per message (an event larger than this goes alone; NATS max_payload "
                     "bounds it)")
      ->check(CLI::Range(1024, 64 * 1024 * 1024))
      ->capture_default_str();
  publish.add_option("--linger-ms", args.linger_ms,
                     "While waiting for input (--rate), send a partition's batch once it has been open this long")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  publish.add_option("--rate", args.rate, "At most this many events/s (a steady load for measurements; 0: no limit)")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  worker.add_option("--index", args.index, "This worker's number: it owns partitions p with p % --of == --index")
      ->capture_default_str();
  worker.add_option("--of", args.count, "Number of workers")->check(CLI::Range(1, 4096))->capture_default_str();
  worker.add_option("--batch", args.batch, "Event messages (each up to --batch-events events) fetched and acknowledged at once")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  worker.add_flag("--keep-events", args.keep_events,
                  "Keep digested event messages (with their prompt text) in DG_EVENTS; by default they are erased "
                  "once their digests are stored");
  for (CLI::App* cmd : {&worker, &correlator, &decide}) {
    cmd->add_option("--listen", args.listen, "HOST:PORT for /metrics, /healthz, /readyz (port 0: any free port)");
    cmd->add_option("--port-file", args.port_file, "Write the port listened on to this file");
  }
  correlator.add_option("--policy", args.policy, "Policy TOML (default: built in)");
  correlator.add_option("--out", args.out, "With --until-done: write accounts.jsonl and campaigns.jsonl here");
  correlator.add_flag("--until-done", args.until_done,
                      "Stop once every published event is applied: Finish, write --out, exit (batch runs)");
  correlator
      .add_option("--snapshot-every", args.snapshot_every_s,
                  "Seconds between engine snapshots to the KV bucket dg_snapshots (0: none on a timer)")
      ->check(CLI::Range(0, 86400))
      ->capture_default_str();
  correlator.add_option("--snapshot-every-events", args.snapshot_every_events,
                        "Also snapshot after this many applied events (0: no event trigger)");
  correlator
      .add_option("--intake-keep", args.intake_keep_s,
                  "Seconds an intake message (serve --nats's events, prompt text included) is kept after the "
                  "sequencer numbered it: a retry sent within this long of a sequencer restart still counts once")
      ->check(CLI::Range(0, 30 * 86400))
      ->capture_default_str();
  correlator.add_flag("!--no-resume", args.resume,
                      "Ignore any snapshot and rebuild the engine by replaying the digest stream from the start");
}

int RunPublishCmd(const ClusterArgs& args) {
  PublishOptions o;
  o.cluster = Cluster(args);
  o.inputs = args.inputs;
  o.window = args.window;
  o.rate = args.rate;
  o.batch.max_records = args.batch_events;
  o.batch.max_bytes = args.batch_bytes;
  o.linger_ms = args.linger_ms;
  auto mapping = FieldMapping::Load(args.mapping);
  if (!mapping.ok()) return PrintError("publish", mapping.status());
  o.ingest.mapping = std::move(*mapping);
  PublishReport r;
  if (auto s = RunPublish(o, &r); !s.ok()) return PrintError("publish", s);
  fmt::print("{}", r.stats.Summary());
  fmt::print("published: {} events (sequence {}..{}) in {} messages, {} resent, {} dropped by the stream as duplicates, "
             "{:.0f} events/s ({:.2f}s, {:.2f}s of CPU)\n",
             r.published, r.first_seq, r.first_seq + r.published, r.messages, r.resent, r.duplicates,
             r.published / std::max(r.seconds, 1e-9), r.seconds, r.cpu_seconds);
  return r.published == 0 ? 1 : 0;
}

int RunWorkerCmd(const ClusterArgs& args) {
  StopOnSignals();
  WorkerOptions o;
  o.cluster = Cluster(args);
  o.index = args.index;
  o.count = args.count;
  o.batch = args.batch;
  o.keep_events = args.keep_events;
  o.listen = args.listen;
  o.port_file = args.port_file;
  o.stop = &g_stop;
  if (auto s = RunWorker(o); !s.ok()) return PrintError("worker", s);
  return 0;
}

int RunCorrelatorCmd(const ClusterArgs& args) {
  StopOnSignals();
  CorrelatorNodeOptions o;
  o.cluster = Cluster(args);
  if (!args.policy.empty()) {
    auto loaded = Policy::Load(args.policy);
    if (!loaded.ok()) return PrintError("correlator", loaded.status());
    o.policy = std::move(*loaded);
  }
  o.out = args.out;
  o.until_done = args.until_done;
  o.snapshot_every_s = args.snapshot_every_s;
  o.snapshot_every_events = args.snapshot_every_events;
  o.resume = args.resume;
  o.listen = args.listen;
  o.port_file = args.port_file;
  o.stop = &g_stop;
  if (auto s = RunCorrelator(o); !s.ok()) return PrintError("correlator", s);
  return 0;
}

int RunDecideCmd(const ClusterArgs& args) {
  StopOnSignals();
  DecisionOptions o;
  o.cluster = Cluster(args);
  if (!args.listen.empty()) o.listen = args.listen;
  o.port_file = args.port_file;
  o.stop = &g_stop;
  if (auto s = RunDecisionNode(o); !s.ok()) return PrintError("decide", s);
  return 0;
}

}  // namespace dg::cli
