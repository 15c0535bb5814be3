#include "report/writers.h"

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "common/json_out.h"

namespace dg {
namespace {

absl::Status WriteFile(const std::string& path, const std::string& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return absl::UnavailableError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  const bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) return absl::UnavailableError(fmt::format("{}: write failed: {}", path, std::strerror(errno)));
  return absl::OkStatus();
}

void AppendTimeOrNull(std::string& out, TimeMs t) {
  if (t < 0) {
    out += "null";
  } else {
    AppendJsonString(out, FormatRfc3339(t));
  }
}

// A bar chart as inline SVG.
std::string BarChart(const std::vector<std::pair<std::string, double>>& bars, const std::string& title, int width = 520,
                     int height = 150) {
  double max_v = 1e-9;
  for (const auto& b : bars) max_v = std::max(max_v, b.second);
  std::string svg = fmt::format(
      "<figure><figcaption>{}</figcaption><svg class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" "
      "role=\"img\">",
      title, width, height + 30, width, height + 30);
  const double bw = bars.empty() ? 0 : static_cast<double>(width - 40) / bars.size();
  svg += fmt::format("<line x1=\"30\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>", height, width, height);
  svg += fmt::format("<text x=\"0\" y=\"12\" font-size=\"10\">{:.0f}</text>", max_v);
  for (size_t idx = 0; idx < bars.size(); ++idx) {
    const double h = bars[idx].second / max_v * (height - 15);
    const double x = 32 + idx * bw;
    svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"#3b6ea5\"><title>",
                       x, height - h, std::max(1.0, bw - 2), h);
    AppendHtmlEscaped(svg, bars[idx].first);
    svg += fmt::format(": {:.0f}</title></rect>", bars[idx].second);
    const size_t label_every = std::max<size_t>(1, bars.size() / 12);
    if (idx % label_every == 0) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"9\">", x, height + 12);
      AppendHtmlEscaped(svg, bars[idx].first);
      svg += "</text>";
    }
  }
  svg += "</svg></figure>";
  return svg;
}

// Interactions per day, one colour per model: a move to a newly released
// model shows as a new colour taking over within a day or two.
std::string ModelsByDayChart(const std::map<std::pair<int64_t, std::string>, uint64_t>& day_models, int width = 520,
                             int height = 150) {
  static constexpr const char* kColours[] = {"#3b6ea5", "#e07b39", "#5a9e4b", "#b5453f", "#8062a8", "#8c6d31", "#d16ba5", "#6b6b6b"};
  std::map<int64_t, std::vector<std::pair<std::string, uint64_t>>> by_day;
  std::vector<std::string> models;
  for (const auto& [key, n] : day_models) {
    by_day[key.first].emplace_back(key.second, n);
    if (std::find(models.begin(), models.end(), key.second) == models.end()) models.push_back(key.second);
  }
  double max_v = 1;
  for (const auto& [day, parts] : by_day) {
    double total = 0;
    for (const auto& p : parts) total += static_cast<double>(p.second);
    max_v = std::max(max_v, total);
  }
  auto colour = [&](const std::string& m) {
    const size_t idx = static_cast<size_t>(std::find(models.begin(), models.end(), m) - models.begin());
    return kColours[idx % 8];
  };
  std::string svg = fmt::format(
      "<figure><figcaption>Models targeted, per day (a new colour taking over is a pivot to a new model)</figcaption>"
      "<svg class=\"chart\" viewBox=\"0 0 {0} {1}\" width=\"{0}\" height=\"{1}\" role=\"img\">",
      width, height + 30 + 14 * static_cast<int>(models.size()));
  svg += fmt::format("<line x1=\"30\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#444\"/>", height, width, height);
  svg += fmt::format("<text x=\"0\" y=\"12\" font-size=\"10\">{:.0f}</text>", max_v);
  const double bw = by_day.empty() ? 0 : static_cast<double>(width - 40) / by_day.size();
  size_t idx = 0;
  for (const auto& [day, parts] : by_day) {
    const double x = 32 + idx * bw;
    double y = height;
    for (const auto& [model, n] : parts) {
      const double h = static_cast<double>(n) / max_v * (height - 15);
      y -= h;
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>",
                         x, y, std::max(1.0, bw - 2), h, colour(model));
      AppendHtmlEscaped(svg, FormatRfc3339(day * kMsPerDay).substr(0, 10) + " " + model);
      svg += fmt::format(": {}</title></rect>", n);
    }
    if (idx % std::max<size_t>(1, by_day.size() / 12) == 0) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"9\">{}</text>", x, height + 12, FormatRfc3339(day * kMsPerDay).substr(5, 5));
    }
    ++idx;
  }
  for (size_t m = 0; m < models.size(); ++m) {
    const int y = height + 26 + 14 * static_cast<int>(m);
    svg += fmt::format("<rect x=\"32\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"46\" y=\"{}\" font-size=\"10\">", y - 9, kColours[m % 8], y);
    AppendHtmlEscaped(svg, models[m].empty() ? "(none given)" : models[m]);
    svg += "</text>";
  }
  svg += "</svg></figure>";
  return svg;
}

}  // namespace

