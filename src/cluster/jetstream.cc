#include "cluster/jetstream.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
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
  // libnats writes to a blocking socket by default: a node that stops
  // reading (frozen, or its disk full) would hold a publish in send() for
  // ever. With a deadline the write fails and the link reconnects elsewhere.
  if (s == NATS_OK) s = natsOptions_SetWriteDeadline(link->opts_, 10000);
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
    natsConnection_Close(conn_);  // joins the read loop: nothing can reach a retired subscription now
  }
  for (auto& free : flushable_) free();
  for (auto& free : at_close_) free();
  natsConnection_Destroy(conn_);
  natsOptions_Destroy(opts_);
}

void NatsLink::ParkAndFree(std::function<void()> free, bool after_flush) {
  std::vector<std::function<void()>> parked;
  {
    std::lock_guard<std::mutex> lock(retired_mu_);
    (after_flush ? flushable_ : at_close_).push_back(std::move(free));
    if (!after_flush) return;
    parked.swap(flushable_);
  }
  // The read loop handles one message at a time: once the PONG to a PING
  // sent after these were unsubscribed is read (on this connection or, after
  // a reconnect, once the old read loop was joined), no delivery holds them.
  if (natsConnection_FlushTimeout(conn_, 1000) == NATS_OK) {
    for (auto& f : parked) f();
    return;
  }
  std::lock_guard<std::mutex> lock(retired_mu_);
  for (auto& f : parked) flushable_.push_back(std::move(f));
}

void NatsLink::Retire(natsSubscription* sub, bool free_now) {
  if (sub == nullptr) return;
  // Out of the connection's table, so no later message finds it; our
  // reference keeps it alive for a delivery the read loop already holds
  // (it finds it closed and drops the message).
  (void)natsSubscription_Unsubscribe(sub);
  if (free_now) {
    ParkAndFree([sub] { natsSubscription_Destroy(sub); }, true);
  } else {
    std::lock_guard<std::mutex> lock(retired_mu_);
    flushable_.push_back([sub] { natsSubscription_Destroy(sub); });
  }
}

void NatsLink::Retire(kvWatcher* watcher) {
  if (watcher == nullptr) return;
  (void)kvWatcher_Stop(watcher);
  ParkAndFree([watcher] { kvWatcher_Destroy(watcher); }, true);
}

void NatsLink::Retire(jsCtx* js) {
  if (js == nullptr) return;
  ParkAndFree([js] { jsCtx_Destroy(js); }, false);
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
  return EnsureCreated(name, [&](jsErrCode* jerr) {
    const natsStatus s = js_AddStream(nullptr, js_, &cfg, &quick, jerr);
    return *jerr == JSStreamNameExistErr ? NATS_OK : s;
  });
}

absl::Status NatsLink::EnsureCreated(const std::string& name, const std::function<natsStatus(jsErrCode*)>& create) {
  constexpr auto kRecreateAfter = std::chrono::seconds(5);
  jsOptions quick;
  jsOptions_Init(&quick);
  quick.Wait = 1000;
  const auto deadline = Clock::now() + patience;
  bool sent = false;  // this call sent a create: the stream may be its
  Clock::time_point sent_at{};
  for (int attempt = 0;; ++attempt) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), &quick, &jerr);
    if (s == NATS_OK) {
      absl::Status done = absl::OkStatus();
      // An R1 stream has no replica to catch up, so no sync subject to agree on.
      if (sent && si->Config != nullptr && si->Config->Replicas > 1) done = Reannounce(name, si->Config);
      jsStreamInfo_Destroy(si);
      return done;
    }
    // Missing (not merely leaderless or unanswered): made here, once; again
    // only if it is still missing well after (the create was lost).
    if ((jerr == JSStreamNotFoundErr || s == NATS_NOT_FOUND) && (!sent || Clock::now() - sent_at > kRecreateAfter)) {
      jsErrCode cerr = static_cast<jsErrCode>(0);
      s = create(&cerr);
      sent = true;
      sent_at = Clock::now();
      if (s == NATS_OK) continue;  // asked again: the re-announcement needs the stream's configuration
      jerr = cerr;
    }
    if (Clock::now() > deadline) return NatsError(fmt::format("create stream {}", name), s, jerr);
    Backoff(attempt);
  }
}

absl::Status NatsLink::Reannounce(const std::string& name, jsStreamConfig* cfg) {
  jsOptions quick;
  jsOptions_Init(&quick);
  quick.Wait = 3000;
  const auto deadline = Clock::now() + patience;
  // The same configuration: the meta leader proposes it with the sync
  // subject its state holds, and every replica takes that assignment.
  for (int attempt = 0;; ++attempt) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_UpdateStream(nullptr, js_, cfg, &quick, &jerr);
    if (s == NATS_OK) break;
    if (Clock::now() > deadline) return NatsError(fmt::format("re-announce stream {}: update", name), s, jerr);
    Backoff(attempt);
  }
  // The leader answered once it had applied the update; the other replicas
  // apply the same meta entry as soon as the meta leader's heartbeat tells
  // them it is committed (sent at once on a quorum), within milliseconds.
  // One of them must have it before it leads (a leader listens on the
  // subject it held when elected): a margin for a loaded host.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const std::string subject = "$JS.API.STREAM.LEADER.STEPDOWN." + name;
  for (int attempt = 0;; ++attempt) {
    natsMsg* reply = nullptr;
    natsStatus s = natsConnection_RequestString(&reply, conn_, subject.c_str(), "", 3000);
    std::string answer;
    if (s == NATS_OK) {
      answer.assign(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
      natsMsg_Destroy(reply);
      if (answer.find("\"success\":true") != std::string::npos) break;
      s = NATS_ERR;  // an error answer, e.g. no leader yet: asked again
    }
    if (Clock::now() > deadline) {
      return absl::UnavailableError(fmt::format("re-announce stream {}: leader stepdown: {} {}", name,
                                                natsStatus_GetText(s), answer));
    }
    Backoff(attempt);
  }
  return absl::OkStatus();
}

// --- MessageEraser -----------------------------------------------------------

MessageEraser::MessageEraser(NatsLink* link, std::string stream, size_t max_queued)
    : link_(link), stream_(std::move(stream)), max_queued_(max_queued) {
  thread_ = std::thread([this] { Run(); });
}

MessageEraser::~MessageEraser() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    for (const Task& t : queue_) {
      if (t.subject.empty()) dropped_ += t.last - t.first + 1;
    }
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MessageEraser::Erase(uint64_t first, uint64_t last) {
  if (first == 0 || last < first) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= max_queued_) {
      dropped_ += last - first + 1;
      return;
    }
    // Consecutive ranges (a sequencer's rounds) become one.
    if (!queue_.empty() && queue_.back().subject.empty() && queue_.back().last + 1 == first) {
      queue_.back().last = last;
    } else {
      queue_.push_back(Task{first, last, {}});
    }
  }
  cv_.notify_one();
}

void MessageEraser::Sweep(std::string subject, uint64_t below) {
  if (below <= 1 || subject.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || queue_.size() >= max_queued_) return;  // the next sweep finds it
    queue_.push_back(Task{1, below - 1, std::move(subject)});
  }
  cv_.notify_one();
}

void MessageEraser::EraseOne(uint64_t seq, jsOptions* o) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_EraseMsg(link_->js(), stream_.c_str(), seq, o, &jerr);
  if (s == NATS_OK) ++erased_;
  else if (jerr == static_cast<jsErrCode>(0)) ++errors_;  // no answer: left in the stream
  // else the server answered that there is no such message: already gone
}

