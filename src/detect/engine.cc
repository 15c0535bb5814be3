#include "detect/engine.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>

#include "common/hash.h"

namespace dg {
namespace {

constexpr TimeMs kCreationBucketMs = 2 * kMsPerHour;
constexpr uint32_t kRelinkEvery = 16;
constexpr uint32_t kScheduleCheckEvery = 8;
constexpr size_t kMaxDisplay = 200;  // bytes of an indicator's human-readable value
constexpr uint32_t kRematchEvery = 32;
constexpr double kCandidatePurity = 0.2;  // values below this cannot link anyone
// An account observed this long without turning suspicious counts as
// unrelated to any campaign that shares its values.
constexpr uint32_t kClearAfterInteractions = 10;
constexpr TimeMs kClearAfterMs = kMsPerDay;
// A cleared account this long and this busy without turning suspicious is a
// veteran: its values are used in the open (IndicatorStats::Publicness).
constexpr uint32_t kVeteranAfterInteractions = 100;
constexpr TimeMs kVeteranAfterMs = 7 * kMsPerDay;

uint64_t IpPrefixKey(const std::string& ip, std::string* display) {
  unsigned char addr[16];
  if (ip.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, ip.c_str(), addr) != 1) return 0;
    if (display) {
      char buf[INET6_ADDRSTRLEN];
      unsigned char masked[16] = {};
      std::copy(addr, addr + 6, masked);
      inet_ntop(AF_INET6, masked, buf, sizeof(buf));
      *display = std::string(buf) + "/48";
    }
    return Hash64(std::string_view(reinterpret_cast<char*>(addr), 6), 6);
  }
  if (inet_pton(AF_INET, ip.c_str(), addr) != 1) return 0;
  if (display) *display = std::to_string(addr[0]) + "." + std::to_string(addr[1]) + "." + std::to_string(addr[2]) + ".0/24";
  return Hash64(std::string_view(reinterpret_cast<char*>(addr), 3), 4);
}

Reason LinkReason(IndicatorKind k) {
  switch (k) {
    case IndicatorKind::kPayment: return Reason::kSharedPayment;
    case IndicatorKind::kIpPrefix: return Reason::kSharedIpPrefix;
    case IndicatorKind::kSystemPrompt: return Reason::kSharedSystemPrompt;
    case IndicatorKind::kPromptTemplate: return Reason::kSharedTemplate;
    case IndicatorKind::kPromptFrame: return Reason::kSharedPromptFrame;
    case IndicatorKind::kToolset: return Reason::kSharedToolset;
    case IndicatorKind::kClient: return Reason::kSharedClient;
    case IndicatorKind::kCreationBurst: return Reason::kCreationBurst;
    case IndicatorKind::kEmailDomain: return Reason::kSharedEmailDomain;
    case IndicatorKind::kBehaviour: return Reason::kSharedBehaviour;
    case IndicatorKind::kSchedule: return Reason::kSynchronizedBurst;
    case IndicatorKind::kCount: break;
  }
  return Reason::kCampaignMember;
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

}  // namespace

// Replaces runs of digits, spaces, '+', '-', '(' and ')' that hold at least
// nine digits (phone numbers, also written with spaces) by [PHONE].
std::string MaskPhoneRuns(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if ((c >= '0' && c <= '9') || c == '+') {
      size_t end = pos;
      size_t digits = 0;
      size_t last_digit = pos;
      while (end < text.size()) {
        const char d = text[end];
        if (d >= '0' && d <= '9') {
          ++digits;
          last_digit = end;
        } else if (d != ' ' && d != '-' && d != '(' && d != ')' && d != '+' && d != '.') {
          break;
        }
        ++end;
      }
      if (digits >= 9) {
        out += "[PHONE]";
        pos = last_digit + 1;
        continue;
      }
      out.append(text.substr(pos, last_digit + 1 - pos));
      pos = last_digit + 1;
      continue;
    }
    out.push_back(c);
    ++pos;
  }
  return out;
}

