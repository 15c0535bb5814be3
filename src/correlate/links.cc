// The correlator's linking half: evidence of a shared value, links between
// suspicious accounts, campaigns confirmed and matched (correlate/correlator.h).
#include <algorithm>
#include <cmath>
#include <optional>
#include <span>

#include "common/hash.h"
#include "correlate/correlator.h"

namespace dg {
namespace {

constexpr double kCandidatePurity = 0.2;    // values below this cannot link anyone
// Lockstep: two accounts linked on content or configuration alone must have
// been active on mostly the same days (Jaccard over the last 64 days).
constexpr double kLockstepMinOverlap = 0.4;

// An account at home that is not new: a customer's setup as much as a
// head's. System prompt, client string and settings (and the behaviour
// they make) are what a popular app or SDK hands everyone who uses it;
// without infrastructure, such an account is tied on content only by what
// it asks alike -- a prompt template or frame (AsksAlike) -- in TryLink,
// MatchCampaign and EdgeHolds. Holdout seed 22 (and seed 21 at scale 2):
// heavy scripters at home pair-linked into a campaign on system prompt +
// client + behaviour alone. A new account at home (a fresh head on a
// sticky exit) still links on them: its sign-up is evidence too.
bool ConfiguredAtHome(const AccountState& a) { return !a.young && Correlator::AtHome(a); }

bool AsksAlike(const std::array<double, kIndicatorKinds>& per_kind) {
  return per_kind[static_cast<size_t>(IndicatorKind::kPromptTemplate)] > 0.1 || per_kind[static_cast<size_t>(IndicatorKind::kPromptFrame)] > 0.1;
}

bool ActInLockstep(const AccountState& a, const AccountState& b) { return a.ActiveDayOverlap(b, nullptr) >= kLockstepMinOverlap; }

// Joint onset: two accounts that each took up harvesting after a clean
// history (AccountState::changed) within this many hours of each other.
constexpr int32_t kOnsetWindowHours = 24;
// A schedule (minutes of the hour) counts towards joining a campaign only
// when this many hours of the day hold 80% of the account's activity.
constexpr size_t kScheduleMinHours = 4;
// Two communities of a cluster stay one campaign when the links between
// them weigh at least this share of what chance would give them
// (SparseCommunityCuts). Measured on seed 44 with every evasion but
// one-org: operations that share only public values are tied at 0.02-0.09
// of chance; the parts Louvain cuts inside one operation from 0.02 to
// 0.55. The threshold trades purity against completeness (each true
// campaign in one piece; `eval` prints both): at 0.5 sparse operations
// came apart into pieces too small for their late heads to join (campus
// stress holdout: recall 0.84 -> 0.76); at 0.2 a hydra on several blocks
// came apart into them (company stress holdout: completeness 0.78 ->
// 0.65); at 0.1 the simulator's operations still come apart (seed 44
// purity 0.54 -> 0.88) and the holdout's stay nearly whole.
constexpr double kSparseTieRatio = 0.1;

bool JointOnset(const AccountState& a, const AccountState& b) {
  return a.changed_hour >= 0 && b.changed_hour >= 0 && std::abs(a.changed_hour - b.changed_hour) <= kOnsetWindowHours;
}

// A value's evidence of coordination: its kind's weight, times how pure it
// is among judged accounts, times how far from public, times -- for
// infrastructure, client configuration and timing -- how rare it is in the
// whole population (IndicatorStats::Rarity), times how much of its kind's
// minimum support it has. Prompt content has its base rate in its purity
// already: it enters the index only once an account repeats it, one-off
// uses count as passers-by, and it never links alone (content_cap).
double Evidence(const IndicatorStats& s, size_t kind, double weight, double population) {
  const double rarity = IsContent(static_cast<IndicatorKind>(kind)) ? 1.0 : s.Rarity(population);
  return weight * s.Purity() * s.Publicness() * rarity * std::min(1.0, s.suspicious / kIndicatorSpecs[kind].min_support);
}

// A mail domain stands for infrastructure only where it is private to
// suspicious accounts: every account that used it is suspicious, and at
// least its kind's minimum support -- a hydra's catch-all domain, not a
// webmail provider's, which ordinary customers (cleared, or not judged
// yet) use too, from the log's first hours (review of bd7bc20: without
// this, heads on one custom domain that avoid automation and harvest
// wording on their own cards and blocks were no longer tied at all).
bool PrivateIdentity(const IndicatorStats& s, size_t kind) {
  return Spec(static_cast<IndicatorKind>(kind)).cls == IndicatorClass::kIdentity && s.cleared == 0 && s.passersby == 0 &&
         s.suspicious == s.accounts && s.suspicious >= kIndicatorSpecs[kind].min_support;
}

bool CountsAsInfrastructure(IndicatorKind kind, bool identity_private) {
  return IsInfrastructure(kind) || (identity_private && Spec(kind).cls == IndicatorClass::kIdentity);
}

}  // namespace

double Correlator::CombineKinds(const std::array<double, kIndicatorKinds>& per_kind, bool* infra, bool* paid,
                                bool identity_private) const {
  double content = 0;
  double other = 0;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    const auto kind = static_cast<IndicatorKind>(k);
    if (KindHolds(per_kind, k) && CountsAsInfrastructure(kind, identity_private)) {
      *infra = true;
      if (paid != nullptr && kind != IndicatorKind::kOrg) *paid = true;
    }
    (IsContent(kind) ? content : other) += per_kind[k];
  }
  return other + std::min(content, policy_.content_cap);
}

double Correlator::LinkScore(const AccountState& a, const AccountState& b, ReasonMask* reasons, bool* infra, bool* paid,
                             std::array<double, kIndicatorKinds>* per_kind_out, bool* identity_private_out) const {
  std::array<double, kIndicatorKinds> per_kind{};
  bool identity_private = false;
  // An org ties accounts that harvest with automation, not infrastructure-
  // only candidates (infra_only: bots that only automate, and people-like
  // accounts that ask for reasoning): an enterprise's batch and CI accounts,
  // and its staff, share its org for their own reasons.
  // Nor accounts whose org the provider has verified (since linking).
  const bool org_counts = !a.infra_only && !b.infra_only && a.org_verified != 1 && b.org_verified != 1;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    if (k == static_cast<size_t>(IndicatorKind::kOrg) && !org_counts) continue;
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) {
      const uint64_t key = a.indicators[k][idx];
      if (!b.HasIndicator(static_cast<IndicatorKind>(k), key)) continue;
      const IndicatorStats* s = index_.Find(key);
      if (s == nullptr) continue;
      per_kind[k] = std::max(per_kind[k], Evidence(*s, k, policy_.links[k], index_.Population()));
      identity_private = identity_private || PrivateIdentity(*s, k);
    }
    if (per_kind[k] > 0.1 && reasons != nullptr) *reasons |= Bit(LinkReason(static_cast<IndicatorKind>(k)));
  }
  if (per_kind_out != nullptr) *per_kind_out = per_kind;
  // Bought or aged accounts are put to work in batches: a group that turns
  // from ordinary use to harvesting on the same day, as CopyCatch's
  // lockstep. A stranger's change of use falls on any day of the log, so
  // a shared day is a coincidence of about one in the log's length in
  // days; it adds to what the pair shares, and never links alone
  // (policy.onset < link_threshold).
  // Only beside a value that is evidence on its own (> 0.1, a reason the
  // link is reported with): a link is never made of weak values and a
  // shared day.
  const bool some_kind = std::any_of(per_kind.begin(), per_kind.end(), [](double v) { return v > 0.1; });
  double onset = 0;
  if (some_kind && JointOnset(a, b)) {
    onset = policy_.onset;
    if (reasons != nullptr) *reasons |= Bit(Reason::kSharedOnset);
  }
  // Accounts that both hide their sessions behind rotating exits -- a new
  // network most sessions, which people do not do (their moves return
  // home) -- and share a value: each rotates to keep its sessions from
  // being tied together, and the shared value ties them anyway. Weighed by
  // how rare rotation is among cleared accounts (a privacy-VPN population
  // makes it common and this evidence small). Never links alone
  // (policy.rotation < link_threshold), and only beside a value that is
  // evidence on its own, as onset.
  if (identity_private_out != nullptr) *identity_private_out = identity_private;
  const double shared = CombineKinds(per_kind, infra, paid, identity_private) + onset;
  const double rotation = JointRotation(shared, a.networks.Rotating() && b.networks.Rotating());
  if (rotation > 0.1 && reasons != nullptr) *reasons |= Bit(Reason::kSharedRotation);
  return shared + rotation;
}

bool Correlator::EdgeHolds(const AccountState& a, const AccountState& b, double* score, ReasonMask* reasons, bool* paid,
                           bool* infra_out) const {
  std::array<double, kIndicatorKinds> per_kind{};
  bool infra = false;
  *reasons = 0;
  *paid = false;
  bool identity_private = false;
  *score = LinkScore(a, b, reasons, &infra, paid, &per_kind, &identity_private);
  if (infra && StopInHome(a, b, per_kind, identity_private)) infra = *paid = false;
  if (infra_out != nullptr) *infra_out = infra;
  if (*score < policy_.link_threshold && !CardEvidence(per_kind)) return false;
  // An account of a customer in the open is tied to others by its card or
  // address block only (TryLink): a link made before its card showed it
  // open -- the lab's first accounts looked like a hydra's young heads and
  // moved in step with them -- does not hold once it does, and the lab
  // splits off.
  if (!OpenTie(a, b, per_kind) && (OnOpenCard(a) || OnOpenCard(b))) return false;
  if (infra) return true;
  // As TryLink: an account at home and one that moves from network to
  // network are not tied on content alone (the pair only: both are in the
  // cluster being re-examined).
  if ((AtHome(a) && b.networks.Moving()) || (AtHome(b) && a.networks.Moving())) return false;
  if ((ConfiguredAtHome(a) || ConfiguredAtHome(b)) && !AsksAlike(per_kind)) return false;
  return ContentMayTie(a, b) && ActInLockstep(a, b) && NetworkOf(a) == Network::kNone &&
         NetworkOf(b) == Network::kNone;
}

double Correlator::CampaignScoreOf(double mean, double members) {
  return std::clamp(mean + 0.05 * std::log2(members), 0.0, 1.0);
}

double Correlator::CampaignScore(const CampaignAggregate& g) const {
  const double m = static_cast<double>(g.members.size());
  return CampaignScoreOf(g.score_sum / m, m);
}

