#include "serve/console.h"

#include <sys/random.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <fmt/format.h>

#include "common/hash.h"
#include "common/json_out.h"
#include "common/time.h"
#include "report/views.h"
#include "report/writers.h"
#include "serve/console_assets.h"
#include "serve/console_requests.h"
#include "serve/wire.h"

namespace dg {
namespace {

constexpr size_t kMaxSessions = 10000;
constexpr std::string_view kCookie = "dg_session";
// Everything from this origin only; no inline script or style, no framing.
constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(out, message);
  out += "}";
  return out;
}

// A protocol answer no error lies behind (wrong method, no route, ...).
ConsoleResponse Fail(unsigned status, std::string_view message) {
  ConsoleResponse r;
  r.status = status;
  r.body = ErrorJson(message);
  return r;
}

// A failed status: the HTTP status from common/status.h (the one mapping).
ConsoleResponse Fail(const absl::Status& status, std::string_view prefix = {}) {
  return Fail(static_cast<unsigned>(HttpStatus(status)), std::string(prefix) + std::string(StatusMessage(status)));
}

ConsoleResponse Json(std::string body) {
  ConsoleResponse r;
  r.body = std::move(body);
  return r;
}

// "a,b,c" as the JSON array ["a","b","c"] ("" as []).
void AppendCsvAsJsonArray(std::string& out, std::string_view csv) {
  out += '[';
  bool first = true;
  while (!csv.empty()) {
    const size_t comma = csv.find(',');
    if (!first) out += ",";
    first = false;
    AppendJsonString(out, csv.substr(0, comma));
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
  out += ']';
}

void AppendTime(std::string& out, TimeMs t) {
  if (t < 0) {
    out += "null";
    return;
  }
  AppendJsonString(out, FormatRfc3339(t));
}

void AppendStr(std::string& out, std::string_view key, std::string_view value, bool comma = true) {
  if (comma) out += ",";
  AppendJsonString(out, key);
  out += ":";
  AppendJsonString(out, value);
}

std::string Hex(const unsigned char* p, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t idx = 0; idx < n; ++idx) {
    out += kDigits[p[idx] >> 4];
    out += kDigits[p[idx] & 15];
  }
  return out;
}

std::string RandomToken() {
  unsigned char buf[32];
  size_t got = 0;
  while (got < sizeof(buf)) {
    const ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return Hex(buf, sizeof(buf));
}

// The value of one cookie in a Cookie header, or "".
std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semi = header.find(';');
    std::string_view part = header.substr(0, semi);
    header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const size_t eq = part.find('=');
    if (eq != std::string_view::npos && part.substr(0, eq) == name) return part.substr(eq + 1);
  }
  return {};
}

bool IsSafeMethod(std::string_view m) { return m == "GET" || m == "HEAD"; }

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }
std::string_view QueryOf(std::string_view target) {
  const size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

// Splits "/a/b/c" after prefix into segments (still percent-encoded).
std::vector<std::string_view> Segments(std::string_view path, std::string_view prefix) {
  std::vector<std::string_view> out;
  path.remove_prefix(std::min(prefix.size(), path.size()));
  while (!path.empty()) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

std::string ReasonList(ReasonMask bits) {
  std::string out;
  for (size_t b = 0; b < kReasonCount; ++b) {
    if (!HasReason(bits, b)) continue;
    if (!out.empty()) out += ",";
    out += ReasonName(static_cast<Reason>(b));
  }
  return out;
}

// Decision-latency quantile from the cumulative Prometheus buckets.
double Quantile(const std::vector<std::pair<double, double>>& buckets, double q) {
  if (buckets.empty() || buckets.back().second <= 0) return 0;
  const double want = q * buckets.back().second;
  for (const auto& [le, n] : buckets) {
    if (n >= want) return std::isinf(le) ? -1 : le * 1e6;
  }
  return -1;
}

std::string CaseIdName(int64_t id) { return fmt::format("case-{}", id); }

void AppendCase(std::string& out, const CaseRecord& c) {
  out += "{\"case_id\":";
  AppendJsonString(out, CaseIdName(c.id));
  AppendStr(out, "subject_kind", c.subject_kind);
  AppendStr(out, "subject_id", c.subject_id);
  AppendStr(out, "title", c.title);
  AppendStr(out, "status", c.status);
  AppendStr(out, "assignee", c.assignee);
  AppendStr(out, "outcome", c.outcome);
  AppendStr(out, "created_by", c.created_by);
  AppendStr(out, "created_at", c.created_at);
  AppendStr(out, "updated_at", c.updated_at);
  out += "}";
}

void AppendDecisionRow(std::string& out, const DecisionRow& r) {
  out += fmt::format("{{\"id\":{},\"at\":", r.id);
  AppendTime(out, r.ts_ms);
  AppendStr(out, "account_id", r.account_id);
  AppendStr(out, "decision", r.decision);
  out += ",\"reasons\":";
  AppendCsvAsJsonArray(out, r.reasons);
  out += ",\"campaign_id\":";
  if (r.campaign_id.empty()) out += "null";
  else AppendJsonString(out, r.campaign_id);
  out += fmt::format(",\"score\":{:.4f},\"policy_version\":{}", r.score, r.policy_version);
  AppendStr(out, "source", r.source);
  AppendStr(out, "model", r.model);
  out += "}";
}

bool Inflate(const unsigned char* data, size_t size, size_t out_size, std::string* out) {
  out->resize(out_size);
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return false;
  zs.next_in = const_cast<unsigned char*>(data);
  zs.avail_in = static_cast<uInt>(size);
  zs.next_out = reinterpret_cast<unsigned char*>(out->data());
  zs.avail_out = static_cast<uInt>(out->size());
  const int rc = inflate(&zs, Z_FINISH);
  inflateEnd(&zs);
  return rc == Z_STREAM_END && zs.total_out == out_size;
}

}  // namespace

absl::Status LoadAnalystsFile(const std::string& path, std::vector<std::pair<std::string, std::string>>* out) {
  std::ifstream f(path);
  if (!f) return FileError(errno, path + ": cannot read");
  std::string line;
  size_t line_no = 0;
  std::set<std::string> names, tokens;
  while (std::getline(f, line)) {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const std::string_view rest = std::string_view(line).substr(start);
    const size_t sp = rest.find_first_of(" \t");
    if (sp == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: expected \"NAME TOKEN\"", path, line_no));
    }
    const std::string name(rest.substr(0, sp));
    std::string_view token = rest.substr(sp);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    const bool name_ok = !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '-';
    });
    if (!name_ok) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: analyst name must be 1-64 of A-Z a-z 0-9 . _ @ -", path, line_no));
    }
    if (token.size() < 16 || token.find_first_of(" \t") != std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: the token must be at least 16 characters, without spaces", path, line_no));
    }
    if (!names.insert(name).second || !tokens.insert(std::string(token)).second) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: a name or token given twice", path, line_no));
    }
    out->emplace_back(name, std::string(token));
  }
  return absl::OkStatus();
}

struct Console::Impl {
  Impl(Console& c, Service& s, ConsoleOptions o)
      : console(c), service(s), options(std::move(o)), login_limit(options.login_rate_per_s, options.login_burst, 1u << 16),
        login_global(options.login_global_rate_per_s, options.login_global_rate_per_s * 4, 4) {}