std::string RedactSample(std::string_view raw, size_t max_len) {
  const std::string masked = MaskPhoneRuns(raw.substr(0, 4 * max_len));
  const std::string_view text = masked;
  std::string out;
  size_t pos = 0;
  while (pos < text.size() && out.size() < max_len) {
    // Take a whitespace-delimited word.
    size_t end = pos;
    while (end < text.size() && text[end] != ' ' && text[end] != '\n' && text[end] != '\t') ++end;
    const std::string_view word = text.substr(pos, end - pos);
    size_t digits = 0, letters = 0, keychars = 0;
    for (const char c : word) {
      digits += (c >= '0' && c <= '9');
      letters += (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      keychars += IsKeyChar(c);
    }
    if (word.find('@') != std::string_view::npos && word.find('.') != std::string_view::npos) {
      out += "[EMAIL]";
    } else if (word.find("://") != std::string_view::npos &&
               (word.find('?') != std::string_view::npos || word.find('@') != std::string_view::npos)) {
      out += std::string(word.substr(0, word.find("://") + 3)) + "[URL]";
    } else if (word.size() >= 20 && digits > 0 && letters > 0 && keychars * 10 >= word.size() * 9) {
      out += "[KEY]";
    } else {
      out.append(word);
    }
    if (end < text.size()) out.push_back(' ');
    pos = end + 1;
  }
  if (out.size() > max_len) out.resize(max_len);
  if (pos < text.size() || raw.size() > 4 * max_len) out += "...";
  return out;
}

Engine::Engine(Policy policy, EngineOptions options)
    : policy_(std::move(policy)),
      options_(options),
      link_weights_{policy_.links.payment,       policy_.links.ip_prefix,    policy_.links.system_prompt,
                    policy_.links.prompt_template, policy_.links.prompt_frame, policy_.links.toolset,
                    policy_.links.client,         policy_.links.creation_burst, policy_.links.email_domain,
                    policy_.links.behaviour,       policy_.links.schedule},
      analyzer_(options.max_template_clusters),
      index_(options.max_indicator_values) {}

const AccountState* Engine::FindAccount(const std::string& id) const {
  const auto it = account_ids_.find(id);
  return it == account_ids_.end() ? nullptr : &accounts_[it->second];
}

uint32_t Engine::AccountIndex(const Interaction& in) {
  if (const auto found = account_ids_.find(in.account_id); found != account_ids_.end()) {
    AccountState& a = accounts_[found->second];
    if (a.created_at < 0 && in.account_created_at != kNoTime) a.created_at = in.account_created_at;
    a.recent = true;
    return found->second;
  }
  if (options_.max_accounts > 0 && live_accounts() >= std::max(options_.max_accounts, sweep_again_at_)) EvictAccounts();
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
    accounts_[slot] = AccountState{};
    campaigns_.Reset(slot);
  } else {
    slot = static_cast<uint32_t>(accounts_.size());
    accounts_.emplace_back();
  }
  const auto [it, inserted] = account_ids_.try_emplace(in.account_id, slot);
  if (inserted) {
    AccountState& a = accounts_[slot];
    a.id = in.account_id;
    a.recent = true;
    a.org = in.org_id;
    a.index = it->second;
    if (const auto o = overrides_.find(in.account_id); o != overrides_.end()) {
      a.override_verdict = static_cast<int8_t>(o->second);
    }
    campaigns_.EnsureAccounts(accounts_.size());
  }
  AccountState& a = accounts_[it->second];
  if (a.created_at < 0 && in.account_created_at != kNoTime) a.created_at = in.account_created_at;
  return it->second;
}

void Engine::EvictAccounts() {
  const size_t target = options_.max_accounts - options_.max_accounts / 20;  // free 5% at a time
  // Two full turns of the hand: the first clears CLOCK bits, the second
  // finds the accounts that stayed idle since.
  for (size_t steps = 0; steps < 2 * accounts_.size() && live_accounts() > target; ++steps) {
    if (clock_hand_ >= accounts_.size()) clock_hand_ = 0;
    const uint32_t idx = static_cast<uint32_t>(clock_hand_++);
    AccountState& a = accounts_[idx];
    if (a.id.empty() || a.suspicious || a.reviewable || a.override_verdict >= 0 || a.verdict != Verdict::kAllow ||
        a.shared_match || campaigns_.Find(idx) != idx || campaigns_.Aggregate(idx) != nullptr) {
      continue;
    }
    if (a.recent) {
      a.recent = false;
      continue;
    }
    if (!a.cleared) MarkCleared(a);  // observed and never suspicious: counts as cleared in its values
    account_ids_.erase(a.id);
    a.id.clear();
    a.id.shrink_to_fit();
    a.org.clear();
    a.org.shrink_to_fit();
    free_slots_.push_back(idx);
    ++evicted_;
  }
  // Nothing (or too little) could go -- every account is active or under
  // suspicion: grow by another 5% before sweeping again, so a sweep that
  // finds nothing is not repeated for every new account.
  sweep_again_at_ = live_accounts() > target ? live_accounts() + options_.max_accounts / 20 + 1 : 0;
}

void Engine::AddIndicator(AccountState& a, IndicatorKind kind, uint64_t value, DisplayFn display) {
  if (value == 0) return;
  const uint64_t key = IndicatorIndex::Key(kind, value);
  if (a.AddIndicator(kind, key)) {
    IndicatorStats* s = index_.AddAccount(key);
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
  // value has none yet: never on the common path.
  if (a.suspicious) {
    IndicatorStats* s = index_.FindMutable(key);
    if (s != nullptr && s->display.empty()) s->display = display().substr(0, kMaxDisplay);
  }
}

void Engine::RecordIndicators(AccountState& a, const Interaction& in, const EventFeatures& f) {
  if (!in.payment_fingerprint.empty()) {
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
    if (a.repeats.Add(IndicatorIndex::Key(kind, value)) >= 2) AddIndicator(a, kind, value, display);
  };
  auto prompt_sample = [&] { return RedactSample(in.LastUserText(), 120); };
  repeated(IndicatorKind::kSystemPrompt, f.system_cluster, [&] { return RedactSample(in.system, kMaxDisplay); });
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
}

void Engine::MarkSuspicious(AccountState& a) {
  const bool was_cleared = a.cleared;
  a.cleared = false;
  a.suspicious = true;
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

void Engine::MarkVeteran(AccountState& a) {
  a.veteran = true;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) index_.AddVeteran(a.indicators[k][idx]);
  }
}

void Engine::MarkCleared(AccountState& a) {
  a.cleared = true;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) index_.AddCleared(a.indicators[k][idx]);
  }
}

bool IsInfrastructure(IndicatorKind k) {
  return k == IndicatorKind::kPayment || k == IndicatorKind::kIpPrefix || k == IndicatorKind::kCreationBurst ||
         k == IndicatorKind::kEmailDomain;
}

// Suspicious accounts a value needs before it counts in full: a creation
// "burst" is many accounts made together, not two that happen to share a
// two-hour window; an e-mail domain likewise.
constexpr std::array<double, kIndicatorKinds> kMinSupport = {1, 1, 1, 1, 1, 1, 1, 10, 5, 1, 5};

double Evidence(const IndicatorStats& s, size_t kind, double weight) {
  return weight * s.Purity() * s.Publicness() * std::min(1.0, s.suspicious / kMinSupport[kind]);
}

// Prompt content: shared by anyone who draws on the same public prompts.
bool IsContent(IndicatorKind k) {
  return k == IndicatorKind::kSystemPrompt || k == IndicatorKind::kPromptTemplate || k == IndicatorKind::kPromptFrame;
}

double Engine::CombineKinds(const std::array<double, kIndicatorKinds>& per_kind, bool* infra) const {
  double content = 0;
  double other = 0;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    const auto kind = static_cast<IndicatorKind>(k);
    if (per_kind[k] > 0 && per_kind[k] >= 0.5 * link_weights_[k] && IsInfrastructure(kind)) *infra = true;
    (IsContent(kind) ? content : other) += per_kind[k];
  }
  return other + std::min(content, policy_.links.content_cap);
}

double Engine::LinkScore(const AccountState& a, const AccountState& b, uint32_t* reasons, bool* infra) const {
  std::array<double, kIndicatorKinds> per_kind{};
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) {
      const uint64_t key = a.indicators[k][idx];
      if (!b.HasIndicator(static_cast<IndicatorKind>(k), key)) continue;
      const IndicatorStats* s = index_.Find(key);
      if (s != nullptr) per_kind[k] = std::max(per_kind[k], Evidence(*s, k, link_weights_[k]));
    }
    if (per_kind[k] > 0.1 && reasons != nullptr) *reasons |= Bit(LinkReason(static_cast<IndicatorKind>(k)));
  }
  return CombineKinds(per_kind, infra);
}

double Engine::CampaignScore(const CampaignAggregate& g) const {
  const double m = static_cast<double>(g.members.size());
  return std::clamp(g.score_sum / m + 0.05 * std::log2(m), 0.0, 1.0);
}

void Engine::OnConfirmed(uint32_t root, TimeMs now) {
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g == nullptr) return;
  const std::vector<uint32_t> members = g->members;
  RefreshMembers(root, members, now);
}

void Engine::RefreshMembers(uint32_t root, const std::vector<uint32_t>& members, TimeMs now) {
  for (const uint32_t m : members) {
    AccountState& b = accounts_[m];
    for (size_t k = 0; k < kIndicatorKinds; ++k) {
      for (size_t idx = 0; idx < b.indicator_count[k]; ++idx) {
        if (IndicatorStats* s = index_.FindMutable(b.indicators[k][idx])) s->campaign_hint = root + 1;
      }
    }
    Decide(b, std::max(now, b.last_ts));
  }
}

