#include "serve/console_store.h"

#include <sqlite3.h>

#include <cstring>
#include <filesystem>

namespace dg {
namespace {

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

void BindText(sqlite3_stmt* s, int idx, std::string_view v) {
  sqlite3_bind_text(s, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

void Bind(sqlite3_stmt* s, int idx, int64_t v) { sqlite3_bind_int64(s, idx, v); }
void Bind(sqlite3_stmt* s, int idx, std::string_view v) { BindText(s, idx, v); }

// Prepares one statement, binds `values` to its parameters in order
// (integers as integers, the rest as text) and steps it once: true when it
// ran to completion. For the single-row INSERTs of cases, notes, hints and
// the audit.
template <typename... V>
bool StepOnce(sqlite3* db, const char* sql, const V&... values) {
  Stmt q;
  if (sqlite3_prepare_v2(db, sql, -1, &q.s, nullptr) != SQLITE_OK) return false;
  int idx = 0;
  (Bind(q.s, ++idx, values), ...);
  return sqlite3_step(q.s) == SQLITE_DONE;
}

constexpr const char* kInsertCaseEvent = "INSERT INTO case_events(case_id, at, by, kind, text) VALUES(?, ?, ?, ?, ?)";

std::string Column(sqlite3_stmt* s, int idx) {
  const auto* p = sqlite3_column_text(s, idx);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, idx)));
}

constexpr const char* kCaseColumns = "id, subject_kind, subject_id, title, status, assignee, outcome, created_by, created_at, updated_at";

CaseRecord ReadCase(sqlite3_stmt* s) {
  CaseRecord c;
  c.id = sqlite3_column_int64(s, 0);
  c.subject_kind = Column(s, 1);
  c.subject_id = Column(s, 2);
  c.title = Column(s, 3);
  c.status = Column(s, 4);
  c.assignee = Column(s, 5);
  c.outcome = Column(s, 6);
  c.created_by = Column(s, 7);
  c.created_at = Column(s, 8);
  c.updated_at = Column(s, 9);
  return c;
}

}  // namespace

bool IsCaseStatus(std::string_view s) {
  for (const auto st : kCaseStatuses) {
    if (st == s) return true;
  }
  return false;
}

absl::Status ConsoleStore::Error(std::string_view what) const {
  return absl::UnavailableError(path_ + ": " + std::string(what) + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "cannot open"));
}

absl::Status ConsoleStore::Exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    const std::string text = path_ + ": " + (msg != nullptr ? msg : "error");
    sqlite3_free(msg);
    return absl::UnavailableError(text);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ConsoleStore>> ConsoleStore::Open(const std::string& dir) {
  std::error_code ec;
  // A failure shows in sqlite3_open_v2 below, with SQLite's reason.
  std::filesystem::create_directories(dir, ec);
  std::unique_ptr<ConsoleStore> st(new ConsoleStore());
  st->dir_ = dir;
  st->path_ = (std::filesystem::path(dir) / "console.db").string();
  if (sqlite3_open_v2(st->path_.c_str(), &st->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    return st->Error("cannot open");
  }
  sqlite3_busy_timeout(st->db_, 5000);
  if (absl::Status created = st->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                "CREATE TABLE IF NOT EXISTS cases(id INTEGER PRIMARY KEY, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL,"
                " title TEXT NOT NULL, status TEXT NOT NULL, assignee TEXT NOT NULL, outcome TEXT NOT NULL,"
                " created_by TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                "CREATE INDEX IF NOT EXISTS cases_subject ON cases(subject_kind, subject_id);"
                "CREATE TABLE IF NOT EXISTS case_events(seq INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, at TEXT NOT NULL,"
                " by TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL);"
                "CREATE INDEX IF NOT EXISTS case_events_case ON case_events(case_id, seq);"
                "CREATE TABLE IF NOT EXISTS policy_hints(seq INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, at TEXT NOT NULL,"
                " by TEXT NOT NULL, subject_kind TEXT NOT NULL, subject_id TEXT NOT NULL, reasons TEXT NOT NULL, note TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS decisions(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, account_id TEXT NOT NULL,"
                " decision TEXT NOT NULL, reasons TEXT NOT NULL, campaign_id TEXT NOT NULL, score REAL NOT NULL,"
                " policy_version INTEGER NOT NULL, source TEXT NOT NULL, model TEXT NOT NULL);"
                "CREATE INDEX IF NOT EXISTS decisions_ts ON decisions(ts);"
                "CREATE INDEX IF NOT EXISTS decisions_account ON decisions(account_id, id);"
                "CREATE INDEX IF NOT EXISTS decisions_campaign ON decisions(campaign_id, id);"
                "CREATE TABLE IF NOT EXISTS allow_counts(account_id TEXT NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL,"
                " PRIMARY KEY(account_id, hour)) WITHOUT ROWID;"
                "CREATE INDEX IF NOT EXISTS allow_counts_hour ON allow_counts(hour);"
                "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, at TEXT NOT NULL, analyst TEXT NOT NULL,"
                " action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT NOT NULL);");
      !created.ok()) {
    return created;
  }
  return st;
}

