// Service: the live counterpart of `scan`, independent of HTTP so that it
// can be tested and benchmarked directly. It owns the engine, the durable
// store and the request-id dedup, and offers what the HTTP front end
// (serve/http_server.h) exposes:
//
//   Ingest(JSONL)  parse + digest on the caller's thread (no lock), then
//                  under the ingest lock: drop duplicates, append to the
//                  store in one durable transaction, and only then apply to
//                  the engine (exclusive lock, in chunks of 64 so that
//                  decisions wait at most one chunk). Returns once durable.
//   Check(req)     shared lock; Engine::Check (plus an analyst's override on
//                  an account not seen yet: applied at once). Never writes. When a chunk is
//                  being applied (the engine is held exclusively), the answer
//                  last given for the same account / card / address comes from
//                  a bounded cache instead of waiting: at most one chunk old,
//                  far fresher than the ttl_s gateways cache it for.
//   analyst reads  shared lock; JSON of campaigns and accounts.
//   Override       durable first, then applied; never overwritten.
//   Follow(file)   tails a growing log file; the consumed offset is stored
//                  in the same transaction as the events it covered.
// With options.cluster (serve --nats): Check reads the cluster's watched
// state, Ingest publishes and returns once the cluster stored the events,
// Override is stored in the cluster (serve/cluster_link.h).
//
// Restart: Open() replays the store's log through Engine::ObserveDigest (the
// log keeps digests, never text), with each override applied where it was
// made in the log and each event given back the redacted texts it gave the
// analyst view live (samples, content indicators' shown values; stored
// after the batch is applied, never with keep_samples off), then imported
// indicators: the engine resumes where it was -- /v1/campaigns byte-equal
// -- and after kill -9 nothing acknowledged is lost. Replay runs at engine speed (~1 us/event)
// and counts a request id once even if the log holds it twice. With
// retention_days, batches whose newest event is older are deleted at start
// and hourly: replay then rebuilds the state of the retained history only.
// With lock_data_dir (serve), Open takes an exclusive flock on
// DIR/distillguard.lock: a second serve on the same directory is refused.
// Ingest normalises IPv4-mapped addresses (::ffff:a.b.c.d -> a.b.c.d), and
// de-duplicates request ids per account (ingest and replay alike).
// Memory: the engine's, plus the dedup (2 x 4M request-id hashes at most).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "report/views.h"
#include "common/clock.h"
#include "ingest/accounts.h"
#include "ingest/coverage.h"
#include "ingest/mapping.h"
#include "ingest/pipeline.h"
#include "serve/access_audit.h"
#include "serve/cluster_link.h"
#include "serve/store.h"
#include "serve/verdict_history.h"