size_t Engine::CampaignMinAccounts(const CampaignAggregate& g) const {
  const auto min = static_cast<size_t>(policy_.campaign_min_accounts);
  if (g.members.size() < min || g.members.size() >= 2 * min) return min;
  for (const uint32_t m : g.members) {
    if (!accounts_[m].automation_only) return min;
  }
  return 2 * min;
}

void Engine::TryLink(AccountState& a, TimeMs now) {
  a.last_link_check = a.n;
  std::vector<uint32_t> candidates;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) {
      const IndicatorStats* s = index_.Find(a.indicators[k][idx]);
      if (s == nullptr || s->Purity() < kCandidatePurity) continue;
      for (size_t mi = 0; mi < s->nmembers; ++mi) {
        const uint32_t m = s->members[mi];
        if (m != a.index && std::find(candidates.begin(), candidates.end(), m) == candidates.end()) candidates.push_back(m);
      }
    }
  }
  std::sort(candidates.begin(), candidates.end());  // deterministic order
  for (const uint32_t m : candidates) {
    AccountState& b = accounts_[m];
    if (!b.suspicious) continue;
    if (!a.org.empty() && a.org == b.org) continue;  // one declared customer, not coordination
    if (campaigns_.Find(a.index) == campaigns_.Find(b.index)) continue;
    uint32_t reasons = 0;
    bool infra = false;
    if (LinkScore(a, b, &reasons, &infra) < policy_.link_threshold) continue;
    // Shared content or client configuration alone ties young accounts
    // only: established customers of different orgs legitimately share
    // public templates and popular apps.
    if (!infra && !((a.young || a.changed) && (b.young || b.changed))) continue;
    const double sa = std::max<double>(a.own_score, policy_.suspicious_score);
    const double sb = std::max<double>(b.own_score, policy_.suspicious_score);
    // When one side is a confirmed campaign, only the other side's accounts
    // need new hints and verdicts -- unless the merge lifts the campaign's
    // score over the block line, which changes every member's verdict.
    std::vector<uint32_t> joined;
    double score_before = -1;
    {
      const uint32_t ra = campaigns_.Find(a.index), rb = campaigns_.Find(b.index);
      const CampaignAggregate* ga = campaigns_.Aggregate(ra);
      const CampaignAggregate* gb = campaigns_.Aggregate(rb);
      const bool ca = ga != nullptr && ga->confirmed_seq != 0, cb = gb != nullptr && gb->confirmed_seq != 0;
      if (ca != cb) {
        const CampaignAggregate* other = ca ? gb : ga;
        joined = other != nullptr ? other->members : std::vector<uint32_t>{ca ? b.index : a.index};
        score_before = CampaignScore(ca ? *ga : *gb);
      }
    }
    const uint32_t root = campaigns_.Union(a.index, b.index, sa, sb);
    CampaignAggregate* g = campaigns_.Aggregate(root);
    g->link_reasons |= reasons;
    if (g->first_seen < 0 || std::min(a.first_ts, b.first_ts) < g->first_seen) g->first_seen = std::min(a.first_ts, b.first_ts);
    g->last_seen = std::max({g->last_seen, a.last_ts, b.last_ts});
    if (campaigns_.MaybeConfirm(root, CampaignMinAccounts(*g), now)) {
      OnConfirmed(root, now);
    } else if (g->confirmed_seq != 0) {
      const bool crossed = score_before >= 0 && score_before < policy_.campaign_block_score &&
                           CampaignScore(*g) >= policy_.campaign_block_score;
      if (joined.empty() || crossed) {
        OnConfirmed(root, now);
      } else {
        RefreshMembers(root, joined, now);
      }
    }
  }
}

void Engine::AddCampaignEvidence(size_t kind, uint64_t key, CampaignScores* scores) const {
  const IndicatorStats* s = index_.Find(key);
  if (s == nullptr || s->campaign_hint == 0 || s->Purity() < policy_.min_indicator_purity) return;
  const uint32_t root = campaigns_.Root(s->campaign_hint - 1);
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g == nullptr || g->confirmed_seq == 0) return;
  auto it = std::find_if(scores->begin(), scores->end(), [&](const auto& p) { return p.first == root; });
  if (it == scores->end()) {
    scores->push_back({root, {}});
    it = scores->end() - 1;
  }
  it->second[kind] = std::max(it->second[kind], Evidence(*s, kind, link_weights_[kind]));
}