void AppendAccountJson(std::string& out, const Engine& engine, const AccountState& a) {
  out += "{\"account_id\":";
  AppendJsonString(out, a.id);
  out += fmt::format(",\"verdict\":\"{}\",\"score\":{:.4f},\"campaign_id\":", VerdictName(a.verdict), a.score);
  const std::string camp = engine.CampaignOf(a.index);
  if (camp.empty()) out += "null";
  else AppendJsonString(out, camp);
  out += ",\"first_flagged_at\":";
  AppendTimeOrNull(out, a.flagged_at);
  out += fmt::format(",\"interactions\":{},\"interactions_before_flag\":", a.n);
  if (a.flagged_at < 0) out += "null";
  else out += std::to_string(a.n_at_flag);
  // What the account was served: the attacker's yield, before the block.
  out += fmt::format(",\"active_days\":{},\"harvest_requests\":{},\"output_tokens\":{},\"reasoning_tokens\":{}", a.days_active,
                     a.harvest_n, a.output_tokens, a.reasoning_tokens);
  // Share of those tokens that were answers it already had (the same
  // temperature-0 request again): evaluation, not harvest.
  out += fmt::format(",\"repeat_share\":{:.3f}", a.RepeatShare());
  // No sign-up time, or an old one the platform never saw used before the
  // account harvested (AccountState::HistoryUnknown): why an old account
  // may be tied on shared content, as any account is in a gateway's log.
  out += fmt::format(",\"history_unknown\":{}", a.HistoryUnknown() ? "true" : "false");
  if (a.flagged_at < 0) out += ",\"harvest_before_flag\":null,\"tokens_before_flag\":null";
  else out += fmt::format(",\"harvest_before_flag\":{},\"tokens_before_flag\":{}", a.harvest_at_flag, a.tokens_at_flag);
  const auto evidence = Explain(engine, a);
  out += ",\"reasons\":[";
  for (size_t idx = 0; idx < evidence.size(); ++idx) {
    if (idx) out += ",";
    AppendJsonString(out, evidence[idx].first);
  }
  out += "],\"evidence\":{";
  for (size_t idx = 0; idx < evidence.size(); ++idx) {
    if (idx) out += ",";
    AppendJsonString(out, evidence[idx].first);
    out += fmt::format(":{}", evidence[idx].second);
  }
  out += "}";
  // The verdict as it was made: when, and the evidence then (the fields
  // above are the latest, recomputed at the end of the stream).
  out += ",\"decided\":";
  if (const VerdictRecord* r = engine.LastDecision(a.index)) {
    out += "{\"at\":";
    AppendTimeOrNull(out, r->at);
    out += fmt::format(",\"verdict\":\"{}\",\"score\":{:.4f},\"evidence\":{{", VerdictName(r->verdict), r->score);
    const auto then = Explain(*r);
    for (size_t idx = 0; idx < then.size(); ++idx) {
      if (idx) out += ",";
      AppendJsonString(out, then[idx].first);
      out += fmt::format(":{}", then[idx].second);
    }
    out += "}}";
  } else {
    out += "null";
  }
  out += "}";
}

