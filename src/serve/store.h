// Store: serve's durable state in one SQLite database file (DIR/distillguard.db,
// WAL journal, synchronous=FULL): the log of accepted interactions (wire
// records, no text), analysts' overrides (each with the log position it was
// made at), the redacted texts some logged events gave to the analyst view
// (campaign samples, content indicators' shown values: a few per campaign
// and per suspicious value, never with --no-samples), imported indicators
// (with their trust and import time), and small metadata (e.g. the offset a
// --follow tail has consumed). A batch is appended in one transaction; when
// Append returns OK the batch is on disk and survives kill -9 or power
// loss, which is when serve acknowledges it. A torn last transaction after
// a crash is rolled back by SQLite on open: never half a batch.
//
// The log holds one row per batch (its records, each length-prefixed, the
// time of its newest event, for retention, and an XXH3 checksum of the
// records, verified when they are read back: a damaged batch stops the
// replay with an error instead of decoding as phantom accounts).
// Open refuses a database that fails SQLite's `PRAGMA quick_check` (a cost
// of one sequential read of the file at start, ~1 s per GB) and an existing
// zero-length database file (a truncated database is not a fresh start:
// only a directory without the file starts empty).
// Cost: one fsync per batch (group your events) plus a copy of the batch; a
// second, small transaction for the batches whose events gave texts (a few
// per campaign: rare). Reading the log back is sequential; the event texts
// are read into memory once at replay (a few hundred bytes per text). Not thread-safe: one writer
// (serve holds its ingest lock around every call).
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace dg {

struct OverrideRecord {
  std::string account_id;
  std::string action;  // "allow", "block" or "clear"
  std::string by;
  std::string reason;
  std::string at;      // RFC 3339, when it was made
  // The newest logged batch when it was made (0: before any): replay applies
  // it between that batch and the next, where it was applied live. nullopt:
  // a row from before the column (AddOverride sets it; ForEachOverride
  // reads it back).
  std::optional<int64_t> after_batch;
};
// The override as a JSON object: {"account_id" (with_account), "action",
// "by", "reason", "at"} -- a dg_overrides value, an entry of an account's
// override history.
void AppendOverrideJson(std::string& out, const OverrideRecord& o, bool with_account);

// A redacted text a logged event gave to the analyst view (EventTexts in
// correlate/correlator.h): the event is record `index` of batch `batch`.
struct EventTextRecord {
  int64_t batch = 0;
  uint32_t index = 0;
  uint8_t use = 0;  // TextUse
  std::string text;
};

// An imported (partner) indicator as stored.
struct SharedIndicatorRecord {
  std::string kind, value, source;
  std::string trust = "review";  // "block" or "review"; rows from before the column read "block" (what they did then)
  std::string imported_at;       // RFC 3339; empty for rows from before the column
};

class Store {
 public:
  // Opens or creates DIR/distillguard.db. Errors ("DIR/distillguard.db:
  // reason"): Unavailable when the directory or file cannot be created,
  // opened or written; DataLoss for a corrupt or zero-length existing
  // database (the message says what to do).
  // max_bytes > 0 caps the database file: past it, appends fail as on a
  // full disk (SQLITE_FULL) -- nothing is acknowledged, reads go on.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& dir, uint64_t max_bytes = 0);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Appends records (and optionally a metadata update) in one durable
  // transaction. On an error (Unavailable) nothing was written.
  // newest_ts: the batch's newest event time (ms), for PruneBefore.
  // *batch_seq (if given): the batch's sequence number. Sequence numbers
  // only grow, even past batches deleted by retention.
  absl::Status Append(const std::vector<std::string>& records, const std::vector<std::pair<std::string, std::string>>& meta,
                      int64_t newest_ts = std::numeric_limits<int64_t>::min(), int64_t* batch_seq = nullptr);
  // Deletes the batches whose newest event is older than cutoff_ms (batches
  // logged before this column existed are kept), and their events' texts,
  // in one transaction. Returns the number of records deleted.
  absl::StatusOr<uint64_t> PruneBefore(int64_t cutoff_ms);
  // Calls fn for every logged record in order. Unavailable on a read
  // error, DataLoss for a batch that fails its checksum or is inconsistent.
  // (Every ForEach below stops at a read error and returns it.)
  absl::Status ForEachRecord(const std::function<void(std::string_view)>& fn);
  // The same, with each record's batch and its index in the batch.
  absl::Status ForEachLoggedRecord(const std::function<void(std::string_view, int64_t batch, uint32_t index)>& fn);
  // The redacted texts of logged events, in one transaction; best effort
  // for the caller (the events themselves are already durable).
  absl::Status AddEventTexts(const std::vector<EventTextRecord>& rows);
  // In (batch, index, use) order. O(rows).
  absl::Status ForEachEventText(const std::function<void(const EventTextRecord&)>& fn);
  // The newest batch's sequence number (0: none yet).
  int64_t last_batch() const { return last_batch_; }
  uint64_t records() const { return records_; }

  absl::Status AddOverride(const OverrideRecord& o);
  absl::Status ForEachOverride(const std::function<void(const OverrideRecord&)>& fn);
  // Samples per campaign id, as versions before the event texts kept them
  // (read at replay for older databases; no longer written by serve).
  absl::Status AddSample(const std::string& campaign_id, const std::string& sample);
  absl::Status ForEachSample(const std::function<void(const std::string&, const std::string&)>& fn);
  // Imported indicators, keyed by (kind, value), all in one transaction. A
  // value already stored gets the new source, trust and time -- except that
  // a "review" import never lowers a "block" row (Correlator::AddShared).
  absl::Status AddSharedIndicators(const std::vector<SharedIndicatorRecord>& rows);
  // NotFound when there is no such row.
  absl::Status RemoveSharedIndicator(const std::string& kind, const std::string& value);
  absl::Status ForEachSharedIndicator(const std::function<void(const SharedIndicatorRecord&)>& fn);
  std::optional<std::string> GetMeta(const std::string& key);
  // Account attributes (ingest/accounts.h) as one JSON object per account,
  // upserted in one transaction.
  absl::Status PutAccounts(const std::vector<std::pair<std::string, std::string>>& accounts);
  absl::Status ForEachAccount(const std::function<void(const std::string&, const std::string&)>& fn);
  // Would a batch of `bytes` fit now? Writes that many bytes and removes
  // them in one transaction (net nothing stored). Unavailable if not.
  absl::Status Probe(size_t bytes);
  const std::string& path() const { return path_; }

 private:
  Store() = default;
  absl::Status Exec(const char* sql);
  absl::Status QuickCheck();
  bool HasColumn(const char* table, const char* column);
  // Unavailable "PATH: WHAT: SQLite's message".
  absl::Status Error(std::string_view what) const;
  // Runs one prepared INSERT n times (bind(stmt, i) binds row i) in one
  // transaction; all rows or none.
  absl::Status InsertRows(const char* sql, size_t n, const std::function<void(sqlite3_stmt*, size_t)>& bind, std::string_view what);

  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_record_ = nullptr;
  sqlite3_stmt* set_meta_ = nullptr;
  uint64_t records_ = 0;
  int64_t last_batch_ = 0;  // highest batch sequence number ever given (kept in meta across retention)
  std::string batch_;  // reused buffer for one batch row
};

}  // namespace dg