bool Engine::MatchCampaign(AccountState& a, TimeMs now) {
  // Per candidate campaign root: best weight per kind.
  CampaignScores scores;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) AddCampaignEvidence(k, a.indicators[k][idx], &scores);
  }
  uint32_t best_root = 0;
  double best = 0;
  for (const auto& [root, per_kind] : scores) {
    bool infra = a.young || a.changed;
    const double total = CombineKinds(per_kind, &infra);
    if (!infra) continue;
    if (total > best || (total == best && root < best_root)) {
      best = total;
      best_root = root;
    }
  }
  if (best < policy_.link_threshold) return false;
  // An established account with benign behaviour is not pulled in by
  // shared infrastructure alone.
  if (a.n > static_cast<uint32_t>(3 * policy_.min_interactions) && a.own_score < 0.6 * policy_.suspicious_score) {
    return false;
  }
  const double score_before = CampaignScore(*campaigns_.Aggregate(best_root));
  const uint32_t root = campaigns_.Union(best_root, a.index, 0, std::max<double>(a.own_score, policy_.suspicious_score));
  a.reasons |= Bit(Reason::kCampaignIndicatorMatch);
  if (!a.suspicious) MarkSuspicious(a);
  if (score_before < policy_.campaign_block_score && CampaignScore(*campaigns_.Aggregate(root)) >= policy_.campaign_block_score) {
    OnConfirmed(root, now);
  } else {
    RefreshMembers(root, {a.index}, now);
  }
  return true;
}

void Engine::Decide(AccountState& a, TimeMs now, const OwnEvidence* known) {
  if (a.override_verdict >= 0) {
    a.verdict = static_cast<Verdict>(a.override_verdict);
    a.reasons = Bit(Reason::kAnalystOverride);
    a.score = a.verdict == Verdict::kBlock ? 1.0f : 0.0f;
    if (a.verdict == Verdict::kBlock && a.flagged_at < 0) {
      a.flagged_at = now;
      a.n_at_flag = a.n;
    }
    return;
  }
  if (policy_.allow_accounts.contains(a.id) || (!a.org.empty() && policy_.allow_orgs.contains(a.org))) {
    a.verdict = Verdict::kAllow;
    a.reasons = Bit(Reason::kAllowlisted);
    a.score = 0;
    return;
  }
  if (a.verdict == Verdict::kBlock) return;  // blocks are sticky
  const OwnEvidence ev = known != nullptr ? *known : ScoreAccount(a, policy_);
  a.own_score = static_cast<float>(std::max(ev.score, ev.automation_score));
  uint32_t reasons = a.reasons & Bit(Reason::kCampaignIndicatorMatch);
  for (size_t r = 0; r < static_cast<size_t>(Reason::kCampaignMember); ++r) {
    if (ev.strength[r] >= 0.5) reasons |= 1u << r;
  }
  double score = a.own_score;
  bool block = ev.score >= policy_.solo_block_score;
  const uint32_t root = campaigns_.Find(a.index);
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  const bool in_campaign = g != nullptr && g->confirmed_seq != 0;
  if (in_campaign) {
    const double cs = CampaignScore(*g);
    score = std::max(score, cs);
    reasons |= Bit(Reason::kCampaignMember) | g->link_reasons;
    if (cs >= policy_.campaign_block_score && a.suspicious) block = true;
  }
  if (a.shared_match) {
    reasons |= Bit(Reason::kSharedIndicator);
    block = true;
    score = std::max(score, 0.9);
  }
  a.reasons = reasons;
  a.score = static_cast<float>(score);
  if (block && !policy_.review_only) {
    a.verdict = Verdict::kBlock;
    a.flagged_at = now;
    a.n_at_flag = a.n;
  } else if (block || in_campaign || a.reviewable || ev.score >= policy_.review_score) {
    a.verdict = Verdict::kReview;
  } else {
    a.verdict = Verdict::kAllow;
  }
}

void Engine::NoteCampaignActivity(AccountState& a, const Interaction& in, const EventFeatures& f) {
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
  if (options_.keep_samples && g->samples.size() < 3 && (f.flags & (kFlagCot | kFlagRecon | kFlagRubric | kFlagTools)) &&
      !in.LastUserText().empty()) {
    g->samples.push_back(RedactSample(in.LastUserText()));
    if (sample_sink_ && g->confirmed_seq != 0) sample_sink_(g->id, g->samples.back());
  }
}

void Engine::ReexamineCampaigns() {
  std::vector<uint32_t> crossed;
  for (const auto& [root, g] : campaigns_.aggregates()) {
    if (g.confirmed_seq == 0) continue;
    const double before = CampaignScore(g);
    double sum = 0;
    for (const uint32_t m : g.members) sum += std::max<double>(accounts_[m].own_score, policy_.suspicious_score);
    CampaignAggregate* mg = campaigns_.Aggregate(root);
    mg->score_sum = sum;
    if (before < policy_.campaign_block_score && CampaignScore(*mg) >= policy_.campaign_block_score) crossed.push_back(root);
  }
  // Members that have gone quiet are re-decided when the campaign now blocks.
  std::sort(crossed.begin(), crossed.end());
  for (const uint32_t root : crossed) OnConfirmed(root, now_);
}