  struct Session {
    std::string analyst, csrf;
    double created_s = 0, seen_s = 0;
  };

  Console& console;
  Service& service;
  ConsoleOptions options;
  std::mutex sessions_mu;
  absl::flat_hash_map<std::string, Session> sessions;  // cookie value -> session
  std::mutex limit_mu;
  RateLimiter login_limit, login_global;
  std::mutex rate_mu;
  double rate_at_s = 0;
  double rate_events = 0;
  double events_per_s = 0;

  double NowS() const { return static_cast<double>(options.clock()) / 1000.0; }
  std::string NowText() const { return FormatRfc3339(options.clock()); }

  // Who is asking: an analyst's name, or empty. *by_cookie when the session
  // cookie (not a bearer token) identified them; *csrf gets its token.
  std::string Identify(const ConsoleRequest& r, bool* by_cookie, std::string* csrf) {
    *by_cookie = false;
    if (!r.authorization.empty()) {
      const auto token = BearerToken(r.authorization);
      if (!token) return {};
      std::string who;
      for (const auto& [name, t] : options.analysts) {
        if (ConstantTimeEquals(*token, t)) who = name;
      }
      if (!who.empty()) return who;
      if (RoleOf(options.tokens, r.authorization) == AuthRole::kAnalyst) return "analyst";
      return {};
    }
    const std::string_view id = CookieValue(r.cookie, kCookie);
    if (id.empty()) return {};
    std::lock_guard<std::mutex> lock(sessions_mu);
    const auto it = sessions.find(std::string(id));
    if (it == sessions.end()) return {};
    const double now = NowS();
    if (now - it->second.seen_s > options.session_idle_s || now - it->second.created_s > options.session_max_s) {
      sessions.erase(it);
      return {};
    }
    it->second.seen_s = now;
    *by_cookie = true;
    *csrf = it->second.csrf;
    return it->second.analyst;
  }

  bool OpenRoute(std::string_view method, std::string_view path) const {
    if (path == "/ui/api/login" || path == "/ui/api/session") return true;  // session: who is logged in, if anyone
    if (path.substr(0, 7) == "/ui/api") return false;
    return path == "/ui" || path.substr(0, 4) == "/ui/";
  }

  void Audit(std::string_view who, std::string_view action, std::string_view target, std::string_view detail) {
    // The action it records is done already: a failed audit row is logged
    // (the operator sees it), it does not undo or fail the action.
    if (const absl::Status st =
            console.store().AddAudit({NowText(), std::string(who), std::string(action), std::string(target), std::string(detail)});
        !st.ok()) {
      fmt::print(stderr, "serve: console audit: {}\n", StatusMessage(st));
    }
  }

  ConsoleResponse Static(const ConsoleRequest& r, std::string_view path);
  ConsoleResponse Login(const ConsoleRequest& r);
  ConsoleResponse Logout(const ConsoleRequest& r);
  ConsoleResponse Overview();
  ConsoleResponse CampaignList();
  ConsoleResponse CampaignPage(const std::string& id);
  ConsoleResponse AccountPage(const std::string& id);
  ConsoleResponse Override(const std::string& who, const std::string& account, std::string_view body);
  ConsoleResponse ReviewQueue();
  ConsoleResponse Review(const std::string& who, const std::string& account, std::string_view body);
  ConsoleResponse Decisions(std::string_view query);
  ConsoleResponse Cases(const ConsoleRequest& r, const std::string& who, const std::vector<std::string>& segs);
  ConsoleResponse CaseJson(int64_t id);
  ConsoleResponse PatchCase(const std::string& who, int64_t id, std::string_view body);
  absl::Status FeedBack(const std::string& who, const CaseRecord& c, const std::string& why);
  // A case's note written after the case itself: logged when it fails (the
  // case exists; failing the request would invite a duplicate case).
  void AddNoteAfterCreate(const CaseEvent& e) {
    if (const absl::Status st = console.store().AddCaseEvent(e); !st.ok()) {
      fmt::print(stderr, "serve: console: case-{} created, but its note was not stored: {}\n", e.case_id, StatusMessage(st));
    }
  }
  std::string CaseStatusOf(std::string_view kind, const std::string& id, int64_t* case_id);
};

absl::StatusOr<std::unique_ptr<Console>> Console::Open(Service& service, ConsoleOptions options) {
  std::unique_ptr<Console> c(new Console());
  auto store = ConsoleStore::Open(service.data_dir());
  if (!store.ok()) return store.status();
  c->store_ = std::move(*store);
  DecisionLogOptions dl;
  dl.retention_days = options.decision_log_days;
  dl.clock = options.clock;
  c->decision_log_ = std::make_unique<DecisionLog>(c->store_.get(), dl);
  c->impl_ = std::make_unique<Impl>(*c, service, std::move(options));
  return c;
}

Console::~Console() { Stop(); }

void Console::Stop() {
  if (decision_log_) decision_log_->Stop();
}

bool Console::Owns(std::string_view target) {
  const std::string_view path = PathOf(target);
  auto starts = [&](std::string_view p) { return path.substr(0, p.size()) == p; };
  return path == "/ui" || starts("/ui/") || starts("/v1/console/") || path == "/v1/cases" || starts("/v1/cases/") ||
         path == "/v1/decisions" || path == "/v1/review" || starts("/v1/review/") || path == "/v1/policy-hints" || path == "/v1/audit";
}

void Console::LogDecision(const CheckRequest& request, const CheckResult& result, std::string_view source) {
  DecisionRow row;
  row.account_id = request.account_id;
  row.decision = std::string(DecisionName(result.decision));
  if (result.decision != Decision::kAllow) {
    row.reasons = ReasonList(result.reasons);
    row.campaign_id = result.campaign_id;
    row.score = result.score;
    row.policy_version = impl_->service.policy_version();
    row.source = std::string(source);
    row.model = request.model;
  }
  decision_log_->Record(std::move(row));
}

bool Console::Admit(const ConsoleRequest& r, ConsoleResponse* res) {
  const std::string_view path = PathOf(r.target);
  if (impl_->OpenRoute(r.method, path)) return true;
  bool by_cookie = false;
  std::string csrf;
  const std::string who = impl_->Identify(r, &by_cookie, &csrf);
  if (who.empty()) {
    if (!r.authorization.empty() && RoleOf(impl_->options.tokens, r.authorization) == AuthRole::kGateway) {
      *res = Fail(absl::PermissionDeniedError("this token has the gateway role; the console needs an analyst"));
    } else {
      *res = Fail(absl::UnauthenticatedError("log in (POST /ui/api/login) or send the analyst bearer token"));
    }
    return false;
  }
  if (by_cookie && !IsSafeMethod(r.method)) {
    // CSRF: the session's token in a header a cross-site form cannot set,
    // and, when the browser says where the request comes from, this host.
    if (r.csrf.empty() || !ConstantTimeEquals(r.csrf, csrf)) {
      *res = Fail(absl::PermissionDeniedError("missing or wrong X-CSRF-Token"));
      return false;
    }
    if (!r.origin.empty()) {
      const std::string_view o = r.origin;
      const size_t scheme = o.find("://");
      if (scheme == std::string_view::npos || o.substr(scheme + 3) != r.host) {
        *res = Fail(absl::PermissionDeniedError("cross-origin request refused"));
        return false;
      }
    }
  }
  return true;
}

