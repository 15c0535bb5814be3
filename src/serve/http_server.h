// HttpServer: serve's HTTP/1.1 front end on Boost.Beast/Asio. One event-loop
// thread accepts connections, reads requests (keep-alive, TCP_NODELAY) and
// answers the fast routes inline -- /v1/check, ext_authz, health, metrics --
// so a decision costs one read, a small JSON parse, Engine::Check under a
// shared lock and one write. Slow routes (ingest, analyst reads, overrides,
// indicator import) run on a small worker pool and never stall decisions.
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
// above the limits get 413 and the connection is closed.
#pragma once

#include <memory>
#include <string>

#include "serve/service.h"

namespace dg {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0: any free port (see Bind)
  std::string token;                        // empty: gateway routes open, analyst routes closed
  size_t max_body_bytes = 64u << 20;        // /v1/events, /v1/indicators
  size_t max_small_body_bytes = 64u << 10;  // /v1/check, overrides
  int workers = 2;                          // threads for the slow routes
};

class HttpServer {
 public:
  HttpServer(Service& service, HttpOptions options);
  ~HttpServer();
  // Binds and listens; returns the port, or -1 and *error.
  int Bind(std::string* error);
  // Serves until Stop() (from another thread, e.g. a signal watcher).
  bool Run();
  void Stop();

  struct Impl;  // implementation detail (http_server.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg
