// ConsoleStore: what the analyst console keeps beside the event log, in its
// own SQLite file (DIR/console.db, WAL, synchronous=FULL) so that the event
// log's single writer is never held by a console write:
//
//   cases, case_events  a campaign or an account opened as a case: status
//                       (open / investigating / confirmed / false_positive /
//                       closed), assignee, outcome, and every change and
//                       note with who and when
//   policy_hints        what a false positive says about the policy (the
//                       reasons that fired), recorded for tuning
//   decisions           every /v1/check and ext_authz answer that was not
//                       allow (account, decision, reasons, campaign, score,
//                       policy version, source, time); allow_counts: allows
//                       per account and hour
//   audit               which analyst did what (logins, overrides, reviews,
//                       case changes)
//
// It also reads the event log (DIR/distillguard.db) through a second,
// read-only connection, newest batch first and bounded in records, for the
// account timeline and a campaign's tokens per day (ScanLogNewest): WAL lets
// it read while serve appends.
//
// Thread-safe (one mutex around the connection). Costs: one transaction per
// call; decisions are written in batches by DecisionLog (serve/decision_log.h),
// never on the request path. Queries use indexes on (account, ts),
// (campaign, ts) and ts; each answer is bounded by its limit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/status.h"

struct sqlite3;

namespace dg {

inline constexpr std::string_view kCaseStatuses[] = {"open", "investigating", "confirmed", "false_positive", "closed"};
bool IsCaseStatus(std::string_view s);

struct CaseRecord {
  int64_t id = 0;               // "case-<id>" in the API
  std::string subject_kind;     // "campaign" or "account"
  std::string subject_id;
  std::string title;
  std::string status = "open";
  std::string assignee;
  std::string outcome;          // free text: what was concluded
  std::string created_by, created_at, updated_at;  // RFC 3339
};

struct CaseEvent {
  int64_t case_id = 0;
  std::string at, by;
  std::string kind;  // "opened", "status", "assignee", "outcome", "note"
  std::string text;
};

struct PolicyHint {
  int64_t case_id = 0;
  std::string at, by, subject_kind, subject_id;
  std::string reasons;  // the reasons that fired, comma-separated
  std::string note;
};

// One logged decision (not allow).
struct DecisionRow {
  int64_t id = 0;      // set when read back
  int64_t ts_ms = 0;   // when it was answered (service clock)
  std::string account_id, decision, reasons, campaign_id, source, model;
  double score = 0;
  int policy_version = 0;
};

struct DecisionQuery {
  std::string account_id, campaign_id, decision;
  int64_t since_ms = INT64_MIN, until_ms = INT64_MAX;
  int64_t before_id = 0;  // paging: rows with a smaller id (0: from the newest)
  size_t limit = 200;
};

struct AuditRow {
  std::string at, analyst, action, target, detail;
};

class ConsoleStore {
 public:
  // Opens or creates DIR/console.db (and prepares the read-only view of
  // DIR/distillguard.db, opened lazily). Unavailable when it cannot be
  // opened or its tables created. Every write below returns Unavailable
  // ("DIR/console.db: what: SQLite's reason") when it is not durable.
  static absl::StatusOr<std::unique_ptr<ConsoleStore>> Open(const std::string& dir);
  ~ConsoleStore();
  ConsoleStore(const ConsoleStore&) = delete;
  ConsoleStore& operator=(const ConsoleStore&) = delete;

  // Cases. CreateCase sets c->id and writes an "opened" event.
  absl::Status CreateCase(CaseRecord* c);
  std::optional<CaseRecord> GetCase(int64_t id);
  // Writes the record's mutable fields and the events in one transaction.
  absl::Status UpdateCase(const CaseRecord& c, const std::vector<CaseEvent>& events);
  absl::Status AddCaseEvent(const CaseEvent& e);
  std::vector<CaseEvent> CaseEvents(int64_t id);
  // Newest first; empty filters match all.
  std::vector<CaseRecord> ListCases(const std::string& status, const std::string& subject_kind, const std::string& subject_id,
                                    size_t limit);
  absl::Status AddPolicyHint(const PolicyHint& h);
  std::vector<PolicyHint> PolicyHints(size_t limit);

  // Decision log (DecisionLog writes; the console reads).
  absl::Status AppendDecisions(const std::vector<DecisionRow>& rows,
                       const std::vector<std::tuple<std::string, int64_t, uint64_t>>& allows);
  std::vector<DecisionRow> QueryDecisions(const DecisionQuery& q);
  // Allows of one account per hour (hour start ms, count), newest first.
  std::vector<std::pair<int64_t, uint64_t>> AllowCounts(const std::string& account_id, size_t limit);
  // Deletes decisions and allow counts older than cutoff_ms; returns rows deleted.
  absl::StatusOr<uint64_t> PruneDecisions(int64_t cutoff_ms);
  uint64_t DecisionCount();

  absl::Status AddAudit(const AuditRow& a);
  std::vector<AuditRow> Audit(size_t limit);

  // The event log, newest batch first: fn(record) for at most max_records
  // records (a record is a wire record, serve/wire.h); fn returns false to
  // stop. Returns the records visited; *complete is set when the whole log
  // was visited. Never blocks the log's writer.
  uint64_t ScanLogNewest(uint64_t max_records, const std::function<bool(std::string_view)>& fn, bool* complete);

 private:
  ConsoleStore() = default;
  absl::Status Exec(const char* sql);
  absl::Status Error(std::string_view what) const;  // Unavailable

  std::mutex mu_;
  std::string dir_, path_;
  sqlite3* db_ = nullptr;
  std::mutex log_mu_;
  sqlite3* log_ = nullptr;  // read-only connection to the event log
};

}  // namespace dg