Verdict Engine::Observe(const Interaction& in) {
  EventFeatures f;
  analyzer_.Analyze(in, &f);
  return ObserveFeatures(in, f);
}

Verdict Engine::ObserveDigest(const Interaction& in, const ContentDigest& digest) {
  EventFeatures f;
  analyzer_.Assign(digest, &f);
  return ObserveFeatures(in, f);
}

Verdict Engine::ObserveFeatures(const Interaction& in, const EventFeatures& f) {
  ++interactions_;
  now_ = std::max(now_, in.ts);
  if (const int64_t day = now_ / kMsPerDay; day != last_reexamined_day_) {
    if (last_reexamined_day_ >= 0) ReexamineCampaigns();
    last_reexamined_day_ = day;
  }
  AccountState& a = accounts_[AccountIndex(in)];
  a.Observe(f, policy_.high_max_tokens);
  const uint32_t before = [&] {
    uint32_t total = 0;
    for (const auto c : a.indicator_count) total += c;
    return total;
  }();
  RecordIndicators(a, in, f);
  uint32_t after = 0;
  for (const auto c : a.indicator_count) after += c;
  const bool new_indicator = after != before;

  if (!shared_.empty() && !a.shared_match) a.shared_match = MatchesShared(in.payment_fingerprint, in.ip) != nullptr;
  if (a.verdict != Verdict::kBlock) {
    const OwnEvidence ev = ScoreAccount(a, policy_);
    a.own_score = static_cast<float>(std::max(ev.score, ev.automation_score));
    a.young = ev.young;
    a.changed = a.changed || ev.changed;
    a.automation_only = ev.automation_only;
    a.reviewable = a.reviewable || ev.score >= policy_.suspicious_score ||
                   (ev.young && ev.automation_score >= policy_.automation_score);
    const bool suspicious_now = ev.score >= policy_.suspicious_score ||
                                (ev.young && ev.automation_score >= policy_.automation_score) ||
                                ev.automation_only;
    if (!a.suspicious && suspicious_now) {
      MarkSuspicious(a);
      TryLink(a, in.ts);
    } else if (!a.suspicious && !a.cleared && (a.n >= kClearAfterInteractions || in.ts - a.first_ts >= kClearAfterMs)) {
      MarkCleared(a);
    } else if (a.cleared && !a.veteran && a.n >= kVeteranAfterInteractions && in.ts - a.first_ts >= kVeteranAfterMs) {
      MarkVeteran(a);
    } else if (a.suspicious && (new_indicator || a.n - a.last_link_check >= kRelinkEvery)) {
      TryLink(a, in.ts);
    }
    const CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Find(a.index));
    const bool in_campaign = g != nullptr && g->confirmed_seq != 0;
    const uint32_t rematch_every = a.n < 64 ? 1 : kRematchEvery;
    if (!in_campaign && campaigns_.confirmed() > 0 && (a.n <= 4 || new_indicator || a.n % rematch_every == 0)) {
      MatchCampaign(a, in.ts);
    }
    Decide(a, in.ts, &ev);
  }
  NoteCampaignActivity(a, in, f);
  return a.verdict;
}

void Engine::Finish() {
  for (auto& a : accounts_) {
    if (a.verdict == Verdict::kBlock) continue;
    const CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Find(a.index));
    if (g != nullptr && g->confirmed_seq != 0) Decide(a, std::max(a.last_ts, g->confirmed_at));
  }
}

std::string_view DecisionName(Decision d) {
  switch (d) {
    case Decision::kAllow: return "allow";
    case Decision::kThrottle: return "throttle";
    case Decision::kChallenge: return "challenge";
    case Decision::kBlock: return "block";
    case Decision::kWithholdReasoning: return "withhold_reasoning";
  }
  return "allow";
}

namespace {
uint64_t SharedKey(IndicatorKind kind, std::string_view value) {
  if (kind == IndicatorKind::kClient) return IndicatorIndex::Key(kind, HashCombine(Hash64(value), 0x5ca1ab1eULL));
  return IndicatorIndex::Key(kind, Hash64(value));
}
}  // namespace

