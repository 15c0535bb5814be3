#include "cluster/nodes.h"

#include <sys/resource.h>

#include <algorithm>
#include <condition_variable>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>
#include <simdjson.h>

#include "cluster/batch_codec.h"
#include "cluster/digest_merger.h"
#include "cluster/event_codec.h"
#include "cluster/jetstream.h"
#include "cluster/ops_http.h"
#include "cluster/serve_link.h"
#include "cluster/snapshot_store.h"
#include "common/hash.h"
#include "common/json_out.h"
#include "common/parse_int.h"
#include "content/analyzer.h"
#include "report/views.h"
#include "report/writers.h"
#include "decide/check.h"
#include "serve/requests.h"
#include "serve/wire.h"
#include "signals/signals.h"

namespace dg {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string EventsSubject(int p) { return fmt::format("dg.events.{}", p); }

absl::Status Prepare(NatsLink* link, const ClusterOptions& c) {
  if (c.partitions < 1 || c.partitions > 4096) return absl::InvalidArgumentError("--partitions: 1 to 4096");
  absl::Status s = link->EnsureStream(kEventsStream, "dg.events.*", c.replicas, c.dedup_window_ms);
  if (s.ok()) s = link->EnsureStream(kDigestsStream, "dg.digests.*", c.replicas, c.dedup_window_ms);
  return s;
}

// The partition count is fixed at the first publish; every node checks it.
absl::Status CheckPartitions(KvBucket* meta, int partitions, bool set) {
  auto stored = meta->Get("partitions");
  if (!stored.ok() && absl::IsNotFound(stored.status())) {
    if (!set) return absl::OkStatus();
    return meta->Put("partitions", std::to_string(partitions));
  }
  if (!stored.ok()) return stored.status();
  if (*stored != std::to_string(partitions)) {
    return absl::FailedPreconditionError(
        fmt::format("--partitions {}: the streams were made with {} partitions", partitions, *stored));
  }
  return absl::OkStatus();
}

absl::Status WritePortFile(const std::string& path, int port) {
  if (path.empty()) return absl::OkStatus();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp);
    f << port << "\n";
    if (!f) return absl::UnavailableError(fmt::format("{}: cannot write", tmp));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return absl::UnavailableError(fmt::format("{}: cannot rename", path));
  return absl::OkStatus();
}

bool Stopped(const std::atomic<bool>* stop) { return stop != nullptr && stop->load(); }

// This process's CPU time (user + system, every thread), for the cost per event.
double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

}  // namespace

// --- publish -----------------------------------------------------------------

absl::Status RunPublish(const PublishOptions& options, PublishReport* report) {
  const auto t0 = Clock::now();
  auto pace_from = t0;  // --rate: when event `base` was due
  auto link = NatsLink::Connect(options.cluster.nats, "distillguard-publish");
  if (!link.ok()) return link.status();
  if (auto s = Prepare(link->get(), options.cluster); !s.ok()) return s;
  auto meta = KvBucket::Open(link->get(), kMetaBucket, options.cluster.replicas);
  if (!meta.ok()) return meta.status();
  if (auto s = CheckPartitions(meta->get(), options.cluster.partitions, true); !s.ok()) return s;
  // A second publish continues the sequence where the first stopped.
  uint64_t base = 0;
  if (auto stored = (*meta)->Get("published"); stored.ok()) {
    const auto n = ParseDecimal<uint64_t>(*stored);
    if (!n) return absl::DataLossError(fmt::format("dg_meta published: '{}' is not a count", *stored));
    base = *n;
  } else if (!absl::IsNotFound(stored.status())) {
    return stored.status();
  }
  ReliablePublisher pub(link->get(), options.window);
  absl::Status failed;
  uint64_t seq = base;
  uint64_t messages = 0;
  const uint64_t partitions = static_cast<uint64_t>(options.cluster.partitions);
  if (options.batch.max_records < 1 || options.batch.max_records > kMaxBatchRecords) {
    return absl::InvalidArgumentError(fmt::format("publish: events per message 1 to {}", kMaxBatchRecords));
  }
  // One open batch per partition. Cut by count and bytes only, so that a
  // full-speed run from a file cuts the same batches every time (the message
  // ids "e-<first>-<last>" repeat, and the stream drops a re-run's copies);
  // the linger applies only while waiting for input (pacing below).
  struct Open {
    BatchBuilder batch;
    uint64_t first = 0, last = 0;
    Clock::time_point opened{};
  };
  std::vector<Open> open(partitions);
  const auto linger = std::chrono::milliseconds(options.linger_ms);
  auto send = [&](uint64_t p) -> absl::Status {
    Open& o = open[p];
    if (o.batch.count() == 0) return absl::OkStatus();
    ++messages;
    return pub.Add(EventsSubject(static_cast<int>(p)), o.batch.Take(), fmt::format("e-{}-{}", o.first, o.last));
  };
  // Sends every batch open longer than the linger; returns when the next
  // one will be due (time_point::max() if none is open).
  auto send_lingering = [&](Clock::time_point now, Clock::time_point* next_due) -> absl::Status {
    *next_due = Clock::time_point::max();
    for (uint64_t p = 0; p < partitions; ++p) {
      if (open[p].batch.count() == 0) continue;
      if (now - open[p].opened >= linger) {
        if (auto s = send(p); !s.ok()) return s;
      } else {
        *next_due = std::min(*next_due, open[p].opened + linger);
      }
    }
    return absl::OkStatus();
  };
  std::string record;
  IngestPipeline pipeline(
      options.ingest,
      [&](Interaction& in) {
        if (!failed.ok()) return;
        const uint64_t p = Hash64(in.account_id) % partitions;
        record = EncodeEvent(seq, in);
        Open& o = open[p];
        if (o.batch.count() > 0 && o.batch.bytes() + record.size() + sizeof(uint32_t) > options.batch.max_bytes) {
          if (failed = send(p); !failed.ok()) return;
        }
        if (o.batch.count() == 0) {
          o.first = seq;
          o.opened = Clock::now();
        }
        o.batch.Add(record);
        o.last = seq;
        ++seq;
        if (o.batch.count() >= options.batch.max_records) {
          if (failed = send(p); !failed.ok()) return;
        }
        if (options.rate > 0) {
          // Paced: the publisher now waits for its input, so batches do not
          // wait for it past the linger (a slow stream is not held). A
          // ceiling, not a schedule to keep: after a stall (a node lost, the
          // stream electing a leader) it goes on at the rate from where it
          // is rather than bursting to catch up -- a steady load is what a
          // measurement or a failover test asks for.
          const auto elapsed = std::chrono::duration_cast<Clock::duration>(
              std::chrono::duration<double>(static_cast<double>(seq - base) / options.rate));
          if (const auto now = Clock::now(); now - (pace_from + elapsed) > std::chrono::seconds(1)) {
            pace_from = now - elapsed;
          }
          const auto due = pace_from + elapsed;
          for (auto now = Clock::now(); due > now; now = Clock::now()) {
            Clock::time_point next_due;
            if (failed = send_lingering(now, &next_due); !failed.ok()) return;
            std::this_thread::sleep_until(std::min(due, next_due));
          }
        }
      },
      [](const std::string& msg) { fmt::print(stderr, "{}\n", msg); });
  const bool complete = pipeline.AddFiles(options.inputs);
  pipeline.Flush();
  for (uint64_t p = 0; p < partitions && failed.ok(); ++p) failed = send(p);
  if (failed.ok()) failed = pub.Flush();
  if (!failed.ok()) return failed;
  if (!complete) return absl::InvalidArgumentError("publish: stopped at the first bad line (--strict)");
  // Only now is the count visible: a correlator that sees it will find every
  // event before it in the streams.
  if (auto s = (*meta)->Put("published", std::to_string(seq)); !s.ok()) return s;
  report->stats = pipeline.stats();
  report->first_seq = base;
  report->published = seq - base;
  report->messages = messages;
  report->resent = pub.resent();
  report->duplicates = pub.duplicates();
  report->seconds = SecondsSince(t0);
  report->cpu_seconds = CpuSeconds();
  return absl::OkStatus();
}