ReasonMask Correlator::OwnLinkReasons(const AccountState& a) const {
  ReasonMask reasons = a.link_reasons;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    if (reasons & Bit(LinkReason(static_cast<IndicatorKind>(k)))) continue;
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) {
      const IndicatorStats* s = index_.Find(a.indicators[k][idx]);
      if (s != nullptr && s->suspicious >= 2 && Evidence(*s, k, policy_.links[k], index_.Population()) > 0.1) {
        reasons |= Bit(LinkReason(static_cast<IndicatorKind>(k)));
        break;
      }
    }
  }
  return reasons;
}

const CampaignAggregate* Correlator::ConfirmedCampaign(uint32_t account) {
  const CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Root(account));
  return g != nullptr && g->confirmed_seq != 0 ? g : nullptr;
}

const CampaignAggregate* Correlator::ConfirmedCampaignConst(uint32_t account) const {
  const CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Root(account));
  return g != nullptr && g->confirmed_seq != 0 ? g : nullptr;
}

void Correlator::OnConfirmed(uint32_t root, TimeMs now, RefreshFn refresh) {
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g == nullptr) return;
  const std::vector<uint32_t> members = g->members;
  RefreshMembers(root, members, now, refresh);
}

void Correlator::RefreshMembers(uint32_t root, const std::vector<uint32_t>& members, TimeMs now, RefreshFn refresh) {
  for (const uint32_t m : members) {
    AccountState& b = accounts_[m];
    for (size_t k = 0; k < kIndicatorKinds; ++k) {
      for (size_t idx = 0; idx < b.indicator_count[k]; ++idx) {
        if (IndicatorStats* s = index_.FindMutable(b.indicators[k][idx])) s->campaign_hint = root + 1;
      }
    }
    refresh(b, std::max(now, b.last_ts));
  }
}

Correlator::Network Correlator::NetworkOf(const AccountState& a) const {
  constexpr size_t k = static_cast<size_t>(IndicatorKind::kIpPrefix);
  constexpr uint8_t kSteadyUses = 20;
  constexpr uint16_t kSteadyDays = 2;
  // A known sign-up time already says whether content may tie the account
  // (young, or put to a new use: AccountState::MayLinkOnContent); the
  // network stands in for it where the log has none (a gateway's), or
  // where it says nothing: an old account whose first use was harvesting.
  if (!a.HistoryUnknown()) return Network::kNone;
  if (a.indicator_count[k] != 1 || a.indicator_overflow[k] != 0) return Network::kNone;
  const IndicatorStats* s = index_.Find(a.indicators[k][0]);
  if (s != nullptr && s->accounts >= static_cast<uint32_t>(policy_.campaign_block_min_accounts)) return Network::kNone;
  // Until the address is steady (20 uses, two active days) nobody can tell
  // a lab's first account, alone on its office network for now, from a
  // hydra head with a sticky address of its own: content links wait. Then
  // one account alone on its address is a person -- or such a head: it
  // links as before. An office is shared.
  if (a.indicator_hits[k][0] < kSteadyUses || a.days_active < kSteadyDays) return Network::kPending;
  return s != nullptr && s->accounts >= 2 ? Network::kOwn : Network::kNone;
}

bool Correlator::OwnNetworkCampaign(uint32_t root) const {
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g == nullptr) return false;
  // The first members (at most 16, so the cost stays bounded): mostly
  // accounts on networks of their own.
  size_t own = 0, seen = 0;
  for (const uint32_t m : g->members) {
    if (seen == 16) break;
    ++seen;
    own += NetworkOf(accounts_[m]) != Network::kNone;
  }
  return seen > 0 && 2 * own > seen;
}

bool Correlator::OpenCustomer(const AccountState& a, const bool* on_open_card) const {
  // Grouped into a campaign's minimum or more: the group is judged. A pair
  // is no group yet, and its card is -- a lab's first two researchers --
  // if the pair is on that card alone (two accounts tied across two cards
  // are what a customer in the open is not).
  const uint32_t root = campaigns_.Root(a.index);
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g != nullptr && g->members.size() >= static_cast<size_t>(policy_.campaign_min_accounts)) return OneCustomer(*g);
  return (on_open_card != nullptr ? *on_open_card : OnOpenCard(a)) && !OutsideCard(root, CustomerKey(a));
}

uint64_t Correlator::CustomerKey(const AccountState& a) const {
  constexpr size_t kp = static_cast<size_t>(IndicatorKind::kPayment);
  constexpr size_t ki = static_cast<size_t>(IndicatorKind::kIpPrefix);
  if (a.indicator_count[kp] == 1 && a.indicator_overflow[kp] == 0) return a.indicators[kp][0];
  if (cards_seen_ || a.indicator_count[kp] != 0 || a.indicator_count[ki] == 0 || a.indicator_overflow[ki] != 0) return 0;
  // The office: the block it used most (the lower slot on a tie).
  size_t best = 0;
  for (size_t idx = 1; idx < a.indicator_count[ki]; ++idx) {
    if (a.indicator_hits[ki][idx] > a.indicator_hits[ki][best]) best = idx;
  }
  return a.indicators[ki][best];
}

bool Correlator::OnOpenCard(const AccountState& a) const {
  const uint64_t card = CustomerKey(a);
  if (card == 0) return false;
  CardGroup group;
  if (!OpenCardGroup(card, &a, &group)) return false;
  return !OtherTeamOnBlocks(std::span<const uint32_t>(group.members.data(), group.n), card);
}

namespace {
// Counts one more use of `v` in counts[0, *used): false, with nothing
// counted, when `v` is new and the array is full.
template <size_t N>
bool Tally(std::array<std::pair<uint64_t, uint32_t>, N>& counts, size_t* used, uint64_t v) {
  const auto end = counts.begin() + *used;
  auto it = std::find_if(counts.begin(), end, [v](const auto& p) { return p.first == v; });
  if (it != end) {
    ++it->second;
    return true;
  }
  if (*used == N) return false;
  counts[(*used)++] = {v, 1};
  return true;
}
}  // namespace

template <class Fn>
bool Correlator::AnyGroupBlock(std::span<const uint32_t> members, size_t min_holders, Fn&& fn) const {
  constexpr size_t ki = static_cast<size_t>(IndicatorKind::kIpPrefix);
  std::array<std::pair<uint64_t, uint32_t>, (kPacedCustomerMaxAccounts + 1) * kMaxValuesPerKind> seen{};
  size_t nseen = 0;
  for (const uint32_t mi : members) {
    const AccountState& m = accounts_[mi];
    for (size_t idx = 0; idx < m.indicator_count[ki]; ++idx) {
      if (!Tally(seen, &nseen, m.indicators[ki][idx])) return true;
    }
  }
  for (size_t bi = 0; bi < nseen; ++bi) {
    if (seen[bi].second >= min_holders && fn(seen[bi].first)) return true;
  }
  return false;
}

bool Correlator::OtherTeamOnBlocks(std::span<const uint32_t> members, uint64_t card) const {
  constexpr size_t kp = static_cast<size_t>(IndicatorKind::kPayment);
  const auto cap = static_cast<size_t>(policy_.one_customer_max_accounts);
  const auto min = static_cast<size_t>(policy_.campaign_min_accounts);
  // Another card's team on the same address blocks makes neither one
  // customer in the open: an operator paying with a card per cell of its
  // accounts behind one proxy block (THREAT_MODEL, cells). Only cards with
  // a team's number of suspicious holders are looked at: heads on a card
  // each, or a busy cloud /24's unrelated suspicious accounts, neither
  // close a lab's card nor use up the budget; more than kMaxTeams such
  // cards on the blocks is nobody's office. Only suspicious holders are
  // read (the blocks' rings), so ordinary customers on a block -- a busy
  // VPN exit, or an operator's padding -- change nothing, and decoys on a
  // card do not make it less of a team (OpenCardGroup counts suspicious
  // holders). Each of the group's blocks once: O(blocks × 16) lookups
  // plus up to kMaxTeams OpenCardGroup.
  constexpr size_t kMaxTeams = 8;
  std::array<uint64_t, kMaxTeams> checked{};
  size_t nchecked = 0;
  return AnyGroupBlock(members, 1, [&](uint64_t block) {
    const IndicatorStats* net = index_.Find(block);
    if (net == nullptr) return false;
    for (size_t oi = 0; oi < net->nmembers; ++oi) {
      const AccountState& o = accounts_[net->members[oi]];
      if (o.indicator_count[kp] != 1 || o.indicator_overflow[kp] != 0) continue;  // on no one card: no team's
      const uint64_t other = o.indicators[kp][0];
      if (other == card || std::find(checked.begin(), checked.begin() + nchecked, other) != checked.begin() + nchecked) continue;
      const IndicatorStats* cs = index_.Find(other);
      if (cs == nullptr || cs->suspicious < min || cs->suspicious > cap) continue;
      if (nchecked == kMaxTeams) return true;
      checked[nchecked++] = other;
      CardGroup theirs;
      if (OpenCardGroup(other, nullptr, &theirs)) return true;
    }
    return false;
  });
}

bool Correlator::OpenCardGroup(uint64_t card, const AccountState* with, CardGroup* group) const {
  const auto cap = static_cast<size_t>(policy_.one_customer_max_accounts);
  const auto min = static_cast<size_t>(policy_.campaign_min_accounts);
  // The card's group -- its suspicious holders, whatever cluster each is in
  // -- is a customer in the open by the rule for a campaign (OneCustomer).
  // Its suspicious holders, not all of them: accounts that merely touch a
  // hydra head's card (a request each, to make it look like a team's) do
  // not make it one -- an operator that wants its heads open must make
  // every holder harvest, and a card's cell of harvesters is what it then
  // is (THREAT_MODEL, cells).
  const IndicatorStats* s = index_.Find(card);
  if (s == nullptr) return false;
  // An office block's group is its tenants: a suspicious account that
  // used the block twice or less passed by (a rotating exit, or a head
  // renting an address there now and then) -- its other blocks are not
  // the office's, and OneCustomerMembers judges it as a passer-by. Its
  // suspicious users past the ring are counted there too (unseen), so
  // passers-by do not end an office here by their number either.
  const bool office = s->kind == static_cast<uint8_t>(IndicatorKind::kIpPrefix);
  // A card's suspicious holders against the cap: ordinary colleagues on a
  // lab's card, or decoys an operator puts on a cell's, change nothing.
  if (!office && s->suspicious > cap) return false;
  group->n = 0;
  for (size_t mi = 0; mi < s->nmembers; ++mi) {
    if (office && PassesBy(accounts_[s->members[mi]], card)) continue;
    group->members[group->n++] = s->members[mi];
  }
  const auto end = group->members.begin() + group->n;
  if (with != nullptr && std::find(group->members.begin(), end, with->index) == end) group->members[group->n++] = with->index;
  if (group->n < min) return false;
  return OneCustomerMembers(std::span<const uint32_t>(group->members.data(), group->n));
}

