#include "serve/service.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/sha256.h"
#include "common/json_out.h"
#include "common/parse_int.h"
#include "content/features.h"
#include "content/tokens.h"
#include "ingest/line_reader.h"
#include "ingest/parser.h"
#include "report/stix.h"
#include "report/traceback.h"
#include "report/writers.h"
#include "serve/request_guard.h"
#include "serve/wire.h"

namespace dg {
namespace {

constexpr size_t kApplyChunk = 64;  // events applied per exclusive lock (decisions wait at most one chunk)
constexpr size_t kFollowChunkBytes = 4u << 20;
// Account attributes from the cluster's dg_accounts bucket (outside input):
// one row at most this long, and this many accounts at most on a node.
constexpr size_t kMaxClusterAccountRow = 64u << 10;
constexpr size_t kMaxClusterAccounts = 2u << 20;

double MicrosSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

// Request ids are de-duplicated per account: an id is the client's (or its
// gateway's) choice, so a global key would let one account's events hide
// another's by reusing its ids.
std::string DedupKey(const Interaction& in) {
  std::string key;
  key.reserve(in.account_id.size() + 1 + in.request_id.size());
  key += in.account_id;
  key += '\x1f';
  key += in.request_id;
  return key;
}

// Exclusive flock on DIR/distillguard.lock (released by the kernel when the
// process dies, even by kill -9). Returns the descriptor; FailedPrecondition
// when another process holds it, Unavailable when it cannot be taken.
absl::StatusOr<int> LockDataDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // a failure shows in open() below
  const std::string path = (std::filesystem::path(dir) / "distillguard.lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    // Unavailable whatever the errno: serve cannot run on this directory (exit 1).
    return absl::UnavailableError(fmt::format("{}: cannot open the lock file: {}", path, std::strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    std::string pid(buf, n > 0 ? static_cast<size_t>(n) : 0);
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          fmt::format("{}: the data directory is in use by another distillguard serve (pid {}; lock {}): one process per "
                      "data directory",
                      dir, pid.empty() ? "unknown" : pid, path));
    }
    return absl::UnavailableError(fmt::format("{}: cannot lock: {}", path, std::strerror(err)));
  }
  const std::string me = std::to_string(getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, me.data(), me.size(), 0) < 0) {
    // The lock holds regardless; the pid is only for the message.
  }
  return fd;
}

uint64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  const int got = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// Kind of a stored indicator; "user_agent": the name stores written before
// the names were unified.
std::optional<IndicatorKind> StoredKind(std::string_view name) {
  return name == "user_agent" ? std::optional(IndicatorKind::kClient) : IndicatorKindByName(name);
}

}  // namespace

void LatencyHistogram::Record(double us) {
  size_t idx = 0;
  while (idx < kBoundsUs.size() && us > kBoundsUs[idx]) ++idx;
  buckets_[idx].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(us * 1000), std::memory_order_relaxed);
}

void LatencyHistogram::AppendPrometheus(std::string& out, const std::string& name, const std::string& help) const {
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t idx = 0; idx < kBoundsUs.size(); ++idx) {
    cumulative += buckets_[idx].load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBoundsUs[idx] / 1e6, cumulative);
  }
  cumulative += buckets_[kBoundsUs.size()].load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, cumulative, name,
                     sum_ns_.load(std::memory_order_relaxed) / 1e9, name, count_.load(std::memory_order_relaxed));
}

Service::Service(ServiceOptions options)
    : options_(std::move(options)),
      engine_(options_.policy, EngineOptions{options_.keep_samples}),
      dedup_(4u << 20) {
  // Every verdict change, at the change, with its evidence (console history).
  engine_.SetVerdictObserver([this](const AccountState& a, const VerdictRecord& r) { verdict_history_.Record(a.id, r); });
}

const Engine& Service::ReadEngine() const {
  if (options_.cluster) {
    if (const Engine* replica = options_.cluster->ReplicaEngine()) return *replica;
  }
  return engine_;
}

void Service::Read(const std::function<void(const EngineView&)>& fn) const {
  std::shared_lock<std::shared_mutex> lock(engine_mu_);
  fn(EngineView{ReadEngine(), verdict_history_, override_history_});
}