void MessageEraser::SweepNow(const std::string& subject, uint64_t below) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = 5000;
  const std::string api = "$JS.API.STREAM.MSG.GET." + stream_;
  uint64_t from = 1;
  while (from < below) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    const std::string req = fmt::format("{{\"seq\":{},\"next_by_subj\":\"{}\"}}", from, subject);
    natsMsg* reply = nullptr;
    if (natsConnection_Request(&reply, link_->conn(), api.c_str(), req.data(), static_cast<int>(req.size()), 5000) !=
        NATS_OK) {
      ++errors_;  // the next sweep goes on
      return;
    }
    // {"type":...,"message":{"subject":...,"seq":N,...}} or {"error":...}
    // when there is none: the sequence is read after "message", never a
    // subject's text (a subject holds no '"').
    const std::string_view body(natsMsg_GetData(reply), static_cast<size_t>(natsMsg_GetDataLength(reply)));
    uint64_t seq = 0;
    const size_t msg = body.find("\"message\"");
    const size_t at = msg == std::string_view::npos ? msg : body.find("\"seq\":", msg);
    if (at != std::string_view::npos) {
      for (size_t i = at + 6; i < body.size() && body[i] >= '0' && body[i] <= '9' && seq < (UINT64_MAX - 9) / 10; ++i) {
        seq = seq * 10 + static_cast<uint64_t>(body[i] - '0');
      }
    }
    natsMsg_Destroy(reply);
    if (seq == 0 || seq >= below || seq < from) return;  // none left below (or an answer not understood)
    EraseOne(seq, &o);
    from = seq + 1;
  }
}

void MessageEraser::Run() {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = 5000;
  for (;;) {
    uint64_t seq = 0;
    std::string sweep;
    uint64_t below = 0;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      Task& t = queue_.front();
      if (!t.subject.empty()) {
        sweep = std::move(t.subject);
        below = t.last + 1;
        queue_.pop_front();
      } else {
        seq = t.first;
        if (t.first == t.last) queue_.pop_front();
        else ++t.first;
      }
    }
    if (!sweep.empty()) SweepNow(sweep, below);
    else EraseOne(seq, &o);
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
    if (async_sent_ && js_PublishAsyncComplete(js_, &po) != NATS_OK) {
      natsMsgList pending{};
      if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) natsMsgList_Destroy(&pending);
      // An ack handler already past the pending map (it took its message
      // out) may still be in OnAck on `this`; libnats counts it pending
      // until it returns, so this waits for those calls only.
      for (int i = 0; i < 5 && js_PublishAsyncComplete(js_, &po) == NATS_TIMEOUT; ++i) {
      }
    }
    // Nothing is pending now, so no answer reaches OnAck (libnats drops an
    // ack it has no pending message for); the context itself is freed at
    // close, when no late answer can find its reply subscription.
    link_->Retire(js_);
  }
}

