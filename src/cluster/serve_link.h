// The cluster side of `serve --nats` (docs/SCALE.md): decision nodes that
// answer from memory, ingest that publishes, analysts' overrides that hold on
// every node, and the one sequencer that numbers what the nodes publish.
//
//   ClusterView      watches the KV buckets dg_verdicts (the correlator's
//                    account verdicts), dg_overrides (analysts'
//                    decisions), dg_indicators and dg_campaigns (what a
//                    new account's payment and address block are matched
//                    against) into hash maps; Check's inputs
//                    (decide/check.h) for serve --nats and `decide`. Ready
//                    once every watch has replayed every key. A check
//                    costs three hash look-ups under a shared lock; memory
//                    ~150 B per account with a verdict, ~80 B per matched
//                    value (RequestTable, capped; past the cap a value is
//                    counted as bad, not kept).
//   NatsServeLink    serve's ClusterLink (serve/cluster_link.h): the view,
//                    Publish -- events (text included, event_codec.h, no
//                    sequence number) in batches of at most 64 events /
//                    256 KiB to the replicated stream DG_INTAKE, subject
//                    dg.intake, Nats-Msg-Id "i-<node nonce>-<n>"; returns
//                    when the stream stored every message (R copies), or
//                    an error after 15 s (one request at a time) --
//                    Override -- a put to dg_overrides, applied to the
//                    local view at once -- and Share / Unshare -- puts and
//                    deletes in dg_shared (imported indicators).
//   Sequencer        (a thread of the correlator, the cluster's one
//                    singleton): reads DG_INTAKE in stream order -- the
//                    order JetStream gave the nodes' publishes -- drops
//                    repeated request ids (per account, RequestIdDedup),
//                    gives each event the next global sequence number and
//                    publishes it to DG_EVENTS exactly as `publish` does
//                    (partition hash(account) mod P, batches, ids
//                    "e-<first>-<last>"); then stores "<next seq> <intake
//                    position>" in dg_meta/sequencer, `published`, and
//                    acknowledges. A restart resumes from that key: the
//                    same intake messages get the same numbers, so a round
//                    cut short is re-sent under the same sequence numbers and
//                    dropped by the stream's de-duplication or the
//                    correlator's sequence check. It first reads the intake
//                    up to the stored position once more, to remember the
//                    request ids already numbered (O(intake) at restart,
//                    as the correlator's replay is O(digests)).
//   BucketFeed       the correlator's watch of dg_overrides and dg_shared:
//                    queued by a watching thread, applied by the
//                    correlator's thread (Engine::SetOverride,
//                    Add/RemoveSharedIndicator) between runs of events.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>

#include "cluster/batch_codec.h"
#include "cluster/digest_merger.h"
#include "cluster/event_codec.h"
#include "cluster/jetstream.h"
#include "cluster/nodes.h"
#include "decide/check.h"
#include "serve/cluster_link.h"

namespace dg {

inline constexpr char kIntakeStream[] = "DG_INTAKE";
inline constexpr char kIntakeSubject[] = "dg.intake";
inline constexpr char kOverrideBucket[] = "dg_overrides";
inline constexpr char kSharedBucket[] = "dg_shared";
// Account attributes from PUT /v1/accounts on any serve --nats node: key
// AccountKey(id), value the account's merged row (AccountToJson).
inline constexpr char kAccountBucket[] = "dg_accounts";

// Watches one bucket on a thread: on_entry(key, value, deleted) for every
// value at start and every change after; `initial_done` is set once the
// start's values are all delivered. Stops (and joins) on destruction.
class KvWatch {
 public:
  using OnEntry = std::function<void(const std::string& key, std::string_view value, bool deleted)>;
  static absl::StatusOr<std::unique_ptr<KvWatch>> Start(KvBucket* bucket, OnEntry on_entry);
  ~KvWatch();
  KvWatch(const KvWatch&) = delete;  // the thread holds `this`
  KvWatch& operator=(const KvWatch&) = delete;
  bool initial_done() const { return initial_done_.load(); }