namespace {

// How much the account used the address block, and everything else.
struct BlockUse {
  bool held = false;
  uint32_t here = 0, elsewhere = 0;
};

BlockUse UseOfBlock(const AccountState& a, uint64_t block) {
  constexpr size_t ki = static_cast<size_t>(IndicatorKind::kIpPrefix);
  BlockUse u;
  u.elsewhere = a.indicator_overflow[ki];
  for (size_t idx = 0; idx < a.indicator_count[ki]; ++idx) {
    if (a.indicators[ki][idx] == block) {
      u.held = true;
      u.here = a.indicator_hits[ki][idx];
    } else {
      u.elsewhere += a.indicator_hits[ki][idx];
    }
  }
  return u;
}

}  // namespace

bool Correlator::PassesBy(const AccountState& a, uint64_t block) {
  constexpr uint32_t kPasserbyUses = 2;
  // Used once or twice while working as much from elsewhere; or used and
  // given up (the slot went to other blocks: it moves on). An account new
  // to the log, with a request or two all from this block, is a newcomer
  // here, not a passer-by.
  const BlockUse u = UseOfBlock(a, block);
  return !u.held || (u.here <= kPasserbyUses && u.elsewhere >= u.here);
}

bool Correlator::StopsBy(const AccountState& a, uint64_t block) {
  if (PassesBy(a, block)) return true;
  // An account on rotating exits makes a session's stop at each block. A
  // stop is a session's worth of requests (kStopUses at most), at most a
  // quarter of everything the account sent, by an account that rotates
  // now: its requests per change of network are a session's too. (The
  // block's hit count is a Misra-Gries count, worn down by other blocks,
  // so it is read against the account's request count, not against the
  // other slots.)
  constexpr uint32_t kStopUses = 16;
  if (!a.networks.Rotating()) return false;
  const BlockUse u = UseOfBlock(a, block);
  return u.here <= kStopUses && uint64_t{u.here} * 4 <= a.n &&
         a.n <= uint64_t{kStopUses} * (uint64_t{a.networks.changes} + 1);
}

bool Correlator::Bystander(const AccountState& a) const {
  return !a.harvesting && campaigns_.Aggregate(campaigns_.Root(a.index)) == nullptr;
}

bool Correlator::ContentMayTie(const AccountState& a, const AccountState& b) {
  // Paper age is no history for an account that rotates its exits: the
  // platform cannot tie its sessions to a place, so an aged account on
  // rotating exits is open to content links -- with another that rotates.
  const bool rotators = a.networks.Rotating() && b.networks.Rotating();
  const auto may = [rotators](const AccountState& x) {
    return (x.NotKnownEstablished() || rotators) && !x.infra_only && x.harvesting;
  };
  return may(a) && may(b);
}

bool Correlator::MostFirstMembers(uint32_t root, bool (NetworkLog::*moves)() const) const {
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g == nullptr || g->members.empty()) return false;
  const size_t n = std::min<size_t>(g->members.size(), 16);
  size_t k = 0;
  for (size_t i = 0; i < n; ++i) k += (accounts_[g->members[i]].networks.*moves)() ? 1 : 0;
  return 2 * k > n;
}

bool Correlator::RotatorsCampaign(uint32_t root) const { return MostFirstMembers(root, &NetworkLog::Rotating); }

bool Correlator::MoversCampaign(uint32_t root) const { return MostFirstMembers(root, &NetworkLog::Moving); }

bool Correlator::AtHome(const AccountState& a) {
  constexpr uint32_t kHomeUses = 10;
  return a.networks.last != 0 && a.networks.changes == 0 && a.n >= kHomeUses;
}

bool Correlator::HomeBesideMovers(const AccountState& home, const AccountState& other) {
  return AtHome(home) && (other.networks.Moving() || MoversCampaign(campaigns_.Find(other.index)));
}

bool Correlator::OutsideCard(uint32_t root, uint64_t card) const {
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g == nullptr) return false;
  return std::any_of(g->members.begin(), g->members.end(), [&](uint32_t m) { return !HoldsCard(accounts_[m], card); });
}

bool Correlator::HoldsCard(const AccountState& a, uint64_t card) {
  // A card, or an office block (CustomerKey): the index keys of the two
  // kinds never collide, so both slot sets are searched.
  for (const IndicatorKind kind : {IndicatorKind::kPayment, IndicatorKind::kIpPrefix}) {
    const auto k = static_cast<size_t>(kind);
    const auto end = a.indicators[k].begin() + a.indicator_count[k];
    if (std::find(a.indicators[k].begin(), end, card) != end) return true;
  }
  return false;
}

bool Correlator::KindHolds(const std::array<double, kIndicatorKinds>& per_kind, size_t k) const {
  return per_kind[k] > 0 && per_kind[k] >= 0.5 * policy_.links[k];
}

bool Correlator::CardEvidence(const std::array<double, kIndicatorKinds>& per_kind) const {
  constexpr size_t kp = static_cast<size_t>(IndicatorKind::kPayment);
  return KindHolds(per_kind, kp);
}

bool Correlator::BlockEvidence(const std::array<double, kIndicatorKinds>& per_kind) const {
  constexpr size_t ki = static_cast<size_t>(IndicatorKind::kIpPrefix);
  return KindHolds(per_kind, ki);
}

bool Correlator::KeyEvidence(const std::array<double, kIndicatorKinds>& per_kind) const {
  // Where the log carries cards, a customer in the open is known by its
  // card; where it carries none, by its office block (CustomerKey) -- and
  // a link on that block is what must not carry it into a cluster that
  // holds others (issue #15 review: a hydra that copies a lab's first two
  // researchers and rents an address in its block).
  return cards_seen_ ? CardEvidence(per_kind) : BlockEvidence(per_kind);
}

bool Correlator::PaidEvidence(const std::array<double, kIndicatorKinds>& per_kind) const {
  return CardEvidence(per_kind) || BlockEvidence(per_kind);
}

bool Correlator::OpenTie(const AccountState& a, const AccountState& b,
                         const std::array<double, kIndicatorKinds>& per_kind) const {
  if (CardEvidence(per_kind)) return true;
  if (!BlockEvidence(per_kind)) return false;
  // A block both work from: not one that either passed by or made one
  // stop in. A head on rotating exits that stopped once in a lab's office
  // /24 shares the block, not the customer (holdout seed 21 at scale 2,
  // full fields: a new-model-rush head tied a lab of six into its
  // campaign of 64 on the block and the public "think step by step"
  // frame, and the lab was blocked with it).
  constexpr size_t ki = static_cast<size_t>(IndicatorKind::kIpPrefix);
  for (size_t idx = 0; idx < a.indicator_count[ki]; ++idx) {
    const uint64_t v = a.indicators[ki][idx];
    if (!b.HasIndicator(IndicatorKind::kIpPrefix, v)) continue;
    if (!PassesBy(a, v) && !StopsBy(a, v) && !PassesBy(b, v) && !StopsBy(b, v)) return true;
  }
  return false;
}

bool Correlator::StopInHome(const AccountState& a, const AccountState& b,
                            const std::array<double, kIndicatorKinds>& per_kind, bool identity_private) const {
  if (!AtHome(a) && !AtHome(b)) return false;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    const auto kind = static_cast<IndicatorKind>(k);
    if (kind == IndicatorKind::kIpPrefix || !CountsAsInfrastructure(kind, identity_private)) continue;
    if (KindHolds(per_kind, k)) return false;
  }
  return BlockEvidence(per_kind) && !OpenTie(a, b, per_kind);
}

bool Correlator::OneCustomer(const CampaignAggregate& g) const {
  const auto cap = static_cast<size_t>(policy_.one_customer_max_accounts);
  if (cap == 0) return false;  // switched off
  // A pair on one card is no group to speak of (and would let an operator
  // buy openness two accounts at a time): from a campaign's minimum size.
  if (g.members.size() < static_cast<size_t>(policy_.campaign_min_accounts)) return false;
  // Past the cap, a company's seats at a person's pace (PersonsPace) on its
  // card: up to kPacedCustomerMaxAccounts of them, never an office known by
  // its block alone (no card in the log: OneCustomerMembers' office rule
  // stays within the cap).
  const bool paced = g.members.size() > cap;
  if (paced && (g.members.size() > kPacedCustomerMaxAccounts || !PersonsPace(g.members))) return false;
  uint64_t card = 0;
  if (!OneCustomerMembers(g.members, &card)) return false;
  if (paced && !BlocksHeldByMembers(g.members)) return false;
  // Nor is a group with another card's team on its blocks (OtherTeamOnBlocks):
  // cells of one operator behind one proxy /24 that share no content.
  return !OtherTeamOnBlocks(g.members, card);
}

bool Correlator::GrewSince(const CampaignAggregate& g, TimeMs t) const {
  // A joiner is a colleague at work, not a name on the block: first seen
  // after t, harvesting on its own evidence (not only matched in), with
  // kJoinerMinInteractions requests over two days or more. Review of the
  // first version: six accounts that sent two harmless requests each from
  // the cell's /24 within seconds bought six blocked heads back.
  size_t joined = 0, blocked = 0;
  TimeMs first_join = 0, last_join = 0;
  for (const uint32_t m : g.members) {
    const AccountState& x = accounts_[m];
    blocked += x.verdict == Verdict::kBlock;
    if (x.first_ts <= t || !x.harvesting || x.n < kJoinerMinInteractions || x.days_active < 2) continue;
    first_join = joined == 0 ? x.first_ts : std::min(first_join, x.first_ts);
    last_join = joined == 0 ? x.first_ts : std::max(last_join, x.first_ts);
    ++joined;
  }
  // People join an office over time; a batch brought up at once is a cell.
  if (joined >= 2 && last_join - first_join <= kMsPerDay) return false;
  return joined > 0 && joined >= blocked;
}

bool Correlator::PersonsPace(std::span<const uint32_t> members) const {
  return std::all_of(members.begin(), members.end(), [&](uint32_t m) { return AtPersonsPace(accounts_[m]); });
}

