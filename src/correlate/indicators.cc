// The correlator's indicator half: values recorded per account, the
// suspicious / cleared / veteran lifecycle, imported indicators, campaign
// activity (correlate/correlator.h).
#include <arpa/inet.h>

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/parse_int.h"
#include "content/redact.h"
#include "correlate/correlator.h"

namespace dg {
namespace {

constexpr TimeMs kCreationBucketMs = 2 * kMsPerHour;
constexpr uint32_t kScheduleCheckEvery = 8;
constexpr size_t kMaxDisplay = 200;  // bytes of an indicator's human-readable value

}  // namespace

bool ParseAddress(std::string_view text, IpAddress* out) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::copy(text.begin(), text.end(), buf);
  buf[text.size()] = '\0';
  out->bytes = {};
  if (text.find(':') == std::string_view::npos) {
    out->v4 = true;
    return inet_pton(AF_INET, buf, out->bytes.data()) == 1;
  }
  if (inet_pton(AF_INET6, buf, out->bytes.data()) != 1) return false;
  // An IPv4 address written as IPv6 (::ffff:a.b.c.d) is that IPv4 address.
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(kMapped, kMapped + 12, out->bytes.begin())) {
    std::copy(out->bytes.begin() + 12, out->bytes.end(), out->bytes.begin());
    std::fill(out->bytes.begin() + 4, out->bytes.end(), 0);
    out->v4 = true;
    return true;
  }
  out->v4 = false;
  return true;
}

uint64_t IpPrefixKey(const std::string& ip, std::string* display) {
  IpAddress addr;
  if (!ParseAddress(ip, &addr)) return 0;
  const unsigned char* b = addr.bytes.data();
  if (!addr.v4) {
    // Loopback and unspecified addresses say nothing about an operator.
    static constexpr unsigned char kZero[15] = {};
    if (std::equal(kZero, kZero + 15, b) && (b[15] == 0 || b[15] == 1)) return 0;
    if (display) {
      char buf[INET6_ADDRSTRLEN];
      unsigned char masked[16] = {};
      std::copy(b, b + 6, masked);
      inet_ntop(AF_INET6, masked, buf, sizeof(buf));
      *display = std::string(buf) + "/48";
    }
    return Hash64(std::string_view(reinterpret_cast<const char*>(b), 6), 6);
  }
  if (display) *display = std::to_string(b[0]) + "." + std::to_string(b[1]) + "." + std::to_string(b[2]) + ".0/24";
  return Hash64(std::string_view(reinterpret_cast<const char*>(b), 3), 4);
}

uint32_t NetworkKey(std::string_view ip) {
  IpAddress addr;
  if (!ParseAddress(ip, &addr)) return 0;
  const unsigned char* b = addr.bytes.data();
  if (!addr.v4) {
    static constexpr unsigned char kZero[15] = {};
    if (std::equal(kZero, kZero + 15, b) && (b[15] == 0 || b[15] == 1)) return 0;
  } else if (b[0] == 0 || b[0] == 127) {
    return 0;
  }
  const uint64_t h = Hash64(std::string_view(reinterpret_cast<const char*>(b), addr.v4 ? 2 : 4), addr.v4 ? 16 : 32);
  return static_cast<uint32_t>(h) | 1u;  // never 0
}

Correlator::Correlator(const Policy& policy, AccountTable& accounts, CorrelatorOptions options)
    : policy_(policy), accounts_(accounts), options_(options), index_(options.max_indicator_values) {}

void Correlator::OnNewAccount(const AccountTable::Slot& slot, size_t slots) {
  if (slot.reused) {
    campaigns_.Reset(slot.index);
    graph_.Remove(slot.index);
  }
  campaigns_.EnsureAccounts(slots);
}

bool Correlator::Unlinked(uint32_t idx) { return campaigns_.Find(idx) == idx && campaigns_.Aggregate(idx) == nullptr; }

void Correlator::AddIndicator(AccountState& a, IndicatorKind kind, uint64_t value, DisplayFn display) {
  if (value == 0) return;
  const uint64_t key = IndicatorIndex::Key(kind, value);
  const AccountState::Slot slot = a.AddIndicator(kind, key);
  if (slot == AccountState::Slot::kAdded || slot == AccountState::Slot::kReplaced) {
    IndicatorStats* s = index_.AddAccount(key);
    if (s != nullptr) s->kind = static_cast<uint8_t>(kind);
    if (s != nullptr && a.suspicious) {
      const uint32_t root = campaigns_.Find(a.index);
      const CampaignAggregate* g = campaigns_.Aggregate(root);
      index_.AddSuspicious(key, a.index, g && g->confirmed_seq ? root + 1 : 0);
    } else if (s != nullptr && a.cleared) {
      ++s->cleared;
      if (a.veteran) ++s->veterans;
    }
  }
  // The human-readable value is built only when a suspicious account's
  // value has none yet: never on the common path. Without samples, prompt
  // content is shown by its fingerprint only: no prompt text is kept.
  if (a.suspicious) {
    IndicatorStats* s = index_.FindMutable(key);
    if (s != nullptr && s->display.empty()) {
      s->display = !options_.keep_samples && IsContent(kind) ? IndicatorFingerprint(key) : display().substr(0, kMaxDisplay);
    }
  }
}

