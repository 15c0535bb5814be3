// JetStream: the few NATS JetStream operations the cluster nodes use, over
// Debian's C client (libnats 3.4), as RAII types returning absl::Status.
//
//   NatsLink           one connection (every server URL given, reconnecting
//                      for ever) and its JetStream context
//   EnsureStream       create a replicated file stream if it is not there
//   EnsureCreated      the same for any stream (a key-value bucket's): asked
//                      for first, made only if absent, and then given one
//                      sync subject cluster-wide (nats-server < 2.10.16)
//   ReliablePublisher  asynchronous publishes in windows; a window is done
//                      only when the stream acknowledged every message, the
//                      failed or unanswered ones resent synchronously, in
//                      order, each with its Nats-Msg-Id (so a resend of a
//                      stored message is dropped by the stream's
//                      de-duplication window, never stored twice)
//   PullConsumer       a durable pull consumer on one subject, re-created at
//                      a given stream position, acknowledged by AckAll; the
//                      pull protocol is spoken directly on a private inbox
//                      (libnats 3.4's Fetch corrupts memory on a late
//                      delivery), every delivery checked for gaps
//   KvBucket           a key-value bucket (put, get, watch)
//
// Errors that a node failure causes (timeouts, no responders, a lost
// leader) are retried inside for up to `patience`; anything else is
// returned. Cost: one network round trip per synchronous call; a publish
// window costs one round trip per window plus the messages' bytes.
#pragma once

#include <nats/nats.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

namespace dg {

// One message header besides the payload.
struct NatsHeader {
  std::string key;
  std::string value;
};

class NatsLink {
 public:
  // urls: comma-separated nats:// URLs of the cluster's servers.
  static absl::StatusOr<std::unique_ptr<NatsLink>> Connect(const std::string& urls, const std::string& name);
  ~NatsLink();
  NatsLink(const NatsLink&) = delete;  // owns the connection
  NatsLink& operator=(const NatsLink&) = delete;

  natsConnection* conn() const { return conn_; }
  jsCtx* js() const { return js_; }
  // How long a call retries through a node failure before it gives up.
  std::chrono::milliseconds patience{60000};

  // A file stream of `replicas` copies on `subjects` (e.g. "dg.events.*")
  // de-duplicating Nats-Msg-Id over `dedup_window_ms`; kept if it exists
  // (EnsureCreated).
  absl::Status EnsureStream(const std::string& name, const std::string& subjects, int replicas, int64_t dedup_window_ms);

  // Makes stream `name` with create() unless the cluster already has it.
  // Asked first (stream info), so a node joining a running cluster never
  // sends a create; create() is sent once, and again only if the stream is
  // still missing 5 s later. A replicated stream this call made is then
  // re-announced: the same configuration updated, then its leader stepped
  // down. Why: nats-server before 2.10.16 (nats-server #5362; Debian 12
  // ships 2.9.10) gives every create that reaches the meta leader before
  // the first one is applied an assignment of its own, each with a new
  // sync subject. The running replicas keep the first; the meta state, and
  // so a node that restarts, the last: its catchup requests go to a subject
  // no leader listens on, it retries every 10 s for ever, its copy stays
  // frozen, and a consumer led from it delivers nothing (the
  // `--restart-node` stalls). Nodes start side by side and all create:
  // DG_EVENTS had two or three assignments in 5 of 8 measured starts. The
  // update makes every replica adopt the meta state's subject; the new
  // leader listens on it. Cost: one stream-info round trip when the stream
  // exists; on the call that made it, an update, a 250 ms wait (every
  // replica applies the update before one of them leads) and a leader
  // election, ~0.6 s per stream on a new cluster. Errors after `patience`
  // are returned.
  absl::Status EnsureCreated(const std::string& name, const std::function<natsStatus(jsErrCode*)>& create);

  // Ends a subscription that deliveries may still be arriving for, without
  // freeing it under the connection's read loop: libnats 3.4's
  // natsConn_processMsg looks the subscription up, lets go of the lock,
  // then locks the subscription's mutex, so one freed in between is a use
  // after free (SIGSEGV on the read loop; nats.c #637, fixed in 3.6.0).
  // Unsubscribed now; freed once a PING/PONG shows that the read loop has
  // finished every message it had started on (free_now), else when the
  // connection is closed. Thread-safe.
  void Retire(natsSubscription* sub, bool free_now);
  // The same for a key-value watcher (stopped now: kvWatcher_Stop
  // unsubscribes its subscription; freed after a PING/PONG or at close).
  void Retire(kvWatcher* watcher);
  // A JetStream context whose asynchronous-publish reply subscription may
  // still receive a late ack (a resent message's first answer, routed from
  // the stream leader, can come after any PONG): freed only once the
  // connection is closed. A context is retired once per publisher, and
  // publishers live as long as the node (or its sequencer thread), not one
  // per request or round, so these stay few.
  void Retire(jsCtx* js);