bool Correlator::BlocksHeldByMembers(std::span<const uint32_t> members) const {
  // The group's own blocks -- each used by a quarter of its members, two at
  // least; not a block one seat passed through (a proxy /24 a hydra works
  // from: second review of b4b6cf0, where one seat's stray request closed
  // a company of 24) -- hold fewer than campaign_min_accounts suspicious
  // users who are not its members: no other team works beside it (paced
  // cells of 20 on a card each behind one proxy /24, and a cell of 16
  // hidden beside 64, did not close each other: the blocks' rings show
  // their last 16 suspicious users only, and a group past 16 fills them
  // itself, so the index's counts are read). Suspicious counts are never
  // decremented: an error here goes against the group. O(blocks × members).
  const size_t min_holders = std::max<size_t>(2, members.size() / 4);
  const auto min = static_cast<size_t>(policy_.campaign_min_accounts);
  size_t strangers = 0;
  return !AnyGroupBlock(members, min_holders, [&](uint64_t block) {
    const IndicatorStats* s = index_.Find(block);
    if (s == nullptr) return false;
    const auto own = static_cast<uint32_t>(std::count_if(members.begin(), members.end(), [&](uint32_t o) {
      return accounts_[o].suspicious && HoldsCard(accounts_[o], block);
    }));
    strangers += s->suspicious > own ? s->suspicious - own : 0;
    return strangers >= min;
  });
}

bool Correlator::AtPersonsPace(const AccountState& a) {
  // Over its life, and now: the sliding window (one to two days), so that
  // quiet days banked are not spent in a burst (review of 6a76d50: a
  // month of one a day, then 200 in three hours). The window's harvest
  // counts are summed over the harvest kinds -- a request that asks for
  // two is counted twice, erring towards "not a person's pace".
  const RateCounts recent = a.Recent();
  const uint32_t recent_harvest = recent.cot + recent.recon + recent.rubric + recent.datagen;
  const uint32_t window_days = a.window_prev.n > 0 ? 2 : 1;
  return a.harvest_n < kPersonHarvestPerDay * std::max<uint32_t>(1, a.days_active) &&
         recent_harvest < kPersonHarvestPerDay * window_days;
}

bool Correlator::OneCustomerMembers(std::span<const uint32_t> members, uint64_t* card_out) const {
  constexpr size_t kp = static_cast<size_t>(IndicatorKind::kPayment);
  constexpr size_t ki = static_cast<size_t>(IndicatorKind::kIpPrefix);
  constexpr size_t kMaxNetworks = 2;
  const std::string* org = nullptr;
  // Per address block, the members that used it: at most (cap + 1) × 6
  // blocks, on the stack.
  std::array<std::pair<uint64_t, uint32_t>, (kPacedCustomerMaxAccounts + 1) * kMaxValuesPerKind> networks{};
  size_t nnet = 0;
  if (members.empty() || members.size() > kPacedCustomerMaxAccounts + 1) return false;
  // The group's card: one that every member pays with -- but for a
  // quarter of the members, each of which pays with one card of its own
  // and works from the group's main blocks only (a member of staff on a
  // personal account at the office: holdout seed 32, full fields, an
  // early adopter at a lab's /24 all its life, tied to the lab by the
  // block they both work from, made the lab no customer and blocked ten).
  // A quarter of the members may pay with another card as well (a
  // researcher's personal card, once); none may overflow its slots. Both
  // together at most a quarter. In a log that carries no
  // card at all (a gateway's, with no account table) the group is one
  // customer only as an office is: its main blocks closed -- every
  // suspicious account that works from them is one of its members, at
  // most one_customer_max_accounts of them (below). A hydra's heads behind
  // a proxy block are more than that, or share it with heads of other
  // clusters; an operator that gives every cell of at most 16 accounts a
  // block of its own, and ties none to another by anything but public
  // content, gets each cell reviewed, not blocked (THREAT_MODEL 3.4).
  uint64_t card = 0;
  size_t holders = 0;
  const AccountState& first = accounts_[members.front()];
  {
    // The card most members pay with (the lower value on a tie), whatever
    // the members' order (review of 6a76d50: the first two members' cards
    // only made the verdict depend on who joined first). `networks` holds
    // the counts for now; the blocks below overwrite it from the start
    // (Tally reads only the entries it has written; the array holds every
    // member's slots, so it never fills).
    size_t ncards = 0;
    for (const uint32_t m : members) {
      const AccountState& a = accounts_[m];
      for (size_t idx = 0; idx < a.indicator_count[kp]; ++idx) Tally(networks, &ncards, a.indicators[kp][idx]);
    }
    for (size_t ci = 0; ci < ncards; ++ci) {
      const auto& [c, n] = networks[ci];
      if (n > holders || (n == holders && c < card)) {
        card = c;
        holders = n;
      }
    }
    if (holders + members.size() / 4 < members.size()) card = 0;
  }
  const bool office = card == 0 && !cards_seen_;
  if (card == 0 && !office) return false;
  const size_t own_cards = office ? 0 : members.size() - holders;
  size_t more_cards = 0;
  for (const uint32_t m : members) {
    const AccountState& a = accounts_[m];
    if (a.indicator_overflow[kp] != 0) return false;
    // One on a card of its own pays with that card only, at a person's pace
    // (review of 6a76d50: heads on cards of their own harvesting from a
    // lab's /24 at 40 a day were laundered as its staff).
    if (!office && !HoldsCard(a, card) && (a.indicator_count[kp] != 1 || !AtPersonsPace(a))) return false;
    more_cards += a.indicator_count[kp] > 1;
    // What it declares agrees with the others: one organisation or none (a
    // card behind accounts of many declared orgs is multi-accounting).
    if (!a.org.empty()) {
      if (org == nullptr) org = &a.org;
      if (a.org != *org) return false;
    }
    for (size_t idx = 0; idx < a.indicator_count[ki]; ++idx) Tally(networks, &nnet, a.indicators[ki][idx]);
  }
  if (more_cards + own_cards > members.size() / 4) return false;
  // A log that carries no addresses (or none for these accounts) says
  // nothing about where the group works: the card and the org decide, as
  // they do beside an office. Not "every member away" -- that blocked
  // research labs on their own card and org in address-less logs
  // (simulator seed 57 --fields no-ip: 15 of 38 lab accounts).
  if (nnet == 0 && std::none_of(members.begin(), members.end(),
                                [&](uint32_t m) { return accounts_[m].indicator_overflow[ki] != 0; })) {
    if (office || own_cards > 0) return false;
    if (card_out != nullptr) *card_out = card;
    return true;
  }
  // Its addresses: the group's two main networks (an office, a VPN) --
  // most used, ties to the lower value; past the first, a block only one
  // member used is that member's, not the group's. A member or two seen
  // elsewhere too (a researcher on a train, at a conference) does not turn
  // the lab into a campaign overnight: a quarter of the members (none of
  // three) may have an address outside them. A hydra behind proxies has
  // most of its heads outside any two blocks.
  std::sort(networks.begin(), networks.begin() + nnet,
            [](const auto& x, const auto& y) { return x.second != y.second ? x.second > y.second : x.first < y.first; });
  size_t main = std::min(nnet, kMaxNetworks);
  while (main > 1 && networks[main - 1].second < 2) --main;
  const size_t allowed = members.size() / 4;
  size_t outside = 0;
  for (const uint32_t m : members) {
    const AccountState& a = accounts_[m];
    bool away = a.indicator_count[ki] == 0 || a.indicator_overflow[ki] != 0;
    for (size_t idx = 0; idx < a.indicator_count[ki] && !away; ++idx) {
      const uint64_t v = a.indicators[ki][idx];
      away = std::none_of(networks.begin(), networks.begin() + main, [v](const auto& p) { return p.first == v; });
    }
    if (away && (own_cards > 0 && !HoldsCard(a, card))) return false;  // on a card of its own and elsewhere
    if (away && ++outside > allowed) return false;
  }
  if (office) {
    // Closed: every other suspicious account that works from its main
    // blocks is of the office too -- it works from those blocks only, is
    // tied to nobody who does not, and with the group it is still at most
    // one_customer_max_accounts (a colleague not linked yet, or a lab's
    // second team). Strangers seen there once or twice are passers-by (a
    // residential proxy's exit that fell in the office's block), and so is
    // an account on rotating exits that made one of its stops there
    // (StopsBy: a session of requests, a small share of its work) and one
    // that neither harvests now nor is tied to anyone (Bystander: a student
    // on the campus network the lab shares, issue #15 seed 17). The
    // suspicious accounts a block's ring no longer shows cannot be told
    // apart: each counts as a member would. And grown, not switched on:
    // its accounts were first seen more than a day apart (researchers join a lab over time; an
    // operator brings a cell's accounts up together, and a cell brought up
    // over days has harvested that much less meanwhile).
    // O(blocks × 16 × (slots + a cluster of <= 16)).
    const auto cap = static_cast<size_t>(policy_.one_customer_max_accounts);
    constexpr TimeMs kOfficeSpanMs = 24LL * 3600 * 1000;
    const auto on_main = [&](const AccountState& o) {
      if (o.indicator_count[ki] == 0 || o.indicator_overflow[ki] != 0) return false;
      for (size_t idx = 0; idx < o.indicator_count[ki]; ++idx) {
        const uint64_t v = o.indicators[ki][idx];
        if (std::none_of(networks.begin(), networks.begin() + main, [v](const auto& p) { return p.first == v; })) return false;
      }
      return true;
    };
    std::array<uint32_t, kMaxMembers + 1> others{};
    size_t nothers = 0;
    TimeMs first_seen = first.first_ts, last_seen = first.first_ts;
    for (const uint32_t m : members) {
      first_seen = std::min(first_seen, accounts_[m].first_ts);
      last_seen = std::max(last_seen, accounts_[m].first_ts);
    }
    for (size_t ni = 0; ni < main; ++ni) {
      const uint64_t block = networks[ni].first;
      const IndicatorStats* s = index_.Find(block);
      if (s == nullptr) return false;
      // The block's suspicious users the ring no longer shows: its count
      // less the group's own suspicious members there and the strangers
      // the ring still holds. They may be anyone, so they count against
      // the cap as members would; the passers-by the ring shows do not (a
      // few strangers with a request each do not make the office a crowd,
      // issue #15 review), nor do evicted members of the group.
      size_t own = 0, strangers = 0;
      for (const uint32_t m : members) own += accounts_[m].suspicious && HoldsCard(accounts_[m], block);
      for (size_t oi = 0; oi < s->nmembers; ++oi) {
        strangers += std::find(members.begin(), members.end(), s->members[oi]) == members.end();
      }
      const size_t unseen = s->suspicious > own + strangers ? s->suspicious - own - strangers : 0;
      if (members.size() + nothers + unseen > cap) return false;
      for (size_t oi = 0; oi < s->nmembers; ++oi) {
        const uint32_t oidx = s->members[oi];
        if (std::find(members.begin(), members.end(), oidx) != members.end() ||
            std::find(others.begin(), others.begin() + nothers, oidx) != others.begin() + nothers) {
          continue;
        }
        const AccountState& o = accounts_[oidx];
        if (StopsBy(o, block) || Bystander(o)) continue;
        if (members.size() + nothers + unseen + 1 > cap || !on_main(o)) return false;
        others[nothers++] = oidx;
        first_seen = std::min(first_seen, o.first_ts);
        last_seen = std::max(last_seen, o.first_ts);
        const CampaignAggregate* og = campaigns_.Aggregate(campaigns_.Root(oidx));
        if (og == nullptr) continue;
        if (og->members.size() > cap) return false;
        for (const uint32_t m : og->members) {
          if (std::find(members.begin(), members.end(), m) == members.end() && !on_main(accounts_[m])) return false;
        }
      }
    }
    if (last_seen - first_seen < kOfficeSpanMs) return false;
  }
  if (card_out != nullptr) *card_out = card;
  return true;
}

