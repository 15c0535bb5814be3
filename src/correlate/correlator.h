// Correlator: the coordination stage. From each account's values to the
// campaigns that tie accounts together.
//
//   Record        the account's indicator values (payment, IP prefix,
//                 repeated templates and frames, toolset, client settings,
//                 creation wave, e-mail domain, schedule) into its slots and
//                 the IndicatorIndex
//   Mark*         the account's lifecycle as its values see it: suspicious
//                 (a link candidate), cleared (observed long enough without
//                 turning suspicious), veteran (cleared and clean for weeks:
//                 its values are used in the open)
//   TryLink       a suspicious account against the other suspicious
//                 accounts on its pure values; links merge clusters
//                 (CampaignSet) and confirm campaigns
//   MatchCampaign an account's values against confirmed campaigns' pure
//                 values (a new account of a known campaign joins at once)
//   MatchRequest  the same for a request not yet seen (Check)
//   shared        indicators imported from other providers (STIX)
//
// Whenever a link or a match changes an account's campaign, the caller's
// `refresh` is called with that account (in a fixed order) so the decide
// stage can re-decide it; the correlator never decides a verdict itself.
//
//   Reexamine     once a day: clusters split where the links between their
//                 parts no longer hold (SplitClusters), campaign scores
//                 recomputed
//
// Cost: O(values) per Record; TryLink examines <= kMaxMembers candidates per
// pure value, when an account turns suspicious and every 16 interactions or
// new value after. Memory: IndicatorIndex (~150 B per value, capped),
// CampaignSet (4 B per account + one aggregate per linked cluster),
// LinkGraph (<= 8 edges, ~200 B, per linked account), ~60 B per imported
// indicator.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/functional/function_ref.h>

#include "account/account_table.h"
#include "content/analyzer.h"
#include "correlate/campaigns.h"
#include "correlate/indicator_index.h"
#include "correlate/link_graph.h"
#include "correlate/shared_indicators.h"
#include "ingest/interaction.h"
#include "policy/policy.h"

namespace dg {

// An address in 16 bytes; an IPv4 address (also one written as IPv4-mapped
// IPv6, ::ffff:a.b.c.d) in the first 4 with v4 set.
struct IpAddress {
  std::array<unsigned char, 16> bytes{};
  bool v4 = false;
};
bool ParseAddress(std::string_view text, IpAddress* out);
// Key of an address's block: /24 for IPv4 (IPv4-mapped IPv6 included), /48
// for IPv6; 0 if unparsable, loopback or unspecified. *display gets
// "a.b.c.0/24" when not null.
uint64_t IpPrefixKey(const std::string& ip, std::string* display);
// Key of an address's network, wider than its block: /16 for IPv4, /32 for
// IPv6 (an ISP's allocation); 0 if unparsable, loopback or unspecified.
// What AccountState::networks counts. One parse, O(1).
uint32_t NetworkKey(std::string_view ip);

// What an analyst sees of a prompt-content indicator (system prompt,
// template, frame) when samples are off: "fingerprint <16 hex digits>", the
// indicator's key -- stable for the same input, and no prompt text.
inline constexpr std::string_view kFingerprintPrefix = "fingerprint ";
std::string IndicatorFingerprint(uint64_t key);

// The redacted text one interaction gave to the analyst view: the shown
// value of a content indicator (system prompt, or prompt template / frame)
// and a campaign sample. The text of an event is gone once it has been
// analysed, so a replay of text-free records (serve's log) cannot rebuild
// these: serve keeps what an event gave, next to the event, and hands it
// back when the event is replayed.
enum class TextUse : uint8_t { kSystemDisplay = 0, kPromptDisplay = 1, kSample = 2 };
inline constexpr size_t kTextUses = 3;
struct EventTexts {
  std::array<std::string, kTextUses> text;  // by TextUse, redacted
  // Live (replay false): out -- bit u set when text[u] was built and used.
  // Replay (true): in -- text[u] stands for the event's text (empty: none);
  // the event's own text fields are not read.
  uint8_t used = 0;
  bool replay = false;
};

struct CorrelatorOptions {
  // Redacted prompt samples for campaigns and redacted prompt text as the
  // displayed value of content indicators. Off (--no-samples): no prompt
  // text at all -- no samples (restored ones ignored), content indicators
  // shown by IndicatorFingerprint.
  bool keep_samples = true;
  size_t max_indicator_values = 16u << 20;
};

// One value of a request -- a payment fingerprint or an address block -- as
// evidence for the confirmed campaign it is pure to: a term of
// Correlator::MatchRequest.
struct ValueEvidence {
  IndicatorKind kind = IndicatorKind::kPayment;  // kPayment or kIpPrefix
  uint32_t root = 0;                             // the campaign's cluster root
  double evidence = 0;
};

// MatchRequest's sum over a request's values: per campaign the strongest
// value of each kind, added (both kinds are infrastructure, which
// CombineKinds adds); the campaign with the most, the lower root on a tie.
// `total` 0: no campaign. O(values²), values <= a handful.
struct CombinedRequestEvidence {
  uint32_t root = 0;
  double total = 0;
  ReasonMask reasons = 0;  // Reason bits of the kinds that matched
};
CombinedRequestEvidence CombineRequestEvidence(std::span<const ValueEvidence> values);

class Correlator {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  // Called with an account whose campaign standing changed, and the time
  // of the change, so that its verdict is re-decided.
  using RefreshFn = absl::FunctionRef<void(AccountState&, TimeMs)>;

