// report, export, import: the trace front ends over a scan output directory
// or a serve data directory.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include <map>

#include <simdjson.h>

#include "common/json_out.h"
#include "report/stix.h"
#include "report/traceback.h"
#include "serve/store.h"
#include "serve/wire.h"
#include "serve/service.h"

namespace dg::cli {
namespace {

bool IsServeDir(const std::string& dir) { return std::filesystem::exists(std::filesystem::path(dir) / "distillguard.db"); }
bool IsScanDir(const std::string& dir) { return std::filesystem::exists(std::filesystem::path(dir) / "campaigns.jsonl"); }

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(path + ": cannot read");
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// lock: the data directory's exclusive lock, as serve takes it (for writers:
// a running serve would not see what they write until its next start).
// keep_samples false: the samples in its store are ignored and content
// indicators shown by fingerprint (--no-samples).
absl::StatusOr<std::unique_ptr<Service>> OpenServeDir(const std::string& dir, bool lock = false, bool keep_samples = true) {
  ServiceOptions so;
  so.data_dir = dir;
  so.lock_data_dir = lock;
  so.keep_samples = keep_samples;
  return Service::Open(std::move(so));
}

}  // namespace

void AddReportOptions(CLI::App& cmd, TraceArgs& args) {
  cmd.add_option("--from", args.from, "serve data directory")->required();
  cmd.add_option("--out", args.out, "Where to write the page (default DIR/report.html)");
  cmd.add_flag("--no-samples", args.no_samples, "No prompt text: ignore the samples in the store (as serve --no-samples)");
}

int RunReport(const TraceArgs& args) {
  if (!IsServeDir(args.from)) {
    fmt::print(stderr, "report: {}: not a serve data directory (no distillguard.db); scan --out writes its report itself\n", args.from);
    return 2;
  }
  auto svc = OpenServeDir(args.from, /*lock=*/false, /*keep_samples=*/!args.no_samples);
  if (!svc.ok()) return PrintError("report", svc.status());
  const std::string out = args.out.empty() ? (std::filesystem::path(args.from) / "report.html").string() : args.out;
  if (const absl::Status written = (*svc)->WriteReport(out); !written.ok()) return PrintError("report", written);
  fmt::print(stderr, "report: {} events from {}; wrote {}\n", (*svc)->replayed(), args.from, out);
  return 0;
}

void AddExportOptions(CLI::App& cmd, TraceArgs& args) {
  cmd.add_flag("--stix", args.stix, "STIX 2.1 bundle (the only format)")->required();
  cmd.add_option("--from", args.from, "scan output directory (campaigns.jsonl) or serve data directory")->required();
  cmd.add_option("--out", args.out, "Bundle file to write (- for stdout)")->required();
  cmd.add_option("--campaign", args.campaign, "Only this campaign");
  cmd.add_flag("--include-prompts", args.include_prompts, "Also share redacted prompt samples and template indicators");
  cmd.add_flag("--no-samples", args.no_samples, "serve data directory: ignore the samples in its store (as serve --no-samples)");
}

int RunExport(const TraceArgs& args) {
  absl::StatusOr<std::string> campaigns;
  if (IsScanDir(args.from)) {
    campaigns = ReadFile((std::filesystem::path(args.from) / "campaigns.jsonl").string());
  } else if (IsServeDir(args.from)) {
    auto svc = OpenServeDir(args.from, /*lock=*/false, /*keep_samples=*/!args.no_samples);
    if (!svc.ok()) return PrintError("export", svc.status());
    campaigns = (*svc)->CampaignsJson();
  } else {
    campaigns = absl::NotFoundError(args.from + ": neither a scan output (campaigns.jsonl) nor a serve data directory (distillguard.db)");
  }
  if (!campaigns.ok()) return PrintError("export", campaigns.status());
  StixExportOptions options;
  options.campaign_id = args.campaign;
  options.include_prompts = args.include_prompts;
  auto bundle = ExportStix(*campaigns, options);
  if (!bundle.ok()) return PrintError("export", bundle.status());
  if (args.out == "-") {
    fmt::print("{}", *bundle);
    return 0;
  }
  std::ofstream f(args.out, std::ios::binary);
  f << *bundle;
  if (!f.flush()) {
    fmt::print(stderr, "export: {}: cannot write\n", args.out);
    return 1;
  }
  fmt::print(stderr, "export: wrote {}\n", args.out);
  return 0;
}

void AddImportOptions(CLI::App& cmd, TraceArgs& args) {
  cmd.add_flag("--stix", args.stix, "The file is a STIX 2.1 bundle (the only format)")->required();
  cmd.add_option("bundle", args.file, "Bundle shared by another provider")->required();
  cmd.add_option("--data", args.data, "serve data directory to load the indicators into (for a running server, "
                                       "POST the bundle to /v1/indicators instead)")->required();
  cmd.add_option("--trust", args.trust,
                 "How far this source is trusted: review (a match sends the account to review, never a block) or block "
                 "(a new account matching it is blocked)")
      ->check(CLI::IsMember({"review", "block"}))
      ->capture_default_str();
}

int RunImport(const TraceArgs& args) {
  auto bundle = ReadFile(args.file);
  if (!bundle.ok()) return PrintError("import", bundle.status());
  auto svc = OpenServeDir(args.data, /*lock=*/true);
  if (!svc.ok()) {
    // FailedPrecondition: a running serve holds the directory.
    const bool busy = absl::IsFailedPrecondition(svc.status());
    fmt::print(stderr, "import: {}{}\n", StatusMessage(svc.status()),
               busy ? " (send the bundle to the running serve: POST /v1/indicators)" : "");
    return ExitCode(svc.status());
  }
  const SharedTrust trust = SharedTrustByName(args.trust).value_or(SharedTrust::kReview);
  auto r = (*svc)->ImportStix(*bundle, args.file, trust);
  if (!r.ok()) {
    // Exit 1, not ExitCode's 2 for a bad bundle: the exit code import has
    // always had (tests/serve/serve_stix.py); see the report of #14.
    fmt::print(stderr, "import: {}\n", StatusMessage(r.status()));
    return 1;
  }
  if (!r->stored) {
    fmt::print(stderr, "import: {}: nothing imported: {}\n", args.file, StatusMessage(r->store_error));
    return ExitCode(r->store_error);
  }
  fmt::print(stderr, "import: {} indicators from {} loaded into {} with trust {} ({})\n", r->imported, args.file, args.data,
             args.trust,
             trust == SharedTrust::kBlock ? "serve blocks new accounts that match them at their first request"
                                          : "serve sends accounts that match them to review; it never blocks on them");
  for (const auto& [reason, n] : r->skipped) fmt::print(stderr, "import: skipped {}: {}\n", n, reason);
  return 0;
}

void AddTracebackOptions(CLI::App& cmd, TraceArgs& args) {
  cmd.add_option("--from", args.from, "scan output directory (responses.fp) or serve data directory")->required();
  cmd.add_option("suspect", args.file, "JSONL of suspect texts (a data set or a suspect model's outputs)")->required();
  cmd.add_option("--min-similarity", args.min_similarity, "Share of MinHash bins that must agree (0-1)")->capture_default_str();
  cmd.add_flag("--json", args.json, "One JSON document instead of tables");
}

int RunTraceback(const TraceArgs& args) {
  ResponseIndex index;
  std::string campaigns_json;
  if (IsScanDir(args.from)) {
    auto loaded = ResponseIndex::Load((std::filesystem::path(args.from) / "responses.fp").string());
    if (!loaded.ok()) {
      fmt::print(stderr, "traceback: {} (scan with --out and without --no-response-index)\n", StatusMessage(loaded.status()));
      return ExitCode(loaded.status());
    }
    index = std::move(*loaded);
    auto c = ReadFile((std::filesystem::path(args.from) / "campaigns.jsonl").string());
    if (c.ok()) campaigns_json = std::move(*c);
  } else if (IsServeDir(args.from)) {
    auto store = Store::Open(args.from);
    if (!store.ok()) return PrintError("traceback", store.status());
    Interaction in;
    ContentDigest digest;
    const absl::Status read = (*store)->ForEachRecord([&](std::string_view record) {
      if (DecodeRecord(record, &in, &digest) && digest.has_response_sig) index.Add(in.account_id, in.ts, digest.response_sig);
    });
    if (!read.ok()) return PrintError("traceback", read);
    store->reset();
    auto svc = OpenServeDir(args.from);
    if (svc.ok()) {
      campaigns_json = (*svc)->CampaignsJson();
    } else {
      // The matches are still shown, without their campaigns: said, not silent.
      fmt::print(stderr, "traceback: campaigns not read (matches shown without them): {}\n", StatusMessage(svc.status()));
    }
  } else {
    fmt::print(stderr, "traceback: {}: neither a scan output (responses.fp) nor a serve data directory\n", args.from);
    return 2;
  }
  // account -> campaign, from either campaigns form.
  std::map<std::string, std::string> campaign_of;
  {
    simdjson::dom::parser parser;
    auto take = [&](simdjson::dom::element c) {
      std::string_view id;
      simdjson::dom::array accounts;
      if (c["campaign_id"].get_string().get(id) != simdjson::SUCCESS || c["accounts"].get_array().get(accounts) != simdjson::SUCCESS) return;
      for (simdjson::dom::element a : accounts) {
        std::string_view acct;
        if (a.get_string().get(acct) == simdjson::SUCCESS) campaign_of[std::string(acct)] = std::string(id);
      }
    };
    if (auto objects = CampaignObjects(campaigns_json); objects.ok()) {
      simdjson::dom::element doc;
      for (const auto& text : *objects) {
        if (parser.parse(text).get(doc) == simdjson::SUCCESS) take(doc);
      }
    }
  }
  auto texts = ReadSuspectTexts(args.file);
  if (!texts.ok()) return PrintError("traceback", texts.status());
  struct AccountHits {
    uint64_t texts = 0, responses = 0;
    double best = 0, sum = 0;
    TimeMs first = -1, last = -1;
  };
  std::map<std::string, AccountHits> by_account;
  size_t matched = 0, empty = 0;
  TokenStream scratch;
  Signature sig;
  for (const auto& text : *texts) {
    if (!ResponseSignature(text, &scratch, &sig)) {
      ++empty;
      continue;
    }
    const auto hits = index.Query(sig, args.min_similarity);
    if (!hits.empty()) ++matched;
    std::map<uint32_t, double> best_per_account;
    for (const auto& h : hits) {
      const auto& e = index.entry(h.entry);
      AccountHits& a = by_account[index.account(e.account)];
      ++a.responses;
      a.first = a.first < 0 ? e.ts : std::min(a.first, e.ts);
      a.last = std::max(a.last, e.ts);
      double& b = best_per_account[e.account];
      b = std::max(b, h.similarity);
    }
    for (const auto& [acct, best] : best_per_account) {
      AccountHits& a = by_account[index.account(acct)];
      ++a.texts;
      a.sum += best;
      a.best = std::max(a.best, best);
    }
  }
  struct CampaignHits {
    uint64_t accounts = 0, texts = 0, responses = 0;
    TimeMs first = -1, last = -1;
  };
  std::map<std::string, CampaignHits> by_campaign;
  for (const auto& [acct, a] : by_account) {
    const auto it = campaign_of.find(acct);
    CampaignHits& c = by_campaign[it == campaign_of.end() ? std::string("(none)") : it->second];
    ++c.accounts;
    c.texts += a.texts;
    c.responses += a.responses;
    c.first = c.first < 0 ? a.first : std::min(c.first, a.first);
    c.last = std::max(c.last, a.last);
  }
  std::vector<std::pair<std::string, AccountHits>> accounts(by_account.begin(), by_account.end());
  std::sort(accounts.begin(), accounts.end(), [](const auto& x, const auto& y) {
    return x.second.texts != y.second.texts ? x.second.texts > y.second.texts : x.first < y.first;
  });
  auto ts = [](TimeMs t) { return t < 0 ? std::string("-") : FormatRfc3339(t); };
  if (args.json) {
    std::string out = fmt::format("{{\"suspect_texts\":{},\"matched_texts\":{},\"indexed_responses\":{},\"min_similarity\":{},\"campaigns\":[",
                                  texts->size(), matched, index.size(), args.min_similarity);
    bool first = true;
    for (const auto& [id, c] : by_campaign) {
      out += first ? "" : ",";
      first = false;
      out += "{\"campaign_id\":";
      if (id == "(none)") out += "null";
      else AppendJsonString(out, id);
      out += fmt::format(",\"accounts\":{},\"matched_texts\":{},\"matched_responses\":{},\"first_served\":\"{}\",\"last_served\":\"{}\"}}",
                         c.accounts, c.texts, c.responses, ts(c.first), ts(c.last));
    }
    out += "],\"accounts\":[";
    for (size_t i = 0; i < accounts.size(); ++i) {
      const auto& [acct, a] = accounts[i];
      out += i ? "," : "";
      out += "{\"account_id\":";
      AppendJsonString(out, acct);
      const auto it = campaign_of.find(acct);
      out += ",\"campaign_id\":";
      if (it == campaign_of.end()) out += "null";
      else AppendJsonString(out, it->second);
      out += fmt::format(",\"matched_texts\":{},\"matched_responses\":{},\"best_similarity\":{:.3f},\"mean_similarity\":{:.3f},"
                         "\"first_served\":\"{}\",\"last_served\":\"{}\"}}",
                         a.texts, a.responses, a.best, a.texts ? a.sum / a.texts : 0.0, ts(a.first), ts(a.last));
    }
    out += "]}\n";
    fmt::print("{}", out);
    return 0;
  }
  fmt::print("traceback: {} suspect texts ({} without words), {} matched a served response at similarity >= {:.2f}; "
             "index of {} responses\n",
             texts->size(), empty, matched, args.min_similarity, index.size());
  fmt::print("{:<12} {:>8} {:>13} {:>17}  {:<24} {}\n", "campaign", "accounts", "matched_texts", "matched_responses", "first served", "last served");
  for (const auto& [id, c] : by_campaign) {
    fmt::print("{:<12} {:>8} {:>13} {:>17}  {:<24} {}\n", id, c.accounts, c.texts, c.responses, ts(c.first), ts(c.last));
  }
  fmt::print("\n{:<24} {:<10} {:>7} {:>6} {:>6}  {}\n", "account", "campaign", "texts", "best", "mean", "served");
  for (size_t i = 0; i < accounts.size() && i < 50; ++i) {
    const auto& [acct, a] = accounts[i];
    const auto it = campaign_of.find(acct);
    fmt::print("{:<24} {:<10} {:>7} {:>6.2f} {:>6.2f}  {} .. {}\n", acct, it == campaign_of.end() ? "-" : it->second, a.texts, a.best,
               a.texts ? a.sum / a.texts : 0.0, ts(a.first), ts(a.last));
  }
  if (accounts.size() > 50) fmt::print("... and {} more accounts (--json for all)\n", accounts.size() - 50);
  return 0;
}

}  // namespace dg::cli