ConsoleResponse Console::Handle(const ConsoleRequest& r) {
  ConsoleResponse res;
  const std::string_view path = PathOf(r.target);
  auto finish = [&](ConsoleResponse out) {
    out.headers.emplace_back("Content-Security-Policy", std::string(kCsp));
    out.headers.emplace_back("X-Content-Type-Options", "nosniff");
    out.headers.emplace_back("X-Frame-Options", "DENY");
    out.headers.emplace_back("Referrer-Policy", "no-referrer");
    if (out.content_type == "application/json") out.headers.emplace_back("Cache-Control", "no-store");
    return out;
  };
  if (!Admit(r, &res)) return finish(std::move(res));
  Impl& im = *impl_;
  if (path == "/ui/api/login") {
    if (r.method != "POST") return finish(Fail(405, "use POST"));
    return finish(im.Login(r));
  }
  bool by_cookie = false;
  std::string csrf;
  const std::string who = im.Identify(r, &by_cookie, &csrf);
  const bool get = r.method == "GET";
  if (path == "/ui/api/session") {
    // Open: an empty analyst when nobody is logged in (the app then shows
    // its login form without a failed request in the browser's console).
    if (!get) return finish(Fail(405, "use GET"));
    std::string out = "{\"analyst\":";
    AppendJsonString(out, who);
    out += ",\"csrf\":";
    AppendJsonString(out, by_cookie ? csrf : "");
    out += "}";
    return finish(Json(std::move(out)));
  }
  if (im.OpenRoute(r.method, path)) {
    if (!IsSafeMethod(r.method)) return finish(Fail(405, "use GET"));
    return finish(im.Static(r, path));
  }
  std::vector<std::string> segs;
  auto decode = [&](std::string_view prefix) {
    segs.clear();
    for (const auto s : Segments(path, prefix)) {
      std::string d;
      if (!PercentDecode(s, &d)) return false;
      segs.push_back(std::move(d));
    }
    return true;
  };
  if (path == "/ui/api/logout") {
    if (r.method != "POST") return finish(Fail(405, "use POST"));
    return finish(im.Logout(r));
  }
  if (path == "/v1/console/overview") return finish(get ? im.Overview() : Fail(405, "use GET"));
  if (path == "/v1/console/campaigns") return finish(get ? im.CampaignList() : Fail(405, "use GET"));
  if (path.substr(0, 22) == "/v1/console/campaigns/") {
    if (!decode("/v1/console/campaigns/") || segs.size() != 1) return finish(Fail(absl::InvalidArgumentError("path: a bad campaign id")));
    return finish(get ? im.CampaignPage(segs[0]) : Fail(405, "use GET"));
  }
  if (path.substr(0, 21) == "/v1/console/accounts/") {
    if (!decode("/v1/console/accounts/") || segs.empty() || segs.size() > 2 || segs[0].empty()) {
      return finish(Fail(absl::InvalidArgumentError("path: a bad account id")));
    }
    if (segs.size() == 1) return finish(get ? im.AccountPage(segs[0]) : Fail(405, "use GET"));
    if (segs[1] != "override") return finish(Fail(absl::NotFoundError("no such endpoint")));
    if (r.method != "POST") return finish(Fail(405, "use POST"));
    return finish(im.Override(who, segs[0], r.body));
  }
  if (path == "/v1/review") return finish(get ? im.ReviewQueue() : Fail(405, "use GET"));
  if (path.substr(0, 11) == "/v1/review/") {
    if (!decode("/v1/review/") || segs.size() != 1 || segs[0].empty()) {
      return finish(Fail(absl::InvalidArgumentError("path: a bad account id")));
    }
    if (r.method != "POST") return finish(Fail(405, "use POST"));
    return finish(im.Review(who, segs[0], r.body));
  }
  if (path == "/v1/decisions") return finish(get ? im.Decisions(QueryOf(r.target)) : Fail(405, "use GET"));
  if (path == "/v1/cases" || path.substr(0, 10) == "/v1/cases/") {
    if (!decode("/v1/cases/")) return finish(Fail(absl::InvalidArgumentError("path: a bad case id")));
    if (path == "/v1/cases") segs.clear();
    return finish(im.Cases(r, who, segs));
  }
  if (path == "/v1/policy-hints") {
    if (!get) return finish(Fail(405, "use GET"));
    std::string out = "{\"hints\":[";
    bool first = true;
    for (const auto& h : store_->PolicyHints(500)) {
      out += first ? "{" : ",{";
      first = false;
      AppendStr(out, "case_id", CaseIdName(h.case_id), false);
      AppendStr(out, "at", h.at);
      AppendStr(out, "by", h.by);
      AppendStr(out, "subject_kind", h.subject_kind);
      AppendStr(out, "subject_id", h.subject_id);
      AppendStr(out, "reasons", h.reasons);
      AppendStr(out, "note", h.note);
      out += "}";
    }
    return finish(Json(out + "]}"));
  }
  if (path == "/v1/audit") {
    if (!get) return finish(Fail(405, "use GET"));
    std::string out = "{\"audit\":[";
    bool first = true;
    for (const auto& a : store_->Audit(500)) {
      out += first ? "{" : ",{";
      first = false;
      AppendStr(out, "at", a.at, false);
      AppendStr(out, "analyst", a.analyst);
      AppendStr(out, "action", a.action);
      AppendStr(out, "target", a.target);
      AppendStr(out, "detail", a.detail);
      out += "}";
    }
    return finish(Json(out + "]}"));
  }
  return finish(Fail(absl::NotFoundError("no such endpoint")));
}

ConsoleResponse Console::Impl::Static(const ConsoleRequest& r, std::string_view path) {
  if (path == "/ui") {
    ConsoleResponse res;
    res.status = 301;
    res.content_type = "text/plain";
    res.headers.emplace_back("Location", "/ui/");
    return res;
  }
  std::string_view file = path.substr(4);  // after "/ui/"
  if (file.empty()) file = "index.html";
  for (const ConsoleAsset& a : ConsoleAssets()) {
    if (a.path != file) continue;
    ConsoleResponse res;
    res.content_type = std::string(a.content_type);
    // Hashed names never change content; the page itself is always re-checked.
    res.headers.emplace_back("Cache-Control", file == "index.html" ? "no-cache" : "public, max-age=31536000, immutable");
    res.headers.emplace_back("Vary", "Accept-Encoding");
    if (r.accept_encoding.find("gzip") != std::string_view::npos) {
      res.body.assign(reinterpret_cast<const char*>(a.gzip), a.gzip_size);
      res.headers.emplace_back("Content-Encoding", "gzip");
    } else if (!Inflate(a.gzip, a.gzip_size, a.size, &res.body)) {
      return Fail(absl::InternalError("console asset damaged"));
    }
    return res;
  }
  return Fail(absl::NotFoundError("no such file"));
}