void ReliablePublisher::Discard() {
  // libnats 3.4 makes the pending map at the first asynchronous publish and
  // js_PublishAsyncGetPendingList reads it unchecked: not before one.
  if (js_ != nullptr && async_sent_) {
    natsMsgList pending{};  // their answers, if any come, find nothing pending: dropped
    if (js_PublishAsyncGetPendingList(&pending, js_) == NATS_OK) natsMsgList_Destroy(&pending);
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  acked_.clear();
  items_.clear();
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
    if (pa != nullptr && pa->Duplicate) {
      std::lock_guard<std::mutex> lock(mu_);  // OnAck counts too, on the library's thread
      ++duplicates_;
    }
    jsPubAck_Destroy(pa);
  } else {
    const std::string tag = fmt::format("{}:{}", generation_, index);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "Dg-Pub", tag.c_str());
    if (s == NATS_OK) s = js_PublishMsgAsync(js_, &msg, &po);  // takes the message on success
    if (s == NATS_OK) async_sent_ = true;
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
  if (async_sent_ && js_PublishAsyncComplete(js_, &po) != NATS_OK) {
    natsMsgList pending{};  // unanswered: resent below (the stream drops a copy it already has)
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
      if (Clock::now() > deadline) {
        // acked_ was swapped out above: keeping items_ would pair the next
        // window's acks with this one's items (an out-of-bounds read, and
        // a request acknowledged that was never stored).
        Discard();
        return sent;
      }
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
                                                                   const std::string& subject, uint64_t start_seq,
                                                                   int64_t inactive_s) {
  std::unique_ptr<PullConsumer> c(new PullConsumer());
  c->link_ = link;
  c->inactive_s_ = inactive_s;
  c->stream_ = stream;
  c->durable_ = durable;
  c->subject_ = subject;
  if (auto s = c->Subscribe(start_seq); !s.ok()) return s;
  return c;
}

absl::StatusOr<uint64_t> PullConsumer::AckFloor(NatsLink* link, const std::string& stream, const std::string& durable) {
  const auto deadline = Clock::now() + link->patience;
  for (int attempt = 0;; ++attempt) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetConsumerInfo(&ci, link->js(), stream.c_str(), durable.c_str(), nullptr, &jerr);
    if (s == NATS_OK) {
      const uint64_t floor = ci->AckFloor.Stream;
      jsConsumerInfo_Destroy(ci);
      return floor;
    }
    if (jerr == JSConsumerNotFoundErr || s == NATS_NOT_FOUND) return uint64_t{0};
    if (Clock::now() > deadline) return NatsError(fmt::format("consumer info {}", durable), s, jerr);
    Backoff(attempt);
  }
}

absl::Status PullConsumer::Subscribe(uint64_t start_seq) {
  // A fresh inbox each time: deliveries still in flight for the consumer
  // being replaced go nowhere. Retired, not destroyed: they may be
  // arriving right now (a gap leaves the rest of the batch on the way).
  link_->Retire(sub_, /*free_now=*/true);
  sub_ = nullptr;
  const auto deadline = Clock::now() + link_->patience;
  for (int attempt = 0;; ++attempt) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_DeleteConsumer(link_->js(), stream_.c_str(), durable_.c_str(), nullptr, &jerr);
    if (s == NATS_OK || jerr == JSConsumerNotFoundErr || s == NATS_NOT_FOUND) break;
    if (Clock::now() > deadline) return NatsError(fmt::format("delete consumer {}", durable_), s, jerr);
    Backoff(attempt);
  }
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = durable_.c_str();
  cc.FilterSubject = subject_.c_str();
  cc.AckPolicy = js_AckAll;
  // Redelivery is not how a lost message comes back (see Fetch); a long
  // wait keeps a slow batch from being delivered twice.
  cc.AckWait = int64_t{300} * 1000000000;
  cc.MaxAckPending = 1 << 16;
  cc.DeliverPolicy = start_seq > 0 ? js_DeliverByStartSequence : js_DeliverAll;
  cc.OptStartSeq = start_seq;
  cc.InactiveThreshold = inactive_s_ * 1000000000;
  for (int attempt = 0;; ++attempt) {
    jsErrCode jerr = static_cast<jsErrCode>(0);
    const natsStatus s = js_AddConsumer(nullptr, link_->js(), stream_.c_str(), &cc, nullptr, &jerr);
    if (s == NATS_OK) break;
    if (Clock::now() > deadline) return NatsError(fmt::format("consumer {} on {}", durable_, subject_), s, jerr);
    Backoff(attempt);
  }
  // The pull protocol by hand ($JS.API.CONSUMER.MSG.NEXT on a private
  // inbox) rather than natsSubscription_Fetch: libnats 3.4's Fetch writes
  // past its message array when a late delivery arrives (valgrind: invalid
  // write in _fetch), and here every delivery is checked anyway.
  natsInbox* inbox = nullptr;
  natsStatus s = natsInbox_Create(&inbox);
  if (s == NATS_OK) {
    inbox_ = inbox;
    s = natsConnection_SubscribeSync(&sub_, link_->conn(), inbox);
  }
  natsInbox_Destroy(inbox);
  if (s != NATS_OK) return NatsError(fmt::format("inbox for {}", durable_), s);
  start_seq_ = start_seq;
  last_consumer_seq_ = 0;
  last_stream_seq_ = start_seq > 0 ? start_seq - 1 : 0;
  acked_stream_seq_ = last_stream_seq_;
  failures_ = 0;
  return absl::OkStatus();
}

