#include "common/toml_int.h"
#include "decide/policy.h"

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace dg {

std::optional<Policy> Policy::FromToml(std::string_view text, const std::string& origin, std::string* error) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& err) {
    *error = fmt::format("{}:{}: {}", origin, err.source().begin.line, err.description());
    return std::nullopt;
  }
  Policy p;
  bool ok = true;
  auto fail = [&](const toml::node& node, std::string_view key, std::string_view why) {
    if (ok) *error = fmt::format("{}:{}: key '{}': {}", origin, node.source().begin.line, key, why);
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
  const std::map<std::string, Setter> keys = {
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
      {"thresholds.link_threshold", number(&p.link_threshold, 0.01, 100)},
      {"thresholds.min_indicator_purity", number(&p.min_indicator_purity, 0, 1)},
      {"thresholds.high_max_tokens", integer(&p.high_max_tokens, 1, 10000000)},
      {"weights.reasoning_elicitation", number(&p.weights.reasoning_elicitation, 0, 10)},
      {"weights.reasoning_reconstruction", number(&p.weights.reasoning_reconstruction, 0, 10)},
      {"weights.rubric_grading", number(&p.weights.rubric_grading, 0, 10)},
      {"weights.data_generation", number(&p.weights.data_generation, 0, 10)},
      {"weights.single_turn", number(&p.weights.single_turn, 0, 10)},
      {"weights.fixed_sampling", number(&p.weights.fixed_sampling, 0, 10)},
      {"weights.template_concentration", number(&p.weights.template_concentration, 0, 10)},
      {"weights.round_the_clock", number(&p.weights.round_the_clock, 0, 10)},
      {"weights.machine_pacing", number(&p.weights.machine_pacing, 0, 10)},
      {"weights.high_volume", number(&p.weights.high_volume, 0, 10)},
      {"weights.young_account", number(&p.weights.young_account, 0, 10)},
      {"weights.max_output_cap", number(&p.weights.max_output_cap, 0, 10)},
      {"links.payment", number(&p.links.payment, 0, 10)},
      {"links.ip_prefix", number(&p.links.ip_prefix, 0, 10)},
      {"links.system_prompt", number(&p.links.system_prompt, 0, 10)},
      {"links.prompt_template", number(&p.links.prompt_template, 0, 10)},
      {"links.prompt_frame", number(&p.links.prompt_frame, 0, 10)},
      {"links.toolset", number(&p.links.toolset, 0, 10)},
      {"links.client", number(&p.links.client, 0, 10)},
      {"links.creation_burst", number(&p.links.creation_burst, 0, 10)},
      {"links.email_domain", number(&p.links.email_domain, 0, 10)},
      {"links.behaviour", number(&p.links.behaviour, 0, 10)},
      {"links.schedule", number(&p.links.schedule, 0, 10)},
      {"links.content_cap", number(&p.links.content_cap, 0, 10)},
      {"allowlist.orgs", string_set(&p.allow_orgs)},
      {"allowlist.accounts", string_set(&p.allow_accounts)},
  };
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
    if (!ok) return std::nullopt;
  }
  if (!ok) return std::nullopt;
  return p;
}

std::optional<Policy> Policy::Load(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = fmt::format("{}: cannot read policy file", path);
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return FromToml(ss.str(), path, error);
}

}  // namespace dg