ConsoleResponse Console::Impl::Login(const ConsoleRequest& r) {
  {
    std::lock_guard<std::mutex> lock(limit_mu);
    const double now = NowS();
    auto wait = login_global.Take("all", now);
    if (!wait) wait = login_limit.Take(r.peer, now);
    if (wait) {
      ConsoleResponse res = Fail(absl::ResourceExhaustedError("too many login attempts; wait"));
      res.headers.emplace_back("Retry-After", std::to_string(std::max(1, static_cast<int>(std::ceil(*wait)))));
      return res;
    }
  }
  std::string token;
  if (const absl::Status parsed = ParseLoginBody(r.body, &token); !parsed.ok()) return Fail(parsed);
  std::string who;
  for (const auto& [name, t] : options.analysts) {
    if (ConstantTimeEquals(token, t)) who = name;
  }
  if (who.empty() && !options.tokens.analyst.empty() && ConstantTimeEquals(token, options.tokens.analyst)) who = "analyst";
  if (who.empty()) {
    Audit(Printable(r.peer, 64), "login_failed", "", "");
    if (options.tokens.analyst.empty() && options.analysts.empty()) {
      return Fail(absl::PermissionDeniedError(
          "the console needs analysts: start serve with --analyst-token-file, --token-file or --analysts-file"));
    }
    return Fail(absl::UnauthenticatedError("wrong token"));
  }
  Session s;
  s.analyst = who;
  s.csrf = RandomToken();
  s.created_s = s.seen_s = NowS();
  const std::string id = RandomToken();
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    if (sessions.size() >= kMaxSessions) {
      // Drop the session idle the longest.
      auto oldest = sessions.begin();
      for (auto it = sessions.begin(); it != sessions.end(); ++it) {
        if (it->second.seen_s < oldest->second.seen_s) oldest = it;
      }
      sessions.erase(oldest);
    }
    sessions[id] = s;
  }
  Audit(who, "login", "", Printable(r.peer, 64));
  ConsoleResponse res;
  res.headers.emplace_back("Set-Cookie", fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}", kCookie, id,
                                                      static_cast<int64_t>(options.session_max_s),
                                                      options.secure_cookie ? "; Secure" : ""));
  res.body = "{\"analyst\":";
  AppendJsonString(res.body, who);
  res.body += ",\"csrf\":";
  AppendJsonString(res.body, s.csrf);
  res.body += "}";
  return res;
}

ConsoleResponse Console::Impl::Logout(const ConsoleRequest& r) {
  const std::string_view id = CookieValue(r.cookie, kCookie);
  if (!id.empty()) {
    std::lock_guard<std::mutex> lock(sessions_mu);
    sessions.erase(std::string(id));
  }
  ConsoleResponse res = Json("{\"logged_out\":true}");
  res.headers.emplace_back("Set-Cookie", fmt::format("{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0", kCookie));
  return res;
}

std::string Console::Impl::CaseStatusOf(std::string_view kind, const std::string& id, int64_t* case_id) {
  const auto cases = console.store().ListCases("", std::string(kind), id, 1);
  if (cases.empty()) {
    *case_id = 0;
    return "new";
  }
  *case_id = cases[0].id;
  return cases[0].status;
}

ConsoleResponse Console::Impl::Overview() {
  // Counters from the service's own metrics (one source of truth).
  const std::string metrics = service.Metrics();
  double accepted = 0;
  std::map<std::string, double> decisions;
  std::vector<std::pair<double, double>> buckets;
  size_t pos = 0;
  while (pos < metrics.size()) {
    size_t end = metrics.find('\n', pos);
    if (end == std::string::npos) end = metrics.size();
    const std::string_view line(metrics.data() + pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t sp = line.rfind(' ');
    if (sp == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, sp);
    const double v = std::strtod(std::string(line.substr(sp + 1)).c_str(), nullptr);
    if (name == "distillguard_events_accepted_total") accepted = v;
    constexpr std::string_view kDec = "distillguard_decisions_total{decision=\"";
    constexpr std::string_view kBucket = "distillguard_check_seconds_bucket{le=\"";
    if (name.substr(0, kDec.size()) == kDec) decisions[std::string(name.substr(kDec.size(), name.size() - kDec.size() - 2))] = v;
    if (name.substr(0, kBucket.size()) == kBucket) {
      const std::string le(name.substr(kBucket.size(), name.size() - kBucket.size() - 2));
      buckets.emplace_back(le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr), v);
    }
  }
  {
    std::lock_guard<std::mutex> lock(rate_mu);
    const double now = NowS();
    if (rate_at_s == 0) {
      rate_at_s = now;
      rate_events = accepted;
    } else if (now - rate_at_s >= 1) {
      events_per_s = (accepted - rate_events) / (now - rate_at_s);
      rate_at_s = now;
      rate_events = accepted;
    }
  }
  size_t blocked = 0, review = 0, accounts = 0;
  uint32_t campaigns = 0;
  uint64_t interactions = 0;
  service.Read([&](const Service::EngineView& v) {
    for (const AccountState& a : v.engine.accounts()) {
      if (a.id.empty()) continue;
      ++accounts;
      if (a.verdict == Verdict::kBlock) ++blocked;
      if (a.verdict == Verdict::kReview) ++review;
    }
    for (const auto& [id, s] : v.engine.summaries()) {
      if (s.verdict == Verdict::kBlock) ++blocked;
      if (s.verdict == Verdict::kReview) ++review;
    }
    campaigns = static_cast<uint32_t>(Campaigns(v.engine).size());  // as listed (merged ones not counted twice)
    interactions = v.engine.interactions();
  });
  std::string out = fmt::format("{{\"at\":\"{}\",\"events_accepted\":{},\"events_per_s\":{:.2f},\"interactions\":{},\"decisions\":{{",
                                FormatRfc3339(options.clock()), static_cast<uint64_t>(accepted), events_per_s, interactions);
  bool first = true;
  for (const auto& [d, n] : decisions) {
    if (!first) out += ",";
    first = false;
    AppendJsonString(out, d);
    out += fmt::format(":{}", static_cast<uint64_t>(n));
  }
  const uint64_t checks = buckets.empty() ? 0 : static_cast<uint64_t>(buckets.back().second);
  out += fmt::format("}},\"check_latency_us\":{{\"p50\":{},\"p99\":{},\"count\":{}}}", Quantile(buckets, 0.5), Quantile(buckets, 0.99),
                     checks);
  out += fmt::format(",\"campaigns\":{},\"accounts\":{},\"blocked\":{},\"in_review\":{}", campaigns, accounts, blocked, review);
  out += fmt::format(",\"cases_open\":{}", console.store().ListCases("open", "", "", 1000).size() +
                                               console.store().ListCases("investigating", "", "", 1000).size());
  out += fmt::format(",\"decision_log\":{{\"written\":{},\"dropped\":{},\"retention_days\":{}}}}}", console.decision_log().written(),
                     console.decision_log().dropped(), options.decision_log_days);
  return Json(std::move(out));
}

