#include "cluster/serve_link.h"

#include <array>
#include <chrono>
#include <cstring>
#include <deque>
#include <span>

#include <fmt/format.h>

#include "cluster/event_codec.h"
#include "common/hash.h"
#include "common/json_out.h"
#include "common/parse_int.h"
#include "cluster/snapshot_store.h"
#include "ingest/pipeline.h"
#include "serve/wire.h"

namespace dg {
namespace {

constexpr uint64_t kReportedBadInputs = 20;  // described on stderr; all are counted
constexpr size_t kPublishWindow = 64;        // intake messages in flight per request
constexpr std::chrono::seconds kRequestPatience{15};
constexpr size_t kMaxSharedRows = 1u << 20;  // imported indicators a decision node holds

}  // namespace

// --- KvWatch -------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<KvWatch>> KvWatch::Start(KvBucket* bucket, OnEntry on_entry) {
  std::unique_ptr<KvWatch> w(new KvWatch());
  w->on_entry_ = std::move(on_entry);
  w->link_ = bucket->link();
  if (natsStatus s = kvStore_WatchAll(&w->watcher_, bucket->store(), nullptr); s != NATS_OK) {
    return absl::UnavailableError(fmt::format("watch a key-value bucket: {}", natsStatus_GetText(s)));
  }
  w->thread_ = std::thread([p = w.get()] { p->Loop(); });
  return w;
}

KvWatch::~KvWatch() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  link_->Retire(watcher_);  // not kvWatcher_Destroy: a delivery may be under way (NatsLink::Retire)
}

void KvWatch::Loop() {
  while (!stop_.load()) {
    kvEntry* e = nullptr;
    const natsStatus s = kvWatcher_Next(&e, watcher_, 200);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (e == nullptr) {  // the end of the values the bucket held at start
      initial_done_ = true;
      continue;
    }
    const kvOperation op = kvEntry_Operation(e);
    const std::string key = kvEntry_Key(e);
    on_entry_(key, std::string_view(static_cast<const char*>(kvEntry_Value(e)), static_cast<size_t>(kvEntry_ValueLen(e))),
              op == kvOp_Delete || op == kvOp_Purge);
    kvEntry_Destroy(e);
  }
}

// --- RequestTable --------------------------------------------------------------

bool RequestTable::OnValue(std::string_view key, std::string_view value, bool deleted) {
  uint64_t k = 0;
  if (!RequestValueFromKey(key, &k)) return false;
  if (deleted) {
    values_.erase(k);
    return true;
  }
  RequestValueEntry e;
  if (!ParseRequestValueEntry(value, &e)) return false;
  if (values_.size() >= max_ && !values_.contains(k)) return false;  // a flood: the table stays bounded
  values_[k] = std::move(e);
  return true;
}

bool RequestTable::OnCampaign(std::string_view key, std::string_view value, bool deleted) {
  std::string id;
  if (!CampaignFromKey(key, &id)) return false;
  if (deleted) {
    campaigns_.erase(id);
    return true;
  }
  CampaignMatch c;
  if (!ParseCampaignEntry(value, &c) || c.campaign_id != id) return false;
  if (campaigns_.size() >= max_ && !campaigns_.contains(id)) return false;
  campaigns_[id] = std::move(c);
  return true;
}

std::optional<CampaignMatch> RequestTable::Match(const std::string& payment, const std::string& ip) const {
  if (values_.empty()) return std::nullopt;
  std::array<ValueEvidence, 2> found{};
  std::array<const std::string*, 2> ids{};
  size_t n = 0;
  for (const uint64_t key : {Correlator::PaymentRequestKey(payment), Correlator::AddressRequestKey(ip)}) {
    if (key == 0) continue;
    const auto it = values_.find(key);
    if (it == values_.end()) continue;
    found[n] = it->second.value;
    ids[n++] = &it->second.campaign_id;
  }
  const CombinedRequestEvidence c = CombineRequestEvidence(std::span(found.data(), n));
  if (c.total <= 0) return std::nullopt;
  const std::string* id = nullptr;
  for (size_t i = 0; i < n; ++i) {
    if (found[i].root == c.root) id = ids[i];
  }
  const auto g = campaigns_.find(*id);
  if (g == campaigns_.end()) return std::nullopt;  // its campaign's value not here yet: as no match
  CampaignMatch out = g->second;
  out.total = c.total;
  out.reasons = c.reasons;
  return out;
}

