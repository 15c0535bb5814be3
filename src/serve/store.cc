#include "serve/store.h"

#include "common/json_out.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "common/hash.h"

namespace dg {
namespace {

// Finalizes a statement on scope exit.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

void BindText(sqlite3_stmt* s, int idx, std::string_view v) {
  sqlite3_bind_text(s, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string Column(sqlite3_stmt* s, int idx) {
  const auto* p = sqlite3_column_text(s, idx);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, idx)));
}

}  // namespace

absl::Status Store::Error(std::string_view what) const {
  return absl::UnavailableError(path_ + ": " + std::string(what) + ": " + (db_ != nullptr ? sqlite3_errmsg(db_) : "cannot open"));
}

absl::Status Store::Exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    const std::string text = path_ + ": " + (msg != nullptr ? msg : "error");
    sqlite3_free(msg);
    return absl::UnavailableError(text);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir, uint64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  // Unavailable, not NotFound / PermissionDenied: serve cannot run on
  // this directory (exit 1), whatever the errno.
  if (ec) return absl::UnavailableError(dir + ": cannot create the data directory: " + ec.message());
  std::unique_ptr<Store> st(new Store());
  st->path_ = (std::filesystem::path(dir) / "distillguard.db").string();
  // An existing empty database file is a truncated database, not a fresh
  // start: starting empty would silently forget every account.
  if (std::filesystem::exists(st->path_, ec) && std::filesystem::file_size(st->path_, ec) == 0 && !ec) {
    return absl::DataLossError(st->path_ +
                               ": the database file exists but is empty (0 bytes): truncated? Restore it from a backup, or remove it "
                               "to start with an empty log");
  }
  if (sqlite3_open_v2(st->path_.c_str(), &st->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    return st->Error("cannot open");
  }
  sqlite3_busy_timeout(st->db_, 5000);
  DG_RETURN_IF_ERROR(st->QuickCheck());
  DG_RETURN_IF_ERROR(
      st->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
               "CREATE TABLE IF NOT EXISTS batches(seq INTEGER PRIMARY KEY, count INTEGER NOT NULL, records BLOB NOT NULL);"
               "CREATE TABLE IF NOT EXISTS overrides(seq INTEGER PRIMARY KEY, account_id TEXT NOT NULL, action TEXT NOT NULL,"
               " by TEXT NOT NULL, reason TEXT NOT NULL, at TEXT NOT NULL);"
               "CREATE TABLE IF NOT EXISTS samples(campaign_id TEXT NOT NULL, sample TEXT NOT NULL, PRIMARY KEY(campaign_id, sample));"
               "CREATE TABLE IF NOT EXISTS shared_indicators(kind TEXT NOT NULL, value TEXT NOT NULL, source TEXT NOT NULL,"
               " PRIMARY KEY(kind, value));"
               "INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '1');"));
  // Columns added since the first schema (absent in older logs): each
  // batch's newest event time, for retention, and a checksum of its records
  // (quick_check verifies the b-tree, not the bytes of a record, and a
  // flipped byte inside one decodes as a phantom account).
  if (!st->HasColumn("batches", "newest_ts")) DG_RETURN_IF_ERROR(st->Exec("ALTER TABLE batches ADD COLUMN newest_ts INTEGER"));
  if (!st->HasColumn("batches", "checksum")) DG_RETURN_IF_ERROR(st->Exec("ALTER TABLE batches ADD COLUMN checksum INTEGER"));
  // Imported indicators' trust and import time (issue #18 finding 7). Rows
  // imported before could only block: they keep "block" until re-imported
  // or removed.
  if (!st->HasColumn("shared_indicators", "trust")) {
    DG_RETURN_IF_ERROR(st->Exec("ALTER TABLE shared_indicators ADD COLUMN trust TEXT NOT NULL DEFAULT 'block'"));
  }
  if (!st->HasColumn("shared_indicators", "imported_at")) {
    DG_RETURN_IF_ERROR(st->Exec("ALTER TABLE shared_indicators ADD COLUMN imported_at TEXT"));
  }
  // Account attributes (PUT /v1/accounts, serve --accounts), since #17.
  DG_RETURN_IF_ERROR(st->Exec("CREATE TABLE IF NOT EXISTS accounts(account_id TEXT PRIMARY KEY, attrs TEXT NOT NULL);"));
  // Issue #18 finding 13 (a restart restores the same analyst state): the
  // redacted texts logged events gave to the analyst view, keyed by the
  // event's place in the log, and each override's place in the log. Older
  // overrides (NULL) are replayed after the log, as they were before.
  DG_RETURN_IF_ERROR(
      st->Exec("CREATE TABLE IF NOT EXISTS event_texts(batch INTEGER NOT NULL, idx INTEGER NOT NULL, use INTEGER NOT NULL,"
               " text TEXT NOT NULL, PRIMARY KEY(batch, idx, use)) WITHOUT ROWID;"));
  if (!st->HasColumn("overrides", "after_batch")) DG_RETURN_IF_ERROR(st->Exec("ALTER TABLE overrides ADD COLUMN after_batch INTEGER"));
  if (max_bytes > 0) {
    const std::string pragma = "PRAGMA max_page_count = " + std::to_string(std::max<uint64_t>(16, max_bytes / 4096)) + ";";
    DG_RETURN_IF_ERROR(st->Exec(pragma.c_str()));
  }
  if (sqlite3_prepare_v2(st->db_, "INSERT INTO batches(seq, count, records, newest_ts, checksum) VALUES(?, ?, ?, ?, ?)", -1,
                         &st->insert_record_, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(st->db_, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", -1, &st->set_meta_, nullptr) != SQLITE_OK) {
    return st->Error("prepare");
  }
  Stmt count;
  if (sqlite3_prepare_v2(st->db_, "SELECT COALESCE(SUM(count), 0) FROM batches", -1, &count.s, nullptr) != SQLITE_OK ||
      sqlite3_step(count.s) != SQLITE_ROW) {
    return st->Error("count the logged records");
  }
  st->records_ = static_cast<uint64_t>(sqlite3_column_int64(count.s, 0));
  // Batch numbers only grow: SQLite would give a deleted newest batch's
  // number again, so the highest number given is kept in meta when
  // retention deletes batches (event texts and overrides refer to them).
  Stmt last;
  if (sqlite3_prepare_v2(st->db_,
                         "SELECT MAX(COALESCE((SELECT MAX(seq) FROM batches), 0),"
                         " COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'batch_seq_high'), 0))",
                         -1, &last.s, nullptr) != SQLITE_OK ||
      sqlite3_step(last.s) != SQLITE_ROW) {
    return st->Error("read the log's last batch");
  }
  st->last_batch_ = sqlite3_column_int64(last.s, 0);
  return st;
}

Store::~Store() {
  sqlite3_finalize(insert_record_);
  sqlite3_finalize(set_meta_);
  sqlite3_close(db_);
}

bool Store::HasColumn(const char* table, const char* column) {
  Stmt cols;
  const std::string sql = std::string("PRAGMA table_info(") + table + ")";
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &cols.s, nullptr) != SQLITE_OK) return false;
  while (sqlite3_step(cols.s) == SQLITE_ROW) {
    if (Column(cols.s, 1) == column) return true;
  }
  return false;
}

