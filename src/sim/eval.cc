#include "sim/eval.h"

#include <fstream>

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>
#include <simdjson.h>

namespace dg::sim {
namespace {

struct Label {
  bool attack = false;
  std::string campaign;
  std::string archetype;
};

}  // namespace

absl::StatusOr<EvalResult> Evaluate(const std::string& labels_path, const std::string& accounts_path) {
  EvalResult result;
  EvalResult* out = &result;
  simdjson::dom::parser parser;
  absl::flat_hash_map<std::string, Label> labels;
  {
    std::ifstream in(labels_path);
    if (!in) {
      return absl::NotFoundError(labels_path + ": cannot read");
    }
    std::string line;
    uint64_t line_no = 0;
    while (std::getline(in, line)) {
      ++line_no;
      if (line.empty()) continue;
      simdjson::dom::element e;
      std::string_view id, label;
      if (parser.parse(line).get(e) || e["account_id"].get(id) || e["label"].get(label)) {
        return absl::InvalidArgumentError(fmt::format("{}:{}: expected {{\"account_id\", \"label\", ...}}", labels_path, line_no));
      }
      Label l;
      l.attack = label == "attack";
      std::string_view s;
      if (e["campaign"].get(s) == simdjson::SUCCESS) l.campaign = s;
      if (e["archetype"].get(s) == simdjson::SUCCESS) l.archetype = s;
      labels[std::string(id)] = std::move(l);
    }
  }
  std::ifstream in(accounts_path);
  if (!in) {
    return absl::NotFoundError(accounts_path + ": cannot read");
  }
  // predicted campaign -> (true group -> count)
  std::map<std::string, std::map<std::string, uint64_t>> predicted;
  absl::flat_hash_map<std::string, bool> listed;
  std::string line;
  uint64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    simdjson::dom::element e;
    std::string_view id, verdict;
    uint64_t n = 0;
    if (parser.parse(line).get(e) || e["account_id"].get(id) || e["verdict"].get(verdict) || e["interactions"].get(n)) {
      return absl::InvalidArgumentError(fmt::format("{}:{}: expected an accounts.jsonl line", accounts_path, line_no));
    }
    const auto it = labels.find(std::string(id));
    if (it == labels.end()) {
      ++out->unlabelled_accounts;
      continue;
    }
    if (!listed.emplace(it->first, true).second) continue;  // listed twice: counted once
    ++out->matched_accounts;
    const Label& l = it->second;
    const bool blocked = verdict == "block";
    uint64_t before = n;
    if (blocked) {
      uint64_t b = 0;
      if (e["interactions_before_flag"].get(b) == simdjson::SUCCESS) before = b;
    }
    // Yield: harvest requests and tokens served (before the block).
    auto count = [&](const char* field) {
      uint64_t v = 0;
      return e[field].get(v) == simdjson::SUCCESS ? v : uint64_t{0};
    };
    const uint64_t harvest = count("harvest_requests");
    const uint64_t tokens = count("output_tokens") + count("reasoning_tokens");
    const uint64_t days = count("active_days");
    const uint64_t harvest_served = blocked ? std::min(harvest, count("harvest_before_flag")) : harvest;
    const uint64_t tokens_served = blocked ? std::min(tokens, count("tokens_before_flag")) : tokens;
    auto add = [&](GroupFigures& g) {
      ++g.accounts;
      g.harvest += harvest;
      g.harvest_served += harvest_served;
      g.tokens += tokens;
      g.tokens_served += tokens_served;
      g.tokens_served_in_review += verdict == "review" ? tokens_served : 0;
      g.account_days += days;
      g.blocked += blocked;
      g.review += verdict == "review";
      g.interactions += n;
      g.served_before_block += blocked ? before : n;
      g.interactions_blocked += blocked ? n - std::min(n, before) + 1 : 0;
    };
    if (l.attack) {
      add(out->attack);
      add(out->campaigns[l.campaign.empty() ? "(none)" : l.campaign]);
    } else {
      add(out->legit);
      add(out->archetypes[l.archetype.empty() ? "(none)" : l.archetype]);
    }
    std::string_view camp;
    if (e["campaign_id"].get(camp) == simdjson::SUCCESS) {
      predicted[std::string(camp)][l.attack ? l.campaign : "legit"]++;
    }
  }
  // A labelled account the scan never listed was not blocked: count it as
  // allowed (its interactions are unknown here), and say how many.
  for (const auto& [id, l] : labels) {
    if (listed.contains(id)) continue;
    ++out->missing_accounts;
    auto add = [](GroupFigures& g) { ++g.accounts; };
    if (l.attack) {
      add(out->attack);
      add(out->campaigns[l.campaign.empty() ? "(none)" : l.campaign]);
    } else {
      add(out->legit);
      add(out->archetypes[l.archetype.empty() ? "(none)" : l.archetype]);
    }
  }
  uint64_t total = 0, majority = 0;
  for (const auto& [camp, groups] : predicted) {
    uint64_t best = 0, sum = 0;
    for (const auto& [g, n] : groups) {
      best = std::max(best, n);
      sum += n;
    }
    total += sum;
    majority += best;
  }
  out->predicted_campaigns = predicted.size();
  out->purity = total ? double(majority) / total : 1.0;
  // true campaign -> (predicted campaign -> count), attack accounts only.
  std::map<std::string, std::map<std::string, uint64_t>> placed;
  for (const auto& [camp, groups] : predicted) {
    for (const auto& [g, n] : groups) {
      if (g != "legit") placed[g][camp] += n;
    }
  }
  uint64_t placed_total = 0, largest = 0;
  for (const auto& [g, camps] : placed) {
    uint64_t best = 0;
    for (const auto& [camp, n] : camps) {
      best = std::max(best, n);
      placed_total += n;
    }
    largest += best;
    out->pieces += camps.size();
  }
  out->true_campaigns_placed = placed.size();
  out->completeness = placed_total ? double(largest) / placed_total : 1.0;
  return result;
}