  Correlator(const Policy& policy, AccountTable& accounts, CorrelatorOptions options);
  const Policy& policy() const { return policy_; }
  Correlator(const Correlator&) = delete;
  Correlator& operator=(const Correlator&) = delete;

  // A slot was (re)assigned to a new account.
  void OnNewAccount(const AccountTable::Slot& slot, size_t slots);
  // Records the interaction's indicator values; true if the account gained one.
  bool Record(AccountState& a, const Interaction& in, const EventFeatures& f);
  void MarkSuspicious(AccountState& a);
  void MarkCleared(AccountState& a);
  void MarkVeteran(AccountState& a);
  // Keeps the count of cleared accounts that rotate their exits (the base
  // rate RotationRarity reads) in step with the account. O(1); call after
  // every observation's lifecycle step.
  void NoteRotation(AccountState& a);
  // How rare rotating exits are among cleared accounts, in (0, 1]: halves
  // when 2% of them rotate (IndicatorStats::kPopularShare), as a value's
  // Rarity does. O(1).
  double RotationRarity() const;
  // What joint rotation adds to `shared` (what two sides share, in link
  // weight) when both sides rotate their exits: links.rotation times
  // RotationRarity, and only beside at least half a link -- never a link
  // alone. Between two accounts (LinkScore) and between an account and a
  // campaign of rotators (MatchCampaign). O(1).
  double JointRotation(double shared, bool both_rotate) const;
  // Whether shared content and client configuration may tie a and b:
  // both candidates on their own evidence (AccountState::harvesting, not
  // automation alone) and each not known to be established -- or both on
  // rotating exits (NetworkLog::Rotating), whose paper age is no history.
  // O(1).
  static bool ContentMayTie(const AccountState& a, const AccountState& b);
  // Whether the cluster at root is one of accounts on rotating exits: more
  // than half of its first 16 members rotate. Content and client values
  // bring into it only accounts that rotate too (MatchCampaign). O(16).
  bool RotatorsCampaign(uint32_t root) const;
  // The same read early (NetworkLog::Moving): more than half of its first
  // 16 members have begun to move from network to network. O(16).
  bool MoversCampaign(uint32_t root) const;
  // An account at home -- one network, never changed, over kHomeUses
  // requests or more -- beside an account that moves from network to
  // network or is in a cluster of such (MoversCampaign): content and client
  // values alone do not tie the two (TryLink, MatchCampaign; EdgeHolds
  // reads the pair only). A crew on rotating exits that copies a person's
  // public prompt and client cannot pull the person in before its own
  // rotation shows. O(16).
  bool HomeBesideMovers(const AccountState& home, const AccountState& other);
  static bool AtHome(const AccountState& a);
  // Whether more than half of the first 16 members of the cluster at root
  // move as `moves` says (RotatorsCampaign, MoversCampaign). O(16).
  bool MostFirstMembers(uint32_t root, bool (NetworkLog::*moves)() const) const;
  // Whether an account may be forgotten: not in any cluster.
  bool Unlinked(uint32_t account);