absl::Status Store::QuickCheck() {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &q.s, nullptr) != SQLITE_OK) {
    return absl::DataLossError(std::string(StatusMessage(Error("is not a usable database (quick_check)"))) +
                               "; restore it from a backup or move it away");
  }
  std::string problems;
  int rc, shown = 0;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    const std::string line = Column(q.s, 0);
    if (line == "ok") continue;
    if (shown++ < 3) problems += (problems.empty() ? "" : "; ") + line;
  }
  if (rc != SQLITE_DONE) {
    return absl::DataLossError(std::string(StatusMessage(Error("is corrupt (quick_check could not read it)"))) +
                               "; restore it from a backup or move it away");
  }
  if (!problems.empty()) {
    return absl::DataLossError(path_ + ": is corrupt (quick_check: " + problems + "); restore it from a backup or move it away");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Store::PruneBefore(int64_t cutoff_ms) {
  Stmt count;
  uint64_t n = 0;
  if (sqlite3_prepare_v2(db_, "SELECT COALESCE(SUM(count), 0) FROM batches WHERE newest_ts < ?", -1, &count.s, nullptr) != SQLITE_OK) {
    return Error("retention");
  }
  sqlite3_bind_int64(count.s, 1, cutoff_ms);
  if (sqlite3_step(count.s) != SQLITE_ROW) return Error("retention");
  n = static_cast<uint64_t>(sqlite3_column_int64(count.s, 0));
  if (n == 0) return 0;
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt texts, del, high;
  // Texts of deleted batches go with them (and any left by a batch that
  // retention deleted before its texts were written).
  bool ok = sqlite3_prepare_v2(db_, "DELETE FROM batches WHERE newest_ts < ?", -1, &del.s, nullptr) == SQLITE_OK &&
            sqlite3_prepare_v2(db_, "DELETE FROM event_texts WHERE batch NOT IN (SELECT seq FROM batches)", -1, &texts.s, nullptr) ==
                SQLITE_OK &&
            sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('batch_seq_high', ?)", -1, &high.s, nullptr) ==
                SQLITE_OK;
  if (ok) {
    sqlite3_bind_int64(del.s, 1, cutoff_ms);
    sqlite3_bind_text(high.s, 1, std::to_string(last_batch_).c_str(), -1, SQLITE_TRANSIENT);
    ok = sqlite3_step(del.s) == SQLITE_DONE && sqlite3_step(texts.s) == SQLITE_DONE && sqlite3_step(high.s) == SQLITE_DONE;
  }
  ok = ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    const absl::Status failed = Error("retention");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  records_ -= std::min(records_, n);
  return n;
}

absl::Status Store::Append(const std::vector<std::string>& records, const std::vector<std::pair<std::string, std::string>>& meta,
                   int64_t newest_ts, int64_t* batch_seq) {
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](std::string_view what) {
    const absl::Status failed = Error(what);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  };
  if (!records.empty()) {
    // One row per batch: each record prefixed by its 4-byte length.
    size_t total = 0;
    for (const auto& r : records) total += 4 + r.size();
    batch_.clear();
    batch_.reserve(total);
    for (const auto& r : records) {
      const auto len = static_cast<uint32_t>(r.size());
      batch_.append(reinterpret_cast<const char*>(&len), 4);
      batch_.append(r);
    }
    sqlite3_bind_int64(insert_record_, 1, last_batch_ + 1);
    sqlite3_bind_int64(insert_record_, 2, static_cast<sqlite3_int64>(records.size()));
    sqlite3_bind_blob(insert_record_, 3, batch_.data(), static_cast<int>(batch_.size()), SQLITE_STATIC);
    if (newest_ts == std::numeric_limits<int64_t>::min()) sqlite3_bind_null(insert_record_, 4);
    else sqlite3_bind_int64(insert_record_, 4, newest_ts);
    sqlite3_bind_int64(insert_record_, 5, static_cast<sqlite3_int64>(Hash64(batch_)));
    const int rc = sqlite3_step(insert_record_);
    sqlite3_reset(insert_record_);
    if (rc != SQLITE_DONE) return fail("append");
  }
  for (const auto& [key, value] : meta) {
    BindText(set_meta_, 1, key);
    BindText(set_meta_, 2, value);
    const int rc = sqlite3_step(set_meta_);
    sqlite3_reset(set_meta_);
    if (rc != SQLITE_DONE) return fail("metadata");
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");
  records_ += records.size();
  if (!records.empty()) ++last_batch_;
  if (batch_seq != nullptr) *batch_seq = records.empty() ? 0 : last_batch_;
  return absl::OkStatus();
}

absl::Status Store::ForEachRecord(const std::function<void(std::string_view)>& fn) {
  return ForEachLoggedRecord([&](std::string_view record, int64_t, uint32_t) { fn(record); });
}

absl::Status Store::ForEachLoggedRecord(const std::function<void(std::string_view, int64_t, uint32_t)>& fn) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT records, checksum, seq FROM batches ORDER BY seq", -1, &q.s, nullptr) != SQLITE_OK) {
    return Error("read log");
  }
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(q.s, 0));
    const std::string_view batch(p == nullptr ? "" : p, static_cast<size_t>(sqlite3_column_bytes(q.s, 0)));
    // Batches logged before checksums existed have none (NULL): unchecked.
    if (sqlite3_column_type(q.s, 1) != SQLITE_NULL &&
        static_cast<uint64_t>(sqlite3_column_int64(q.s, 1)) != Hash64(batch)) {
      return absl::DataLossError(path_ + ": logged batch " + std::to_string(sqlite3_column_int64(q.s, 2)) +
                                 " fails its checksum (the file was altered or damaged); restore it from a backup or move it away");
    }
    const int64_t seq = sqlite3_column_int64(q.s, 2);
    uint32_t index = 0;
    size_t pos = 0;
    while (pos + 4 <= batch.size()) {
      uint32_t len = 0;
      std::memcpy(&len, batch.data() + pos, 4);
      pos += 4;
      if (len > batch.size() - pos) {
        return absl::DataLossError(path_ + ": a logged batch is inconsistent (record length past its end)");
      }
      fn(batch.substr(pos, len), seq, index++);
      pos += len;
    }
  }
  if (rc != SQLITE_DONE) return Error("read log");
  return absl::OkStatus();
}