// --- ClusterView ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ClusterView>> ClusterView::Start(NatsLink* link, int replicas) {
  std::unique_ptr<ClusterView> v(new ClusterView());
  auto verdicts = KvBucket::Open(link, kVerdictBucket, replicas);
  if (!verdicts.ok()) return verdicts.status();
  v->verdicts_ = std::move(*verdicts);
  auto overrides = KvBucket::Open(link, kOverrideBucket, replicas);
  if (!overrides.ok()) return overrides.status();
  v->overrides_ = std::move(*overrides);
  ClusterView* self = v.get();
  auto vw = KvWatch::Start(v->verdicts_.get(), [self](const std::string& k, std::string_view value, bool deleted) {
    self->OnVerdict(k, value, deleted);
  });
  if (!vw.ok()) return vw.status();
  v->verdict_watch_ = std::move(*vw);
  auto ow = KvWatch::Start(v->overrides_.get(), [self](const std::string& k, std::string_view value, bool deleted) {
    self->OnOverride(k, value, deleted);
  });
  if (!ow.ok()) return ow.status();
  v->override_watch_ = std::move(*ow);
  auto values = KvBucket::Open(link, kIndicatorBucket, replicas);
  if (!values.ok()) return values.status();
  v->request_values_ = std::move(*values);
  auto campaigns = KvBucket::Open(link, kCampaignBucket, replicas);
  if (!campaigns.ok()) return campaigns.status();
  v->campaigns_ = std::move(*campaigns);
  auto xw = KvWatch::Start(v->request_values_.get(), [self](const std::string& k, std::string_view value, bool deleted) {
    self->OnRequestValue(k, value, deleted);
  });
  if (!xw.ok()) return xw.status();
  v->value_watch_ = std::move(*xw);
  auto cw = KvWatch::Start(v->campaigns_.get(), [self](const std::string& k, std::string_view value, bool deleted) {
    self->OnCampaign(k, value, deleted);
  });
  if (!cw.ok()) return cw.status();
  v->campaign_watch_ = std::move(*cw);
  auto shared = KvBucket::Open(link, kSharedBucket, replicas);
  if (!shared.ok()) return shared.status();
  v->shared_bucket_ = std::move(*shared);
  auto sw = KvWatch::Start(v->shared_bucket_.get(), [self](const std::string& k, std::string_view value, bool deleted) {
    self->OnShared(k, value, deleted);
  });
  if (!sw.ok()) return sw.status();
  v->shared_watch_ = std::move(*sw);
  return v;
}

ClusterView::~ClusterView() {
  // The threads call into this object: stopped before its maps go.
  shared_watch_.reset();
  campaign_watch_.reset();
  value_watch_.reset();
  override_watch_.reset();
  verdict_watch_.reset();
}

void ClusterView::OnRequestValue(const std::string& key, std::string_view value, bool deleted) {
  std::unique_lock lock(mu_);
  if (!table_.OnValue(key, value, deleted)) {
    ++bad_values_;
    return;
  }
  ++updates_;
}

void ClusterView::OnCampaign(const std::string& key, std::string_view value, bool deleted) {
  std::unique_lock lock(mu_);
  if (!table_.OnCampaign(key, value, deleted)) {
    ++bad_values_;
    return;
  }
  ++updates_;
}

std::optional<CampaignMatch> ClusterView::MatchCampaign(const std::string& payment, const std::string& ip) const {
  std::shared_lock lock(mu_);
  return table_.Match(payment, ip);
}

void ClusterView::OnShared(const std::string& key, std::string_view value, bool deleted) {
  std::string kind_name, canonical;
  if (!SharedIndicatorFromKey(key, &kind_name, &canonical)) {
    ++bad_values_;
    return;
  }
  SharedIndicatorRecord row;
  IndicatorKind kind{};
  if (!deleted && (!ParseSharedIndicator(value, &row, &kind) || row.kind != kind_name || row.value != canonical)) {
    ++bad_values_;
    return;
  }
  std::unique_lock lock(mu_);
  if (deleted) {
    if (const auto k = SharedKindByName(kind_name)) shared_.Remove(*k, canonical);
    shared_rows_.erase(key);
  } else {
    if (!shared_rows_.contains(key) && shared_rows_.size() >= kMaxSharedRows) {
      ++bad_values_;  // a flood: bounded
      return;
    }
    // The bucket's value is the truth: replaced, not merged (the "never
    // lowered" rule is the writer's, NatsServeLink::Share).
    shared_.Remove(kind, row.value);
    shared_.Add(kind, row.value, row.source, *SharedTrustByName(row.trust));
    shared_rows_[key] = std::move(row);
  }
  ++updates_;
}

std::optional<SharedTrust> ClusterView::Shared(const std::string& payment, const std::string& ip) const {
  std::shared_lock lock(mu_);
  if (const SharedEntry* e = shared_.Match(payment, ip)) return e->trust;
  return std::nullopt;
}

std::vector<SharedIndicatorRecord> ClusterView::SharedList() const {
  std::shared_lock lock(mu_);
  std::vector<SharedIndicatorRecord> out;
  out.reserve(shared_rows_.size());
  for (const auto& [key, row] : shared_rows_) out.push_back(row);
  return out;
}

std::optional<SharedTrust> ClusterView::SharedTrustOf(const std::string& kind, const std::string& value) const {
  std::shared_lock lock(mu_);
  const auto it = shared_rows_.find(SharedIndicatorKey(kind, value));
  if (it == shared_rows_.end()) return std::nullopt;
  return SharedTrustByName(it->second.trust);
}

size_t ClusterView::shared() const {
  std::shared_lock lock(mu_);
  return shared_rows_.size();
}

void ClusterView::OnVerdict(const std::string& key, std::string_view value, bool deleted) {
  std::string account;
  if (!AccountFromKey(key, &account)) {
    ++bad_values_;
    return;
  }
  if (deleted) {
    std::unique_lock lock(mu_);
    known_.erase(account);
    return;
  }
  // The correlator's value: the account's accounts.jsonl fields plus its
  // reason bits (cluster/nodes.cc, VerdictValue).
  VerdictEntry e;
  if (!ParseVerdictEntry(value, &e)) {
    ++bad_values_;
    return;
  }
  Known k{e.verdict, e.score, e.reasons, e.interactions, std::move(e.campaign_id)};
  std::unique_lock lock(mu_);
  known_[account] = std::move(k);
  ++updates_;
}