ConsoleResponse Console::Impl::CampaignList() {
  struct Row {
    std::string json;
    double score;
    std::string id;
  };
  std::vector<Row> rows;
  service.Read([&](const Service::EngineView& v) {
    for (const CampaignView& c : Campaigns(v.engine)) {
      size_t blocked = 0, review = 0;
      for (const uint32_t m : c.members) {
        const Verdict vd = v.engine.accounts()[m].verdict;
        if (vd == Verdict::kBlock) ++blocked;
        if (vd == Verdict::kReview) ++review;
      }
      std::string j = "{\"campaign_id\":";
      AppendJsonString(j, c.id);
      j += fmt::format(",\"score\":{:.4f},\"account_count\":{},\"blocked\":{},\"in_review\":{},\"interactions\":{},\"input_tokens\":{},"
                       "\"output_tokens\":{},\"first_seen\":",
                       c.score, c.members.size(), blocked, review, c.interactions, c.input_tokens, c.output_tokens);
      AppendTime(j, c.first_seen);
      j += ",\"last_seen\":";
      AppendTime(j, c.last_seen);
      j += ",\"confirmed_at\":";
      AppendTime(j, c.confirmed_at);
      j += ",\"models\":[";
      std::vector<std::pair<uint64_t, std::string>> models;
      for (const auto& [m, n] : c.models) models.emplace_back(n, m);
      std::sort(models.rbegin(), models.rend());
      for (size_t idx = 0; idx < models.size(); ++idx) {
        if (idx) j += ",";
        AppendJsonString(j, models[idx].second);
      }
      j += "],\"reasons\":[";
      for (size_t idx = 0; idx < c.reasons.size(); ++idx) {
        if (idx) j += ",";
        AppendJsonString(j, c.reasons[idx]);
      }
      j += "]";
      rows.push_back({std::move(j), c.score, c.id});
    }
  });
  // Ranked by score (then id): the analyst's first question is "which is worst".
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.score != b.score ? a.score > b.score : a.id < b.id; });
  std::string out = "{\"campaigns\":[";
  for (size_t idx = 0; idx < rows.size(); ++idx) {
    if (idx) out += ",";
    int64_t case_id = 0;
    const std::string status = CaseStatusOf("campaign", rows[idx].id, &case_id);
    out += rows[idx].json;
    AppendStr(out, "status", status);
    out += ",\"case_id\":";
    if (case_id) AppendJsonString(out, CaseIdName(case_id));
    else out += "null";
    out += "}";
  }
  out += "]}";
  return Json(std::move(out));
}

ConsoleResponse Console::Impl::CampaignPage(const std::string& id) {
  std::string out;
  std::vector<std::string> member_ids;
  bool found = false;
  service.Read([&](const Service::EngineView& v) {
    const Engine& engine = v.engine;
    for (const CampaignView& c : Campaigns(engine)) {
      if (c.id != id) continue;
      found = true;
      AppendCampaignJson(out, c, engine);
      out.pop_back();  // reopen the object
      // Members: the graph's nodes.
      out += ",\"nodes\":[";
      for (size_t idx = 0; idx < c.members.size(); ++idx) {
        const AccountState& a = engine.accounts()[c.members[idx]];
        member_ids.push_back(a.id);
        if (idx) out += ",";
        out += "{\"id\":";
        AppendJsonString(out, a.id);
        out += fmt::format(",\"verdict\":\"{}\",\"score\":{:.4f},\"interactions\":{},\"output_tokens\":{},\"overridden\":{},\"created_at\":",
                           VerdictName(a.verdict), a.score, a.n, a.output_tokens, a.override_verdict >= 0 ? "true" : "false");
        AppendTime(out, a.created_at);
        out += ",\"first_seen\":";
        AppendTime(out, a.first_ts);
        out += "}";
      }
      // Which member holds which of the campaign's shown indicators, and how
      // often it used it.
      const auto held = IndicatorAccounts(engine, c);
      std::map<std::pair<std::string, std::string>, std::vector<std::pair<uint32_t, uint32_t>>> holders;  // (kind, value) -> (member, uses)
      for (size_t idx = 0; idx < c.indicators.size(); ++idx) holders[c.indicators[idx]] = held[idx];
      out += "],\"indicator_accounts\":[";
      bool first = true;
      for (const auto& key : c.indicators) {
        const auto& hs = holders[key];
        if (!first) out += ",";
        first = false;
        out += "{\"kind\":";
        AppendJsonString(out, key.first);
        out += ",\"value\":";
        AppendJsonString(out, key.second);
        out += ",\"accounts\":{";
        for (size_t idx = 0; idx < hs.size(); ++idx) {
          if (idx) out += ",";
          AppendJsonString(out, engine.accounts()[hs[idx].first].id);
          out += fmt::format(":{}", hs[idx].second);
        }
        out += "}}";
      }
      // Edges: members sharing an indicator, labelled with it. A value held
      // by up to 6 members links every pair; by more, a chain in first-seen
      // order (bounded: O(members) edges per indicator).
      out += "],\"edges\":[";
      first = true;
      for (const auto& key : c.indicators) {
        auto hs = holders[key];
        std::sort(hs.begin(), hs.end(), [&](const auto& x, const auto& y) {
          return engine.accounts()[x.first].first_ts < engine.accounts()[y.first].first_ts;
        });
        auto edge = [&](uint32_t x, uint32_t y) {
          if (!first) out += ",";
          first = false;
          const Verdict vx = engine.accounts()[x].verdict, vy = engine.accounts()[y].verdict;
          out += "{\"source\":";
          AppendJsonString(out, engine.accounts()[x].id);
          out += ",\"target\":";
          AppendJsonString(out, engine.accounts()[y].id);
          AppendStr(out, "kind", key.first);
          AppendStr(out, "value", key.second);
          // The edge's verdict: both ends' when they agree, else "mixed".
          out += fmt::format(",\"verdict\":\"{}\"}}", vx == vy ? VerdictName(vx) : "mixed");
        };
        if (hs.size() <= 6) {
          for (size_t i = 0; i < hs.size(); ++i) {
            for (size_t j = i + 1; j < hs.size(); ++j) edge(hs[i].first, hs[j].first);
          }
        } else {
          for (size_t i = 1; i < hs.size(); ++i) edge(hs[i - 1].first, hs[i].first);
        }
      }
      // Creation waves: members' accounts created per day (and hour).
      std::map<int64_t, uint32_t> waves;
      for (const uint32_t m : c.members) {
        const TimeMs created = engine.accounts()[m].created_at;
        if (created >= 0) ++waves[created / kMsPerHour];
      }
      out += "],\"creation_waves\":[";
      first = true;
      for (const auto& [hour, n] : waves) {
        if (!first) out += ",";
        first = false;
        out += "{\"hour\":";
        AppendTime(out, hour * kMsPerHour);
        out += fmt::format(",\"accounts\":{}}}", n);
      }
      // Hour-of-day heat map: each member's interactions by hour (UTC), the
      // 40 busiest members.
      std::vector<uint32_t> busiest(c.members.begin(), c.members.end());
      std::sort(busiest.begin(), busiest.end(), [&](uint32_t x, uint32_t y) {
        const auto& ax = engine.accounts()[x];
        const auto& ay = engine.accounts()[y];
        return ax.n != ay.n ? ax.n > ay.n : ax.id < ay.id;
      });
      if (busiest.size() > 40) busiest.resize(40);
      out += fmt::format("],\"hours\":[{}],\"member_hours\":[", fmt::join(c.hours, ","));
      for (size_t idx = 0; idx < busiest.size(); ++idx) {
        const AccountState& a = engine.accounts()[busiest[idx]];
        if (idx) out += ",";
        out += "{\"id\":";
        AppendJsonString(out, a.id);
        out += fmt::format(",\"hours\":[{}]}}", fmt::join(a.hours, ","));
      }
      out += "],\"day_models\":[";
      first = true;
      for (const auto& [key, n] : c.day_models) {
        if (!first) out += ",";
        first = false;
        out += "{\"day\":";
        AppendJsonString(out, FormatRfc3339(key.first * kMsPerDay).substr(0, 10));
        AppendStr(out, "model", key.second);
        out += fmt::format(",\"interactions\":{}}}", n);
      }
      out += "],\"per_day\":[";
      first = true;
      for (const auto& [day, n] : c.per_day) {
        if (!first) out += ",";
        first = false;
        out += "{\"day\":";
        AppendJsonString(out, FormatRfc3339(day * kMsPerDay).substr(0, 10));
        out += fmt::format(",\"interactions\":{}}}", n);
      }
      out += "]";
      break;
    }
  });
  if (!found) return Fail(absl::NotFoundError("no such campaign"));
  // Output tokens per day, from the newest logged records (bounded scan).
  absl::flat_hash_set<std::string> members(member_ids.begin(), member_ids.end());
  std::map<int64_t, std::pair<uint64_t, uint64_t>> days;  // day -> (interactions, output tokens) seen in the scan
  Interaction in;
  ContentDigest digest;
  bool complete = false;
  const uint64_t scanned = console.store().ScanLogNewest(
      options.scan_records,
      [&](std::string_view rec) {
        if (!DecodeRecord(rec, &in, &digest) || !members.count(in.account_id)) return true;
        auto& d = days[in.ts / kMsPerDay];
        ++d.first;
        if (digest.features.output_tokens > 0) d.second += static_cast<uint64_t>(digest.features.output_tokens);
        return true;
      },
      &complete);
  out += ",\"tokens_per_day\":[";
  bool first = true;
  for (const auto& [day, d] : days) {
    if (!first) out += ",";
    first = false;
    out += "{\"day\":";
    AppendJsonString(out, FormatRfc3339(day * kMsPerDay).substr(0, 10));
    out += fmt::format(",\"interactions\":{},\"output_tokens\":{}}}", d.first, d.second);
  }
  out += fmt::format("],\"scan\":{{\"records\":{},\"complete\":{},\"limit\":{}}}", scanned, complete ? "true" : "false",
                     options.scan_records);
  out += ",\"cases\":[";
  const auto cases = console.store().ListCases("", "campaign", id, 50);
  for (size_t idx = 0; idx < cases.size(); ++idx) {
    if (idx) out += ",";
    AppendCase(out, cases[idx]);
  }
  out += "]}";
  return Json(std::move(out));
}