Service::~Service() {
  Stop();
  store_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::unique_ptr<Service>> Service::Open(ServiceOptions options) {
  std::unique_ptr<Service> s(new Service(std::move(options)));
  if (s->options_.lock_data_dir) {
    auto fd = LockDataDir(s->options_.data_dir);
    if (!fd.ok()) return fd.status();
    s->lock_fd_ = *fd;
  }
  auto store = Store::Open(s->options_.data_dir, s->options_.max_store_bytes);
  if (!store.ok()) return store.status();
  s->store_ = std::move(*store);
  s->MaybePrune();  // retention applies before replay: replay sees the retained history only
  DG_RETURN_IF_ERROR(s->Replay());
  if (s->options_.cluster) {
    // Account attributes PUT on any node: access rules and the events'
    // join read the same on every node. The bucket is outside input
    // (anyone on the bus can write it): a row is taken only when it is at
    // most kMaxClusterAccountRow bytes and holds exactly the one account
    // its key names, parsed outside the lock; the directory holds at most
    // kMaxClusterAccounts accounts.
    s->accounts_.set_max_accounts(kMaxClusterAccounts);
    Service* self = s.get();
    DG_RETURN_IF_ERROR(s->options_.cluster->FollowAccounts([self](std::string_view account_id, std::string_view row) {
      auto refuse = [self](std::string_view why) {
        if (self->cluster_account_refused_.fetch_add(1) < 20) {
          fmt::print(stderr, "serve: account attributes from the cluster refused: {}\n", why);
        }
      };
      if (account_id.empty() || row.size() > kMaxClusterAccountRow) return refuse("a key that names no account, or too long");
      AccountDirectory one;
      one.set_max_accounts(1);
      if (const absl::Status loaded = one.LoadText(row, "dg_accounts"); !loaded.ok()) return refuse(StatusMessage(loaded));
      const AccountAttributes* a = one.Find(std::string(account_id));
      if (a == nullptr || one.size() != 1) return refuse("the row is not the account its key names");
      std::unique_lock<std::shared_mutex> lock(self->accounts_mu_);
      if (self->accounts_.size() >= kMaxClusterAccounts && self->accounts_.Find(a->account_id) == nullptr) {
        return refuse("more accounts than this node keeps");
      }
      self->accounts_.Upsert(*a);
      self->accounts_generation_.fetch_add(1, std::memory_order_acq_rel);
    }));
  }
  if (s->options_.cluster && s->options_.cluster_replica) {
    Service* self = s.get();
    DG_RETURN_IF_ERROR(s->options_.cluster->StartReplica(
        &s->engine_mu_, [self](const AccountState& a, const VerdictRecord& r) { self->verdict_history_.Record(a.id, r); },
        s->options_.policy, EngineOptions{false}));
  }
  if (!s->options_.access_rules.empty()) {
    auto audit = AccessAudit::Open(s->options_.data_dir, s->options_.clock, s->options_.access_audit_queue);
    if (!audit.ok()) return audit.status();
    s->audit_ = std::move(*audit);
    if (auto loaded = s->LoadAccessRules("serve", "start"); !loaded.ok()) {
      // At start a refused file is a configuration to fix, not a request
      // to answer: the plain code, without the reload's HTTP 422 mark.
      return absl::Status(loaded.status().code(), loaded.status().message());
    }
  }
  s->ready_ = true;
  return s;
}

absl::Status Service::Replay() {
  Interaction in;
  ContentDigest digest;
  uint64_t bad = 0;
  // Account data first: replayed records take back what the wire format
  // does not keep (org verification, country, verification level).
  DG_RETURN_IF_ERROR(store_->ForEachAccount([&](const std::string& id, const std::string& attrs) {
    // Written by AccountToJson, so it reads back; if one does not (a store
    // edited by hand), that account loses its attributes, the rest replay:
    // logged and counted rather than refusing to start.
    if (const absl::Status loaded = accounts_.LoadText(attrs, "store:" + id); !loaded.ok()) {
      side_failures_.fetch_add(1, std::memory_order_relaxed);
      fmt::print(stderr, "serve: stored account {}: {}\n", id, StatusMessage(loaded));
    }
  }));
  // Overrides are applied where they were made: between the batch that was
  // the newest then and the next (live, ingest and overrides are serialised
  // by the ingest lock). Rows from before the column carry no place: each
  // takes the place of the next override that has one (it was made before
  // it), or the end of the log, as before.
  std::vector<OverrideRecord> overrides;
  DG_RETURN_IF_ERROR(store_->ForEachOverride([&](const OverrideRecord& o) { overrides.push_back(o); }));
  {
    std::optional<int64_t> next;
    for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
      if (it->after_batch) next = it->after_batch;
      else it->after_batch = next.value_or(std::numeric_limits<int64_t>::max());
    }
  }
  size_t next_override = 0;
  auto apply_overrides_before = [&](int64_t batch) {
    for (; next_override < overrides.size() && *overrides[next_override].after_batch < batch; ++next_override) {
      const OverrideRecord& o = overrides[next_override];
      engine_.SetOverride(o.account_id, o.action == "allow" ? Verdict::kAllow : o.action == "block" ? Verdict::kBlock : Verdict::kReview);
      override_history_[o.account_id].push_back(o);
    }
  };
  // The redacted texts logged events gave to the analyst view (samples,
  // content indicators' shown values), handed back to the same events.
  // Not read with samples off: the engine then never asks for text.
  absl::flat_hash_map<std::pair<int64_t, uint32_t>, EventTexts> texts;
  if (options_.keep_samples) {
    DG_RETURN_IF_ERROR(store_->ForEachEventText([&](const EventTextRecord& r) {
      if (r.use >= kTextUses) return;  // written by a later version
      EventTexts& t = texts[{r.batch, r.index}];
      t.replay = true;
      t.text[r.use] = r.text;
    }));
  }
  EventTexts no_text;
  no_text.replay = true;
  DG_RETURN_IF_ERROR(store_->ForEachLoggedRecord(
          [&](std::string_view record, int64_t batch, uint32_t index) {
            apply_overrides_before(batch);
            if (!DecodeRecord(record, &in, &digest)) {
              ++bad;
              return;
            }
            // A request id counts once, even if the log somehow holds it twice.
            const std::string key = DedupKey(in);
            if (dedup_.Contains(key)) {
              ++replay_duplicates_;
              return;
            }
            dedup_.Insert(key);
            if (const AccountAttributes* known = accounts_.Find(in.account_id)) {
              if (in.org_verified < 0) in.org_verified = known->org_verified;
              if (in.country.empty()) in.country = known->country;
              if (in.verification.empty()) in.verification = known->verification;
            }
            const auto t = texts.find(std::pair(batch, index));
            engine_.ObserveDigest(in, digest, t != texts.end() ? &t->second : &no_text);
            ++replayed_;
          }));
  apply_overrides_before(std::numeric_limits<int64_t>::max());
  for (; next_override < overrides.size(); ++next_override) {  // rows from before the column, after the log
    const OverrideRecord& o = overrides[next_override];
    engine_.SetOverride(o.account_id, o.action == "allow" ? Verdict::kAllow : o.action == "block" ? Verdict::kBlock : Verdict::kReview);
    override_history_[o.account_id].push_back(o);
  }
  if (bad > 0) fmt::print(stderr, "serve: {}: {} log records could not be decoded and were skipped\n", store_->path(), bad);
  if (replay_duplicates_ > 0) {
    fmt::print(stderr, "serve: {}: {} logged records repeated a request id and were counted once\n", store_->path(),
               replay_duplicates_);
  }
  // Samples stored per campaign by earlier versions (none are written now).
  DG_RETURN_IF_ERROR(store_->ForEachSample([&](const std::string& c, const std::string& text) { engine_.RestoreSample(c, text); }));
  return store_->ForEachSharedIndicator(
                 [&](const SharedIndicatorRecord& r) {
                   const auto k = StoredKind(r.kind);
                   const auto trust = SharedTrustByName(r.trust);
                   // false: the engine already holds it or cannot use it; it stays in the store either way.
                   if (k) engine_.AddSharedIndicator(*k, r.value, r.source, trust.value_or(SharedTrust::kReview));
                 });
}

