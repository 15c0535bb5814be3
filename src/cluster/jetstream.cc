#include "cluster/jetstream.h"

#include <cstdlib>
#include <thread>

#include <fmt/format.h>

namespace dg {
namespace {

using Clock = std::chrono::steady_clock;

absl::Status NatsError(std::string_view what, natsStatus s, jsErrCode jerr = static_cast<jsErrCode>(0)) {
  const char* last = nats_GetLastError(nullptr);
  return absl::UnavailableError(fmt::format("{}: {} (jetstream error {}){}{}", what, natsStatus_GetText(s),
                                            static_cast<int>(jerr), last ? ": " : "", last ? last : ""));
}

void Backoff(int attempt) {
  std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 * (attempt + 1), 500)));
}

std::vector<std::string> SplitUrls(const std::string& urls) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= urls.size()) {
    size_t end = urls.find(',', start);
    if (end == std::string::npos) end = urls.size();
    if (end > start) out.push_back(urls.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NatsLink>> NatsLink::Connect(const std::string& urls, const std::string& name) {
  std::unique_ptr<NatsLink> link(new NatsLink());
  const std::vector<std::string> servers = SplitUrls(urls);
  if (servers.empty()) return absl::InvalidArgumentError("--nats: no server URL");
  std::vector<const char*> ptrs;
  for (const auto& s : servers) ptrs.push_back(s.c_str());
  natsStatus s = natsOptions_Create(&link->opts_);
  if (s == NATS_OK) s = natsOptions_SetServers(link->opts_, ptrs.data(), static_cast<int>(ptrs.size()));
  if (s == NATS_OK) s = natsOptions_SetName(link->opts_, name.c_str());
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(link->opts_, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(link->opts_, 100);
  if (s == NATS_OK) s = natsOptions_SetTimeout(link->opts_, 2000);
  if (s != NATS_OK) return NatsError("nats options", s);
  const auto deadline = Clock::now() + link->patience;
  for (int attempt = 0;; ++attempt) {
    s = natsConnection_Connect(&link->conn_, link->opts_);
    if (s == NATS_OK) break;
    if (Clock::now() > deadline) return NatsError(fmt::format("connect to {}", urls), s);
    Backoff(attempt);
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 3000;  // a request a failed node leaves unanswered is retried, not waited on
  s = natsConnection_JetStream(&link->js_, link->conn_, &jo);
  if (s != NATS_OK) return NatsError("jetstream context", s);
  return link;
}

NatsLink::~NatsLink() {
  jsCtx_Destroy(js_);
  if (conn_ != nullptr) {
    natsConnection_FlushTimeout(conn_, 2000);
    natsConnection_Destroy(conn_);
  }
  natsOptions_Destroy(opts_);
}

absl::Status NatsLink::EnsureStream(const std::string& name, const std::string& subjects, int replicas,
                                    int64_t dedup_window_ms) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subj[] = {subjects.c_str()};
  cfg.Name = name.c_str();
  cfg.Subjects = subj;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  cfg.Duplicates = dedup_window_ms * 1000000;
  // While the cluster elects its JetStream leader a request goes unanswered:
  // ask often rather than wait out the context's long timeout.
  jsOptions quick;
  jsOptions_Init(&quick);
  quick.Wait = 1000;
  const auto deadline = Clock::now() + patience;
  for (int attempt = 0;; ++attempt) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddStream(nullptr, js_, &cfg, &quick, &jerr);
    if (s == NATS_OK || jerr == JSStreamNameExistErr) return absl::OkStatus();
    if (Clock::now() > deadline) return NatsError(fmt::format("create stream {}", name), s, jerr);
    Backoff(attempt);
  }
}

absl::Status NatsLink::LastMessage(const std::string& stream, const std::string& subject, std::string* payload,
                                   std::vector<NatsHeader>* headers) {
  const auto deadline = Clock::now() + patience;
  for (int attempt = 0;; ++attempt) {
    natsMsg* msg = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetLastMsg(&msg, js_, stream.c_str(), subject.c_str(), nullptr, &jerr);
    if (s == NATS_OK) {
      payload->assign(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
      headers->clear();
      const char** keys = nullptr;
      int count = 0;
      if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
        for (int k = 0; k < count; ++k) {
          const char* value = nullptr;
          if (natsMsgHeader_Get(msg, keys[k], &value) == NATS_OK && value != nullptr) headers->push_back({keys[k], value});
        }
        free(static_cast<void*>(keys));
      }
      natsMsg_Destroy(msg);
      return absl::OkStatus();
    }
    if (jerr == JSNoMessageFoundErr || s == NATS_NOT_FOUND) return absl::NotFoundError(subject);
    if (Clock::now() > deadline) return NatsError(fmt::format("last message of {}", subject), s, jerr);
    Backoff(attempt);
  }
}

// --- ReliablePublisher -------------------------------------------------------

ReliablePublisher::ReliablePublisher(NatsLink* link, size_t window) : link_(link), window_(window) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 10000;
  jo.PublishAsync.MaxPending = static_cast<int64_t>(window_) + 16;
  jo.PublishAsync.AckHandler = &ReliablePublisher::OnAck;
  jo.PublishAsync.AckHandlerClosure = this;
  if (natsConnection_JetStream(&js_, link_->conn(), &jo) != NATS_OK) js_ = nullptr;
  items_.reserve(window_);
}

ReliablePublisher::~ReliablePublisher() {
  if (js_ != nullptr) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 2000;
    if (js_PublishAsyncComplete(js_, &po) != NATS_OK) {
      natsMsgList pending;
      if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) natsMsgList_Destroy(&pending);
    }
    jsCtx_Destroy(js_);
  }
}

