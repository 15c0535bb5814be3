#include "serve/http_server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <simdjson.h>

#include "common/json_out.h"

namespace dg {
namespace {

std::string ErrorJson(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(out, message);
  out += "}";
  return out;
}

void Fail(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(ErrorJson(message), "application/json");
}

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

// Reads an optional string field; false (with *error) if present and not a string.
bool OptionalString(simdjson::dom::object& obj, const char* key, std::string* out, std::string* error) {
  simdjson::dom::element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return true;
  std::string_view v;
  if (e.get_string().get(v) != simdjson::SUCCESS) {
    *error = fmt::format("field '{}': must be a string", key);
    return false;
  }
  out->assign(v);
  return true;
}

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

HttpServer::HttpServer(Service& service, HttpOptions options)
    : service_(service), options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  const int threads = options_.threads > 0 ? options_.threads
                                            : std::max(8, 4 * static_cast<int>(std::thread::hardware_concurrency()));
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));  // inherited by accepted sockets
  });
  server_->set_keep_alive_max_count(1u << 20);
  server_->set_keep_alive_timeout(30);
  server_->set_read_timeout(30);
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    Fail(res, 500, "internal error");
  });
  server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) Fail(res, 413, "request body too large");
    else if (res.status == 404) Fail(res, 404, "no such endpoint");
    else Fail(res, res.status, "bad request");
  });
  Routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::Bind(std::string* error) {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port < 0) *error = fmt::format("cannot listen on {}:{} (in use, or not an address of this machine)", options_.host, options_.port);
  return port;
}

bool HttpServer::Run() { return server_->listen_after_bind(); }

void HttpServer::Stop() { server_->stop(); }