IngestResult Service::Ingest(std::string_view jsonl, const std::string& origin) { return IngestLines(jsonl, origin, {}); }

IngestResult Service::IngestLines(std::string_view jsonl, const std::string& origin,
                                  const std::vector<std::pair<std::string, std::string>>& meta) {
  const auto t0 = std::chrono::steady_clock::now();
  IngestResult result;
  // 1. Parse and digest, without any lock.
  RecordParser parser(options_.mapping);
  // Token buffers and the digests of repeated system prompts (exact: the
  // same digest computing would give), for this batch.
  auto scratch = std::make_unique<DigestScratch>();
  std::vector<Interaction> events;
  std::vector<ContentDigest> digests;
  std::vector<std::string> records;
  FieldCoverage coverage;  // merged into coverage_ once per batch
  uint64_t line_no = 0;
  size_t pos = 0;
  const TimeMs now = options_.clock();
  // A UTF-8 byte-order mark (editors and some exporters write one) is not
  // part of the first line.
  if (jsonl.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;
  while (pos < jsonl.size()) {
    size_t end = jsonl.find('\n', pos);
    if (end == std::string_view::npos) end = jsonl.size();
    std::string_view line = jsonl.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    Interaction in;
    // Parsed in place when kLinePadding bytes of the body follow the line
    // (every line but the last few): no copy of the line.
    const bool padded = static_cast<size_t>(jsonl.data() + jsonl.size() - (line.data() + line.size())) >= kLinePadding;
    if (auto err = parser.Parse(line, padded, &in)) {
      if (err->filtered) continue;  // the mapping's [filter] excluded it: not an error
      ++result.rejected;
      if (result.errors.size() < options_.max_errors_returned) result.errors.push_back(fmt::format("{}:{}: {}", origin, line_no, err->Message()));
      continue;
    }
    if (options_.max_future_ms > 0 && in.ts > now + options_.max_future_ms) {
      ++result.rejected;
      if (result.errors.size() < options_.max_errors_returned) {
        result.errors.push_back(fmt::format("{}:{}: field 'ts': out_of_range: {} is more than {} h after the service's clock ({})",
                                            origin, line_no, FormatRfc3339(in.ts), options_.max_future_ms / kMsPerHour,
                                            FormatRfc3339(now)));
      }
      continue;
    }
    in.ip = NormalizeIp(in.ip);  // ::ffff:a.b.c.d is a.b.c.d (one key for one address)
    {
      std::shared_lock<std::shared_mutex> accounts(accounts_mu_);
      accounts_.Apply(&in);  // the provider's account data, never erased by an empty log field
    }
    coverage.Observe(in);
    if (options_.cluster) {  // the cluster's workers digest it
      events.push_back(std::move(in));
      continue;
    }
    ContentDigest d;
    DigestContent(in, scratch.get(), &d);  // with the response's signature, for traceback
    records.push_back(EncodeRecord(in, d));
    events.push_back(std::move(in));
    digests.push_back(d);
  }
  {
    std::lock_guard<std::mutex> lock(coverage_mu_);
    coverage_.Merge(coverage);
  }
  // Time order within the batch (stable: ties keep arrival order).
  std::vector<size_t> order(events.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return events[a].ts < events[b].ts; });

  if (options_.cluster) return PublishToCluster(events, order, std::move(result), t0);
  // 2. Under the ingest lock: dedup, durable append, then apply.
  std::lock_guard<std::mutex> ingest(ingest_mu_);
  std::vector<size_t> fresh;
  std::vector<std::string> to_store;
  fresh.reserve(order.size());
  to_store.reserve(order.size());
  absl::flat_hash_set<std::string> in_batch;
  std::vector<std::string> keys(events.size());
  for (const size_t idx : order) {
    keys[idx] = DedupKey(events[idx]);
    const std::string& id = keys[idx];
    if (dedup_.Contains(id) || !in_batch.insert(id).second) {
      ++result.duplicates;
      continue;
    }
    fresh.push_back(idx);
    to_store.push_back(std::move(records[idx]));
  }
  int64_t batch_seq = 0;
  if (!to_store.empty() || !meta.empty()) {
    TimeMs newest = kNoTime;
    for (const size_t idx : fresh) newest = std::max(newest, events[idx].ts);
    if (absl::Status appended = store_->Append(to_store, meta, newest, &batch_seq); !appended.ok()) {
      result.stored = false;
      store_failures_.fetch_add(1, std::memory_order_relaxed);
      last_store_error_ = std::string(StatusMessage(appended));
      result.store_error = std::move(appended);
      last_failed_bytes_ = 0;
      for (const auto& r : to_store) last_failed_bytes_ += r.size() + 4;
      store_ok_ = false;
      return result;
    }
    store_ok_ = true;
    MaybePrune();
  }
  for (const size_t idx : fresh) dedup_.Insert(keys[idx]);
  // Event k of the batch is record k of the stored batch: the texts it
  // gives the analyst view are kept under (batch, k) for the replay.
  std::vector<EventTextRecord> texts;
  EventTexts t;
  for (size_t from = 0; from < fresh.size(); from += kApplyChunk) {
    std::unique_lock<std::shared_mutex> lock(engine_mu_);
    const auto held = std::chrono::steady_clock::now();
    const size_t to = std::min(fresh.size(), from + kApplyChunk);
    for (size_t k = from; k < to; ++k) {
      t.used = 0;
      engine_.ObserveDigest(events[fresh[k]], digests[fresh[k]], &t);
      for (size_t u = 0; t.used != 0 && u < kTextUses; ++u) {
        if (t.used & (1u << u)) texts.push_back({batch_seq, static_cast<uint32_t>(k), static_cast<uint8_t>(u), std::move(t.text[u])});
      }
    }
    apply_lock_.Record(MicrosSince(held));
  }
  if (!texts.empty()) {
    // After the events (they are durable and applied already); a failure
    // here costs the analyst view those texts after a restart, not events.
    if (const absl::Status stored = store_->AddEventTexts(texts); !stored.ok()) {
      side_failures_.fetch_add(1, std::memory_order_relaxed);
      fmt::print(stderr, "serve: {} texts of samples and indicators not stored (a restart will not show them): {}\n", texts.size(),
                 StatusMessage(stored));
    }
  }
  result.accepted = fresh.size();
  events_accepted_.fetch_add(result.accepted, std::memory_order_relaxed);
  events_duplicate_.fetch_add(result.duplicates, std::memory_order_relaxed);
  events_rejected_.fetch_add(result.rejected, std::memory_order_relaxed);
  ingest_latency_.Record(MicrosSince(t0));
  return result;
}

IngestResult Service::PublishToCluster(const std::vector<Interaction>& events, const std::vector<size_t>& order,
                                       IngestResult result, std::chrono::steady_clock::time_point t0) {
  // A request id repeated within the request is dropped here; across
  // requests and nodes, by the cluster's sequencer (docs/SCALE.md).
  absl::flat_hash_set<std::string> in_batch;
  std::vector<const Interaction*> fresh;
  fresh.reserve(order.size());
  for (const size_t idx : order) {
    if (!in_batch.insert(DedupKey(events[idx])).second) {
      ++result.duplicates;
      continue;
    }
    fresh.push_back(&events[idx]);
  }
  if (!fresh.empty()) {
    if (absl::Status published = options_.cluster->Publish(fresh); !published.ok()) {
      cluster_publish_failures_.fetch_add(1, std::memory_order_relaxed);
      result.stored = false;
      result.store_error = absl::UnavailableError("the cluster did not store the events: " + std::string(StatusMessage(published)));
      return result;
    }
  }
  result.accepted = fresh.size();
  events_accepted_.fetch_add(result.accepted, std::memory_order_relaxed);
  events_duplicate_.fetch_add(result.duplicates, std::memory_order_relaxed);
  events_rejected_.fetch_add(result.rejected, std::memory_order_relaxed);
  ingest_latency_.Record(MicrosSince(t0));
  return result;
}

bool Service::Ready(std::string* why) {
  if (!ready_.load()) {
    *why = "replaying the log";
    return false;
  }
  if (options_.cluster) return options_.cluster->Ready(why);
  if (store_ok_.load()) return true;
  // The last write failed: probe (at most every 5 s) with as many bytes as
  // the failed batch, so that readiness comes back with room on the disk.
  // Probe pacing is the process's own business: a monotonic clock.
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::unique_lock<std::mutex> ingest(ingest_mu_, std::try_to_lock);
  if (ingest.owns_lock()) {
    if (now - last_probe_s_.load() >= 5 && !store_ok_.load()) {
      last_probe_s_ = now;
      if (const absl::Status probed = store_->Probe(std::clamp<size_t>(last_failed_bytes_, 1, 1u << 20)); probed.ok()) {
        store_ok_ = true;
      } else {
        last_store_error_ = std::string(StatusMessage(probed));
      }
    }
    if (store_ok_.load()) return true;
    *why = "the store refuses writes (ingest answers 503): " + last_store_error_;
  } else {
    *why = "the store refuses writes (ingest answers 503)";
  }
  return false;
}

void Service::MaybePrune() {
  if (options_.retention_days <= 0) return;
  const int64_t now = options_.clock() / 1000;  // seconds
  if (now - last_prune_s_.load() < 3600) return;
  last_prune_s_ = now;
  const TimeMs cutoff = (now - static_cast<int64_t>(options_.retention_days) * 86400) * 1000;
  const auto pruned = store_->PruneBefore(cutoff);
  if (!pruned.ok()) {
    // Retention is retried an hour later; the log keeps its old batches
    // meanwhile (nothing is lost, the disk fills a little more).
    side_failures_.fetch_add(1, std::memory_order_relaxed);
    fmt::print(stderr, "serve: retention: {}\n", StatusMessage(pruned.status()));
    return;
  }
  if (*pruned > 0) {
    fmt::print(stderr, "serve: retention: deleted {} logged events older than {} days\n", *pruned, options_.retention_days);
  }
}

uint64_t DecisionCache::Key(const CheckRequest& r) {
  return HashCombine(HashCombine(Hash64(r.account_id), Hash64(r.payment_fingerprint)), Hash64(r.ip)) ^ r.prompt_flags;
}

void DecisionCache::Put(uint64_t key, const CheckResult& r) {
  Shard& s = shards_[key % kShards];
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.map.size() >= per_shard_) s.map.clear();
  s.map.insert_or_assign(key, r);
}

std::optional<CheckResult> DecisionCache::Get(uint64_t key) {
  Shard& s = shards_[key % kShards];
  std::lock_guard<std::mutex> lock(s.mu);
  const auto it = s.map.find(key);
  if (it == s.map.end()) return std::nullopt;
  return it->second;
}

CheckResult Service::Check(const CheckRequest& request) {
  if (options_.cluster) {  // the watched copy has its own lock; nothing here is held
    CheckResult r = dg::Check(request, options_.cluster->inputs(), options_.policy);
    ApplyAccessRules(request, &r);
    return r;
  }
  const uint64_t key = DecisionCache::Key(request);
  std::shared_lock<std::shared_mutex> lock(engine_mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (auto cached = decision_cache_.Get(key)) {
      checks_from_cache_.fetch_add(1, std::memory_order_relaxed);
      ApplyAccessRules(request, &*cached);
      return *cached;
    }
    lock.lock();
  }
  CheckResult r = engine_.Check(request);
  // (An analyst's override on an account that has sent nothing yet is
  // consulted by Engine::Check itself.)
  decision_cache_.Put(key, r);
  lock.unlock();
  ApplyAccessRules(request, &r);
  return r;
}