PullConsumer::~PullConsumer() {
  // The durable stays for the next owner to re-create. The inbox may still
  // get a delivery (a request cut short): freed with the connection.
  link_->Retire(sub_, /*free_now=*/false);
}

absl::Status PullConsumer::Fetch(int batch, int wait_ms, std::vector<NatsMsgPtr>* out) {
  constexpr int kFailuresBeforeRecreate = 20;
  RefreshLag();
  const std::string next = fmt::format("$JS.API.CONSUMER.MSG.NEXT.{}.{}", stream_, durable_);
  const std::string request = fmt::format("{{\"batch\":{},\"expires\":{}}}", batch, int64_t{wait_ms} * 1000000);
  natsStatus s = natsConnection_PublishRequestString(link_->conn(), next.c_str(), inbox_.c_str(), request.c_str());
  if (s != NATS_OK) {
    if (++failures_ >= kFailuresBeforeRecreate) {
      ++recreated_;
      if (auto r = Subscribe(acked_stream_seq_ + 1); !r.ok()) return r;
    }
    return NatsError(fmt::format("pull request {}", durable_), s);
  }
  const size_t first = out->size();
  bool gap = false;
  // The server ends an unfilled request with a status message at `expires`;
  // a little more in case that message is lost with a node.
  const auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms + 500);
  int got = 0;
  while (got < batch) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    natsMsg* raw = nullptr;
    s = natsSubscription_NextMsg(&raw, sub_, left);
    if (s != NATS_OK) break;  // timeout: the request is over
    NatsMsgPtr msg(raw, &natsMsg_Destroy);
    const char* reply = natsMsg_GetReply(raw);
    if (reply == nullptr || std::strncmp(reply, "$JS.ACK.", 8) != 0) break;  // 404 / 408 / 409: no more for now
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, raw) != NATS_OK) {
      gap = true;
      break;
    }
    const uint64_t cseq = meta->Sequence.Consumer, sseq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    if (cseq != last_consumer_seq_ + 1 || sseq <= last_stream_seq_) {
      gap = true;
      break;
    }
    last_consumer_seq_ = cseq;
    last_stream_seq_ = sseq;
    out->push_back(std::move(msg));
    ++got;
  }
  failures_ = 0;
  if (gap) {
    out->erase(out->begin() + static_cast<std::ptrdiff_t>(first), out->end());  // redelivered, in order, by the new consumer
    ++recreated_;
    return Subscribe(acked_stream_seq_ + 1);
  }
  return absl::OkStatus();
}

absl::Status PullConsumer::AckThrough(natsMsg* msg) {
  const uint64_t sseq = StreamSequence(msg);
  const char* reply = natsMsg_GetReply(msg);
  if (reply == nullptr) return absl::InvalidArgumentError("ack: not a JetStream message");
  const natsStatus s = natsConnection_PublishString(link_->conn(), reply, "+ACK");
  if (s != NATS_OK) return NatsError("ack", s);
  acked_stream_seq_ = std::max(acked_stream_seq_, sseq);
  return absl::OkStatus();
}

void PullConsumer::RefreshLag() {
  if (Clock::now() - lag_asked_ < std::chrono::seconds(1)) return;
  lag_asked_ = Clock::now();
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  if (js_GetConsumerInfo(&ci, link_->js(), stream_.c_str(), durable_.c_str(), nullptr, &jerr) != NATS_OK) return;
  lag_ = ci->NumPending + static_cast<uint64_t>(ci->NumAckPending);
  jsConsumerInfo_Destroy(ci);
}

