#include "serve/access_audit.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

#include "common/json_out.h"
#include "common/sha256.h"

namespace dg {
namespace {

constexpr size_t kBatch = 1024;
const std::string kGenesis(64, '0');

void NullOrString(std::string& out, std::string_view name, std::string_view v) {
  out += ",\"";
  out += name;
  out += "\":";
  if (v.empty()) out += "null";
  else AppendJsonString(out, v);
}

void NullOrBool(std::string& out, std::string_view name, int8_t v) {
  out += fmt::format(",\"{}\":{}", name, v < 0 ? "null" : v ? "true" : "false");
}

}  // namespace

std::string AccessAudit::DecisionMembers(const AccessAuditEntry& e) {
  const AccessRuleSet& rules = *e.rules;
  const AccessRule& r = rules.rules()[e.rule];
  const AccountAttributes* a = e.attributes ? &*e.attributes : nullptr;
  const AccessSubject s = rules.Subject(a, e.detector, e.score, e.at);
  std::string out = "\"kind\":\"decision\",\"at\":";
  AppendJsonString(out, FormatRfc3339(e.at));
  out += ",\"account_id\":";
  AppendJsonString(out, e.account_id);
  out += ",\"model\":";
  AppendJsonString(out, e.model);
  out += ",\"rule_id\":";
  AppendJsonString(out, r.id);
  out += fmt::format(",\"mode\":\"{}\",\"effect\":\"{}\",\"outcome\":\"{}{}\"", AccessModeName(r.mode), AccessEffectName(r.effect),
                     r.mode == AccessMode::kDryRun ? "would_" : "", AccessEffectName(r.effect));
  if (r.effect == AccessEffect::kCapOutputTokens) out += fmt::format(",\"cap_output_tokens\":{}", r.cap_output_tokens);
  out += fmt::format(",\"decision\":\"{}\",\"detector\":{{\"decision\":\"{}\",\"score\":{:.4f}}}", DecisionName(e.decision),
                     DecisionName(e.detector), e.score);
  out += ",\"rules\":{\"version\":";
  AppendJsonString(out, rules.version());
  out += ",\"sha256\":";
  AppendJsonString(out, rules.sha256());
  out += ",\"file\":";
  AppendJsonString(out, rules.origin());
  out += "},\"audit_reason\":";
  AppendJsonString(out, r.audit_reason);
  out += ",\"attributes\":{";
  out += fmt::format("\"known\":{}", a != nullptr ? "true" : "false");
  NullOrString(out, "verified_country", a ? a->verified_country : "");
  NullOrString(out, "jurisdiction", a ? a->jurisdiction : "");
  out += a && a->verification_level >= 0 ? fmt::format(",\"verification_level\":{}", a->verification_level) : ",\"verification_level\":null";
  NullOrString(out, "org_type", a ? a->org_type : "");
  NullOrBool(out, "payment_verified", a ? a->payment_verified : -1);
  NullOrBool(out, "org_verified", a ? a->org_verified : -1);
  out += s.age_ms >= 0 ? fmt::format(",\"account_age_days\":{:.2f}", static_cast<double>(s.age_ms) / kMsPerDay) : ",\"account_age_days\":null";
  out += ",\"labels\":[";
  if (a) {
    for (size_t idx = 0; idx < a->labels.size(); ++idx) {
      if (idx) out += ",";
      AppendJsonString(out, a->labels[idx]);
    }
  }
  out += "]},\"missing\":[";
  const auto missing = rules.Missing(r, s);
  for (size_t idx = 0; idx < missing.size(); ++idx) {
    if (idx) out += ",";
    AppendJsonString(out, missing[idx]);
  }
  out += "]";
  return out;
}

absl::StatusOr<std::unique_ptr<AccessAudit>> AccessAudit::Open(const std::string& dir, Clock clock, size_t max_queue) {
  std::unique_ptr<AccessAudit> a(new AccessAudit());
  a->clock_ = std::move(clock);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // a failure shows in sqlite3_open_v2, with SQLite's reason
  a->path_ = (std::filesystem::path(dir) / "access_audit.db").string();
  a->max_queue_ = max_queue;
  auto fail = [&](std::string_view what) {
    return absl::UnavailableError(fmt::format("{}: {}: {}", a->path_, what, a->db_ ? sqlite3_errmsg(a->db_) : "out of memory"));
  };
  if (sqlite3_open_v2(a->path_.c_str(), &a->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
    return fail("cannot open");
  }
  sqlite3_busy_timeout(a->db_, 5000);
  if (sqlite3_exec(a->db_,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE IF NOT EXISTS access_audit(seq INTEGER PRIMARY KEY, line TEXT NOT NULL, hash TEXT NOT NULL);",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail("cannot create the audit table");
  }
  sqlite3_stmt* last = nullptr;
  if (sqlite3_prepare_v2(a->db_, "SELECT seq, hash FROM access_audit ORDER BY seq DESC LIMIT 1", -1, &last, nullptr) != SQLITE_OK) {
    return fail("cannot read the audit");
  }
  a->prev_ = kGenesis;
  const int rc = sqlite3_step(last);
  if (rc == SQLITE_ROW) {
    a->seq_ = sqlite3_column_int64(last, 0);
    a->prev_ = reinterpret_cast<const char*>(sqlite3_column_text(last, 1));
  }
  sqlite3_finalize(last);
  // A read error here would restart the hash chain at the genesis.
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail("cannot read the audit's last record");
  a->writer_ = std::thread([p = a.get()] { p->Loop(); });
  return a;
}

AccessAudit::~AccessAudit() {
  {
    std::lock_guard<std::mutex> lock(q_mu_);
    stop_ = true;
  }
  q_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  if (db_ != nullptr) sqlite3_close(db_);
}

bool AccessAudit::Record(AccessAuditEntry entry) {
  bool queued = false;
  {
    std::lock_guard<std::mutex> lock(q_mu_);
    if (queue_.size() >= max_queue_) {
      ++pending_dropped_;
      dropped_.fetch_add(1, std::memory_order_relaxed);
    } else {
      queue_.push_back(std::move(entry));
      queued = true;
    }
  }
  q_cv_.notify_one();  // a drop is written too
  return queued;
}

absl::Status AccessAudit::WriteLocked(const std::vector<std::string>& members) {
  if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return absl::UnavailableError(fmt::format("{}: cannot begin: {}", path_, sqlite3_errmsg(db_)));
  }
  sqlite3_stmt* ins = nullptr;
  bool ok = sqlite3_prepare_v2(db_, "INSERT INTO access_audit(seq, line, hash) VALUES(?, ?, ?)", -1, &ins, nullptr) == SQLITE_OK;
  int64_t seq = seq_;
  std::string prev = prev_;
  for (size_t idx = 0; ok && idx < members.size(); ++idx) {
    ++seq;
    std::string line = fmt::format("{{\"seq\":{},", seq);
    line += members[idx];
    line += ",\"prev\":\"" + prev + "\"}";
    const std::string hash = Sha256Hex(line);
    line.pop_back();
    line += ",\"hash\":\"" + hash + "\"}";
    sqlite3_bind_int64(ins, 1, seq);
    sqlite3_bind_text(ins, 2, line.data(), static_cast<int>(line.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 3, hash.data(), static_cast<int>(hash.size()), SQLITE_TRANSIENT);
    ok = sqlite3_step(ins) == SQLITE_DONE;
    sqlite3_reset(ins);
    prev = hash;
  }
  sqlite3_finalize(ins);
  if (ok) ok = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (!ok) {
    absl::Status failed = absl::UnavailableError(fmt::format("{}: audit records not written: {}", path_, sqlite3_errmsg(db_)));
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return failed;
  }
  seq_ = seq;
  prev_ = prev;
  return absl::OkStatus();
}

absl::Status AccessAudit::RecordEvent(const std::string& members) {
  std::lock_guard<std::mutex> lock(db_mu_);
  return WriteLocked({members});
}

void AccessAudit::Loop() {
  std::vector<AccessAuditEntry> batch;
  std::vector<std::string> lines;
  TimeMs last_complaint_ms = std::numeric_limits<TimeMs>::min() / 2;
  for (;;) {
    uint64_t dropped = 0;
    {
      std::unique_lock<std::mutex> lock(q_mu_);
      q_cv_.wait(lock, [&] { return stop_ || !queue_.empty() || pending_dropped_ > 0; });
      if (queue_.empty() && pending_dropped_ == 0 && stop_) return;
      batch.clear();
      while (!queue_.empty() && batch.size() < kBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      dropped = pending_dropped_;
      pending_dropped_ = 0;
      in_flight_ = batch.size();
    }
    lines.clear();
    if (dropped > 0) {
      lines.push_back(fmt::format("\"kind\":\"dropped\",\"at\":\"{}\",\"count\":{}", FormatRfc3339(clock_()), dropped));
    }
    for (const auto& e : batch) lines.push_back(DecisionMembers(e));
    absl::Status written;
    {
      std::lock_guard<std::mutex> lock(db_mu_);
      written = WriteLocked(lines);
    }
    if (written.ok()) {
      written_.fetch_add(batch.size(), std::memory_order_relaxed);
    } else {
      failed_.fetch_add(batch.size(), std::memory_order_relaxed);
      // At most one complaint per 10 s of the injected clock.
      const TimeMs now_ms = clock_();
      if (now_ms - last_complaint_ms >= 10000) {
        last_complaint_ms = now_ms;
        fmt::print(stderr, "serve: {} (counted in distillguard_access_audit_failed_total)\n", StatusMessage(written));
      }
    }
    {
      std::lock_guard<std::mutex> lock(q_mu_);
      in_flight_ = 0;
    }
    idle_cv_.notify_all();
  }
}

bool AccessAudit::Flush(int timeout_ms) {
  std::unique_lock<std::mutex> lock(q_mu_);
  return idle_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return queue_.empty() && in_flight_ == 0 && pending_dropped_ == 0; });
}

absl::StatusOr<std::string> AccessAudit::Export(int64_t since, size_t limit) {
  std::lock_guard<std::mutex> lock(db_mu_);
  sqlite3_stmt* q = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT line FROM access_audit WHERE seq > ? ORDER BY seq LIMIT ?", -1, &q, nullptr) != SQLITE_OK) {
    return absl::UnavailableError(fmt::format("{}: {}", path_, sqlite3_errmsg(db_)));
  }
  std::string out;
  sqlite3_bind_int64(q, 1, since);
  sqlite3_bind_int64(q, 2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
  int rc;
  while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
    out.append(reinterpret_cast<const char*>(sqlite3_column_text(q, 0)), static_cast<size_t>(sqlite3_column_bytes(q, 0)));
    out.push_back('\n');
  }
  sqlite3_finalize(q);
  if (rc != SQLITE_DONE) return absl::UnavailableError(fmt::format("{}: {}", path_, sqlite3_errmsg(db_)));
  return out;
}

}  // namespace dg