void ReliablePublisher::OnAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr*, void* closure) {
  auto* self = static_cast<ReliablePublisher*>(closure);
  const char* tag = nullptr;
  if (pa != nullptr && natsMsgHeader_Get(msg, "Dg-Pub", &tag) == NATS_OK && tag != nullptr) {
    char* end = nullptr;
    const uint64_t gen = std::strtoull(tag, &end, 10);
    const uint64_t idx = (end != nullptr && *end == ':') ? std::strtoull(end + 1, nullptr, 10) : UINT64_MAX;
    std::lock_guard<std::mutex> lock(self->mu_);
    if (gen == self->generation_ && idx < self->acked_.size()) {
      self->acked_[idx] = 1;
      if (pa->Duplicate) ++self->duplicates_;
    }
  }
  natsMsg_Destroy(msg);
}

absl::Status ReliablePublisher::Send(const Item& item, size_t index, bool sync) {
  natsMsg* msg = nullptr;
  natsStatus s = natsMsg_Create(&msg, item.subject.c_str(), nullptr, item.payload.data(),
                                static_cast<int>(item.payload.size()));
  for (const NatsHeader& h : item.headers) {
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, h.key.c_str(), h.value.c_str());
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (!item.msg_id.empty()) po.MsgId = item.msg_id.c_str();
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (sync) {
    jsPubAck* pa = nullptr;
    po.MaxWait = 5000;
    if (s == NATS_OK) s = js_PublishMsg(&pa, js_, msg, &po, &jerr);
    if (pa != nullptr && pa->Duplicate) ++duplicates_;
    jsPubAck_Destroy(pa);
  } else {
    const std::string tag = fmt::format("{}:{}", generation_, index);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Dg-Pub", tag.c_str());
    if (s == NATS_OK) s = js_PublishMsgAsync(js_, &msg, &po);  // takes the message on success
  }
  natsMsg_Destroy(msg);
  return s == NATS_OK ? absl::OkStatus() : NatsError(fmt::format("publish {}", item.subject), s, jerr);
}

absl::Status ReliablePublisher::Add(std::string subject, std::string payload, std::string msg_id,
                                    std::vector<NatsHeader> headers) {
  if (js_ == nullptr) return absl::UnavailableError("publisher: no jetstream context");
  items_.push_back(Item{std::move(subject), std::move(payload), std::move(msg_id), std::move(headers)});
  {
    std::lock_guard<std::mutex> lock(mu_);
    acked_.push_back(0);
  }
  // A failed asynchronous send is resent synchronously by Flush.
  (void)Send(items_.back(), items_.size() - 1, false);
  if (items_.size() >= window_) return Flush();
  return absl::OkStatus();
}

absl::Status ReliablePublisher::Flush() {
  if (items_.empty()) return absl::OkStatus();
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 5000;
  if (js_PublishAsyncComplete(js_, &po) != NATS_OK) {
    natsMsgList pending;  // unanswered: resent below (the stream drops a copy it already has)
    if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) natsMsgList_Destroy(&pending);
  }
  std::vector<char> acked;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;  // a late answer for this window is ignored
    acked.swap(acked_);
  }
  const auto deadline = Clock::now() + link_->patience;
  for (size_t idx = 0; idx < items_.size(); ++idx) {
    if (acked[idx]) continue;
    for (int attempt = 0;; ++attempt) {
      ++resent_;
      absl::Status sent = Send(items_[idx], idx, true);
      if (sent.ok()) break;
      if (Clock::now() > deadline) return sent;
      Backoff(attempt);
    }
  }
  published_ += items_.size();
  items_.clear();
  return absl::OkStatus();
}

// --- PullConsumer ------------------------------------------------------------