  void TryLink(AccountState& a, TimeMs now, RefreshFn refresh);
  bool MatchCampaign(AccountState& a, TimeMs now, RefreshFn refresh);
  // Once a day of stream time: clusters are re-examined and split where
  // their parts are held together only by links that no longer hold
  // (SplitClusters); then every campaign's score is recomputed from its
  // members' current evidence (scores given at linking go stale as accounts
  // keep sending); members of campaigns that now block are refreshed.
  void Reexamine(TimeMs now, RefreshFn refresh);
  // Every cluster of campaign_min_accounts or more, in order of its root:
  // each recorded link between two members (LinkGraph) is re-evaluated
  // against the index as it is now (EdgeHolds: a value that has since
  // turned public or impure weighs less); the members fall into the
  // connected parts of the links that still hold. A member with no
  // recorded link inside the cluster (it joined on the campaign's values as
  // a whole) stays with the core. The largest part (ties: the one holding
  // the lowest account index) is the core and keeps the campaign id; if it
  // has fewer than campaign_min_accounts members nothing is split (no core
  // survives to say which part is the campaign). Every other part of two or
  // more becomes a cluster of its own and is confirmed when it qualifies;
  // a part of one leaves. Members of every part are refreshed (hints and
  // verdicts); a member already blocked stays blocked -- blocks are sticky,
  // and the links that merged it were true when it was blocked -- but is no
  // longer shown as a member. Cost: O(members x LinkGraph::kMaxEdges)
  // LinkScore evaluations per day; no recursion; deterministic.
  void SplitClusters(TimeMs now, RefreshFn refresh);
  // Campaign volume, models, days and samples.
  void NoteActivity(AccountState& a, const Interaction& in, const EventFeatures& f);