void Service::ApplyAccessRules(const CheckRequest& request, CheckResult* r) {
  std::shared_ptr<const AccessRuleSet> rules = access_rules_.load(std::memory_order_acquire);
  if (!rules || rules->empty()) return;
  const TimeMs now = options_.clock();
  const Decision detector = r->decision;
  const double score = r->score;
  // The generation is read before the attributes: a change in between makes
  // the cached outcome stale under the new generation, never the reverse.
  const uint64_t generation = accounts_generation_.load(std::memory_order_acquire);
  std::shared_ptr<const AccessOutcome> outcome;
  if (!rules->Probe(request.account_id, generation, request.model, detector, score, now, &outcome)) {
    std::shared_lock<std::shared_mutex> lock(accounts_mu_);
    const AccessSubject subject = rules->Subject(accounts_.Find(request.account_id), detector, score, now);
    outcome = rules->Decide(request.account_id, generation, request.model, subject);
  }
  if (!outcome) return;  // no rule applies: the common case
  ApplyAccess(*rules, *outcome, r);
  std::shared_lock<std::shared_mutex> lock(accounts_mu_);
  const AccountAttributes* a = accounts_.Find(request.account_id);
  for (const uint32_t idx : outcome->triggered) {
    const bool dry = rules->rules()[idx].mode == AccessMode::kDryRun;
    (dry ? access_dry_run_ : access_enforced_).fetch_add(1, std::memory_order_relaxed);
    AccessAuditEntry e;
    e.at = now;
    e.rules = rules;
    e.rule = idx;
    e.account_id = request.account_id;
    e.model = request.model;
    if (a != nullptr) e.attributes = *a;
    e.detector = detector;
    e.score = score;
    e.decision = r->decision;
    audit_->Record(std::move(e));
  }
}

absl::StatusOr<std::string> Service::LoadAccessRules(const std::string& by, const std::string& via) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  const auto old = access_rules_.load();
  auto loaded = AccessRuleSet::Load(options_.access_rules);
  const std::string why(loaded.ok() ? std::string_view() : StatusMessage(loaded.status()));
  std::shared_ptr<const AccessRuleSet> fresh = loaded.ok() ? *loaded : nullptr;
  std::string members = "\"kind\":\"reload\",\"at\":";
  AppendJsonString(members, FormatRfc3339(options_.clock()));
  members += ",\"by\":";
  AppendJsonString(members, by);
  members += ",\"via\":";
  AppendJsonString(members, via);
  members += ",\"file\":";
  AppendJsonString(members, options_.access_rules);
  members += fmt::format(",\"ok\":{}", fresh ? "true" : "false");
  auto describe = [](const AccessRuleSet* r) {
    if (r == nullptr) return std::string("null");
    size_t dry = 0;
    for (const auto& rule : r->rules()) dry += rule.mode == AccessMode::kDryRun;
    std::string out = "{\"version\":";
    AppendJsonString(out, r->version());
    out += ",\"sha256\":";
    AppendJsonString(out, r->sha256());
    out += ",\"catalogue_sha256\":";
    if (r->catalogue_sha256().empty()) out += "null";
    else AppendJsonString(out, r->catalogue_sha256());
    out += fmt::format(",\"rules\":{},\"enforce\":{},\"dry_run\":{}}}", r->rules().size(), r->rules().size() - dry, dry);
    return out;
  };
  if (fresh) {
    members += ",\"rules\":" + describe(fresh.get());
  } else {
    members += ",\"error\":";
    AppendJsonString(members, why);
    members += ",\"file_sha256\":";
    std::ifstream in(options_.access_rules, std::ios::binary);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      AppendJsonString(members, Sha256Hex(ss.str()));
    } else {
      members += "null";
    }
  }
  members += ",\"previous\":" + describe(old.get());
  const absl::Status audited = audit_->RecordEvent(members);
  if (!fresh) {
    access_reload_failures_.fetch_add(1, std::memory_order_relaxed);
    std::string refused = old ? why + " (the rules in force are unchanged: version " + old->version() + ")" : why;
    if (!audited.ok()) refused += "; and the reload was not audited: " + std::string(StatusMessage(audited));
    // The request was well-formed; the file it names is refused (422).
    return UnprocessableError(refused);
  }
  if (!audited.ok()) {
    // A change of rules the audit cannot show is not made.
    access_reload_failures_.fetch_add(1, std::memory_order_relaxed);
    return absl::UnavailableError("the new rules were not applied: the reload could not be audited: " +
                                  std::string(StatusMessage(audited)));
  }
  access_rules_.store(fresh, std::memory_order_release);
  access_reloads_.fetch_add(1, std::memory_order_relaxed);
  fmt::print(stderr, "serve: access rules {} version {} ({} rules, sha256 {}) loaded by {} via {}\n", options_.access_rules,
             fresh->version(), fresh->rules().size(), fresh->sha256(), by, via);
  return describe(fresh.get());
}

absl::StatusOr<std::string> Service::ReloadAccessRules(const std::string& by, const std::string& via) {
  if (options_.access_rules.empty()) {
    return absl::FailedPreconditionError("serve was started without --access-rules: there is nothing to reload");
  }
  return LoadAccessRules(by, via);
}

std::string Service::AccessRulesJson() {
  const auto rules = access_rules_.load();
  if (!rules) return "{\"file\":null,\"version\":null,\"rules\":0}";
  size_t dry = 0;
  for (const auto& rule : rules->rules()) dry += rule.mode == AccessMode::kDryRun;
  std::string out = "{\"file\":";
  AppendJsonString(out, rules->origin());
  out += ",\"version\":";
  AppendJsonString(out, rules->version());
  out += ",\"sha256\":";
  AppendJsonString(out, rules->sha256());
  out += ",\"catalogue_sha256\":";
  if (rules->catalogue_sha256().empty()) out += "null";
  else AppendJsonString(out, rules->catalogue_sha256());
  out += fmt::format(",\"rules\":{},\"enforce\":{},\"dry_run\":{}}}", rules->rules().size(), rules->rules().size() - dry, dry);
  return out;
}

absl::StatusOr<std::string> Service::AccessAuditJsonl(int64_t since, size_t limit) {
  if (!audit_) return absl::FailedPreconditionError("serve was started without --access-rules: there is no access audit");
  // A timeout (10 s) exports what is written so far: the records still
  // queued are not lost, they show in the next export.
  audit_->Flush();
  return audit_->Export(since, limit);
}

uint32_t Service::PromptFlags(std::string_view prompt) {
  if (prompt.empty()) return 0;
  TokenStream tokens;
  Tokenize(prompt, &tokens);
  LexiconHits hits;
  MatchLexicon(prompt, tokens, &hits);
  return hits.flags;
}