ConsoleStore::~ConsoleStore() {
  sqlite3_close(log_);
  sqlite3_close(db_);
}

absl::Status ConsoleStore::CreateCase(CaseRecord* c) {
  std::lock_guard<std::mutex> lock(mu_);
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt q, ev;
  bool ok = sqlite3_prepare_v2(db_,
                               "INSERT INTO cases(subject_kind, subject_id, title, status, assignee, outcome, created_by, created_at,"
                               " updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &q.s, nullptr) == SQLITE_OK;
  if (ok) {
    BindText(q.s, 1, c->subject_kind);
    BindText(q.s, 2, c->subject_id);
    BindText(q.s, 3, c->title);
    BindText(q.s, 4, c->status);
    BindText(q.s, 5, c->assignee);
    BindText(q.s, 6, c->outcome);
    BindText(q.s, 7, c->created_by);
    BindText(q.s, 8, c->created_at);
    BindText(q.s, 9, c->updated_at);
    ok = sqlite3_step(q.s) == SQLITE_DONE;
  }
  if (ok) {
    c->id = sqlite3_last_insert_rowid(db_);
    ok = sqlite3_prepare_v2(db_, "INSERT INTO case_events(case_id, at, by, kind, text) VALUES(?, ?, ?, 'opened', ?)", -1, &ev.s,
                            nullptr) == SQLITE_OK;
  }
  if (ok) {
    sqlite3_bind_int64(ev.s, 1, c->id);
    BindText(ev.s, 2, c->created_at);
    BindText(ev.s, 3, c->created_by);
    BindText(ev.s, 4, c->subject_kind + " " + c->subject_id + (c->title.empty() ? "" : ": " + c->title));
    ok = sqlite3_step(ev.s) == SQLITE_DONE;
  }
  if (!ok) {
    const absl::Status failed = Error("create case");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  return Exec("COMMIT");
}

std::optional<CaseRecord> ConsoleStore::GetCase(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q;
  const std::string sql = std::string("SELECT ") + kCaseColumns + " FROM cases WHERE id = ?";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK) return std::nullopt;
  sqlite3_bind_int64(q.s, 1, id);
  if (sqlite3_step(q.s) != SQLITE_ROW) return std::nullopt;
  return ReadCase(q.s);
}

absl::Status ConsoleStore::UpdateCase(const CaseRecord& c, const std::vector<CaseEvent>& events) {
  std::lock_guard<std::mutex> lock(mu_);
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt q;
  bool ok = sqlite3_prepare_v2(db_, "UPDATE cases SET status = ?, assignee = ?, outcome = ?, title = ?, updated_at = ? WHERE id = ?", -1,
                               &q.s, nullptr) == SQLITE_OK;
  if (ok) {
    BindText(q.s, 1, c.status);
    BindText(q.s, 2, c.assignee);
    BindText(q.s, 3, c.outcome);
    BindText(q.s, 4, c.title);
    BindText(q.s, 5, c.updated_at);
    sqlite3_bind_int64(q.s, 6, c.id);
    ok = sqlite3_step(q.s) == SQLITE_DONE;
  }
  for (const auto& e : events) {
    if (!ok) break;
    ok = StepOnce(db_, kInsertCaseEvent, int64_t{e.case_id}, e.at, e.by, e.kind, e.text);
  }
  if (!ok) {
    const absl::Status failed = Error("update case");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  return Exec("COMMIT");
}

absl::Status ConsoleStore::AddCaseEvent(const CaseEvent& e) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!StepOnce(db_, kInsertCaseEvent, int64_t{e.case_id}, e.at, e.by, e.kind, e.text)) {
    return Error("case note");
  }
  return absl::OkStatus();
}