  // The confirmed campaign an account belongs to, or null (Find compresses
  // paths; the Const form is for readers under a shared lock).
  const CampaignAggregate* ConfirmedCampaign(uint32_t account);
  const CampaignAggregate* ConfirmedCampaignConst(uint32_t account) const;
  double CampaignScore(const CampaignAggregate& g) const;
  // A campaign's score from its members' mean score (each at least
  // suspicious_score) and its size: the mean plus 0.05 per doubling.
  static double CampaignScoreOf(double mean, double members);
  // Members a confirmed campaign needs before it blocks them:
  // policy.campaign_block_min_accounts, doubled when no link in it rests on
  // infrastructure (payment, address block, creation burst, e-mail domain)
  // and most of its first 16 members are of unknown age (a gateway's log):
  // a group held together only by public content and a popular client's
  // settings is what independent teams share, and without sign-up times
  // nothing says its accounts are new. With sign-up times, content links
  // only young or repurposed accounts (MayLinkOnContent) and the size
  // stays. Past the campaign's own size for one customer in the open
  // (OneCustomer): one_customer_max_accounts + 1. O(16 + members × 8).
  size_t BlockMinAccounts(const CampaignAggregate& g) const { return BlockMinAccounts(g.infra_linked, g); }
  // How many of the campaign's members are not of the account's own org,
  // counting up to `enough`: a member of a verified org is blocked with
  // its campaign only when that many others are not its colleagues (the
  // org was verified after the campaign formed). O(members) at worst.
  size_t MembersOutsideOrg(const CampaignAggregate& g, const AccountState& a, size_t enough) const;
  // Members' tokens that answered deterministic requests their customer had
  // sent before (AccountState::repeat_tokens), over all their tokens: an
  // evaluation group re-running its items, whose member on its first pass is
  // judged with the group. 0 for a campaign of more than kMeasuredMembers
  // (a group that size is no lab; and the sum stays O(64)).
  // `blocked`, when given: how many members are blocked.
  static constexpr size_t kMeasuredMembers = 64;
  double CampaignRepeatShare(const CampaignAggregate& g, size_t* blocked = nullptr) const;
  // Whether the campaign's members are measuring the model rather than
  // harvesting it (policy.evaluation_repeat_share): the account's own share
  // or its campaign's. O(kMeasuredMembers).
  bool Measuring(const CampaignAggregate& g, const AccountState& a) const;
  size_t BlockMinAccounts(bool infra_linked, const CampaignAggregate& g) const;
  // Whether the campaign is one customer in the open: from
  // policy.campaign_min_accounts to policy.one_customer_max_accounts
  // members (to kPacedCustomerMaxAccounts at a person's pace: PersonsPace),
  // every one paying with the same one card and nothing else (a quarter
  // may pay with a card of their own instead, from the group's blocks only),
  // declaring one organisation or none, and their addresses within two
  // address blocks (an office, a VPN) but for at most a quarter of the
  // members (at least one: a researcher travelling) -- a lab's or a team's
  // accounts on the org's card and network. Such a group
  // is judged as one customer: membership does not block it
  // (BlockMinAccounts is past its size; its own evidence still can), and a
  // new account on its values is challenged at the gateway. In a log with
  // no card at all (a gateway's, no account table) a group is one only as
  // a closed office: every suspicious account on its main blocks is a
  // member (a hydra's proxy block holds more heads than that, or other
  // clusters' heads). Where the log has cards, a group without a common
  // one is none. A hydra hides many
  // customers; an operator that puts every account of a cell on one card
  // and one network can be stopped by that card. Another card's team on
  // its blocks makes it none (OtherTeamOnBlocks). OneCustomerMembers' and
  // OtherTeamOnBlocks' cost.
  bool OneCustomer(const CampaignAggregate& g) const;
  // Whether the campaign grew after `t` by at least as many members, first
  // seen after it, as it has members blocked now: an office taking on
  // people, not a cell cut down to size (LiftOneCustomerBlock). A member
  // counts when it harvests on its own evidence, made kJoinerMinInteractions
  // requests and was active on two days; two or more joiners must have
  // been first seen more than a day apart. O(members).
  bool GrewSince(const CampaignAggregate& g, TimeMs t) const;
  static constexpr uint32_t kJoinerMinInteractions = 20;
  // A customer in the open past one_customer_max_accounts: a company's
  // staff on its corporate card and office, every seat at a person's pace
  // (PersonsPace). Up to this many members (OneCustomer's arrays are sized
  // for it, on the stack).
  static constexpr size_t kPacedCustomerMaxAccounts = 64;
  // Harvest requests per active day a person keeps under: office staff who
  // ask for reasoning in 80% of their requests stayed under 3 (holdout
  // seed 32's stress variant, p99 3.5); heads that harvest take 20-50, a
  // low-and-slow operator's 2-6 per head over hundreds of heads.
  static constexpr uint32_t kPersonHarvestPerDay = 10;
  // Whether every account in `members` made fewer than
  // kPersonHarvestPerDay harvest requests per active day: so many seats
  // on one card and office yield no more a day than one_customer_max_accounts
  // seats of a lab at its pace, which OneCustomer already lets through to
  // review. O(members).
  bool PersonsPace(std::span<const uint32_t> members) const;
  // One account: under kPersonHarvestPerDay harvest requests per active day
  // over its life, and in its sliding window (one to two days). O(1).
  static bool AtPersonsPace(const AccountState& a);
  // Whether the group's own address blocks (each used by a quarter of its
  // members, two at least) have fewer than campaign_min_accounts
  // suspicious users who are not members (read from the index's counts: a
  // group past 16 fills the blocks' rings itself). O(blocks × members).
  bool BlocksHeldByMembers(std::span<const uint32_t> members) const;
  // Calls fn(block) once for each distinct address block that at least
  // `min_holders` of the members hold, until fn returns true; true if it
  // did, or if the members hold more distinct blocks than
  // (kPacedCustomerMaxAccounts + 1) accounts' slots (no group that spread
  // is one customer). O(blocks²) comparisons, on the stack.
  template <class Fn>
  bool AnyGroupBlock(std::span<const uint32_t> members, size_t min_holders, Fn&& fn) const;
  // Whether the account pays with one card whose suspicious holders -- at
  // least campaign_min_accounts of them, at most one_customer_max_accounts
  // of them, whatever cluster each is in -- pass OneCustomer's rule
  // (a hydra head's card touched by a few decoys is not a team's: they are
  // not suspicious). The account counts as one of them whether or not it
  // is suspicious yet: the lab's third researcher is judged with the
  // first two before it is judged at all. OtherTeamOnBlocks closes it.
  // Cluster-free, so that EdgeHolds can tell a lab's account in a cluster
  // it was merged into. OpenCardGroup's and OtherTeamOnBlocks' cost.
  bool OnOpenCard(const AccountState& a) const;
  // The value a customer in the open is known by: the account's one card
  // (exactly one, no overflow); in a log that has carried no card at all,
  // the address block it used most (its office); else 0. "Card" in the
  // rules of a customer in the open means this key. O(6).
  uint64_t CustomerKey(const AccountState& a) const;
  // Whether another card's team (OpenCardGroup), or more than 8 cards with
  // a team's number of suspicious holders, work from the blocks of
  // `members` (who pay with `card`): then they are no customer in the open.
  // Reads the blocks' rings of suspicious holders only, each block once.
  // O(distinct blocks × 16) lookups plus up to 8 OpenCardGroup.
  bool OtherTeamOnBlocks(std::span<const uint32_t> members, uint64_t card) const;
  // A card's suspicious holders (and `with`, if given, as one of them).
  struct CardGroup {
    std::array<uint32_t, kMaxMembers + 1> members{};
    size_t n = 0;
  };
  // Whether the card's group is a campaign's minimum or more, of at most
  // one_customer_max_accounts suspicious holders, and passes OneCustomerMembers.
  // OneCustomerMembers' cost, no allocation.
  bool OpenCardGroup(uint64_t card, const AccountState* with, CardGroup* group) const;
  // OneCustomer's rule on a list of accounts: one card every member pays
  // with (a quarter may pay with another as well, or with one of their own
  // instead when they work from the group's main blocks only), one
  // declared org or none, addresses within two blocks but for a quarter of
  // them. At most kPacedCustomerMaxAccounts + 1 members (else false);
  // O(members² × 36) block comparisons in the worst case (~150k at 65),
  // on the stack (~6 KB).
  // `card_out`, if given, gets the group's card.
  bool OneCustomerMembers(std::span<const uint32_t> members, uint64_t* card_out = nullptr) const;
  // Whether the account pays with `card` (among its cards), or works from
  // it when it is an office block (CustomerKey). O(12).
  static bool HoldsCard(const AccountState& a, uint64_t card);
  // Whether the account used the address block at most twice while
  // working as much from elsewhere, or no longer holds it: a passer-by there,
  // not a tenant (a newcomer with a request or two, all from the block,
  // is not a passer-by). O(6).
  static bool PassesBy(const AccountState& a, uint64_t block);
  // PassesBy, or the account rotates its exits (NetworkLog::Rotating, with
  // at most 16 requests per change of network over its life) and sent at
  // most a session (16 requests) and a quarter of its requests from the
  // block: a stranger an office does not count among its block's tenants.
  // A campaign match reads it the other way: such a stop is a pass
  // through, as the campaign's own heads made there, and counts by the
  // share of the block's users that passed through too (AddCampaignEvidence).
  // O(6).
  static bool StopsBy(const AccountState& a, uint64_t block);
  // A suspicious account that no longer harvests on its own evidence
  // (AccountState::harvesting, as of its last request) and is in no
  // cluster: a student on the campus network whose first requests looked
  // like a template run. The office check does not count it among its
  // block's tenants: an operator's heads that harvest, or are tied to
  // anyone, still count, and one that does neither takes nothing to hide
  // behind the office (a candidate on harvest content without automation,
  // infra_only, is not harvesting by its score: it counts as a bystander
  // here until it is tied -- a review finding, not changed: tried together
  // with a sticky change of use for that candidacy, the pair put eleven
  // legitimate accounts of holdout seed 18 and six of seed 19 into
  // campaigns). O(1) amortised (a cluster lookup).
  bool Bystander(const AccountState& a) const;
  // Whether the cluster at root holds an account not paying with card.
  // O(members), stopping at the first.
  bool OutsideCard(uint32_t root, uint64_t card) const;
  // Whether the per-kind evidence of a link holds kind k with at least
  // half its kind's weight (what counts as that kind shared). O(1).
  bool KindHolds(const std::array<double, kIndicatorKinds>& per_kind, size_t k) const;
  // Whether the per-kind evidence of a link holds a shared card with at
  // least half its kind's weight. O(1).
  bool CardEvidence(const std::array<double, kIndicatorKinds>& per_kind) const;
  // Whether the per-kind evidence of a link holds a shared address block
  // with at least half its kind's weight. O(1).
  bool BlockEvidence(const std::array<double, kIndicatorKinds>& per_kind) const;
  // The evidence of the value a customer in the open is known by
  // (CustomerKey): CardEvidence where the log has carried a card, else
  // BlockEvidence. O(1).
  bool KeyEvidence(const std::array<double, kIndicatorKinds>& per_kind) const;
  // CardEvidence or BlockEvidence: what the operator pays for. O(1).
  bool PaidEvidence(const std::array<double, kIndicatorKinds>& per_kind) const;
  // What ties a customer in the open (OneCustomer, OnOpenCard) to an
  // account outside it: a shared card, or a shared address block that both
  // work from (neither passes by it nor only stopped there). O(6 × 12).
  bool OpenTie(const AccountState& a, const AccountState& b, const std::array<double, kIndicatorKinds>& per_kind) const;
  // Whether the infrastructure a pair shares is only an address block one
  // of them passed by or made a stop in (no card, no other paid value, no
  // block both work from: !OpenTie), while one of them is at home (AtHome):
  // a residential or rotating exit that fell into a person's home /24 is
  // not a shared place, and the pair is judged as if it shared no
  // infrastructure (TryLink, EdgeHolds). O(6 × 12).
  bool StopInHome(const AccountState& a, const AccountState& b, const std::array<double, kIndicatorKinds>& per_kind,
                  bool identity_private = false) const;
  // Whether the account belongs to a customer in the open: its group (a
  // campaign's minimum or more) is OneCustomer, or, alone or in a pair on
  // its card only, OnOpenCard. Such an account is tied to accounts outside
  // its group only by its card or address block -- never by content,
  // client configuration, timing, a sign-up wave or a declared org
  // (TryLink, MatchCampaign, EdgeHolds): labs that run the same public
  // benchmark with the same SDK share those with each other and with
  // whoever copies them. The block ties it so that a hydra's cell on one
  // card behind the hydra's proxy block stays in its campaign (two card
  // teams on one block are no customers in the open at all: OnOpenCard).
  // `on_open_card`, when given, is OnOpenCard(a) already computed.
  // OneCustomer's cost for a group, OnOpenCard's for a single or a pair.
  bool OpenCustomer(const AccountState& a, const bool* on_open_card = nullptr) const;
  // The account's own coordination reasons: the links it was made or
  // matched on, and the kinds of which it holds a value that other
  // suspicious accounts share with evidence -- never its campaign's union.
  // O(indicator slots).
  ReasonMask OwnLinkReasons(const AccountState& a) const;