void Service::RecordDecision(Decision d, double us) {
  decisions_[static_cast<size_t>(d)].fetch_add(1, std::memory_order_relaxed);
  check_latency_.Record(us);
}

std::string Service::CampaignsJson() {
  std::shared_lock<std::shared_mutex> lock(engine_mu_);
  const Engine& reader = ReadEngine();
  std::string out = "{\"campaigns\":[";
  const auto campaigns = Campaigns(reader);
  for (size_t idx = 0; idx < campaigns.size(); ++idx) {
    if (idx) out += ",";
    AppendCampaignJson(out, campaigns[idx], reader);
  }
  out += "]}";
  return out;
}

absl::Status Service::WriteReport(const std::string& path) {
  std::shared_lock<std::shared_mutex> lock(engine_mu_);
  const Engine& reader = ReadEngine();
  RunInfo info;
  info.inputs = options_.data_dir;
  info.interactions = reader.interactions();
  FieldCoverage coverage;  // of the events parsed since this process started
  {
    std::lock_guard<std::mutex> cov_lock(coverage_mu_);
    coverage = coverage_;
  }
  info.coverage = &coverage;
  return dg::WriteReport(Campaigns(reader), reader, info, path);
}

std::optional<std::string> Service::CampaignJson(const std::string& id) {
  std::shared_lock<std::shared_mutex> lock(engine_mu_);
  const Engine& reader = ReadEngine();
  for (const auto& c : Campaigns(reader)) {
    if (c.id != id) continue;
    std::string out;
    AppendCampaignJson(out, c, reader);
    return out;
  }
  return std::nullopt;
}

std::optional<std::string> Service::AccountJson(const std::string& id) {
  std::shared_lock<std::shared_mutex> lock(engine_mu_);
  const Engine& reader = ReadEngine();
  const AccountState* a = reader.FindAccount(id);
  const auto hist = override_history_.find(id);
  if (a == nullptr && hist == override_history_.end()) return std::nullopt;
  std::string out;
  if (a != nullptr) {
    AppendAccountJson(out, reader, *a);
    out.pop_back();  // reopen the object
    out += ",\"first_seen\":";
    AppendJsonString(out, FormatRfc3339(a->first_ts));
    out += ",\"last_seen\":";
    AppendJsonString(out, FormatRfc3339(a->last_ts));
  } else {
    out += "{\"account_id\":";
    AppendJsonString(out, id);
    out += ",\"verdict\":null,\"interactions\":0";
  }
  out += ",\"overrides\":[";
  if (hist != override_history_.end()) {
    for (size_t idx = 0; idx < hist->second.size(); ++idx) {
      const auto& o = hist->second[idx];
      if (idx) out += ",";
      AppendOverrideJson(out, o, /*with_account=*/false);
    }
  }
  out += "]}";
  return out;
}

absl::Status Service::Override(const std::string& account_id, const std::string& action, const std::string& by,
                               const std::string& reason) {
  if (action != "allow" && action != "block" && action != "clear") {
    return absl::InvalidArgumentError("field 'action': must be \"allow\", \"block\" or \"clear\"");
  }
  OverrideRecord o{account_id, action, by, reason, FormatRfc3339(options_.clock()), std::nullopt};
  if (options_.cluster) {
    // Stored in the cluster (every node and the correlator watch it); the
    // local history is what this node's account view shows.
    DG_RETURN_IF_ERROR(options_.cluster->Override(o));
    std::unique_lock<std::shared_mutex> lock(engine_mu_);
    override_history_[account_id].push_back(std::move(o));
    return absl::OkStatus();
  }
  std::lock_guard<std::mutex> ingest(ingest_mu_);
  DG_RETURN_IF_ERROR(store_->AddOverride(o));
  std::unique_lock<std::shared_mutex> lock(engine_mu_);
  engine_.SetOverride(account_id, action == "allow" ? Verdict::kAllow : action == "block" ? Verdict::kBlock : Verdict::kReview);
  override_history_[account_id].push_back(std::move(o));
  return absl::OkStatus();
}

std::string Service::IndicatorId(std::string_view kind, std::string_view value) {
  std::string key(kind);
  key += '\x1f';
  key += value;
  return fmt::format("ind_{:016x}", Hash64(key, 0x1d1c));
}

absl::StatusOr<size_t> Service::PutAccounts(std::string_view body, const std::string& origin) {
  AccountDirectory incoming;  // validated whole before anything is applied
  DG_RETURN_IF_ERROR(incoming.LoadText(body, origin));
  std::vector<std::pair<std::string, std::string>> rows;
  rows.reserve(incoming.size());
  std::lock_guard<std::mutex> ingest(ingest_mu_);  // one writer to the store
  {
    // What the stored rows will be: the merge of what is known and the new.
    std::shared_lock<std::shared_mutex> lock(accounts_mu_);
    incoming.ForEach([&](const AccountAttributes& a) {
      AccountDirectory one;
      if (const auto* known = accounts_.Find(a.account_id)) one.Upsert(*known);
      one.Upsert(a);
      rows.emplace_back(a.account_id, AccountToJson(*one.Find(a.account_id)));
    });
  }
  // On a cluster, every node follows the stored rows (this one included,
  // through its watch). Stored one by one: an error part-way leaves the
  // rows before it stored and applied everywhere, and the client's retry
  // of the body stores the same whole rows again.
  if (options_.cluster) DG_RETURN_IF_ERROR(options_.cluster->PutAccounts(rows));
  DG_RETURN_IF_ERROR(store_->PutAccounts(rows));  // not durable: not applied here (the watch may have)
  std::unique_lock<std::shared_mutex> lock(accounts_mu_);
  incoming.ForEach([&](const AccountAttributes& a) { accounts_.Upsert(a); });
  accounts_generation_.fetch_add(1, std::memory_order_acq_rel);  // cached access outcomes are stale
  return rows.size();
}