absl::Status Store::AddOverride(const OverrideRecord& o) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "INSERT INTO overrides(account_id, action, by, reason, at, after_batch) VALUES(?, ?, ?, ?, ?, ?)", -1,
                         &q.s, nullptr) != SQLITE_OK) {
    return Error("override");
  }
  BindText(q.s, 1, o.account_id);
  BindText(q.s, 2, o.action);
  BindText(q.s, 3, o.by);
  BindText(q.s, 4, o.reason);
  BindText(q.s, 5, o.at);
  sqlite3_bind_int64(q.s, 6, o.after_batch.value_or(last_batch_));
  if (sqlite3_step(q.s) != SQLITE_DONE) {
    return Error("override");
  }
  return absl::OkStatus();
}

absl::Status Store::ForEachOverride(const std::function<void(const OverrideRecord&)>& fn) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT account_id, action, by, reason, at, after_batch FROM overrides ORDER BY seq", -1, &q.s, nullptr) !=
      SQLITE_OK) {
    return Error("read overrides");
  }
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    OverrideRecord o{Column(q.s, 0), Column(q.s, 1), Column(q.s, 2), Column(q.s, 3), Column(q.s, 4), std::nullopt};
    if (sqlite3_column_type(q.s, 5) != SQLITE_NULL) o.after_batch = sqlite3_column_int64(q.s, 5);
    fn(o);
  }
  if (rc != SQLITE_DONE) return Error("read overrides");
  return absl::OkStatus();
}