  // A request's payment and address block against confirmed campaigns.
  struct RequestMatch {
    const CampaignAggregate* campaign = nullptr;
    double total = 0;      // summed link evidence
    ReasonMask reasons = 0;  // Reason bits of the kinds that matched
  };
  RequestMatch MatchRequest(const std::string& payment, const std::string& ip) const;
  // The request keys MatchRequest looks up: a payment fingerprint's and an
  // address block's IndicatorIndex keys (0: the field is empty or the
  // address unusable). O(1).
  static uint64_t PaymentRequestKey(const std::string& payment);
  static uint64_t AddressRequestKey(const std::string& ip);
  // What one such value says for the confirmed campaign it is pure to
  // (MatchRequest's terms, CombineRequestEvidence sums them), or nullopt.
  // O(1).
  std::optional<ValueEvidence> RequestValueEvidence(IndicatorKind kind, uint64_t key) const;
  // Every payment and address-block value that RequestValueEvidence
  // answers for, once each: the table a cluster correlator publishes so
  // that decision nodes match new accounts as MatchRequest does
  // (docs/SCALE.md, dg_indicators). O(indicator index): a walk over every
  // value (~10 ns each), so callers space the calls out.
  void ForEachRequestValue(absl::FunctionRef<void(uint64_t key, const ValueEvidence&)> fn) const;