size_t Correlator::BlockMinAccounts(bool infra_linked, const CampaignAggregate& g) const {
  const auto min = static_cast<size_t>(policy_.campaign_block_min_accounts);
  // One customer in the open -- one card, an office's networks -- is judged
  // as one customer: its accounts are not a campaign of each other.
  if (OneCustomer(g)) return std::max(static_cast<size_t>(policy_.one_customer_max_accounts), g.members.size()) + 1;
  if (infra_linked) return min;
  // Tied by an org id (and content), not by anything paid for: a real lab
  // or evaluation team may declare one org nobody verified.
  if (g.link_reasons & Bit(Reason::kSharedOrg)) return 2 * min;
  size_t unknown_age = 0, seen = 0;
  for (const uint32_t m : g.members) {
    if (seen == 16) break;
    ++seen;
    // An old sign-up the platform never saw used counts as no sign-up time
    // -- unless the account rotates its exits, which ties it beside the
    // content (ContentMayTie) as before.
    const AccountState& x = accounts_[m];
    unknown_age += x.created_at < 0 || (x.HistoryUnknown() && !x.networks.Rotating());
  }
  return 2 * unknown_age > seen ? 2 * min : min;
}

size_t Correlator::MembersOutsideOrg(const CampaignAggregate& g, const AccountState& a, size_t enough) const {
  size_t outside = 0;
  for (const uint32_t m : g.members) {
    if (outside >= enough) break;
    outside += accounts_[m].org != a.org;
  }
  return outside;
}

double Correlator::CampaignRepeatShare(const CampaignAggregate& g, size_t* blocked) const {
  if (blocked != nullptr) *blocked = 0;
  if (g.members.size() > kMeasuredMembers) return 0;
  uint64_t repeats = 0, tokens = 0;
  for (const uint32_t m : g.members) {
    repeats += accounts_[m].repeat_tokens;
    tokens += accounts_[m].TokensServed();
    if (blocked != nullptr && accounts_[m].verdict == Verdict::kBlock) ++*blocked;
  }
  return tokens == 0 ? 0.0 : std::min(1.0, static_cast<double>(repeats) / static_cast<double>(tokens));
}

bool Correlator::Measuring(const CampaignAggregate& g, const AccountState& a) const {
  const double t = policy_.evaluation_repeat_share;
  return a.RepeatShare() >= t || CampaignRepeatShare(g) >= t;
}

size_t Correlator::ClusterSize(uint32_t root) const {
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  return g != nullptr ? g->members.size() : 1;
}

bool Correlator::OtherLinkInto(uint32_t account, uint32_t root, uint32_t except) const {
  const LinkGraph::Edges* es = graph_.Find(account);
  if (es == nullptr) return false;
  for (size_t e = 0; e < es->n; ++e) {
    const uint32_t o = es->e[e].other;
    if (o != except && campaigns_.Root(o) == root) return true;
  }
  return false;
}

bool Correlator::SelfStandingCampaign(uint32_t account) const {
  const CampaignAggregate* g = campaigns_.Aggregate(campaigns_.Root(account));
  return g != nullptr && g->confirmed_seq != 0 && g->infra_linked && g->members.size() >= BlockMinAccounts(*g) &&
         CampaignScore(*g) >= policy_.campaign_block_score;
}

bool Correlator::CrossesBlockSize(size_t size_before, bool infra_before, const CampaignAggregate& after) const {
  return size_before < BlockMinAccounts(infra_before, after) && after.members.size() >= BlockMinAccounts(after);
}

size_t Correlator::CampaignMinAccounts(const CampaignAggregate& g) const {
  const auto min = static_cast<size_t>(policy_.campaign_min_accounts);
  if (g.members.size() < min || g.members.size() >= 2 * min) return min;
  for (const uint32_t m : g.members) {
    if (!accounts_[m].infra_only) return min;
  }
  return 2 * min;
}

void Correlator::TryLink(AccountState& a, TimeMs now, RefreshFn refresh) {
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
  // Whether a's card is a team's: cluster-free, so the same for every
  // candidate (computed once, when first needed).
  std::optional<bool> a_open_card;
  const auto a_on_open_card = [&]() -> const bool& {
    if (!a_open_card) a_open_card = OnOpenCard(a);
    return *a_open_card;
  };
  for (const uint32_t m : candidates) {
    AccountState& b = accounts_[m];
    if (!b.suspicious) continue;
    // One verified customer, not coordination. A declared org_id alone is
    // no exemption (#18 finding 8): where organisations are self-service a
    // hydra declares one for all its heads. Only the provider's account
    // data (scan --accounts, PUT /v1/accounts) can say it is verified.
    if (!a.org.empty() && a.org == b.org && a.org_verified == 1 && b.org_verified == 1) continue;
    // Links inside a cluster are recorded too (LinkGraph): they are what
    // holds its parts together when it is re-examined (SplitClusters).
    const bool same_cluster = campaigns_.Find(a.index) == campaigns_.Find(b.index);
    ReasonMask reasons = 0;
    bool infra = false, paid = false;
    std::array<double, kIndicatorKinds> per_kind{};
    bool identity_private = false;
    const double link = LinkScore(a, b, &reasons, &infra, &paid, &per_kind, &identity_private);
    if (link < policy_.link_threshold) continue;
    // A stranger's stop in a person's home block is no shared place.
    if (infra && StopInHome(a, b, per_kind, identity_private)) infra = paid = false;
    // Shared content or client configuration alone ties young accounts
    // only: established customers of different orgs legitimately share
    // public templates and popular apps.
    if (!infra && !ContentMayTie(a, b)) continue;
    // Without shared infrastructure, accounts of one operator act together
    // (lockstep, as in CopyCatch): strangers who share a public benchmark
    // or judge template run it on their own days.
    if (!infra && !ActInLockstep(a, b)) continue;
    // An organisation on a network of its own is tied by infrastructure only.
    if (!infra && (NetworkOf(a) != Network::kNone || NetworkOf(b) != Network::kNone)) continue;
    // Nor is an account at home tied on content alone to a cluster of
    // accounts on rotating exits (as in MatchCampaign): a public JSON
    // reasoning prompt and the popular SDK at its settings, which a rush of
    // rotating heads shares, are a heavy scripter's too (holdout seed 21 at
    // scale 2, full fields).
    if (!infra && a.networks.Rotating() != b.networks.Rotating() &&
        RotatorsCampaign(campaigns_.Find(a.networks.Rotating() ? a.index : b.index))) {
      continue;
    }
    // Nor before their rotation shows (HomeBesideMovers).
    if (!infra && (HomeBesideMovers(a, b) || HomeBesideMovers(b, a))) continue;
    if (!infra && (ConfiguredAtHome(a) || ConfiguredAtHome(b)) && !AsksAlike(per_kind)) continue;
    // A customer in the open -- a group on its own card and office network
    // -- is not tied to accounts outside it because they look alike: labs
    // that run the same public benchmark with the same SDK after the same
    // model release share content, settings, minutes and days with each
    // other and with whoever copies them, and nothing paid for. Its card
    // and an address block both work from do (OpenTie): a cell of a hydra
    // on one card, behind the hydra's proxy block, is tied to the heads
    // there (the price: a lab whose /24 a hydra's heads work from is tied
    // to it too, THREAT_MODEL); a head that only passed by is not.
    if (!OpenTie(a, b, per_kind) && !same_cluster && (OpenCustomer(a, &a_on_open_card()) || OpenCustomer(b))) continue;
    // And its card does not carry it into a cluster that holds others: a
    // colleague there was tied to them before the card showed the lab
    // (its first accounts looked like a hydra's young heads, in step with
    // them). The daily re-examination splits that cluster (EdgeHolds); the
    // lab joins its colleague then, not the hydra now.
    if (KeyEvidence(per_kind) && !same_cluster) {
      if (a_on_open_card() && OutsideCard(campaigns_.Find(b.index), CustomerKey(a))) continue;
      if (OnOpenCard(b) && OutsideCard(campaigns_.Find(a.index), CustomerKey(b))) continue;
    }
    graph_.Add(a.index, b.index, static_cast<float>(link), reasons, paid);
    if (same_cluster) continue;
    // A large cluster is not joined through one pair alike in content and
    // client configuration: an account outside a group that blocks on its
    // own is tied to it on those alone only when it holds another link
    // into it -- a second member that shares its values. Heads of one
    // operation share them with many members; a stranger who matches one
    // member on a public template and the minutes of the hour does not
    // (issue #15). Links already recorded count (LinkGraph), whichever
    // side looked first.
    if (!infra) {
      const uint32_t ra = campaigns_.Find(a.index), rb = campaigns_.Find(b.index);
      const size_t na = ClusterSize(ra), nb = ClusterSize(rb);
      const size_t big = 2 * static_cast<size_t>(policy_.campaign_block_min_accounts);
      if (na >= big && nb < big && !OtherLinkInto(b.index, ra, a.index)) continue;
      if (na < big && nb >= big && !OtherLinkInto(a.index, rb, b.index)) continue;
    }
    // Two confirmed campaigns that each block on their own are not merged on
    // content or client configuration alone: operators share public
    // tooling (the popular SDK at its defaults, a copied instruction), and
    // the merge would block no one more -- it would only hand the analyst
    // two operations as one (issue #15, purity).
    if (!infra && SelfStandingCampaign(a.index) && SelfStandingCampaign(b.index)) continue;
    const double sa = std::max<double>(a.own_score, policy_.suspicious_score);
    const double sb = std::max<double>(b.own_score, policy_.suspicious_score);
    // When one side is a confirmed campaign, only the other side's accounts
    // need new hints and verdicts -- unless the merge lifts the campaign's
    // score over the block line, which changes every member's verdict.
    std::vector<uint32_t> joined;
    double score_before = -1;
    size_t size_before = 0;
    bool infra_before = false;
    {
      const uint32_t ra = campaigns_.Find(a.index), rb = campaigns_.Find(b.index);
      const CampaignAggregate* ga = campaigns_.Aggregate(ra);
      const CampaignAggregate* gb = campaigns_.Aggregate(rb);
      const bool ca = ga != nullptr && ga->confirmed_seq != 0, cb = gb != nullptr && gb->confirmed_seq != 0;
      if (ca != cb) {
        const CampaignAggregate* other = ca ? gb : ga;
        joined = other != nullptr ? other->members : std::vector<uint32_t>{ca ? b.index : a.index};
        score_before = CampaignScore(ca ? *ga : *gb);
        size_before = (ca ? ga : gb)->members.size();
        infra_before = (ca ? ga : gb)->infra_linked;
      }
    }
    const uint32_t root = campaigns_.Union(a.index, b.index, sa, sb);
    CampaignAggregate* g = campaigns_.Aggregate(root);
    g->link_reasons |= reasons;
    g->infra_linked = g->infra_linked || paid;
    // Each side is reported with the links it has itself, never the
    // campaign's union (a member does not "share a payment" it never used).
    a.link_reasons |= reasons;
    b.link_reasons |= reasons;
    if (g->first_seen < 0 || std::min(a.first_ts, b.first_ts) < g->first_seen) g->first_seen = std::min(a.first_ts, b.first_ts);
    g->last_seen = std::max({g->last_seen, a.last_ts, b.last_ts});
    if (campaigns_.MaybeConfirm(root, CampaignMinAccounts(*g), now)) {
      OnConfirmed(root, now, refresh);
    } else if (g->confirmed_seq != 0) {
      const bool crossed = score_before >= 0 && ((score_before < policy_.campaign_block_score &&
                                                  CampaignScore(*g) >= policy_.campaign_block_score) ||
                                                 CrossesBlockSize(size_before, infra_before, *g));
      if (joined.empty() || crossed) {
        OnConfirmed(root, now, refresh);
      } else {
        RefreshMembers(root, joined, now, refresh);
      }
    }
  }
}

