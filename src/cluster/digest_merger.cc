#include "cluster/digest_merger.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "cluster/batch_codec.h"

namespace dg {
namespace {

constexpr uint64_t kReportedBadInputs = 20;  // described on stderr; all are counted

}  // namespace

std::string DigestsSubject(int p) { return fmt::format("dg.digests.{}", p); }

absl::Status ForEachParallel(size_t n, const std::function<absl::Status(size_t)>& fn) {
  std::vector<absl::Status> results(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) threads.emplace_back([&, i] { results[i] = fn(i); });
  for (std::thread& t : threads) t.join();
  for (absl::Status& s : results) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<DigestMerger>> DigestMerger::Start(NatsLink* link, int partitions,
                                                                  const std::string& durable_prefix,
                                                                  const std::vector<uint64_t>& pos, uint64_t next,
                                                                  size_t per_partition, std::string who,
                                                                  Counters* counters, int64_t inactive_s) {
  std::unique_ptr<DigestMerger> d(new DigestMerger());
  const auto n = static_cast<size_t>(partitions);
  d->who_ = std::move(who);
  d->m_ = counters;
  d->per_partition_ = per_partition;
  d->next_ = next;
  d->held_per_.assign(n, 0);
  d->fetched_through_.assign(n, 0);
  for (size_t p = 0; p < n; ++p) d->fetched_through_[p] = p < pos.size() && pos[p] > 0 ? pos[p] - 1 : 0;
  d->consumers_.resize(n);
  // Made side by side (a consumer costs a round trip or two).
  DG_RETURN_IF_ERROR(ForEachParallel(n, [&](size_t p) -> absl::Status {
    auto c = PullConsumer::Create(link, kDigestsStream, durable_prefix + std::to_string(p),
                                  DigestsSubject(static_cast<int>(p)), p < pos.size() ? pos[p] : 0, inactive_s);
    if (!c.ok()) return c.status();
    d->consumers_[p] = std::move(*c);
    return absl::OkStatus();
  }));
  for (int p = 0; p < partitions; ++p) d->threads_.emplace_back([raw = d.get(), p] { raw->Fetch(p); });
  return d;
}

DigestMerger::~DigestMerger() {
  quit_ = true;
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void DigestMerger::Fetch(int p) {
  const auto pi = static_cast<size_t>(p);
  std::vector<NatsMsgPtr> msgs;
  std::vector<std::string_view> records;
  while (!quit_) {
    {
      std::unique_lock lock(mu_);
      if (held_per_[pi] >= per_partition_) {
        cv_.wait_for(lock, std::chrono::milliseconds(50));
        continue;
      }
    }
    msgs.clear();
    // 16 messages of up to 64 digests each: the buffer's bound is exceeded
    // by at most one fetch.
    if (auto f = consumers_[pi]->Fetch(16, 200, &msgs); !f.ok()) {
      ++m_->fetch_errors;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (msgs.empty()) continue;
    {
      std::lock_guard lock(mu_);
      for (const NatsMsgPtr& msg : msgs) {
        const std::string_view data(natsMsg_GetData(msg.get()), static_cast<size_t>(natsMsg_GetDataLength(msg.get())));
        const uint64_t stream_seq = StreamSequence(msg.get());
        fetched_through_[pi] = std::max(fetched_through_[pi], stream_seq);
        if (auto s = DecodeBatch(data, &records); !s.ok()) {
          // Counted and acknowledged; its events never come (Take waits for them).
          if (++m_->bad_batches <= kReportedBadInputs) {
            fmt::print(stderr, "{}: partition {}, digest stream sequence {}: {}\n", who_, p, stream_seq,
                       std::string(s.message()));
          }
          continue;
        }
        for (const std::string_view record : records) {
          uint64_t seq = 0;
          if (record.size() < sizeof(seq)) {
            ++m_->bad_records;
            continue;
          }
          std::memcpy(&seq, record.data(), sizeof(seq));
          const std::string_view body = record.substr(sizeof(seq));
          if (seq < next_) {
            ++m_->duplicates;  // a resend or a redelivery: applied once
            continue;
          }
          if (auto it = held_.find(seq); it != held_.end()) {
            // A placeholder never displaces a digest, and a digest replaces
            // a placeholder (whose sequence number may have been damaged).
            if (it->second.record.empty() && !body.empty()) {
              --held_per_[static_cast<size_t>(it->second.p)];
              it->second = Held{std::string(body), p, stream_seq};
              ++held_per_[pi];
            }
            ++m_->duplicates;
            continue;
          }
          held_.emplace(seq, Held{std::string(body), p, stream_seq});
          ++held_per_[pi];
        }
      }
    }
    cv_.notify_all();
    (void)consumers_[pi]->AckThrough(msgs.back().get());
  }
}

void DigestMerger::Take(std::vector<std::string>* run, int wait_ms) {
  bool took = false;
  {
    std::unique_lock lock(mu_);
    if (held_.empty() || held_.begin()->first != next_) cv_.wait_for(lock, std::chrono::milliseconds(wait_ms));
    while (!held_.empty() && held_.begin()->first == next_) {
      auto it = held_.begin();
      --held_per_[static_cast<size_t>(it->second.p)];
      run->push_back(std::move(it->second.record));
      held_.erase(it);
      ++next_;
      took = true;
    }
    m_->buffered = held_.size();
  }
  if (took) cv_.notify_all();  // fetchers waiting for room
}

uint64_t DigestMerger::Positions(std::vector<uint64_t>* pos) const {
  std::lock_guard lock(mu_);
  pos->resize(fetched_through_.size());
  for (size_t p = 0; p < pos->size(); ++p) (*pos)[p] = fetched_through_[p] + 1;
  for (const auto& [seq, item] : held_) {
    (*pos)[static_cast<size_t>(item.p)] = std::min((*pos)[static_cast<size_t>(item.p)], item.stream_seq);
  }
  return next_;
}

uint64_t DigestMerger::Lag() const {
  uint64_t total = 0;
  for (const auto& c : consumers_) {
    if (const uint64_t pending = c->lag(); pending != UINT64_MAX) total += pending;
  }
  return total;
}

}  // namespace dg