std::vector<CaseEvent> ConsoleStore::CaseEvents(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CaseEvent> out;
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT case_id, at, by, kind, text FROM case_events WHERE case_id = ? ORDER BY seq", -1, &q.s, nullptr) !=
      SQLITE_OK) {
    return out;
  }
  sqlite3_bind_int64(q.s, 1, id);
  while (sqlite3_step(q.s) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(q.s, 0), Column(q.s, 1), Column(q.s, 2), Column(q.s, 3), Column(q.s, 4)});
  }
  return out;
}

std::vector<CaseRecord> ConsoleStore::ListCases(const std::string& status, const std::string& subject_kind,
                                                const std::string& subject_id, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CaseRecord> out;
  Stmt q;
  const std::string sql = std::string("SELECT ") + kCaseColumns +
                          " FROM cases WHERE (?1 = '' OR status = ?1) AND (?2 = '' OR subject_kind = ?2) AND (?3 = '' OR subject_id = ?3)"
                          " ORDER BY id DESC LIMIT ?4";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &q.s, nullptr) != SQLITE_OK) return out;
  BindText(q.s, 1, status);
  BindText(q.s, 2, subject_kind);
  BindText(q.s, 3, subject_id);
  sqlite3_bind_int64(q.s, 4, static_cast<int64_t>(limit));
  while (sqlite3_step(q.s) == SQLITE_ROW) out.push_back(ReadCase(q.s));
  return out;
}

absl::Status ConsoleStore::AddPolicyHint(const PolicyHint& h) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!StepOnce(db_, "INSERT INTO policy_hints(case_id, at, by, subject_kind, subject_id, reasons, note) VALUES(?, ?, ?, ?, ?, ?, ?)",
                int64_t{h.case_id}, h.at, h.by, h.subject_kind, h.subject_id, h.reasons, h.note)) {
    return Error("policy hint");
  }
  return absl::OkStatus();
}

std::vector<PolicyHint> ConsoleStore::PolicyHints(size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PolicyHint> out;
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT case_id, at, by, subject_kind, subject_id, reasons, note FROM policy_hints ORDER BY seq DESC LIMIT ?",
                         -1, &q.s, nullptr) != SQLITE_OK) {
    return out;
  }
  sqlite3_bind_int64(q.s, 1, static_cast<int64_t>(limit));
  while (sqlite3_step(q.s) == SQLITE_ROW) {
    out.push_back({sqlite3_column_int64(q.s, 0), Column(q.s, 1), Column(q.s, 2), Column(q.s, 3), Column(q.s, 4), Column(q.s, 5),
                   Column(q.s, 6)});
  }
  return out;
}

