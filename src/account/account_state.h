// AccountState: everything the engine remembers about one account, in a
// fixed-size record (1,632 bytes, `sizeof(AccountState)`) no matter how many interactions it sends.
//
// Rate counters are kept twice: over the account's life and over a sliding
// window of the last one to two days (two day-long buckets, the older one
// dropped when a new day starts), so an account that changes behaviour --
// an aged or bought account that starts harvesting -- is judged on what it
// does now, not diluted by its past. The template and indicator sets keep
// at most kMaxValuesPerKind distinct values (a newcomer replaces a value
// used only once; the rest are counted), so a hostile account sending
// millions of distinct prompts or addresses cannot grow its state, nor pin
// its slots with one-off values sent first. Update cost: O(1) per interaction.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>

#include "content/analyzer.h"
#include "content/features.h"
#include "signals/signals.h"

namespace dg {

enum class Verdict : uint8_t { kAllow, kReview, kBlock };
std::string_view VerdictName(Verdict v);

inline constexpr size_t kMaxValuesPerKind = 6;
inline constexpr size_t kTopTemplates = 4;

// Counter of the 64-bit values an account repeats (system prompts, prompt
// clusters, frames, client configurations: 8 slots for all of them, up to
// six keys a request). A newcomer takes the least-used slot, the oldest
// among equals (round robin) -- but first a slot whose value went unused
// for kStaleSweeps sweeps, a sweep being every kSlots newcomers. Without
// that, values used many times at the start held seven slots for good and
// left the values the account went on to use to take the eighth from each
// other, so none of them was ever counted as repeated (issue #16): now a
// value holds its slot only while the account keeps using it, at least
// once in about kStaleSweeps * kSlots newcomers. A value seen once
// survives the next kSlots - 1 newcomers, and one-off values turn over in
// arrival order, as before. 104 bytes; O(kSlots) per call.
struct RepeatCounter {
  static constexpr size_t kSlots = 8;
  static constexpr uint32_t kStaleSweeps = 3;
  std::array<uint64_t, kSlots> key{};
  std::array<uint32_t, kSlots> count{};
  uint8_t next_ = 0;       // round-robin start among equally used slots
  uint8_t newcomers_ = 0;  // newcomers since the last sweep (< kSlots)
  uint16_t ages_ = 0;      // 2 bits per slot: sweeps since the value was last used (saturating at 3)
  uint8_t system_ = 0;     // bit per slot: the value is a system prompt
  uint8_t client_ = 0;     // bit per slot: the value is a client configuration
  // What a value is, for the counts below.
  enum class Kind : uint8_t { kContent, kSystemPrompt, kClient };
  uint32_t Age(size_t idx) const { return (ages_ >> (2 * idx)) & 3u; }
  // Returns the key's count after adding it.
  uint32_t Add(uint64_t k, Kind kind = Kind::kContent);
  uint32_t TopCount() const;
  // The largest count among the values that are not system prompts:
  // templates, frames, client configurations. An app sends its system
  // prompt with every request, and every user of the app (or every member
  // of an office on its internal one) repeats it; that is no template.
  uint32_t TopCountBesideSystemPrompts() const;
  // The largest count among prompt templates and frames only.
  uint32_t TopContentCount() const;
};

// The values whose one-off use this account counted as a passer-by's
// (IndicatorStats::passersby): at most kMax, each once. An ordinary customer
// passes by a few public templates; an account that passes by more distinct
// values is churning through them, and no more of its uses are counted. The
// log lets an account withdraw what it counted: a value it goes on to repeat
// at once, and everything when it turns suspicious (an aged account's first
// harvest requests must not make its own campaign's values look public).
// 56 bytes; O(kMax) per call.
struct PasserbyLog {
  static constexpr size_t kMax = 6;
  std::array<uint64_t, kMax> key{};
  uint8_t n = 0;
  uint8_t live = 0;  // bit per entry still counted in the index
  // True when this use is to be counted: a value not logged before, with room.
  bool Record(uint64_t k);
  // True when the value was counted and still is: the caller withdraws it.
  bool Withdraw(uint64_t k);
  template <typename Fn>
  void WithdrawAll(Fn&& fn) {
    for (size_t idx = 0; idx < n; ++idx) {
      if (live & (1u << idx)) fn(key[idx]);
    }
    live = 0;
  }
};

// Space-saving top-k counter for template clusters.
struct TopK {
  std::array<uint32_t, kTopTemplates> key{};
  std::array<uint32_t, kTopTemplates> count{};
  void Add(uint32_t k);
  uint32_t TopCount() const;
  uint32_t TopKey() const;
};

// The networks an account sends from (NetworkKey: IPv4 /16, IPv6 /32) and
// how it moves between them. A person moves between a few networks --
// home, office, a carrier's pool of egress addresses, a hotel now and then
// -- and comes back to them; an account behind a rotating residential
// proxy sends each session from a network it has not used before. Kept:
// kRing distinct networks (a newcomer takes the slot of one not returned
// to since the hand last passed it: CLOCK, so home is never pushed out by
// a trip), the latest one, and two counts: changes of network between
// consecutive requests, and of those, changes to a network not held (first
// visits). A return to a held network counts only when it opens a session
// (the engine's kSessionBreakMs since the account's previous request), so
// returns inside a session cannot dilute the first visits; both counts
// halve together at kHalveAt. A pool of up to kRing networks, cycled
// through, shows as returns, not first visits. 76 bytes; O(kRing) per
// change of network.
struct NetworkLog {
  static constexpr size_t kRing = 16;
  std::array<uint32_t, kRing> ring{};
  uint32_t last = 0;          // network of the latest request with an address (0: none yet)
  uint16_t changes = 0;       // moves to another network than the request before's (a return to a held one only when it opens a session)
  uint16_t first_visits = 0;  // of those, to a network not held (both halve together at kHalveAt)
  uint16_t used = 0;          // bit per slot: returned to since the hand last passed
  uint8_t next = 0;           // the CLOCK hand
  // Where moving reads as rotation at all (address_rotation starts there):
  // this many first visits, and this share of the changes of network.
  static constexpr uint16_t kRotatingFirstVisits = 8;
  static constexpr double kRotatingShare = 0.6;
  static constexpr uint16_t kHalveAt = 1024;
  // The request's network (NetworkKey; 0: none), and whether it opens a
  // session (a long enough gap since the account's previous request).
  void Note(uint32_t network, bool session_break);
  // Share of the changes of network that went somewhere new, in [0, 1].
  double FirstVisitShare() const { return changes == 0 ? 0.0 : static_cast<double>(first_visits) / changes; }
  // Whether the account moves like a rotating exit: each network a stop,
  // not a home.
  bool Rotating() const { return first_visits > kRotatingFirstVisits && FirstVisitShare() > kRotatingShare; }
  // Whether it has begun to move so: two first visits or more, most of its
  // moves somewhere new -- a rotating exit's first sessions, before
  // Rotating() can tell (a person's one trip away and back is not).
  bool Moving() const { return first_visits >= 2 && FirstVisitShare() > kRotatingShare; }
};

// Counts behind the rate-based evidence.
struct RateCounts {
  uint32_t n = 0;
  uint32_t cot = 0, recon = 0, rubric = 0, datagen = 0;
  uint32_t single_turn = 0, high_cap = 0;
  // Requests sending assistant turns while the account's responses are
  // logged (history), and of those, requests whose assistant turns were
  // none of them served to this account (unserved): a written history.
  uint32_t history = 0, unserved = 0;
  void Add(const RateCounts& o);
};

inline constexpr TimeMs kRateWindowMs = kMsPerDay;
inline constexpr size_t kMinuteBins = 6;  // 10-minute bins of the hour

// What the engine found of the latest assistant turn a request sends back.
struct HistoryCheck {
  bool checked = false;   // sent assistant turns, and this account's responses are logged
  bool unserved = false;  // none of them was served to this account
};

struct AccountState {
  std::string id;
  std::string org;
  int8_t org_verified = -1;  // -1 unknown, 0 declared but not verified, 1 verified (account enrichment)
  uint32_t index = 0;
  TimeMs first_ts = 0;
  TimeMs last_ts = 0;
  TimeMs created_at = -1;  // -1 unknown
  uint32_t n = 0;
  // rate counts: lifetime, and the current and previous day-long windows
  RateCounts life, window_cur, window_prev;
  TimeMs window_start = 0;
  uint32_t tools = 0;
  // Output + reasoning tokens served on requests this account had sent
  // before, unchanged, at temperature 0 (RepeatTable; saturating): answers
  // it already had. In the padding after `tools`.
  uint32_t repeat_tokens = 0;
  uint64_t input_tokens = 0, output_tokens = 0;  // where the log reports them
  uint64_t reasoning_tokens = 0;                 // extended thinking, where reported
  uint32_t harvest_n = 0;                        // requests carrying any harvest flag
  uint16_t days_active = 0;                      // distinct UTC days with activity (saturating)
  // Output + reasoning tokens on the newest active day (last_day) and on
  // the active day before it (saturating): what the account takes now, so
  // that a quiet past does not average a harvest away.
  uint32_t tokens_cur_day = 0, tokens_prev_day = 0;
  // Fingerprints (TurnFingerprint) of the last kServedRing responses served
  // to this account: a person continues a conversation from an answer it
  // got; a harvester that writes the history itself sends turns that are
  // not among them. Per account, so no other account's traffic can flush it.
  static constexpr size_t kServedRing = 8;
  std::array<uint64_t, kServedRing> served_fp{};
  uint8_t served_next = 0;
  std::array<uint32_t, kCapabilityCount> capability{};
  NetworkLog networks;
  TopK templates;
  TopK systems;
  // sampling settings: first seen and how often repeated
  uint64_t sampling_key = 0;
  uint32_t sampling_same = 0;
  // timing
  std::array<uint32_t, 24> hours{};
  std::array<uint32_t, kMinuteBins> minute_bins{};  // activity by 10 minutes of the hour
  double gap_sum = 0, gap_sq = 0;
  uint32_t gaps = 0;
  // Days of activity: bit (day % 64) for each of the last 64 days (UTC) on
  // which the account sent anything; last_day is the newest.
  uint64_t active_days = 0;
  int32_t last_day = 0;
  // indicators: first few values of each kind
  std::array<std::array<uint64_t, kMaxValuesPerKind>, kIndicatorKinds> indicators{};
  std::array<uint8_t, kIndicatorKinds> indicator_count{};
  std::array<uint32_t, kIndicatorKinds> indicator_overflow{};
  // Each slot's count (saturating): its uses, less one for every newcomer
  // that found the kind full and no count at zero (Misra-Gries; a lower
  // bound on the uses). A newcomer takes a slot worn down to zero, so a
  // value that makes up more than 1/kMaxValuesPerKind of the account's uses
  // of a kind is always held: neither values used a few times at the start
  // nor a flood of one-off values can keep it out (issue #16).
  std::array<std::array<uint8_t, kMaxValuesPerKind>, kIndicatorKinds> indicator_hits{};
  std::array<uint8_t, kIndicatorKinds> indicator_cursor{};  // where the next newcomer looks first (FIFO over worn-out slots)
  // decision state
  float own_score = 0;
  float score = 0;
  // log2 of its output + reasoning tokens per active day over the
  // population's 99th percentile (detect/token_baseline.h) when last
  // observed; <= 0 while below it or while the population is not known.
  float token_excess = 0;
  Verdict verdict = Verdict::kAllow;
  // Flags as bit-fields: the state stays within its documented size.
  bool suspicious : 1 = false;
  bool young : 1 = false;            // first used soon after creation (policy.young_account_days)
  bool changed : 1 = false;          // took up harvesting after a history without it (sticky; changed_hour)
  bool cleared : 1 = false;          // observed long enough without turning suspicious
  bool infra_only : 1 = false;  // candidate linked through infrastructure only: bot-like without harvest content, or (new or of unknown age) harvest content without automation
  bool shared_match : 1 = false;     // uses an indicator another provider shared (sticky)
  bool reviewable : 1 = false;       // was a candidate on its own content or youth (sticky)
  bool recent : 1 = false;           // active since the eviction sweep last passed (CLOCK bit)
  bool veteran : 1 = false;          // cleared and still clean after a week and 100 interactions
  bool shared_match_established : 1 = false;  // first matched an imported indicator when already established
  bool shared_match_review : 1 = false;       // matched only imported indicators of review trust (never blocks)
  bool responses_logged : 1 = false;          // the log has carried a response text for this account
  // A candidate on its own evidence as of its latest request: own score at
  // the suspicious bar, or young and automating. Not sticky (unlike
  // `suspicious`): content links read it, so that an account that was a
  // bot by automation alone for a while, or harvested once, is not tied on
  // what the client writes after it has stopped.
  bool harvesting : 1 = false;
  bool counted_rotating : 1 = false;  // cleared and Rotating: counted in IndicatorIndex::rotating_cleared
  // Harvested from its first observed use: a candidate on harvest content
  // with fewer than kMinHistory requests before its sliding window (the
  // last one to two days), so no history the platform saw to change from
  // (Engine::ObserveFeatures; sticky). A bought aged account that harvests
  // from its first request is then as unknown as one of unknown age.
  bool harvested_from_start : 1 = false;
  // Sticky review was lifted once (Engine: a week clean); the next time the
  // account reaches the bar its review stays.
  bool review_released : 1 = false;
  int8_t override_verdict = -1;      // a person's allow / block (Verdict), never changed by the engine
  RepeatCounter repeats;         // template / frame values this account repeats
  PasserbyLog passersby;         // values whose one-off use it counted as a passer-by's
  ReasonMask reasons = 0;          // bit per Reason (signals/signals.h)
  ReasonMask link_reasons = 0;     // Reason bits of this account's own links and campaign matches
  TimeMs flagged_at = -1;        // first block
  uint32_t n_at_flag = 0;
  // What the account had been served when first blocked (attacker yield).
  uint32_t harvest_at_flag = 0;
  uint64_t tokens_at_flag = 0;   // output + reasoning tokens
  uint32_t last_link_check = 0;
  // Hours since the epoch at which `changed` was first seen, or -1.
  int32_t changed_hour = -1;
  // A reviewable account's clean run: the hour since which its own score
  // has stayed under the suspicious bar, or -1, and its request count then
  // (Engine::ObserveFeatures lifts sticky review after a long enough run).
  int32_t clean_since_hour = -1;
  uint32_t n_at_clean = 0;