ConsoleResponse Console::Impl::AccountPage(const std::string& id) {
  auto base = service.AccountJson(id);
  if (!base) return Fail(absl::NotFoundError("no such account"));
  std::string out = std::move(*base);
  out.pop_back();  // reopen the object
  // Verdict history: every change, with the evidence then.
  service.Read([&](const Service::EngineView& v) {
    out += ",\"verdict_history\":[";
    const VerdictHistory::Changes* h = v.history.Find(id);
    if (h != nullptr) {
      for (size_t idx = 0; idx < h->kept.size(); ++idx) {
        const VerdictRecord& r = h->kept[idx];
        if (idx) out += ",";
        out += "{\"at\":";
        AppendTime(out, r.at);
        out += fmt::format(",\"verdict\":\"{}\",\"score\":{:.4f},\"evidence\":{{", VerdictName(r.verdict), r.score);
        const auto ev = Explain(r);
        for (size_t e = 0; e < ev.size(); ++e) {
          if (e) out += ",";
          AppendJsonString(out, ev[e].first);
          out += fmt::format(":{}", ev[e].second);
        }
        out += "}}";
      }
    }
    out += fmt::format("],\"verdict_history_dropped\":{}", h == nullptr ? 0 : h->dropped);
    const AccountState* a = v.engine.FindAccount(id);
    if (a != nullptr) {
      out += fmt::format(",\"hours\":[{}],\"created_at\":", fmt::join(a->hours, ","));
      AppendTime(out, a->created_at);
    }
  });
  // Decisions given to the gateway (non-allow, newest first) and allows per hour.
  DecisionQuery q;
  q.account_id = id;
  q.limit = 100;
  out += ",\"decisions\":[";
  const auto rows = console.store().QueryDecisions(q);
  for (size_t idx = 0; idx < rows.size(); ++idx) {
    if (idx) out += ",";
    AppendDecisionRow(out, rows[idx]);
  }
  out += "],\"allow_counts\":[";
  const auto allows = console.store().AllowCounts(id, 168);
  for (size_t idx = 0; idx < allows.size(); ++idx) {
    if (idx) out += ",";
    out += "{\"hour\":";
    AppendTime(out, allows[idx].first);
    out += fmt::format(",\"allows\":{}}}", allows[idx].second);
  }
  // Timeline: the newest interactions as digests, and counts per day, from
  // the newest scan_records logged records (bounded; "complete" says whether
  // that was the whole log).
  constexpr size_t kEvents = 200;
  std::vector<std::string> events;
  std::map<int64_t, uint64_t> per_day;
  Interaction in;
  ContentDigest digest;
  bool complete = false;
  const uint64_t scanned = console.store().ScanLogNewest(
      options.scan_records,
      [&](std::string_view rec) {
        if (!DecodeRecord(rec, &in, &digest) || in.account_id != id) return true;
        ++per_day[in.ts / kMsPerDay];
        if (events.size() < kEvents) {
          const EventFeatures& f = digest.features;
          std::string e = "{\"ts\":";
          AppendTime(e, in.ts);
          AppendStr(e, "model", in.model);
          AppendStr(e, "capability", CapabilityName(f.capability));
          AppendStr(e, "ip", in.ip);
          AppendStr(e, "user_agent", in.user_agent);
          e += fmt::format(",\"prompt_tokens\":{},\"input_tokens\":{},\"output_tokens\":{},\"single_turn\":{},\"flags\":{}", f.prompt_tokens,
                           f.input_tokens, f.output_tokens, f.single_turn ? "true" : "false", f.flags);
          // Digests, never text: the prompt's template frame and MinHash.
          e += fmt::format(",\"frame\":\"{:016x}\",\"prompt_digest\":", f.frame_head);
          if (digest.has_prompt_sig) {
            e += fmt::format("\"{:016x}\"", Hash64(std::string_view(reinterpret_cast<const char*>(digest.prompt_sig.data()),
                                                                    sizeof(digest.prompt_sig)),
                                                   7));
          } else {
            e += "null";
          }
          e += "}";
          events.push_back(std::move(e));
        }
        return true;
      },
      &complete);
  out += "],\"timeline\":{\"events\":[";
  for (size_t idx = 0; idx < events.size(); ++idx) {
    if (idx) out += ",";
    out += events[idx];
  }
  out += "],\"per_day\":[";
  bool first = true;
  for (const auto& [day, n] : per_day) {
    if (!first) out += ",";
    first = false;
    out += "{\"day\":";
    AppendJsonString(out, FormatRfc3339(day * kMsPerDay).substr(0, 10));
    out += fmt::format(",\"interactions\":{}}}", n);
  }
  out += fmt::format("],\"scanned\":{},\"complete\":{},\"limit\":{}}}", scanned, complete ? "true" : "false", options.scan_records);
  out += ",\"cases\":[";
  const auto cases = console.store().ListCases("", "account", id, 50);
  for (size_t idx = 0; idx < cases.size(); ++idx) {
    if (idx) out += ",";
    AppendCase(out, cases[idx]);
  }
  out += "]}";
  return Json(std::move(out));
}

