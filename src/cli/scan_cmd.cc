#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "common/clock.h"
#include "common/json_out.h"
#include "common/parse_int.h"
#include "content/analyzer.h"
#include "engine/engine.h"
#include "engine/scan_pipeline.h"
#include "engine/snapshot.h"
#include "ingest/accounts.h"
#include "ingest/batch_input.h"
#include "ingest/coverage.h"
#include "ingest/pipeline.h"
#include "report/traceback.h"
#include "report/writers.h"

namespace dg::cli {

void AddScanOptions(CLI::App& cmd, ScanArgs& args) {
  cmd.add_option("inputs", args.inputs,
                 "JSONL inputs (plain, .gz, .zst; - for stdin); several are merged into one timeline by timestamp")
      ->required();
  cmd.add_option("--out", args.out, "Output directory for accounts.jsonl, campaigns.jsonl, report.html");
  cmd.add_option("--policy", args.policy, "Policy TOML (default: the built-in defaults, same as config/policy.toml)");
  cmd.add_option("--mapping", args.mapping,
                 fmt::format("Field mapping: a preset ({}) or a TOML file (docs/LOGS.md)",
                             fmt::join(FieldMapping::PresetNames(), ", ")))
      ->capture_default_str();
  cmd.add_option("--accounts", args.accounts,
                 "Account attributes (JSONL or CSV: account_id, created_at, payment_fingerprint, email_domain, org_id, "
                 "org_verified, country, verification, labels) joined to each interaction by account id");
  cmd.add_option("--batch-input", args.batch_input,
                 "OpenAI Batch API input file (the requests) joined to the output records by custom_id, so their "
                 "prompts are scanned (with --mapping openai-batch; docs/LOGS.md)");
  cmd.add_option("--batch-input-bytes", args.batch_input_bytes,
                 "Bytes of parsed requests the --batch-input index may hold; later requests are counted, not indexed")
      ->capture_default_str();
  cmd.add_option("--default-account", args.default_account, "Account id for records that carry none (e.g. OpenAI Batch output)");
  cmd.add_flag("--strict", args.strict, "Stop at the first bad line with a non-zero exit");
  cmd.add_flag("--quiet", args.quiet, "No progress bar");
  cmd.add_option("--reorder-window", args.reorder_window,
                 "Events held back (per input file) to restore timestamp order: how far out of order one file may be")
      ->capture_default_str();
  cmd.add_option("--reorder-bytes", args.reorder_bytes,
                 "Record bytes held back in all reorder buffers; past it the earliest is released early (counted)")
      ->capture_default_str();
  cmd.add_option("--max-line-bytes", args.max_line_bytes, "Longer lines are rejected as line_too_long")->capture_default_str();
  cmd.add_option("--max-accounts", args.max_accounts, "Accounts kept at once; idle unsuspicious ones past it are forgotten")
      ->capture_default_str();
  cmd.add_flag("!--no-response-index", args.response_index, "Do not write responses.fp (response fingerprints for traceback)");
  cmd.add_flag("!--no-samples", args.keep_samples, "Keep no prompt samples, even redacted, for campaigns");
  cmd.add_option("--threads", args.threads,
                 "1: everything on one thread; 2: read, parse and fingerprint on a second thread "
                 "(same verdicts either way)")
      ->check(CLI::Range(1, 2))
      ->capture_default_str();
  cmd.add_option("--now", args.now,
                 "The scan's clock, RFC 3339 or epoch milliseconds (default: the wall clock); events dated more than "
                 "--max-future-hours past it are rejected as out_of_range. Set it for reproducible runs");
  cmd.add_option("--max-future-hours", args.max_future_hours,
                 "How far past the scan's clock an event may be dated (0: no bound)")
      ->check(CLI::Range(int64_t{0}, int64_t{24} * 365 * 200))
      ->capture_default_str();
  cmd.add_option("--resume", args.resume,
                 "Start from an engine snapshot written by --snapshot-out (same policy and options) instead of an "
                 "empty engine: the inputs continue the earlier run");
  cmd.add_option("--snapshot-out", args.snapshot_out,
                 "Write the engine's snapshot to FILE after the inputs (before end-of-input processing), for a later "
                 "--resume");
}

int RunScan(const ScanArgs& args) {
  Policy policy;
  if (!args.policy.empty()) {
    auto loaded = Policy::Load(args.policy);
    if (!loaded.ok()) return PrintError("scan", loaded.status());
    policy = std::move(*loaded);
  }
  IngestOptions io;
  auto mapping = FieldMapping::Load(args.mapping);
  if (!mapping.ok()) return PrintError("scan", mapping.status());
  if (!args.default_account.empty()) mapping->defaults[static_cast<size_t>(Field::kAccountId)] = args.default_account;
  io.mapping = std::move(*mapping);
  io.strict = args.strict;
  io.reorder_window = args.reorder_window;
  io.reorder_bytes = args.reorder_bytes;
  io.max_line_bytes = args.max_line_bytes;
  // The clock is injected: the wall clock unless --now fixes it (tests,
  // reproducible re-runs of a log). Same input and --now: same verdicts.
  if (args.now.empty()) {
    io.now = SystemNowMs();
  } else if (const auto ms = args.now.size() <= 15 ? ParseDecimal<int64_t>(args.now) : std::nullopt;
             ms && *ms >= kMinValidTime && *ms < kMaxValidTime) {
    io.now = *ms;
  } else if (auto t = ParseRfc3339(args.now)) {
    io.now = *t;
  } else {
    fmt::print(stderr, "scan: --now '{}': not an RFC 3339 date-time between 1990 and 2100, nor epoch milliseconds\n", LogSafe(args.now, 60));
    return 2;
  }
  io.max_future_ms = args.max_future_hours * kMsPerHour;
  if (!args.out.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(args.out, ec);
    if (ec) {
      fmt::print(stderr, "scan: cannot create {}: {}\n", args.out, ec.message());
      return 1;
    }
  }
  AccountDirectory accounts;
  if (!args.accounts.empty()) {
    if (const absl::Status read = accounts.LoadFile(args.accounts); !read.ok()) return PrintError("scan", read);
    fmt::print(stderr, "scan: {} accounts from {}\n", accounts.size(), args.accounts);
  }
  BatchInputIndex batch_index;
  if (!args.batch_input.empty()) {
    if (io.mapping.PointersFor(Field::kConversationId).empty()) {
      fmt::print(stderr, "scan: --batch-input joins on custom_id, which the mapping must put in conversation_id "
                         "(the openai-batch preset does)\n");
      return 2;
    }
    if (const auto loaded = batch_index.Load(args.batch_input, args.batch_input_bytes, args.max_line_bytes,
                                             [](const std::string& msg) { fmt::print(stderr, "{}\n", msg); }, io.max_errors_shown);
        !loaded.ok()) {
      return PrintError("scan", loaded);
    }
    fmt::print(stderr, "{}", batch_index.Summary(args.batch_input));
  }
  FieldCoverage coverage;
  uint64_t enriched = 0;
  EngineOptions eo;
  eo.keep_samples = args.keep_samples;
  eo.max_accounts = args.max_accounts;
  std::unique_ptr<Engine> engine_owner;
  if (!args.resume.empty()) {
    const auto t_load = std::chrono::steady_clock::now();
    std::ifstream in(args.resume, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return PrintError("scan", absl::NotFoundError(args.resume + ": cannot read"));
    auto loaded = LoadSnapshot(bytes, policy, eo);
    if (!loaded.ok()) {
      return PrintError("scan", absl::Status(loaded.status().code(), args.resume + ": " + std::string(loaded.status().message())));
    }
    engine_owner = std::move(*loaded);
    fmt::print(stderr, "scan: resumed from {} ({} bytes, {} interactions, {} accounts) in {:.3f}s\n", args.resume,
               bytes.size(), engine_owner->interactions(), engine_owner->live_accounts(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count());
  } else {
    engine_owner = std::make_unique<Engine>(policy, eo);
  }
  Engine& engine = *engine_owner;
  const bool tty = !args.quiet && isatty(STDERR_FILENO);
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<uint64_t> seen{0};  // read by the error callback on the reading thread
  // Fingerprints of the responses served, for traceback (never the text).
  ResponseIndexWriter responses;
  const bool index_responses = !args.out.empty() && args.response_index;
  if (index_responses) {
    if (const auto opened = responses.Open(args.out + "/responses.fp"); !opened.ok()) return PrintError("scan", opened);
  }
  // Progress on a terminal, from the engine's thread.
  auto observed = [&](const Interaction& in, const ContentDigest& digest) {
    if (digest.has_response_sig) responses.Add(in.account_id, in.ts, digest.response_sig);
    if (!tty) return;
    if (const uint64_t n = seen.fetch_add(1, std::memory_order_relaxed) + 1; (n & 0xFFFF) == 0) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      fmt::print(stderr, "\rscan: {} interactions  {:.0f}/s  {} ", n, n / std::max(secs, 1e-9),
                 FormatRfc3339(in.ts));
    }
  };
  // Account enrichment and the coverage count, in time order on the
  // reading thread, before anything reads the interaction.
  auto prepare = [&](Interaction& in) {
    if (!args.batch_input.empty()) batch_index.Apply(&in);
    if (accounts.size() > 0) enriched += accounts.Apply(&in);
    coverage.Observe(in);
  };
  ScanOptions so;
  so.ingest = std::move(io);
  so.threads = args.threads;
  so.digest.response_signature = index_responses;  // fingerprints of responses only when indexed
  const ScanResult run = ScanFiles(
      args.inputs, so, &engine,
      ScanHooks{prepare, observed, [&](const std::string& msg) {
                  fmt::print(stderr, "{}{}\n", tty && seen.load(std::memory_order_relaxed) > 0 ? "\n" : "", msg);
                }});
  const bool ok = !run.stopped;
  if (!args.snapshot_out.empty() && ok) {
    const auto t_save = std::chrono::steady_clock::now();
    std::string bytes;
    SaveSnapshot(engine, &bytes);
    const double encode_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_save).count();
    const std::string tmp = args.snapshot_out + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    std::error_code ec;
    if (!out || (std::filesystem::rename(tmp, args.snapshot_out, ec), ec)) {
      return PrintError("scan", absl::UnavailableError(args.snapshot_out + ": cannot write the snapshot"));
    }
    fmt::print(stderr, "scan: wrote snapshot {} ({} bytes, {} accounts, {} indicator values; encoded in {:.3f}s, {:.3f}s "
                       "with the write)\n",
               args.snapshot_out, bytes.size(), engine.live_accounts(), engine.indicator_values(), encode_s,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t_save).count());
  }
  engine.Finish();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (tty) fmt::print(stderr, "\r\033[K");
  const IngestStats& st = run.stats;
  fmt::print("{}", st.Summary());
  if (accounts.size() > 0) fmt::print("enriched from --accounts: {} of {} interactions\n", enriched, st.accepted);
  if (!args.batch_input.empty()) {
    fmt::print("joined with --batch-input: {} of {} interactions; {} without a request there (scanned response only)\n",
               batch_index.stats().joined, st.accepted, batch_index.stats().unmatched);
  }
  fmt::print(stderr, "{}", coverage.Report());
  if (!ok) {
    fmt::print(stderr, "scan: stopped at the first bad line (--strict)\n");
    return 1;
  }
  auto campaigns = Campaigns(engine);
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
  fmt::print("state: {} accounts ({} forgotten to stay within --max-accounts, {} of them suspicious and kept as summaries{}), "
             "{} indicator values, {} template clusters\n",
             engine.live_accounts(), engine.evicted_accounts(), engine.summaries().size(),
             engine.summaries_dropped() ? fmt::format(", {} summaries dropped", engine.summaries_dropped()) : "",
             engine.indicator_values(), engine.template_clusters());
  fmt::print("throughput: {:.0f} interactions/s, {:.1f} MB/s ({:.2f}s)\n", st.accepted / std::max(secs, 1e-9),
             st.bytes / 1e6 / std::max(secs, 1e-9), secs);
  if (!args.out.empty()) {
    RunInfo info{fmt::format("{}", fmt::join(args.inputs, " ")), st.accepted, secs, &coverage};
    absl::Status written = WriteAccounts(engine, args.out + "/accounts.jsonl");
    if (written.ok()) written = WriteCampaigns(campaigns, engine, args.out + "/campaigns.jsonl");
    if (written.ok()) written = WriteReport(campaigns, engine, info, args.out + "/report.html");
    if (written.ok()) written = responses.Close();
    if (!written.ok()) return PrintError("scan", written);
    {
      // The run's counts and field coverage, for schedulers and dashboards.
      std::ofstream summary(args.out + "/summary.json");
      summary << fmt::format(
          "{{\"lines_read\":{},\"accepted\":{},\"duplicates\":{},\"rejected\":{},\"filtered\":{},\"late\":{},"
          "\"reorder_overflow\":{},\"enriched\":{},{}\"coverage\":{}}}\n",
          st.lines_read, st.accepted, st.duplicates, st.RejectedTotal(), st.filtered, st.late, st.reorder_overflow, enriched,
          args.batch_input.empty()
              ? std::string()
              : fmt::format("\"batch_input\":{{\"indexed\":{},\"bad_lines\":{},\"duplicates\":{},\"other_endpoint\":{},"
                            "\"not_indexed\":{},\"joined\":{},\"unmatched\":{}}},",
                            batch_index.stats().indexed, batch_index.stats().rejected, batch_index.stats().duplicates,
                            batch_index.stats().other_endpoint, batch_index.stats().not_indexed, batch_index.stats().joined,
                            batch_index.stats().unmatched),
          coverage.Json());
      if (!summary) {
        fmt::print(stderr, "scan: cannot write {}/summary.json\n", args.out);
        return 1;
      }
    }
    fmt::print("wrote {}/accounts.jsonl, campaigns.jsonl, report.html, summary.json{}\n", args.out,
               index_responses ? fmt::format(", responses.fp ({} response fingerprints)", responses.written()) : "");
  }
  // A scheduler must be able to trust the exit code: an input that could not
  // be read, or input of which nothing was usable, is a failed run.
  if (const uint64_t unreadable = st.rejected[static_cast<size_t>(Reject::kIoError)]; unreadable > 0) {
    fmt::print(stderr, "scan: failed: {} input error(s) (unreadable or truncated input, see above)\n", unreadable);
    return 1;
  }
  if (st.accepted == 0) {
    fmt::print(stderr, "scan: failed: no interaction accepted ({} lines read, {} rejected)\n", st.lines_read,
               st.RejectedTotal());
    return 1;
  }
  return 0;
}

}  // namespace dg::cli
