// The access rules' evaluation alone (decide/access_rules.h), for 1,000
// rules that all cover the model: of one shape, and with distinct condition
// sets (bench/access_bench.sh writes the same two files). Per check:
//   Subject     interning the account's attributes against the rules;
//   Cached      a probe of the warm outcome cache (serve's steady state: no
//               attributes read);
//   Indexed     the rule index (a cache miss: serve's cost for a new
//               (account, model, bucket) key);
//   Reference   the rule-by-rule evaluation the index replaces.
// Usage: dg_access_eval_bench [--benchmark_repetitions=3 ...]
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "decide/access_rules.h"
#include "serve/service.h"

namespace dg {
namespace {

constexpr TimeMs kNow = 1780000000000LL;

std::string RulesText(bool distinct) {
  std::string t = "format = 1\nversion = \"bench\"\n";
  for (int i = 0; i < 1000; ++i) {
    t += fmt::format("[[rule]]\nid = \"r{}\"\nmodels = [\"bench-*\"]\neffect = \"deny_model\"\n"
                     "customer_reason = \"Not available for your account.\"\naudit_reason = \"bench {}\"\n[rule.require]\n", i, i);
    if (distinct) {
      t += fmt::format("verified_country_in = [\"C{}\", \"C{}\", \"US\"]\njurisdiction_not_in = [\"J{}\"]\n"
                       "verification_level_at_least = {}\norg_type_not_in = [\"O{}\"]\naccount_age_days_at_least = {}\n"
                       "payment_verified = true\nlabels_none = [\"L{}\"]\n",
                       i, i + 1, i, i % 4, i, i % 365, i);
    } else {
      t += "verified_country_in = [\"US\", \"GB\", \"DE\"]\nverification_level_at_least = 2\npayment_verified = true\n";
    }
  }
  return t;
}

const AccessRuleSet& Set(bool distinct) {
  // The bench's own rules: a refusal is a defect of the bench (value() aborts).
  static const auto similar = AccessRuleSet::FromToml(RulesText(false), "similar.toml", nullptr).value();
  static const auto dist = AccessRuleSet::FromToml(RulesText(true), "distinct.toml", nullptr).value();
  return distinct ? *dist : *similar;
}

AccountAttributes Account() {
  AccountAttributes a;
  a.account_id = "bench-1";
  a.verified_country = "US";
  a.jurisdiction = "US";
  a.verification_level = 3;
  a.org_type = "company";
  a.payment_verified = 1;
  a.created_at = kNow - 700 * kMsPerDay;
  a.labels = {"customer"};
  return a;
}

void BM_Subject(benchmark::State& state) {
  const auto& set = Set(state.range(0));
  const AccountAttributes a = Account();
  for (auto _ : state) benchmark::DoNotOptimize(set.Subject(&a, Decision::kAllow, 0.1, kNow));
}
BENCHMARK(BM_Subject)->Arg(0)->Arg(1)->ArgName("distinct");

void BM_Cached(benchmark::State& state) {
  const auto& set = Set(state.range(0));
  const AccountAttributes a = Account();
  benchmark::DoNotOptimize(set.Decide(a.account_id, 1, "bench-m0", set.Subject(&a, Decision::kAllow, 0.1, kNow)));
  std::shared_ptr<const AccessOutcome> out;
  for (auto _ : state) benchmark::DoNotOptimize(set.Probe(a.account_id, 1, "bench-m0", Decision::kAllow, 0.1, kNow, &out));
}
BENCHMARK(BM_Cached)->Arg(0)->Arg(1)->ArgName("distinct");

void BM_Indexed(benchmark::State& state) {
  const auto& set = Set(state.range(0));
  const AccountAttributes a = Account();
  const auto s = set.Subject(&a, Decision::kAllow, 0.1, kNow);
  for (auto _ : state) benchmark::DoNotOptimize(set.EvaluateIndexed(s, "bench-m0"));
}
BENCHMARK(BM_Indexed)->Arg(0)->Arg(1)->ArgName("distinct");

void BM_Reference(benchmark::State& state) {
  const auto& set = Set(state.range(0));
  const AccountAttributes a = Account();
  const auto s = set.Subject(&a, Decision::kAllow, 0.1, kNow);
  const auto rules = set.RulesFor("bench-m0");
  for (auto _ : state) benchmark::DoNotOptimize(set.Evaluate(s, *rules));
}
BENCHMARK(BM_Reference)->Arg(0)->Arg(1)->ArgName("distinct");

// Service::Check (engine + rules, no HTTP), 10,000 known accounts in turn:
// rules 0 none, 1 one shape, 2 distinct condition sets; cold 0: one model
// (the outcome cache warm), 1: every (account, model) pair new.
void BM_ServiceCheck(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("dg_access_eval_bench_{}_{}", getpid(), state.range(0));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  ServiceOptions o;
  o.data_dir = dir.string();
  if (state.range(0) > 0) {
    o.access_rules = (dir / "rules.toml").string();
    std::ofstream(o.access_rules) << RulesText(state.range(0) == 2);
  }
  auto opened = Service::Open(o);
  if (!opened.ok()) {
    state.SkipWithError(opened.status().ToString().c_str());
    return;
  }
  auto service = std::move(*opened);
  std::string accounts = "account_id,verified_country,jurisdiction,verification_level,org_type,payment_verified,created_at\n";
  for (int i = 0; i < 10000; ++i) accounts += fmt::format("bench-{},US,US,3,company,true,2024-01-01T00:00:00Z\n", i);
  if (const auto n = service->PutAccounts(accounts, "bench"); !n.ok()) {
    state.SkipWithError(n.status().ToString().c_str());
    return;
  }
  CheckRequest r;
  r.model = "bench-m0";
  r.ip = "198.51.100.7";
  const bool cold = state.range(1) != 0;
  int i = 0;
  for (auto _ : state) {
    // cold: every (account, model) pair new, as bench/access_bench.sh's cold workload
    if (cold && i % 10000 == 0) r.model = fmt::format("bench-m{}", i / 10000);
    r.account_id = fmt::format("bench-{}", i++ % 10000);
    benchmark::DoNotOptimize(service->Check(r));
  }
  service.reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ServiceCheck)->ArgsProduct({{0, 1, 2}, {0, 1}})->ArgNames({"rules", "cold"});

}  // namespace
}  // namespace dg

BENCHMARK_MAIN();
