#include <pthread.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "common/toml_int.h"
#include "cli/commands.h"
#include "serve/http_server.h"
#include "serve/service.h"

namespace dg::cli {

void AddServeOptions(CLI::App& cmd, ServeArgs& args) {
  cmd.add_option("--config", args.config, "TOML file with any of: listen, data, policy, token_file, follow, mapping, threads");
  cmd.add_option("--listen", args.listen, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free one)");
  cmd.add_option("--data", args.data, "Data directory (SQLite store: event log, overrides, samples)");
  cmd.add_option("--policy", args.policy, "Policy TOML (default: built-in, same as config/policy.toml)");
  cmd.add_option("--token-file", args.token_file, "File holding the bearer token (else $DISTILLGUARD_TOKEN)");
  cmd.add_option("--follow", args.follow, "Tail this growing JSONL log file as a second ingest source");
  cmd.add_option("--mapping", args.mapping, "Field mapping of ingested records: canonical, litellm, openai-batch, or a TOML file");
  cmd.add_option("--port-file", args.port_file, "Write the bound port here once listening (for port 0)");
  cmd.add_option("--threads", args.threads, "Worker threads for ingest and analyst routes (default 2; decisions run on the event loop)");
  cmd.add_option("--max-body-bytes", args.max_body_bytes, "Largest /v1/events body accepted (413 above)")->capture_default_str();
  cmd.add_option("--max-store-bytes", args.max_store_bytes,
                 "Cap on the data directory's database (0: none); past it ingest answers 503 as on a full disk");
  cmd.add_flag("--no-samples", args.no_samples, "Keep no prompt samples, even redacted, for campaigns");
}

namespace {

// Fills unset fields of args from the config file; flags win.
bool ApplyConfig(ServeArgs& args, std::string* error) {
  toml::table t;
  try {
    t = toml::parse_file(args.config);
  } catch (const toml::parse_error& e) {
    *error = fmt::format("{}:{}: {}", args.config, e.source().begin.line, e.description());
    return false;
  }
  for (const auto& [key, node] : t) {
    auto set = [&](std::string* field) {
      const auto v = node.value<std::string>();
      if (!v) {
        *error = fmt::format("{}:{}: key '{}': must be a string", args.config, node.source().begin.line, key.str());
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
    else if (key == "follow") ok = set(&args.follow);
    else if (key == "mapping") ok = set(&args.mapping);
    else if (key == "threads") {
      const auto v = TomlInteger(node);
      if (!v || *v < 1 || *v > 1024) {
        *error = fmt::format("{}:{}: key 'threads': must be an integer in [1, 1024]", args.config, node.source().begin.line);
        return false;
      }
      if (args.threads == 0) args.threads = static_cast<int>(*v);
    } else {
      *error = fmt::format("{}:{}: key '{}': unknown key (expected listen, data, policy, token_file, follow, mapping, threads)",
                           args.config, node.source().begin.line, key.str());
      return false;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

int RunServe(ServeArgs args) {
  std::string error;
  if (!args.config.empty() && !ApplyConfig(args, &error)) {
    fmt::print(stderr, "serve: {}\n", error);
    return 2;
  }
  if (args.data.empty()) {
    fmt::print(stderr, "serve: --data DIR is required (where events, overrides and samples are stored)\n");
    return 2;
  }
  HttpOptions http;
  if (!args.listen.empty()) {
    const size_t colon = args.listen.rfind(':');
    int port = -1;
    if (colon != std::string::npos) {
      try {
        port = std::stoi(args.listen.substr(colon + 1));
      } catch (...) {
        port = -1;
      }
    }
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
  if (!args.token_file.empty()) {
    std::ifstream f(args.token_file);
    if (!f) {
      fmt::print(stderr, "serve: --token-file {}: cannot read\n", args.token_file);
      return 2;
    }
    std::getline(f, http.token);
    while (!http.token.empty() && (http.token.back() == '\r' || http.token.back() == ' ')) http.token.pop_back();
    if (http.token.empty()) {
      fmt::print(stderr, "serve: --token-file {}: empty\n", args.token_file);
      return 2;
    }
  } else if (const char* env = std::getenv("DISTILLGUARD_TOKEN"); env != nullptr && *env != '\0') {
    http.token = env;
  }
  ServiceOptions so;
  so.data_dir = args.data;
  so.keep_samples = !args.no_samples;
  so.max_store_bytes = args.max_store_bytes;
  if (!args.policy.empty()) {
    auto p = Policy::Load(args.policy, &error);
    if (!p) {
      fmt::print(stderr, "serve: {}\n", error);
      return 2;
    }
    so.policy = std::move(*p);
  }
  if (!args.mapping.empty()) {
    auto m = FieldMapping::Load(args.mapping, &error);
    if (!m) {
      fmt::print(stderr, "serve: {}\n", error);
      return 2;
    }
    so.mapping = std::move(*m);
  }
  // Signals are taken by a watcher thread (sigwait), never by a handler.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const auto t0 = std::chrono::steady_clock::now();
  auto service = Service::Open(std::move(so), &error);
  if (!service) {
    fmt::print(stderr, "serve: {}\n", error);
    return 1;
  }
  fmt::print(stderr, "serve: {}: replayed {} events in {:.2f} s\n", args.data, service->replayed(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  HttpServer server(*service, http);
  const int port = server.Bind(&error);
  if (port < 0) {
    fmt::print(stderr, "serve: {}\n", error);
    return 1;
  }
  if (!args.follow.empty() && !service->Follow(args.follow, &error)) {
    fmt::print(stderr, "serve: {}\n", error);
    return 1;
  }
  if (!args.port_file.empty()) {
    std::ofstream(args.port_file + ".tmp") << port << "\n";
    std::rename((args.port_file + ".tmp").c_str(), args.port_file.c_str());
  }
  fmt::print(stderr, "serve: listening on http://{}:{} (auth: {})\n", http.host, port,
             http.token.empty() ? "none on gateway routes; analyst routes closed" : "bearer token");
  std::thread watcher([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    fmt::print(stderr, "serve: signal {}: finishing requests in flight and stopping\n", sig);
    server.Stop();
  });
  const bool ok = server.Run();
  // Run returns on Stop; wake the watcher if Run ended on its own.
  if (watcher.joinable()) {
    pthread_kill(watcher.native_handle(), SIGTERM);
    watcher.join();
  }
  service->Stop();
  fmt::print(stderr, "serve: stopped\n");
  return ok ? 0 : 1;
}

}  // namespace dg::cli
