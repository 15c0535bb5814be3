// Subcommand arguments and entry points. Each Run* returns the process exit
// code: 0 success, 1 a failed run or quality gate, 2 a usage, configuration
// or input error (a failed status maps to these in one place:
// common/status.h ExitCode, printed by cli/errors.h).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace dg::cli {

struct ScanArgs {
  std::vector<std::string> inputs;
  std::string out;
  std::string policy;
  std::string mapping = "canonical";
  std::string default_account;
  bool strict = false;
  bool quiet = false;
  bool progress = true;
  size_t reorder_window = 4096;
  size_t reorder_bytes = 256u << 20;
  std::string accounts;  // --accounts FILE: account attributes joined by id
  std::string batch_input;  // --batch-input FILE: OpenAI Batch input file joined by custom_id
  size_t batch_input_bytes = 512u << 20;
  std::string summary;   // --summary FILE: run summary JSON (coverage, counts)
  size_t max_line_bytes = 16u << 20;
  bool keep_samples = true;
  bool response_index = true;
  size_t max_accounts = 2u << 20;
  int threads = 2;
  std::string now;             // --now: the scan's clock (RFC 3339 or epoch ms); empty: the wall clock
  int64_t max_future_hours = 24;  // events dated further past the clock are rejected (0: no bound)
  std::string resume;        // --resume FILE: start from this engine snapshot (engine/snapshot.h)
  std::string snapshot_out;  // --snapshot-out FILE: the engine's snapshot after the input, before Finish
};
void AddScanOptions(CLI::App& cmd, ScanArgs& args);
int RunScan(const ScanArgs& args);

struct SimulateArgs {
  std::string scenario = "demo";
  std::string out;
  std::string labels;  // with --out -: where labels go
  double scale = 1.0;
  uint64_t seed = 1;
  std::string corpus;
  std::vector<std::string> evade;
  double days = 0;
  std::string fields = "full";
  bool realistic_labs = false;
};
void AddSimulateOptions(CLI::App& cmd, SimulateArgs& args);
int RunSimulate(const SimulateArgs& args);

struct EvalArgs {
  std::string labels;
  std::string accounts;
  bool json = false;
  double gate_recall = -1, gate_fpr = -1, gate_leakage = -1, gate_purity = -1, gate_archetype_fpr = -1;
  double gate_harvest_served = -1;
  std::string ungated_suffix;  // campaigns whose label ends so are not held to --min-recall
};
void AddEvalOptions(CLI::App& cmd, EvalArgs& args);
int RunEval(const EvalArgs& args);

struct AccessImpactArgs {
  std::string rules;
  std::string accounts;
  std::vector<std::string> logs;
  std::string mapping = "canonical";
  double days = 7;
  std::string now;  // RFC 3339; empty: the newest logged event, else the wall clock
  size_t top = 6;
};
void AddAccessImpactOptions(CLI::App& cmd, AccessImpactArgs& args);
int RunAccessImpact(const AccessImpactArgs& args);

struct ServeArgs {
  std::string config;
  std::string listen;       // HOST:PORT
  std::string data;
  std::string policy;
  std::string token_file;
  std::string gateway_token_file;
  std::string analyst_token_file;
  std::string follow;
  std::string mapping;
  std::string accounts;  // --accounts FILE: upserted into the store at start
  std::string access_rules;  // --access-rules FILE (docs/ACCESS.md); SIGHUP reloads it
  std::string port_file;
  int threads = 0;
  size_t max_body_bytes = 64u << 20;
  uint64_t max_store_bytes = 0;
  bool no_samples = false;
  bool insecure = false;          // allow a non-loopback address without tokens
  int trusted_hops = 0;           // 0: unset (1)
  double idle_timeout_s = 60;
  double body_timeout_s = 60;
  size_t max_connections = 0;     // 0: descriptor limit - 64
  double shutdown_grace_s = 10;
  double throttle_rate = 1;
  double throttle_burst = 10;
  int retention_days = -1;        // -1: unset (0, keep for ever)
  // The analyst console (serve/console.h, docs/CONSOLE.md).
  std::string analysts_file;      // "name token" lines: per-analyst logins
  int decision_log_days = 90;     // decision log retention (0: for ever)
  uint64_t console_scan_records = 200000;
  bool console_secure_cookie = false;
  // serve --nats: a decision and ingest node of the cluster (docs/SCALE.md).
  std::string nats;
  bool replica = false;  // with nats: follow the cluster's engine for the analyst reads
  int replicas = 3;
};
void AddServeOptions(CLI::App& cmd, ServeArgs& args);
int RunServe(ServeArgs args);

struct TraceArgs {
  std::string from;        // scan output or serve data directory
  std::string out;
  std::string campaign;
  std::string file;        // import: the bundle; traceback: suspect texts
  std::string data;        // import: serve data directory
  std::string trust = "review";  // import: "review" or "block" (per-source trust)
  bool stix = false;
  bool include_prompts = false;
  bool no_samples = false;  // report / export of a serve directory: no prompt text
  bool json = false;
  double min_similarity = 0.6;
};
void AddReportOptions(CLI::App& cmd, TraceArgs& args);
int RunReport(const TraceArgs& args);
void AddExportOptions(CLI::App& cmd, TraceArgs& args);
int RunExport(const TraceArgs& args);
void AddImportOptions(CLI::App& cmd, TraceArgs& args);
int RunImport(const TraceArgs& args);
void AddTracebackOptions(CLI::App& cmd, TraceArgs& args);
int RunTraceback(const TraceArgs& args);

// The cluster's nodes on NATS JetStream (cluster_cmd.cc, docs/SCALE.md).
struct ClusterArgs {
  std::string nats;
  int partitions = 8;
  int replicas = 3;
  std::vector<std::string> inputs;  // publish
  std::string mapping = "canonical";
  size_t window = 64;  // publish: batch messages in flight
  double rate = 0;
  size_t batch_events = 64, batch_bytes = 256 * 1024;  // publish: events per message
  int linger_ms = 50;
  int index = 0, count = 1, batch = 16;  // worker: event messages per fetch
  bool keep_events = false;              // worker: keep digested event messages (text) in DG_EVENTS
  int64_t intake_keep_s = 3600;          // correlator: DG_INTAKE messages kept after they were numbered
  std::string listen, port_file;
  std::string policy, out;  // correlator
  bool until_done = false;
  int snapshot_every_s = 60;              // correlator: engine snapshots to dg_snapshots
  uint64_t snapshot_every_events = 0;
  bool resume = true;
};
void AddClusterOptions(CLI::App& publish, CLI::App& worker, CLI::App& correlator, CLI::App& decide, ClusterArgs& args);
int RunPublishCmd(const ClusterArgs& args);
int RunWorkerCmd(const ClusterArgs& args);
int RunCorrelatorCmd(const ClusterArgs& args);
int RunDecideCmd(const ClusterArgs& args);

}  // namespace dg::cli