absl::Status Store::InsertRows(const char* sql, size_t n, const std::function<void(sqlite3_stmt*, size_t)>& bind,
                       std::string_view what) {
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt q;
  bool ok = sqlite3_prepare_v2(db_, sql, -1, &q.s, nullptr) == SQLITE_OK;
  for (size_t i = 0; ok && i < n; ++i) {
    sqlite3_reset(q.s);
    bind(q.s, i);
    ok = sqlite3_step(q.s) == SQLITE_DONE;
  }
  ok = ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    const absl::Status failed = Error(what);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  return absl::OkStatus();
}

absl::Status Store::AddEventTexts(const std::vector<EventTextRecord>& rows) {
  if (rows.empty()) return absl::OkStatus();
  return InsertRows("INSERT OR REPLACE INTO event_texts(batch, idx, use, text) VALUES(?, ?, ?, ?)", rows.size(),
                    [&](sqlite3_stmt* st, size_t i) {
                      sqlite3_bind_int64(st, 1, rows[i].batch);
                      sqlite3_bind_int64(st, 2, rows[i].index);
                      sqlite3_bind_int(st, 3, rows[i].use);
                      BindText(st, 4, rows[i].text);
                    },
                    "event texts");
}

absl::Status Store::ForEachEventText(const std::function<void(const EventTextRecord&)>& fn) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT batch, idx, use, text FROM event_texts ORDER BY batch, idx, use", -1, &q.s, nullptr) != SQLITE_OK) {
    return Error("read event texts");
  }
  EventTextRecord r;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    r.batch = sqlite3_column_int64(q.s, 0);
    r.index = static_cast<uint32_t>(sqlite3_column_int64(q.s, 1));
    r.use = static_cast<uint8_t>(sqlite3_column_int(q.s, 2));
    r.text = Column(q.s, 3);
    fn(r);
  }
  if (rc != SQLITE_DONE) return Error("read event texts");
  return absl::OkStatus();
}

absl::Status Store::AddSample(const std::string& campaign_id, const std::string& sample) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "INSERT OR IGNORE INTO samples(campaign_id, sample) VALUES(?, ?)", -1, &q.s, nullptr) != SQLITE_OK) {
    return Error("sample");
  }
  BindText(q.s, 1, campaign_id);
  BindText(q.s, 2, sample);
  if (sqlite3_step(q.s) != SQLITE_DONE) {
    return Error("sample");
  }
  return absl::OkStatus();
}

absl::Status Store::ForEachSample(const std::function<void(const std::string&, const std::string&)>& fn) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT campaign_id, sample FROM samples ORDER BY rowid", -1, &q.s, nullptr) != SQLITE_OK) {
    return Error("read samples");
  }
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) fn(Column(q.s, 0), Column(q.s, 1));
  if (rc != SQLITE_DONE) return Error("read samples");
  return absl::OkStatus();
}