 private:
  KvWatch() = default;
  void Loop();
  NatsLink* link_ = nullptr;
  kvWatcher* watcher_ = nullptr;
  OnEntry on_entry_;
  std::atomic<bool> initial_done_{false}, stop_{false};
  std::thread thread_;
};

// The new-account check's tables as a decision node holds them: the
// dg_indicators and dg_campaigns values by key, and the match over them
// that Correlator::MatchRequest makes over the live index (the same sum,
// CombineRequestEvidence, on the same numbers). Not synchronised: the
// caller locks. Bounded: at most `max` values and `max` campaigns (~80 B
// each); a value past that is refused, as is one not understood.
class RequestTable {
 public:
  explicit RequestTable(size_t max = 2u << 20) : max_(max) {}
  // False: a key or value not understood, or the table full (not kept).
  bool OnValue(std::string_view key, std::string_view value, bool deleted);
  bool OnCampaign(std::string_view key, std::string_view value, bool deleted);
  // The confirmed campaign a request's payment / address block links to.
  // Two hash look-ups.
  std::optional<CampaignMatch> Match(const std::string& payment, const std::string& ip) const;
  size_t values() const { return values_.size(); }
  size_t campaigns() const { return campaigns_.size(); }

 private:
  size_t max_;
  absl::flat_hash_map<uint64_t, RequestValueEntry> values_;
  absl::flat_hash_map<std::string, CampaignMatch> campaigns_;
};

class ClusterView final : public CheckInputs {
 public:
  static absl::StatusOr<std::unique_ptr<ClusterView>> Start(NatsLink* link, int replicas);
  ~ClusterView() override;

  AccountInputs Account(const std::string& account_id) const override;
  // Imported (STIX) indicators from the watched dg_shared bucket, matched
  // as the engine matches its own (SharedIndicators).
  std::optional<SharedTrust> Shared(const std::string& payment, const std::string& ip) const override;
  // The watched dg_shared rows, in key order; the trust of one, if held.
  std::vector<SharedIndicatorRecord> SharedList() const;
  std::optional<SharedTrust> SharedTrustOf(const std::string& kind, const std::string& value) const;
  // The request's payment and address block against the watched
  // dg_indicators and dg_campaigns, summed as Correlator::MatchRequest sums
  // them (CombineRequestEvidence). Two hash look-ups.
  std::optional<CampaignMatch> MatchCampaign(const std::string& payment, const std::string& ip) const override;

  bool ready() const;
  // An override made through this node: holds here before the watch echoes it.
  void ApplyOverride(const std::string& account_id, std::string_view action);
  KvBucket* overrides_bucket() const { return overrides_.get(); }
  size_t accounts() const;
  size_t overrides() const;
  size_t request_values() const;
  size_t campaigns() const;
  size_t shared() const;
  KvBucket* shared_bucket() const { return shared_bucket_.get(); }
  uint64_t updates() const { return updates_.load(); }
  uint64_t bad_values() const { return bad_values_.load(); }