  // Not known to be an established customer: young, put to a new use, or
  // of unknown history (HistoryUnknown: a gateway's log has no sign-up
  // time). Shared content and client configuration link only such accounts.
  bool NotKnownEstablished() const { return young || changed || HistoryUnknown(); }
  // Nothing says how long the platform has known the account: no sign-up
  // time, or an old one that predates any use the platform saw (it
  // harvested from its first observed requests: harvested_from_start). A
  // recent sign-up does say something: the account is new.
  bool HistoryUnknown() const { return created_at < 0 || (harvested_from_start && !young); }
  // May be linked on shared content and client configuration alone: not
  // known to be established, and a candidate on its own evidence now (not
  // by automation alone).
  bool MayLinkOnContent() const { return NotKnownEstablished() && !infra_only && harvesting; }

  // Records one interaction's features. `history` says what the engine
  // found of the request's latest assistant turn (WasServed). O(1).
  void Observe(const EventFeatures& f, int64_t high_max_tokens, HistoryCheck history = {});
  bool WasServed(uint64_t fp) const {
    return fp != 0 && std::find(served_fp.begin(), served_fp.end(), fp) != served_fp.end();
  }
  void NoteServed(uint64_t fp) {
    served_fp[served_next] = fp;
    served_next = static_cast<uint8_t>((served_next + 1) % kServedRing);
  }
  // Output + reasoning tokens served so far.
  uint64_t TokensServed() const { return output_tokens + reasoning_tokens; }
  // What one interaction adds to TokensServed (output + reasoning tokens,
  // where the log reports them).
  static uint64_t TokensOf(const EventFeatures& f);
  // Share of the tokens served that were deterministic repeats, in [0, 1].
  double RepeatShare() const {
    const uint64_t t = TokensServed();
    return t == 0 ? 0.0 : std::min(1.0, static_cast<double>(repeat_tokens) / static_cast<double>(t));
  }
  // Records a use of the value: kKnown (already held), kAdded (a free slot),
  // kReplaced (took the slot of a value whose count wore down to zero;
  // *evicted gets that value), kOverflow (not held this time: every held
  // value wore down by one instead). O(kMaxValuesPerKind).
  enum class Slot : uint8_t { kKnown, kAdded, kReplaced, kOverflow };
  Slot AddIndicator(IndicatorKind kind, uint64_t value, uint64_t* evicted = nullptr);
  bool HasIndicator(IndicatorKind kind, uint64_t value) const;
  // The last one to two days of rate counts.
  RateCounts Recent() const;
  // Bit mask of the 10-minute bins of the hour that hold the account's
  // activity when it is concentrated (>= 80% in at most 3 bins after 20
  // interactions), else 0: scheduler-driven, synchronized traffic.
  uint32_t SynchronizedBins() const;
  // The fewest hours of the day (UTC, of 24) that hold 80% of the
  // account's activity: 1 for a batch run at 15:00 each day, whatever it
  // did by hand in other hours. O(24 log 24).
  size_t HoursHoldingActivity() const;
  // Jaccard similarity of two accounts' active days over the last 64 days
  // (0 when their newest days are 64 or more apart); *days gets the
  // number of days either was active.
  double ActiveDayOverlap(const AccountState& other, int* days) const;
};

// What the engine still knows of a suspicious account it had to forget to
// stay within max_accounts (it was outside any campaign): its verdict and the
// figures an analyst needs. ~110 bytes with its id, against ~1.68 KB.
struct AccountSummary {
  Verdict verdict = Verdict::kAllow;
  float score = 0;
  ReasonMask reasons = 0;
  uint32_t n = 0;
  TimeMs first_ts = 0, last_ts = 0, flagged_at = -1;
};

}  // namespace dg
