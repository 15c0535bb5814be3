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

  auto* version_cmd = app.add_subcommand("version", "Print the version");

  // Planned front ends: present so that --help lists them, but they say
  // clearly that they are not built yet and exit non-zero.
  struct Planned {
    const char* name;
    const char* what;
  };
  const Planned planned[] = {
      {"report", "Regenerate report.html from a serve data directory (not built yet)"},
      {"export", "Export campaigns as a STIX 2.1 bundle (not built yet)"},
      {"import", "Import shared STIX 2.1 indicators (not built yet)"},
      {"traceback", "Find which accounts received near-identical responses (not built yet)"},
  };
  std::vector<CLI::App*> planned_cmds;
  for (const auto& p : planned) {
    auto* cmd = app.add_subcommand(p.name, p.what);
    cmd->allow_extras();
    planned_cmds.push_back(cmd);
  }

  CLI11_PARSE(app, argc, argv);

  if (*scan_cmd) return dg::cli::RunScan(scan);
  if (*sim_cmd) return dg::cli::RunSimulate(sim);
  if (*eval_cmd) return dg::cli::RunEval(eval);
  if (*serve_cmd) return dg::cli::RunServe(serve);
  if (*version_cmd) {
    fmt::print("distillguard {}\n", DG_VERSION);
    return 0;
  }
  for (auto* cmd : planned_cmds) {
    if (*cmd) {
      fmt::print(stderr, "distillguard {}: not built yet in this version (see the project's open issues)\n", cmd->get_name());
      return 2;
    }
  }
  return 2;
}
