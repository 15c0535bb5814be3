// distillguard access-impact: what access rules would deny before they go
// live (docs/ACCESS.md, "dry run -> enforce"). For every rule and every
// model it covers: how many accounts it would deny (or restrict), how many
// of those used the model recently and how many requests they sent, broken
// down by verified country and verification level.
//
// Accounts: the attributes file, plus every account seen in the logs (an
// account without attributes counts as not verified, as in serve). Models:
// the rules' catalogue, the exact names the rules give, and the models seen
// in the logs. Rules that read the detector's verdict are evaluated as if
// the detector allowed everything (the detector's verdicts depend on the
// traffic to come); the header says so. Every rule counts, whatever its
// mode. Cost: one parse per log line; memory ~24 bytes per logged request
// of the window plus the accounts.
#include <algorithm>
#include <map>

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "common/clock.h"
#include "decide/access_rules.h"
#include "ingest/accounts.h"
#include "ingest/line_reader.h"
#include "ingest/mapping.h"
#include "ingest/parser.h"

namespace dg::cli {

void AddAccessImpactOptions(CLI::App& cmd, AccessImpactArgs& args) {
  cmd.add_option("--rules", args.rules, "Access rules (TOML, docs/ACCESS.md)")->required();
  cmd.add_option("--accounts", args.accounts, "Account attributes (JSONL or CSV, as scan --accounts)")->required();
  cmd.add_option("--logs", args.logs, "Interaction logs (JSONL, .gz, .zst) for the recent traffic each rule would deny");
  cmd.add_option("--mapping", args.mapping, "Field mapping of the logs: a preset (docs/LOGS.md) or a TOML file")->capture_default_str();
  cmd.add_option("--days", args.days, "Recent traffic: the last DAYS days before --now")->capture_default_str();
  cmd.add_option("--now", args.now,
                 "The clock for account ages and the window (RFC 3339); default: the newest logged event, else the wall clock");
  cmd.add_option("--top", args.top, "Countries and levels shown per rule and model (the rest summed)")->capture_default_str();
}

namespace {

struct Breakdown {
  uint64_t accounts = 0, requests = 0;
};

struct Impact {
  uint64_t accounts = 0, active = 0, requests = 0;
  std::map<std::string, Breakdown> by_country, by_level;
};

std::string Thousands(uint64_t v) {
  std::string s = std::to_string(v);
  for (int pos = static_cast<int>(s.size()) - 3; pos > 0; pos -= 3) s.insert(static_cast<size_t>(pos), ",");
  return s;
}

std::string Share(uint64_t part, uint64_t whole) {
  return whole == 0 ? "-" : fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

std::string Top(const std::map<std::string, Breakdown>& m, size_t top, bool traffic) {
  std::vector<std::pair<std::string, Breakdown>> v(m.begin(), m.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second.accounts > b.second.accounts; });
  std::string out;
  Breakdown rest;
  size_t rest_n = 0;
  for (size_t idx = 0; idx < v.size(); ++idx) {
    if (idx >= top) {
      rest.accounts += v[idx].second.accounts;
      rest.requests += v[idx].second.requests;
      ++rest_n;
      continue;
    }
    if (!out.empty()) out += " | ";
    out += fmt::format("{} {}", v[idx].first, Thousands(v[idx].second.accounts));
    if (traffic) out += fmt::format(" ({} req)", Thousands(v[idx].second.requests));
  }
  if (rest_n > 0) {
    out += fmt::format(" | {} others {}", rest_n, Thousands(rest.accounts));
    if (traffic) out += fmt::format(" ({} req)", Thousands(rest.requests));
  }
  return out;
}

}  // namespace

int RunAccessImpact(const AccessImpactArgs& args) {
  const auto loaded = AccessRuleSet::Load(args.rules);
  if (!loaded.ok()) return PrintError("access-impact", loaded.status());
  const std::shared_ptr<const AccessRuleSet>& rules = *loaded;
  AccountDirectory accounts;
  if (const absl::Status read = accounts.LoadFile(args.accounts); !read.ok()) return PrintError("access-impact", read);
  if (args.days <= 0) {
    fmt::print(stderr, "access-impact: --days must be > 0\n");
    return 2;
  }
  // Logged requests: (account, model, time), the ids interned.
  std::vector<std::string> account_names, model_names;
  absl::flat_hash_map<std::string, uint32_t> account_ids, model_ids;
  auto intern = [](absl::flat_hash_map<std::string, uint32_t>& ids, std::vector<std::string>& names, const std::string& v) {
    const auto [it, fresh] = ids.try_emplace(v, static_cast<uint32_t>(names.size()));
    if (fresh) names.push_back(v);
    return it->second;
  };
  struct Logged {
    uint32_t account, model;
    TimeMs ts;
  };
  std::vector<Logged> logged;
  uint64_t bad_lines = 0;
  TimeMs newest = kNoTime;
  if (!args.logs.empty()) {
    auto mapping = FieldMapping::Load(args.mapping);
    if (!mapping.ok()) return PrintError("access-impact", mapping.status());
    RecordParser parser(std::move(*mapping));
    Interaction in;
    for (const auto& path : args.logs) {
      auto reader = LineReader::Open(path, kDefaultMaxLineBytes);
      if (!reader.ok()) return PrintError("access-impact", reader.status());
      std::string_view line;
      for (;;) {
        const auto st = (*reader)->Next(&line);
        if (st == LineReader::Status::kEof) break;
        if (st == LineReader::Status::kError) {
          return PrintError("access-impact", (*reader)->error());
        }
        if (st == LineReader::Status::kTooLong || line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        if (parser.Parse(line, true, &in)) {
          ++bad_lines;
          continue;
        }
        logged.push_back({intern(account_ids, account_names, in.account_id), intern(model_ids, model_names, in.model), in.ts});
        newest = std::max(newest, in.ts);
      }
    }
  }
  TimeMs now = newest != kNoTime ? newest : SystemNowMs();
  if (!args.now.empty()) {
    const auto t = ParseRfc3339(args.now);
    if (!t) {
      fmt::print(stderr, "access-impact: --now '{}': not an RFC 3339 date-time\n", args.now);
      return 2;
    }
    now = *t;
  }
  const TimeMs from = now - static_cast<TimeMs>(args.days * kMsPerDay);
  // Requests in the window per (account, model), and per model.
  absl::flat_hash_map<uint64_t, uint64_t> requests;
  std::vector<uint64_t> model_requests(model_names.size(), 0);
  uint64_t window_requests = 0;
  for (const auto& l : logged) {
    if (l.ts <= from || l.ts > now) continue;
    ++requests[(uint64_t{l.account} << 32) | l.model];
    ++model_requests[l.model];
    ++window_requests;
  }
  logged = {};
  // The models: the catalogue's, the rules' exact names, the logs'.
  std::vector<std::string> models;
  for (const auto& [name, date] : rules->catalogue()) models.push_back(name);
  for (const auto& r : rules->rules()) {
    for (const auto& m : r.models) {
      if (m.find_first_of("*?") == std::string::npos) models.push_back(m);
    }
  }
  for (const auto& m : model_names) models.push_back(m);
  std::sort(models.begin(), models.end());
  models.erase(std::unique(models.begin(), models.end()), models.end());
  models.erase(std::remove(models.begin(), models.end(), std::string()), models.end());
  // The accounts: the directory's and the logs'.
  std::vector<std::string> universe;
  accounts.ForEach([&](const AccountAttributes& a) { universe.push_back(a.account_id); });
  for (const auto& a : account_names) {
    if (accounts.Find(a) == nullptr) universe.push_back(a);
  }
  std::sort(universe.begin(), universe.end());
  // (rule, model) -> impact
  std::map<std::pair<uint32_t, std::string>, Impact> impact;
  bool reads_detector = false;
  for (const auto& r : rules->rules()) reads_detector |= r.reads_detector;
  for (const auto& id : universe) {
    const AccountAttributes* a = accounts.Find(id);
    const AccessSubject s = rules->Subject(a, Decision::kAllow, 0, now);
    const auto acc_it = account_ids.find(id);
    const std::string country = a && !a->verified_country.empty() ? a->verified_country : "(missing)";
    const std::string level = a && a->verification_level >= 0 ? fmt::format("level {}", a->verification_level) : "level (missing)";
    for (const auto& model : models) {
      const auto covering = rules->RulesFor(model);
      if (covering->empty()) continue;
      const AccessOutcome out = rules->Evaluate(s, *covering);
      uint64_t n = 0;
      if (acc_it != account_ids.end()) {
        const auto m = model_ids.find(model);
        if (m != model_ids.end()) {
          const auto q = requests.find((uint64_t{acc_it->second} << 32) | m->second);
          if (q != requests.end()) n = q->second;
        }
      }
      for (const uint32_t idx : out.triggered) {
        Impact& imp = impact[{idx, model}];
        ++imp.accounts;
        imp.active += n > 0;
        imp.requests += n;
        auto& c = imp.by_country[country];
        ++c.accounts;
        c.requests += n;
        auto& l = imp.by_level[level];
        ++l.accounts;
        l.requests += n;
      }
    }
  }
  // The table.
  fmt::print("access-impact: {} version {} (sha256 {}), {} rules\n", args.rules, rules->version(), rules->sha256().substr(0, 16),
             rules->rules().size());
  fmt::print("accounts: {} ({} with attributes from {})\n", Thousands(universe.size()), Thousands(accounts.size()), args.accounts);
  if (!args.logs.empty()) {
    fmt::print("traffic: {} requests in the {} days to {}{}\n", Thousands(window_requests), args.days, FormatRfc3339(now),
               bad_lines ? fmt::format(" ({} unreadable lines skipped)", Thousands(bad_lines)) : "");
  } else {
    fmt::print("traffic: no --logs given (accounts only)\n");
  }
  if (reads_detector) fmt::print("note: rules that read the detector's verdict are evaluated as if it allowed every account\n");
  fmt::print("\n{:<34} {:<8} {:<22} {:<14} {:>9} {:>7} {:>8} {:>11} {:>7}\n", "rule", "mode", "effect", "model", "accounts", "share",
             "active", "requests", "share");
  uint32_t last_rule = UINT32_MAX;
  for (const auto& [key, imp] : impact) {
    const AccessRule& r = rules->rules()[key.first];
    const auto m = model_ids.find(key.second);
    const uint64_t model_total = m != model_ids.end() ? model_requests[m->second] : 0;
    std::string effect(AccessEffectName(r.effect));
    if (r.effect == AccessEffect::kCapOutputTokens) effect += fmt::format(" {}", r.cap_output_tokens);
    fmt::print("{:<34} {:<8} {:<22} {:<14} {:>9} {:>7} {:>8} {:>11} {:>7}\n", key.first == last_rule ? "" : r.id.substr(0, 34),
               key.first == last_rule ? "" : std::string(AccessModeName(r.mode)), key.first == last_rule ? "" : effect,
               key.second.substr(0, 14), Thousands(imp.accounts), Share(imp.accounts, universe.size()), Thousands(imp.active),
               args.logs.empty() ? "-" : Thousands(imp.requests), args.logs.empty() ? "-" : Share(imp.requests, model_total));
    fmt::print("    by verified country:    {}\n", Top(imp.by_country, args.top, !args.logs.empty()));
    fmt::print("    by verification level:  {}\n", Top(imp.by_level, args.top, !args.logs.empty()));
    last_rule = key.first;
  }
  if (impact.empty()) fmt::print("(no rule would apply to any account)\n");
  return 0;
}

}  // namespace dg::cli
