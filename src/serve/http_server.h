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
//   POST /v1/indicators[?trust=review|block]  STIX 2.1 bundle of shared indicators
//                                             (or {"trust","bundle"}); default review
//   GET  /v1/indicators                       the imported ones, with id and trust
//   DELETE /v1/indicators/{id}                removes one (store, then engine)
//   /ui/..., /v1/console/..., /v1/cases..., /v1/decisions, /v1/review...,
//   /v1/policy-hints, /v1/audit   the analyst console (serve/console.h:
//                                 its own sessions, CSRF and answers)
// serve --nats (serve/cluster_link.h): /v1/check and ext_authz answer from
// the cluster's watched buckets, /v1/events is 200 once the cluster stored
// the events, overrides and imported indicators are stored in the cluster;
// the analyst reads show the cluster's engine with --replica, else this
// node's (empty) one.
// {id} is percent-decoded (bob%20smith; a bad escape or %00 is a 400).
// /readyz is 503 while replaying or while the store refuses writes.
//
// Auth (serve/request_guard.h): two roles, each with its own token. The
// gateway token opens /v1/check, ext_authz and /v1/events; the analyst token
// opens every route. With no token at all, the gateway routes are open (serve
// then refuses a non-loopback address unless --insecure) and the analyst
// routes answer 403 (never open). Auth is decided on the header alone: a
// request that fails it is answered 401/403 and its connection closed
// without reading its body.
// Decisions for the gateway carry no detector internals (decision, a
// customer-facing reason code, ttl_s, retry_after_s); the analyst role also
// gets campaign_id, score and reasons on /v1/check (ext_authz never: its
// body reaches the end client). "throttle" is a rate: a token bucket per
// account; within it the answer is allow (ttl_s 0), past it throttle with
// retry_after_s and a Retry-After header.
// Bad requests get 4xx with {"error": "..."} and never touch state: 400 for
// a malformed request or path escape, 431 for a header over 16 KiB, 413 for
// a body over the route's limit (then the connection is closed).
//
// Connections (bounded time and descriptors per connection):
//   - a request header must arrive within idle_timeout_s of the previous
//     answer (or the accept); a body within body_timeout_s of its header;
//     an answer must be taken within body_timeout_s: else the connection is
//     closed. `Expect: 100-continue` is answered once the header passed auth
//     and limits.
//   - at most max_connections (default: the descriptor limit less a reserve
//     of 64 for the store and the follower); past it the connection idle the
//     longest (waiting for a header) is closed to make room, so a flood of
//     idle connections cannot lock /v1/check out. EMFILE on accept sheds an
//     idle connection and backs off 50 ms instead of spinning.
//   - bodies of slow routes are read on the event loop (asynchronously, with
//     the deadline) and handled on the workers; declared body bytes in flight
//     are capped (4 x max_body_bytes): past it 503 with Retry-After.
// Stop() ends the event loop at once; requests being handled on a worker
// finish (an ingest is durable or not acknowledged), stalled clients are
// simply dropped.
#pragma once

#include <memory>
#include <string>

#include "serve/request_guard.h"
#include "serve/service.h"

namespace dg {

class Console;

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                          // 0: any free port (see Bind)
  Tokens tokens;                            // none: gateway routes open, analyst routes closed
  int trusted_hops = 1;                     // proxies appending to X-Forwarded-For (ext_authz)
  size_t max_body_bytes = 64u << 20;        // /v1/events, /v1/indicators
  size_t max_small_body_bytes = 64u << 10;  // /v1/check, overrides
  int workers = 2;                          // threads for the slow routes
  double idle_timeout_s = 60;               // for a request header (keep-alive idle included)
  double body_timeout_s = 60;               // for a body after its header, and for writing an answer
  size_t max_connections = 0;               // 0: descriptor limit - 64
  double throttle_rate_per_s = 1;           // throttled accounts: requests a second ...
  double throttle_burst = 10;               // ... and burst
  Console* console = nullptr;               // the analyst console (serve/console.h), owned by the caller; null: none
};

class HttpServer {
 public:
  HttpServer(Service& service, HttpOptions options);
  ~HttpServer();
  // Binds and listens; returns the port. InvalidArgument for a host that
  // is not an IP address, Unavailable when the port cannot be taken.
  absl::StatusOr<int> Bind();
  // Serves until Stop() (from another thread, e.g. a signal watcher).
  bool Run();
  void Stop();
  // After Run returned: waits for the requests being handled on the workers
  // (their answers are not sent). Idempotent; the destructor calls it.
  void Join();
  // The connection cap in force (options.max_connections or the descriptor limit less 64).
  size_t max_connections() const;

  struct Impl;  // implementation detail (http_server.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg
