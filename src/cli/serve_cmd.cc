#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <atomic>

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>
#include <toml++/toml.h>

#include "cli/errors.h"
#include "common/parse_int.h"
#include "common/toml_int.h"
#include "cli/commands.h"
#include "cluster/serve_link.h"
#include "serve/console.h"
#include "serve/http_server.h"
#include "serve/service.h"

namespace dg::cli {

void AddServeOptions(CLI::App& cmd, ServeArgs& args) {
  cmd.add_option("--config", args.config,
                 "TOML file with any of: listen, data, policy, token_file, gateway_token_file, analyst_token_file, follow, mapping, "
                 "threads, trusted_hops, retention_days, access_rules");
  cmd.add_option("--listen", args.listen, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free one)");
  cmd.add_option("--data", args.data, "Data directory (SQLite store: event log, overrides, samples)");
  cmd.add_option("--policy", args.policy, "Policy TOML (default: built-in, same as config/policy.toml)");
  cmd.add_option("--token-file", args.token_file,
                 "File holding one bearer token for every role (else $DISTILLGUARD_TOKEN); see the two role tokens below");
  cmd.add_option("--gateway-token-file", args.gateway_token_file,
                 "File holding the gateway token: /v1/check, ext_authz and /v1/events only");
  cmd.add_option("--analyst-token-file", args.analyst_token_file,
                 "File holding the analyst token: every route (analyst reads, overrides, indicators, and /v1/check with details)");
  cmd.add_flag("--insecure", args.insecure, "Allow listening on a non-loopback address without any token (gateway routes open to anyone)");
  cmd.add_option("--trusted-hops", args.trusted_hops,
                 "Proxies of yours that append to X-Forwarded-For before ext_authz (default 1: the rightmost entry is the client)");
  cmd.add_option("--idle-timeout", args.idle_timeout_s, "Seconds a connection may take to send a request header (idle keep-alive included)")
      ->capture_default_str();
  cmd.add_option("--body-timeout", args.body_timeout_s, "Seconds a request body may take after its header (and an answer to be taken)")
      ->capture_default_str();
  cmd.add_option("--max-connections", args.max_connections,
                 "Open connections at most (default: the descriptor limit less 64); past it the longest-idle one is closed");
  cmd.add_option("--shutdown-grace", args.shutdown_grace_s, "Seconds SIGTERM waits for requests in flight before exiting anyway")
      ->capture_default_str();
  cmd.add_option("--throttle-rate", args.throttle_rate, "Requests a second a throttled account is served (token bucket per account)")
      ->capture_default_str();
  cmd.add_option("--throttle-burst", args.throttle_burst, "Burst a throttled account may send before its rate applies")->capture_default_str();
  cmd.add_option("--retention-days", args.retention_days,
                 "Delete logged events older than this many days (0: keep for ever); a restart replays the retained days only");
  cmd.add_option("--follow", args.follow, "Tail this growing JSONL log file as a second ingest source");
  cmd.add_option("--mapping", args.mapping, "Field mapping of ingested records: a preset (docs/LOGS.md) or a TOML file");
  cmd.add_option("--accounts", args.accounts,
                 "Account attributes (JSONL or CSV, as scan --accounts) upserted into the store at start; "
                 "PUT /v1/accounts adds more");
  cmd.add_option("--access-rules", args.access_rules,
                 "Per-model access rules (TOML, docs/ACCESS.md) applied with the detector's decision; reloaded on SIGHUP "
                 "and POST /v1/access/reload, audited in DATA/access_audit.db");
  cmd.add_option("--port-file", args.port_file, "Write the bound port here once listening (for port 0)");
  cmd.add_option("--threads", args.threads, "Worker threads for ingest and analyst routes (default 2; decisions run on the event loop)");
  cmd.add_option("--max-body-bytes", args.max_body_bytes, "Largest /v1/events body accepted (413 above); a gzip body may inflate to 8x this")->capture_default_str();
  cmd.add_option("--max-store-bytes", args.max_store_bytes,
                 "Cap on the data directory's database (0: none); past it ingest answers 503 as on a full disk");
  cmd.add_flag("--no-samples", args.no_samples, "Keep no prompt samples, even redacted, for campaigns");
  // The analyst console at /ui/ (docs/CONSOLE.md).
  cmd.add_option("--analysts-file", args.analysts_file,
                 "Per-analyst console logins: lines \"NAME TOKEN\" (the analyst token also logs in, as \"analyst\")");
  cmd.add_option("--decision-log-days", args.decision_log_days,
                 "Keep logged /v1/check and ext_authz decisions this many days (0: for ever)")
      ->capture_default_str();
  cmd.add_option("--console-scan-records", args.console_scan_records,
                 "Newest logged events an account timeline or campaign page reads at most")
      ->capture_default_str();
  cmd.add_option("--nats", args.nats,
                 "Run as a cluster node (docs/SCALE.md): NATS server URLs, comma-separated. /v1/check answers from the "
                 "cluster's verdicts and overrides held in memory, /v1/events publishes to the cluster, overrides are "
                 "stored in the cluster");
  cmd.add_flag("--replica", args.replica,
               "With --nats: follow the cluster's engine on this node (the correlator's snapshot, then its digests) "
               "so that the analyst API and console show the cluster's campaigns and accounts; costs a whole engine");
  cmd.add_option("--replicas", args.replicas, "With --nats: copies of the streams and buckets this node creates")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  cmd.add_flag("--console-secure-cookie", args.console_secure_cookie,
               "Mark the console's session cookie Secure (serve behind an HTTPS proxy)");
}

namespace {

// Fills unset fields of args from the config file; flags win.
// InvalidArgument "FILE:LINE: key 'K': why".
absl::Status ApplyConfig(ServeArgs& args) {
  toml::table t;
  try {
    t = toml::parse_file(args.config);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", args.config, e.source().begin.line, e.description()));
  }
  absl::Status bad;
  for (const auto& [key, node] : t) {
    auto set = [&](std::string* field) {
      const auto v = node.value<std::string>();
      if (!v) {
        bad = absl::InvalidArgumentError(
            fmt::format("{}:{}: key '{}': must be a string", args.config, node.source().begin.line, key.str()));
        return false;
      }
      if (field->empty()) *field = *v;
      return true;
    };
    bool ok = true;
    if (key == "listen") ok = set(&args.listen);
    else if (key == "data") ok = set(&args.data);
    else if (key == "policy") ok = set(&args.policy);
    else if (key == "token_file") ok = set(&args.token_file);
    else if (key == "gateway_token_file") ok = set(&args.gateway_token_file);
    else if (key == "analyst_token_file") ok = set(&args.analyst_token_file);
    else if (key == "follow") ok = set(&args.follow);
    else if (key == "mapping") ok = set(&args.mapping);
    else if (key == "access_rules") ok = set(&args.access_rules);
    else if (key == "threads") {
      const auto v = TomlInteger(node);
      if (!v || *v < 1 || *v > 1024) {
        return absl::InvalidArgumentError(
            fmt::format("{}:{}: key 'threads': must be an integer in [1, 1024]", args.config, node.source().begin.line));
      }
      if (args.threads == 0) args.threads = static_cast<int>(*v);
    } else if (key == "trusted_hops" || key == "retention_days") {
      const auto v = TomlInteger(node);
      const bool hops = key == "trusted_hops";
      if (!v || *v < (hops ? 1 : 0) || *v > (hops ? 64 : 100000)) {
        return absl::InvalidArgumentError(fmt::format("{}:{}: key '{}': must be an integer in [{}, {}]", args.config,
                                                      node.source().begin.line, key.str(), hops ? 1 : 0, hops ? 64 : 100000));
      }
      int& field = hops ? args.trusted_hops : args.retention_days;
      if (field == (hops ? 0 : -1)) field = static_cast<int>(*v);
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "{}:{}: key '{}': unknown key (expected listen, data, policy, token_file, gateway_token_file, analyst_token_file, follow, "
          "mapping, threads, trusted_hops, retention_days, access_rules)",
          args.config, node.source().begin.line, key.str()));
    }
    if (!ok) return bad;
  }
  return absl::OkStatus();
}

}  // namespace

int RunServe(ServeArgs args) {
  if (!args.config.empty()) {
    if (const absl::Status applied = ApplyConfig(args); !applied.ok()) return PrintError("serve", applied);
  }
  if (args.data.empty()) {
    fmt::print(stderr, "serve: --data DIR is required (where events, overrides and samples are stored)\n");
    return 2;
  }
  HttpOptions http;
  if (!args.listen.empty()) {
    const size_t colon = args.listen.rfind(':');
    int port = -1;
    if (colon != std::string::npos) port = ParseDecimal<int>(std::string_view(args.listen).substr(colon + 1)).value_or(-1);
    if (colon == std::string::npos || port < 0 || port > 65535) {
      fmt::print(stderr, "serve: --listen '{}': expected HOST:PORT\n", args.listen);
      return 2;
    }
    http.host = args.listen.substr(0, colon);
    if (http.host.size() > 2 && http.host.front() == '[' && http.host.back() == ']') http.host = http.host.substr(1, http.host.size() - 2);
    http.port = port;
  }
  http.workers = args.threads > 0 ? args.threads : 2;
  http.max_body_bytes = args.max_body_bytes;
  // Tokens: --token-file (or DISTILLGUARD_TOKEN) is one token for every
  // role; the role files set (or override) one role each.
  auto read_token = [](const std::string& flag, const std::string& path, std::string* out) {
    std::ifstream f(path);
    if (!f) {
      fmt::print(stderr, "serve: {} {}: cannot read\n", flag, path);
      return false;
    }
    std::getline(f, *out);
    while (!out->empty() && (out->back() == '\r' || out->back() == ' ' || out->back() == '\t')) out->pop_back();
    if (out->empty()) {
      fmt::print(stderr, "serve: {} {}: empty\n", flag, path);
      return false;
    }
    return true;
  };
  std::string shared;
  if (!args.token_file.empty()) {
    if (!read_token("--token-file", args.token_file, &shared)) return 2;
  } else if (const char* env = std::getenv("DISTILLGUARD_TOKEN"); env != nullptr && *env != '\0') {
    shared = env;
  }
  http.tokens.gateway = http.tokens.analyst = shared;
  if (!args.gateway_token_file.empty() && !read_token("--gateway-token-file", args.gateway_token_file, &http.tokens.gateway)) return 2;
  if (!args.analyst_token_file.empty() && !read_token("--analyst-token-file", args.analyst_token_file, &http.tokens.analyst)) return 2;
  if (!args.gateway_token_file.empty() && !args.analyst_token_file.empty() && http.tokens.gateway == http.tokens.analyst) {
    fmt::print(stderr, "serve: the gateway and analyst tokens are the same: the roles would not be separate (use --token-file for one "
                       "token)\n");
    return 2;
  }
  {
    // No token: the gateway routes (and /v1/events) are open to whoever can
    // connect, which only loopback bounds.
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(http.host, ec);
    const bool loopback = !ec && addr.is_loopback();
    if (!http.tokens.any() && !loopback && !args.insecure) {
      fmt::print(stderr,
                 "serve: --listen {}: not a loopback address, and no token is set: anyone who can reach it could send events "
                 "and read decisions. Set --token-file (or --gateway-token-file and --analyst-token-file), or pass --insecure\n",
                 http.host);
      return 2;
    }
  }
  if (args.trusted_hops > 0) http.trusted_hops = args.trusted_hops;
  http.idle_timeout_s = args.idle_timeout_s;
  http.body_timeout_s = args.body_timeout_s;
  http.max_connections = args.max_connections;
  http.throttle_rate_per_s = args.throttle_rate;
  http.throttle_burst = args.throttle_burst;
  if (args.idle_timeout_s <= 0 || args.body_timeout_s <= 0 || args.shutdown_grace_s <= 0 || args.throttle_rate <= 0 ||
      args.throttle_burst < 1) {
    fmt::print(stderr, "serve: --idle-timeout, --body-timeout, --shutdown-grace and --throttle-rate must be > 0, --throttle-burst >= 1\n");
    return 2;
  }
  ServiceOptions so;
  so.data_dir = args.data;
  so.keep_samples = !args.no_samples;
  so.max_store_bytes = args.max_store_bytes;
  so.lock_data_dir = true;
  so.retention_days = std::max(0, args.retention_days);
  so.access_rules = args.access_rules;
  if (!args.policy.empty()) {
    auto p = Policy::Load(args.policy);
    if (!p.ok()) {
      fmt::print(stderr, "serve: {}\n", StatusMessage(p.status()));
      return 2;
    }
    so.policy = std::move(*p);
  }
  if (!args.mapping.empty()) {
    auto m = FieldMapping::Load(args.mapping);
    if (!m.ok()) {
      fmt::print(stderr, "serve: {}\n", StatusMessage(m.status()));
      return 2;
    }
    so.mapping = std::move(*m);
  }
  // Signals are taken by a watcher thread (sigwait), never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reloads the access rules
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // After the signal mask: the link starts threads, which inherit it.
  if (args.replica && args.nats.empty()) {
    fmt::print(stderr, "serve: --replica follows a cluster: it needs --nats\n");
    return 2;
  }
  if (!args.nats.empty()) {
    if (!args.follow.empty()) {
      fmt::print(stderr, "serve: --follow and --nats: a cluster node ingests through POST /v1/events (or distillguard publish)\n");
      return 2;
    }
    ClusterOptions cluster;
    cluster.nats = args.nats;
    cluster.replicas = args.replicas;
    // The node's part of its intake message ids: unique per process.
    std::random_device random;
    const uint64_t nonce = (static_cast<uint64_t>(random()) << 32) ^ random();
    auto link = NatsServeLink::Open(cluster, nonce);
    if (!link.ok()) return PrintError("serve", link.status());
    so.cluster = std::move(*link);
    so.cluster_replica = args.replica;
    fmt::print(stderr, "serve: cluster node on {} (decisions from the watched buckets{})\n", args.nats,
               args.replica ? "; analyst reads from a replica of the cluster's engine" : "");
  }

  const auto t0 = std::chrono::steady_clock::now();
  auto opened = Service::Open(std::move(so));
  if (!opened.ok()) return PrintError("serve", opened.status());
  std::unique_ptr<Service> service = std::move(*opened);
  fmt::print(stderr, "serve: {}: replayed {} events in {:.2f} s\n", args.data, service->replayed(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!args.accounts.empty()) {
    std::ifstream in(args.accounts, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return PrintError("serve", FileError(errno, fmt::format("{}: cannot read the accounts file", args.accounts)));
    const auto n = service->PutAccounts(text.str(), args.accounts);
    if (!n.ok()) return PrintError("serve", n.status());
    fmt::print(stderr, "serve: {} accounts from {}\n", *n, args.accounts);
  }
  // The analyst console: sessions, cases and the decision log beside the store.
  ConsoleOptions console_options;
  console_options.tokens = http.tokens;
  if (!args.analysts_file.empty()) {
    if (const absl::Status loaded = LoadAnalystsFile(args.analysts_file, &console_options.analysts); !loaded.ok()) {
      return PrintError("serve", absl::Status(loaded.code(), "--analysts-file " + std::string(StatusMessage(loaded))));
    }
  }
  console_options.decision_log_days = std::max(0, args.decision_log_days);
  console_options.scan_records = std::max<uint64_t>(1, args.console_scan_records);
  console_options.secure_cookie = args.console_secure_cookie;
  auto console_opened = Console::Open(*service, std::move(console_options));
  if (!console_opened.ok()) {
    const absl::Status& st = console_opened.status();
    return PrintError("serve", absl::Status(st.code(), "console: " + std::string(StatusMessage(st))));
  }
  std::unique_ptr<Console> console = std::move(*console_opened);
  http.console = console.get();
  HttpServer server(*service, http);
  const auto bound = server.Bind();
  if (!bound.ok()) return PrintError("serve", bound.status());
  const int port = *bound;
  if (!args.follow.empty()) {
    if (const absl::Status following = service->Follow(args.follow); !following.ok()) return PrintError("serve", following);
  }
  if (!args.port_file.empty()) {
    std::ofstream(args.port_file + ".tmp") << port << "\n";
    std::rename((args.port_file + ".tmp").c_str(), args.port_file.c_str());
  }
  const char* auth = !http.tokens.any()                             ? "none on gateway routes (loopback only); analyst routes closed"
                     : http.tokens.gateway == http.tokens.analyst       ? "one bearer token for every role"
                     : http.tokens.analyst.empty()                     ? "gateway token; analyst routes closed"
                     : http.tokens.gateway.empty()                     ? "analyst token only (gateways use it too)"
                                                                       : "gateway and analyst tokens";
  fmt::print(stderr, "serve: listening on http://{}:{} (auth: {}; at most {} connections)\n", http.host, port, auth,
             server.max_connections());
  // SIGTERM: stop taking requests; requests being handled finish; past the
  // grace period the process exits anyway (stalled clients cannot hold it).
  std::atomic<bool> finished{false};
  const double grace = args.shutdown_grace_s;
  std::thread watcher([&] {
    int sig = 0;
    for (;;) {
      siginfo_t info{};
      sig = sigwaitinfo(&signals, &info);
      if (sig != SIGHUP || finished.load()) break;
      // SIGHUP: reload the access rules; the audit records who sent it.
      const std::string by = fmt::format("pid {} uid {}", info.si_pid, info.si_uid);
      if (!service->access_rules_configured()) {
        fmt::print(stderr, "serve: SIGHUP from {}: no --access-rules to reload\n", by);
      } else if (const auto reloaded = service->ReloadAccessRules(by, "SIGHUP"); !reloaded.ok()) {
        fmt::print(stderr, "serve: SIGHUP from {}: access rules not reloaded: {}\n", by, StatusMessage(reloaded.status()));
      }
    }
    if (sig < 0 || finished.load()) return;
    fmt::print(stderr, "serve: signal {}: finishing requests in flight and stopping\n", sig);
    server.Stop();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace);
    while (!finished.load()) {
      if (std::chrono::steady_clock::now() > deadline) {
        fmt::print(stderr, "serve: still stopping after the {} s grace period: exiting now\n", grace);
        std::_Exit(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const bool ok = server.Run();
  // Run returns on Stop; requests being handled on the workers finish here
  // (under the watcher's grace period), then the watcher is woken.
  server.Join();
  console->Stop();  // the decision log's last rows
  service->Stop();
  finished = true;
  pthread_kill(watcher.native_handle(), SIGTERM);
  watcher.join();
  fmt::print(stderr, "serve: stopped\n");
  return ok ? 0 : 1;
}

}  // namespace dg::cli
