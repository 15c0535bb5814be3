// AccessAudit: the durable trail of access-rule decisions and rule-file
// changes, for a compliance team (docs/ACCESS.md). Its own SQLite file,
// DIR/access_audit.db (WAL, synchronous=FULL), beside serve's store.
//
//   decision  every check on which a rule's effect applied (enforced, or
//             "would_..." in dry run): time from the service's injected
//             clock, account, model, rule id and mode, the final decision,
//             the rules' version and file SHA-256, the attributes as
//             evaluated (and which were missing), the detector's decision
//             and score, the rule's audit reason.
//   reload    each load of the rules file (start, SIGHUP, POST
//             /v1/access/reload): who and how, when, the file's hash and
//             version, the previous ones, and the error when the new file
//             was refused (the old rules stay).
//   dropped   how many decision records the writer could not take (queue
//             full), written as soon as it can.
//
// /v1/check never waits on the disk: Record() appends to a bounded queue
// (65,536 entries; ~0.5 KB each) that a background thread writes in
// batches of up to 1,024 per transaction; a full queue drops the record
// and counts it. Reloads are written synchronously (RecordEvent returns
// once durable).
//
// Integrity: the records form a hash chain. Each line is a JSON object
// whose "prev" is the previous line's "hash", and whose "hash" is the
// SHA-256 of the line as written without its "hash" member (the line up
// to `,"hash":` plus "}"). Editing, deleting or reordering a stored line
// breaks every later link (tests/serve/serve_access.py verifies a chain).
// Cost: one SHA-256 of ~600 bytes per record (~2 us, on the writer thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "decide/access_rules.h"
#include "ingest/accounts.h"

struct sqlite3;

namespace dg {

struct AccessAuditEntry {
  TimeMs at = 0;
  std::shared_ptr<const AccessRuleSet> rules;
  uint32_t rule = 0;                             // index into rules->rules()
  std::string account_id, model;
  std::optional<AccountAttributes> attributes;  // as evaluated; nullopt: an account with no attributes
  Decision detector = Decision::kAllow;
  double score = 0;
  Decision decision = Decision::kAllow;  // the answer given
};

class AccessAudit {
 public:
  // `clock` dates the "dropped" records (decision records carry their own time).
  // Unavailable when DIR/access_audit.db cannot be opened or read.
  static absl::StatusOr<std::unique_ptr<AccessAudit>> Open(const std::string& dir, Clock clock, size_t max_queue = 65536);
  ~AccessAudit();  // writes what is queued, then stops
  AccessAudit(const AccessAudit&) = delete;
  AccessAudit& operator=(const AccessAudit&) = delete;

  // Queues one decision record; never waits on the disk. False (counted)
  // when the queue is full.
  bool Record(AccessAuditEntry entry);
  // Writes one record now (the members of a JSON object, without braces,
  // seq, prev or hash). Unavailable when it is not durable.
  absl::Status RecordEvent(const std::string& members);
  // Waits (at most timeout_ms) until every queued record is written.
  bool Flush(int timeout_ms = 10000);
  // Records with seq > since, oldest first, at most `limit`, one JSON line each.
  // Unavailable on a read error.
  absl::StatusOr<std::string> Export(int64_t since, size_t limit);

  uint64_t written() const { return written_.load(); }
  uint64_t dropped() const { return dropped_.load(); }
  uint64_t failed() const { return failed_.load(); }
  const std::string& path() const { return path_; }

  // One decision record's members (what the writer thread stores).
  static std::string DecisionMembers(const AccessAuditEntry& e);

 private:
  AccessAudit() = default;
  void Loop();
  // Chains and writes lines in one transaction (db_mu_ held).
  absl::Status WriteLocked(const std::vector<std::string>& members);

  std::string path_;
  Clock clock_;
  sqlite3* db_ = nullptr;
  std::mutex db_mu_;             // the connection, seq_, prev_
  int64_t seq_ = 0;
  std::string prev_;             // hash of the last line
  std::mutex q_mu_;
  std::condition_variable q_cv_, idle_cv_;
  std::deque<AccessAuditEntry> queue_;
  size_t max_queue_ = 0;
  size_t in_flight_ = 0;
  uint64_t pending_dropped_ = 0;  // under q_mu_: to be written as a "dropped" record
  bool stop_ = false;
  std::thread writer_;
  std::atomic<uint64_t> written_{0}, dropped_{0}, failed_{0};
};

}  // namespace dg
