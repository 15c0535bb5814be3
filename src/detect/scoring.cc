#include "detect/scoring.h"

#include <algorithm>
#include <cmath>

namespace dg {
namespace {

constexpr double kDayMs = static_cast<double>(kMsPerDay);
// The sliding window's rates count once it holds this many interactions.
constexpr uint32_t kMinWindowInteractions = 10;
// Harvest evidence below this is none at all (a stray keyword or two).
constexpr double kNoHarvest = 0.1;
// Harvest evidence at which content counts in full (the score's
// `harvesting` factor saturates).
constexpr double kStrongHarvest = 0.5;
// Harvest requests per active day that make an account of unknown age,
// seen on fewer than three networks, a candidate without automation (the
// end of ScoreAccount).
constexpr uint32_t kHomeHarvestPerDay = 10;
// Requests per active day at which a repeated client configuration counts
// (fixed_sampling, template_concentration) for an account seen on fewer
// than three networks.
constexpr uint32_t kClientRequestsPerDay = 10;

double Clamp01(double x) { return std::clamp(x, 0.0, 1.0); }

// Rate signals: the share of an account's interactions that carry a
// content flag or trait (AccountState::Observe counts them). The evidence
// starts at `floor` and reaches full strength `span` above it; `single`
// rates divide by n + 1 rather than n + 2.
struct RateSignal {
  Reason reason;
  uint32_t RateCounts::*counter;
  double floor, span;
  bool single;
};
constexpr std::array<RateSignal, 4> kHarvestRates = {{
    {Reason::kCotElicitation, &RateCounts::cot, 0.2, 0.5, false},
    {Reason::kReasoningReconstruction, &RateCounts::recon, 0.1, 0.4, false},
    {Reason::kRubricGrading, &RateCounts::rubric, 0.2, 0.5, false},
    {Reason::kDataGeneration, &RateCounts::datagen, 0.2, 0.5, false},
}};
constexpr RateSignal kSingleTurnRate{Reason::kSingleTurn, &RateCounts::single_turn, 0.6, 0.3, true};
constexpr RateSignal kMaxOutputCapRate{Reason::kMaxOutputCap, &RateCounts::high_cap, 0.5, 0.4, false};
// Share of requests whose conversation history holds no turn the platform
// served to the account (only where the log carries responses).
constexpr RateSignal kUnservedRate{Reason::kUnservedHistory, &RateCounts::unserved, 0.2, 0.5, false};
double Rate(uint32_t count, uint32_t n) { return static_cast<double>(count) / (n + 2.0); }

// Longest run of empty hours (circular) in a 24-hour histogram.
int LongestQuietRun(const std::array<uint32_t, 24>& hours) {
  int best = 0;
  int run = 0;
  for (int idx = 0; idx < 48; ++idx) {
    if (hours[static_cast<size_t>(idx % 24)] == 0) {
      best = std::max(best, ++run);
    } else {
      run = 0;
    }
  }
  return std::min(best, 24);
}

// Days covered by the sliding window (its current and, if any, previous
// half), at least one.
double WindowDays(const AccountState& a) {
  return std::max(1.0, static_cast<double>(a.last_ts - a.window_start) / kDayMs + (a.window_prev.n > 0 ? 1.0 : 0.0));
}

// Requests per active day: the lifetime average, or the sliding window's
// rate when that is higher -- twenty quiet days of one request do not
// dilute a day of a hundred and twenty.
double RequestsPerActiveDay(const AccountState& a, const RateCounts& recent, bool use_recent) {
  const double life = static_cast<double>(a.n) / std::max<uint32_t>(1, a.days_active);
  return use_recent ? std::max(life, recent.n / WindowDays(a)) : life;
}

}  // namespace

OwnEvidence ScoreAccount(const AccountState& a, const Policy& policy) {
  OwnEvidence e;
  const uint32_t n = a.n;
  auto set = [&](Reason r, double value, double strength) {
    e.value[static_cast<size_t>(r)] = value;
    e.strength[static_cast<size_t>(r)] = Clamp01(strength);
    return policy.weight(r) * Clamp01(strength);
  };
  double sum = 0;
  auto take = [&](double* family) {
    *family += sum;
    sum = 0;
  };
  // Rate evidence is read over the account's life and over the sliding
  // window (last one to two days); the stronger reading counts, so a
  // change of behaviour shows at once without a long benign past hiding it.
  const RateCounts recent = a.Recent();
  const bool use_recent = recent.n >= kMinWindowInteractions && recent.n < a.life.n;
  auto rate = [&](const RateSignal& sig) {
    auto read = [&](const RateCounts& c) {
      return sig.single ? static_cast<double>(c.*sig.counter) / (c.n + 1.0) : Rate(c.*sig.counter, c.n);
    };
    double v = read(a.life);
    if (use_recent) v = std::max(v, read(recent));
    return set(sig.reason, v, (v - sig.floor) / sig.span);
  };
  if (use_recent && a.life.n - recent.n >= kMinHistory) {
    RateCounts before = a.life;
    before.n -= recent.n;
    for (const RateSignal& sig : kHarvestRates) {
      before.*sig.counter -= recent.*sig.counter;
      if (Rate(recent.*sig.counter, recent.n) >= 0.3 && Rate(before.*sig.counter, before.n) <= 0.1) e.changed = true;
    }
  }
  for (const RateSignal& sig : kHarvestRates) sum += rate(sig);
  take(&e.harvest);
  sum += rate(kSingleTurnRate);
  // A client configuration -- its user agent and settings, repeated -- is
  // one program's mark only at a program's volume: a person on one app, or
  // a member of staff on the office's internal tool, sends one
  // configuration with every request too. Below kClientRequestsPerDay
  // requests per active day (RequestsPerActiveDay: a burst is not diluted
  // by a quiet past), for an account seen on fewer than three
  // networks, neither the settings (fixed_sampling), the configuration's
  // share (the client part of template_concentration) nor the client's
  // repeats per kind of task count: an operator who keeps each head under
  // it buys more heads, and one that rotates user agents and leaves
  // settings at their defaults drops them anyway. One seen on three
  // networks or more keeps them, as in the harvest candidacy below: its
  // place cannot vouch for it. Office and home -- a member of staff who
  // works from home now and then -- are two.
  const double per_active_day = RequestsPerActiveDay(a, recent, use_recent);
  const bool on_the_move = a.networks.first_visits >= 2;
  const bool client_counts = per_active_day >= kClientRequestsPerDay || on_the_move;
  const double fixed = n >= 10 && client_counts ? static_cast<double>(a.sampling_same) / n : 0;
  sum += set(Reason::kFixedSampling, fixed, (fixed - 0.9) / 0.1);
  // The most repeated prompt cluster, or template frame (fixed opening or
  // closing words around a variable task), or client configuration (above)
  // -- not the system prompt: an app sends its own with every request, so
  // every user of one app, and every member of an office on its internal
  // one, "repeated" it (a stress holdout with office staff who ask for
  // reasoning blocked whole offices on it, docs/QUALITY.md).
  const uint32_t repeated = client_counts ? a.repeats.TopCountBesideSystemPrompts() : a.repeats.TopContentCount();
  const double top_template = Rate(std::max(a.templates.TopCount(), repeated), n);
  sum += set(Reason::kTemplateConcentration, top_template, (top_template - 0.2) / 0.5);
  const double span_days = static_cast<double>(a.last_ts - a.first_ts) / kDayMs;
  const int quiet = LongestQuietRun(a.hours);
  const bool clock_measurable = span_days >= 1.0 && n >= 24;
  sum += set(Reason::kRoundTheClock, quiet, clock_measurable ? (4.0 - quiet) / 3.0 : 0);
  double cv = -1;
  if (a.gaps >= 20) {
    const double mean = a.gap_sum / a.gaps;
    const double var = std::max(0.0, a.gap_sq / a.gaps - mean * mean);
    cv = mean > 0 ? std::sqrt(var) / mean : -1;
  }
  sum += set(Reason::kMachinePacing, cv, cv >= 0 ? (0.5 - cv) / 0.3 : 0);
  // Volume: the lifetime daily average, or the sliding window's rate.
  double per_day = n / std::max(1.0, span_days);
  if (use_recent) per_day = std::max(per_day, recent.n / WindowDays(a));
  sum += set(Reason::kHighVolume, per_day, (per_day - 50.0) / 200.0);
  sum += rate(kMaxOutputCapRate);
  sum += rate(kUnservedRate);
  // Tokens per active day against the population's 99th percentile
  // (TokenBaseline): zero at it, full strength at four times it. It stands
  // in for the automation signals an operator can evade -- it lets harvest
  // content count in full -- and adds nothing on top of them: heavy real
  // users (coding agents, batch jobs, people who script reasoning prompts)
  // take as much, so it never makes a candidate or a solo block.
  // Address rotation: most changes of network go to a network the account
  // has not used, many times over (NetworkLog). Strength is the weaker of how many first
  // visits (from NetworkLog::kRotatingFirstVisits, full at twice that)
  // and how much of its moving they are (from 0.6, full at 0.9): a person's
  // excursions from home return home, which holds the share near one
  // half; a carrier's pool, cycled through, is returns.
  double rotation_part = 0;
  {
    const double visits = a.networks.first_visits;
    const double share = a.networks.FirstVisitShare();
    constexpr double kMin = NetworkLog::kRotatingFirstVisits;
    const double strength = std::min((visits - kMin) / kMin, (share - NetworkLog::kRotatingShare) / 0.3);
    rotation_part = set(Reason::kAddressRotation, visits, strength);
    sum += rotation_part;
  }
  const double token_part = set(Reason::kTokenVolume, a.token_excess, a.token_excess / 2.0);
  sum += token_part;
  take(&e.automation);
  if (a.created_at >= 0) {
    const double age_days = static_cast<double>(a.first_ts - a.created_at) / kDayMs;
    const double young_days = policy.young_account_days;
    sum += set(Reason::kYoungAccount, age_days, (young_days - age_days) / (0.8 * young_days));
    e.young = age_days <= young_days;
  }
  take(&e.youth);
  if (static_cast<double>(n) < policy.min_interactions) return e;
  // Harvesting is programmatic extraction: content counts in full only
  // with some automation, automation only with harvesting content, and
  // youth only with automation.
  const double bot = e.automation - token_part;  // automation without token volume
  const double automated = std::min(1.0, e.automation / 0.4);
  const double harvesting = std::min(1.0, e.harvest / kStrongHarvest);
  const double youth = e.youth * std::min(1.0, bot / 0.6);
  e.score = 1.0 - std::exp(-(e.harvest * automated + (bot + youth) * harvesting));
  // Candidacy by automation alone reads bot-likeness only: a rotating
  // address is how a harvester hides, not what a bot is (a traveller's or
  // a VPN user's single-turn requests must not make it a candidate).
  const double machine = bot - rotation_part;
  const double automation_score = 1.0 - std::exp(-(machine + e.youth * std::min(1.0, machine / 0.6)));
  if (e.young) {
    e.automation_score = automation_score;
    // A young bot that asks for nothing a harvester asks for is a person's
    // script until its infrastructure says otherwise: it is a candidate,
    // but links only through operator infrastructure. Heavy individual API
    // users share public templates, popular SDKs and their default
    // settings with hundreds of strangers, and those values alone must not
    // make them a campaign.
    e.infra_only = automation_score >= policy.automation_score && e.score < policy.suspicious_score &&
                        e.harvest < kNoHarvest;
  } else if (automation_score >= policy.established_automation_score) {
    e.automation_score = automation_score;
    e.infra_only = e.score < policy.suspicious_score;
  }
  // Harvest content without automation: a new account (or one that turned
  // to harvesting after a clean history) asking what a harvester asks in
  // most of its requests, with nothing bot-like to corroborate it -- every
  // automation signal is the client's to avoid (a user agent per request,
  // default settings, follow-up turns it was served, a night's pause).
  // People ask for reasoning too, so it is not reviewed on its own; it is a
  // candidate linked through operator infrastructure only, as a bot is: a
  // student on a card and address of its own links to nobody, forty new
  // accounts on one card or one proxy block are one operator's.
  // Of unknown age and not on the move, the account could as well be
  // a member of staff behind an office NAT -- indistinguishable by the
  // block from a head behind a proxy block, and an office of twenty who
  // ask for reasoning in most requests is as pure a block as a hydra's. What
  // a harvester cannot leave out is volume: it must harvest at least
  // kHomeHarvestPerDay requests on an active day on average (office staff
  // who ask for reasoning in 80% of their requests stayed under 9, p99 3.5,
  // in holdout seed 32's stress variant; the review's heads took 20-50),
  // read as RequestsPerActiveDay times its harvest share. One seen on three
  // networks or more needs no such volume (its place cannot vouch for it;
  // office and home are two); a young account's sign-up is its own
  // evidence.
  const bool unknown_age = a.created_at < 0;
  const bool harvests_volume = n > 0 && static_cast<double>(a.harvest_n) / n * per_active_day >= kHomeHarvestPerDay;
  if ((e.young || e.changed || (unknown_age && (on_the_move || harvests_volume))) && e.harvest >= kStrongHarvest &&
      e.score < policy.suspicious_score) {
    e.infra_only = true;
  }
  return e;
}

}  // namespace dg