void Correlator::RecordMatchEdges(const AccountState& a, uint32_t root) {
  // The members the account shares values with (the index's last
  // kMaxMembers suspicious users of each), at most kMaxMatchPeers of them,
  // in index order: the links that hold are recorded. None may hold -- the
  // account joined on the campaign's values as a whole -- and then it has
  // no link inside the cluster and stays with its core when it is split.
  constexpr size_t kMaxMatchPeers = 32;
  std::vector<uint32_t> peers;
  for (size_t k = 0; k < kIndicatorKinds && peers.size() < kMaxMatchPeers; ++k) {
    for (size_t idx = 0; idx < a.indicator_count[k] && peers.size() < kMaxMatchPeers; ++idx) {
      const IndicatorStats* s = index_.Find(a.indicators[k][idx]);
      if (s == nullptr) continue;
      for (size_t mi = 0; mi < s->nmembers && peers.size() < kMaxMatchPeers; ++mi) {
        const uint32_t m = s->members[mi];
        if (m == a.index || std::find(peers.begin(), peers.end(), m) != peers.end()) continue;
        if (campaigns_.Find(m) == root) peers.push_back(m);
      }
    }
  }
  std::sort(peers.begin(), peers.end());
  for (const uint32_t m : peers) {
    double score = 0;
    ReasonMask reasons = 0;
    bool paid = false;
    if (EdgeHolds(a, accounts_[m], &score, &reasons, &paid)) graph_.Add(a.index, m, static_cast<float>(score), reasons, paid);
  }
}

std::optional<ValueEvidence> Correlator::RequestValueEvidence(IndicatorKind kind, uint64_t key) const {
  const IndicatorStats* s = index_.Find(key);
  if (s == nullptr || s->campaign_hint == 0 || s->Purity() < policy_.min_indicator_purity) return std::nullopt;
  const uint32_t root = campaigns_.Root(s->campaign_hint - 1);
  const CampaignAggregate* g = campaigns_.Aggregate(root);
  if (g == nullptr || g->confirmed_seq == 0) return std::nullopt;
  const auto k = static_cast<size_t>(kind);
  // Prompt content counts towards a campaign by the share of the value's
  // last suspicious users (the index's ring) that are the campaign's: a
  // template or task shape that many lone suspicious accounts repeat too --
  // scripters running data sets through a public template -- is public
  // among harvesters, not the campaign's (issue #15). Infrastructure,
  // client and timing values are weighed by their base rate instead
  // (IndicatorStats::Rarity).
  double share = 1.0;
  if (IsContent(kind)) {
    int in_campaign = 0;
    for (size_t m = 0; m < s->nmembers; ++m) in_campaign += campaigns_.Root(s->members[m]) == root ? 1 : 0;
    share = (in_campaign + 1.0) / (s->nmembers + 1.0);
  }
  return ValueEvidence{kind, root, share * Evidence(*s, k, policy_.links[k], index_.Population())};
}

void Correlator::AddCampaignEvidence(const AccountState& a, size_t kind, uint64_t key, CampaignScores* scores) const {
  std::optional<ValueEvidence> v = RequestValueEvidence(static_cast<IndicatorKind>(kind), key);
  if (!v) return;
  if (kind == static_cast<size_t>(IndicatorKind::kIpPrefix)) {
    // An account is tied to a campaign through an address block by the
    // share of the block's other suspicious users (its ring) that use the
    // block as it does. The ring, not the campaign's members in it: the
    // value's campaign may since have split from the accounts that gave it.
    // - One that works from the block, by those that still hold it: a
    //   campaign on rotating residential exits passes through thousands of
    //   /24s once or twice each and moves on, and a person who lives on one
    //   of them -- a heavy scripter at home -- is not its member for that
    //   (issue #15). A hydra's own blocks, used by its heads all day, count
    //   in full. A ring member counts as having passed through when it has
    //   given the block's slot up: its use counter can wear down while it
    //   still works from the block now and then (Misra-Gries), so heads
    //   that mix rotating exits into their own block's traffic stay its
    //   tenants. For an account at home (AtHome) a ring member that only
    //   made a stop there (StopsBy) is no tenant either: a rotating head's
    //   session in a person's /24 does not make it the person's place.
    // - One that passed by or made a stop there (StopsBy), by those that
    //   did the same: a head passing through as the campaign's heads did
    //   counts in full; a stranger whose exit fell once into an office or a
    //   person's home block -- its tenants at home there -- does not join
    //   their cluster for it (TryLink reads the pair the same way:
    //   StopInHome).
    const bool stop = StopsBy(a, key);
    const bool home = !stop && AtHome(a);
    const IndicatorStats* s = index_.Find(key);
    int others = 0, alike = 0;
    for (size_t m = 0; m < s->nmembers; ++m) {
      if (s->members[m] == a.index) continue;
      ++others;
      const AccountState& o = accounts_[s->members[m]];
      const bool o_stops = StopsBy(o, key);
      alike += (stop ? o_stops : HoldsCard(o, key) && !(home && o_stops)) ? 1 : 0;
    }
    if (others > 0) v->evidence *= static_cast<double>(alike) / others;
  }
  auto it = std::find_if(scores->begin(), scores->end(), [&](const auto& p) { return p.root == v->root; });
  if (it == scores->end()) {
    scores->push_back({v->root, {}, 0, 0});
    it = scores->end() - 1;
  }
  it->per_kind[kind] = std::max(it->per_kind[kind], v->evidence);
  if (const IndicatorStats* s = index_.Find(key); s != nullptr && PrivateIdentity(*s, kind)) it->identity_private = true;
  if (kind == static_cast<size_t>(IndicatorKind::kIpPrefix) && v->evidence > 0) {
    it->blocks += v->evidence;
    ++it->nblocks;
  }
}