bool Correlator::Record(AccountState& a, const Interaction& in, const EventFeatures& f) {
  uint32_t before = 0;
  for (const auto c : a.indicator_count) before += c;
  if (!in.payment_fingerprint.empty()) {
    cards_seen_ = true;
    AddIndicator(a, IndicatorKind::kPayment, Hash64(in.payment_fingerprint), [&] { return in.payment_fingerprint; });
  }
  if (!in.ip.empty()) {
    AddIndicator(a, IndicatorKind::kIpPrefix, IpPrefixKey(in.ip, nullptr), [&] {
      std::string shown;
      IpPrefixKey(in.ip, &shown);
      return shown;
    });
  }
  // Content values are an account's template only once it repeats them;
  // one-off prompts never enter the index.
  auto repeated = [&](IndicatorKind kind, uint64_t value, DisplayFn display) {
    if (value == 0) return;
    const uint64_t key = IndicatorIndex::Key(kind, value);
    const auto slot_kind = kind == IndicatorKind::kSystemPrompt                              ? RepeatCounter::Kind::kSystemPrompt
                           : kind == IndicatorKind::kClient || kind == IndicatorKind::kBehaviour ? RepeatCounter::Kind::kClient
                                                                                                 : RepeatCounter::Kind::kContent;
    if (a.repeats.Add(key, slot_kind) >= 2) {
      if (a.passersby.Withdraw(key)) index_.RemovePasserby(key);  // it repeats: not a one-off use
      AddIndicator(a, kind, value, display);
    } else if (a.cleared && !a.suspicious && index_.Find(key) != nullptr && a.passersby.Record(key)) {
      index_.AddPasserby(key);  // a one-off use by an ordinary customer: the value is public
    }
  };
  auto prompt_sample = [&] { return EventText(TextUse::kPromptDisplay, in); };
  repeated(IndicatorKind::kSystemPrompt, f.system_cluster, [&] { return EventText(TextUse::kSystemDisplay, in); });
  repeated(IndicatorKind::kPromptTemplate, f.prompt_cluster, prompt_sample);
  repeated(IndicatorKind::kPromptFrame, f.frame_head, prompt_sample);
  repeated(IndicatorKind::kPromptFrame, f.frame_tail, prompt_sample);
  if (f.tools_hash != 0) {
    AddIndicator(a, IndicatorKind::kToolset, f.tools_hash, [&] {
      std::string names;
      for (const auto& t : in.tool_names) names += (names.empty() ? "" : ",") + t;
      return names;
    });
  }
  if (!in.user_agent.empty()) {
    const uint64_t client = HashCombine(HashCombine(Hash64(in.user_agent), static_cast<uint64_t>(f.max_tokens + 2)),
                                        static_cast<uint64_t>(std::lround(f.temperature * 1000) + 7));
    auto client_shown = [&] {
      return in.user_agent + " max_tokens=" + std::to_string(f.max_tokens) +
             " temperature=" + (f.temperature < 0 ? std::string("default") : std::to_string(f.temperature).substr(0, 4));
    };
    repeated(IndicatorKind::kClient, client, client_shown);
    repeated(IndicatorKind::kBehaviour, HashCombine(client, static_cast<uint64_t>(f.capability) + 1),
             [&] { return client_shown() + " task=" + std::string(CapabilityName(f.capability)); });
  }
  if (a.created_at >= 0) {
    const int64_t bucket = a.created_at / kCreationBucketMs;
    AddIndicator(a, IndicatorKind::kCreationBurst, static_cast<uint64_t>(bucket) + 1,
                 [&] { return FormatRfc3339(bucket * kCreationBucketMs) + " +2h"; });
  }
  if (!in.email_domain.empty()) {
    AddIndicator(a, IndicatorKind::kEmailDomain, Hash64(in.email_domain), [&] { return in.email_domain; });
  }
  // An organisation groups accounts by the provider's own record, not by
  // coincidence: harvesting accounts in one org are one operation. A
  // verified org is one known customer (links.cc never ties its members
  // to each other on anything), so only unverified ids are indicators.
  if (!a.org.empty() && a.org_verified != 1) {  // the account's own org, not each request's claim
    AddIndicator(a, IndicatorKind::kOrg, Hash64(a.org), [&] { return a.org; });
  }
  // Synchronized schedules: accounts driven by one scheduler are active in
  // the same minutes of every hour. Checked every few interactions.
  if (a.n % kScheduleCheckEvery == 0) {
    if (const uint32_t bins = a.SynchronizedBins()) {
      AddIndicator(a, IndicatorKind::kSchedule, bins, [&] {
        std::string shown = "active in minutes";
        for (size_t bin = 0; bin < kMinuteBins; ++bin) {
          if (bins & (1u << bin)) shown += " :" + std::to_string(bin * 10) + "-:" + std::to_string(bin * 10 + 9);
        }
        return shown;
      });
    }
  }
  uint32_t after = 0;
  for (const auto c : a.indicator_count) after += c;
  return after != before;
}