absl::Status Store::AddSharedIndicators(const std::vector<SharedIndicatorRecord>& rows) {
  if (rows.empty()) return absl::OkStatus();
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt q;
  bool ok = sqlite3_prepare_v2(db_,
                               "INSERT INTO shared_indicators(kind, value, source, trust, imported_at) VALUES(?, ?, ?, ?, ?) "
                               "ON CONFLICT(kind, value) DO UPDATE SET source = excluded.source, trust = excluded.trust, "
                               "imported_at = excluded.imported_at "
                               "WHERE NOT (shared_indicators.trust = 'block' AND excluded.trust = 'review')",
                               -1, &q.s, nullptr) == SQLITE_OK;
  for (size_t i = 0; ok && i < rows.size(); ++i) {
    const SharedIndicatorRecord& r = rows[i];
    sqlite3_reset(q.s);
    BindText(q.s, 1, r.kind);
    BindText(q.s, 2, r.value);
    BindText(q.s, 3, r.source);
    BindText(q.s, 4, r.trust);
    BindText(q.s, 5, r.imported_at);
    ok = sqlite3_step(q.s) == SQLITE_DONE;
  }
  ok = ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    const absl::Status failed = Error("indicators");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  return absl::OkStatus();
}

absl::Status Store::RemoveSharedIndicator(const std::string& kind, const std::string& value) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "DELETE FROM shared_indicators WHERE kind = ? AND value = ?", -1, &q.s, nullptr) != SQLITE_OK) {
    return Error("remove indicator");
  }
  BindText(q.s, 1, kind);
  BindText(q.s, 2, value);
  if (sqlite3_step(q.s) != SQLITE_DONE) {
    return Error("remove indicator");
  }
  if (sqlite3_changes(db_) == 0) return absl::NotFoundError(kind + " '" + value + "': no such imported indicator");
  return absl::OkStatus();
}

absl::Status Store::ForEachSharedIndicator(const std::function<void(const SharedIndicatorRecord&)>& fn) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT kind, value, source, trust, imported_at FROM shared_indicators ORDER BY rowid", -1, &q.s,
                         nullptr) != SQLITE_OK) {
    return Error("read indicators");
  }
  SharedIndicatorRecord r;
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    r.kind = Column(q.s, 0);
    r.value = Column(q.s, 1);
    r.source = Column(q.s, 2);
    r.trust = Column(q.s, 3);
    r.imported_at = Column(q.s, 4);
    fn(r);
  }
  if (rc != SQLITE_DONE) return Error("read indicators");
  return absl::OkStatus();
}

absl::Status Store::PutAccounts(const std::vector<std::pair<std::string, std::string>>& accounts) {
  return InsertRows("INSERT OR REPLACE INTO accounts(account_id, attrs) VALUES(?, ?)", accounts.size(),
                    [&](sqlite3_stmt* st, size_t i) {
                      BindText(st, 1, accounts[i].first);
                      BindText(st, 2, accounts[i].second);
                    },
                    "accounts");
}

absl::Status Store::ForEachAccount(const std::function<void(const std::string&, const std::string&)>& fn) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT account_id, attrs FROM accounts ORDER BY rowid", -1, &q.s, nullptr) != SQLITE_OK) {
    return Error("read accounts");
  }
  int rc;
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) fn(Column(q.s, 0), Column(q.s, 1));
  if (rc != SQLITE_DONE) return Error("read accounts");
  return absl::OkStatus();
}

absl::Status Store::Probe(size_t bytes) {
  DG_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt q;
  bool ok = sqlite3_prepare_v2(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES('ready_probe', zeroblob(?))", -1, &q.s, nullptr) ==
            SQLITE_OK;
  if (ok) {
    sqlite3_bind_int64(q.s, 1, static_cast<sqlite3_int64>(bytes));
    ok = sqlite3_step(q.s) == SQLITE_DONE;
  }
  ok = ok && sqlite3_exec(db_, "DELETE FROM meta WHERE key = 'ready_probe'", nullptr, nullptr, nullptr) == SQLITE_OK;
  ok = ok && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    const absl::Status failed = Error("probe");
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  return absl::OkStatus();
}

std::optional<std::string> Store::GetMeta(const std::string& key) {
  Stmt q;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?", -1, &q.s, nullptr) != SQLITE_OK) return std::nullopt;
  BindText(q.s, 1, key);
  if (sqlite3_step(q.s) != SQLITE_ROW) return std::nullopt;
  return Column(q.s, 0);
}

void AppendOverrideJson(std::string& out, const OverrideRecord& o, bool with_account) {
  out += '{';
  if (with_account) {
    out += "\"account_id\":";
    AppendJsonString(out, o.account_id);
    out += ',';
  }
  out += "\"action\":";
  AppendJsonString(out, o.action);
  out += ",\"by\":";
  AppendJsonString(out, o.by);
  out += ",\"reason\":";
  AppendJsonString(out, o.reason);
  out += ",\"at\":";
  AppendJsonString(out, o.at);
  out += '}';
}

}  // namespace dg