bool Correlator::MatchCampaign(AccountState& a, TimeMs now, RefreshFn refresh) {
  // Per candidate campaign root: best weight per kind.
  CampaignScores scores;
  for (size_t k = 0; k < kIndicatorKinds; ++k) {
    // An organisation's members share its id for their own reasons: only a
    // member that harvests on its own evidence joins the org's campaign
    // (a colleague asking ordinary questions does not).
    if (k == static_cast<size_t>(IndicatorKind::kOrg) && (!a.suspicious || a.infra_only || a.org_verified == 1)) {
      continue;
    }
    // The minutes of the hour say "one scheduler" only when seen in several
    // hours: a batch run inside one hour of the day (a person's script at
    // 15:00) is concentrated in a bin or two by construction, and joining a
    // campaign on that is a coincidence of one in a few dozen values. The
    // hours that hold most of the activity, so a few requests by hand at
    // other times do not make a batch a schedule.
    if (k == static_cast<size_t>(IndicatorKind::kSchedule) && a.indicator_count[k] > 0 &&
        a.HoursHoldingActivity() < kScheduleMinHours) {
      continue;
    }
    for (size_t idx = 0; idx < a.indicator_count[k]; ++idx) AddCampaignEvidence(a, k, a.indicators[k][idx], &scores);
  }
  uint32_t best_root = 0;
  ReasonMask best_reasons = 0;
  double best = 0;
  bool best_infra = false;
  const Network network = NetworkOf(a);
  const bool open = !scores.empty() && OpenCustomer(a);
  // The payment rule below: one of the account's cards is used by at least
  // two other suspicious accounts and is mostly theirs -- counted without
  // the account itself, whose own suspicion is the other half of the
  // evidence (a stolen card's holder is one account, not three).
  bool card_mostly_others = false;
  if (a.suspicious && !a.infra_only) {
    constexpr size_t kp = static_cast<size_t>(IndicatorKind::kPayment);
    for (size_t idx = 0; idx < a.indicator_count[kp] && !card_mostly_others; ++idx) {
      const IndicatorStats* s = index_.Find(a.indicators[kp][idx]);
      if (s == nullptr || s->suspicious < 3) continue;
      IndicatorStats others = *s;
      --others.suspicious;
      --others.accounts;
      card_mostly_others = others.Purity() >= 0.5;
    }
  }
  for (const auto& [root, per_kind, blocks, nblocks, identity_private] : scores) {
    // Content and configuration bring in an account of unknown standing --
    // not one that works from a network of its own (NetworkOf).
    // Nor into a campaign of accounts that each work from a network of
    // their own: a small organisation's cluster (see OwnNetworkCampaign).
    // And only one that is a candidate on its own evidence now
    // (MayLinkOnContent reads AccountState::harvesting): a system prompt, a client
    // string and sampling settings are all the client writes, and a
    // campaign that copies a popular app's pulled the app's users (of
    // unknown age in a gateway's log) in at their 2nd and 4th requests,
    // before any evidence of their own existed (holdout seed 14, gateway
    // fields: two app builders blocked with no harvest of their own). A new
    // head of the campaign joins once its own requests make it suspicious;
    // one that never does -- plain tasks, or reasoning diluted to about a
    // quarter of its requests, which leaves it a bot by automation alone
    // (infra_only: infrastructure links only) -- is not linked without
    // infrastructure: a known gap (docs/THREAT_MODEL.md), the price of not
    // framing the app's users.
    bool has_infra = false, paid = false;
    double total = CombineKinds(per_kind, &has_infra, &paid, identity_private);
    // Every address the account holds is one of the campaign's blocks, and
    // there are at least kSummedBlocks of them: the blocks' evidence adds
    // (up to a link), for a candidate on its own evidence. One block in
    // common is a coincidence a cloud region or an ISP's pool makes every
    // day, which is why a block alone is less than a link; a hydra's heads
    // on three datacenter /24s that show no harvest content of their own
    // joined their blocked campaign late or never (holdout, gateway
    // fields). Two blocks are not enough (a student on a campus's two NATs,
    // a scripter with servers in two cloud /24s a hydra rents), nor several
    // when the account also works from a block of its own (a mobile user's
    // home): review of be96684, docs/THREAT_MODEL.md. Only the link total
    // gains: whether the block is infrastructure evidence (KindHolds,
    // PaidEvidence) is still read on the best block alone.
    constexpr size_t kb = static_cast<size_t>(IndicatorKind::kIpPrefix);
    if (a.suspicious && nblocks >= kSummedBlocks && nblocks == a.indicator_count[kb] && blocks > per_kind[kb]) {
      total += std::min(blocks, policy_.link_threshold) - per_kind[kb];
    }
    // A sign-up hour, or a mail domain private to suspicious accounts
    // (PrivateIdentity), in common is infrastructure only for an account
    // that harvests on its own evidence: one that does not
    // yet -- a hobbyist at its second request, on the system prompt
    // thousands use, signed up in the hour a hydra's heads were made (holdout
    // seed 18, full fields) -- is brought in by a card or an address block.
    if (has_infra && !a.harvesting && !PaidEvidence(per_kind)) has_infra = false;
    const bool may_tie = a.MayLinkOnContent() || (a.networks.Rotating() && a.harvesting && !a.infra_only && RotatorsCampaign(root));
    if (!has_infra && !(may_tie && network == Network::kNone && !OwnNetworkCampaign(root))) continue;
    // A campaign of accounts on rotating exits is tied by that beside what
    // they share (shared_rotation): content and client values -- a public
    // JSON-reasoning prompt, the popular SDK -- that its members share with
    // heavy scripters at home do not bring those in (holdout seeds 15 and
    // 16: three heavy scripters). An account that rotates too, or one on
    // its card or block, still joins.
    if (!has_infra && !a.networks.Rotating() && RotatorsCampaign(root)) continue;
    // Nor an account at home before the campaign's rotation shows.
    if (!has_infra && AtHome(a) && MoversCampaign(root)) continue;
    if (!has_infra && ConfiguredAtHome(a) && !AsksAlike(per_kind)) continue;
    // Nor into a customer in the open (OpenCustomer of any of its members:
    // its group, or its first two on the card), nor a customer in the
    // open's account into anything, but on the card or address block:
    // looking like a lab's accounts does not make an account one of them
    // -- nor the lab part of a hydra next door. Its card does not carry it
    // to a colleague in a cluster with others either (TryLink): the
    // re-examination gives the colleague back.
    if (open) {
      if (!PaidEvidence(per_kind) || (KeyEvidence(per_kind) && OutsideCard(root, CustomerKey(a)))) continue;
    } else if (const CampaignAggregate* g = campaigns_.Aggregate(root);
               !PaidEvidence(per_kind) && !g->members.empty() && OpenCustomer(accounts_[g->members.front()])) {
      continue;
    }
    // A payment instrument that is mostly the campaign's, used by an account
    // that harvests on its own evidence: two independent pieces of evidence,
    // enough to join -- however old the account (a bought or aged account put
    // on the hydra's card, issue #16). Cards are personal: strangers do not
    // share one with a campaign by chance, and the family members who do are
    // not suspicious.
    if (card_mostly_others && per_kind[static_cast<size_t>(IndicatorKind::kPayment)] >= 0.5 * policy_.links[static_cast<size_t>(IndicatorKind::kPayment)]) {
      total = std::max(total, policy_.link_threshold);
    }
    // As between two accounts (LinkScore): an account on rotating exits
    // beside a campaign of rotators, with a value that is half a link.
    total += JointRotation(total, a.networks.Rotating() && RotatorsCampaign(root));
    if (total > best || (total == best && root < best_root)) {
      best = total;
      best_root = root;
      best_infra = paid;
      best_reasons = 0;
      for (size_t k = 0; k < kIndicatorKinds; ++k) {
        if (per_kind[k] > 0.1) best_reasons |= Bit(LinkReason(static_cast<IndicatorKind>(k)));
      }
    }
  }
  if (best < policy_.link_threshold) return false;
  // An established account with benign behaviour is not pulled in by
  // shared infrastructure alone. A candidate on harvest content without
  // automation (infra_only, ScoreAccount) has a low own score by
  // construction and is not benign: infrastructure is what it links by.
  if (a.n > static_cast<uint32_t>(3 * policy_.min_interactions) && a.own_score < 0.6 * policy_.suspicious_score &&
      !a.infra_only) {
    return false;
  }
  const double score_before = CampaignScore(*campaigns_.Aggregate(best_root));
  const size_t size_before = campaigns_.Aggregate(best_root)->members.size();
  const bool infra_before = campaigns_.Aggregate(best_root)->infra_linked;
  const uint32_t root = campaigns_.Union(best_root, a.index, 0, std::max<double>(a.own_score, policy_.suspicious_score));
  a.reasons |= Bit(Reason::kCampaignIndicatorMatch);
  a.link_reasons |= best_reasons;
  campaigns_.Aggregate(root)->link_reasons |= best_reasons;
  campaigns_.Aggregate(root)->infra_linked = campaigns_.Aggregate(root)->infra_linked || best_infra;
  if (!a.suspicious) MarkSuspicious(a);
  RecordMatchEdges(a, root);
  if ((score_before < policy_.campaign_block_score && CampaignScore(*campaigns_.Aggregate(root)) >= policy_.campaign_block_score) ||
      CrossesBlockSize(size_before, infra_before, *campaigns_.Aggregate(root))) {
    OnConfirmed(root, now, refresh);
  } else {
    RefreshMembers(root, {a.index}, now, refresh);
  }
  return true;
}

uint64_t Correlator::PaymentRequestKey(const std::string& payment) {
  return payment.empty() ? 0 : IndicatorIndex::Key(IndicatorKind::kPayment, Hash64(payment));
}

uint64_t Correlator::AddressRequestKey(const std::string& ip) {
  if (ip.empty()) return 0;
  const uint64_t p = IpPrefixKey(ip, nullptr);
  return p == 0 ? 0 : IndicatorIndex::Key(IndicatorKind::kIpPrefix, p);
}

CombinedRequestEvidence CombineRequestEvidence(std::span<const ValueEvidence> values) {
  CombinedRequestEvidence out;
  for (size_t i = 0; i < values.size(); ++i) {
    const uint32_t root = values[i].root;
    bool first = true;  // each campaign once, at its first value
    for (size_t j = 0; j < i && first; ++j) first = values[j].root != root;
    if (!first) continue;
    std::array<double, kIndicatorKinds> per_kind{};
    for (size_t j = i; j < values.size(); ++j) {
      if (values[j].root != root) continue;
      const auto k = static_cast<size_t>(values[j].kind);
      per_kind[k] = std::max(per_kind[k], values[j].evidence);
    }
    double total = 0;
    ReasonMask reasons = 0;
    for (size_t k = 0; k < kIndicatorKinds; ++k) {
      total += per_kind[k];
      if (per_kind[k] > 0) reasons |= Bit(LinkReason(static_cast<IndicatorKind>(k)));
    }
    if (total > out.total || (total == out.total && total > 0 && root < out.root)) out = {root, total, reasons};
  }
  return out;
}

Correlator::RequestMatch Correlator::MatchRequest(const std::string& payment, const std::string& ip) const {
  RequestMatch out;
  if (campaigns_.confirmed() == 0) return out;
  std::array<ValueEvidence, 2> values{};
  size_t n = 0;
  if (const uint64_t key = PaymentRequestKey(payment)) {
    if (auto v = RequestValueEvidence(IndicatorKind::kPayment, key)) values[n++] = *v;
  }
  if (const uint64_t key = AddressRequestKey(ip)) {
    if (auto v = RequestValueEvidence(IndicatorKind::kIpPrefix, key)) values[n++] = *v;
  }
  const CombinedRequestEvidence c = CombineRequestEvidence(std::span(values.data(), n));
  if (c.total > 0) {
    out.campaign = campaigns_.Aggregate(c.root);
    out.total = c.total;
    out.reasons = c.reasons;
  }
  return out;
}

void Correlator::ForEachRequestValue(absl::FunctionRef<void(uint64_t key, const ValueEvidence&)> fn) const {
  if (campaigns_.confirmed() == 0) return;
  // The whole index, not the members' slots: a value a member has since
  // evicted from its slots (a proxy's rotating /24s) still points to its
  // campaign, and MatchRequest still counts it.
  constexpr auto kPayment = static_cast<uint8_t>(IndicatorKind::kPayment);
  constexpr auto kIp = static_cast<uint8_t>(IndicatorKind::kIpPrefix);
  index_.ForEach([&](uint64_t key, const IndicatorStats& s) {
    if (s.campaign_hint == 0 || (s.kind != kPayment && s.kind != kIp)) return;
    if (const auto v = RequestValueEvidence(static_cast<IndicatorKind>(s.kind), key)) fn(key, *v);
  });
}