absl::Status ConsoleStore::AppendDecisions(const std::vector<DecisionRow>& rows,
                                   const std::vector<std::tuple<std::string, int64_t, uint64_t>>& allows) {
  if (rows.empty() && allows.empty()) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt ins, up;
  bool ok = sqlite3_prepare_v2(db_,
                               "INSERT INTO decisions(ts, account_id, decision, reasons, campaign_id, score, policy_version, source, model)"
                               " VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               -1, &ins.s, nullptr) == SQLITE_OK &&
            sqlite3_prepare_v2(db_,
                               "INSERT INTO allow_counts(account_id, hour, n) VALUES(?, ?, ?)"
                               " ON CONFLICT(account_id, hour) DO UPDATE SET n = n + excluded.n",
                               -1, &up.s, nullptr) == SQLITE_OK;
  for (size_t idx = 0; ok && idx < rows.size(); ++idx) {
    const DecisionRow& r = rows[idx];
    sqlite3_reset(ins.s);
    sqlite3_bind_int64(ins.s, 1, r.ts_ms);
    BindText(ins.s, 2, r.account_id);
    BindText(ins.s, 3, r.decision);
    BindText(ins.s, 4, r.reasons);
    BindText(ins.s, 5, r.campaign_id);
    sqlite3_bind_double(ins.s, 6, r.score);
    sqlite3_bind_int(ins.s, 7, r.policy_version);
    BindText(ins.s, 8, r.source);
    BindText(ins.s, 9, r.model);
    ok = sqlite3_step(ins.s) == SQLITE_DONE;
  }
  for (size_t idx = 0; ok && idx < allows.size(); ++idx) {
    sqlite3_reset(up.s);
    BindText(up.s, 1, std::get<0>(allows[idx]));
    sqlite3_bind_int64(up.s, 2, std::get<1>(allows[idx]));
    sqlite3_bind_int64(up.s, 3, static_cast<int64_t>(std::get<2>(allows[idx])));
    ok = sqlite3_step(up.s) == SQLITE_DONE;
  }
  if (!ok) {
    const absl::Status failed = Error("decision log");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  return Exec("COMMIT");
}

std::vector<DecisionRow> ConsoleStore::QueryDecisions(const DecisionQuery& dq) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DecisionRow> out;
  Stmt q;
  if (sqlite3_prepare_v2(db_,
                         "SELECT id, ts, account_id, decision, reasons, campaign_id, score, policy_version, source, model FROM decisions"
                         " WHERE (?1 = '' OR account_id = ?1) AND (?2 = '' OR campaign_id = ?2) AND (?3 = '' OR decision = ?3)"
                         " AND ts >= ?4 AND ts <= ?5 AND (?6 = 0 OR id < ?6) ORDER BY id DESC LIMIT ?7",
                         -1, &q.s, nullptr) != SQLITE_OK) {
    return out;
  }
  BindText(q.s, 1, dq.account_id);
  BindText(q.s, 2, dq.campaign_id);
  BindText(q.s, 3, dq.decision);
  sqlite3_bind_int64(q.s, 4, dq.since_ms);
  sqlite3_bind_int64(q.s, 5, dq.until_ms);
  sqlite3_bind_int64(q.s, 6, dq.before_id);
  sqlite3_bind_int64(q.s, 7, static_cast<int64_t>(dq.limit));
  while (sqlite3_step(q.s) == SQLITE_ROW) {
    DecisionRow r;
    r.id = sqlite3_column_int64(q.s, 0);
    r.ts_ms = sqlite3_column_int64(q.s, 1);
    r.account_id = Column(q.s, 2);
    r.decision = Column(q.s, 3);
    r.reasons = Column(q.s, 4);
    r.campaign_id = Column(q.s, 5);
    r.score = sqlite3_column_double(q.s, 6);
    r.policy_version = sqlite3_column_int(q.s, 7);
    r.source = Column(q.s, 8);
    r.model = Column(q.s, 9);
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<std::pair<int64_t, uint64_t>> ConsoleStore::AllowCounts(const std::string& account_id, size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<int64_t, uint64_t>> out;
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT hour, n FROM allow_counts WHERE account_id = ? ORDER BY hour DESC LIMIT ?", -1, &q.s, nullptr) !=
      SQLITE_OK) {
    return out;
  }
  BindText(q.s, 1, account_id);
  sqlite3_bind_int64(q.s, 2, static_cast<int64_t>(limit));
  while (sqlite3_step(q.s) == SQLITE_ROW) {
    out.emplace_back(sqlite3_column_int64(q.s, 0), static_cast<uint64_t>(sqlite3_column_int64(q.s, 1)));
  }
  return out;
}

absl::StatusOr<uint64_t> ConsoleStore::PruneDecisions(int64_t cutoff_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt d, a;
  bool ok = sqlite3_prepare_v2(db_, "DELETE FROM decisions WHERE ts < ?", -1, &d.s, nullptr) == SQLITE_OK &&
            sqlite3_prepare_v2(db_, "DELETE FROM allow_counts WHERE hour < ?", -1, &a.s, nullptr) == SQLITE_OK;
  uint64_t n = 0;
  if (ok) {
    sqlite3_bind_int64(d.s, 1, cutoff_ms);
    ok = sqlite3_step(d.s) == SQLITE_DONE;
    n += static_cast<uint64_t>(sqlite3_changes(db_));
  }
  if (ok) {
    // An hour's count is kept while any of the hour is within retention.
    sqlite3_bind_int64(a.s, 1, cutoff_ms - 3600 * 1000);
    ok = sqlite3_step(a.s) == SQLITE_DONE;
    n += static_cast<uint64_t>(sqlite3_changes(db_));
  }
  if (!ok) {
    const absl::Status failed = Error("decision log retention");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  DG_RETURN_IF_ERROR(Exec("COMMIT"));
  return n;
}

uint64_t ConsoleStore::DecisionCount() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT COUNT(*) FROM decisions", -1, &q.s, nullptr) != SQLITE_OK || sqlite3_step(q.s) != SQLITE_ROW) {
    return 0;
  }
  return static_cast<uint64_t>(sqlite3_column_int64(q.s, 0));
}

absl::Status ConsoleStore::AddAudit(const AuditRow& a) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!StepOnce(db_, "INSERT INTO audit(at, analyst, action, target, detail) VALUES(?, ?, ?, ?, ?)", a.at, a.analyst, a.action,
                a.target, a.detail)) {
    return Error("audit");
  }
  return absl::OkStatus();
}