void HttpServer::Routes() {
  httplib::Server& s = *server_;
  const std::string bearer = options_.token.empty() ? std::string() : "Bearer " + options_.token;
  // Gateway routes: open without a token, bearer with one.
  auto gateway_ok = [bearer](const httplib::Request& req, httplib::Response& res) {
    if (bearer.empty() || req.get_header_value("Authorization") == bearer) return true;
    Fail(res, 401, "missing or wrong bearer token");
    return false;
  };
  // Analyst routes: never open.
  auto analyst_ok = [bearer](const httplib::Request& req, httplib::Response& res) {
    if (bearer.empty()) {
      Fail(res, 403, "analyst endpoints need a token: start serve with --token-file FILE or DISTILLGUARD_TOKEN");
      return false;
    }
    if (req.get_header_value("Authorization") == bearer) return true;
    Fail(res, 401, "missing or wrong bearer token");
    return false;
  };

  s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("{\"status\":\"ok\"}", "application/json"); });
  s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (service_.ready()) res.set_content("{\"status\":\"ready\"}", "application/json");
    else Fail(res, 503, "replaying the log");
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(service_.Metrics(), "text/plain; version=0.0.4");
  });

  s.Post("/v1/events", [this, gateway_ok](const httplib::Request& req, httplib::Response& res) {
    if (!gateway_ok(req, res)) return;
    const IngestResult r = service_.Ingest(req.body, "request");
    if (!r.stored) {
      Fail(res, 503, "events not stored (nothing was accepted; retry): " + r.store_error);
      return;
    }
    std::string out = fmt::format("{{\"accepted\":{},\"duplicates\":{},\"rejected\":{},\"errors\":[", r.accepted, r.duplicates, r.rejected);
    for (size_t idx = 0; idx < r.errors.size(); ++idx) {
      if (idx) out += ",";
      AppendJsonString(out, r.errors[idx]);
    }
    out += "]}";
    // Every line bad: the request as a whole is bad.
    res.status = r.rejected > 0 && r.accepted == 0 && r.duplicates == 0 ? 400 : 200;
    res.set_content(out, "application/json");
  });

  s.Post("/v1/check", [this, gateway_ok](const httplib::Request& req, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!gateway_ok(req, res)) return;
    if (req.body.size() > options_.max_small_body_bytes) {
      Fail(res, 413, fmt::format("request body too large (limit {} bytes)", options_.max_small_body_bytes));
      return;
    }
    simdjson::dom::element doc;
    if (ThreadParser().parse(req.body).get(doc) != simdjson::SUCCESS) {
      Fail(res, 400, "body is not valid JSON");
      return;
    }
    simdjson::dom::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) {
      Fail(res, 400, "body must be a JSON object");
      return;
    }
    CheckRequest cr;
    std::string prompt, error;
    if (!OptionalString(obj, "account_id", &cr.account_id, &error) || !OptionalString(obj, "api_key_id", &cr.api_key_id, &error) ||
        !OptionalString(obj, "ip", &cr.ip, &error) || !OptionalString(obj, "user_agent", &cr.user_agent, &error) ||
        !OptionalString(obj, "payment_fingerprint", &cr.payment_fingerprint, &error) ||
        !OptionalString(obj, "model", &cr.model, &error) || !OptionalString(obj, "prompt", &prompt, &error)) {
      Fail(res, 400, error);
      return;
    }
    if (cr.account_id.empty()) {
      Fail(res, 400, "field 'account_id': required");
      return;
    }
    cr.prompt_flags = Service::PromptFlags(prompt);
    const CheckResult r = service_.Check(cr);
    res.set_content(DecisionJson(r), "application/json");
    service_.RecordDecision(r.decision, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  });

  // Envoy ext_authz (HTTP service): Envoy forwards the client's headers
  // (configure allowed_headers) to this path prefix; 200 lets the request
  // through, anything else is returned to the client.
  auto authz = [this, gateway_ok](const httplib::Request& req, httplib::Response& res) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!gateway_ok(req, res)) return;
    CheckRequest cr;
    cr.account_id = req.get_header_value("x-account-id");
    cr.api_key_id = req.get_header_value("x-api-key-id");
    cr.ip = req.get_header_value("x-forwarded-for");
    if (const size_t comma = cr.ip.find(','); comma != std::string::npos) cr.ip.resize(comma);
    cr.user_agent = req.get_header_value("user-agent");
    cr.payment_fingerprint = req.get_header_value("x-payment-fingerprint");
    cr.model = req.get_header_value("x-model");
    if (cr.account_id.empty()) {
      Fail(res, 400, "header 'x-account-id': required");
      return;
    }
    const CheckResult r = service_.Check(cr);
    res.set_header("x-distillguard-decision", std::string(DecisionName(r.decision)));
    if (!r.campaign_id.empty()) res.set_header("x-distillguard-campaign", r.campaign_id);
    switch (r.decision) {
      case Decision::kBlock:
      case Decision::kChallenge: res.status = 403; break;
      case Decision::kThrottle: res.status = 429; break;
      default: res.status = 200;
    }
    res.set_content(DecisionJson(r), "application/json");
    service_.RecordDecision(r.decision, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  };
  for (const char* pattern : {"/v1/authz", R"(/v1/authz/.*)"}) {
    s.Get(pattern, authz);
    s.Post(pattern, authz);
    s.Put(pattern, authz);
    s.Delete(pattern, authz);
    s.Patch(pattern, authz);
    s.Options(pattern, authz);
  }

  s.Get("/v1/campaigns", [this, analyst_ok](const httplib::Request& req, httplib::Response& res) {
    if (!analyst_ok(req, res)) return;
    res.set_content(service_.CampaignsJson(), "application/json");
  });
  s.Get(R"(/v1/campaigns/([^/]+))", [this, analyst_ok](const httplib::Request& req, httplib::Response& res) {
    if (!analyst_ok(req, res)) return;
    auto c = service_.CampaignJson(req.matches[1]);
    if (!c) return Fail(res, 404, "no such campaign");
    res.set_content(*c, "application/json");
  });
  s.Get(R"(/v1/accounts/([^/]+))", [this, analyst_ok](const httplib::Request& req, httplib::Response& res) {
    if (!analyst_ok(req, res)) return;
    auto a = service_.AccountJson(req.matches[1]);
    if (!a) return Fail(res, 404, "no such account");
    res.set_content(*a, "application/json");
  });
  s.Post(R"(/v1/accounts/([^/]+)/override)", [this, analyst_ok](const httplib::Request& req, httplib::Response& res) {
    if (!analyst_ok(req, res)) return;
    if (req.body.size() > options_.max_small_body_bytes) return Fail(res, 413, "request body too large");
    simdjson::dom::element doc;
    simdjson::dom::object obj;
    if (ThreadParser().parse(req.body).get(doc) != simdjson::SUCCESS || doc.get_object().get(obj) != simdjson::SUCCESS) {
      return Fail(res, 400, "body must be a JSON object");
    }
    std::string action, by, reason, error;
    if (!OptionalString(obj, "action", &action, &error) || !OptionalString(obj, "by", &by, &error) ||
        !OptionalString(obj, "reason", &reason, &error)) {
      return Fail(res, 400, error);
    }
    if (by.empty()) return Fail(res, 400, "field 'by': required (who decided)");
    if (reason.empty()) return Fail(res, 400, "field 'reason': required (why)");
    const std::string account = req.matches[1];
    if (!service_.Override(account, action, by, reason, &error)) {
      return Fail(res, error.rfind("field", 0) == 0 ? 400 : 503, error);
    }
    res.set_content(*service_.AccountJson(account), "application/json");
  });
}

}  // namespace dg