void ClusterView::OnOverride(const std::string& key, std::string_view value, bool deleted) {
  std::string account;
  if (!AccountFromKey(key, &account)) {
    ++bad_values_;
    return;
  }
  const std::optional<Verdict> v = deleted ? std::optional(Verdict::kReview) : ParseOverrideEntry(value);
  if (!v) {
    ++bad_values_;
    return;
  }
  std::unique_lock lock(mu_);
  if (*v == Verdict::kReview) overridden_.erase(account);
  else overridden_[account] = *v;
  ++updates_;
}

void ClusterView::ApplyOverride(const std::string& account_id, std::string_view action) {
  const auto v = OverrideActionVerdict(action);
  if (!v) return;
  std::unique_lock lock(mu_);
  if (*v == Verdict::kReview) overridden_.erase(account_id);
  else overridden_[account_id] = *v;
}

AccountInputs ClusterView::Account(const std::string& account_id) const {
  AccountInputs out;
  std::shared_lock lock(mu_);
  const auto o = overridden_.find(account_id);
  const auto k = known_.find(account_id);
  if (k == known_.end()) {
    if (o != overridden_.end()) {
      out.source = AccountInputs::Source::kOverride;
      out.verdict = o->second;
    }
    return out;
  }
  out.source = AccountInputs::Source::kLive;
  out.verdict = k->second.verdict;
  out.score = k->second.score;
  out.reasons = k->second.reasons;
  out.interactions = k->second.interactions;
  out.campaign_id = k->second.campaign;
  // The analyst's decision holds here at once, whatever the correlator
  // last wrote (it follows once it has applied the override).
  if (o != overridden_.end()) {
    out.reasons |= Bit(Reason::kAnalystOverride);
    out.verdict = o->second;
    out.analyst_allow = o->second == Verdict::kAllow;
  }
  return out;
}

bool ClusterView::ready() const {
  return verdict_watch_->initial_done() && override_watch_->initial_done() && value_watch_->initial_done() &&
         campaign_watch_->initial_done() && shared_watch_->initial_done();
}

size_t ClusterView::request_values() const {
  std::shared_lock lock(mu_);
  return table_.values();
}

size_t ClusterView::campaigns() const {
  std::shared_lock lock(mu_);
  return table_.campaigns();
}

size_t ClusterView::accounts() const {
  std::shared_lock lock(mu_);
  return known_.size();
}

size_t ClusterView::overrides() const {
  std::shared_lock lock(mu_);
  return overridden_.size();
}

// --- NatsServeLink ---------------------------------------------------------------

absl::StatusOr<std::unique_ptr<NatsServeLink>> NatsServeLink::Open(const ClusterOptions& cluster, uint64_t nonce) {
  std::unique_ptr<NatsServeLink> l(new NatsServeLink());
  l->nonce_ = nonce;
  l->replicas_ = cluster.replicas;
  auto link = NatsLink::Connect(cluster.nats, "distillguard-serve");
  if (!link.ok()) return link.status();
  l->link_ = std::move(*link);
  if (auto s = l->link_->EnsureStream(kIntakeStream, kIntakeSubject, cluster.replicas, cluster.dedup_window_ms); !s.ok()) return s;
  auto view = ClusterView::Start(l->link_.get(), cluster.replicas);
  if (!view.ok()) return view.status();
  l->view_ = std::move(*view);
  // A request waits at most this long for the cluster (a leader election
  // after a node died takes seconds), then is answered 503 and retried.
  l->link_->patience = kRequestPatience;
  l->pub_ = std::make_unique<ReliablePublisher>(l->link_.get(), kPublishWindow);
  return l;
}

NatsServeLink::~NatsServeLink() {
  StopAccounts();  // its thread calls the caller's on_row
  replica_.reset();
  pub_.reset();
  view_.reset();
}

absl::Status NatsServeLink::StartReplica(std::shared_mutex* mu, Engine::VerdictObserver observer, const Policy& policy,
                                         const EngineOptions& options) {
  if (replica_) return absl::FailedPreconditionError("the replica is already running");
  replica_ = std::make_unique<EngineReplica>(link_.get(), nonce_, mu, std::move(observer), policy, options);
  return absl::OkStatus();
}

absl::Status NatsServeLink::Publish(const std::vector<const Interaction*>& events) {
  std::lock_guard lock(publish_mu_);
  BatchBuilder batch;
  uint64_t messages = 0;
  auto send = [&]() -> absl::Status {
    if (batch.count() == 0) return absl::OkStatus();
    ++messages;
    return pub_->Add(kIntakeSubject, batch.Take(), fmt::format("i-{:016x}-{}", nonce_, next_msg_++));
  };
  absl::Status s = absl::OkStatus();
  for (const Interaction* in : events) {
    const std::string record = EncodeEvent(0, *in);  // the sequencer numbers it
    if (batch.count() > 0 && batch.bytes() + record.size() + sizeof(uint32_t) > limits_.max_bytes) s = send();
    if (!s.ok()) break;
    batch.Add(record);
    if (batch.count() >= limits_.max_records) s = send();
    if (!s.ok()) break;
  }
  if (s.ok()) s = send();
  if (s.ok()) s = pub_->Flush();  // stored (R copies): only now may the request be acknowledged
  if (!s.ok()) {
    // The request is answered 503 and retried by its client: its unsent
    // messages must not ride along with the next request's.
    ++publish_failures_;
    pub_->Discard();
    return s;
  }
  events_published_ += events.size();
  messages_published_ += messages;
  return absl::OkStatus();
}

