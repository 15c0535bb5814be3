#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.h"
#include "detect/engine.h"
#include "ingest/pipeline.h"
#include "report/traceback.h"
#include "report/writers.h"

namespace dg::cli {

void AddScanOptions(CLI::App& cmd, ScanArgs& args) {
  cmd.add_option("inputs", args.inputs, "JSONL inputs (plain, .gz, .zst; - for stdin)")->required();
  cmd.add_option("--out", args.out, "Output directory for accounts.jsonl, campaigns.jsonl, report.html");
  cmd.add_option("--policy", args.policy, "Policy TOML (default: the built-in defaults, same as config/policy.toml)");
  cmd.add_option("--mapping", args.mapping, "Field mapping: canonical, litellm, openai-batch, or a TOML file")->capture_default_str();
  cmd.add_option("--default-account", args.default_account, "Account id for records that carry none (e.g. OpenAI Batch output)");
  cmd.add_flag("--strict", args.strict, "Stop at the first bad line with a non-zero exit");
  cmd.add_flag("--quiet", args.quiet, "No progress bar");
  cmd.add_option("--reorder-window", args.reorder_window, "Events held back to restore timestamp order")->capture_default_str();
  cmd.add_option("--max-line-bytes", args.max_line_bytes, "Longer lines are rejected as line_too_long")->capture_default_str();
  cmd.add_option("--max-accounts", args.max_accounts, "Accounts kept at once; idle unsuspicious ones past it are forgotten")
      ->capture_default_str();
  cmd.add_flag("!--no-response-index", args.response_index, "Do not write responses.fp (response fingerprints for traceback)");
  cmd.add_flag("!--no-samples", args.keep_samples, "Keep no prompt samples, even redacted, for campaigns");
}

int RunScan(const ScanArgs& args) {
  std::string error;
  Policy policy;
  if (!args.policy.empty()) {
    auto loaded = Policy::Load(args.policy, &error);
    if (!loaded) {
      fmt::print(stderr, "scan: {}\n", error);
      return 2;
    }
    policy = std::move(*loaded);
  }
  IngestOptions io;
  auto mapping = FieldMapping::Load(args.mapping, &error);
  if (!mapping) {
    fmt::print(stderr, "scan: {}\n", error);
    return 2;
  }
  if (!args.default_account.empty()) mapping->defaults[static_cast<size_t>(Field::kAccountId)] = args.default_account;
  io.mapping = std::move(*mapping);
  io.strict = args.strict;
  io.reorder_window = args.reorder_window;
  io.max_line_bytes = args.max_line_bytes;
  if (!args.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.out, ec);
    if (ec) {
      fmt::print(stderr, "scan: cannot create {}: {}\n", args.out, ec.message());
      return 1;
    }
  }
  EngineOptions eo;
  eo.keep_samples = args.keep_samples;
  eo.max_accounts = args.max_accounts;
  Engine engine(policy, eo);
  const bool tty = !args.quiet && isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t seen = 0;
  // Fingerprints of the responses served, for traceback (never the text).
  ResponseIndexWriter responses;
  const bool index_responses = !args.out.empty() && args.response_index;
  if (index_responses && !responses.Open(args.out + "/responses.fp", &error)) {
    fmt::print(stderr, "scan: {}\n", error);
    return 1;
  }
  TokenStream scratch;
  Signature sig;
  IngestPipeline pipeline(
      io,
      [&](Interaction& in) {
        engine.Observe(in);
        if (index_responses && in.has_response && ResponseSignature(in.response_text, &scratch, &sig)) {
          responses.Add(in.account_id, in.ts, sig);
        }
        if (tty && (++seen & 0xFFFF) == 0) {
          const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          fmt::print(stderr, "\rscan: {} interactions  {:.0f}/s  {} ", seen, seen / std::max(secs, 1e-9),
                     FormatRfc3339(in.ts));
        }
      },
      [&](const std::string& msg) { fmt::print(stderr, "{}{}\n", tty && seen > 0 ? "\n" : "", msg); });
  bool ok = true;
  for (const auto& input : args.inputs) {
    if (!pipeline.AddFile(input)) {
      ok = false;
      break;
    }
  }
  pipeline.Flush();
  engine.Finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (tty) fmt::print(stderr, "\r\033[K");
  const auto& st = pipeline.stats();
  fmt::print("{}", st.Summary());
  if (!ok) {
    fmt::print(stderr, "scan: stopped at the first bad line (--strict)\n");
    return 1;
  }
  auto campaigns = engine.Campaigns();
  size_t blocked = 0, review = 0;
  for (const auto& a : engine.accounts()) {
    blocked += a.verdict == Verdict::kBlock;
    review += a.verdict == Verdict::kReview;
  }
  fmt::print("accounts: {}  blocked: {}  review: {}  campaigns: {}\n", engine.live_accounts(), blocked, review,
             campaigns.size());
  for (size_t idx = 0; idx < campaigns.size() && idx < 20; ++idx) {
    const auto& c = campaigns[idx];
    fmt::print("  {:<9} score {:.2f}  {:>6} accounts  {:>9} interactions  {} .. {}\n", c.id, c.score, c.members.size(),
               c.interactions, FormatRfc3339(c.first_seen).substr(0, 16), FormatRfc3339(c.last_seen).substr(0, 16));
  }
  if (campaigns.size() > 20) fmt::print("  ... and {} more\n", campaigns.size() - 20);
  fmt::print("state: {} accounts ({} forgotten to stay within --max-accounts), {} indicator values, {} template clusters\n",
             engine.live_accounts(), engine.evicted_accounts(), engine.indicator_values(), engine.template_clusters());
  fmt::print("throughput: {:.0f} interactions/s, {:.1f} MB/s ({:.2f}s)\n", st.accepted / std::max(secs, 1e-9),
             st.bytes / 1e6 / std::max(secs, 1e-9), secs);
  if (!args.out.empty()) {
    RunInfo info{fmt::format("{}", fmt::join(args.inputs, " ")), st.accepted, secs};
    if (!WriteAccounts(engine, args.out + "/accounts.jsonl", &error) ||
        !WriteCampaigns(campaigns, engine, args.out + "/campaigns.jsonl", &error) ||
        !WriteReport(campaigns, engine, info, args.out + "/report.html", &error)) {
      fmt::print(stderr, "scan: {}\n", error);
      return 1;
    }
    if (!responses.Close(&error)) {
      fmt::print(stderr, "scan: {}\n", error);
      return 1;
    }
    fmt::print("wrote {}/accounts.jsonl, campaigns.jsonl, report.html{}\n", args.out,
               index_responses ? fmt::format(", responses.fp ({} response fingerprints)", responses.written()) : "");
  }
  return 0;
}

}  // namespace dg::cli