const std::string* Engine::MatchesShared(const std::string& payment, const std::string& ip) const {
  if (!payment.empty()) {
    if (const auto it = shared_.find(SharedKey(IndicatorKind::kPayment, payment)); it != shared_.end()) return &it->second;
  }
  if (!ip.empty()) {
    const uint64_t prefix = IpPrefixKey(ip, nullptr);
    if (prefix != 0) {
      if (const auto it = shared_.find(IndicatorIndex::Key(IndicatorKind::kIpPrefix, prefix)); it != shared_.end()) return &it->second;
    }
  }
  return nullptr;
}

bool Engine::AddSharedIndicator(IndicatorKind kind, const std::string& value, const std::string& source) {
  if (value.empty()) return false;
  if (kind == IndicatorKind::kIpPrefix) {
    std::string addr = value.substr(0, value.find('/'));
    const uint64_t prefix = IpPrefixKey(addr, nullptr);
    if (prefix == 0) return false;
    shared_[IndicatorIndex::Key(kind, prefix)] = source;
    return true;
  }
  if (kind != IndicatorKind::kPayment && kind != IndicatorKind::kClient) return false;
  shared_[SharedKey(kind, value)] = source;
  return true;
}

void Engine::SetOverride(const std::string& account_id, Verdict verdict) {
  if (verdict == Verdict::kReview) {
    overrides_.erase(account_id);
  } else {
    overrides_[account_id] = verdict;
  }
  const auto it = account_ids_.find(account_id);
  if (it == account_ids_.end()) return;
  AccountState& a = accounts_[it->second];
  if (verdict == Verdict::kReview) {
    a.override_verdict = -1;
    a.verdict = Verdict::kAllow;  // re-decided from the evidence
    a.reasons = 0;
  } else {
    a.override_verdict = static_cast<int8_t>(verdict);
  }
  Decide(a, std::max(now_, a.last_ts));
}

void Engine::RestoreSample(const std::string& campaign_id, const std::string& sample) {
  for (const auto& [root, g] : campaigns_.aggregates()) {
    if (g.id != campaign_id) continue;
    CampaignAggregate* mg = campaigns_.Aggregate(root);
    if (mg->samples.size() < 3 && std::find(mg->samples.begin(), mg->samples.end(), sample) == mg->samples.end()) {
      mg->samples.push_back(sample);
    }
    return;
  }
}

std::string Engine::CampaignOfConst(uint32_t account) const {
  const CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Root(account));
  return g != nullptr && g->confirmed_seq != 0 ? g->id : std::string();
}

CheckResult Engine::Check(const CheckRequest& r) const {
  CheckResult out;
  const AccountState* a = nullptr;
  if (const auto it = account_ids_.find(r.account_id); it != account_ids_.end()) a = &accounts_[it->second];
  const bool reasoning_prompt = (r.prompt_flags & (kFlagCot | kFlagRecon)) != 0;
  if (a != nullptr) {
    out.score = a->score;
    out.reasons = a->reasons;
    out.campaign_id = CampaignOfConst(a->index);
    if (a->verdict == Verdict::kBlock) {
      out.decision = Decision::kBlock;
      out.ttl_s = 3600;
      return out;
    }
    if (a->override_verdict == static_cast<int8_t>(Verdict::kAllow)) return out;
    if (a->verdict == Verdict::kReview) {
      constexpr uint32_t kReasoning = Bit(Reason::kCotElicitation) | Bit(Reason::kReasoningReconstruction);
      out.decision = (a->reasons & kReasoning) || reasoning_prompt ? Decision::kWithholdReasoning : Decision::kThrottle;
      out.ttl_s = 300;
      return out;
    }
    // An established account is not judged on the infrastructure it shares.
    if (a->n > static_cast<uint32_t>(3 * policy_.min_interactions)) return out;
  }
  if (MatchesShared(r.payment_fingerprint, r.ip) != nullptr) {
    out.decision = Decision::kBlock;
    out.reasons |= Bit(Reason::kSharedIndicator);
    out.score = std::max(out.score, 0.9);
    out.ttl_s = 3600;
    return out;
  }
  if (campaigns_.confirmed() == 0) return out;
  // The request's indicators against confirmed campaigns, as MatchCampaign
  // does for an account's first interactions.
  std::array<std::pair<IndicatorKind, uint64_t>, 3> keys{};
  size_t nkeys = 0;
  if (!r.payment_fingerprint.empty()) keys[nkeys++] = {IndicatorKind::kPayment, Hash64(r.payment_fingerprint)};
  if (!r.ip.empty()) {
    if (const uint64_t p = IpPrefixKey(r.ip, nullptr)) keys[nkeys++] = {IndicatorKind::kIpPrefix, p};
  }
  CampaignScores scores;
  for (size_t idx = 0; idx < nkeys; ++idx) {
    const auto [kind, value] = keys[idx];
    AddCampaignEvidence(static_cast<size_t>(kind), IndicatorIndex::Key(kind, value), &scores);
  }
  double best = 0;
  uint32_t best_root = 0;
  uint32_t best_reasons = 0;
  for (const auto& [root, per_kind] : scores) {
    bool infra = false;
    const double total = CombineKinds(per_kind, &infra);
    if (total > best || (total == best && root < best_root)) {
      best = total;
      best_root = root;
      best_reasons = 0;
      for (size_t k = 0; k < kIndicatorKinds; ++k) {
        if (per_kind[k] > 0) best_reasons |= Bit(LinkReason(static_cast<IndicatorKind>(k)));
      }
    }
  }
  if (best <= 0) return out;
  const CampaignAggregate* g = campaigns_.Aggregate(best_root);
  out.campaign_id = g->id;
  out.reasons |= Bit(Reason::kCampaignIndicatorMatch) | best_reasons;
  out.score = std::max(out.score, std::min(1.0, CampaignScore(*g) * std::min(1.0, best / policy_.link_threshold)));
  out.decision = best >= policy_.link_threshold ? Decision::kBlock : Decision::kChallenge;
  out.ttl_s = out.decision == Decision::kBlock ? 3600 : 300;
  return out;
}