ConsoleResponse Console::Impl::Override(const std::string& who, const std::string& account, std::string_view body) {
  ActionBody b;
  if (const absl::Status parsed = ParseActionBody(body, "allow|block|clear", &b); !parsed.ok()) return Fail(parsed);
  if (const absl::Status st = service.Override(account, b.action, who, b.reason); !st.ok()) return Fail(st);
  Audit(who, "override_" + b.action, account, b.reason);
  return AccountPage(account);
}

ConsoleResponse Console::Impl::ReviewQueue() {
  struct Item {
    TimeMs since;
    std::string id, json;
  };
  std::vector<Item> items;
  size_t total = 0;
  service.Read([&](const Service::EngineView& v) {
    for (const AccountState& a : v.engine.accounts()) {
      if (a.id.empty() || a.verdict != Verdict::kReview || a.override_verdict >= 0) continue;
      ++total;
      const VerdictRecord* r = v.engine.LastDecision(a.index);
      const TimeMs since = r != nullptr ? r->at : a.first_ts;
      std::string j = "{\"account_id\":";
      AppendJsonString(j, a.id);
      j += ",\"in_review_since\":";
      AppendTime(j, since);
      j += fmt::format(",\"score\":{:.4f},\"interactions\":{},\"output_tokens\":{},\"campaign_id\":", a.score, a.n, a.output_tokens);
      const std::string camp = v.engine.CampaignOf(a.index);
      if (camp.empty()) j += "null";
      else AppendJsonString(j, camp);
      j += ",\"reasons\":[";
      const auto ev = Explain(v.engine, a);
      for (size_t idx = 0; idx < ev.size(); ++idx) {
        if (idx) j += ",";
        AppendJsonString(j, ev[idx].first);
      }
      j += "]";
      items.push_back({since, a.id, std::move(j)});
    }
    for (const auto& [id, s] : v.engine.summaries()) {
      if (s.verdict != Verdict::kReview) continue;
      ++total;
      std::string j = "{\"account_id\":";
      AppendJsonString(j, id);
      j += ",\"in_review_since\":";
      AppendTime(j, s.flagged_at >= 0 ? s.flagged_at : s.first_ts);
      j += fmt::format(",\"score\":{:.4f},\"interactions\":{},\"output_tokens\":null,\"campaign_id\":null,\"forgotten\":true,\"reasons\":",
                       s.score, s.n);
      AppendCsvAsJsonArray(j, ReasonList(s.reasons));
      items.push_back({s.flagged_at >= 0 ? s.flagged_at : s.first_ts, id, std::move(j)});
    }
  });
  // Oldest first; at most 500 shown (total says how many wait).
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.since < b.since; });
  constexpr size_t kShown = 500;
  std::string out = fmt::format("{{\"total\":{},\"accounts\":[", total);
  for (size_t idx = 0; idx < items.size() && idx < kShown; ++idx) {
    if (idx) out += ",";
    out += items[idx].json;
    // The account's case, if any (escalated accounts stay in review).
    int64_t case_id = 0;
    const std::string status = CaseStatusOf("account", items[idx].id, &case_id);
    out += ",\"case_id\":";
    if (case_id) AppendJsonString(out, CaseIdName(case_id));
    else out += "null";
    AppendStr(out, "case_status", case_id ? status : "");
    out += "}";
  }
  out += "]}";
  return Json(std::move(out));
}

ConsoleResponse Console::Impl::Review(const std::string& who, const std::string& account, std::string_view body) {
  ActionBody b;
  if (const absl::Status parsed = ParseActionBody(body, "allow|block|escalate", &b); !parsed.ok()) return Fail(parsed);
  if (b.action == "escalate") {
    // A case for the account (or a note on its open one), for a senior look.
    auto open = console.store().ListCases("", "account", account, 1);
    const std::string now = NowText();
    if (!open.empty() && open[0].status != "closed" && open[0].status != "false_positive") {
      CaseRecord c = open[0];
      c.status = "investigating";
      c.updated_at = now;
      if (const absl::Status st =
              console.store().UpdateCase(c, {{c.id, now, who, "status", "investigating (escalated from review): " + b.reason}});
          !st.ok()) {
        return Fail(st);
      }
      Audit(who, "review_escalate", account, b.reason);
      std::string out = "{\"escalated\":true,\"case\":";
      AppendCase(out, c);
      return Json(out + "}");
    }
    CaseRecord c;
    c.subject_kind = "account";
    c.subject_id = account;
    c.title = "Escalated from review";
    c.status = "investigating";
    c.created_by = who;
    c.created_at = c.updated_at = now;
    if (const absl::Status st = console.store().CreateCase(&c); !st.ok()) return Fail(st);
    AddNoteAfterCreate({c.id, now, who, "note", b.reason});
    Audit(who, "review_escalate", account, b.reason);
    std::string out = "{\"escalated\":true,\"case\":";
    AppendCase(out, c);
    return Json(out + "}");
  }
  if (const absl::Status st = service.Override(account, b.action, who, "review: " + b.reason); !st.ok()) return Fail(st);
  Audit(who, "review_" + b.action, account, b.reason);
  std::string out = "{\"reviewed\":";
  AppendJsonString(out, account);
  AppendStr(out, "action", b.action);
  AppendStr(out, "by", who);
  return Json(out + "}");
}

ConsoleResponse Console::Impl::Decisions(std::string_view query) {
  DecisionQuery q;
  if (const absl::Status parsed = ParseDecisionQuery(query, &q); !parsed.ok()) return Fail(parsed);
  console.decision_log().Flush();  // what was answered up to now is searchable
  const auto rows = console.store().QueryDecisions(q);
  std::string out = "{\"decisions\":[";
  for (size_t idx = 0; idx < rows.size(); ++idx) {
    if (idx) out += ",";
    AppendDecisionRow(out, rows[idx]);
  }
  out += "]";
  out += ",\"next_before\":";
  out += rows.size() == q.limit && !rows.empty() ? std::to_string(rows.back().id) : "null";
  if (!q.account_id.empty()) {
    out += ",\"allow_counts\":[";
    const auto allows = console.store().AllowCounts(q.account_id, 168);
    for (size_t idx = 0; idx < allows.size(); ++idx) {
      if (idx) out += ",";
      out += "{\"hour\":";
      AppendTime(out, allows[idx].first);
      out += fmt::format(",\"allows\":{}}}", allows[idx].second);
    }
    out += "]";
  }
  out += fmt::format(",\"retention_days\":{}}}", options.decision_log_days);
  return Json(std::move(out));
}

ConsoleResponse Console::Impl::CaseJson(int64_t id) {
  const auto c = console.store().GetCase(id);
  if (!c) return Fail(absl::NotFoundError("no such case"));
  std::string out;
  AppendCase(out, *c);
  out.pop_back();
  out += ",\"events\":[";
  const auto events = console.store().CaseEvents(id);
  for (size_t idx = 0; idx < events.size(); ++idx) {
    if (idx) out += ",";
    out += "{";
    AppendStr(out, "at", events[idx].at, false);
    AppendStr(out, "by", events[idx].by);
    AppendStr(out, "kind", events[idx].kind);
    AppendStr(out, "text", events[idx].text);
    out += "}";
  }
  out += "]}";
  return Json(std::move(out));
}

