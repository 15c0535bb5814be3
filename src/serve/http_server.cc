#include "serve/http_server.h"

#include "serve/body_codec.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without <utility>.
#include <utility>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <list>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "common/json_out.h"
#include "serve/console.h"
#include "serve/requests.h"

namespace dg {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// A request body read into a std::string as string_body does, but appended:
// string_body's reader resizes the string (zero-filling every chunk) and then
// copies over the zeros, so a 9 MB batch of events was written twice.
struct AppendStringBody {
  using value_type = std::string;
  static std::uint64_t size(const value_type& body) { return body.size(); }
  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      ec = {};
      if (!length) return;
      if (*length > body_.max_size()) {
        ec = http::error::buffer_overflow;
        return;
      }
      body_.reserve(static_cast<size_t>(*length));  // the route's body limit was checked against it
    }
    template <class ConstBufferSequence>
    size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      const size_t extra = beast::buffer_bytes(buffers);
      if (extra > body_.max_size() - body_.size()) {
        ec = http::error::buffer_overflow;
        return 0;
      }
      ec = {};
      for (const auto b : beast::buffers_range_ref(buffers)) body_.append(static_cast<const char*>(b.data()), b.size());
      return extra;
    }
    void finish(beast::error_code& ec) { ec = {}; }

   private:
    value_type& body_;
  };
};

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(out, message);
  out += "}";
  return out;
}

void Json(Response& res, unsigned status, std::string body) {
  res.result(status);
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
}

// A protocol answer no error lies behind (wrong method, no route, ...).
void Fail(Response& res, unsigned status, std::string_view message) { Json(res, status, ErrorJson(message)); }

// A failed status: its HTTP status comes from common/status.h (the one
// mapping), its message is the body's "error". `prefix` says what did not
// happen ("events not stored (...): ").
void Fail(Response& res, const absl::Status& status, std::string_view prefix = {}) {
  Fail(res, static_cast<unsigned>(HttpStatus(status)), std::string(prefix) + std::string(StatusMessage(status)));
}

// The analyst's view of a decision: with the detector's internals.
std::string DecisionJson(const CheckResult& r, std::optional<int> retry_after_s) {
  std::string out = fmt::format("{{\"decision\":\"{}\",\"campaign_id\":", DecisionName(r.decision));
  if (r.campaign_id.empty()) out += "null";
  else AppendJsonString(out, r.campaign_id);
  out += fmt::format(",\"score\":{:.4f},\"reasons\":[", r.score);
  bool first = true;
  for (size_t b = 0; b < kReasonCount; ++b) {
    if (!HasReason(r.reasons, b)) continue;
    if (!first) out += ",";
    first = false;
    out += "\"";
    out += ReasonName(static_cast<Reason>(b));
    out += "\"";
  }
  out += fmt::format("],\"ttl_s\":{}", r.ttl_s);
  if (retry_after_s) out += fmt::format(",\"retry_after_s\":{}", *retry_after_s);
  if (!r.rule_id.empty()) {
    out += ",\"access\":{\"rule_id\":";
    AppendJsonString(out, r.rule_id);
    out += fmt::format(",\"decided\":{},\"shown_to_customer\":{},\"message\":", r.rule_decided ? "true" : "false",
                       r.rule_visible ? "true" : "false");
    AppendJsonString(out, r.rule_message);
    if (r.max_output_tokens > 0) out += fmt::format(",\"max_output_tokens\":{}", r.max_output_tokens);
    out += "}";
  }
  out += "}";
  return out;
}

// What the end client may see: why, as a customer-facing code, without
// campaign ids, scores or detector reasons (those would teach an attacker
// which signal caught it).
std::string_view ClientReason(Decision d) {
  switch (d) {
    case Decision::kAllow: return "none";
    case Decision::kThrottle: return "rate_limited";
    case Decision::kChallenge: return "verification_required";
    case Decision::kBlock: return "access_denied";
    case Decision::kWithholdReasoning: return "reasoning_withheld";
  }
  return "none";
}

// A decision an access rule made carries the rule's customer-facing text,
// and its id unless the rule reads the detector's verdict (the id would
// tell the client the detector judged it). A cap rides along.
std::string_view ClientReason(const CheckResult& r) {
  if (r.rule_decided && r.decision == Decision::kBlock) return "model_not_available";
  return ClientReason(r.decision);
}

std::string ClientDecisionJson(const CheckResult& r, std::optional<int> retry_after_s) {
  std::string out = fmt::format("{{\"decision\":\"{}\",\"reason\":\"{}\",\"ttl_s\":{}", DecisionName(r.decision),
                                ClientReason(r), r.ttl_s);
  if (retry_after_s) out += fmt::format(",\"retry_after_s\":{}", *retry_after_s);
  if (!r.rule_id.empty() && (r.rule_decided || r.max_output_tokens > 0)) {
    if (r.rule_visible) {
      out += ",\"rule_id\":";
      AppendJsonString(out, r.rule_id);
    }
    out += ",\"message\":";
    AppendJsonString(out, r.rule_message);
  }
  if (r.max_output_tokens > 0) out += fmt::format(",\"max_output_tokens\":{}", r.max_output_tokens);
  out += "}";
  return out;
}

std::string_view QueryOf(const Request& req) {
  const std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
}

std::string Header(const http::request_header<>& req, std::string_view name) {
  const auto it = req.find(beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string() : std::string(it->value());
}


enum class Route { kHealth, kReady, kMetrics, kCheck, kAuthz, kEvents, kCampaigns, kCampaign, kAccount, kOverride, kIndicators, kIndicator, kAccounts, kAccessRules, kAccessReload, kAccessAudit, kConsole, kNone };

// Path without the query string -> route and its {id} (still percent-encoded).
Route Match(std::string_view target, std::string* id) {
  const std::string_view path = target.substr(0, target.find('?'));
  auto starts = [&](std::string_view p) { return path.substr(0, p.size()) == p; };
  if (Console::Owns(path)) return Route::kConsole;  // the analyst console's routes (serve/console.h)
  if (path == "/healthz") return Route::kHealth;
  if (path == "/readyz") return Route::kReady;
  if (path == "/metrics") return Route::kMetrics;
  if (path == "/v1/check") return Route::kCheck;
  if (path == "/v1/authz" || starts("/v1/authz/")) return Route::kAuthz;
  if (path == "/v1/events") return Route::kEvents;
  if (path == "/v1/indicators") return Route::kIndicators;
  if (path == "/v1/campaigns") return Route::kCampaigns;
  if (path == "/v1/accounts") return Route::kAccounts;
  if (path == "/v1/access/rules") return Route::kAccessRules;
  if (path == "/v1/access/reload") return Route::kAccessReload;
  if (path == "/v1/access/audit") return Route::kAccessAudit;
  auto tail = [&](std::string_view prefix, std::string_view suffix) {
    if (!starts(prefix) || path.size() <= prefix.size() + suffix.size()) return false;
    if (path.substr(path.size() - suffix.size()) != suffix) return false;
    const std::string_view mid = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
    if (mid.find('/') != std::string_view::npos) return false;
    id->assign(mid);
    return true;
  };
  if (tail("/v1/campaigns/", "")) return Route::kCampaign;
  if (tail("/v1/accounts/", "/override")) return Route::kOverride;
  if (tail("/v1/accounts/", "")) return Route::kAccount;
  if (tail("/v1/indicators/", "")) return Route::kIndicator;
  return Route::kNone;
}

bool IsSlow(Route r) {
  return r == Route::kEvents || r == Route::kCampaigns || r == Route::kCampaign || r == Route::kAccount ||
         r == Route::kOverride || r == Route::kIndicators || r == Route::kIndicator || r == Route::kAccounts ||
         r == Route::kAccessRules || r == Route::kAccessReload || r == Route::kAccessAudit || r == Route::kConsole;
}

bool IsOpen(Route r) { return r == Route::kHealth || r == Route::kReady || r == Route::kMetrics || r == Route::kNone; }
bool IsGatewayRoute(Route r) { return r == Route::kCheck || r == Route::kAuthz || r == Route::kEvents; }

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::chrono::steady_clock::duration Seconds(double s) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(std::max(0.001, s)));
}

class Session;

}  // namespace

struct HttpServer::Impl {
  Impl(Service& s, HttpOptions o)
      : service(s),
        options(std::move(o)),
        throttle(options.throttle_rate_per_s, options.throttle_burst),
        ioc(1),
        acceptor(ioc),
        accept_backoff(ioc),
        pool_guard(pool.get_executor()) {
    max_connections = options.max_connections;
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
      const size_t fds = static_cast<size_t>(rl.rlim_cur);
      const size_t by_fds = fds > 128 ? fds - 64 : fds / 2;
      if (max_connections == 0 || max_connections > by_fds) max_connections = by_fds;
    }
    if (max_connections == 0) max_connections = 10000;
    max_inflight_body_bytes = 4 * std::max(options.max_body_bytes, options.max_small_body_bytes);
    // Slow routes run at nice 19: on a busy machine the event loop's
    // decisions get the CPU first, while ingest still progresses (SCHED_IDLE
    // was tried: it starved ingest completely under decision load).
    for (int i = 0; i < std::max(1, options.workers); ++i) {
      workers.emplace_back([this] {
        setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 19);
        pool.run();
      });
    }
  }

  Service& service;
  HttpOptions options;
  RateLimiter throttle;  // event-loop thread only
  // Connections (event-loop thread only). Declared before ioc: sessions
  // destroyed with the io_context still find them.
  size_t connections = 0;
  size_t max_connections = 0;
  std::list<Session*> idle;  // sessions waiting for a request header, oldest first
  std::atomic<uint64_t> shed{0}, timed_out{0};
  std::atomic<size_t> inflight_body_bytes{0};
  size_t max_inflight_body_bytes = 0;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_backoff;
  asio::io_context pool;  // slow routes
  asio::executor_work_guard<asio::io_context::executor_type> pool_guard;
  std::vector<std::thread> workers;

  // Auth on the header alone. True to go on; else fills res (401/403).
  bool Authorized(Route route, AuthRole role, Response& res) const {
    if (IsOpen(route)) return true;
    if (IsGatewayRoute(route)) {
      if (!options.tokens.any() || role != AuthRole::kNone) return true;
      Fail(res, absl::UnauthenticatedError("missing or wrong bearer token"));
      return false;
    }
    if (options.tokens.analyst.empty()) {
      Fail(res, absl::PermissionDeniedError(
                    "analyst endpoints need the analyst token: start serve with --analyst-token-file FILE, --token-file FILE or "
                    "DISTILLGUARD_TOKEN"));
      return false;
    }
    if (role == AuthRole::kAnalyst) return true;
    if (role == AuthRole::kGateway) {
      Fail(res, absl::PermissionDeniedError("this token has the gateway role; analyst endpoints need the analyst token"));
      return false;
    }
    Fail(res, absl::UnauthenticatedError("missing or wrong bearer token"));
    return false;
  }

  void Handle(Route route, AuthRole role, const std::string& id, const Request& req, Response& res, const std::string& peer = {});
  // The console's own admission (sessions, CSRF) and answers (serve/console.h).
  template <class Message>  // a Request, or the parser's message while only its header is in
  static ConsoleRequest ToConsole(const Message& req, const std::string& peer) {
    ConsoleRequest c;
    c.method = std::string_view(req.method_string().data(), req.method_string().size());
    c.target = std::string_view(req.target().data(), req.target().size());
    c.body = req.body();
    auto field = [&](http::field f) {
      const auto v = req[f];
      return std::string_view(v.data(), v.size());
    };
    c.authorization = field(http::field::authorization);
    c.cookie = field(http::field::cookie);
    c.origin = field(http::field::origin);
    c.host = field(http::field::host);
    c.accept_encoding = field(http::field::accept_encoding);
    const auto csrf = req.find("X-CSRF-Token");
    if (csrf != req.end()) c.csrf = std::string_view(csrf->value().data(), csrf->value().size());
    c.peer = peer;
    return c;
  }
  static void FromConsole(ConsoleResponse&& c, Response& res) {
    res.result(c.status);
    res.set(http::field::content_type, c.content_type);
    for (auto& [k, v] : c.headers) res.insert(k, v);
    res.body() = std::move(c.body);
  }
  void Check(AuthRole role, const Request& req, Response& res);
  void Authz(const Request& req, Response& res);
  // Applies the throttle rate to a decision; returns retry_after_s when over it.
  std::optional<int> Throttle(const std::string& account, CheckResult* r);
  void Override(const std::string& account, const Request& req, Response& res);
  void Accept();
  void ShedOldestIdle();
};