 private:
  NatsLink() = default;
  // The re-announcement of EnsureCreated: update with `cfg`, wait, step down.
  absl::Status Reannounce(const std::string& name, jsStreamConfig* cfg);
  // Frees what was parked; after_flush: only what a PING/PONG makes safe.
  void ParkAndFree(std::function<void()> free, bool after_flush);
  natsOptions* opts_ = nullptr;
  natsConnection* conn_ = nullptr;
  jsCtx* js_ = nullptr;
  std::mutex retired_mu_;
  // Unsubscribed, not yet freed: run after a flush (flushable_) or only at
  // close (at_close_).
  std::vector<std::function<void()>> flushable_, at_close_;
};

class ReliablePublisher {
 public:
  ReliablePublisher(NatsLink* link, size_t window);
  ~ReliablePublisher();
  ReliablePublisher(const ReliablePublisher&) = delete;  // the ack handler points at it
  ReliablePublisher& operator=(const ReliablePublisher&) = delete;

  // Queues one message; flushes when the window is full.
  absl::Status Add(std::string subject, std::string payload, std::string msg_id, std::vector<NatsHeader> headers = {});
  // Returns when every queued message is stored, or an error after
  // patience -- then the window is dropped (Discard): the caller redoes
  // its work from its own stored position, with the same message ids.
  absl::Status Flush();
  // Drops the current window unsent (after a failed Flush: its messages
  // must not ride along with the next caller's). The publisher stays usable.
  void Discard();
  uint64_t published() const { return published_; }
  uint64_t resent() const { return resent_; }
  uint64_t duplicates() const { return duplicates_; }  // dropped by the stream as already stored

 private:
  struct Item {
    std::string subject, payload, msg_id;
    std::vector<NatsHeader> headers;
  };
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
  absl::Status Send(const Item& item, size_t index, bool sync);

  NatsLink* link_;
  size_t window_;
  jsCtx* js_ = nullptr;  // own context: its ack handler is this publisher's
  std::vector<Item> items_;
  std::mutex mu_;            // the ack handler runs on the library's thread
  std::vector<char> acked_;  // per item of the current window
  uint64_t generation_ = 0;
  uint64_t published_ = 0, resent_ = 0, duplicates_ = 0;
  bool async_sent_ = false;  // the context has a pending map (Discard)
};

// A JetStream message received from a pull consumer.
using NatsMsgPtr = std::unique_ptr<natsMsg, void (*)(natsMsg*)>;

class PullConsumer {
 public:
  // Deletes any consumer `durable` on `stream` and creates it again on
  // `subject`, delivering from stream sequence start_seq (0: from the start).
  // inactive_s > 0: the server deletes the consumer once nobody has pulled
  // from it for that long (a consumer named after one process).
  static absl::StatusOr<std::unique_ptr<PullConsumer>> Create(NatsLink* link, const std::string& stream,
                                                              const std::string& durable, const std::string& subject,
                                                              uint64_t start_seq, int64_t inactive_s = 0);
  // The stream sequence of the last message `durable` had acknowledged
  // (its ack floor), 0 if none or no such consumer.
  static absl::StatusOr<uint64_t> AckFloor(NatsLink* link, const std::string& stream, const std::string& durable);
  ~PullConsumer();
  PullConsumer(const PullConsumer&) = delete;
  PullConsumer& operator=(const PullConsumer&) = delete;

  // Up to `batch` messages, in stream order with none missing since the
  // last acknowledged one; waits at most wait_ms; none is not an error.
  // Call it only when everything fetched before is acknowledged: a
  // delivery lost in transit (a node died with it; the consumer counts it
  // delivered) shows as a jump in the consumer sequence, and the consumer
  // is then re-created after the last acknowledged message and the batch
  // dropped (redelivered in order by the new consumer). An AckAll after a
  // lost delivery would otherwise acknowledge what nobody processed.
  absl::Status Fetch(int batch, int wait_ms, std::vector<NatsMsgPtr>* out);
  // Acknowledges msg and every earlier one (AckAll).
  absl::Status AckThrough(natsMsg* msg);
  // Messages on the subject not yet delivered or not yet acknowledged (the
  // consumer's lag), as Fetch last asked the server (at most once a second);
  // readable from any thread. UINT64_MAX: not known yet.
  uint64_t lag() const { return lag_.load(); }
  uint64_t recreated() const { return recreated_.load(); }

