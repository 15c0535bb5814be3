// DecisionLog: the durable record of what /v1/check and ext_authz answered,
// written off the request path. Record() is called by the event loop after
// each answer: a non-allow decision is appended to a pending vector, an allow
// only increments a count per (account, hour); both under one short mutex
// (no I/O, no allocation beyond the row's strings). A background thread
// swaps the pending rows out every flush_interval_ms and writes them in one
// SQLite transaction (ConsoleStore::AppendDecisions). Bounded: past
// max_pending rows waiting (the disk stalled), new rows are dropped and
// counted (dropped()), never blocking a decision. Retention: rows older
// than retention_days are deleted at start and hourly (0: kept for ever).
//
// What a crash can lose: the rows of the last flush interval (250 ms by
// default) -- a decision is never delayed to make its record durable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/clock.h"
#include "serve/console_store.h"

namespace dg {

struct DecisionLogOptions {
  int retention_days = 90;          // 0: keep for ever
  int flush_interval_ms = 250;
  size_t max_pending = 100000;      // rows waiting for the writer at most
  Clock clock = SystemClock();
};

class DecisionLog {
 public:
  // store must outlive the log. Starts the writer thread.
  DecisionLog(ConsoleStore* store, DecisionLogOptions options);
  ~DecisionLog();  // flushes and stops
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;

  // row.ts_ms is set here from the clock when 0. decision "allow" is counted.
  void Record(DecisionRow row);
  // Writes everything recorded so far (tests; Stop).
  void Flush();
  void Stop();
  // Applies retention now (the writer also does, hourly); rows deleted.
  uint64_t Prune();

  uint64_t written() const { return written_.load(); }
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t write_failures() const { return write_failures_.load(); }
  const DecisionLogOptions& options() const { return options_; }

 private:
  void Run();
  void WriteOut();

  ConsoleStore* store_;
  DecisionLogOptions options_;
  std::mutex mu_;  // pending rows and allow counts
  std::vector<DecisionRow> pending_;
  absl::flat_hash_map<std::pair<std::string, int64_t>, uint64_t> allows_;
  std::mutex write_mu_;  // one writer at a time (thread, Flush)
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<uint64_t> written_{0}, dropped_{0}, write_failures_{0};
  std::atomic<int64_t> last_prune_ms_{0};
  std::thread writer_;
};

}  // namespace dg
