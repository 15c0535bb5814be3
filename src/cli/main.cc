// distillguard: the command-line front end. Each subcommand is a thin layer
// over the engine library (src/); see docs/ARCHITECTURE.md.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"distillguard: detect, block and trace distillation attacks on an LLM API"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("distillguard ") + DG_VERSION);

  dg::cli::ScanArgs scan;
  auto* scan_cmd = app.add_subcommand("scan", "Read interaction logs in time order and decide online which accounts are harvesting the model");
  dg::cli::AddScanOptions(*scan_cmd, scan);

  dg::cli::SimulateArgs sim;
  auto* sim_cmd = app.add_subcommand("simulate", "Write labelled synthetic API traffic (events.jsonl + labels.jsonl)");
  dg::cli::AddSimulateOptions(*sim_cmd, sim);

  dg::cli::EvalArgs eval;
  auto* eval_cmd = app.add_subcommand("eval", "Score a scan's accounts.jsonl against labels (recall, FPR, leakage, purity)");
  dg::cli::AddEvalOptions(*eval_cmd, eval);

  dg::cli::ServeArgs serve;
  auto* serve_cmd = app.add_subcommand("serve", "Live service: decision API, ingest and analyst API, durable under --data");
  dg::cli::AddServeOptions(*serve_cmd, serve);

  dg::cli::TraceArgs report, exp, imp, tb;
  auto* report_cmd = app.add_subcommand("report", "Write report.html from a serve data directory");
  dg::cli::AddReportOptions(*report_cmd, report);
  auto* export_cmd = app.add_subcommand("export", "Export campaigns and their indicators as a STIX 2.1 bundle");
  dg::cli::AddExportOptions(*export_cmd, exp);
  auto* import_cmd = app.add_subcommand("import", "Load STIX 2.1 indicators shared by another provider into a serve data directory");
  dg::cli::AddImportOptions(*import_cmd, imp);
  auto* traceback_cmd = app.add_subcommand("traceback", "Find which accounts and campaigns received near-identical responses to suspect texts");
  dg::cli::AddTracebackOptions(*traceback_cmd, tb);

  dg::cli::AccessImpactArgs impact;
  auto* impact_cmd = app.add_subcommand("access-impact",
                                        "What access rules would deny, per rule and model, before they go live (accounts, recent traffic)");
  dg::cli::AddAccessImpactOptions(*impact_cmd, impact);

  dg::cli::ClusterArgs cluster;
  auto* publish_cmd = app.add_subcommand("publish", "Publish logs to the cluster's event stream on NATS JetStream (docs/SCALE.md)");
  auto* worker_cmd = app.add_subcommand("worker", "Cluster worker: digest the events of its partitions");
  auto* correlator_cmd = app.add_subcommand("correlator", "Cluster correlator: apply the digests in order, write verdicts to the KV bucket");
  auto* decide_cmd = app.add_subcommand("decide", "Cluster decision node: answer /v1/check from the verdict bucket, in memory");
  dg::cli::AddClusterOptions(*publish_cmd, *worker_cmd, *correlator_cmd, *decide_cmd, cluster);

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  // Usage errors exit 2 (CLI11's own codes are 100+); --help and --version 0.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  if (*scan_cmd) return dg::cli::RunScan(scan);
  if (*sim_cmd) return dg::cli::RunSimulate(sim);
  if (*eval_cmd) return dg::cli::RunEval(eval);
  if (*serve_cmd) return dg::cli::RunServe(serve);
  if (*report_cmd) return dg::cli::RunReport(report);
  if (*export_cmd) return dg::cli::RunExport(exp);
  if (*import_cmd) return dg::cli::RunImport(imp);
  if (*traceback_cmd) return dg::cli::RunTraceback(tb);
  if (*impact_cmd) return dg::cli::RunAccessImpact(impact);
  if (*publish_cmd) return dg::cli::RunPublishCmd(cluster);
  if (*worker_cmd) return dg::cli::RunWorkerCmd(cluster);
  if (*correlator_cmd) return dg::cli::RunCorrelatorCmd(cluster);
  if (*decide_cmd) return dg::cli::RunDecideCmd(cluster);
  if (*version_cmd) {
    fmt::print("distillguard {}\n", DG_VERSION);
    return 0;
  }
  return 2;
}