absl::Status NatsServeLink::Override(const OverrideRecord& o) {
  std::string value;
  AppendOverrideJson(value, o, /*with_account=*/true);
  DG_RETURN_IF_ERROR(view_->overrides_bucket()->Put(AccountKey(o.account_id), value));
  view_->ApplyOverride(o.account_id, o.action);
  return absl::OkStatus();
}

absl::Status NatsServeLink::Share(const std::vector<SharedIndicatorRecord>& rows) {
  for (const SharedIndicatorRecord& row : rows) {
    const std::string key = SharedIndicatorKey(row.kind, row.value), value = FormatSharedIndicator(row);
    if (row.trust != "review") {
      DG_RETURN_IF_ERROR(view_->shared_bucket()->Put(key, value));
      continue;
    }
    // A review import never lowers a block one (as the engine's own
    // import) -- checked against the bucket and written at the revision
    // read, so a block stored meanwhile by another node is kept too.
    auto written = view_->shared_bucket()->PutUnless(key, value, [](std::string_view current) {
      SharedIndicatorRecord held;
      IndicatorKind k{};
      return ParseSharedIndicator(current, &held, &k) && held.trust == "block";
    });
    if (!written.ok()) return written.status();
  }
  return absl::OkStatus();
}

absl::Status NatsServeLink::PutAccounts(const std::vector<std::pair<std::string, std::string>>& rows) {
  if (accounts_ == nullptr) return absl::FailedPreconditionError("dg_accounts is not followed (FollowAccounts)");
  for (const auto& [id, row] : rows) DG_RETURN_IF_ERROR(accounts_->Put(AccountKey(id), row));
  return absl::OkStatus();
}

absl::Status NatsServeLink::FollowAccounts(
    std::function<void(std::string_view account_id, std::string_view row)> on_row) {
  if (accounts_) return absl::FailedPreconditionError("dg_accounts is already followed");
  auto bucket = KvBucket::Open(link_.get(), kAccountBucket, replicas_);
  if (!bucket.ok()) return bucket.status();
  accounts_ = std::move(*bucket);
  // A deleted key keeps what the node knows (attributes are only ever
  // added or updated); the row is the caller's to check against the id.
  auto watch = KvWatch::Start(accounts_.get(), [this, on_row = std::move(on_row)](const std::string& key,
                                                                                  std::string_view value, bool deleted) {
    if (deleted) return;
    ++account_rows_;
    std::string id;
    if (!AccountFromKey(key, &id)) id.clear();
    on_row(id, value);
  });
  if (!watch.ok()) return watch.status();
  KvWatch* w = watch->get();
  {
    std::lock_guard<std::mutex> lock(account_watch_mu_);
    account_watch_ = std::move(*watch);
  }
  // The rows held now are delivered before serving: a node's own merge
  // (PUT, --accounts) must start from them.
  const auto deadline = std::chrono::steady_clock::now() + link_->patience;
  while (!w->initial_done() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::OkStatus();
}

void NatsServeLink::StopAccounts() {
  std::unique_ptr<KvWatch> stopping;
  {
    std::lock_guard<std::mutex> lock(account_watch_mu_);
    stopping = std::move(account_watch_);
  }
  stopping.reset();  // joins the watch's thread: no on_row after this
}

absl::Status NatsServeLink::Unshare(const std::string& kind, const std::string& value) {
  if (!view_->SharedTrustOf(kind, value)) return absl::NotFoundError("no such indicator");
  return view_->shared_bucket()->Delete(SharedIndicatorKey(kind, value));
}

// --- EngineReplica ---------------------------------------------------------------

namespace {
constexpr size_t kReplicaRun = 4096;        // digests applied per hold of the writer lock
constexpr int64_t kReplicaInactiveS = 3600;  // its consumers outlive a stopped node this long
}  // namespace

EngineReplica::EngineReplica(NatsLink* link, uint64_t nonce, std::shared_mutex* mu, Engine::VerdictObserver observer,
                             Policy policy, EngineOptions options)
    : link_(link), nonce_(nonce), mu_(mu), observer_(std::move(observer)), policy_(std::move(policy)), options_(options) {
  // The digests carry no text: as the correlator, it keeps no samples.
  options_.keep_samples = false;
  thread_ = std::thread([this] { Run(); });
}

EngineReplica::~EngineReplica() { Stop(); }

void EngineReplica::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EngineReplica::Run() {
  while (!stop_.load()) {
    const absl::Status s = Follow();
    if (stop_.load()) break;
    ++errors_;
    fmt::print(stderr, "serve: replica: {}; starting again in 2 s\n", std::string(s.message()));
    for (int tick = 0; tick < 20 && !stop_.load(); ++tick) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

absl::Status EngineReplica::Follow() {
  auto meta = KvBucket::Open(link_, kMetaBucket, 1);
  if (!meta.ok()) return meta.status();
  // The partition count the correlator records; until it has, nothing to follow.
  int partitions = 0;
  while (!stop_.load()) {
    auto stored = (*meta)->Get("partitions");
    if (stored.ok()) {
      partitions = ParseDecimal<int>(*stored).value_or(0);
      if (partitions < 1 || partitions > 4096) return absl::DataLossError(fmt::format("dg_meta partitions: '{}'", *stored));
      break;
    }
    if (!absl::IsNotFound(stored.status())) return stored.status();
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (stop_.load()) return absl::OkStatus();
  std::unique_ptr<Engine> engine;
  SnapshotManifest head;
  if (!loaded_.load()) {
    // The newest snapshot, else the whole digest stream.
    auto snaps = KvBucket::Open(link_, kSnapshotBucket, 1);
    if (!snaps.ok()) return snaps.status();
    auto loaded = LoadNewestSnapshot(snaps->get(), static_cast<size_t>(partitions), policy_, options_, &head);
    if (loaded.ok()) {
      engine = std::move(*loaded);
      resumed_from_ = head.next;
    } else {
      if (!absl::IsNotFound(loaded.status())) {
        fmt::print(stderr, "serve: replica: snapshot unusable ({}); following the digests from the start\n",
                   std::string(loaded.status().message()));
      }
      engine = std::make_unique<Engine>(policy_, options_);
      head = SnapshotManifest{};
    }
    head.pos.resize(static_cast<size_t>(partitions), 0);
    engine->SetVerdictObserver(observer_);
    std::unique_lock lock(*mu_);
    engine_ = std::move(engine);
    loaded_ = true;
  } else {
    // After an error: the engine goes on from where it is.
    std::shared_lock lock(*mu_);
    head.next = applied_.load() + resumed_from_.load();
    head.pos.assign(static_cast<size_t>(partitions), 0);  // from the start; numbers before `next` are dropped as duplicates
  }
  auto merged = DigestMerger::Start(link_, partitions, fmt::format("r{:016x}-", nonce_), head.pos, head.next, 8192,
                                    "serve: replica", &counters_, kReplicaInactiveS);
  if (!merged.ok()) return merged.status();
  auto overrides = BucketFeed::Start(link_, kOverrideBucket, 1);
  if (!overrides.ok()) return overrides.status();
  auto shared = BucketFeed::Start(link_, kSharedBucket, 1);
  if (!shared.ok()) return shared.status();
  std::vector<std::string> run;
  Interaction in;
  ContentDigest digest;
  auto last_lag = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    run.clear();
    (*merged)->Take(&run, 100);
    std::unique_lock lock(*mu_);
    for (size_t i = 0; i < run.size(); ++i) {
      if (i > 0 && i % kReplicaRun == 0) {  // let readers in between runs
        lock.unlock();
        lock.lock();
      }
      const std::string& record = run[i];
      if (!record.empty() && DecodeRecord(record, &in, &digest)) engine_->ObserveDigest(in, digest);
      else ++counters_.bad_records;  // counted by the correlator too; never half-applied
    }
    applied_ += run.size();
    (*overrides)->Drain([&](const std::string& key, const std::string& value, bool deleted) {
      std::string id;
      if (!ApplyOverrideChange(*engine_, key, value, deleted, &id)) ++bad_values_;
    });
    (*shared)->Drain([&](const std::string& key, const std::string& value, bool deleted) {
      if (!ApplySharedChange(*engine_, key, value, deleted)) ++bad_values_;
    });
    lock.unlock();
    if (std::chrono::steady_clock::now() - last_lag > std::chrono::seconds(1)) {
      lag_ = (*merged)->Lag();
      last_lag = std::chrono::steady_clock::now();
    }
  }
  return absl::OkStatus();
}

std::string EngineReplica::Metrics() const {
  return fmt::format(
      "# HELP distillguard_cluster_replica_loaded 1 once the replica's engine is loaded (snapshot or empty)\n"
      "# TYPE distillguard_cluster_replica_loaded gauge\ndistillguard_cluster_replica_loaded {}\n"
      "# HELP distillguard_cluster_replica_applied_total Digests the replica applied since it started\n"
      "# TYPE distillguard_cluster_replica_applied_total counter\ndistillguard_cluster_replica_applied_total {}\n"
      "# HELP distillguard_cluster_replica_resumed_from Sequence number of the snapshot it loaded (0: none)\n"
      "# TYPE distillguard_cluster_replica_resumed_from gauge\ndistillguard_cluster_replica_resumed_from {}\n"
      "# HELP distillguard_cluster_replica_lag Digest messages not yet fetched by the replica\n"
      "# TYPE distillguard_cluster_replica_lag gauge\ndistillguard_cluster_replica_lag {}\n"
      "# HELP distillguard_cluster_replica_errors_total Restarts of the replica's follower after an error\n"
      "# TYPE distillguard_cluster_replica_errors_total counter\ndistillguard_cluster_replica_errors_total {}\n"
      "# HELP distillguard_cluster_replica_bad_total Digests and bucket values the replica could not apply\n"
      "# TYPE distillguard_cluster_replica_bad_total counter\ndistillguard_cluster_replica_bad_total {}\n",
      loaded_.load() ? 1 : 0, applied_.load(), resumed_from_.load(), lag_.load(), errors_.load(),
      counters_.bad_records.load() + counters_.bad_batches.load() + bad_values_.load());
}

bool NatsServeLink::Ready(std::string* why) const {
  bool accounts_ready = true;
  {
    std::lock_guard<std::mutex> lock(account_watch_mu_);
    accounts_ready = account_watch_ == nullptr || account_watch_->initial_done();
  }
  if (view_->ready() && accounts_ready) return true;
  *why = "loading the cluster's verdicts, overrides, campaigns' indicators, imported indicators and account attributes";
  return false;
}

std::string NatsServeLink::Metrics() const {
  std::string out;
  auto line = [&](const char* name, const char* type, const char* help, uint64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, v);
  };
  line("distillguard_cluster_accounts", "gauge", "Accounts with a verdict in the watched dg_verdicts bucket", view_->accounts());
  line("distillguard_cluster_overrides", "gauge", "Analysts' overrides in force from the dg_overrides bucket", view_->overrides());
  line("distillguard_cluster_request_values", "gauge",
       "Payment and address-block values of confirmed campaigns (dg_indicators) new accounts are matched on",
       view_->request_values());
  line("distillguard_cluster_campaigns", "gauge", "Confirmed campaigns with matched values (dg_campaigns)", view_->campaigns());
  line("distillguard_cluster_shared_indicators", "gauge", "Imported indicators in force (dg_shared)", view_->shared());
  line("distillguard_cluster_account_rows_total", "counter",
       "Account attribute rows received from the dg_accounts bucket (any node's PUT /v1/accounts)", account_rows_.load());
  line("distillguard_cluster_updates_total", "counter", "Changes received from the watched buckets", view_->updates());
  line("distillguard_cluster_bad_values_total", "counter", "Bucket values not understood (skipped)", view_->bad_values());
  line("distillguard_cluster_events_published_total", "counter", "Events stored in the cluster's intake stream",
       events_published_.load());
  line("distillguard_cluster_messages_published_total", "counter", "Intake messages stored (up to 64 events each)",
       messages_published_.load());
  line("distillguard_cluster_publish_errors_total", "counter", "Publishes the cluster did not confirm", publish_failures_.load());
  line("distillguard_cluster_ready", "gauge", "1 once the watches replayed every key", view_->ready() ? 1 : 0);
  if (replica_) out += replica_->Metrics();
  return out;
}

// --- Sequencer -------------------------------------------------------------------

absl::Status RunSequencer(NatsLink* link, ReliablePublisher* pub_in, const ClusterOptions& cluster,
                          const std::atomic<bool>* stop, SequencerMetrics* m, MessageEraser* eraser) {
  auto stopped = [&] { return stop != nullptr && stop->load(); };
  DG_RETURN_IF_ERROR(link->EnsureStream(kIntakeStream, kIntakeSubject, cluster.replicas, cluster.dedup_window_ms));
  auto meta = KvBucket::Open(link, kMetaBucket, cluster.replicas);
  if (!meta.ok()) return meta.status();
  // Where the last round ended: the next sequence number and the intake
  // stream position it had consumed through.
  uint64_t next = 0, intake_pos = 0;
  if (auto stored = (*meta)->Get("sequencer"); stored.ok()) {
    const size_t space = stored->find(' ');
    const auto n = ParseDecimal<uint64_t>(std::string_view(*stored).substr(0, space));
    const auto pos = space == std::string::npos ? std::nullopt : ParseDecimal<uint64_t>(std::string_view(*stored).substr(space + 1));
    if (!n || !pos) return absl::DataLossError(fmt::format("dg_meta sequencer: '{}' is not '<next> <position>'", *stored));
    next = *n;
    intake_pos = *pos;
  } else if (!absl::IsNotFound(stored.status())) {
    return stored.status();
  }
  // The request ids numbered before the stored position, so that a retry
  // sent after a restart still counts once: the intake read once more up
  // to the position (the same ids in the same order give the same memory).
  RequestIdDedup dedup(4u << 20);
  std::vector<NatsMsgPtr> msgs;
  std::vector<std::string_view> records;
  Interaction in;
  std::string key;
  auto remember = [&](const NatsMsgPtr& msg) {
    const std::string_view data(natsMsg_GetData(msg.get()), static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
    if (!DecodeBatch(data, &records).ok()) return;
    for (const std::string_view record : records) {
      uint64_t ignored = 0;
      if (!DecodeEvent(record, &ignored, &in)) continue;
      key.assign(in.account_id);
      key += '\x1f';
      key += in.request_id;
      dedup.SeenBefore(key);
    }
  };
  uint64_t oldest = 0;  // the intake's first message still held, if numbered before
  if (intake_pos > 0) {
    auto replay = PullConsumer::Create(link, kIntakeStream, "sequencer", kIntakeSubject, 0);
    if (!replay.ok()) return replay.status();
    for (bool more = true; more && !stopped();) {
      msgs.clear();
      if (auto f = (*replay)->Fetch(64, 500, &msgs); !f.ok()) return f;
      if (msgs.empty()) break;  // the stream holds less than the position (retention): what it holds
      for (const NatsMsgPtr& msg : msgs) {
        if (StreamSequence(msg.get()) > intake_pos) {
          more = false;
          break;
        }
        if (oldest == 0) oldest = StreamSequence(msg.get());
        remember(msg);
      }
      (void)(*replay)->AckThrough(msgs.back().get());
    }
  }
  auto consumer = PullConsumer::Create(link, kIntakeStream, "sequencer", kIntakeSubject, intake_pos == 0 ? 0 : intake_pos + 1);
  if (!consumer.ok()) return consumer.status();
  ReliablePublisher& pub = *pub_in;
  pub.Discard();  // a window the last round left behind is redone from the stored position
  const uint64_t partitions = static_cast<uint64_t>(cluster.partitions);
  const BatchLimits limits;
  struct Open {
    BatchBuilder batch;
    uint64_t first = 0, last = 0;
  };
  std::vector<Open> open(partitions);
  auto send = [&](uint64_t p) -> absl::Status {
    Open& o = open[p];
    if (o.batch.count() == 0) return absl::OkStatus();
    return pub.Add(fmt::format("dg.events.{}", p), o.batch.Take(), fmt::format("e-{}-{}", o.first, o.last));
  };
  // Positions numbered (one entry a second at most) and when: intake
  // messages numbered intake_keep_s ago are erased (ClusterOptions).
  using Steady = std::chrono::steady_clock;
  struct Numbered {
    Steady::time_point at;
    uint64_t pos;
  };
  // What this run numbered before is as old as now: seeded, so that it is
  // erased keep_s after a restart even if no new intake comes.
  std::deque<Numbered> numbered;
  if (intake_pos > 0) numbered.push_back(Numbered{Steady::now(), intake_pos});
  uint64_t erased_below = oldest > 0 ? oldest : intake_pos + 1;  // below it: already erased
  auto erase_old = [&] {
    if (eraser == nullptr) return;
    const auto horizon = Steady::now() - std::chrono::seconds(cluster.intake_keep_s);
    uint64_t below = 0;
    while (!numbered.empty() && numbered.front().at <= horizon) {
      below = numbered.front().pos + 1;
      numbered.pop_front();
    }
    if (below <= erased_below) return;
    eraser->Erase(erased_below, below - 1);  // one intake subject: every sequence is intake
    erased_below = below;
  };
  while (!stopped()) {
    msgs.clear();
    if (auto f = (*consumer)->Fetch(16, 200, &msgs); !f.ok()) {
      ++m->errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (msgs.empty()) {
      erase_old();
      continue;
    }
    // A file `publish` that ran since the last round moved `published` on.
    if (auto stored = (*meta)->Get("published"); stored.ok()) {
      next = std::max(next, ParseDecimal<uint64_t>(*stored).value_or(0));
    } else if (!absl::IsNotFound(stored.status())) {
      return stored.status();
    }
    for (const NatsMsgPtr& msg : msgs) {
      const std::string_view data(natsMsg_GetData(msg.get()), static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
      if (auto s = DecodeBatch(data, &records); !s.ok()) {
        if (++m->bad_batches <= kReportedBadInputs) {
          fmt::print(stderr, "sequencer: intake stream sequence {}: {}\n", StreamSequence(msg.get()), std::string(s.message()));
        }
        continue;
      }
      for (const std::string_view record : records) {
        uint64_t ignored = 0;
        if (!DecodeEvent(record, &ignored, &in)) {
          if (++m->bad_records <= kReportedBadInputs) {
            fmt::print(stderr, "sequencer: intake stream sequence {}: an undecodable event record ({} bytes)\n",
                       StreamSequence(msg.get()), record.size());
          }
          continue;
        }
        // The same request sent to two nodes (a gateway's retry) counts once.
        key.assign(in.account_id);
        key += '\x1f';
        key += in.request_id;
        if (dedup.SeenBefore(key)) {
          ++m->duplicates;
          continue;
        }
        const uint64_t p = Hash64(in.account_id) % partitions;
        const std::string encoded = EncodeEvent(next, in);
        Open& o = open[p];
        if (o.batch.count() > 0 && o.batch.bytes() + encoded.size() + sizeof(uint32_t) > limits.max_bytes) {
          DG_RETURN_IF_ERROR(send(p));
        }
        if (o.batch.count() == 0) o.first = next;
        o.batch.Add(encoded);
        o.last = next;
        ++next;
        ++m->events;
        if (o.batch.count() >= limits.max_records) DG_RETURN_IF_ERROR(send(p));
      }
    }
    for (uint64_t p = 0; p < partitions; ++p) DG_RETURN_IF_ERROR(send(p));
    DG_RETURN_IF_ERROR(pub.Flush());
    // Only now is the round visible: the position first (a restart resumes
    // after it), then the count the correlator waits for.
    intake_pos = StreamSequence(msgs.back().get());
    DG_RETURN_IF_ERROR((*meta)->Put("sequencer", fmt::format("{} {}", next, intake_pos)));
    DG_RETURN_IF_ERROR((*meta)->Put("published", std::to_string(next)));
    if (auto s = (*consumer)->AckThrough(msgs.back().get()); !s.ok()) ++m->errors;  // the key above is the position
    // One entry a second: a round joins the newest entry only if that one
    // is younger than a second, so nothing is erased more than a second
    // early (and the deque holds at most keep_s entries).
    if (!numbered.empty() && Steady::now() - numbered.back().at < std::chrono::seconds(1)) {
      numbered.back().pos = intake_pos;
    } else {
      numbered.push_back(Numbered{Steady::now(), intake_pos});
    }
    erase_old();
  }
  return absl::OkStatus();
}

std::string SequencerMetricsText(const SequencerMetrics& m, uint64_t overrides_applied) {
  const MessageEraser* e = m.eraser.load();
  return fmt::format(
      "# TYPE dg_sequencer_events_total counter\ndg_sequencer_events_total {}\n"
      "# TYPE dg_sequencer_duplicates_total counter\ndg_sequencer_duplicates_total {}\n"
      "# TYPE dg_sequencer_bad_batches_total counter\ndg_sequencer_bad_batches_total {}\n"
      "# TYPE dg_sequencer_bad_records_total counter\ndg_sequencer_bad_records_total {}\n"
      "# TYPE dg_sequencer_errors_total counter\ndg_sequencer_errors_total {}\n"
      "# TYPE dg_sequencer_intake_erased_total counter\ndg_sequencer_intake_erased_total {}\n"
      "# TYPE dg_sequencer_intake_erase_errors_total counter\ndg_sequencer_intake_erase_errors_total {}\n"
      "# TYPE dg_sequencer_intake_erase_dropped_total counter\ndg_sequencer_intake_erase_dropped_total {}\n"
      "# TYPE dg_correlator_overrides_applied_total counter\ndg_correlator_overrides_applied_total {}\n",
      m.events.load(), m.duplicates.load(), m.bad_batches.load(), m.bad_records.load(), m.errors.load(), e ? e->erased() : 0,
      e ? e->errors() : 0, e ? e->dropped() : 0,
      overrides_applied);
}

SequencerThread::SequencerThread(NatsLink* link, ClusterOptions cluster)
    : eraser_(std::make_unique<MessageEraser>(link, kIntakeStream)),
      thread_([this, link, cluster = std::move(cluster)] {
        ReliablePublisher pub(link, 64);
        while (!stop_.load()) {
          const absl::Status s = RunSequencer(link, &pub, cluster, &stop_, &metrics_, eraser_.get());
          if (stop_.load()) break;
          ++metrics_.errors;
          // A round that failed is redone from the stored position, with the same numbers.
          fmt::print(stderr, "sequencer: {}; restarting from the stored position in 1 s\n", std::string(s.message()));
          for (int tick = 0; tick < 10 && !stop_.load(); ++tick) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      }) {
  metrics_.eraser = eraser_.get();
}

SequencerThread::~SequencerThread() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

// --- bucket changes applied to an engine ---------------------------------------

bool ApplyOverrideChange(Engine& engine, const std::string& key, const std::string& value, bool deleted,
                         std::string* account_out) {
  // A cleared override (deleted, or "clear") is kReview, as Engine::SetOverride takes it.
  const std::optional<Verdict> v = deleted ? std::optional(Verdict::kReview) : ParseOverrideEntry(value);
  if (!AccountFromKey(key, account_out) || !v) return false;
  engine.SetOverride(*account_out, *v);
  return true;
}

bool ApplySharedChange(Engine& engine, const std::string& key, const std::string& value, bool deleted) {
  std::string kind_name, canonical;
  SharedIndicatorRecord row;
  IndicatorKind kind{};
  const std::optional<IndicatorKind> key_kind =
      SharedIndicatorFromKey(key, &kind_name, &canonical) ? SharedKindByName(kind_name) : std::nullopt;
  if (!key_kind ||
      (!deleted && (!ParseSharedIndicator(value, &row, &kind) || row.kind != kind_name || row.value != canonical))) {
    return false;
  }
  // The bucket's value replaces the engine's (a restart's replay of every
  // key is idempotent); it takes effect on each matching account's next
  // event, as an import in serve does.
  engine.RemoveSharedIndicator(*key_kind, canonical);
  if (deleted) return true;
  if (engine.shared_indicators() >= kMaxSharedRows) return false;  // bounded as a decision node's copy
  engine.AddSharedIndicator(kind, row.value, row.source, *SharedTrustByName(row.trust));
  return true;
}

// --- BucketFeed ------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<BucketFeed>> BucketFeed::Start(NatsLink* link, const char* bucket, int replicas) {
  std::unique_ptr<BucketFeed> f(new BucketFeed());
  auto b = KvBucket::Open(link, bucket, replicas);
  if (!b.ok()) return b.status();
  f->bucket_ = std::move(*b);
  BucketFeed* self = f.get();
  auto watch = KvWatch::Start(f->bucket_.get(), [self](const std::string& key, std::string_view value, bool deleted) {
    std::lock_guard lock(self->mu_);
    self->pending_.push_back(Change{key, std::string(value), deleted});
  });
  if (!watch.ok()) return watch.status();
  f->watch_ = std::move(*watch);
  return f;
}

void BucketFeed::Drain(const std::function<void(const std::string& key, const std::string& value, bool deleted)>& fn) {
  std::vector<Change> taken;
  {
    std::lock_guard lock(mu_);
    taken.swap(pending_);
  }
  for (const Change& c : taken) fn(c.key, c.value, c.deleted);
  drained_ += taken.size();
}

}  // namespace dg