std::string Engine::CampaignOf(uint32_t account) {
  const CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Find(account));
  return g != nullptr ? g->id : std::string();
}

std::vector<std::pair<std::string, double>> Engine::Explain(const AccountState& a) const {
  const OwnEvidence ev = ScoreAccount(a, policy_);
  std::vector<std::pair<std::string, double>> out;
  for (size_t r = 0; r < kReasonCount; ++r) {
    if ((a.reasons & (1u << r)) == 0) continue;
    const double v = r < static_cast<size_t>(Reason::kCampaignMember) ? ev.value[r] : 1.0;
    out.emplace_back(std::string(ReasonName(static_cast<Reason>(r))), std::round(v * 1000) / 1000);
  }
  return out;
}

std::vector<CampaignView> Engine::Campaigns() const {
  std::vector<CampaignView> out;
  for (const auto& [root, g] : campaigns_.aggregates()) {
    if (g.confirmed_seq == 0) continue;
    CampaignView v;
    v.id = g.id;
    v.score = CampaignScore(g);
    v.members = g.members;
    std::sort(v.members.begin(), v.members.end());
    v.first_seen = g.first_seen;
    v.last_seen = g.last_seen;
    v.confirmed_at = g.confirmed_at;
    v.per_day = g.per_day;
    v.models = g.models;
    v.day_models = g.day_models;
    v.samples = g.samples;
    for (size_t r = 0; r < kReasonCount; ++r) {
      if (g.link_reasons & (1u << r)) v.reasons.emplace_back(ReasonName(static_cast<Reason>(r)));
    }
    // Aggregate member behaviour and the indicators the members share.
    absl::flat_hash_map<uint64_t, std::pair<size_t, uint32_t>> shared;  // key -> (kind, members)
    for (const uint32_t m : v.members) {
      const AccountState& a = accounts_[m];
      v.interactions += a.n;
      v.input_tokens += a.input_tokens;
      v.output_tokens += a.output_tokens;
      for (size_t c = 0; c < kCapabilityCount; ++c) v.capabilities[c] += a.capability[c];
      for (size_t h = 0; h < 24; ++h) v.hours[h] += a.hours[h];
      for (size_t k = 0; k < kIndicatorKinds; ++k) {
        for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) {
          auto& e = shared[a.indicators[k][idx]];
          e.first = k;
          ++e.second;
        }
      }
    }
    std::vector<std::tuple<uint32_t, size_t, uint64_t>> ranked;
    for (const auto& [key, e] : shared) {
      const IndicatorStats* s = index_.Find(key);
      if (e.second >= 2 && s != nullptr && !s->display.empty() && s->Purity() >= 0.5) ranked.emplace_back(e.second, e.first, key);
    }
    std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
      if (std::get<0>(x) != std::get<0>(y)) return std::get<0>(x) > std::get<0>(y);
      return std::get<2>(x) < std::get<2>(y);
    });
    for (size_t idx = 0; idx < ranked.size() && idx < 24; ++idx) {
      const auto& [count, kind, key] = ranked[idx];
      v.indicators.emplace_back(std::string(IndicatorKindName(static_cast<IndicatorKind>(kind))), index_.Find(key)->display);
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const CampaignView& x, const CampaignView& y) {
    if (x.members.size() != y.members.size()) return x.members.size() > y.members.size();
    return x.id < y.id;
  });
  return out;
}

}  // namespace dg