absl::StatusOr<bool> Service::ImportIndicator(IndicatorKind kind, const std::string& value, const std::string& source,
                                              SharedTrust trust) {
  const std::string name(IndicatorKindName(kind));
  const auto canonical = Engine::CanonicalSharedIndicator(kind, value);
  if (!canonical) return absl::InvalidArgumentError(fmt::format("indicator {} '{}' cannot be used", name, Printable(value, 200)));
  const SharedIndicatorRecord row{name, *canonical, source, std::string(SharedTrustName(trust)), FormatRfc3339(options_.clock())};
  if (options_.cluster) {
    DG_RETURN_IF_ERROR(options_.cluster->Share({row}));  // every node and the correlator follow
    return true;
  }
  std::lock_guard<std::mutex> ingest(ingest_mu_);
  DG_RETURN_IF_ERROR(store_->AddSharedIndicators({row}));
  std::unique_lock<std::shared_mutex> lock(engine_mu_);
  return engine_.AddSharedIndicator(kind, *canonical, source, trust);
}

absl::StatusOr<Service::IndicatorImport> Service::ImportStix(std::string_view bundle, const std::string& origin, SharedTrust trust) {
  StixImportOptions options;
  options.clock = options_.clock;
  auto parsed = dg::ImportStix(bundle, options);
  if (!parsed.ok()) return absl::Status(parsed.status().code(), origin + ": " + std::string(StatusMessage(parsed.status())));
  IndicatorImport result;
  result.objects = parsed->objects;
  result.skipped = parsed->skipped;
  const std::string now = FormatRfc3339(options_.clock());
  const std::string trust_name(SharedTrustName(trust));
  std::vector<SharedIndicatorRecord> rows;
  std::vector<IndicatorKind> kinds;
  for (const auto& ind : parsed->indicators) {
    const auto kind = IndicatorKindByName(ind.kind);
    const auto canonical = kind ? Engine::CanonicalSharedIndicator(*kind, ind.value) : std::nullopt;
    if (!canonical) {
      ++result.skipped["value not usable (unparsable, or a network wider than /16 or /32)"];
      continue;
    }
    rows.push_back({ind.kind, *canonical, ind.source, trust_name, now});
    kinds.push_back(*kind);
  }
  if (options_.cluster) {
    if (absl::Status stored = options_.cluster->Share(rows); !stored.ok()) {
      result.stored = false;
      result.store_error = std::move(stored);
      return result;
    }
    result.imported = rows.size();
    return result;
  }
  std::lock_guard<std::mutex> ingest(ingest_mu_);
  if (absl::Status stored = store_->AddSharedIndicators(rows); !stored.ok()) {
    result.stored = false;
    result.store_error = std::move(stored);
    return result;
  }
  std::unique_lock<std::shared_mutex> lock(engine_mu_);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (engine_.AddSharedIndicator(kinds[i], rows[i].value, rows[i].source, trust)) ++result.imported;
  }
  return result;
}

absl::StatusOr<std::string> Service::IndicatorsJson() {
  std::string out = "{\"indicators\":[";
  bool first = true;
  auto add = [&](const SharedIndicatorRecord& r) {
    const auto kind = StoredKind(r.kind);
    const std::string kind_name = kind ? std::string(IndicatorKindName(*kind)) : r.kind;
    out += first ? "{\"id\":" : ",{\"id\":";
    first = false;
    AppendJsonString(out, IndicatorId(kind_name, r.value));
    out += ",\"kind\":";
    AppendJsonString(out, kind_name);
    out += ",\"value\":";
    AppendJsonString(out, r.value);
    out += ",\"source\":";
    AppendJsonString(out, r.source);
    out += ",\"trust\":";
    AppendJsonString(out, r.trust);
    out += ",\"imported_at\":";
    if (r.imported_at.empty()) out += "null";
    else AppendJsonString(out, r.imported_at);
    out += "}";
  };
  if (options_.cluster) {
    for (const SharedIndicatorRecord& r : options_.cluster->SharedIndicatorList()) add(r);
  } else {
    std::lock_guard<std::mutex> ingest(ingest_mu_);  // the store has one user at a time
    DG_RETURN_IF_ERROR(store_->ForEachSharedIndicator(add));
  }
  out += "]}";
  return out;
}

absl::Status Service::RemoveIndicator(const std::string& id) {
  if (options_.cluster) {
    for (const SharedIndicatorRecord& r : options_.cluster->SharedIndicatorList()) {
      const auto kind = StoredKind(r.kind);
      if (kind && IndicatorId(IndicatorKindName(*kind), r.value) == id) return options_.cluster->Unshare(r.kind, r.value);
    }
    return absl::NotFoundError("no such indicator");
  }
  std::lock_guard<std::mutex> ingest(ingest_mu_);
  std::optional<SharedIndicatorRecord> found;
  const absl::Status read = store_->ForEachSharedIndicator([&](const SharedIndicatorRecord& r) {
    const auto kind = StoredKind(r.kind);
    if (!found && kind && IndicatorId(IndicatorKindName(*kind), r.value) == id) found = r;
  });
  if (!read.ok()) return absl::Status(read.code(), "indicator not removed: " + std::string(StatusMessage(read)));
  if (!found) return absl::NotFoundError("no such indicator");
  if (const absl::Status removed = store_->RemoveSharedIndicator(found->kind, found->value); !removed.ok()) {
    if (absl::IsNotFound(removed)) return absl::NotFoundError("no such indicator");
    return absl::Status(removed.code(), "indicator not removed: " + std::string(StatusMessage(removed)));
  }
  std::unique_lock<std::shared_mutex> lock(engine_mu_);
  engine_.RemoveSharedIndicator(*StoredKind(found->kind), found->value);
  return absl::OkStatus();
}

absl::Status Service::Follow(const std::string& path) {
  std::ifstream probe(path);
  if (!probe) return FileError(errno, fmt::format("{}: cannot open for --follow", path));
  uint64_t offset = 0;  // consumed so far (stored with each batch)
  {
    std::lock_guard<std::mutex> ingest(ingest_mu_);
    if (auto v = store_->GetMeta("follow:" + path)) {
      const auto stored = ParseDecimal<uint64_t>(*v);
      if (!stored) {  // corrupt store: refuse rather than guess where to resume
        return absl::DataLossError(
            fmt::format("{}: the stored --follow offset '{}' is not a number (corrupt store)", path, Printable(*v, 40)));
      }
      offset = *stored;
    }
  }
  follower_ = std::thread([this, path, offset] { FollowLoop(path, offset); });
  return absl::OkStatus();
}