 private:
  PullConsumer() = default;
  absl::Status Subscribe(uint64_t start_seq);
  NatsLink* link_ = nullptr;
  natsSubscription* sub_ = nullptr;
  std::string stream_, durable_, subject_, inbox_;
  uint64_t last_consumer_seq_ = 0;  // of the last message handed out
  uint64_t last_stream_seq_ = 0;
  uint64_t acked_stream_seq_ = 0;   // everything up to it is acknowledged
  uint64_t start_seq_ = 0;
  int64_t inactive_s_ = 0;
  int failures_ = 0;                // consecutive fetch errors
  std::atomic<uint64_t> recreated_{0};
  std::atomic<uint64_t> lag_{UINT64_MAX};
  std::chrono::steady_clock::time_point lag_asked_{};
  void RefreshLag();
};

// The message's stream sequence (from its JetStream reply subject), or 0.
uint64_t StreamSequence(natsMsg* msg);

// Erases messages of one stream one by one, on a thread of its own, in the
// order given: js_EraseMsg (the content overwritten in the store, R
// copies). Not a purge by subject and sequence: nats-server before 2.9.18
// (Debian 12 ships 2.9.10) replays such a purge from its Raft log at a
// restart as a compaction of the whole stream up to the last sequence it
// had then -- a node killed and restarted lost every other subject's
// messages (reproduced on 2.9.10; fixed upstream in 2.9.18) -- while a
// single message's delete replays as itself. Bounded: at most max_queued
// sequence ranges wait; what does not fit is counted (dropped) and left
// in the stream, never anything else removed. A message already gone is
// no error. Cost: one JetStream request (one Raft round) per message, off
// the caller's thread. Erase() is thread-safe; stopping leaves what is
// still queued (counted as dropped).
class MessageEraser {
 public:
  MessageEraser(NatsLink* link, std::string stream, size_t max_queued = 1u << 16);
  ~MessageEraser();
  MessageEraser(const MessageEraser&) = delete;  // the thread holds `this`
  MessageEraser& operator=(const MessageEraser&) = delete;

  // Queues the messages with stream sequences first..last (inclusive).
  void Erase(uint64_t first, uint64_t last);
  // Queues a sweep: every message still on `subject` with a sequence below
  // `below`, found one at a time (the stream's next message on the subject,
  // a JetStream message-get request) and erased -- what a worker killed
  // before its erasures, or an erasure the cluster did not answer, left.
  // One request per message found, plus one.
  void Sweep(std::string subject, uint64_t below);
  uint64_t erased() const { return erased_.load(); }
  uint64_t errors() const { return errors_.load(); }    // the cluster did not answer (left in the stream)
  uint64_t dropped() const { return dropped_.load(); }  // not queued: the queue was full, or stopped first

 private:
  void Run();
  NatsLink* link_;
  std::string stream_;
  size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  struct Task {
    uint64_t first = 0, last = 0;  // a range to erase, or (sweep) last = below - 1
    std::string subject;           // non-empty: a sweep of this subject
  };
  void SweepNow(const std::string& subject, uint64_t below);
  void EraseOne(uint64_t seq, jsOptions* o);
  std::deque<Task> queue_;  // under mu_
  bool stop_ = false;                                // under mu_
  std::atomic<uint64_t> erased_{0}, errors_{0}, dropped_{0};
  std::thread thread_;
};

class KvBucket {
 public:
  static absl::StatusOr<std::unique_ptr<KvBucket>> Open(NatsLink* link, const std::string& bucket, int replicas);
  ~KvBucket();
  KvBucket(const KvBucket&) = delete;
  KvBucket& operator=(const KvBucket&) = delete;

  absl::Status Put(const std::string& key, std::string_view value);
  // The value, or NotFound.
  absl::StatusOr<std::string> Get(const std::string& key);
  // Puts `value` unless keep(current value) says to keep what is there,
  // atomically against other writers (create when absent, else update at
  // the revision read; read again on a conflict). True: written.
  absl::StatusOr<bool> PutUnless(const std::string& key, std::string_view value,
                                 const std::function<bool(std::string_view current)>& keep);
  // A delete marker for the key (watchers see it deleted).
  absl::Status Delete(const std::string& key);
  // Every key with a value (deleted ones not), read with a watcher: O(keys).
  absl::StatusOr<std::vector<std::string>> Keys();
  // The subject a put of `key` is published on (for ReliablePublisher).
  std::string Subject(const std::string& key) const { return "$KV." + bucket_ + "." + key; }
  kvStore* store() const { return kv_; }
  NatsLink* link() const { return link_; }

 private:
  KvBucket() = default;
  NatsLink* link_ = nullptr;
  kvStore* kv_ = nullptr;
  std::string bucket_;
};

}  // namespace dg
