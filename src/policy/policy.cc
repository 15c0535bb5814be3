#include "common/toml_int.h"
#include "policy/policy.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace dg {

absl::StatusOr<Policy> Policy::FromToml(std::string_view text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    return absl::InvalidArgumentError(fmt::format("{}:{}: {}", origin, err.source().begin.line, err.description()));
  }
  Policy p;
  bool ok = true;
  std::string error;  // the first problem found
  auto fail = [&](const toml::node& node, std::string_view key, std::string_view why) {
    if (ok) error = fmt::format("{}:{}: key '{}': {}", origin, node.source().begin.line, key, why);
    ok = false;
  };
  using Setter = std::function<void(const toml::node&, const std::string&)>;
  auto number = [&](double* dst, double lo, double hi) -> Setter {
    return [&, dst, lo, hi](const toml::node& n, const std::string& key) {
      const auto v = n.value<double>();
      if (!v || !n.is_number()) return fail(n, key, "must be a number");
      if (*v < lo || *v > hi) return fail(n, key, fmt::format("must be in [{}, {}]", lo, hi));
      *dst = *v;
    };
  };
  auto integer = [&](auto* dst, int64_t lo, int64_t hi) -> Setter {
    return [&, dst, lo, hi](const toml::node& n, const std::string& key) {
      const auto v = TomlInteger(n);
      if (!v || !n.is_integer()) return fail(n, key, "must be an integer");
      if (*v < lo || *v > hi) return fail(n, key, fmt::format("must be in [{}, {}]", lo, hi));
      *dst = static_cast<std::remove_pointer_t<decltype(dst)>>(*v);
    };
  };
  auto string_set = [&](absl::flat_hash_set<std::string>* dst) -> Setter {
    return [&, dst](const toml::node& n, const std::string& key) {
      const auto* arr = n.as_array();
      if (arr == nullptr) return fail(n, key, "must be a list of strings");
      for (const auto& el : *arr) {
        if (!el.is_string()) return fail(el, key, "must be a list of strings");
        dst->insert(*el.value<std::string>());
      }
    };
  };
  std::map<std::string, Setter> keys = {
      {"version", [&](const toml::node& n, const std::string& key) {
         if (TomlInteger(n) != 1) fail(n, key, "unsupported policy version (expected 1)");
       }},
      {"mode", [&](const toml::node& n, const std::string& key) {
         const auto v = n.value<std::string>();
         if (v == "enforce") p.review_only = false;
         else if (v == "review-only") p.review_only = true;
         else fail(n, key, "must be \"enforce\" or \"review-only\"");
       }},
      {"thresholds.suspicious_score", number(&p.suspicious_score, 0, 1)},
      {"thresholds.review_score", number(&p.review_score, 0, 1)},
      {"thresholds.automation_score", number(&p.automation_score, 0, 1.01)},
      {"thresholds.established_automation_score", number(&p.established_automation_score, 0, 1.01)},
      {"thresholds.young_account_days", number(&p.young_account_days, 0, 3650)},
      {"thresholds.solo_block_score", number(&p.solo_block_score, 0, 1.01)},
      {"thresholds.campaign_block_score", number(&p.campaign_block_score, 0, 1)},
      {"thresholds.min_interactions", integer(&p.min_interactions, 1, 100000)},
      {"thresholds.campaign_min_accounts", integer(&p.campaign_min_accounts, 2, 100000)},
      {"thresholds.campaign_block_min_accounts", integer(&p.campaign_block_min_accounts, 2, 100000)},
      {"thresholds.one_customer_max_accounts", integer(&p.one_customer_max_accounts, 0, 16)},
      {"thresholds.link_threshold", number(&p.link_threshold, 0.01, 100)},
      {"thresholds.min_indicator_purity", number(&p.min_indicator_purity, 0, 1)},
      {"thresholds.high_max_tokens", integer(&p.high_max_tokens, 1, 10000000)},
      {"thresholds.evaluation_repeat_share", number(&p.evaluation_repeat_share, 0.05, 1.01)},
      {"links.content_cap", number(&p.content_cap, 0, 10)},
      {"links.onset", number(&p.onset, 0, 10)},
      {"links.rotation", number(&p.rotation, 0, 10)},
      {"allowlist.orgs", string_set(&p.allow_orgs)},
      {"allowlist.accounts", string_set(&p.allow_accounts)},
  };
  // One key per own-behaviour signal and per indicator kind, named as in
  // signals/signals.h.
  for (const auto& sig : kSignals) {
    if (IsOwnBehaviour(sig.reason)) {
      keys["weights." + std::string(sig.name)] = number(&p.weights[static_cast<size_t>(sig.reason)], 0, 10);
    }
  }
  for (const auto& spec : kIndicatorSpecs) {
    keys["links." + std::string(spec.name)] = number(&p.links[static_cast<size_t>(spec.kind)], 0, 10);
  }
  // Names of version 1 before the names were unified (still read).
  keys["weights.reasoning_elicitation"] = keys["weights.cot_elicitation"];
  const std::vector<std::string> tables = {"thresholds", "weights", "links", "allowlist"};
  for (const auto& [key, node] : root) {
    const std::string k(key.str());
    if (std::find(tables.begin(), tables.end(), k) != tables.end()) {
      const auto* tbl = node.as_table();
      if (tbl == nullptr) {
        fail(node, k, "must be a table");
        break;
      }
      for (const auto& [sub, subnode] : *tbl) {
        const std::string full = k + "." + std::string(sub.str());
        const auto it = keys.find(full);
        if (it == keys.end()) fail(subnode, full, "unknown key");
        else it->second(subnode, full);
        if (!ok) break;
      }
    } else if (const auto it = keys.find(k); it != keys.end()) {
      it->second(node, k);
    } else {
      fail(node, k, "unknown key (expected version, mode, thresholds, weights, links, allowlist)");
    }
    if (!ok) return absl::InvalidArgumentError(error);
  }
  if (!ok) return absl::InvalidArgumentError(error);
  return p;
}

absl::StatusOr<Policy> Policy::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("{}: cannot read policy file", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return FromToml(ss.str(), path);
}

}  // namespace dg