absl::Status WriteAccounts(const Engine& engine, const std::string& path) {
  std::string out;
  out.reserve(engine.accounts().size() * 200);
  for (const AccountState& a : engine.accounts()) {
    if (a.id.empty()) continue;  // a free slot (evicted account)
    AppendAccountJson(out, engine, a);
    out += "\n";
  }
  // Suspicious accounts forgotten to stay within --max-accounts: what is
  // left of them (engine.h, AccountSummary), in id order.
  std::vector<const std::pair<const std::string, AccountSummary>*> forgotten;
  forgotten.reserve(engine.summaries().size());
  for (const auto& e : engine.summaries()) forgotten.push_back(&e);
  std::sort(forgotten.begin(), forgotten.end(), [](const auto* x, const auto* y) { return x->first < y->first; });
  for (const auto* e : forgotten) {
    const AccountSummary& m = e->second;
    out += "{\"account_id\":";
    AppendJsonString(out, e->first);
    out += fmt::format(",\"verdict\":\"{}\",\"score\":{:.4f},\"campaign_id\":null,\"first_flagged_at\":", VerdictName(m.verdict), m.score);
    AppendTimeOrNull(out, m.flagged_at);
    out += fmt::format(",\"interactions\":{},\"interactions_before_flag\":null,\"reasons\":", m.n);
    AppendReasonNames(out, m.reasons);
    out += ",\"evidence\":{},\"decided\":null,\"forgotten\":true}\n";
  }
  return WriteFile(path, out);
}

void AppendCampaignJson(std::string& out, const CampaignView& c, const Engine& engine) {
  out += "{\"campaign_id\":";
  AppendJsonString(out, c.id);
  out += fmt::format(",\"score\":{:.4f},\"accounts\":[", c.score);
  for (size_t idx = 0; idx < c.members.size(); ++idx) {
    if (idx) out += ",";
    AppendJsonString(out, engine.accounts()[c.members[idx]].id);
  }
  out += fmt::format("],\"account_count\":{},\"interactions\":{},\"input_tokens\":{},\"output_tokens\":{},\"first_seen\":",
                     c.members.size(), c.interactions, c.input_tokens, c.output_tokens);
  AppendTimeOrNull(out, c.first_seen);
  out += ",\"last_seen\":";
  AppendTimeOrNull(out, c.last_seen);
  out += ",\"confirmed_at\":";
  AppendTimeOrNull(out, c.confirmed_at);
  out += ",\"capabilities\":{";
  bool first = true;
  for (size_t cap = 0; cap < kCapabilityCount; ++cap) {
    if (c.capabilities[cap] == 0) continue;
    if (!first) out += ",";
    first = false;
    out += fmt::format("\"{}\":{}", CapabilityName(static_cast<Capability>(cap)), c.capabilities[cap]);
  }
  out += "},\"models\":{";
  first = true;
  for (const auto& [model, n] : c.models) {
    if (!first) out += ",";
    first = false;
    AppendJsonString(out, model);
    out += fmt::format(":{}", n);
  }
  out += "},\"indicators\":[";
  for (size_t idx = 0; idx < c.indicators.size(); ++idx) {
    if (idx) out += ",";
    out += "{\"kind\":";
    AppendJsonString(out, c.indicators[idx].first);
    out += ",\"value\":";
    AppendJsonString(out, c.indicators[idx].second);
    out += "}";
  }
  out += "],\"reasons\":[";
  for (size_t idx = 0; idx < c.reasons.size(); ++idx) {
    if (idx) out += ",";
    AppendJsonString(out, c.reasons[idx]);
  }
  out += "],\"samples\":[";
  for (size_t idx = 0; idx < c.samples.size(); ++idx) {
    if (idx) out += ",";
    AppendJsonString(out, c.samples[idx]);
  }
  out += "]}";
}

absl::Status WriteCampaigns(const std::vector<CampaignView>& campaigns, const Engine& engine, const std::string& path) {
  std::string out;
  for (const auto& c : campaigns) {
    AppendCampaignJson(out, c, engine);
    out += "\n";
  }
  return WriteFile(path, out);
}

