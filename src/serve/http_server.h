// HttpServer: serve's HTTP/1.1 front end (cpp-httplib, a thread pool of
// blocking workers, keep-alive, TCP_NODELAY). Thin: every route parses its
// request, calls Service and writes JSON.
//
//   GET  /healthz, /readyz, /metrics          open (Prometheus text on /metrics)
//   POST /v1/events                           JSON Lines in; 200 once durable
//   POST /v1/check                            decision for one request
//   ANY  /v1/authz[/...]                      Envoy ext_authz (HTTP service):
//                                             headers in, 200 / 403 / 429 out
//   GET  /v1/campaigns, /v1/campaigns/{id}    analyst reads
//   GET  /v1/accounts/{id}
//   POST /v1/accounts/{id}/override           {"action","by","reason"}
//   POST /v1/indicators                       STIX 2.1 bundle of shared indicators
//
// Auth: with a token set, every route but the three open ones needs
// "Authorization: Bearer <token>" (401 otherwise); without one, analyst,
// override and indicator routes answer 403 (they are never open).
// Bad requests get 4xx with {"error": "..."} and never touch state; bodies
// above the limits get 413. Cost per /v1/check: one small JSON parse and
// Engine::Check under a shared lock.
#pragma once

#include <memory>
#include <string>

#include "serve/service.h"

namespace httplib {
class Server;
}

namespace dg {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                    // 0: any free port (see Bind)
  std::string token;                  // empty: no auth on the gateway routes, analyst routes closed
  size_t max_body_bytes = 64u << 20;  // /v1/events
  size_t max_small_body_bytes = 64u << 10;  // /v1/check, overrides
  int threads = 0;                    // worker threads; 0 = max(8, 4 x cores)
};

class HttpServer {
 public:
  HttpServer(Service& service, HttpOptions options);
  ~HttpServer();
  // Binds the listening socket; returns the port, or -1 and *error.
  int Bind(std::string* error);
  // Serves until Stop() (from another thread or a signal watcher).
  bool Run();
  void Stop();

 private:
  void Routes();
  Service& service_;
  HttpOptions options_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace dg