void Correlator::SplitClusters(TimeMs now, RefreshFn refresh) {
  const auto min_core = static_cast<size_t>(policy_.campaign_min_accounts);
  std::vector<uint32_t> roots;
  for (const auto& [root, g] : campaigns_.aggregates()) {
    if (g.members.size() >= min_core) roots.push_back(root);
  }
  std::sort(roots.begin(), roots.end());
  for (const uint32_t root : roots) {
    const CampaignAggregate* g = campaigns_.Aggregate(root);
    if (g == nullptr) continue;
    const std::vector<uint32_t> members = g->members;  // in the cluster's order
    const size_t n = members.size();
    absl::flat_hash_map<uint32_t, uint32_t> local;
    local.reserve(n);
    for (size_t i = 0; i < n; ++i) local.emplace(members[i], static_cast<uint32_t>(i));
    // Each recorded link between two members, once, in sorted order.
    std::vector<std::pair<uint32_t, uint32_t>> pairs;
    for (const uint32_t m : members) {
      const LinkGraph::Edges* es = graph_.Find(m);
      if (es == nullptr) continue;
      for (size_t e = 0; e < es->n; ++e) {
        const uint32_t o = es->e[e].other;
        if (local.contains(o)) pairs.emplace_back(std::min(m, o), std::max(m, o));
      }
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
    if (pairs.empty()) continue;
    // Parts: connected by the links that hold today (iterative union-find
    // over the cluster's members).
    std::vector<uint32_t> up(n);
    for (size_t i = 0; i < n; ++i) up[i] = static_cast<uint32_t>(i);
    const auto find = [&](uint32_t x) {
      while (up[x] != x) x = up[x] = up[up[x]];
      return x;
    };
    std::vector<uint8_t> linked(n, 0);  // has a recorded link inside the cluster
    std::vector<ReasonMask> part_reasons(n, 0);
    std::vector<uint8_t> part_paid(n, 0);
    struct Held {
      uint32_t x, y;  // local indices
      ReasonMask reasons;
      bool paid, infra;
    };
    std::vector<Held> held;
    std::vector<GraphEdge> ends;  // the same links, weighted, for the cut rules
    for (const auto& [x, y] : pairs) {
      double score = 0;
      ReasonMask reasons = 0;
      bool paid = false, infra = false;
      const bool holds = EdgeHolds(accounts_[x], accounts_[y], &score, &reasons, &paid, &infra);
      graph_.Update(x, y, static_cast<float>(score), reasons, paid);
      const uint32_t lx = local[x], ly = local[y];
      linked[lx] = linked[ly] = 1;
      if (holds) {
        held.push_back({lx, ly, reasons, paid, infra});
        ends.push_back({lx, ly, infra, static_cast<float>(score)});
      }
    }
    // Each side must block on its own whatever ties it: twice the block
    // size, what a group tied by content alone needs where ages are
    // unknown (BlockMinAccounts).
    const auto min_side = 2 * static_cast<uint32_t>(policy_.campaign_block_min_accounts);
    std::vector<uint8_t> cut = SelfStandingBridges(n, ends, min_side);
    // Two or more stray links between such groups are no bridge: cut the
    // content-only ones that no third account corroborates as well.
    const std::vector<uint8_t> weak = UncorroboratedTies(n, ends, min_side);
    // Many links between groups that are each far denser inside: two
    // operations that adopted the same public template or client, touching
    // in tens of pairs among thousands (issue #15: split where the links
    // between parts are only weak or popular values).
    const std::vector<uint8_t> sparse = SparseCommunityCuts(n, ends, min_side, kSparseTieRatio);
    for (size_t e = 0; e < cut.size(); ++e) cut[e] = static_cast<uint8_t>(cut[e] | weak[e] | sparse[e]);
    // Each rule keeps its own sides whole; together they can still leave a
    // small part (an account with a strong uncorroborated link into one
    // community and weaker corroborated ones into another loses both). A
    // part of one leaves the campaign; and a part of a blocking campaign
    // whose score, on its own members, is under the block line would stop
    // blocking (review of 1ee214b: a team of 10-15 at suspicious_score
    // scores 0.67-0.70 -- teams on rare values of their own, tied to each
    // other by public values only, would each have escaped). Their cut
    // links hold.
    // Scores as they are now (the aggregate's score_sum holds them as they
    // were when each member joined; Reexamine refreshes it after the split).
    std::vector<double> node_score(n);
    double score_sum = 0;
    for (size_t i = 0; i < n; ++i) {
      node_score[i] = std::max<double>(accounts_[members[i]].own_score, policy_.suspicious_score);
      score_sum += node_score[i];
    }
    const bool blocking =
        CampaignScoreOf(score_sum / static_cast<double>(n), static_cast<double>(n)) >= policy_.campaign_block_score;
    HoldParts(
        n, ends, node_score,
        [&](size_t size, double sum) {
          const double m = static_cast<double>(size);
          return size >= min_side && (!blocking || CampaignScoreOf(sum / m, m) >= policy_.campaign_block_score);
        },
        cut);
    for (size_t e = 0; e < held.size(); ++e) {
      if (cut[e]) continue;
      const auto [lx, ly, reasons, paid, infra] = held[e];
      uint32_t rx = find(lx), ry = find(ly);
      if (rx != ry) {
        if (ry < rx) std::swap(rx, ry);
        up[ry] = rx;
        part_reasons[rx] |= part_reasons[ry];
        part_paid[rx] |= part_paid[ry];
      }
      part_reasons[rx] |= reasons;
      part_paid[rx] |= paid ? 1 : 0;
    }
    // Group members by part (unlinked members: no part of their own yet).
    absl::flat_hash_map<uint32_t, size_t> part_of;  // union-find root -> part number
    std::vector<std::vector<uint32_t>> parts;
    std::vector<uint32_t> part_root;
    for (size_t i = 0; i < n; ++i) {
      if (!linked[i]) continue;
      const uint32_t r = find(static_cast<uint32_t>(i));
      const auto [it, added] = part_of.emplace(r, parts.size());
      if (added) {
        parts.emplace_back();
        part_root.push_back(r);
      }
      parts[it->second].push_back(members[i]);
    }
    if (parts.size() < 2) continue;
    // The core: the largest part; ties to the one holding the lowest account.
    size_t core = 0;
    for (size_t p = 1; p < parts.size(); ++p) {
      const auto low = [](const std::vector<uint32_t>& v) { return *std::min_element(v.begin(), v.end()); };
      if (parts[p].size() > parts[core].size() || (parts[p].size() == parts[core].size() && low(parts[p]) < low(parts[core]))) {
        core = p;
      }
    }
    // A core smaller than a campaign leaves the cluster whole -- unless a
    // part is a customer in the open's first accounts: the cluster of two
    // labs' first two researchers each, tied on a benchmark before either
    // lab's card showed a team, is two pairs (each then joins its lab on
    // the card).
    const bool open_part = std::any_of(parts.begin(), parts.end(), [&](const auto& p) { return OnOpenCard(accounts_[p[0]]); });
    if (parts[core].size() < (open_part ? 2 : min_core)) continue;
    // Core first, members without a link inside the cluster with it, in the
    // cluster's order; then the other parts by their lowest member.
    std::vector<std::vector<uint32_t>> split;
    std::vector<ReasonMask> split_reasons;
    std::vector<uint8_t> split_paid;
    split.emplace_back();
    split_reasons.push_back(part_reasons[part_root[core]]);
    split_paid.push_back(part_paid[part_root[core]]);
    for (size_t i = 0; i < n; ++i) {
      if (!linked[i] || find(static_cast<uint32_t>(i)) == part_root[core]) split[0].push_back(members[i]);
    }
    std::vector<size_t> others;
    for (size_t p = 0; p < parts.size(); ++p) {
      if (p != core) others.push_back(p);
    }
    std::sort(others.begin(), others.end(), [&](size_t x, size_t y) {
      return *std::min_element(parts[x].begin(), parts[x].end()) < *std::min_element(parts[y].begin(), parts[y].end());
    });
    for (const size_t p : others) {
      std::sort(parts[p].begin(), parts[p].end());
      split.push_back(parts[p]);
      split_reasons.push_back(part_reasons[part_root[p]]);
      split_paid.push_back(part_paid[part_root[p]]);
    }
    // Volume is shared out by the members' interactions.
    std::vector<double> weight(split.size(), 0);
    double total = 0;
    for (size_t p = 0; p < split.size(); ++p) {
      for (const uint32_t m : split[p]) weight[p] += accounts_[m].n;
      total += weight[p];
    }
    for (double& w : weight) w = total > 0 ? w / total : 0;
    const bool had_unlinked = split[0].size() > parts[core].size();
    const ReasonMask core_reasons_before = g->link_reasons;
    const bool core_infra_before = g->infra_linked;
    const std::vector<uint32_t> new_roots = campaigns_.Split(root, split, weight);
    for (size_t p = 0; p < split.size(); ++p) {
      CampaignAggregate* pg = campaigns_.Aggregate(new_roots[p]);
      if (pg == nullptr) continue;
      pg->score_sum = 0;
      pg->first_seen = pg->last_seen = -1;
      for (const uint32_t m : split[p]) {
        const AccountState& b = accounts_[m];
        pg->score_sum += std::max<double>(b.own_score, policy_.suspicious_score);
        if (pg->first_seen < 0 || b.first_ts < pg->first_seen) pg->first_seen = b.first_ts;
        pg->last_seen = std::max(pg->last_seen, b.last_ts);
      }
      // Link reasons and infrastructure from the links that hold; the core
      // keeps its own as well when members joined it on its values as a
      // whole (no link of theirs is recorded).
      pg->link_reasons = split_reasons[p] | (p == 0 && had_unlinked ? core_reasons_before : 0);
      pg->infra_linked = split_paid[p] != 0 || (p == 0 && had_unlinked && core_infra_before);
      if (p != 0) campaigns_.MaybeConfirm(new_roots[p], CampaignMinAccounts(*pg), now);
    }
    // Refreshed last to first, so that the hints of values the core shares
    // with a part that broke off point to the core.
    for (size_t p = split.size(); p-- > 0;) RefreshMembers(new_roots[p], split[p], now, refresh);
  }
}

void Correlator::Reexamine(TimeMs now, RefreshFn refresh) {
  SplitClusters(now, refresh);
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
  for (const uint32_t root : crossed) OnConfirmed(root, now, refresh);
}

}  // namespace dg
