#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "sim/eval.h"

namespace dg::cli {

void AddEvalOptions(CLI::App& cmd, EvalArgs& args) {
  cmd.add_option("--labels", args.labels, "labels.jsonl from simulate (or any labelled set)")->required();
  cmd.add_option("--accounts", args.accounts, "accounts.jsonl from scan")->required();
  cmd.add_flag("--json", args.json, "Print the figures as one JSON object");
  cmd.add_option("--min-recall", args.gate_recall, "Exit 1 if any campaign's recall is below this");
  cmd.add_option("--max-fpr", args.gate_fpr, "Exit 1 if the overall false-positive rate is above this");
  cmd.add_option("--max-archetype-fpr", args.gate_archetype_fpr, "Exit 1 if any legit archetype's FPR is above this");
  cmd.add_option("--max-leakage", args.gate_leakage, "Exit 1 if leakage is above this");
  cmd.add_option("--min-purity", args.gate_purity, "Exit 1 if campaign purity is below this");
  cmd.add_option("--max-harvest-served", args.gate_harvest_served,
                 "Exit 1 if the share of harvest requests served before the block is above this");
  cmd.add_option("--ungated-suffix", args.ungated_suffix,
                 "Campaigns whose label ends with this are not held to --min-recall (e.g. -decoys: the simulator's "
                 "attacker accounts that only ever send ordinary traffic)");
}

int RunEval(const EvalArgs& args) {
  const auto evaluated = sim::Evaluate(args.labels, args.accounts);
  if (!evaluated.ok()) return PrintError("eval", evaluated.status());
  const sim::EvalResult& r = *evaluated;
  fmt::print("{}", args.json ? sim::FormatEvalJson(r) : sim::FormatEval(r));
  int rc = 0;
  auto gate = [&](bool failed, const std::string& what) {
    if (failed) {
      fmt::print(stderr, "eval: quality gate failed: {}\n", what);
      rc = 1;
    }
  };
  const bool gated = args.gate_recall >= 0 || args.gate_fpr >= 0 || args.gate_archetype_fpr >= 0 ||
                     args.gate_leakage >= 0 || args.gate_purity >= 0 || args.gate_harvest_served >= 0;
  gate(gated && r.matched_accounts == 0, "the scan lists none of the labelled accounts (empty scan?)");
  if (args.gate_recall >= 0) {
    for (const auto& [name, g] : r.campaigns) {
      if (!args.ungated_suffix.empty() && name.size() >= args.ungated_suffix.size() &&
          name.compare(name.size() - args.ungated_suffix.size(), std::string::npos, args.ungated_suffix) == 0) {
        continue;
      }
      const double recall = g.accounts ? double(g.blocked) / g.accounts : 1.0;
      gate(recall < args.gate_recall, fmt::format("campaign {} recall {:.4f} < {}", name, recall, args.gate_recall));
    }
  }
  if (args.gate_fpr >= 0) gate(r.Fpr() > args.gate_fpr, fmt::format("FPR {:.5f} > {}", r.Fpr(), args.gate_fpr));
  if (args.gate_archetype_fpr >= 0) {
    for (const auto& [name, g] : r.archetypes) {
      const double fpr = g.accounts ? double(g.blocked) / g.accounts : 0.0;
      gate(fpr > args.gate_archetype_fpr, fmt::format("archetype {} FPR {:.5f} > {}", name, fpr, args.gate_archetype_fpr));
    }
  }
  if (args.gate_leakage >= 0) gate(r.Leakage() > args.gate_leakage, fmt::format("leakage {:.4f} > {}", r.Leakage(), args.gate_leakage));
  if (args.gate_harvest_served >= 0) {
    const double served = r.attack.harvest ? double(r.attack.harvest_served) / r.attack.harvest : 0.0;
    gate(served > args.gate_harvest_served, fmt::format("harvest served {:.4f} > {}", served, args.gate_harvest_served));
  }
  if (args.gate_purity >= 0) gate(r.purity < args.gate_purity, fmt::format("purity {:.4f} < {}", r.purity, args.gate_purity));
  return rc;
}

}  // namespace dg::cli