namespace dg {

struct ServiceOptions {
  std::string data_dir;
  Policy policy = Policy::Defaults();
  FieldMapping mapping = FieldMapping::Canonical();
  bool keep_samples = true;
  size_t max_errors_returned = 20;
  uint64_t max_store_bytes = 0;  // 0: as much as the disk holds
  Clock clock = SystemClock();   // stamps override records, dates retention
  bool lock_data_dir = false;    // serve: one process per data directory
  int retention_days = 0;        // 0: keep the event log for ever
  // Events dated further than this past the service's clock are rejected
  // (#18 finding 16): one event dated 2099 would move the engine's stream
  // time years ahead -- freezing its daily re-scoring and stretching
  // campaigns -- for every account. 0: no check (replaying old logs is
  // never affected: only the future is bounded).
  int64_t max_future_ms = 24 * kMsPerHour;
  // Access rules (decide/access_rules.h, docs/ACCESS.md): loaded at Open
  // (a bad file refuses to start), reloaded by ReloadAccessRules; every
  // decision a rule changed and every load go to DIR/access_audit.db.
  std::string access_rules;
  size_t access_audit_queue = 65536;
  // serve --nats (serve/cluster_link.h): Check answers from the cluster's
  // watched buckets, Ingest publishes to the cluster (parsed and checked
  // here, digested and applied by the cluster's workers and correlator),
  // Override is stored in the cluster's override bucket. The local engine
  // and event log stay empty; the analyst reads (campaigns, accounts, the
  // console's views of them) show the cluster's engine when cluster_replica
  // (ClusterLink::StartReplica: followed on this node), else only what this
  // process holds: the overrides it took. Null: the single-process serve.
  std::shared_ptr<ClusterLink> cluster;
  bool cluster_replica = false;
};

struct IngestResult {
  uint64_t accepted = 0;
  uint64_t duplicates = 0;
  uint64_t rejected = 0;
  std::vector<std::string> errors;  // "origin:line: field 'x': reason: detail"
  bool stored = true;               // false: nothing accepted (store failure)
  absl::Status store_error;         // why, when !stored (Unavailable: HTTP 503)
};

// Fixed-bucket latency histogram for /metrics (microseconds).
class LatencyHistogram {
 public:
  static constexpr std::array<double, 10> kBoundsUs = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 50000, 250000};
  void Record(double us);
  void AppendPrometheus(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// Last decisions by request identity, for answering while the engine is
// busy. 16 shards, each a mutex and a map cleared when it reaches its share
// of `capacity` (bounded memory: ~100 B an entry).
class DecisionCache {
 public:
  explicit DecisionCache(size_t capacity = 1u << 20) : per_shard_(capacity / kShards + 1) {}
  static uint64_t Key(const CheckRequest& r);
  void Put(uint64_t key, const CheckResult& r);
  std::optional<CheckResult> Get(uint64_t key);

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    std::mutex mu;
    absl::flat_hash_map<uint64_t, CheckResult> map;
  };
  size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

class Service {
 public:
  // Opens the store under options.data_dir and replays it. Errors:
  // FailedPrecondition (the data directory is locked by another serve),
  // Unavailable (the directory or database cannot be used), DataLoss (a
  // corrupt database or log), InvalidArgument / NotFound (the access rules
  // file at start).
  static absl::StatusOr<std::unique_ptr<Service>> Open(ServiceOptions options);
  ~Service();

  IngestResult Ingest(std::string_view jsonl, const std::string& origin);
  CheckResult Check(const CheckRequest& request);
  // Digests an optional prompt for Check's prompt_flags (lexicon only).
  static uint32_t PromptFlags(std::string_view prompt);

  std::string CampaignsJson();
  // report.html of the current state (same page as scan --out writes).
  absl::Status WriteReport(const std::string& path);
  std::optional<std::string> CampaignJson(const std::string& id);
  std::optional<std::string> AccountJson(const std::string& id);
  // action: "allow", "block" or "clear" (else InvalidArgument "field
  // 'action': ..."). Unavailable if not durable.
  absl::Status Override(const std::string& account_id, const std::string& action, const std::string& by,
                        const std::string& reason);
  // Imported (partner) indicators. Durable first (one transaction per
  // import), then applied. `trust`: kReview (the default of the CLI and the
  // API) -- a match sends an account to review at most; kBlock -- a new
  // account matching it is blocked. InvalidArgument for a value the
  // engine cannot use, Unavailable when not durable; else whether the
  // engine took it (AddSharedIndicator).
  absl::StatusOr<bool> ImportIndicator(IndicatorKind kind, const std::string& value, const std::string& source, SharedTrust trust);
  struct IndicatorImport {
    size_t objects = 0;                     // objects in the bundle
    size_t imported = 0;                    // indicators stored and applied
    std::map<std::string, size_t> skipped;  // reason -> indicators not imported (ImportStix's, and values the engine refuses)
    bool stored = true;                     // false: the store refused the write; nothing imported
    absl::Status store_error;               // why, when !stored (Unavailable)
  };
  // Imports the usable indicators of a STIX 2.1 bundle (report/stix.h;
  // revoked / expired by options.clock); InvalidArgument "ORIGIN: why"
  // for a bad bundle (nothing imported).
  absl::StatusOr<IndicatorImport> ImportStix(std::string_view bundle, const std::string& origin, SharedTrust trust);
  // {"indicators":[{"id","kind","value","source","trust","imported_at"}...]}
  // from the store, in import order; Unavailable when the store cannot be
  // read. O(imported indicators).
  absl::StatusOr<std::string> IndicatorsJson();
  // Removes an imported indicator by the id IndicatorsJson gives it, from
  // the store and then the engine. NotFound ("no such indicator") when
  // there is no such id; Unavailable when the store failed. O(imported
  // indicators).
  absl::Status RemoveIndicator(const std::string& id);
  // Stable id of an imported indicator: "ind_" + 16 hex digits of a hash of
  // its kind and (canonical) value.
  static std::string IndicatorId(std::string_view kind, std::string_view value);
  // Upserts account attributes (JSONL, a JSON array or CSV; see
  // ingest/accounts.h) durably; later events of those accounts are joined
  // with them. Returns how many. Errors: InvalidArgument "ORIGIN:LINE: ..."
  // for bad input and ResourceExhausted past the directory's bound (nothing
  // applied either way); Unavailable when the store refused the write.
  absl::StatusOr<size_t> PutAccounts(std::string_view body, const std::string& origin);

  // Access rules. Reload reads options.access_rules again: a good file
  // replaces the rules at once (checks in flight finish on the old ones), a
  // bad one keeps them; either way the reload is audited with `by`, `via`,
  // the time and the file's hash. Returns a JSON summary. Errors:
  // FailedPrecondition when serve runs without access rules; Unprocessable
  // (InvalidArgument, HTTP 422) when the file is refused -- the message is
  // the reason, "FILE:LINE: key 'K': why"; Unavailable when the good file
  // could not be audited (and so was not applied).
  absl::StatusOr<std::string> ReloadAccessRules(const std::string& by, const std::string& via);
  bool access_rules_configured() const { return !options_.access_rules.empty(); }
  // {"file","version","sha256","catalogue_sha256","rules","enforce","dry_run"} of the rules in force.
  std::string AccessRulesJson();
  // The audit as JSONL (records with seq > since, at most limit); written
  // records only, after waiting for the queue (at most 10 s).
  // FailedPrecondition without access rules; Unavailable on a read error.
  absl::StatusOr<std::string> AccessAuditJsonl(int64_t since, size_t limit);

  // Starts tailing `path` (from the stored offset) on a background thread.
  // NotFound / PermissionDenied when it cannot be opened; DataLoss when the
  // stored offset is not a number.
  absl::Status Follow(const std::string& path);
  void Stop();

  std::string Metrics();
  void RecordDecision(Decision d, double us);
  uint64_t replayed() const { return replayed_; }
  bool ready() const { return ready_.load(); }
  // Ready to take traffic: replayed, and the store's last write succeeded.
  // When it failed, *why says so, and at most every 5 s a probe writes (and
  // removes, in one transaction) as many bytes as the failed batch had, up
  // to 1 MiB, so that readiness comes back with room on the disk even when
  // no events are sent meanwhile. The probe runs on the caller's thread and
  // only while the store is failing.
  bool Ready(std::string* why);
  uint64_t replay_duplicates() const { return replay_duplicates_; }

  // The analyst console's read access (serve/console.h): fn runs under the
  // engine's shared lock with the engine, every account's verdict history
  // and the overrides made, by account id. Keep fn short: ingest waits for it.
  struct EngineView {
    const Engine& engine;
    const VerdictHistory& history;
    const std::unordered_map<std::string, std::vector<OverrideRecord>>& overrides;
  };
  void Read(const std::function<void(const EngineView&)>& fn) const;
  // The engine the analyst reads show, under engine_mu_ held (shared): the
  // cluster's replica once loaded, else this process's own.
  const Engine& ReadEngine() const;
  const std::string& data_dir() const { return options_.data_dir; }
  int policy_version() const { return options_.policy.version; }

 private:
  explicit Service(ServiceOptions options);
  absl::Status Replay();
  IngestResult IngestLines(std::string_view jsonl, const std::string& origin,
                           const std::vector<std::pair<std::string, std::string>>& meta);
  // serve --nats: the parsed events (in `order`) published to the cluster.
  IngestResult PublishToCluster(const std::vector<Interaction>& events, const std::vector<size_t>& order, IngestResult result,
                                std::chrono::steady_clock::time_point t0);
  void FollowLoop(std::string path, uint64_t offset);
  // The access rules' outcome applied to the detector's answer (and audited).
  void ApplyAccessRules(const CheckRequest& request, CheckResult* r);
  absl::StatusOr<std::string> LoadAccessRules(const std::string& by, const std::string& via);

  ServiceOptions options_;
  std::unique_ptr<Store> store_;
  Engine engine_;
  RequestIdDedup dedup_;
  std::mutex ingest_mu_;              // one writer: dedup, store, apply order
  mutable std::shared_mutex engine_mu_;
  std::unordered_map<std::string, std::vector<OverrideRecord>> override_history_;  // under engine_mu_
  VerdictHistory verdict_history_;    // under engine_mu_ (fed by the engine's verdict observer)
  AccountDirectory accounts_;         // under accounts_mu_
  mutable std::shared_mutex accounts_mu_;
  FieldCoverage coverage_;            // under coverage_mu_
  std::mutex coverage_mu_;
  uint64_t replayed_ = 0;
  uint64_t replay_duplicates_ = 0;
  int lock_fd_ = -1;                  // flock on DIR/distillguard.lock
  std::atomic<bool> store_ok_{true};  // last store write succeeded
  std::string last_store_error_;      // under ingest_mu_ (its message, for /ready)
  size_t last_failed_bytes_ = 0;      // under ingest_mu_
  std::atomic<int64_t> last_probe_s_{0}, last_prune_s_{0};
  void MaybePrune();                  // under ingest_mu_
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_{false};
  std::thread follower_;
  // metrics
  std::atomic<uint64_t> events_accepted_{0}, events_duplicate_{0}, events_rejected_{0}, store_failures_{0};
  // Writes and reads that fail without failing the request that made them
  // (logged and counted, never silent): event texts not stored, retention
  // not run, stored accounts that do not read back.
  std::atomic<uint64_t> side_failures_{0};
  std::array<std::atomic<uint64_t>, 5> decisions_{};
  LatencyHistogram check_latency_, ingest_latency_, apply_lock_;
  DecisionCache decision_cache_;
  std::atomic<uint64_t> checks_from_cache_{0};
  std::atomic<uint64_t> cluster_publish_failures_{0};
  // access rules
  std::atomic<std::shared_ptr<const AccessRuleSet>> access_rules_;
  std::atomic<uint64_t> accounts_generation_{0};  // bumped when attributes change (outcome cache key)
  std::atomic<uint64_t> cluster_account_refused_{0};  // dg_accounts rows not understood or past the bound
  std::unique_ptr<AccessAudit> audit_;
  std::mutex reload_mu_;
  std::atomic<uint64_t> access_enforced_{0}, access_dry_run_{0}, access_reloads_{0}, access_reload_failures_{0};
};

}  // namespace dg