void Correlator::MarkSuspicious(AccountState& a) {
  const bool was_cleared = a.cleared;
  if (was_cleared) index_.CountCleared(-1);
  if (a.counted_rotating) index_.CountRotating(-1);
  a.counted_rotating = false;
  a.cleared = false;
  a.suspicious = true;
  // Its one-off uses were a campaign account's first requests, not an
  // ordinary customer's: an aged account turning to harvest must not make
  // its own campaign's values look public.
  a.passersby.WithdrawAll([&](uint64_t key) { index_.RemovePasserby(key); });
  if (a.veteran) {
    a.veteran = false;
    for (size_t k = 0; k < kIndicatorKinds; ++k) {
      for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) index_.RemoveVeteran(a.indicators[k][idx]);
    }
  }
  const uint32_t root = campaigns_.Find(a.index);
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  const uint32_t hint = g && g->confirmed_seq ? root + 1 : 0;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) index_.AddSuspicious(a.indicators[k][idx], a.index, hint, was_cleared);
  }
}

void Correlator::NoteRotation(AccountState& a) {
  const bool counted = a.cleared && !a.suspicious && a.networks.Rotating();
  if (counted == a.counted_rotating) return;
  index_.CountRotating(counted ? 1 : -1);
  a.counted_rotating = counted;
}

double Correlator::RotationRarity() const {
  const double share = static_cast<double>(index_.rotating_cleared()) / index_.Population() / IndicatorStats::kPopularShare;
  return 1.0 / (1.0 + share * share);
}

double Correlator::JointRotation(double shared, bool both_rotate) const {
  return both_rotate && shared >= 0.5 * policy_.link_threshold ? policy_.rotation * RotationRarity() : 0.0;
}

void Correlator::MarkVeteran(AccountState& a) {
  a.veteran = true;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) index_.AddVeteran(a.indicators[k][idx]);
  }
}

void Correlator::MarkCleared(AccountState& a) {
  a.cleared = true;
  index_.CountCleared(+1);
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) index_.AddCleared(a.indicators[k][idx]);
  }
}

void Correlator::NoteActivity(AccountState& a, const Interaction& in, const EventFeatures& f) {
  CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Find(a.index));
  if (g == nullptr) return;
  ++g->interactions;
  ++g->per_day[in.ts / kMsPerDay];
  if (g->models.size() < 64 || g->models.contains(in.model)) {
    ++g->models[in.model];
    ++g->day_models[{in.ts / kMsPerDay, in.model}];
  }
  if (g->first_seen < 0 || in.ts < g->first_seen) g->first_seen = in.ts;
  g->last_seen = std::max(g->last_seen, in.ts);
  if (options_.keep_samples && g->samples.size() < 3 && (f.flags & (kFlagCot | kFlagRecon | kFlagRubric | kFlagTools))) {
    std::string sample = EventText(TextUse::kSample, in);
    if (!sample.empty()) g->samples.push_back(std::move(sample));
  }
}

std::string Correlator::EventText(TextUse use, const Interaction& in) {
  const auto u = static_cast<size_t>(use);
  if (texts_ != nullptr && texts_->replay) return texts_->text[u];
  std::string text;
  switch (use) {
    case TextUse::kSystemDisplay: text = RedactSample(in.system, kMaxDisplay); break;
    case TextUse::kPromptDisplay: text = RedactSample(in.LastUserText(), 120); break;
    case TextUse::kSample: text = in.LastUserText().empty() ? std::string() : RedactSample(in.LastUserText()); break;
  }
  if (texts_ != nullptr && !text.empty()) {
    texts_->text[u] = text;
    texts_->used |= static_cast<uint8_t>(1u << u);
  }
  return text;
}

std::string IndicatorFingerprint(uint64_t key) { return fmt::format("{}{:016x}", kFingerprintPrefix, key); }

void Correlator::RestoreSample(const std::string& campaign_id, const std::string& sample) {
  if (!options_.keep_samples) return;  // samples stored by an earlier run with them on
  for (const auto& [root, g] : campaigns_.aggregates()) {
    if (g.id != campaign_id) continue;
    CampaignAggregate* mg = campaigns_.Aggregate(root);
    if (mg->samples.size() < 3 && std::find(mg->samples.begin(), mg->samples.end(), sample) == mg->samples.end()) {
      mg->samples.push_back(sample);
    }
    return;
  }
}

}  // namespace dg