std::string FormatEval(const EvalResult& r) {
  std::string s = fmt::format(
      "account recall: {:.4f} ({}/{})   FPR: {:.5f} ({}/{})   leakage: {:.4f}   legit interactions blocked: {:.5f}   "
      "campaign purity: {:.4f} ({} campaigns)\n",
      r.Recall(), r.attack.blocked, r.attack.accounts, r.Fpr(), r.legit.blocked, r.legit.accounts, r.Leakage(),
      r.LegitInteractionsBlocked(), r.purity, r.predicted_campaigns);
  s += fmt::format("campaign completeness: {:.4f} ({} true campaigns in {} predicted pieces)\n", r.completeness,
                   r.true_campaigns_placed, r.pieces);
  s += fmt::format("{:<26} {:>8} {:>8} {:>8} {:>9} {:>9}\n", "attack campaign", "accounts", "blocked", "review", "recall", "leakage");
  for (const auto& [name, g] : r.campaigns) {
    s += fmt::format("{:<26} {:>8} {:>8} {:>8} {:>9.4f} {:>9.4f}\n", name, g.accounts, g.blocked, g.review,
                     g.accounts ? double(g.blocked) / g.accounts : 1.0,
                     g.interactions ? double(g.served_before_block) / g.interactions : 0.0);
  }
  s += fmt::format("attacker yield: harvest requests {} of {} served ({:.4f}), output + reasoning tokens {} of {} served ({:.4f}), "
                   "{} of them to accounts in review\n",
                   r.attack.harvest_served, r.attack.harvest, r.attack.harvest ? double(r.attack.harvest_served) / r.attack.harvest : 0.0,
                   r.attack.tokens_served, r.attack.tokens, r.attack.tokens ? double(r.attack.tokens_served) / r.attack.tokens : 0.0,
                   r.attack.tokens_served_in_review);
  s += fmt::format("{:<26} {:>10} {:>10} {:>13} {:>13} {:>12} {:>11}\n", "yield by campaign", "harvest", "served", "tokens",
                   "served", "per account", "per acct-day");
  for (const auto& [name, g] : r.campaigns) {
    s += fmt::format("{:<26} {:>10} {:>10} {:>13} {:>13} {:>12.0f} {:>11.0f}\n", name, g.harvest, g.harvest_served, g.tokens,
                     g.tokens_served, g.accounts ? double(g.tokens_served) / g.accounts : 0.0,
                     g.account_days ? double(g.tokens_served) / g.account_days : 0.0);
  }
  s += fmt::format("{:<26} {:>8} {:>8} {:>8} {:>9}\n", "legit archetype", "accounts", "blocked", "review", "FPR");
  for (const auto& [name, g] : r.archetypes) {
    s += fmt::format("{:<26} {:>8} {:>8} {:>8} {:>9.5f}\n", name, g.accounts, g.blocked, g.review,
                     g.accounts ? double(g.blocked) / g.accounts : 0.0);
  }
  if (r.unlabelled_accounts) s += fmt::format("accounts without a label: {}\n", r.unlabelled_accounts);
  if (r.missing_accounts) {
    s += fmt::format("labelled accounts missing from the scan (counted as allowed): {}\n", r.missing_accounts);
  }
  return s;
}

std::string FormatEvalJson(const EvalResult& r) {
  auto group = [](const GroupFigures& g) {
    return fmt::format(
        "{{\"accounts\":{},\"blocked\":{},\"review\":{},\"interactions\":{},\"served_before_block\":{},\"harvest_requests\":{},"
        "\"harvest_served\":{},\"tokens\":{},\"tokens_served\":{},\"tokens_served_in_review\":{},\"account_days\":{}}}",
        g.accounts, g.blocked, g.review, g.interactions, g.served_before_block, g.harvest, g.harvest_served, g.tokens,
        g.tokens_served, g.tokens_served_in_review, g.account_days);
  };
  std::string s = fmt::format(
      "{{\"recall\":{:.6f},\"fpr\":{:.6f},\"leakage\":{:.6f},\"legit_interactions_blocked\":{:.6f},\"purity\":{:.6f},"
      "\"completeness\":{:.6f},\"pieces\":{},\"predicted_campaigns\":{},\"missing_accounts\":{},\"campaigns\":{{",
      r.Recall(), r.Fpr(), r.Leakage(), r.LegitInteractionsBlocked(), r.purity, r.completeness, r.pieces, r.predicted_campaigns,
      r.missing_accounts);
  bool first = true;
  for (const auto& [name, g] : r.campaigns) {
    s += fmt::format("{}\"{}\":{}", first ? "" : ",", name, group(g));
    first = false;
  }
  s += "},\"archetypes\":{";
  first = true;
  for (const auto& [name, g] : r.archetypes) {
    s += fmt::format("{}\"{}\":{}", first ? "" : ",", name, group(g));
    first = false;
  }
  s += "}}\n";
  return s;
}

}  // namespace dg::sim