absl::Status Console::Impl::FeedBack(const std::string& who, const CaseRecord& c, const std::string& why) {
  if (c.status != "false_positive" && c.status != "confirmed") return absl::OkStatus();
  const bool fp = c.status == "false_positive";
  const std::string action = fp ? "allow" : "block";
  std::vector<std::string> accounts;
  std::string reasons;
  service.Read([&](const Service::EngineView& v) {
    std::set<std::string> names;
    if (c.subject_kind == "account") {
      accounts.push_back(c.subject_id);
      if (const AccountState* a = v.engine.FindAccount(c.subject_id)) {
        for (const auto& [n, value] : Explain(v.engine, *a)) names.insert(n);
      }
    } else {
      for (const CampaignView& cv : Campaigns(v.engine)) {
        if (cv.id != c.subject_id) continue;
        for (const uint32_t m : cv.members) {
          accounts.push_back(v.engine.accounts()[m].id);
          for (const auto& [n, value] : Explain(v.engine, v.engine.accounts()[m])) names.insert(n);
        }
        for (const auto& r : cv.reasons) names.insert(r);
      }
    }
    for (const auto& n : names) reasons += (reasons.empty() ? "" : ",") + n;
  });
  for (const auto& account : accounts) {
    DG_RETURN_IF_ERROR(service.Override(account, action, who, fmt::format("{} {}: {}", CaseIdName(c.id), c.status, why)));
  }
  if (fp) {
    PolicyHint h{c.id, NowText(), who, c.subject_kind, c.subject_id, reasons,
                 fmt::format("false positive ({} account(s) allowed): {}", accounts.size(), why)};
    DG_RETURN_IF_ERROR(console.store().AddPolicyHint(h));
  }
  Audit(who, fp ? "case_false_positive" : "case_confirmed", CaseIdName(c.id), fmt::format("{} account(s) {}", accounts.size(), action));
  return absl::OkStatus();
}

ConsoleResponse Console::Impl::PatchCase(const std::string& who, int64_t id, std::string_view body) {
  CasePatchBody p;
  if (const absl::Status parsed = ParseCasePatchBody(body, &p); !parsed.ok()) return Fail(parsed);
  auto c = console.store().GetCase(id);
  if (!c) return Fail(absl::NotFoundError("no such case"));
  const std::string now = NowText();
  std::vector<CaseEvent> events;
  const std::string before = c->status;
  if (p.title && *p.title != c->title) {
    c->title = *p.title;
    events.push_back({id, now, who, "title", *p.title});
  }
  if (p.assignee && *p.assignee != c->assignee) {
    c->assignee = *p.assignee;
    events.push_back({id, now, who, "assignee", p.assignee->empty() ? "(unassigned)" : *p.assignee});
  }
  if (p.outcome && *p.outcome != c->outcome) {
    c->outcome = *p.outcome;
    events.push_back({id, now, who, "outcome", *p.outcome});
  }
  if (p.status && *p.status != c->status) {
    c->status = *p.status;
    events.push_back({id, now, who, "status", before + " -> " + *p.status});
  }
  if (p.note) events.push_back({id, now, who, "note", *p.note});
  c->updated_at = now;
  if (const absl::Status st = console.store().UpdateCase(*c, events); !st.ok()) return Fail(st);
  Audit(who, "case_update", CaseIdName(id), p.status ? before + " -> " + c->status : "edit");
  if (p.status && *p.status != before) {
    const std::string why = !p.outcome.value_or("").empty() ? *p.outcome : p.note.value_or("");
    if (const absl::Status st = FeedBack(who, *c, why); !st.ok()) return Fail(st, "case saved, but its outcome was not applied: ");
  }
  return CaseJson(id);
}

ConsoleResponse Console::Impl::Cases(const ConsoleRequest& r, const std::string& who, const std::vector<std::string>& segs) {
  if (segs.empty()) {
    if (r.method == "GET") {
      const std::string_view query = QueryOf(r.target);
      const std::string status = QueryParam(query, "status").value_or("");
      if (!status.empty() && !IsCaseStatus(status)) return Fail(absl::InvalidArgumentError("query parameter 'status': unknown status"));
      const auto cases = console.store().ListCases(status, QueryParam(query, "subject_kind").value_or(""),
                                                   QueryParam(query, "subject_id").value_or(""), 500);
      std::string out = "{\"cases\":[";
      for (size_t idx = 0; idx < cases.size(); ++idx) {
        if (idx) out += ",";
        AppendCase(out, cases[idx]);
      }
      return Json(out + "]}");
    }
    if (r.method != "POST") return Fail(405, "use GET or POST");
    CaseCreateBody b;
    if (const absl::Status parsed = ParseCaseCreateBody(r.body, &b); !parsed.ok()) return Fail(parsed);
    bool exists = false;
    service.Read([&](const Service::EngineView& v) {
      if (b.subject_kind == "account") {
        exists = v.engine.FindAccount(b.subject_id) != nullptr || v.overrides.count(b.subject_id) > 0 ||
                 v.engine.summaries().count(b.subject_id) > 0;
      } else {
        for (const auto& [root, g] : v.engine.correlator().campaigns().aggregates()) {
          if (g.confirmed_seq != 0 && g.id == b.subject_id) exists = true;
        }
      }
    });
    if (!exists) return Fail(absl::NotFoundError("no such " + b.subject_kind));
    CaseRecord c;
    c.subject_kind = b.subject_kind;
    c.subject_id = b.subject_id;
    c.title = b.title;
    c.assignee = b.assignee;
    c.created_by = who;
    c.created_at = c.updated_at = NowText();
    if (const absl::Status st = console.store().CreateCase(&c); !st.ok()) return Fail(st);
    if (!b.note.empty()) AddNoteAfterCreate({c.id, c.created_at, who, "note", b.note});
    Audit(who, "case_open", CaseIdName(c.id), c.subject_kind + " " + c.subject_id);
    ConsoleResponse res = CaseJson(c.id);
    res.status = 201;
    return res;
  }
  const auto id = ParseCaseId(segs[0]);
  if (!id) return Fail(absl::InvalidArgumentError("path: a case id is case-N"));
  if (segs.size() == 1) {
    if (r.method == "GET") return CaseJson(*id);
    if (r.method == "PATCH") return PatchCase(who, *id, r.body);
    return Fail(405, "use GET or PATCH");
  }
  if (segs.size() == 2 && segs[1] == "notes") {
    if (r.method != "POST") return Fail(405, "use POST");
    std::string text;
    if (const absl::Status parsed = ParseNoteBody(r.body, &text); !parsed.ok()) return Fail(parsed);
    if (!console.store().GetCase(*id)) return Fail(absl::NotFoundError("no such case"));
    if (const absl::Status st = console.store().AddCaseEvent({*id, NowText(), who, "note", text}); !st.ok()) return Fail(st);
    Audit(who, "case_note", CaseIdName(*id), "");
    return CaseJson(*id);
  }
  return Fail(absl::NotFoundError("no such endpoint"));
}

}  // namespace dg