 private:
  ClusterView() = default;
  struct Known {
    Verdict verdict = Verdict::kAllow;
    double score = 0;
    ReasonMask reasons = 0;
    uint32_t interactions = 0;
    std::string campaign;
  };
  void OnVerdict(const std::string& key, std::string_view value, bool deleted);
  void OnOverride(const std::string& key, std::string_view value, bool deleted);
  void OnRequestValue(const std::string& key, std::string_view value, bool deleted);
  void OnCampaign(const std::string& key, std::string_view value, bool deleted);
  void OnShared(const std::string& key, std::string_view value, bool deleted);
  std::unique_ptr<KvBucket> verdicts_, overrides_, request_values_, campaigns_, shared_bucket_;
  mutable std::shared_mutex mu_;
  absl::flat_hash_map<std::string, Known> known_;          // under mu_
  absl::flat_hash_map<std::string, Verdict> overridden_;   // under mu_: allow or block
  RequestTable table_;                                     // under mu_: dg_indicators, dg_campaigns
  SharedIndicators shared_;                                // under mu_: dg_shared, matched
  std::map<std::string, SharedIndicatorRecord> shared_rows_;  // under mu_: dg_shared by key, listed
  std::atomic<uint64_t> updates_{0}, bad_values_{0};
  // last: stopped first
  std::unique_ptr<KvWatch> verdict_watch_, override_watch_, value_watch_, campaign_watch_, shared_watch_;
};

// The analyst replica behind NatsServeLink::StartReplica (serve/cluster_link.h).
// One thread: waits for dg_meta/partitions (the correlator writes it),
// loads the newest engine snapshot from dg_snapshots (a policy or options
// other than the correlator's: a replay from the start instead), then
// follows the digest partitions through a DigestMerger of its own
// consumers ("r<nonce>-<p>", deleted by the server an hour after the node
// stops pulling) and applies them, with dg_overrides and dg_shared, under
// the caller's lock in runs of at most 4,096 digests (readers wait at most
// one run). Memory: a whole engine, as the correlator's; CPU: the
// correlator's per event.
class EngineReplica {
 public:
  EngineReplica(NatsLink* link, uint64_t nonce, std::shared_mutex* mu, Engine::VerdictObserver observer, Policy policy,
                EngineOptions options);
  ~EngineReplica();  // stops and joins
  void Stop();       // the same, idempotent; the engine stays readable
  EngineReplica(const EngineReplica&) = delete;
  EngineReplica& operator=(const EngineReplica&) = delete;
  const Engine* engine() const { return loaded_.load() ? engine_.get() : nullptr; }  // under *mu shared
  std::string Metrics() const;

 private:
  void Run();
  absl::Status Follow();
  NatsLink* link_;
  uint64_t nonce_;
  std::shared_mutex* mu_;
  Engine::VerdictObserver observer_;
  Policy policy_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;  // set once, under *mu_
  std::atomic<bool> loaded_{false}, stop_{false};
  DigestMerger::Counters counters_;
  std::atomic<uint64_t> applied_{0}, resumed_from_{0}, lag_{0}, bad_values_{0}, errors_{0};
  std::thread thread_;
};

class NatsServeLink final : public ClusterLink {
 public:
  // nonce: this node's part of its message ids (unique per process; the
  // caller draws it, so tests can fix it).
  static absl::StatusOr<std::unique_ptr<NatsServeLink>> Open(const ClusterOptions& cluster, uint64_t nonce);
  ~NatsServeLink() override;

  const CheckInputs& inputs() const override { return *view_; }
  absl::Status Publish(const std::vector<const Interaction*>& events) override;
  absl::Status Override(const OverrideRecord& record) override;
  absl::Status Share(const std::vector<SharedIndicatorRecord>& rows) override;
  absl::Status Unshare(const std::string& kind, const std::string& value) override;
  std::vector<SharedIndicatorRecord> SharedIndicatorList() const override { return view_->SharedList(); }
  absl::Status PutAccounts(const std::vector<std::pair<std::string, std::string>>& rows) override;
  absl::Status FollowAccounts(std::function<void(std::string_view account_id, std::string_view row)> on_row) override;
  void StopAccounts() override;
  absl::Status StartReplica(std::shared_mutex* mu, Engine::VerdictObserver observer, const Policy& policy,
                            const EngineOptions& options) override;
  const Engine* ReplicaEngine() const override { return replica_ ? replica_->engine() : nullptr; }
  void StopReplica() override {
    if (replica_) replica_->Stop();
  }
  bool Ready(std::string* why) const override;
  std::string Metrics() const override;