  // Indicators shared by another provider: kind + raw value (payment
  // fingerprint; a network "a.b.c.0/24" or an address, matched with its own
  // prefix length, IPv4-mapped IPv6 as IPv4, nothing wider than /16 or /32;
  // user agent). False for a value the engine cannot use. Matching costs
  // one lookup per distinct prefix length shared. The same value imported
  // again replaces its source and trust, except that a kReview import never
  // lowers a kBlock one (a second, less trusted feed cannot disarm the first;
  // remove it to lower it).
  // (SharedIndicators, correlate/shared_indicators.h.)
  bool AddShared(IndicatorKind kind, const std::string& value, const std::string& source, SharedTrust trust) {
    return shared_.Add(kind, value, source, trust);
  }
  // Forgets an imported indicator (the value as given to AddShared, or any
  // form with the same canonical value). False if it was not there.
  bool RemoveShared(IndicatorKind kind, const std::string& value) { return shared_.Remove(kind, value); }
  // The form a value is keyed by (SharedIndicators::Canonical).
  static std::optional<std::string> CanonicalShared(IndicatorKind kind, const std::string& value) {
    return SharedIndicators::Canonical(kind, value);
  }
  // The shared indicator this payment / address matches (a kBlock one when
  // both kinds match), or null.
  const SharedEntry* MatchesShared(const std::string& payment, const std::string& ip) const {
    return shared_.Match(payment, ip);
  }
  size_t shared_count() const { return shared_.size(); }