std::vector<AuditRow> ConsoleStore::Audit(size_t limit) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AuditRow> out;
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT at, analyst, action, target, detail FROM audit ORDER BY seq DESC LIMIT ?", -1, &q.s, nullptr) !=
      SQLITE_OK) {
    return out;
  }
  sqlite3_bind_int64(q.s, 1, static_cast<int64_t>(limit));
  while (sqlite3_step(q.s) == SQLITE_ROW) out.push_back({Column(q.s, 0), Column(q.s, 1), Column(q.s, 2), Column(q.s, 3), Column(q.s, 4)});
  return out;
}

uint64_t ConsoleStore::ScanLogNewest(uint64_t max_records, const std::function<bool(std::string_view)>& fn, bool* complete) {
  std::lock_guard<std::mutex> lock(log_mu_);
  *complete = false;
  if (log_ == nullptr) {
    const std::string path = (std::filesystem::path(dir_) / "distillguard.db").string();
    if (sqlite3_open_v2(path.c_str(), &log_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      sqlite3_close(log_);
      log_ = nullptr;
      return 0;
    }
    sqlite3_busy_timeout(log_, 2000);
  }
  Stmt q;
  if (sqlite3_prepare_v2(log_, "SELECT records FROM batches ORDER BY seq DESC", -1, &q.s, nullptr) != SQLITE_OK) return 0;
  uint64_t visited = 0;
  std::vector<std::string_view> in_batch;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(q.s, 0));
    const std::string_view batch(p == nullptr ? "" : p, static_cast<size_t>(sqlite3_column_bytes(q.s, 0)));
    // Records of a batch are in time order: visit them newest first.
    in_batch.clear();
    size_t pos = 0;
    while (pos + 4 <= batch.size()) {
      uint32_t len = 0;
      std::memcpy(&len, batch.data() + pos, 4);
      pos += 4;
      if (len > batch.size() - pos) break;
      in_batch.push_back(batch.substr(pos, len));
      pos += len;
    }
    for (auto it = in_batch.rbegin(); it != in_batch.rend(); ++it) {
      if (visited >= max_records) return visited;
      ++visited;
      if (!fn(*it)) return visited;
    }
  }
  *complete = rc == SQLITE_DONE;
  return visited;
}

}  // namespace dg