uint64_t StreamSequence(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return 0;
  const uint64_t seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  return seq;
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
  // Made through EnsureCreated (a bucket is the stream KV_<bucket>): a
  // bucket made side by side by several nodes needs the same repair.
  if (auto made = link->EnsureCreated("KV_" + bucket,
                                      [&](jsErrCode*) {
                                        kvStore* fresh = nullptr;
                                        const natsStatus s = js_CreateKeyValue(&fresh, link->js(), &cfg);
                                        if (fresh != nullptr) kvStore_Destroy(fresh);
                                        return s;
                                      });
      !made.ok()) {
    return made;
  }
  const auto deadline = Clock::now() + link->patience;
  for (int attempt = 0;; ++attempt) {
    const natsStatus s = js_KeyValue(&b->kv_, link->js(), bucket.c_str());
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

absl::StatusOr<bool> KvBucket::PutUnless(const std::string& key, std::string_view value,
                                          const std::function<bool(std::string_view current)>& keep) {
  const auto deadline = Clock::now() + link_->patience;
  for (int attempt = 0;; ++attempt) {
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, kv_, key.c_str());
    if (s == NATS_OK) {
      const std::string_view current(static_cast<const char*>(kvEntry_Value(e)), static_cast<size_t>(kvEntry_ValueLen(e)));
      const uint64_t rev = kvEntry_Revision(e);
      const bool kept = keep(current);
      kvEntry_Destroy(e);
      if (kept) return false;
      s = kvStore_Update(nullptr, kv_, key.c_str(), value.data(), static_cast<int>(value.size()), rev);
    } else if (s == NATS_NOT_FOUND) {
      s = kvStore_Create(nullptr, kv_, key.c_str(), value.data(), static_cast<int>(value.size()));
    }
    if (s == NATS_OK) return true;
    // A conflict (another writer in between) or a transient error: read again.
    if (Clock::now() > deadline) return NatsError(fmt::format("put {}", key), s);
    Backoff(attempt);
  }
}

absl::Status KvBucket::Delete(const std::string& key) {
  const auto deadline = Clock::now() + link_->patience;
  for (int attempt = 0;; ++attempt) {
    const natsStatus s = kvStore_Delete(kv_, key.c_str());
    if (s == NATS_OK) return absl::OkStatus();
    if (Clock::now() > deadline) return NatsError(fmt::format("delete {}", key), s);
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

absl::StatusOr<std::vector<std::string>> KvBucket::Keys() {
  // kvStore_Keys reads a watcher of its own and destroys it while the
  // bucket may still be delivering to it (NatsLink::Retire): the same walk
  // here, with the watcher retired instead.
  const auto deadline = Clock::now() + link_->patience;
  for (int attempt = 0;; ++attempt) {
    kvWatchOptions opts;
    kvWatchOptions_Init(&opts);
    opts.IgnoreDeletes = true;
    opts.MetaOnly = true;
    kvWatcher* w = nullptr;
    natsStatus s = kvStore_WatchAll(&w, kv_, &opts);
    std::vector<std::string> keys;
    const auto walk_deadline = Clock::now() + std::chrono::seconds(10);
    while (s == NATS_OK) {
      kvEntry* e = nullptr;
      s = kvWatcher_Next(&e, w, 1000);
      if (s == NATS_TIMEOUT && Clock::now() < walk_deadline) {
        s = NATS_OK;
        continue;
      }
      if (s != NATS_OK || e == nullptr) break;  // nullptr: every key the bucket held at start
      keys.emplace_back(kvEntry_Key(e));
      kvEntry_Destroy(e);
    }
    link_->Retire(w);
    if (s == NATS_OK) return keys;
    if (Clock::now() > deadline) return NatsError("list the keys", s);
    Backoff(attempt);
  }
}

}  // namespace dg