// --- worker ------------------------------------------------------------------

namespace {

// Malformed inputs are counted always and described on stderr this often.
constexpr uint64_t kReportedBadInputs = 20;

struct WorkerMetrics {
  std::atomic<uint64_t> events{0}, messages{0}, bad_batches{0}, bad_records{0}, fetch_errors{0}, resent{0};
  std::atomic<uint64_t> fetch_us{0}, digest_us{0}, publish_us{0};  // where the time goes (summed over threads)
  std::atomic<uint64_t> lag{0};
  std::atomic<bool> caught_up{false};
  std::atomic<int64_t> last_progress_ms{0};
};

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

}  // namespace

absl::Status RunWorker(const WorkerOptions& options) {
  if (options.count < 1 || options.index < 0 || options.index >= options.count) {
    return absl::InvalidArgumentError("worker: --index must be in [0, --of)");
  }
  auto link = NatsLink::Connect(options.cluster.nats, fmt::format("distillguard-worker-{}", options.index));
  if (!link.ok()) return link.status();
  if (auto s = Prepare(link->get(), options.cluster); !s.ok()) return s;
  auto meta = KvBucket::Open(link->get(), kMetaBucket, options.cluster.replicas);
  if (!meta.ok()) return meta.status();
  if (auto s = CheckPartitions(meta->get(), options.cluster.partitions, false); !s.ok()) return s;

  struct Owned {
    int p;
    std::unique_ptr<PullConsumer> consumer;
  };
  std::vector<Owned> owned;
  for (int p = options.index; p < options.cluster.partitions; p += options.count) owned.push_back(Owned{p, nullptr});
  // The worker's state is its position: the consumer's ack floor, which
  // moves only once the digests up to it are stored (R copies). Resume
  // after it; what the last owner digested past it comes again and is
  // dropped as a duplicate (Nats-Msg-Id; the correlator's sequence check).
  // The partitions' consumers are made side by side: each is a few Raft
  // round trips, seconds in all one after another on a busy cluster.
  if (auto s = ForEachParallel(owned.size(), [&](size_t i) -> absl::Status {
        Owned& o = owned[i];
        auto floor = PullConsumer::AckFloor(link->get(), kEventsStream, fmt::format("w{}", o.p));
        if (!floor.ok()) return floor.status();
        const uint64_t after = *floor;
        auto consumer = PullConsumer::Create(link->get(), kEventsStream, fmt::format("w{}", o.p), EventsSubject(o.p), after + 1);
        if (!consumer.ok()) return consumer.status();
        o.consumer = std::move(*consumer);
        fmt::print(stderr, "worker {}: partition {} from event stream sequence {}\n", options.index, o.p, after + 1);
        return absl::OkStatus();
      });
      !s.ok()) {
    return s;
  }

  // Digested event messages are erased from DG_EVENTS (MessageEraser: one
  // by one, off the partitions' threads) unless --keep-events.
  std::unique_ptr<MessageEraser> eraser;
  if (!options.keep_events) eraser = std::make_unique<MessageEraser>(link->get(), kEventsStream);
  WorkerMetrics m;
  m.last_progress_ms = SteadyMs();
  std::unique_ptr<OpsServer> ops;
  if (!options.listen.empty()) {
    auto started = OpsServer::Start(options.listen, [&](const std::string&, const std::string& path, const std::string&) {
      if (path == "/healthz") return OpsResponse{200, "text/plain; charset=utf-8", "ok\n"};
      if (path == "/readyz") {
        return m.caught_up ? OpsResponse{200, "text/plain; charset=utf-8", "ready\n"}
                           : OpsResponse{503, "text/plain; charset=utf-8", "catching up\n"};
      }
      if (path == "/metrics") {
        return OpsResponse{200, "text/plain; version=0.0.4",
                           fmt::format("# TYPE dg_worker_events_total counter\ndg_worker_events_total {}\n"
                                       "# TYPE dg_worker_messages_total counter\ndg_worker_messages_total {}\n"
                                       "# TYPE dg_worker_bad_batches_total counter\ndg_worker_bad_batches_total {}\n"
                                       "# TYPE dg_worker_bad_records_total counter\ndg_worker_bad_records_total {}\n"
                                       "# TYPE dg_worker_fetch_errors_total counter\ndg_worker_fetch_errors_total {}\n"
                                       "# TYPE dg_worker_resent_total counter\ndg_worker_resent_total {}\n"
                                       "# TYPE dg_worker_erased_total counter\ndg_worker_erased_total {}\n"
                                       "# TYPE dg_worker_erase_errors_total counter\ndg_worker_erase_errors_total {}\n"
                                       "# TYPE dg_worker_erase_dropped_total counter\ndg_worker_erase_dropped_total {}\n"
                                       "# TYPE dg_worker_consumer_lag gauge\ndg_worker_consumer_lag {}\n"
                                       "# TYPE dg_worker_partitions_owned gauge\ndg_worker_partitions_owned {}\n"
                                       "# TYPE dg_worker_seconds_since_progress gauge\ndg_worker_seconds_since_progress {:.3f}\n"
                                       "# TYPE dg_worker_phase_seconds_total counter\n"
                                       "dg_worker_phase_seconds_total{{phase=\"fetch\"}} {:.3f}\n"
                                       "dg_worker_phase_seconds_total{{phase=\"digest\"}} {:.3f}\n"
                                       "dg_worker_phase_seconds_total{{phase=\"store\"}} {:.3f}\n",
                                       m.events.load(), m.messages.load(), m.bad_batches.load(), m.bad_records.load(),
                                       m.fetch_errors.load(), m.resent.load(), eraser ? eraser->erased() : 0,
                                       eraser ? eraser->errors() : 0, eraser ? eraser->dropped() : 0,
                                       m.lag.load(), owned.size(), (SteadyMs() - m.last_progress_ms.load()) / 1000.0,
                                       m.fetch_us / 1e6, m.digest_us / 1e6, m.publish_us / 1e6)};
      }
      return OpsResponse{404, "text/plain; charset=utf-8", "not found\n"};
    });
    if (!started.ok()) return started.status();
    ops = std::move(*started);
    if (auto s = WritePortFile(options.port_file, ops->port()); !s.ok()) return s;
  }

  // One thread per owned partition: fetch a batch, digest it, wait for the
  // digest stream to store it, acknowledge the batch. Round trips, not CPU,
  // bound one partition (measured: BENCHMARKS.md), so partitions run side by
  // side; each thread has its own publisher (its own acknowledgements).
  std::atomic<bool> failed{false};
  absl::Status failure;
  std::mutex failure_mu;
  auto run_partition = [&](Owned& o) {
    ReliablePublisher pub(link->get(), static_cast<size_t>(options.batch) + 1);
    TokenStream scratch;
    ContentDigest digest;
    Interaction in;
    std::vector<NatsMsgPtr> fetched;
    std::vector<std::string_view> records;
    BatchBuilder out;
    uint64_t resent_seen = 0;
    auto fail = [&](absl::Status s) {
      std::lock_guard<std::mutex> lock(failure_mu);
      if (failure.ok()) failure = std::move(s);
      failed = true;
    };
    while (!Stopped(options.stop) && !failed) {
      fetched.clear();
      const auto t_fetch = Clock::now();
      if (auto f = o.consumer->Fetch(options.batch, 200, &fetched); !f.ok()) {
        ++m.fetch_errors;  // a node failing over; the client reconnects
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      const auto t_digest = Clock::now();
      m.fetch_us += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t_digest - t_fetch).count());
      if (fetched.empty()) continue;
      uint64_t events = 0;
      for (const NatsMsgPtr& msg : fetched) {
        const std::string_view data(natsMsg_GetData(msg.get()), static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
        const uint64_t stream_seq = StreamSequence(msg.get());
        // A malformed message is not ours to digest: counted, reported, and
        // acknowledged with the rest so it is not redelivered for ever.
        if (auto s = DecodeBatch(data, &records); !s.ok()) {
          ++m.bad_batches;
          if (m.bad_batches <= kReportedBadInputs) {
            fmt::print(stderr, "worker {}: partition {}, event stream sequence {}: {}\n", options.index, o.p, stream_seq,
                       std::string(s.message()));
          }
          continue;
        }
        ++m.messages;
        uint64_t first = 0, last = 0;
        for (const std::string_view record : records) {
          uint64_t seq = 0;
          const bool decoded = DecodeEvent(record, &seq, &in);
          // An undecodable record whose sequence number is still readable
          // becomes a "skipped" digest (the sequence number alone, no
          // body): the correlator counts it and moves on instead of waiting
          // for that number for ever.
          const bool skipped = !decoded && PeekEventSequence(record, &seq);
          if (!decoded) {
            ++m.bad_records;
            if (m.bad_records <= kReportedBadInputs) {
              fmt::print(stderr, "worker {}: partition {}, event stream sequence {}: an undecodable event record ({} bytes){}\n",
                         options.index, o.p, stream_seq, record.size(),
                         skipped ? fmt::format("; sequence number {} passed on as skipped", seq) : "");
            }
            if (!skipped) continue;
          }
          char seq_bytes[sizeof(seq)];
          std::memcpy(seq_bytes, &seq, sizeof(seq));
          if (out.count() == 0) first = seq;
          last = seq;
          if (skipped) {
            out.Add(std::string_view(), std::string_view(seq_bytes, sizeof(seq_bytes)));
            continue;
          }
          DigestContent(in, &scratch, &digest);
          out.Add(EncodeRecord(in, digest), std::string_view(seq_bytes, sizeof(seq_bytes)));
          ++events;
        }
        if (out.count() == 0) continue;
        // One digest message per event message, its id from the events'
        // sequence numbers: a redelivered event message gives the same id,
        // and the stream drops the second copy.
        if (auto s = pub.Add(DigestsSubject(o.p), out.Take(), fmt::format("d-{}-{}", first, last),
                             {NatsHeader{"Dg-Src-Seq", std::to_string(stream_seq)}});
            !s.ok()) {
          return fail(std::move(s));
        }
      }
      const auto t_store = Clock::now();
      m.digest_us += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t_store - t_digest).count());
      // Acknowledge only once the digests are stored (R copies).
      if (auto s = pub.Flush(); !s.ok()) return fail(std::move(s));
      if (auto s = o.consumer->AckThrough(fetched.back().get()); !s.ok()) {
        ++m.fetch_errors;  // redelivery is harmless
      } else if (eraser) {
        // The text of an event message is needed only until its digests
        // are stored (R copies, above); acknowledged, it is never delivered
        // to this consumer, nor to a replacement, again.
        for (const NatsMsgPtr& msg : fetched) {
          const uint64_t seq = StreamSequence(msg.get());
          eraser->Erase(seq, seq);
        }
      }
      m.events += events;
      m.publish_us += static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t_store).count());
      m.resent += pub.resent() - resent_seen;
      resent_seen = pub.resent();
      m.last_progress_ms = SteadyMs();
    }
  };
  std::vector<std::thread> threads;
  for (Owned& o : owned) threads.emplace_back(run_partition, std::ref(o));
  // Every kSweepEvery, each partition's event messages below its ack floor
  // that are still there are erased: what a predecessor killed before its
  // erasures left, or an erasure the cluster did not answer (at the first
  // turn too: a replacement sweeps after the worker it replaces).
  constexpr auto kSweepEvery = std::chrono::seconds(10);
  auto last_sweep = Clock::now() - kSweepEvery;
  // The lag, for /metrics and /readyz, once a second.
  while (!Stopped(options.stop) && !failed) {
    if (eraser && Clock::now() - last_sweep >= kSweepEvery) {
      last_sweep = Clock::now();
      for (Owned& o : owned) {
        if (Stopped(options.stop)) break;
        auto floor = PullConsumer::AckFloor(link->get(), kEventsStream, fmt::format("w{}", o.p));
        if (floor.ok() && *floor > 0) eraser->Sweep(EventsSubject(o.p), *floor + 1);
      }
    }
    uint64_t lag = 0;
    bool known = true;
    for (Owned& o : owned) {
      if (Stopped(options.stop)) break;
      const uint64_t pending = o.consumer->lag();
      if (pending != UINT64_MAX) lag += pending;
      else known = false;
    }
    if (known) {
      m.lag = lag;
      m.caught_up = lag == 0;
    }
    for (int tick = 0; tick < 10 && !Stopped(options.stop) && !failed; ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  for (std::thread& t : threads) t.join();
  if (failed) return failure;
  fmt::print(stderr,
             "worker {}: stopped after {} events in {} messages ({} malformed messages, {} malformed events); "
             "seconds fetching {:.2f}, digesting {:.2f}, storing digests {:.2f}; {:.2f}s of CPU\n",
             options.index, m.events.load(), m.messages.load(), m.bad_batches.load(), m.bad_records.load(),
             m.fetch_us / 1e6, m.digest_us / 1e6, m.publish_us / 1e6, CpuSeconds());
  return absl::OkStatus();
}

// --- correlator --------------------------------------------------------------

namespace {

struct CorrelatorMetrics {
  std::atomic<uint64_t> applied{0}, verdict_puts{0};
  DigestMerger::Counters merge;  // duplicates, malformed digests, fetch errors, held
  std::atomic<uint64_t> table_puts{0};  // dg_indicators and dg_campaigns puts and deletes
  std::atomic<uint64_t> table_us{0};    // time spent building and queueing them
  std::atomic<uint64_t> overrides_applied{0}, shared_applied{0}, bad_bucket_values{0};
  std::atomic<uint64_t> skipped{0};  // sequence numbers a worker could not decode (placeholders)
  // Snapshots: written, failed to write, refused at start; the last one's
  // size, save-and-store time, and when it was written or loaded (steady ms).
  std::atomic<uint64_t> snapshots{0}, snapshot_write_errors{0}, snapshot_load_errors{0}, snapshot_bytes{0};
  std::atomic<uint64_t> snapshot_us{0}, resumed_from{0};
  std::atomic<int64_t> snapshot_at_ms{-1};
  std::atomic<uint64_t> published{0};  // 0: not known yet
  std::atomic<int64_t> last_flush_ms{0};
  std::atomic<bool> done{false};
};

std::string VerdictValue(const Engine& engine, const AccountState& a) {
  std::string out = "{\"account_id\":";
  AppendJsonString(out, a.id);
  out += fmt::format(",\"verdict\":\"{}\",\"score\":{:.4f},\"campaign_id\":", VerdictName(a.verdict), a.score);
  const std::string camp = engine.CampaignOf(a.index);
  if (camp.empty()) out += "null";
  else AppendJsonString(out, camp);
  // The reasons, by name: a decision node needs them to tell
  // withhold_reasoning from throttle (decide/check.h, ReviewDecision).
  // Names, not bits, because nodes of two versions may share the bucket
  // and a new reason renumbers the bits after it.
  out += fmt::format(",\"interactions\":{},\"reasons\":", a.n);
  AppendReasonNames(out, a.reasons);
  out += '}';
  return out;
}

// The new-account check's tables as the engine has them now, against what
// was last published: puts for what changed, deletes for what went.
// O(indicator index) per call (a walk over every value); memory
// the last published values (~100 B per value and per campaign).
constexpr std::chrono::seconds kCheckTablesEvery{2};

class CheckTables {
 public:
  absl::Status Publish(const Engine& engine, ReliablePublisher* pub, const KvBucket& values_bucket,
                       const KvBucket& campaigns_bucket, uint64_t* puts) {
    const Correlator& c = engine.correlator();
    absl::flat_hash_map<uint64_t, RequestValueEntry> values;
    absl::flat_hash_map<std::string, std::string> campaigns;
    c.ForEachRequestValue([&](uint64_t key, const ValueEvidence& v) {
      const CampaignAggregate* g = c.campaigns().Aggregate(v.root);
      if (g == nullptr || g->id.empty()) return;
      values.emplace(key, RequestValueEntry{g->id, v});
      if (!campaigns.contains(g->id)) campaigns.emplace(g->id, FormatCampaignEntry(CampaignMatchOf(c, *g), g->members.size()));
    });
    auto same_value = [](const RequestValueEntry& x, const RequestValueEntry& y) {
      return x.campaign_id == y.campaign_id && x.value.kind == y.value.kind && x.value.root == y.value.root &&
             x.value.evidence == y.value.evidence;
    };
    DG_RETURN_IF_ERROR(Diff(
        std::move(values), &values_, same_value, pub, values_bucket, [](uint64_t k) { return RequestValueKey(k); },
        [](const RequestValueEntry& e) { return FormatRequestValueEntry(e.campaign_id, e.value); }, puts));
    return Diff(
        std::move(campaigns), &campaigns_, std::equal_to<std::string>(), pub, campaigns_bucket,
        [](const std::string& id) { return CampaignKey(id); }, [](const std::string& v) { return v; }, puts);
  }

 private:
  template <typename K, typename V, typename Same, typename KeyFn, typename ValueFn>
  static absl::Status Diff(absl::flat_hash_map<K, V>&& now, absl::flat_hash_map<K, V>* last, Same same,
                           ReliablePublisher* pub, const KvBucket& bucket, KeyFn key_of, ValueFn value_of,
                           uint64_t* puts) {
    for (const auto& [k, value] : now) {
      const auto it = last->find(k);
      if (it != last->end() && same(it->second, value)) continue;
      DG_RETURN_IF_ERROR(pub->Add(bucket.Subject(key_of(k)), value_of(value), ""));
      ++*puts;
    }
    for (const auto& [k, value] : *last) {
      if (now.contains(k)) continue;
      // A KV delete: an empty message marked as one.
      DG_RETURN_IF_ERROR(pub->Add(bucket.Subject(key_of(k)), "", "", {NatsHeader{"KV-Operation", "DEL"}}));
      ++*puts;
    }
    *last = std::move(now);
    return absl::OkStatus();
  }
  absl::flat_hash_map<uint64_t, RequestValueEntry> values_;  // as last published
  absl::flat_hash_map<std::string, std::string> campaigns_;

 public:
  // The keys the buckets hold at start (another run's, or this node's
  // before a restart): the first Publish puts each again or deletes it.
  absl::Status Seed(KvBucket* values_bucket, KvBucket* campaigns_bucket) {
    auto vk = values_bucket->Keys();
    if (!vk.ok()) return vk.status();
    for (const std::string& key : *vk) {
      uint64_t k = 0;
      if (RequestValueFromKey(key, &k)) values_.emplace(k, RequestValueEntry{});  // matches no value: rewritten
    }
    auto ck = campaigns_bucket->Keys();
    if (!ck.ok()) return ck.status();
    for (const std::string& key : *ck) {
      std::string id;
      if (CampaignFromKey(key, &id)) campaigns_.emplace(std::move(id), std::string());
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::Status RunCorrelator(const CorrelatorNodeOptions& options) {
  const auto t0 = Clock::now();
  auto link = NatsLink::Connect(options.cluster.nats, "distillguard-correlator");
  if (!link.ok()) return link.status();
  if (auto s = Prepare(link->get(), options.cluster); !s.ok()) return s;
  auto meta = KvBucket::Open(link->get(), kMetaBucket, options.cluster.replicas);
  if (!meta.ok()) return meta.status();
  auto verdicts = KvBucket::Open(link->get(), kVerdictBucket, options.cluster.replicas);
  if (!verdicts.ok()) return verdicts.status();
  auto value_bucket = KvBucket::Open(link->get(), kIndicatorBucket, options.cluster.replicas);
  if (!value_bucket.ok()) return value_bucket.status();
  auto campaign_bucket = KvBucket::Open(link->get(), kCampaignBucket, options.cluster.replicas);
  if (!campaign_bucket.ok()) return campaign_bucket.status();
  if (auto s = CheckPartitions(meta->get(), options.cluster.partitions, true); !s.ok()) return s;
  // serve --nats (cluster/serve_link.h): the sequencer numbers the events
  // decision nodes publish; analysts' overrides are applied between runs.
  SequencerThread sequencer(link->get(), options.cluster);
  auto override_feed = BucketFeed::Start(link->get(), kOverrideBucket, options.cluster.replicas);
  if (!override_feed.ok()) return override_feed.status();
  // Imported (STIX) indicators any serve --nats node stored (dg_shared).
  auto shared_feed = BucketFeed::Start(link->get(), kSharedBucket, options.cluster.replicas);
  if (!shared_feed.ok()) return shared_feed.status();

  // The digest stream carries no text, so there is none to keep: campaigns
  // show content indicators as fingerprints, as scan --no-samples does.
  EngineOptions engine_options = options.engine;
  engine_options.keep_samples = false;
  CorrelatorMetrics m;
  const int partitions = options.cluster.partitions;
  const bool snapshots_on = options.snapshot_every_s > 0 || options.snapshot_every_events > 0;
  std::unique_ptr<KvBucket> snap_bucket;
  if (snapshots_on || options.resume) {
    auto b = KvBucket::Open(link->get(), kSnapshotBucket, options.cluster.replicas);
    if (!b.ok()) return b.status();
    snap_bucket = std::move(*b);
  }
  // The engine: the newest valid snapshot, else empty (a full replay).
  std::unique_ptr<Engine> engine_owner;
  SnapshotManifest head;
  head.pos.assign(static_cast<size_t>(partitions), 0);
  if (options.resume) {
    const auto t_load = Clock::now();
    SnapshotManifest loaded_head;
    auto loaded = LoadNewestSnapshot(snap_bucket.get(), static_cast<size_t>(partitions), options.policy, engine_options,
                                     &loaded_head);
    if (loaded.ok()) {
      engine_owner = std::move(*loaded);
      head = loaded_head;
      m.resumed_from = head.next;
      m.snapshot_bytes = head.bytes;
      m.snapshot_at_ms = SteadyMs();
      fmt::print(stderr, "correlator: resumed from snapshot gen {} ({} bytes, through sequence number {}) in {:.2f}s\n",
                 head.gen, head.bytes, head.next, SecondsSince(t_load));
    } else if (absl::IsNotFound(loaded.status())) {
      fmt::print(stderr, "correlator: no snapshot in {}; replaying {} from the start\n", kSnapshotBucket, kDigestsStream);
    } else {
      ++m.snapshot_load_errors;
      fmt::print(stderr, "correlator: snapshot unusable: {}; replaying {} from the start\n",
                 std::string(loaded.status().message()), kDigestsStream);
      head = SnapshotManifest{};
      head.pos.assign(static_cast<size_t>(partitions), 0);
    }
  }
  if (engine_owner == nullptr) engine_owner = std::make_unique<Engine>(options.policy, engine_options);
  Engine& engine = *engine_owner;
  absl::flat_hash_set<uint32_t> dirty;  // account slots whose verdict changed since the last flush
  engine.SetVerdictObserver([&](const AccountState& a, const VerdictRecord&) { dirty.insert(a.index); });

  // The engine's state is the snapshot's plus a replay of the digest stream
  // after its positions (from the start without one).
  auto merged = DigestMerger::Start(link->get(), partitions, "c", head.pos, head.next, options.partition_buffer,
                                    "correlator", &m.merge);
  if (!merged.ok()) return merged.status();
  std::unique_ptr<DigestMerger> merger = std::move(*merged);

  m.last_flush_ms = SteadyMs();
  std::mutex lag_mu;
  uint64_t lag = 0;
  std::unique_ptr<OpsServer> ops;
  if (!options.listen.empty()) {
    auto started = OpsServer::Start(options.listen, [&](const std::string&, const std::string& path, const std::string&) {
      const uint64_t published = m.published.load();
      const bool caught_up = published > 0 && m.applied.load() >= published;
      if (path == "/healthz") return OpsResponse{200, "text/plain; charset=utf-8", "ok\n"};
      if (path == "/readyz") {
        return caught_up ? OpsResponse{200, "text/plain; charset=utf-8", "ready\n"}
                         : OpsResponse{503, "text/plain; charset=utf-8", "catching up\n"};
      }
      if (path == "/metrics") {
        uint64_t consumer_lag = 0;
        {
          std::lock_guard<std::mutex> lock(lag_mu);
          consumer_lag = lag;
        }
        return OpsResponse{200, "text/plain; version=0.0.4",
                           fmt::format("# TYPE dg_correlator_applied_total counter\ndg_correlator_applied_total {}\n"
                                       "# TYPE dg_correlator_duplicates_total counter\ndg_correlator_duplicates_total {}\n"
                                       "# TYPE dg_correlator_bad_batches_total counter\ndg_correlator_bad_batches_total {}\n"
                                       "# TYPE dg_correlator_bad_records_total counter\ndg_correlator_bad_records_total {}\n"
                                       "# TYPE dg_correlator_fetch_errors_total counter\ndg_correlator_fetch_errors_total {}\n"
                                       "# TYPE dg_correlator_verdict_puts_total counter\ndg_correlator_verdict_puts_total {}\n"
                                       "# TYPE dg_correlator_check_table_puts_total counter\ndg_correlator_check_table_puts_total {}\n"
                                       "# TYPE dg_correlator_check_table_seconds_total counter\ndg_correlator_check_table_seconds_total {:.3f}\n"
                                       "# TYPE dg_correlator_published gauge\ndg_correlator_published {}\n"
                                       "# TYPE dg_correlator_buffered gauge\ndg_correlator_buffered {}\n"
                                       "# TYPE dg_correlator_consumer_lag gauge\ndg_correlator_consumer_lag {}\n"
                                       "# TYPE dg_correlator_partitions_owned gauge\ndg_correlator_partitions_owned {}\n"
                                       "# TYPE dg_correlator_seconds_since_flush gauge\ndg_correlator_seconds_since_flush {:.3f}\n"
                                       "# TYPE dg_correlator_skipped_total counter\ndg_correlator_skipped_total {}\n"
                                       "# TYPE dg_correlator_snapshots_total counter\ndg_correlator_snapshots_total {}\n"
                                       "# TYPE dg_correlator_snapshot_write_errors_total counter\ndg_correlator_snapshot_write_errors_total {}\n"
                                       "# TYPE dg_correlator_snapshot_load_errors_total counter\ndg_correlator_snapshot_load_errors_total {}\n"
                                       "# TYPE dg_correlator_snapshot_bytes gauge\ndg_correlator_snapshot_bytes {}\n"
                                       "# TYPE dg_correlator_snapshot_seconds gauge\ndg_correlator_snapshot_seconds {:.3f}\n"
                                       "# TYPE dg_correlator_snapshot_age_seconds gauge\ndg_correlator_snapshot_age_seconds {:.3f}\n"
                                       "# TYPE dg_correlator_resumed_from gauge\ndg_correlator_resumed_from {}\n",
                                       m.applied.load(), m.merge.duplicates.load(), m.merge.bad_batches.load(), m.merge.bad_records.load(),
                                       m.merge.fetch_errors.load(), m.verdict_puts.load(), m.table_puts.load(), m.table_us.load() / 1e6, published, m.merge.buffered.load(), consumer_lag, partitions,
                                       (SteadyMs() - m.last_flush_ms.load()) / 1000.0, m.skipped.load(), m.snapshots.load(),
                                       m.snapshot_write_errors.load(), m.snapshot_load_errors.load(), m.snapshot_bytes.load(),
                                       m.snapshot_us.load() / 1e6,
                                       m.snapshot_at_ms.load() < 0 ? -1.0 : (SteadyMs() - m.snapshot_at_ms.load()) / 1000.0,
                                       m.resumed_from.load()) +
                               SequencerMetricsText(sequencer.metrics(), m.overrides_applied.load()) +
                               fmt::format("# TYPE dg_correlator_shared_applied_total counter\ndg_correlator_shared_applied_total {}\n"
                                           "# TYPE dg_correlator_bad_bucket_values_total counter\ndg_correlator_bad_bucket_values_total {}\n",
                                           m.shared_applied.load(), m.bad_bucket_values.load())};
      }
      return OpsResponse{404, "text/plain; charset=utf-8", "not found\n"};
    });
    if (!started.ok()) return started.status();
    ops = std::move(*started);
    if (auto s = WritePortFile(options.port_file, ops->port()); !s.ok()) return s;
  }

  Interaction in;
  ContentDigest digest;
  ReliablePublisher kv_pub(link->get(), 1024);
  ReliablePublisher snap_pub(link->get(), 64);  // its own: a failed snapshot drops only its chunks
  CheckTables tables;
  if (auto s = tables.Seed(value_bucket->get(), campaign_bucket->get()); !s.ok()) return s;
  // At start every value is put once more (the buckets may hold another
  // run's), then only changes; an override can change a campaign's state.
  uint64_t tables_applied = 0, flushed_applied = 0;
  bool tables_stale = true;
  auto tables_at = Clock::now();
  auto flush_verdicts = [&]() -> absl::Status {
    for (const uint32_t idx : dirty) {
      const AccountState& a = engine.accounts()[idx];
      if (a.id.empty()) continue;  // forgotten since
      if (auto s = kv_pub.Add((*verdicts)->Subject(AccountKey(a.id)), VerdictValue(engine, a), ""); !s.ok()) return s;
      ++m.verdict_puts;
    }
    dirty.clear();
    // The new-account check's tables, when the engine moved since: a walk
    // over the whole indicator index, so at most every kCheckTablesEvery
    // while events stream in, and at once when they pause (or an override
    // came).
    const uint64_t applied_now = m.applied.load();
    const bool paused = applied_now == flushed_applied;
    flushed_applied = applied_now;
    // Only once the engine has caught up with what was published: a
    // restarted correlator replaying the digests would otherwise delete (or
    // roll back) every node's tables until its replay confirms the
    // campaigns again.
    const uint64_t published_now = m.published.load();
    const bool caught_up = published_now > 0 && applied_now >= published_now;
    if (caught_up &&
        (tables_stale || (applied_now != tables_applied && (paused || Clock::now() - tables_at >= kCheckTablesEvery)))) {
      uint64_t puts = 0;
      const auto t_tables = Clock::now();
      if (auto s = tables.Publish(engine, &kv_pub, **value_bucket, **campaign_bucket, &puts); !s.ok()) return s;
      m.table_puts += puts;
      m.table_us += static_cast<uint64_t>(SecondsSince(t_tables) * 1e6);
      tables_applied = applied_now;
      tables_at = Clock::now();
      tables_stale = false;
    }
    if (auto s = kv_pub.Flush(); !s.ok()) return s;
    m.last_flush_ms = SteadyMs();
    return absl::OkStatus();
  };
  // A snapshot of the engine through `next`, with each partition's restart
  // position, to the slot the current head does not name; "head" last.
  // Verdicts are flushed first, so dg_verdicts is never behind a snapshot
  // (a failed flush is the node's failure, as in the main loop). A failure
  // to store the snapshot is counted and reported, and the node goes on
  // (the previous snapshot stays valid).
  uint64_t snapshot_applied = head.next;
  auto last_snapshot = Clock::now();
  auto write_snapshot = [&]() -> absl::Status {
    const auto t_snap = Clock::now();
    SnapshotManifest h;
    h.gen = head.gen + 1;
    h.slot = head.chunks == 0 ? 0 : 1 - head.slot;
    h.next = merger->Positions(&h.pos);
    if (auto flushed = flush_verdicts(); !flushed.ok()) return flushed;
    std::string bytes;
    SaveSnapshot(engine, &bytes);
    const absl::Status s = StoreSnapshot(&snap_pub, snap_bucket.get(), bytes, options.snapshot_chunk, &h);
    last_snapshot = Clock::now();
    if (!s.ok()) {
      ++m.snapshot_write_errors;
      fmt::print(stderr, "correlator: snapshot gen {} not written: {}\n", h.gen, std::string(s.message()));
      return absl::OkStatus();
    }
    head = h;
    snapshot_applied = h.next;
    ++m.snapshots;
    m.snapshot_bytes = h.bytes;
    m.snapshot_us = static_cast<uint64_t>(SecondsSince(t_snap) * 1e6);
    m.snapshot_at_ms = SteadyMs();
    return absl::OkStatus();
  };
  auto snapshot_due = [&](uint64_t applied_now) {
    if (!snapshots_on || applied_now <= snapshot_applied) return false;
    if (options.snapshot_every_events > 0 && applied_now - snapshot_applied >= options.snapshot_every_events) return true;
    return options.snapshot_every_s > 0 && SecondsSince(last_snapshot) >= options.snapshot_every_s;
  };
  auto last_meta = Clock::now() - std::chrono::seconds(10);
  bool finished = false;
  absl::Status failure;
  std::vector<std::string> run;  // the contiguous records taken at once
  uint64_t applied = head.next;  // == next, read without the lock
  m.applied = applied;
  while (!Stopped(options.stop)) {
    run.clear();
    merger->Take(&run, 50);
    for (const std::string& record : run) {
      if (record.empty()) {
        ++m.skipped;  // a worker could not decode this event; it is counted, never applied
      } else if (DecodeRecord(record, &in, &digest)) {
        engine.ObserveDigest(in, digest);
      } else {
        ++m.merge.bad_records;  // counted, never half-applied; the sequence moves on
      }
    }
    applied += run.size();
    m.applied = applied;
    (*override_feed)->Drain([&](const std::string& key, const std::string& value, bool deleted) {
      std::string id;
      if (!ApplyOverrideChange(engine, key, value, deleted, &id)) {
        ++m.bad_bucket_values;
        return;
      }
      ++m.overrides_applied;
      if (const AccountState* a = engine.FindAccount(id)) dirty.insert(a->index);
      tables_stale = true;
    });
    (*shared_feed)->Drain([&](const std::string& key, const std::string& value, bool deleted) {
      if (!ApplySharedChange(engine, key, value, deleted)) {
        ++m.bad_bucket_values;
        return;
      }
      ++m.shared_applied;
    });
    if (SecondsSince(last_meta) * 1000 > options.flush_ms) {
      if (auto stored = (*meta)->Get("published"); stored.ok()) m.published = ParseDecimal<uint64_t>(*stored).value_or(0);
      if (auto s = flush_verdicts(); !s.ok()) {
        failure = s;
        break;
      }
      {
        std::lock_guard<std::mutex> lock(lag_mu);
        lag = merger->Lag();
      }
      last_meta = Clock::now();
    }
    if (snapshot_due(applied)) {
      if (auto s = write_snapshot(); !s.ok()) {
        failure = s;
        break;
      }
    }
    const uint64_t published = m.published.load();
    if (options.until_done && published > 0 && applied >= published) {
      finished = true;
      break;
    }
  }
  // A last snapshot on the way out (stopped, or done before Finish), so a
  // restart replays nothing that was applied.
  if (failure.ok() && snapshots_on && applied > snapshot_applied) failure = write_snapshot();
  merger.reset();  // its fetching threads stopped
  if (!failure.ok()) return failure;
  if (finished) {
    engine.Finish();
    tables_stale = true;  // what Finish changed (and the last events) reach the nodes too
    for (const AccountState& a : engine.accounts()) {
      if (!a.id.empty()) dirty.insert(a.index);
    }
    if (auto s = flush_verdicts(); !s.ok()) return s;
    if (auto s = (*meta)->Put("applied", std::to_string(applied)); !s.ok()) return s;
    if (!options.out.empty()) {
      auto campaigns = Campaigns(engine);
      absl::Status written = WriteAccounts(engine, options.out + "/accounts.jsonl");
      if (written.ok()) written = WriteCampaigns(campaigns, engine, options.out + "/campaigns.jsonl");
      if (!written.ok()) return written;
      std::ofstream summary(options.out + "/cluster_summary.json");
      summary << fmt::format(
          "{{\"published\":{},\"applied\":{},\"duplicates_dropped\":{},\"bad_batches\":{},\"bad_records\":{},"
          "\"skipped\":{},\"resumed_from\":{},\"snapshots\":{},\"snapshot_load_errors\":{},"
          "\"fetch_errors\":{},\"verdict_puts\":{},\"check_table_puts\":{},\"check_table_seconds\":{:.3f},"
          "\"accounts\":{},\"campaigns\":{},\"seconds\":{:.3f}}}\n",
          m.published.load(), m.applied.load(), m.merge.duplicates.load(), m.merge.bad_batches.load(), m.merge.bad_records.load(),
          m.skipped.load(), m.resumed_from.load(), m.snapshots.load(), m.snapshot_load_errors.load(),
          m.merge.fetch_errors.load(), m.verdict_puts.load(), m.table_puts.load(), m.table_us.load() / 1e6,
          engine.live_accounts(), campaigns.size(), SecondsSince(t0));
      if (!summary) return absl::UnavailableError(fmt::format("{}/cluster_summary.json: cannot write", options.out));
    }
    fmt::print(stderr, "correlator: applied {} events ({} duplicate deliveries dropped) in {:.2f}s, {:.2f}s of CPU\n",
               m.applied.load(), m.merge.duplicates.load(), SecondsSince(t0), CpuSeconds());
  }
  return absl::OkStatus();
}

// --- decision node -----------------------------------------------------------

absl::Status RunDecisionNode(const DecisionOptions& options) {
  auto link = NatsLink::Connect(options.cluster.nats, "distillguard-decision");
  if (!link.ok()) return link.status();
  // The watched buckets and the answer rule are serve --nats' own
  // (cluster/serve_link.h, decide/check.h); this node is the minimal HTTP
  // front end over them, without a data directory.
  auto view = ClusterView::Start(link->get(), options.cluster.replicas);
  if (!view.ok()) return view.status();
  std::atomic<uint64_t> checks{0};
  const Policy policy = Policy::Defaults();
  auto started = OpsServer::Start(options.listen, [&](const std::string& method, const std::string& path,
                                                      const std::string& body) {
    if (path == "/healthz") return OpsResponse{200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/readyz") {
      return (*view)->ready() ? OpsResponse{200, "text/plain; charset=utf-8", "ready\n"}
                              : OpsResponse{503, "text/plain; charset=utf-8", "loading verdicts\n"};
    }
    if (path == "/metrics") {
      return OpsResponse{200, "text/plain; version=0.0.4",
                         fmt::format("dg_decision_accounts {}\ndg_decision_overrides {}\ndg_decision_updates_total {}\n"
                                     "dg_decision_checks_total {}\n",
                                     (*view)->accounts(), (*view)->overrides(), (*view)->updates(), checks.load())};
    }
    if (path == "/v1/check" && method == "POST") {
      CheckRequest request;
      if (absl::Status parsed = ParseCheckBody(body, &request); !parsed.ok()) {
        std::string error = "{\"error\":";
        AppendJsonString(error, std::string(parsed.message()));
        return OpsResponse{400, "application/json", error + "}\n"};
      }
      ++checks;
      const CheckResult r = Check(request, **view, policy);
      std::string out = fmt::format("{{\"decision\":\"{}\",\"score\":{:.4f},\"campaign_id\":", DecisionName(r.decision),
                                    r.score);
      if (r.campaign_id.empty()) out += "null";
      else AppendJsonString(out, r.campaign_id);
      out += ",\"reasons\":";
      AppendReasonNames(out, r.reasons);
      out += fmt::format(",\"ttl_s\":{}}}\n", r.ttl_s);
      return OpsResponse{200, "application/json", out};
    }
    return OpsResponse{404, "text/plain; charset=utf-8", "not found\n"};
  });
  if (!started.ok()) return started.status();
  if (auto s = WritePortFile(options.port_file, (*started)->port()); !s.ok()) return s;
  while (!Stopped(options.stop)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  started->reset();  // the handler reads the view: stopped first
  return absl::OkStatus();
}

}  // namespace dg
