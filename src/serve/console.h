// Console: the analyst console of `serve` -- the single-page app under /ui/
// (built from web/ and compiled into the binary, serve/console_assets.h) and
// the API routes it and other clients use. HttpServer hands it every request
// whose path Owns() (one route in http_server.cc); nothing here runs on the
// decision path except LogDecision (a queue push, serve/decision_log.h).
//
//   GET  /ui/, /ui/assets/...            the app (open: it holds no data)
//   POST /ui/api/login {"token"}         analyst token -> session cookie
//   POST /ui/api/logout, GET /ui/api/session
//   GET  /v1/console/overview            live figures
//   GET  /v1/console/campaigns[/{id}]    list (by score) / page (graph, waves...)
//   GET  /v1/console/accounts/{id}       timeline, verdict history, decisions
//   POST /v1/console/accounts/{id}/override {"action","reason"}
//   GET  /v1/review, POST /v1/review/{account} {"action":allow|block|escalate,"reason"}
//   GET  /v1/decisions?account=&campaign=&decision=&since=&until=&before=&limit=
//   GET|POST /v1/cases, GET|PATCH /v1/cases/{id}, POST /v1/cases/{id}/notes
//   GET  /v1/policy-hints, GET /v1/audit
// (docs/CONSOLE.md has the bodies and answers.)
//
// Access: every route but the app's files and the login needs an analyst:
// the analyst bearer token (acts as "analyst"), an analyst's own token from
// --analysts-file (acts under that name), or a session cookie made by the
// login (HttpOnly, SameSite=Strict, Path=/; Secure with --console-secure-cookie).
// A state-changing request made with the cookie must carry the session's
// CSRF token in X-CSRF-Token (and an Origin, when sent, must be this host);
// bearer requests carry no ambient credentials and need none. Sessions live
// in memory (a restart logs analysts out), expire after session_idle_s idle
// or session_max_s in all, at most kMaxSessions (oldest dropped). Logins are
// rate-limited per client address and overall. Every answer carries a strict
// Content-Security-Policy; the app renders all data as text.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "serve/console_store.h"
#include "serve/decision_log.h"
#include "serve/request_guard.h"
#include "serve/service.h"

namespace dg {

struct ConsoleOptions {
  Tokens tokens;                                             // the analyst token logs in as "analyst"
  std::vector<std::pair<std::string, std::string>> analysts;  // (name, token), --analysts-file
  double session_idle_s = 8 * 3600;
  double session_max_s = 24 * 3600;
  double login_rate_per_s = 0.2;   // per client address ...
  double login_burst = 5;          // ... and burst
  double login_global_rate_per_s = 5;
  uint64_t scan_records = 200000;  // newest log records an account timeline / campaign page reads at most
  int decision_log_days = 90;      // 0: keep for ever
  bool secure_cookie = false;
  Clock clock = SystemClock();
};

// Reads "name token" lines (# comments, blank lines skipped) of an analysts
// file. Names: [A-Za-z0-9._@-]{1,64}; tokens at least 16 characters, all
// different. InvalidArgument "FILE:LINE: why"; NotFound / PermissionDenied
// / Unavailable when the file cannot be read.
absl::Status LoadAnalystsFile(const std::string& path, std::vector<std::pair<std::string, std::string>>* out);

struct ConsoleRequest {
  std::string_view method, target, body;
  std::string_view authorization, cookie, csrf, origin, host, accept_encoding;
  std::string peer;  // client address (login rate limit)
};

struct ConsoleResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

class Console {
 public:
  // Opens DIR/console.db beside the service's store and starts the decision
  // log's writer. Unavailable when console.db cannot be opened.
  static absl::StatusOr<std::unique_ptr<Console>> Open(Service& service, ConsoleOptions options);
  ~Console();

  // Is this request path the console's?
  static bool Owns(std::string_view path);
  // On the request header, before any body byte is read: false (and *res
  // filled: 401/403/429) when the request may not go on.
  bool Admit(const ConsoleRequest& r, ConsoleResponse* res);
  ConsoleResponse Handle(const ConsoleRequest& r);
  // Records one /v1/check or ext_authz answer (event loop; never blocks on I/O).
  void LogDecision(const CheckRequest& request, const CheckResult& result, std::string_view source);
  void Stop();

  DecisionLog& decision_log() { return *decision_log_; }
  ConsoleStore& store() { return *store_; }

  struct Impl;

 private:
  Console() = default;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<ConsoleStore> store_;
  std::unique_ptr<DecisionLog> decision_log_;
};

}  // namespace dg