std::optional<int> HttpServer::Impl::Throttle(const std::string& account, CheckResult* r) {
  if (r->decision != Decision::kThrottle) return std::nullopt;
  const auto wait = throttle.Take(account, NowSeconds());
  if (!wait) {
    // Within the account's rate: served, and re-checked on every request.
    r->decision = Decision::kAllow;
    r->ttl_s = 0;
    return std::nullopt;
  }
  r->ttl_s = 0;
  return std::max(1, static_cast<int>(std::ceil(*wait)));
}

void HttpServer::Impl::Check(AuthRole role, const Request& req, Response& res) {
  const auto t0 = std::chrono::steady_clock::now();
  if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
  CheckRequest cr;
  if (const absl::Status parsed = ParseCheckBody(req.body(), &cr); !parsed.ok()) return Fail(res, parsed);
  cr.ip = NormalizeIp(cr.ip);
  CheckResult r = service.Check(cr);
  const auto retry = Throttle(cr.account_id, &r);
  if (options.console != nullptr) options.console->LogDecision(cr, r, "check");
  Json(res, 200, role == AuthRole::kAnalyst ? DecisionJson(r, retry) : ClientDecisionJson(r, retry));
  if (retry) res.set(http::field::retry_after, std::to_string(*retry));
  service.RecordDecision(r.decision, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
}

// Envoy ext_authz (HTTP service): Envoy forwards the client's headers
// (configure allowed_headers) to this path prefix; 200 lets the request
// through, anything else is returned to the client -- so the body says no
// more than the decision and a customer-facing reason code.
void HttpServer::Impl::Authz(const Request& req, Response& res) {
  const auto t0 = std::chrono::steady_clock::now();
  CheckRequest cr;
  cr.account_id = Header(req, "x-account-id");
  cr.api_key_id = Header(req, "x-api-key-id");
  // The address our proxy appended, not the client-written leftmost entry.
  cr.ip = ClientAddress(Header(req, "x-forwarded-for"), options.trusted_hops);
  cr.user_agent = Header(req, "user-agent");
  cr.payment_fingerprint = Header(req, "x-payment-fingerprint");
  cr.model = Header(req, "x-model");
  if (cr.account_id.empty()) return Fail(res, absl::InvalidArgumentError("header 'x-account-id': required"));
  CheckResult r = service.Check(cr);
  const auto retry = Throttle(cr.account_id, &r);
  if (options.console != nullptr) options.console->LogDecision(cr, r, "authz");
  unsigned status = 200;
  if (r.decision == Decision::kBlock || r.decision == Decision::kChallenge) status = 403;
  if (r.decision == Decision::kThrottle) status = 429;
  Json(res, status, ClientDecisionJson(r, retry));
  res.set("x-distillguard-decision", std::string(DecisionName(r.decision)));
  if (r.rule_visible && !r.rule_id.empty()) res.set("x-distillguard-rule", r.rule_id);
  if (r.max_output_tokens > 0) res.set("x-distillguard-max-output-tokens", std::to_string(r.max_output_tokens));
  if (retry) res.set(http::field::retry_after, std::to_string(*retry));
  service.RecordDecision(r.decision, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
}

void HttpServer::Impl::Override(const std::string& account, const Request& req, Response& res) {
  if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
  OverrideBody body;
  if (const absl::Status parsed = ParseOverrideBody(req.body(), &body); !parsed.ok()) return Fail(res, parsed);
  if (const absl::Status st = service.Override(account, body.action, body.by, body.reason); !st.ok()) return Fail(res, st);
  Json(res, 200, *service.AccountJson(account));
}

void HttpServer::Impl::Handle(Route route, AuthRole role, const std::string& id, const Request& req, Response& res,
                              const std::string& peer) {
  const bool get = req.method() == http::verb::get;
  switch (route) {
    case Route::kConsole:
      if (options.console == nullptr) break;
      return FromConsole(options.console->Handle(ToConsole(req, peer)), res);
    case Route::kHealth: return Json(res, 200, "{\"status\":\"ok\"}");
    case Route::kReady: {
      std::string why;
      if (service.Ready(&why)) return Json(res, 200, "{\"status\":\"ready\"}");
      return Fail(res, absl::UnavailableError("not ready: " + why));
    }
    case Route::kMetrics:
      res.result(200);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = service.Metrics() +
                   fmt::format("# HELP distillguard_connections Open HTTP connections\n# TYPE distillguard_connections gauge\n"
                               "distillguard_connections {}\n"
                               "# HELP distillguard_connections_shed_total Idle connections closed to make room for new ones\n"
                               "# TYPE distillguard_connections_shed_total counter\ndistillguard_connections_shed_total {}\n"
                               "# HELP distillguard_connections_timed_out_total Connections closed at their header or body deadline\n"
                               "# TYPE distillguard_connections_timed_out_total counter\ndistillguard_connections_timed_out_total {}\n",
                               connections, shed.load(), timed_out.load());
      return;
    case Route::kCheck: return Check(role, req, res);
    case Route::kAuthz: return Authz(req, res);
    case Route::kEvents: {
      if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
      // NDJSON, a JSON array, gzip: bounded inflation (413 past the body cap x 8).
      const auto enc = req[http::field::content_encoding];
      const DecodedBody body = DecodeEventsBody(req.body(), std::string_view(enc.data(), enc.size()),
                                                options.max_body_bytes * 8);
      if (!body.status.ok()) return Fail(res, body.status);
      const IngestResult r = service.Ingest(body.Ndjson(req.body()), "request");
      if (!r.stored) return Fail(res, r.store_error, "events not stored (nothing was accepted; retry): ");
      std::string out = fmt::format("{{\"accepted\":{},\"duplicates\":{},\"rejected\":{},\"errors\":[", r.accepted, r.duplicates, r.rejected);
      for (size_t idx = 0; idx < r.errors.size(); ++idx) {
        if (idx) out += ",";
        AppendJsonString(out, r.errors[idx]);
      }
      out += "]}";
      // Every line bad: the request as a whole is bad.
      return Json(res, r.rejected > 0 && r.accepted == 0 && r.duplicates == 0 ? 400 : 200, std::move(out));
    }
    case Route::kCampaigns:
      if (!get) return Fail(res, 405, "use GET");
      return Json(res, 200, service.CampaignsJson());
    case Route::kCampaign: {
      if (!get) return Fail(res, 405, "use GET");
      auto c = service.CampaignJson(id);
      if (!c) return Fail(res, absl::NotFoundError("no such campaign"));
      return Json(res, 200, std::move(*c));
    }
    case Route::kAccount: {
      if (!get) return Fail(res, 405, "use GET");
      auto a = service.AccountJson(id);
      if (!a) return Fail(res, absl::NotFoundError("no such account"));
      return Json(res, 200, std::move(*a));
    }
    case Route::kOverride: return Override(id, req, res);
    case Route::kIndicators: {
      if (get) {
        auto list = service.IndicatorsJson();
        if (!list.ok()) return Fail(res, list.status());
        return Json(res, 200, std::move(*list));
      }
      if (req.method() != http::verb::post) return Fail(res, 405, "use GET or POST");
      const std::string_view target(req.target().data(), req.target().size());
      const size_t q = target.find('?');
      SharedTrust trust = SharedTrust::kReview;
      std::string bundle;
      if (const absl::Status parsed = ParseIndicatorsRequest(q == std::string_view::npos ? std::string_view() : target.substr(q + 1),
                                                             req.body(), &trust, &bundle);
          !parsed.ok()) {
        return Fail(res, parsed);
      }
      const auto r = service.ImportStix(bundle, "request", trust);
      if (!r.ok()) return Fail(res, r.status());
      if (!r->stored) return Fail(res, r->store_error, "indicators not stored (nothing was imported; retry): ");
      std::string out = fmt::format("{{\"imported\":{},\"trust\":\"{}\",\"objects\":{},\"skipped\":{{", r->imported,
                                    SharedTrustName(trust), r->objects);
      bool first = true;
      for (const auto& [reason, n] : r->skipped) {
        if (!first) out += ",";
        first = false;
        AppendJsonString(out, reason);
        out += fmt::format(":{}", n);
      }
      out += "}}";
      return Json(res, 200, std::move(out));
    }
    case Route::kIndicator: {
      if (req.method() != http::verb::delete_) return Fail(res, 405, "use DELETE");
      if (const absl::Status removed = service.RemoveIndicator(id); !removed.ok()) return Fail(res, removed);
      std::string out = "{\"removed\":";
      AppendJsonString(out, id);
      return Json(res, 200, out + "}");
    }
    case Route::kAccounts: {
      // Account attributes (JSONL, a JSON array or CSV), upserted durably.
      if (req.method() != http::verb::put) return Fail(res, 405, "use PUT");
      const auto n = service.PutAccounts(req.body(), "request");
      if (!n.ok()) return Fail(res, n.status());  // bad input 400, the store 503: by the code
      return Json(res, 200, fmt::format("{{\"upserted\":{}}}", *n));
    }
    case Route::kAccessRules:
      if (!get) return Fail(res, 405, "use GET");
      return Json(res, 200, service.AccessRulesJson());
    case Route::kAccessReload: {
      // Who reloads is recorded in the audit with the file's hash.
      if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
      OverrideBody body;
      if (const absl::Status parsed = ParseReloadBody(req.body(), &body); !parsed.ok()) return Fail(res, parsed);
      // Without rules: FailedPrecondition (409); a refused file: 422.
      const auto loaded = service.ReloadAccessRules(body.by, body.reason.empty() ? "api" : "api: " + body.reason);
      if (!loaded.ok()) return Fail(res, loaded.status());
      return Json(res, 200, "{\"reloaded\":true,\"rules\":" + *loaded + "}");
    }
    case Route::kAccessAudit: {
      if (!get) return Fail(res, 405, "use GET");
      int64_t since = 0;
      size_t limit = 100000;
      if (const absl::Status parsed = ParseAuditQuery(QueryOf(req), &since, &limit); !parsed.ok()) return Fail(res, parsed);
      auto lines = service.AccessAuditJsonl(since, limit);  // without rules 409, a read error 503
      if (!lines.ok()) return Fail(res, lines.status());
      res.result(200);
      res.set(http::field::content_type, "application/x-ndjson");
      res.body() = std::move(*lines);
      return;
    }
    case Route::kNone: break;
  }
  Fail(res, absl::NotFoundError("no such endpoint"));
}

namespace {

bool IsHttpProtocolError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() && ec != http::error::end_of_stream &&
         ec != http::error::partial_message && ec != http::error::need_more;
}

// One connection: read header (deadline: idle_timeout_s), decide route and
// auth on it, read the body (deadline: body_timeout_s), answer (inline or on
// the worker pool), write, repeat while keep-alive. All network I/O is
// asynchronous on the event loop; only the handling of slow routes runs on
// a worker, so a stalled client never holds a worker.
class Session : public std::enable_shared_from_this<Session> {
  // Read room for a large body, and the capacity a connection keeps between requests.
  static constexpr size_t kBodyReadBytes = 64 * 1024;
  static constexpr size_t kHeaderReadBytes = 4 * 1024;

 public:
  Session(tcp::socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {
    ++server_.connections;
    beast::error_code ec;
    const auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) peer_ = ep.address().to_string();
  }
  ~Session() {
    LeaveIdle();
    ReleaseBody();
    Uncount();
  }
  void Start() { ReadHeader(); }

  // Closes an idle connection to make room (event-loop thread).
  void Shed() {
    LeaveIdle();
    Uncount();
    beast::error_code ignored;  // a close that fails leaves nothing to undo: the descriptor is released either way
    stream_.socket().close(ignored);
  }

 private:
  void EnterIdle() {
    if (in_idle_) return;
    idle_it_ = server_.idle.insert(server_.idle.end(), this);
    in_idle_ = true;
  }
  void LeaveIdle() {
    if (!in_idle_) return;
    server_.idle.erase(idle_it_);
    in_idle_ = false;
  }
  // A connection counts against the cap until its descriptor is closed.
  void Uncount() {
    if (!counted_) return;
    counted_ = false;
    --server_.connections;
  }
  void ReleaseBody() {
    if (reserved_ > 0) server_.inflight_body_bytes.fetch_sub(reserved_);
    reserved_ = 0;
  }

  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    // The route's own limit is applied once the header is in. (Boost 1.74
    // compares the length against an empty optional as "over the limit",
    // so the limit here is a number.)
    parser_->body_limit(std::max(server_.options.max_body_bytes, server_.options.max_small_body_bytes));
    EnterIdle();
    stream_.expires_after(Seconds(server_.options.idle_timeout_s));
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    LeaveIdle();
    if (ec == http::error::header_limit) return Reply(431, "request header too large (limit 16384 bytes)");
    if (ec && IsHttpProtocolError(ec)) return Reply(400, "malformed HTTP request: " + ec.message());
    if (ec) {
      if (ec == beast::error::timeout) server_.timed_out.fetch_add(1, std::memory_order_relaxed);
      return Close(ec);
    }
    const auto& head = parser_->get();
    std::string raw_id;
    route_ = Match(std::string_view(head.target().data(), head.target().size()), &raw_id);
    if (!PercentDecode(raw_id, &id_)) return Reply(400, "path: a bad percent-escape in the id");
    role_ = RoleOf(server_.options.tokens, Header(head, "Authorization"));
    // Auth before any byte of the body is read.
    res_ = {};
    res_.version(11);
    if (route_ == Route::kConsole) {
      // Sessions and CSRF are the console's (serve/console.h); still on the header alone.
      if (server_.options.console == nullptr) return Reply(404, "no such endpoint");
      ConsoleResponse refused;
      if (!server_.options.console->Admit(HttpServer::Impl::ToConsole(head, peer_), &refused)) {
        HttpServer::Impl::FromConsole(std::move(refused), res_);
        return Write(false);
      }
    } else if (!server_.Authorized(route_, role_, res_)) {
      return Write(false);
    }
    limit_ = route_ == Route::kEvents || route_ == Route::kIndicators || route_ == Route::kAccounts ? server_.options.max_body_bytes
                                                                        : server_.options.max_small_body_bytes;
    const auto length = parser_->content_length();
    if (length && *length > limit_) return TooLarge();
    parser_->body_limit(limit_);
    if (IsSlow(route_)) {
      // Bounded memory for bodies in flight (declared size, or the limit).
      const size_t want = std::max<size_t>(1, length ? static_cast<size_t>(*length) : limit_);
      if (server_.inflight_body_bytes.fetch_add(want) + want > server_.max_inflight_body_bytes) {
        server_.inflight_body_bytes.fetch_sub(want);
        res_.set(http::field::retry_after, "1");
        Fail(res_, 503, "too many request bodies in flight; retry");
        return Write(false);
      }
      reserved_ = want;
    }
    if (beast::iequals(Header(head, "Expect"), "100-continue")) {
      continue_ = {};
      continue_.version(11);
      continue_.result(http::status::continue_);
      stream_.expires_after(Seconds(server_.options.body_timeout_s));
      http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->Close(ec);
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    // Beast reads max(512, free capacity) bytes a call: a large body read
    // through the header's ~1 KB buffer costs a recv and a timer re-arm per
    // kilobyte (measured: most of serve's CPU on POST /v1/events). A slow
    // route's body reads 64 KiB a call; the room is within what the body
    // reserved against max_inflight_body_bytes, and given back in OnBody.
    if (reserved_ > 0) buffer_.reserve(buffer_.size() + std::min<size_t>(kBodyReadBytes, reserved_));
    stream_.expires_after(Seconds(server_.options.body_timeout_s));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) return TooLarge();
    if (ec && IsHttpProtocolError(ec)) return Reply(400, "malformed HTTP request: " + ec.message());
    if (ec) {
      if (ec == beast::error::timeout) server_.timed_out.fetch_add(1, std::memory_order_relaxed);
      return Close(ec);
    }
    res_ = {};
    res_.version(11);
    {
      auto message = parser_->release();
      req_ = Request(std::move(message.base()), std::move(message.body()));
    }
    if (buffer_.capacity() > kHeaderReadBytes) buffer_.shrink_to_fit();
    const bool keep = req_.keep_alive();
    if (!IsSlow(route_)) {
      server_.Handle(route_, role_, id_, req_, res_);
      return Write(keep);
    }
    // Slow routes: handled on a worker (nothing else touches this session
    // meanwhile), answered from the event loop.
    asio::post(server_.pool, [self = shared_from_this(), keep] {
      self->server_.Handle(self->route_, self->role_, self->id_, self->req_, self->res_, self->peer_);
      self->req_ = {};
      self->ReleaseBody();
      asio::post(self->stream_.get_executor(), [self, keep] { self->Write(keep); });
    });
  }

  // An error answer, then close (the rest of the request is not read).
  void Reply(unsigned status, std::string_view message) {
    res_ = {};
    res_.version(11);
    Fail(res_, status, message);
    Write(false);
  }

  // 413, then close: the unread body makes the connection unusable.
  void TooLarge() { Reply(413, fmt::format("request body too large (limit {} bytes)", limit_)); }

  void Write(bool keep) {
    ReleaseBody();
    res_.keep_alive(keep);
    res_.prepare_payload();
    stream_.expires_after(Seconds(server_.options.body_timeout_s));
    http::async_write(stream_, res_, [self = shared_from_this(), keep](beast::error_code ec, size_t) {
      if (ec || !keep) return self->Close(ec);
      self->req_ = {};
      self->ReadHeader();
    });
  }

  void Close(beast::error_code) {
    beast::error_code ignored;  // the peer may be gone already; the socket is closed either way
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
    Uncount();
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<AppendStringBody>> parser_;
  Request req_;
  Response res_;
  http::response<http::empty_body> continue_;
  Route route_ = Route::kNone;
  AuthRole role_ = AuthRole::kNone;
  std::string id_;
  std::string peer_;  // client address (the console's login rate limit)
  size_t limit_ = 0;
  size_t reserved_ = 0;  // declared body bytes counted in inflight_body_bytes
  bool in_idle_ = false;
  bool counted_ = true;
  std::list<Session*>::iterator idle_it_;
};

}  // namespace

void HttpServer::Impl::ShedOldestIdle() {
  if (idle.empty()) return;
  Session* oldest = idle.front();
  oldest->Shed();
  shed.fetch_add(1, std::memory_order_relaxed);
}

void HttpServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec == asio::error::no_descriptors || ec.value() == ENFILE || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory) {
      // Out of descriptors: make room and back off instead of spinning.
      ShedOldestIdle();
      accept_backoff.expires_after(std::chrono::milliseconds(50));
      accept_backoff.async_wait([this](beast::error_code e) {
        if (!e) Accept();
      });
      return;
    }
    if (!ec) {
      // At the cap: the connection idle the longest makes room; with none
      // idle (all busy), the new one is refused.
      beast::error_code ignored;  // closing a refused socket: nothing to do if that fails
      if (connections >= max_connections) ShedOldestIdle();
      if (connections >= max_connections) {
        socket.close(ignored);
      } else {
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), *this)->Start();
      }
    }
    Accept();
  });
}

HttpServer::HttpServer(Service& service, HttpOptions options) : impl_(std::make_unique<Impl>(service, std::move(options))) {}

HttpServer::~HttpServer() {
  Stop();
  Join();
}

void HttpServer::Join() {
  impl_->pool_guard.reset();
  for (auto& t : impl_->workers) {
    if (t.joinable()) t.join();
  }
}

absl::StatusOr<int> HttpServer::Bind() {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(fmt::format("--listen: '{}' is not an IP address", impl_->options.host));
  }
  const tcp::endpoint ep(address, static_cast<uint16_t>(impl_->options.port));
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(fmt::format("cannot listen on {}:{}: {}", impl_->options.host, impl_->options.port, ec.message()));
  }
  return acc.local_endpoint().port();
}

bool HttpServer::Run() {
  impl_->Accept();
  impl_->ioc.run();
  return true;
}

void HttpServer::Stop() { impl_->ioc.stop(); }

size_t HttpServer::max_connections() const { return impl_->max_connections; }

}  // namespace dg