absl::StatusOr<std::unique_ptr<PullConsumer>> PullConsumer::Create(NatsLink* link, const std::string& stream,
                                                                   const std::string& durable,
                                                                   const std::string& subject, uint64_t start_seq) {
  std::unique_ptr<PullConsumer> c(new PullConsumer());
  c->link_ = link;
  c->stream_ = stream;
  c->durable_ = durable;
  const auto deadline = Clock::now() + link->patience;
  for (int attempt = 0;; ++attempt) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_DeleteConsumer(link->js(), stream.c_str(), durable.c_str(), nullptr, &jerr);
    if (s == NATS_OK || jerr == JSConsumerNotFoundErr || s == NATS_NOT_FOUND) break;
    if (Clock::now() > deadline) return NatsError(fmt::format("delete consumer {}", durable), s, jerr);
    Backoff(attempt);
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.Durable = durable.c_str();
  so.Config.AckPolicy = js_AckAll;
  so.Config.AckWait = int64_t{30} * 1000000000;
  so.Config.MaxAckPending = 1 << 16;
  so.Config.DeliverPolicy = start_seq > 0 ? js_DeliverByStartSequence : js_DeliverAll;
  so.Config.OptStartSeq = start_seq;
  for (int attempt = 0;; ++attempt) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_PullSubscribe(&c->sub_, link->js(), subject.c_str(), durable.c_str(), nullptr, &so, &jerr);
    if (s == NATS_OK) break;
    if (Clock::now() > deadline) return NatsError(fmt::format("pull consumer {} on {}", durable, subject), s, jerr);
    Backoff(attempt);
  }
  return c;
}

PullConsumer::~PullConsumer() {
  natsSubscription_Destroy(sub_);  // the durable stays for the next owner to re-create
}

absl::Status PullConsumer::Fetch(int batch, int wait_ms, std::vector<NatsMsgPtr>* out) {
  natsMsgList list{nullptr, 0};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, sub_, batch, wait_ms, &jerr);
  if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return absl::OkStatus();
  if (s != NATS_OK) return NatsError(fmt::format("fetch {}", durable_), s, jerr);
  for (int k = 0; k < list.Count; ++k) {
    out->emplace_back(list.Msgs[k], &natsMsg_Destroy);
    list.Msgs[k] = nullptr;
  }
  natsMsgList_Destroy(&list);
  return absl::OkStatus();
}

absl::Status PullConsumer::AckThrough(natsMsg* msg) {
  const natsStatus s = natsMsg_Ack(msg, nullptr);
  return s == NATS_OK ? absl::OkStatus() : NatsError("ack", s);
}

absl::StatusOr<uint64_t> PullConsumer::Pending() {
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_GetConsumerInfo(&ci, sub_, nullptr, &jerr);
  if (s != NATS_OK) return NatsError("consumer info", s, jerr);
  const uint64_t pending = ci->NumPending + static_cast<uint64_t>(ci->NumAckPending);
  jsConsumerInfo_Destroy(ci);
  return pending;
}

uint64_t StreamSequence(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return 0;
  const uint64_t seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  return seq;
}

std::string_view HeaderValue(natsMsg* msg, const char* key) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(msg, key, &value) != NATS_OK || value == nullptr) return {};
  return value;
}

// --- KvBucket ------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<KvBucket>> KvBucket::Open(NatsLink* link, const std::string& bucket, int replicas) {
  std::unique_ptr<KvBucket> b(new KvBucket());
  b->link_ = link;
  b->bucket_ = bucket;
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket.c_str();
  cfg.History = 1;
  cfg.Replicas = replicas;
  cfg.StorageType = js_FileStorage;
  const auto deadline = Clock::now() + link->patience;
  for (int attempt = 0;; ++attempt) {
    natsStatus s = js_KeyValue(&b->kv_, link->js(), bucket.c_str());
    if (s == NATS_OK) break;
    s = js_CreateKeyValue(&b->kv_, link->js(), &cfg);
    if (s == NATS_OK) break;
    if (Clock::now() > deadline) return NatsError(fmt::format("key-value bucket {}", bucket), s);
    Backoff(attempt);
  }
  return b;
}

KvBucket::~KvBucket() { kvStore_Destroy(kv_); }

absl::Status KvBucket::Put(const std::string& key, std::string_view value) {
  const auto deadline = Clock::now() + link_->patience;
  for (int attempt = 0;; ++attempt) {
    const natsStatus s = kvStore_Put(nullptr, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
    if (s == NATS_OK) return absl::OkStatus();
    if (Clock::now() > deadline) return NatsError(fmt::format("put {}", key), s);
    Backoff(attempt);
  }
}

absl::StatusOr<std::string> KvBucket::Get(const std::string& key) {
  const auto deadline = Clock::now() + link_->patience;
  for (int attempt = 0;; ++attempt) {
    kvEntry* e = nullptr;
    const natsStatus s = kvStore_Get(&e, kv_, key.c_str());
    if (s == NATS_OK) {
      std::string value(static_cast<const char*>(kvEntry_Value(e)), kvEntry_ValueLen(e));
      kvEntry_Destroy(e);
      return value;
    }
    if (s == NATS_NOT_FOUND) return absl::NotFoundError(key);
    if (Clock::now() > deadline) return NatsError(fmt::format("get {}", key), s);
    Backoff(attempt);
  }
}

}  // namespace dg
