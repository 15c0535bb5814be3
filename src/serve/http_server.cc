#include "serve/http_server.h"

// Boost 1.74's asio/awaitable.hpp uses std::exchange without <utility>.
#include <utility>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "common/json_out.h"
#include "serve/requests.h"

namespace dg {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

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

void Fail(Response& res, unsigned status, std::string_view message) { Json(res, status, ErrorJson(message)); }

std::string DecisionJson(const CheckResult& r) {
  std::string out = fmt::format("{{\"decision\":\"{}\",\"campaign_id\":", DecisionName(r.decision));
  if (r.campaign_id.empty()) out += "null";
  else AppendJsonString(out, r.campaign_id);
  out += fmt::format(",\"score\":{:.4f},\"reasons\":[", r.score);
  bool first = true;
  for (size_t b = 0; b < kReasonCount; ++b) {
    if ((r.reasons & (1u << b)) == 0) continue;
    if (!first) out += ",";
    first = false;
    out += "\"";
    out += ReasonName(static_cast<Reason>(b));
    out += "\"";
  }
  out += fmt::format("],\"ttl_s\":{}}}", r.ttl_s);
  return out;
}

std::string Header(const Request& req, std::string_view name) {
  const auto it = req.find(beast::string_view(name.data(), name.size()));
  return it == req.end() ? std::string() : std::string(it->value());
}

enum class Route { kHealth, kReady, kMetrics, kCheck, kAuthz, kEvents, kCampaigns, kCampaign, kAccount, kOverride, kIndicators, kNone };

// Path without the query string -> route and its {id}.
Route Match(std::string_view target, std::string* id) {
  const std::string_view path = target.substr(0, target.find('?'));
  auto starts = [&](std::string_view p) { return path.substr(0, p.size()) == p; };
  if (path == "/healthz") return Route::kHealth;
  if (path == "/readyz") return Route::kReady;
  if (path == "/metrics") return Route::kMetrics;
  if (path == "/v1/check") return Route::kCheck;
  if (path == "/v1/authz" || starts("/v1/authz/")) return Route::kAuthz;
  if (path == "/v1/events") return Route::kEvents;
  if (path == "/v1/indicators") return Route::kIndicators;
  if (path == "/v1/campaigns") return Route::kCampaigns;
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
  return Route::kNone;
}

bool IsSlow(Route r) {
  return r == Route::kEvents || r == Route::kCampaigns || r == Route::kCampaign || r == Route::kAccount ||
         r == Route::kOverride || r == Route::kIndicators;
}

}  // namespace

struct HttpServer::Impl {
  Impl(Service& s, HttpOptions o) : service(s), options(std::move(o)), ioc(1), acceptor(ioc), pool_guard(pool.get_executor()) {
    if (!options.token.empty()) bearer = "Bearer " + options.token;
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
  std::string bearer;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::io_context pool;  // slow routes
  asio::executor_work_guard<asio::io_context::executor_type> pool_guard;
  std::vector<std::thread> workers;

  bool GatewayOk(const Request& req, Response& res) const {
    if (bearer.empty() || Header(req, "Authorization") == bearer) return true;
    Fail(res, 401, "missing or wrong bearer token");
    return false;
  }
  bool AnalystOk(const Request& req, Response& res) const {
    if (bearer.empty()) {
      Fail(res, 403, "analyst endpoints need a token: start serve with --token-file FILE or DISTILLGUARD_TOKEN");
      return false;
    }
    if (Header(req, "Authorization") == bearer) return true;
    Fail(res, 401, "missing or wrong bearer token");
    return false;
  }

  void Handle(Route route, const std::string& id, const Request& req, Response& res);
  void Check(const Request& req, Response& res);
  void Authz(const Request& req, Response& res);
  void Override(const std::string& account, const Request& req, Response& res);
  void Accept();
};

void HttpServer::Impl::Check(const Request& req, Response& res) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!GatewayOk(req, res)) return;
  if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
  CheckRequest cr;
  std::string error;
  if (!ParseCheckBody(req.body(), &cr, &error)) return Fail(res, 400, error);
  const CheckResult r = service.Check(cr);
  Json(res, 200, DecisionJson(r));
  service.RecordDecision(r.decision, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
}

