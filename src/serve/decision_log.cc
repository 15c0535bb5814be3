#include "serve/decision_log.h"

#include <chrono>

#include <fmt/format.h>

#include "common/time.h"

namespace dg {

DecisionLog::DecisionLog(ConsoleStore* store, DecisionLogOptions options) : store_(store), options_(std::move(options)) {
  Prune();
  writer_ = std::thread([this] { Run(); });
}

DecisionLog::~DecisionLog() { Stop(); }

void DecisionLog::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ && !writer_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  WriteOut();
}

void DecisionLog::Record(DecisionRow row) {
  if (row.ts_ms == 0) row.ts_ms = options_.clock();
  std::lock_guard<std::mutex> lock(mu_);
  if (row.decision == "allow") {
    ++allows_[{row.account_id, row.ts_ms - row.ts_ms % kMsPerHour}];
    return;
  }
  if (pending_.size() >= options_.max_pending) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.push_back(std::move(row));
}

void DecisionLog::WriteOut() {
  std::lock_guard<std::mutex> writing(write_mu_);
  std::vector<DecisionRow> rows;
  absl::flat_hash_map<std::pair<std::string, int64_t>, uint64_t> allows;
  {
    std::lock_guard<std::mutex> lock(mu_);
    rows.swap(pending_);
    allows.swap(allows_);
  }
  if (rows.empty() && allows.empty()) return;
  std::vector<std::tuple<std::string, int64_t, uint64_t>> counts;
  counts.reserve(allows.size());
  for (auto& [key, n] : allows) counts.emplace_back(key.first, key.second, n);
  if (const absl::Status st = store_->AppendDecisions(rows, counts); !st.ok()) {
    // The rows are lost (never retried into an unbounded queue); counted.
    write_failures_.fetch_add(1, std::memory_order_relaxed);
    dropped_.fetch_add(rows.size(), std::memory_order_relaxed);
    fmt::print(stderr, "serve: decision log: {} rows not written: {}\n", rows.size(), StatusMessage(st));
    return;
  }
  written_.fetch_add(rows.size(), std::memory_order_relaxed);
}

uint64_t DecisionLog::Prune() {
  if (options_.retention_days <= 0) return 0;
  const int64_t now = options_.clock();
  last_prune_ms_ = now;
  const auto n = store_->PruneDecisions(now - static_cast<int64_t>(options_.retention_days) * kMsPerDay);
  if (!n.ok()) {
    // Retried at the next prune; the old rows stay meanwhile.
    write_failures_.fetch_add(1, std::memory_order_relaxed);
    fmt::print(stderr, "serve: decision log retention: {}\n", StatusMessage(n.status()));
    return 0;
  }
  return *n;
}

void DecisionLog::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(options_.flush_interval_ms));
    if (stop_) break;
    lock.unlock();
    WriteOut();
    if (options_.retention_days > 0 && options_.clock() - last_prune_ms_ >= kMsPerHour) Prune();
    lock.lock();
  }
}

void DecisionLog::Flush() { WriteOut(); }

}  // namespace dg