  // A sample stored by versions that kept samples per campaign (serve's
  // `samples` table): added to the campaign if it has fewer than 3.
  void RestoreSample(const std::string& campaign_id, const std::string& sample);
  // The texts of the interaction being recorded (Record and NoteActivity):
  // filled live, read on replay. Null: live, nothing kept.
  void set_event_texts(EventTexts* texts) { texts_ = texts; }

  const IndicatorIndex& index() const { return index_; }
  // Whether any record so far carried a payment fingerprint: until one
  // does, a group can be one customer by its office block. O(1).
  bool cards_seen() const { return cards_seen_; }
  const CampaignSet& campaigns() const { return campaigns_; }
  const LinkGraph& graph() const { return graph_; }
  CampaignSet& campaigns() { return campaigns_; }

 private:
  using DisplayFn = absl::FunctionRef<std::string()>;
  void AddIndicator(AccountState& a, IndicatorKind kind, uint64_t value, DisplayFn display);
  // Summed evidence of the values a and b share; *infra is set when one of
  // them is operator infrastructure rather than content or configuration.
  // *identity_private (optional): an identity value they share is private
  // to suspicious accounts (PrivateIdentity), and counted as infrastructure.
  double LinkScore(const AccountState& a, const AccountState& b, ReasonMask* reasons, bool* infra, bool* paid = nullptr,
                   std::array<double, kIndicatorKinds>* per_kind_out = nullptr, bool* identity_private = nullptr) const;
  // Whether a link between a and b holds on the index as it is now: their
  // LinkScore reaches policy.link_threshold (or they share a payment
  // instrument with at least half its kind's weight: cards are personal,
  // the rule MatchCampaign joins on), and a link without infrastructure
  // passes TryLink's guards (accounts that may link on content, acting in
  // lockstep, neither on a network of its own). *score, *reasons, *paid get
  // the link's figures either way.
  bool EdgeHolds(const AccountState& a, const AccountState& b, double* score, ReasonMask* reasons, bool* paid,
                 bool* infra = nullptr) const;
  // Per confirmed campaign (root), the best evidence per indicator kind,
  // and the address blocks' evidence summed (MatchCampaign adds it for an
  // account that works from kSummedBlocks or more of them and nothing else).
  // A block `a` works from (not PassesBy) counts by the share of the
  // block's other ring members that still hold it. O(16 × 6) for a block.
  // Address blocks that add up towards a campaign (MatchCampaign).
  static constexpr uint8_t kSummedBlocks = 3;
  struct CampaignEvidenceSum {
    uint32_t root;
    std::array<double, kIndicatorKinds> per_kind;  // the best value of each kind
    double blocks;                                 // address blocks: evidence summed over distinct blocks
    uint8_t nblocks;                               // ... and how many gave some
    bool identity_private = false;                 // an identity value in it is private (PrivateIdentity)
  };
  using CampaignScores = std::vector<CampaignEvidenceSum>;
  void AddCampaignEvidence(const AccountState& a, size_t kind, uint64_t key, CampaignScores* scores) const;
  // Sum of per-kind evidence, prompt-content kinds together capped at
  // policy.content_cap: two operators drawing on the same public prompt set
  // share content and nothing else.
  // *infra: an infrastructure kind carries at least half its weight (the
  // content-link guards do not apply); *paid (optional): one other than the
  // org id -- what the operator pays for (cards, address blocks, sign-up
  // waves, a mail domain private to suspicious accounts), which halves a
  // campaign's block size. A campaign
  // tied by an org id alone blocks from twice the size, as one tied by
  // content: a real lab or team may declare one unverified org.
  // An identity value (a mail domain: IndicatorClass::kIdentity) counts as
  // infrastructure only when `identity_private`.
  double CombineKinds(const std::array<double, kIndicatorKinds>& per_kind, bool* infra, bool* paid = nullptr,
                      bool identity_private = false) const;
  void OnConfirmed(uint32_t root, TimeMs now, RefreshFn refresh);
  // An account that joined the campaign of `root` on its values: its links
  // to the members it shares values with, where they hold, into graph_.
  void RecordMatchEdges(const AccountState& a, uint32_t root);
  // Campaign hints on the members' indicators, and the members refreshed.
  void RefreshMembers(uint32_t root, const std::vector<uint32_t>& members, TimeMs now, RefreshFn refresh);
  // Accounts a cluster needs to be confirmed: policy.campaign_min_accounts,
  // doubled when every member is a candidate linked by infrastructure only
  // (infra_only: by automation alone, or on harvest content without
  // automation) -- a group of such is confirmed from six, not three.
  size_t CampaignMinAccounts(const CampaignAggregate& g) const;
  // The account is in a confirmed campaign tied by paid infrastructure that
  // blocks on its own (big enough, and scoring over the block line).
  bool SelfStandingCampaign(uint32_t account) const;
  // Members of the cluster with this root (1 for an account in none).
  size_t ClusterSize(uint32_t root) const;
  // The account holds a recorded link (LinkGraph) to a member of the
  // cluster `root` other than `except`. O(LinkGraph::kMaxEdges).
  bool OtherLinkInto(uint32_t account, uint32_t root, uint32_t except) const;
  // A campaign grew to its block size (BlockMinAccounts, from its size and
  // link reasons before and after a merge): every member's verdict may change.
  bool CrossesBlockSize(size_t size_before, bool infra_before, const CampaignAggregate& after) const;
  // Whether the account works from a network of its own: every request
  // from one address block, over 20 requests and two days, that two to
  // campaign_block_min_accounts - 1 accounts use (kOwn) -- the office of a
  // lab or a small team; kPending until that is known; kNone for rotating
  // addresses, a shared network (NAT, a hydra's pool), an address no other
  // account uses (a person at home -- or a hydra's head with an address of
  // its own) or none in the log. An account on a network of its own is an organisation of its
  // own: content and client configuration (a public benchmark template, a
  // popular SDK) do not tie it to anyone, however alike it asks (issue #15:
  // five labs in gateway logs linked into one campaign); it links through
  // infrastructure only. While pending, content links wait. Only for
  // accounts of unknown age: with a sign-up time, youth decides instead.
  enum class Network : uint8_t { kNone, kPending, kOwn };
  Network NetworkOf(const AccountState& a) const;
  // Most of the campaign's first 16 members work from networks of their
  // own, or may yet (kOwn, kPending): shared content does not bring others
  // into it.
  bool OwnNetworkCampaign(uint32_t root) const;

  const Policy& policy_;
  AccountTable& accounts_;
  CorrelatorOptions options_;
  IndicatorIndex index_;
  CampaignSet campaigns_;
  LinkGraph graph_;  // the links between accounts, weighted (SplitClusters)
  SharedIndicators shared_;
  // Whether any record so far carried a payment fingerprint (its own, or
  // the account table's). Until one does, the log is a gateway's: a group
  // can be one customer by a closed office block instead of a card
  // (CustomerKey, OneCustomerMembers). Never reset; a snapshot stores it
  // (a card that came when the index was full is in no index entry).
  bool cards_seen_ = false;
  // The event's redacted text for `use` (from texts_ on replay; built from
  // `in` and noted in texts_ live).
  std::string EventText(TextUse use, const Interaction& in);
  EventTexts* texts_ = nullptr;
};

}  // namespace dg