// Envoy ext_authz (HTTP service): Envoy forwards the client's headers
// (configure allowed_headers) to this path prefix; 200 lets the request
// through, anything else is returned to the client.
void HttpServer::Impl::Authz(const Request& req, Response& res) {
  const auto t0 = std::chrono::steady_clock::now();
  if (!GatewayOk(req, res)) return;
  CheckRequest cr;
  cr.account_id = Header(req, "x-account-id");
  cr.api_key_id = Header(req, "x-api-key-id");
  cr.ip = Header(req, "x-forwarded-for");
  if (const size_t comma = cr.ip.find(','); comma != std::string::npos) cr.ip.resize(comma);
  cr.user_agent = Header(req, "user-agent");
  cr.payment_fingerprint = Header(req, "x-payment-fingerprint");
  cr.model = Header(req, "x-model");
  if (cr.account_id.empty()) return Fail(res, 400, "header 'x-account-id': required");
  const CheckResult r = service.Check(cr);
  unsigned status = 200;
  if (r.decision == Decision::kBlock || r.decision == Decision::kChallenge) status = 403;
  if (r.decision == Decision::kThrottle) status = 429;
  Json(res, status, DecisionJson(r));
  res.set("x-distillguard-decision", std::string(DecisionName(r.decision)));
  if (!r.campaign_id.empty()) res.set("x-distillguard-campaign", r.campaign_id);
  service.RecordDecision(r.decision, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
}

void HttpServer::Impl::Override(const std::string& account, const Request& req, Response& res) {
  if (!AnalystOk(req, res)) return;
  if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
  OverrideBody body;
  std::string error;
  if (!ParseOverrideBody(req.body(), &body, &error)) return Fail(res, 400, error);
  if (!service.Override(account, body.action, body.by, body.reason, &error)) {
    return Fail(res, error.rfind("field", 0) == 0 ? 400 : 503, error);
  }
  Json(res, 200, *service.AccountJson(account));
}

void HttpServer::Impl::Handle(Route route, const std::string& id, const Request& req, Response& res) {
  const bool get = req.method() == http::verb::get;
  switch (route) {
    case Route::kHealth: return Json(res, 200, "{\"status\":\"ok\"}");
    case Route::kReady:
      if (service.ready()) return Json(res, 200, "{\"status\":\"ready\"}");
      return Fail(res, 503, "replaying the log");
    case Route::kMetrics:
      res.result(200);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = service.Metrics();
      return;
    case Route::kCheck: return Check(req, res);
    case Route::kAuthz: return Authz(req, res);
    case Route::kEvents: {
      if (!GatewayOk(req, res)) return;
      if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
      const IngestResult r = service.Ingest(req.body(), "request");
      if (!r.stored) return Fail(res, 503, "events not stored (nothing was accepted; retry): " + r.store_error);
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
      if (!AnalystOk(req, res)) return;
      if (!get) return Fail(res, 405, "use GET");
      return Json(res, 200, service.CampaignsJson());
    case Route::kCampaign: {
      if (!AnalystOk(req, res)) return;
      if (!get) return Fail(res, 405, "use GET");
      auto c = service.CampaignJson(id);
      if (!c) return Fail(res, 404, "no such campaign");
      return Json(res, 200, std::move(*c));
    }
    case Route::kAccount: {
      if (!AnalystOk(req, res)) return;
      if (!get) return Fail(res, 405, "use GET");
      auto a = service.AccountJson(id);
      if (!a) return Fail(res, 404, "no such account");
      return Json(res, 200, std::move(*a));
    }
    case Route::kOverride: return Override(id, req, res);
    case Route::kIndicators: {
      if (!AnalystOk(req, res)) return;
      if (req.method() != http::verb::post) return Fail(res, 405, "use POST");
      std::string error;
      const auto n = service.ImportStix(req.body(), "request", &error);
      if (!n) return Fail(res, 400, error);
      return Json(res, 200, fmt::format("{{\"imported\":{}}}", *n));
    }
    case Route::kNone: break;
  }
  Fail(res, 404, "no such endpoint");
}

namespace {

// One connection: read header, pick the body limit by route, read body,
// answer (inline or on the worker pool), write, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl& server) : stream_(std::move(socket)), server_(server) {}
  void Start() { ReadHeader(); }

 private:
  void ReadHeader() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    // The route's own limit is applied once the header is in. (Boost 1.74
    // compares the length against an empty optional as "over the limit",
    // so the limit here is a number.)
    parser_->body_limit(std::max(server_.options.max_body_bytes, server_.options.max_small_body_bytes));
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Close(ec);
    route_ = Match(std::string_view(parser_->get().target().data(), parser_->get().target().size()), &id_);
    limit_ = route_ == Route::kEvents || route_ == Route::kIndicators ? server_.options.max_body_bytes
                                                                        : server_.options.max_small_body_bytes;
    const auto length = parser_->content_length();
    if (length && *length > limit_) return TooLarge();
    parser_->body_limit(limit_);
    if (!IsSlow(route_)) {
      http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
      return;
    }
    // Slow routes: the body (up to max_body_bytes), the work and the answer
    // all happen on a worker thread, with blocking I/O on this connection
    // (nothing else touches it meanwhile); the event loop only resumes the
    // keep-alive loop afterwards, so bulk uploads never delay decisions.
    asio::post(server_.pool, [self = shared_from_this()] {
      beast::error_code ec;
      http::read(self->stream_, self->buffer_, *self->parser_, ec);
      bool keep = false;
      self->res_ = {};
      self->res_.version(11);
      if (ec == http::error::body_limit) {
        Fail(self->res_, 413, fmt::format("request body too large (limit {} bytes)", self->limit_));
      } else if (ec) {
        return asio::post(self->stream_.get_executor(), [self, ec] { self->Close(ec); });
      } else {
        self->req_ = self->parser_->release();
        keep = self->req_.keep_alive();
        self->server_.Handle(self->route_, self->id_, self->req_, self->res_);
      }
      self->res_.keep_alive(keep);
      self->res_.prepare_payload();
      http::write(self->stream_, self->res_, ec);
      asio::post(self->stream_.get_executor(), [self, keep, ec] {
        if (ec || !keep) return self->Close(ec);
        self->req_ = {};
        self->ReadHeader();
      });
    });
  }

  void OnBody(beast::error_code ec) {
    if (ec == http::error::body_limit) return TooLarge();
    if (ec) return Close(ec);
    res_ = {};
    res_.version(11);
    req_ = parser_->release();
    const bool keep = req_.keep_alive();
    server_.Handle(route_, id_, req_, res_);
    Write(keep);
  }

  // 413, then close: the unread body makes the connection unusable.
  void TooLarge() {
    res_ = {};
    res_.version(11);
    Fail(res_, 413, fmt::format("request body too large (limit {} bytes)", limit_));
    Write(false);
  }

  void Write(bool keep) {
    res_.keep_alive(keep);
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this(), keep](beast::error_code ec, size_t) {
      if (ec || !keep) return self->Close(ec);
      self->req_ = {};
      self->ReadHeader();
    });
  }

  void Close(beast::error_code) {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  beast::tcp_stream stream_;
  HttpServer::Impl& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Request req_;
  Response res_;
  Route route_ = Route::kNone;
  std::string id_;
  size_t limit_ = 0;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), *this)->Start();
    }
    Accept();
  });
}

HttpServer::HttpServer(Service& service, HttpOptions options) : impl_(std::make_unique<Impl>(service, std::move(options))) {}

HttpServer::~HttpServer() {
  Stop();
  impl_->pool_guard.reset();
  for (auto& t : impl_->workers) t.join();
}

int HttpServer::Bind(std::string* error) {
  beast::error_code ec;
  const auto address = asio::ip::make_address(impl_->options.host, ec);
  if (ec) {
    *error = fmt::format("--listen: '{}' is not an IP address", impl_->options.host);
    return -1;
  }
  const tcp::endpoint ep(address, static_cast<uint16_t>(impl_->options.port));
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = fmt::format("cannot listen on {}:{}: {}", impl_->options.host, impl_->options.port, ec.message());
    return -1;
  }
  return acc.local_endpoint().port();
}

bool HttpServer::Run() {
  impl_->Accept();
  impl_->ioc.run();
  return true;
}

void HttpServer::Stop() { impl_->ioc.stop(); }

}  // namespace dg