 private:
  NatsServeLink() = default;
  std::unique_ptr<NatsLink> link_;
  std::unique_ptr<ClusterView> view_;
  std::mutex publish_mu_;  // one publisher: its window is one request's messages
  std::unique_ptr<ReliablePublisher> pub_;
  uint64_t nonce_ = 0;
  int replicas_ = 3;
  uint64_t next_msg_ = 0;  // under publish_mu_
  BatchLimits limits_;
  std::atomic<uint64_t> events_published_{0}, messages_published_{0}, publish_failures_{0};
  std::unique_ptr<KvBucket> accounts_;          // dg_accounts (FollowAccounts opens it)
  std::unique_ptr<KvWatch> account_watch_;      // stopped before the rest goes (StopAccounts)
  mutable std::mutex account_watch_mu_;         // StopAccounts against FollowAccounts and Ready
  std::atomic<uint64_t> account_rows_{0};
  std::unique_ptr<EngineReplica> replica_;  // before view_ and link_ go (declared after: destroyed first)
};

// The intake sequencer's counters (the correlator's /metrics).
struct SequencerMetrics {
  std::atomic<uint64_t> events{0}, duplicates{0}, bad_batches{0}, bad_records{0}, errors{0};
  // DG_INTAKE messages numbered intake_keep_s ago, erased (RunSequencer's
  // eraser, which also counts what it could not erase).
  std::atomic<const MessageEraser*> eraser{nullptr};
};

// Prometheus text of the sequencer's counters and the overrides the
// correlator applied (the correlator's /metrics).
std::string SequencerMetricsText(const SequencerMetrics& m, uint64_t overrides_applied);

// Runs the sequencer until *stop (or a fatal error, returned). Shares the
// caller's connection and publisher (kept across restarts: a publisher's
// context is freed only when the connection closes); its own consumer.
absl::Status RunSequencer(NatsLink* link, ReliablePublisher* pub, const ClusterOptions& cluster,
                          const std::atomic<bool>* stop, SequencerMetrics* metrics, MessageEraser* eraser = nullptr);

// The sequencer on its own thread, restarted from its stored position
// after an error; stopped and joined on destruction.
class SequencerThread {
 public:
  SequencerThread(NatsLink* link, ClusterOptions cluster);
  ~SequencerThread();
  const SequencerMetrics& metrics() const { return metrics_; }

 private:
  std::atomic<bool> stop_{false};
  SequencerMetrics metrics_;
  std::unique_ptr<MessageEraser> eraser_;  // DG_INTAKE, across the sequencer's rounds
  std::thread thread_;
};

// A change of dg_overrides / dg_shared applied to an engine, as the
// correlator (and an analyst replica) applies them: false when the key or
// value is not understood (the caller counts it). *account_out: the
// overridden account.
bool ApplyOverrideChange(Engine& engine, const std::string& key, const std::string& value, bool deleted,
                         std::string* account_out);
bool ApplySharedChange(Engine& engine, const std::string& key, const std::string& value, bool deleted);

// A bucket the correlator follows (dg_overrides: analysts' decisions;
// dg_shared: imported indicators): every change queued by a watching
// thread, in arrival order -- the values the bucket held at start first --
// and handed to the correlator's thread by Drain(fn(key, value, deleted))
// between runs of events. Memory: the changes not yet drained.
class BucketFeed {
 public:
  static absl::StatusOr<std::unique_ptr<BucketFeed>> Start(NatsLink* link, const char* bucket, int replicas);
  void Drain(const std::function<void(const std::string& key, const std::string& value, bool deleted)>& fn);
  uint64_t drained() const { return drained_.load(); }

 private:
  BucketFeed() = default;
  struct Change {
    std::string key, value;
    bool deleted = false;
  };
  std::unique_ptr<KvBucket> bucket_;
  std::mutex mu_;
  std::vector<Change> pending_;  // under mu_
  std::atomic<uint64_t> drained_{0};
  std::unique_ptr<KvWatch> watch_;  // last: stopped first
};

}  // namespace dg