void Service::FollowLoop(std::string path, uint64_t offset) {
  const std::string key = "follow:" + path;
  std::string buf;
  while (!stop_.load()) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || static_cast<uint64_t>(st.st_size) == offset) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (static_cast<uint64_t>(st.st_size) < offset) {
      fmt::print(stderr, "serve: {} shrank below the consumed offset {}: reading it again from the start\n", path, offset);
      offset = 0;
    }
    std::ifstream f(path, std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    buf.resize(kFollowChunkBytes);
    f.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    buf.resize(static_cast<size_t>(f.gcount()));
    const size_t last_nl = buf.rfind('\n');
    if (last_nl == std::string::npos) {
      // A partial line (still being written), or one longer than the chunk.
      if (buf.size() == kFollowChunkBytes) {
        fmt::print(stderr, "serve: {}: a line longer than {} bytes at offset {} was skipped\n", Printable(path), kFollowChunkBytes, offset);
        offset += buf.size();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    buf.resize(last_nl + 1);
    const uint64_t next = offset + buf.size();
    const IngestResult r = IngestLines(buf, path, {{key, std::to_string(next)}});
    for (const auto& e : r.errors) fmt::print(stderr, "serve: {}\n", Printable(e, 1024));  // no raw control characters
    if (!r.stored) {
      fmt::print(stderr, "serve: --follow {}: {}; retrying\n", path, StatusMessage(r.store_error));
      std::this_thread::sleep_for(std::chrono::seconds(1));
      continue;
    }
    offset = next;
  }
}

void Service::Stop() {
  stop_ = true;
  if (follower_.joinable()) follower_.join();
  // The account watch writes accounts_ (the link outlives this object).
  if (options_.cluster) options_.cluster->StopAccounts();
  // The replica applies under engine_mu_ and records verdict_history_:
  // stopped before they go (the link may outlive this object).
  if (options_.cluster) options_.cluster->StopReplica();
}

std::string Service::Metrics() {
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
  };
  counter("distillguard_events_accepted_total", "Interactions accepted and stored", events_accepted_.load());
  counter("distillguard_events_duplicate_total", "Interactions dropped as repeated request ids", events_duplicate_.load());
  counter("distillguard_events_rejected_total", "Lines rejected as malformed", events_rejected_.load());
  counter("distillguard_checks_from_cache_total", "Decisions answered from the last-decision cache while the engine was busy",
          checks_from_cache_.load());
  counter("distillguard_store_failures_total", "Batches not stored (and not acknowledged)", store_failures_.load());
  if (options_.cluster) {
    counter("distillguard_cluster_publish_failures_total", "Batches the cluster did not store (answered 503)",
            cluster_publish_failures_.load());
    out += options_.cluster->Metrics();
  }
  counter("distillguard_side_failures_total",
          "Writes and reads that failed without failing their request: event texts not stored, retention not run, stored "
          "accounts that did not read back (each also logged)",
          side_failures_.load());
  out += "# HELP distillguard_decisions_total Decisions answered by /v1/check and ext_authz\n# TYPE distillguard_decisions_total counter\n";
  for (size_t d = 0; d < decisions_.size(); ++d) {
    out += fmt::format("distillguard_decisions_total{{decision=\"{}\"}} {}\n", DecisionName(static_cast<Decision>(d)), decisions_[d].load());
  }
  check_latency_.AppendPrometheus(out, "distillguard_check_seconds", "Decision latency inside the service");
  ingest_latency_.AppendPrometheus(out, "distillguard_ingest_batch_seconds", "Time to parse, store and apply one batch");
  apply_lock_.AppendPrometheus(out, "distillguard_apply_lock_seconds", "Engine held exclusively per applied chunk (decisions wait this long at most)");
  {
    std::shared_lock<std::shared_mutex> lock(engine_mu_);
    const Engine& reader = ReadEngine();
    gauge("distillguard_campaigns", "Confirmed campaigns", reader.confirmed_campaigns());
    gauge("distillguard_accounts", "Accounts in the engine", static_cast<double>(reader.live_accounts()));
    gauge("distillguard_indicator_values", "Distinct indicator values indexed", static_cast<double>(reader.indicator_values()));
    gauge("distillguard_engine_interactions", "Interactions applied to the engine", static_cast<double>(reader.interactions()));
  }
  gauge("distillguard_resident_memory_bytes", "Resident set size", static_cast<double>(ResidentBytes()));
  {
    std::lock_guard<std::mutex> lock(coverage_mu_);
    out += coverage_.Metrics();  // share of parsed events carrying each field the engine uses
  }
  {
    std::shared_lock<std::shared_mutex> lock(accounts_mu_);
    gauge("distillguard_enrichment_accounts", "Accounts with attributes from PUT /v1/accounts or --accounts",
          static_cast<double>(accounts_.size()));
  }
  if (options_.cluster) {
    counter("distillguard_cluster_account_rows_refused_total",
            "Account rows from the cluster's dg_accounts bucket not understood or past the bound",
            cluster_account_refused_.load());
  }
  if (const auto rules = access_rules_.load()) {
    gauge("distillguard_access_rules", "Access rules in force", static_cast<double>(rules->rules().size()));
    counter("distillguard_access_enforced_total", "Checks on which an enforced access rule's effect applied (per rule)",
            access_enforced_.load());
    counter("distillguard_access_dry_run_total", "Checks on which a dry-run access rule would have applied (per rule)",
            access_dry_run_.load());
    counter("distillguard_access_reloads_total", "Access rules files loaded", access_reloads_.load());
    counter("distillguard_access_reload_failures_total", "Access rules files refused (the rules in force kept)",
            access_reload_failures_.load());
  }
  if (audit_) {
    counter("distillguard_access_audit_written_total", "Access decision records written to the audit", audit_->written());
    counter("distillguard_access_audit_dropped_total", "Access decision records dropped: the audit queue was full", audit_->dropped());
    counter("distillguard_access_audit_failed_total", "Access decision records the audit database refused", audit_->failed());
  }
  return out;
}

}  // namespace dg