namespace {

// What the logs let the engine see: the warnings (in a red box at the top
// when a family is missing) and the share of records carrying each field.
void AppendCoverageHtml(std::string& h, const FieldCoverage& cov) {
  const auto warnings = cov.Warnings();
  if (!warnings.empty()) {
    h += "<div class=\"coverage-warn\" id=\"coverage-warnings\" role=\"alert\"><h2>What these logs cannot show</h2><ul>";
    for (const auto w : warnings) {
      h += "<li>";
      AppendHtmlEscaped(h, w);
      h += "</li>";
    }
    h += "</ul><p>Verdicts below are made without these signals: see docs/LOGS.md.</p></div>";
  }
  h += fmt::format("<details id=\"coverage\"{}><summary>Field coverage of {} records{}</summary>"
                   "<table><tr><th>field</th><th>share of records</th></tr>",
                   warnings.empty() ? "" : " open", cov.records(),
                   warnings.empty() ? ": every field family present" : fmt::format(": {} families missing", warnings.size()));
  for (size_t i = 0; i < FieldCoverage::kCount; ++i) {
    const auto item = static_cast<FieldCoverage::Item>(i);
    h += cov.Missing(item) ? "<tr class=\"missing\"><td>" : "<tr><td>";
    AppendHtmlEscaped(h, FieldCoverage::Name(item));
    h += fmt::format("</td><td>{:.1f}%</td></tr>", 100.0 * cov.Share(item));
  }
  h += "</table></details>";
}

}  // namespace

absl::Status WriteReport(const std::vector<CampaignView>& all_campaigns, const Engine& engine, const RunInfo& info,
                         const std::string& path) {
  // Ranked by score, as the console ranks them (ties by id): the worst first.
  std::vector<const CampaignView*> campaigns;
  for (const auto& c : all_campaigns) campaigns.push_back(&c);
  std::stable_sort(campaigns.begin(), campaigns.end(), [](const CampaignView* x, const CampaignView* y) {
    return x->score != y->score ? x->score > y->score : x->id < y->id;
  });
  size_t blocked = 0, review = 0;
  for (const auto& a : engine.accounts()) {
    blocked += a.verdict == Verdict::kBlock;
    review += a.verdict == Verdict::kReview;
  }
  std::string h =
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>distillguard report</title><style>"
      "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
      "section.campaign{border:1px solid #ccc;border-radius:6px;padding:1em;margin:1.5em 0;page-break-inside:avoid}"
      "figure{display:inline-block;margin:0.5em}figcaption{font-size:0.85em;color:#555}"
      "table{border-collapse:collapse;font-size:0.85em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}"
      "code{background:#f4f4f4;padding:1px 3px}"
      "div.coverage-warn{border:2px solid #b00020;background:#fdecee;border-radius:6px;padding:0.6em 1em;margin:1em 0}"
      "div.coverage-warn h2{color:#b00020;margin-top:0.2em}tr.missing td{background:#fdecee;color:#b00020;font-weight:bold}"
      "</style></head><body>";
  h += "<h1>distillguard campaign report</h1>";
  h += fmt::format("<p>{} interactions from {} accounts. <b>{}</b> campaigns, <b>{}</b> accounts blocked, {} in review.</p>",
                   info.interactions, engine.live_accounts(), campaigns.size(), blocked, review);
  if (info.coverage != nullptr && info.coverage->records() > 0) AppendCoverageHtml(h, *info.coverage);
  h += "<h2>Campaigns, ranked</h2><p>By score, the worst first.</p><table id=\"ranking\"><tr><th>campaign</th><th>score</th><th>accounts</th><th>interactions</th>"
       "<th>output tokens harvested</th><th>first seen</th><th>confirmed</th><th>last seen</th></tr>";
  for (const CampaignView* cp : campaigns) {
    const CampaignView& c = *cp;
    h += fmt::format("<tr><td><a href=\"#{0}\">{0}</a></td><td>{1:.2f}</td><td>{2}</td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td>{7}</td></tr>",
                     c.id, c.score, c.members.size(), c.interactions, c.output_tokens, FormatRfc3339(c.first_seen),
                     c.confirmed_at >= 0 ? FormatRfc3339(c.confirmed_at) : "", FormatRfc3339(c.last_seen));
  }
  h += "</table>";
  for (const CampaignView* cp : campaigns) {
    const CampaignView& c = *cp;
    h += fmt::format("<section class=\"campaign\" id=\"{0}\"><h2>{0} &mdash; score {1:.2f}, {2} accounts, {3} interactions</h2>",
                     c.id, c.score, c.members.size(), c.interactions);
    h += fmt::format("<p>Output tokens harvested: <b>{}</b> (input {}). Confirmed: {}.</p>", c.output_tokens, c.input_tokens,
                     c.confirmed_at >= 0 ? FormatRfc3339(c.confirmed_at) : "not yet");
    h += "<p>Why: ";
    for (const auto& r : c.reasons) h += "<code>" + r + "</code> ";
    h += "</p>";
    std::vector<std::pair<std::string, double>> days;
    for (const auto& [day, n] : c.per_day) days.emplace_back(FormatRfc3339(day * kMsPerDay).substr(5, 5), static_cast<double>(n));
    h += BarChart(days, "Interactions per day (after linking)");
    std::vector<std::pair<std::string, double>> hours;
    for (size_t hr = 0; hr < 24; ++hr) hours.emplace_back(fmt::format("{:02}h", hr), static_cast<double>(c.hours[hr]));
    h += BarChart(hours, "Activity by hour of day (UTC)");
    std::map<int64_t, uint64_t> created;
    for (const uint32_t m : c.members) {
      const auto& a = engine.accounts()[m];
      if (a.created_at >= 0) ++created[a.created_at / kMsPerDay];
    }
    std::vector<std::pair<std::string, double>> waves;
    for (const auto& [day, n] : created) waves.emplace_back(FormatRfc3339(day * kMsPerDay).substr(5, 5), static_cast<double>(n));
    h += BarChart(waves, "Account creation by day (ban-replacement waves)");
    std::vector<std::pair<std::string, double>> caps;
    for (size_t cap = 0; cap < kCapabilityCount; ++cap) caps.emplace_back(std::string(CapabilityName(static_cast<Capability>(cap))), static_cast<double>(c.capabilities[cap]));
    h += BarChart(caps, "Capability areas targeted", 360);
    h += ModelsByDayChart(c.day_models);
    h += fmt::format("<details><summary>{} accounts</summary><table><tr><th>account</th><th>verdict</th><th>interactions</th>"
                     "<th>created</th><th>first flagged</th><th>before flag</th></tr>",
                     c.members.size());
    for (const uint32_t m : c.members) {
      const auto& a = engine.accounts()[m];
      h += "<tr><td>";
      AppendHtmlEscaped(h, a.id);
      h += fmt::format("</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", VerdictName(a.verdict), a.n,
                       a.created_at >= 0 ? FormatRfc3339(a.created_at) : "", a.flagged_at >= 0 ? FormatRfc3339(a.flagged_at) : "",
                       a.flagged_at >= 0 ? std::to_string(a.n_at_flag) : "");
    }
    h += "</table></details>";
    h += "<h3>Shared indicators</h3><table class=\"indicators\"><tr><th>kind</th><th>value</th><th>accounts</th><th>uses per account</th></tr>";
    const auto held = IndicatorAccounts(engine, c);
    for (size_t idx = 0; idx < c.indicators.size(); ++idx) {
      const auto& [kind, value] = c.indicators[idx];
      h += "<tr><td>" + kind + "</td><td>";
      AppendHtmlEscaped(h, value);
      h += fmt::format("</td><td>{}</td><td>", held[idx].size());
      for (size_t a = 0; a < held[idx].size(); ++a) {
        if (a) h += ", ";
        AppendHtmlEscaped(h, engine.accounts()[held[idx][a].first].id);
        h += fmt::format(": {}", held[idx][a].second);
      }
      h += "</td></tr>";
    }
    h += "</table><h3>Representative prompts (redacted)</h3><ul>";
    for (const auto& s : c.samples) {
      h += "<li><code>";
      AppendHtmlEscaped(h, s);
      h += "</code></li>";
    }
    h += "</ul></section>";
  }
  // Self-check for automated viewing (tests/report): counts what rendered
  // and records script errors on the root element. No network, no data.
  h += "<script>window.onerror=function(m){document.documentElement.dataset.reportErrors=(document.documentElement.dataset.reportErrors||'')+m+';'};"
       "document.addEventListener('DOMContentLoaded',function(){var s=document.querySelectorAll('section.campaign'),ok=0;"
       "s.forEach(function(x){var c=x.querySelectorAll('svg.chart');var drawn=0;c.forEach(function(g){if(g.getBBox().width>0)drawn++});"
       "if(c.length>=5&&drawn==c.length)ok++});"
       "document.documentElement.dataset.reportCheck='campaigns='+s.length+' rendered='+ok;});</script>";
  h += "</body></html>\n";
  return WriteFile(path, h);
}

}  // namespace dg
