#include "engine/snapshot.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/byte_io.h"
#include "common/hash.h"

namespace dg {
namespace {

constexpr char kMagic[8] = {'D', 'G', 'S', 'N', 'A', 'P', 'v', '1'};

// --- writing -----------------------------------------------------------------

class Out {
 public:
  explicit Out(std::string* s) : w_(s) {}
  template <typename T>
  void Put(T v) {
    static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T>);
    w_.Put(v);
  }
  template <typename T, size_t N>
  void Arr(const std::array<T, N>& a) {
    for (const T& v : a) Put(v);
  }
  void Str(std::string_view s) { w_.Str(s); }
  void Tag(const char (&tag)[5]) {
    uint32_t t;
    std::memcpy(&t, tag, 4);
    Put(t);
  }
  void Count(size_t n) { Put<uint64_t>(n); }

 private:
  ByteWriter w_;
};

template <typename Map>
std::vector<typename Map::key_type> SortedKeys(const Map& m) {
  std::vector<typename Map::key_type> keys;
  keys.reserve(m.size());
  for (const auto& kv : m) keys.push_back(kv.first);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// --- reading -----------------------------------------------------------------

// A ByteReader that remembers the first failure: what was being read, in
// which section, at which byte of the payload.
class In {
 public:
  explicit In(std::string_view payload) : r_(payload) {}
  template <typename T>
  bool Get(T* v, const char* what) {
    if (!ok()) return false;
    if (!r_.Get(v)) return Fail(what, "ends early");
    return true;
  }
  template <typename T, size_t N>
  bool Arr(std::array<T, N>* a, const char* what) {
    for (T& v : *a) {
      if (!Get(&v, what)) return false;
    }
    return true;
  }
  // A bool is written as one byte, 0 or 1; any other byte is refused
  // (copying it into a bool would be undefined).
  bool Bool(bool* b, const char* what) {
    uint8_t v = 0;
    if (!Get(&v, what)) return false;
    if (v > 1) return Fail(what, "not 0 or 1");
    *b = v == 1;
    return true;
  }
  // Keys of a map are written in ascending order; a decoder that accepted
  // any order would accept two encodings of one state.
  template <typename K>
  bool Ascending(size_t i, const K& prev, const K& key, const char* what) {
    return i == 0 || prev < key || Fail(what, "out of order or repeated");
  }
  bool Str(std::string* s, const char* what) {
    if (!ok()) return false;
    if (!r_.Str(s)) return Fail(what, "string runs past the end");
    return true;
  }
  // An element count, refused unless that many elements of at least
  // min_bytes each fit in the bytes left: a corrupt length never makes the
  // loader allocate more than the snapshot's own size.
  bool Count(size_t* n, size_t min_bytes, const char* what) {
    uint64_t v = 0;
    if (!Get(&v, what)) return false;
    if (v > r_.remaining() / std::max<size_t>(min_bytes, 1)) {
      return Fail(what, fmt::format("count {} cannot fit in the {} bytes left", v, r_.remaining()));
    }
    *n = static_cast<size_t>(v);
    return true;
  }
  bool Tag(const char (&tag)[5]) {
    section_ = tag;
    uint32_t want, got = 0;
    std::memcpy(&want, tag, 4);
    if (!Get(&got, "section tag")) return false;
    if (got != want) return Fail("section tag", "not the expected section");
    return true;
  }
  // Checks a decoded value.
  bool Check(bool cond, const char* what, std::string_view why) {
    if (!ok()) return false;
    return cond || Fail(what, why);
  }
  bool Fail(const char* what, std::string_view why) {
    if (ok()) error_ = fmt::format("snapshot section {}, payload byte {}: {}: {}", section_, r_.pos(), what, why);
    return false;
  }
  bool ok() const { return error_.empty(); }
  bool done() const { return r_.done(); }
  const std::string& error() const { return error_; }

 private:
  ByteReader r_;
  std::string section_ = "header";
  std::string error_;
};

bool ValidVerdict(Verdict v) { return static_cast<uint8_t>(v) <= static_cast<uint8_t>(Verdict::kBlock); }

}  // namespace

// Every member of the engine and its stages, one encoder and one decoder per
// struct. A static_assert next to each pins the struct's size: add a field,
// and the build stops here until the field is saved and loaded.
struct SnapshotAccess {
  // --- policy and options (not saved, fingerprinted) -------------------------
  static_assert(sizeof(Policy) == 584, "Policy changed: update SnapshotConfigFingerprint");
  static_assert(sizeof(EngineOptions) == 40, "EngineOptions changed: update SnapshotConfigFingerprint");
  static uint64_t Fingerprint(const Policy& p, const EngineOptions& o) {
    std::string s;
    Out w(&s);
    w.Put(p.version);
    w.Put(p.review_only);
    w.Put(p.suspicious_score);
    w.Put(p.automation_score);
    w.Put(p.established_automation_score);
    w.Put(p.young_account_days);
    w.Put(p.review_score);
    w.Put(p.solo_block_score);
    w.Put(p.campaign_block_score);
    w.Put(p.min_interactions);
    w.Put(p.campaign_min_accounts);
    w.Put(p.campaign_block_min_accounts);
    w.Put(p.one_customer_max_accounts);
    w.Put(p.link_threshold);
    w.Put(p.min_indicator_purity);
    w.Put(p.high_max_tokens);
    w.Put(p.evaluation_repeat_share);
    w.Arr(p.weights);
    w.Arr(p.links);
    w.Put(p.content_cap);
    w.Put(p.onset);
    w.Put(p.rotation);
    for (const auto* set : {&p.allow_orgs, &p.allow_accounts}) {
      std::vector<std::string> sorted(set->begin(), set->end());
      std::sort(sorted.begin(), sorted.end());
      w.Count(sorted.size());
      for (const std::string& v : sorted) w.Str(v);
    }
    w.Put(o.keep_samples);
    w.Count(o.max_accounts);
    w.Count(o.max_summaries);
    w.Count(o.max_indicator_values);
    w.Count(o.max_template_clusters);
    return Hash64(s);
  }

  // --- account state ---------------------------------------------------------
  static_assert(sizeof(RateCounts) == 36, "RateCounts changed: update its snapshot encoder");
  static void Save(Out& w, const RateCounts& c) {
    w.Put(c.n);
    w.Put(c.cot);
    w.Put(c.recon);
    w.Put(c.rubric);
    w.Put(c.datagen);
    w.Put(c.single_turn);
    w.Put(c.high_cap);
    w.Put(c.history);
    w.Put(c.unserved);
  }
  static bool Load(In& r, RateCounts* c) {
    return r.Get(&c->n, "rate n") && r.Get(&c->cot, "rate cot") && r.Get(&c->recon, "rate recon") &&
           r.Get(&c->rubric, "rate rubric") && r.Get(&c->datagen, "rate datagen") &&
           r.Get(&c->single_turn, "rate single_turn") && r.Get(&c->high_cap, "rate high_cap") &&
           r.Get(&c->history, "rate history") && r.Get(&c->unserved, "rate unserved");
  }

  static_assert(sizeof(RepeatCounter) == 104, "RepeatCounter changed: update its snapshot encoder");
  static void Save(Out& w, const RepeatCounter& c) {
    w.Arr(c.key);
    w.Arr(c.count);
    w.Put(c.next_);
    w.Put(c.newcomers_);
    w.Put(c.ages_);
    w.Put(c.system_);
    w.Put(c.client_);
  }
  static bool Load(In& r, RepeatCounter* c) {
    return r.Arr(&c->key, "repeat keys") && r.Arr(&c->count, "repeat counts") && r.Get(&c->next_, "repeat cursor") &&
           r.Get(&c->newcomers_, "repeat newcomers") && r.Get(&c->ages_, "repeat ages") && r.Get(&c->system_, "repeat system prompts") &&
           r.Get(&c->client_, "repeat client configurations") &&
           r.Check(c->next_ < RepeatCounter::kSlots, "repeat cursor", "out of range") &&
           r.Check(c->newcomers_ < RepeatCounter::kSlots, "repeat newcomers", "out of range");
  }

  static_assert(sizeof(PasserbyLog) == 56, "PasserbyLog changed: update its snapshot encoder");
  static void Save(Out& w, const PasserbyLog& p) {
    w.Arr(p.key);
    w.Put(p.n);
    w.Put(p.live);
  }
  static bool Load(In& r, PasserbyLog* p) {
    return r.Arr(&p->key, "passer-by keys") && r.Get(&p->n, "passer-by count") && r.Get(&p->live, "passer-by live") &&
           r.Check(p->n <= PasserbyLog::kMax, "passer-by count", "over PasserbyLog::kMax");
  }

  static_assert(sizeof(TopK) == 32, "TopK changed: update its snapshot encoder");
  static void Save(Out& w, const TopK& t) {
    w.Arr(t.key);
    w.Arr(t.count);
  }
  static bool Load(In& r, TopK* t) { return r.Arr(&t->key, "top-k keys") && r.Arr(&t->count, "top-k counts"); }
  static void Save(Out& w, const NetworkLog& l) {
    w.Arr(l.ring);
    w.Put(l.last);
    w.Put(l.changes);
    w.Put(l.first_visits);
    w.Put(l.used);
    w.Put(l.next);
  }
  static bool Load(In& r, NetworkLog* l) {
    return r.Arr(&l->ring, "network ring") && r.Get(&l->last, "network last") && r.Get(&l->changes, "network changes") &&
           r.Get(&l->first_visits, "network first visits") && r.Get(&l->used, "network used") &&
           r.Get(&l->next, "network next") &&
           r.Check(l->next < NetworkLog::kRing, "network next", "out of range") &&
           r.Check(l->first_visits <= l->changes, "network first visits", "more than changes") &&
           r.Check(l->changes <= NetworkLog::kHalveAt, "network changes", "above the halving point");
  }

  static_assert(sizeof(AccountState) == 1632, "AccountState changed: update its snapshot encoder");
  static void Save(Out& w, const AccountState& a) {
    w.Str(a.id);
    w.Str(a.org);
    w.Put(a.org_verified);
    w.Put(a.index);
    w.Put(a.first_ts);
    w.Put(a.last_ts);
    w.Put(a.created_at);
    w.Put(a.n);
    Save(w, a.life);
    Save(w, a.window_cur);
    Save(w, a.window_prev);
    w.Put(a.window_start);
    w.Put(a.tools);
    w.Put(a.input_tokens);
    w.Put(a.output_tokens);
    w.Put(a.reasoning_tokens);
    w.Put(a.harvest_n);
    w.Put(a.days_active);
    w.Put(a.tokens_cur_day);
    w.Put(a.tokens_prev_day);
    w.Arr(a.served_fp);
    w.Put(a.served_next);
    w.Arr(a.capability);
    Save(w, a.networks);
    Save(w, a.templates);
    Save(w, a.systems);
    w.Put(a.sampling_key);
    w.Put(a.sampling_same);
    w.Arr(a.hours);
    w.Arr(a.minute_bins);
    w.Put(a.gap_sum);
    w.Put(a.gap_sq);
    w.Put(a.gaps);
    w.Put(a.active_days);
    w.Put(a.last_day);
    for (const auto& kind : a.indicators) w.Arr(kind);
    w.Arr(a.indicator_count);
    w.Arr(a.indicator_overflow);
    for (const auto& kind : a.indicator_hits) w.Arr(kind);
    w.Arr(a.indicator_cursor);
    w.Put(a.own_score);
    w.Put(a.score);
    w.Put(a.token_excess);
    w.Put(a.verdict);
    const uint32_t flags = (a.suspicious ? 1u : 0) | (a.young ? 2u : 0) | (a.changed ? 4u : 0) | (a.cleared ? 8u : 0) |
                           (a.infra_only ? 16u : 0) | (a.shared_match ? 32u : 0) | (a.reviewable ? 64u : 0) |
                           (a.recent ? 128u : 0) | (a.veteran ? 256u : 0) | (a.shared_match_established ? 512u : 0) |
                           (a.shared_match_review ? 1024u : 0) | (a.responses_logged ? 2048u : 0) |
                           (a.harvesting ? 4096u : 0) | (a.counted_rotating ? 8192u : 0) |
                           (a.harvested_from_start ? 16384u : 0) | (a.review_released ? 32768u : 0);
    w.Put(flags);
    w.Put(a.override_verdict);
    Save(w, a.repeats);
    Save(w, a.passersby);
    w.Put(a.reasons);
    w.Put(a.link_reasons);
    w.Put(a.flagged_at);
    w.Put(a.n_at_flag);
    w.Put(a.harvest_at_flag);
    w.Put(a.tokens_at_flag);
    w.Put(a.last_link_check);
    w.Put(a.changed_hour);
    w.Put(a.clean_since_hour);
    w.Put(a.n_at_clean);
    w.Put(a.repeat_tokens);  // in padding: not caught by the size check above
  }
  static bool Load(In& r, AccountState* a) {
    if (!(r.Str(&a->id, "account id") && r.Str(&a->org, "account org") && r.Get(&a->org_verified, "org_verified") &&
          r.Get(&a->index, "account index") && r.Get(&a->first_ts, "first_ts") && r.Get(&a->last_ts, "last_ts") &&
          r.Get(&a->created_at, "created_at") && r.Get(&a->n, "interactions") && Load(r, &a->life) &&
          Load(r, &a->window_cur) && Load(r, &a->window_prev) && r.Get(&a->window_start, "window_start") &&
          r.Get(&a->tools, "tools") && r.Get(&a->input_tokens, "input_tokens") &&
          r.Get(&a->output_tokens, "output_tokens") && r.Get(&a->reasoning_tokens, "reasoning_tokens") &&
          r.Get(&a->harvest_n, "harvest_n") && r.Get(&a->days_active, "days_active") &&
          r.Get(&a->tokens_cur_day, "tokens_cur_day") && r.Get(&a->tokens_prev_day, "tokens_prev_day") &&
          r.Arr(&a->served_fp, "served fingerprints") && r.Get(&a->served_next, "served cursor") &&
          r.Arr(&a->capability, "capability") && Load(r, &a->networks) && Load(r, &a->templates) && Load(r, &a->systems) &&
          r.Get(&a->sampling_key, "sampling_key") && r.Get(&a->sampling_same, "sampling_same") &&
          r.Arr(&a->hours, "hours") && r.Arr(&a->minute_bins, "minute bins") && r.Get(&a->gap_sum, "gap_sum") &&
          r.Get(&a->gap_sq, "gap_sq") && r.Get(&a->gaps, "gaps") && r.Get(&a->active_days, "active_days") &&
          r.Get(&a->last_day, "last_day"))) {
      return false;
    }
    for (auto& kind : a->indicators) {
      if (!r.Arr(&kind, "indicator values")) return false;
    }
    if (!(r.Arr(&a->indicator_count, "indicator counts") && r.Arr(&a->indicator_overflow, "indicator overflow"))) {
      return false;
    }
    for (auto& kind : a->indicator_hits) {
      if (!r.Arr(&kind, "indicator hits")) return false;
    }
    uint32_t flags = 0;
    if (!(r.Arr(&a->indicator_cursor, "indicator cursors") && r.Get(&a->own_score, "own_score") &&
          r.Get(&a->score, "score") && r.Get(&a->token_excess, "token_excess") && r.Get(&a->verdict, "verdict") &&
          r.Get(&flags, "flags") && r.Get(&a->override_verdict, "override") && Load(r, &a->repeats) &&
          Load(r, &a->passersby) && r.Get(&a->reasons, "reasons") && r.Get(&a->link_reasons, "link_reasons") &&
          r.Get(&a->flagged_at, "flagged_at") && r.Get(&a->n_at_flag, "n_at_flag") &&
          r.Get(&a->harvest_at_flag, "harvest_at_flag") && r.Get(&a->tokens_at_flag, "tokens_at_flag") &&
          r.Get(&a->last_link_check, "last_link_check") && r.Get(&a->changed_hour, "changed_hour") &&
          r.Get(&a->clean_since_hour, "clean_since_hour") && r.Get(&a->n_at_clean, "n_at_clean") &&
          r.Get(&a->repeat_tokens, "repeat_tokens"))) {
      return false;
    }
    a->suspicious = flags & 1u;
    a->young = flags & 2u;
    a->changed = flags & 4u;
    a->cleared = flags & 8u;
    a->infra_only = flags & 16u;
    a->shared_match = flags & 32u;
    a->reviewable = flags & 64u;
    a->recent = flags & 128u;
    a->veteran = flags & 256u;
    a->shared_match_established = flags & 512u;
    a->shared_match_review = flags & 1024u;
    a->responses_logged = flags & 2048u;
    a->harvesting = flags & 4096u;
    a->counted_rotating = flags & 8192u;
    a->harvested_from_start = flags & 16384u;
    a->review_released = flags & 32768u;
    bool counts_ok = true;
    for (size_t k = 0; k < kIndicatorKinds; ++k) {
      counts_ok = counts_ok && a->indicator_count[k] <= kMaxValuesPerKind && a->indicator_cursor[k] < kMaxValuesPerKind;
    }
    return r.Check(flags < 65536u, "flags", "unknown bits") &&
           r.Check(a->served_next < AccountState::kServedRing, "served cursor", "out of range") &&
           r.Check(a->clean_since_hour >= -1, "clean_since_hour", "negative") &&
           r.Check(a->n_at_clean <= a->n, "n_at_clean", "more than the account's interactions") &&
           r.Check(ValidVerdict(a->verdict), "verdict", "not a verdict") &&
           r.Check(a->override_verdict >= -1 && a->override_verdict <= static_cast<int8_t>(Verdict::kBlock), "override",
                   "not a verdict") &&
           r.Check(a->org_verified >= -1 && a->org_verified <= 1, "org_verified", "out of range") &&
           r.Check(counts_ok, "indicator counts", "over kMaxValuesPerKind");
  }

  static_assert(sizeof(AccountSummary) == 48, "AccountSummary changed: update its snapshot encoder");
  static void Save(Out& w, const AccountSummary& s) {
    w.Put(s.verdict);
    w.Put(s.score);
    w.Put(s.reasons);
    w.Put(s.n);
    w.Put(s.first_ts);
    w.Put(s.last_ts);
    w.Put(s.flagged_at);
  }
  static bool Load(In& r, AccountSummary* s) {
    return r.Get(&s->verdict, "summary verdict") && r.Get(&s->score, "summary score") &&
           r.Get(&s->reasons, "summary reasons") && r.Get(&s->n, "summary n") && r.Get(&s->first_ts, "summary first_ts") &&
           r.Get(&s->last_ts, "summary last_ts") && r.Get(&s->flagged_at, "summary flagged_at") &&
           r.Check(ValidVerdict(s->verdict), "summary verdict", "not a verdict");
  }

  static_assert(sizeof(VerdictRecord) == 88, "VerdictRecord changed: update its snapshot encoder");
  static void Save(Out& w, const VerdictRecord& v) {
    w.Put(v.at);
    w.Put(v.verdict);
    w.Put(v.score);
    w.Put(v.reasons);
    w.Arr(v.values);
  }
  static bool Load(In& r, VerdictRecord* v) {
    return r.Get(&v->at, "record time") && r.Get(&v->verdict, "record verdict") && r.Get(&v->score, "record score") &&
           r.Get(&v->reasons, "record reasons") && r.Arr(&v->values, "record values") &&
           r.Check(ValidVerdict(v->verdict), "record verdict", "not a verdict");
  }

  static_assert(sizeof(AccountTable) == 120, "AccountTable changed: update its snapshot encoder");
  static void Save(Out& w, const AccountTable& t) {
    w.Tag("ACCT");
    w.Count(t.accounts_.size());
    for (const AccountState& a : t.accounts_) Save(w, a);
    w.Count(t.free_slots_.size());
    for (const uint32_t idx : t.free_slots_) w.Put(idx);
    w.Count(t.clock_hand_);
    w.Count(t.sweep_again_at_);
    w.Put(t.evicted_);
  }
  static bool Load(In& r, AccountTable* t) {
    size_t n = 0;
    if (!(r.Tag("ACCT") && r.Count(&n, 8 + 400, "account slots"))) return false;
    t->accounts_.resize(n);
    t->ids_.reserve(n);
    size_t empty = 0;
    for (size_t idx = 0; idx < n; ++idx) {
      AccountState& a = t->accounts_[idx];
      if (!Load(r, &a)) return false;
      if (!r.Check(a.index == idx, "account index", "not its slot")) return false;
      if (a.id.empty()) {
        ++empty;
        continue;
      }
      if (!r.Check(t->ids_.emplace(a.id, static_cast<uint32_t>(idx)).second, "account id", "appears twice")) return false;
    }
    size_t nfree = 0;
    if (!r.Count(&nfree, 4, "free slots")) return false;
    std::vector<uint8_t> seen(n, 0);
    t->free_slots_.resize(nfree);
    for (uint32_t& idx : t->free_slots_) {
      if (!(r.Get(&idx, "free slot") && r.Check(idx < n && t->accounts_[idx].id.empty() && !seen[idx], "free slot",
                                                 "not an empty slot, or listed twice"))) {
        return false;
      }
      seen[idx] = 1;
    }
    uint64_t hand = 0, again = 0;
    if (!(r.Check(nfree == empty, "free slots", "do not match the empty slots") && r.Get(&hand, "clock hand") &&
          r.Get(&again, "sweep_again_at") && r.Get(&t->evicted_, "evicted") &&
          r.Check(hand <= n, "clock hand", "past the slots"))) {
      return false;
    }
    t->clock_hand_ = static_cast<size_t>(hand);
    t->sweep_again_at_ = static_cast<size_t>(again);
    return true;
  }

  // --- correlator ------------------------------------------------------------
  static_assert(sizeof(IndicatorStats) == 128, "IndicatorStats changed: update its snapshot encoder");
  static void Save(Out& w, const IndicatorStats& s) {
    w.Put(s.accounts);
    w.Put(s.suspicious);
    w.Put(s.cleared);
    w.Put(s.campaign_hint);
    w.Put(s.veterans);
    w.Put(s.passersby);
    w.Put(s.nmembers);
    w.Put(s.next_member);
    w.Put(s.kind);
    w.Arr(s.members);
    w.Str(s.display);
  }
  static bool Load(In& r, IndicatorStats* s, size_t slots) {
    if (!(r.Get(&s->accounts, "value accounts") && r.Get(&s->suspicious, "value suspicious") &&
          r.Get(&s->cleared, "value cleared") && r.Get(&s->campaign_hint, "campaign hint") &&
          r.Get(&s->veterans, "value veterans") && r.Get(&s->passersby, "value passers-by") &&
          r.Get(&s->nmembers, "value members") && r.Get(&s->next_member, "value member cursor") &&
          r.Get(&s->kind, "value kind") && r.Arr(&s->members, "value member list") && r.Str(&s->display, "value display"))) {
      return false;
    }
    bool members_ok = true;
    for (size_t mi = 0; mi < s->nmembers && mi < kMaxMembers; ++mi) members_ok = members_ok && s->members[mi] < slots;
    return r.Check(s->nmembers <= kMaxMembers && s->next_member < kMaxMembers, "value members", "over kMaxMembers") &&
           r.Check(members_ok, "value member list", "names an account slot that does not exist") &&
           r.Check(s->campaign_hint <= slots, "campaign hint", "names an account slot that does not exist") &&
           r.Check(s->kind < kIndicatorKinds || s->kind == IndicatorStats::kNoKind, "value kind", "not an indicator kind");
  }

  static_assert(sizeof(IndicatorIndex) == 72, "IndicatorIndex changed: update its snapshot encoder");
  static void Save(Out& w, const IndicatorIndex& x) {
    w.Tag("INDX");
    w.Put(x.dropped_);
    w.Put(x.cleared_accounts_);
    w.Put(x.rotating_cleared_);
    w.Count(x.values_.size());
    for (const uint64_t key : SortedKeys(x.values_)) {
      w.Put(key);
      Save(w, x.values_.at(key));
    }
  }
  static bool Load(In& r, IndicatorIndex* x, size_t slots) {
    size_t n = 0;
    if (!(r.Tag("INDX") && r.Get(&x->dropped_, "dropped values") && r.Get(&x->cleared_accounts_, "cleared accounts") &&
          r.Check(x->cleared_accounts_ >= 0, "cleared accounts", "is negative") &&
          r.Get(&x->rotating_cleared_, "rotating cleared accounts") &&
          r.Check(x->rotating_cleared_ >= 0, "rotating cleared accounts", "is negative") && r.Count(&n, 8 + 94, "indicator values"))) return false;
    x->values_.reserve(n);
    uint64_t prev = 0;
    for (size_t vi = 0; vi < n; ++vi) {
      uint64_t key = 0;
      IndicatorStats s;
      if (!(r.Get(&key, "value key") && r.Ascending(vi, prev, key, "value key") && Load(r, &s, slots))) return false;
      x->values_.emplace(key, std::move(s));
      prev = key;
    }
    return true;
  }

  static_assert(sizeof(CampaignAggregate) == 288, "CampaignAggregate changed: update its snapshot encoder");
  static void Save(Out& w, const CampaignAggregate& g) {
    w.Str(g.id);
    w.Put(g.confirmed_seq);
    w.Count(g.members.size());
    for (const uint32_t m : g.members) w.Put(m);
    w.Put(g.score_sum);
    w.Put(g.interactions);
    w.Put(g.first_seen);
    w.Put(g.last_seen);
    w.Put(g.confirmed_at);
    w.Count(g.per_day.size());
    for (const auto& [day, count] : g.per_day) {
      w.Put(day);
      w.Put(count);
    }
    w.Count(g.models.size());
    for (const auto& [model, count] : g.models) {
      w.Str(model);
      w.Put(count);
    }
    w.Count(g.day_models.size());
    for (const auto& [key, count] : g.day_models) {
      w.Put(key.first);
      w.Str(key.second);
      w.Put(count);
    }
    w.Count(g.samples.size());
    for (const std::string& s : g.samples) w.Str(s);
    w.Put(g.link_reasons);
    w.Put(g.infra_linked);
  }
  static bool Load(In& r, CampaignAggregate* g, size_t slots) {
    size_t n = 0;
    if (!(r.Str(&g->id, "campaign id") && r.Get(&g->confirmed_seq, "confirmation order") &&
          r.Count(&n, 4, "campaign members"))) {
      return false;
    }
    g->members.resize(n);
    for (uint32_t& m : g->members) {
      if (!(r.Get(&m, "campaign member") && r.Check(m < slots, "campaign member", "names an account slot that does not exist"))) {
        return false;
      }
    }
    if (!(r.Get(&g->score_sum, "score sum") && r.Get(&g->interactions, "campaign interactions") &&
          r.Get(&g->first_seen, "first_seen") && r.Get(&g->last_seen, "last_seen") &&
          r.Get(&g->confirmed_at, "confirmed_at") && r.Count(&n, 16, "campaign days"))) {
      return false;
    }
    for (size_t di = 0; di < n; ++di) {
      int64_t day = 0;
      uint64_t count = 0;
      if (!(r.Get(&day, "campaign day") && r.Get(&count, "campaign day count") &&
            r.Ascending(di, g->per_day.empty() ? day : g->per_day.rbegin()->first, day, "campaign day"))) {
        return false;
      }
      g->per_day.emplace_hint(g->per_day.end(), day, count);
    }
    if (!r.Count(&n, 12, "campaign models")) return false;
    for (size_t mi = 0; mi < n; ++mi) {
      std::string model;
      uint64_t count = 0;
      if (!(r.Str(&model, "campaign model") && r.Get(&count, "campaign model count") &&
            r.Ascending(mi, g->models.empty() ? model : g->models.rbegin()->first, model, "campaign model"))) {
        return false;
      }
      g->models.emplace_hint(g->models.end(), std::move(model), count);
    }
    if (!r.Count(&n, 20, "campaign day models")) return false;
    for (size_t mi = 0; mi < n; ++mi) {
      std::pair<int64_t, std::string> key;
      uint64_t count = 0;
      if (!(r.Get(&key.first, "day model day") && r.Str(&key.second, "day model") && r.Get(&count, "day model count") &&
            r.Ascending(mi, g->day_models.empty() ? key : g->day_models.rbegin()->first, key, "day model"))) {
        return false;
      }
      g->day_models.emplace_hint(g->day_models.end(), std::move(key), count);
    }
    if (!r.Count(&n, 4, "campaign samples")) return false;
    g->samples.resize(n);
    for (std::string& s : g->samples) {
      if (!r.Str(&s, "campaign sample")) return false;
    }
    return r.Get(&g->link_reasons, "campaign link reasons") && r.Bool(&g->infra_linked, "campaign infra_linked");
  }

  static_assert(sizeof(CampaignSet) == 72, "CampaignSet changed: update its snapshot encoder");
  static void Save(Out& w, const CampaignSet& c) {
    w.Tag("CAMP");
    w.Count(c.parent_.size());
    for (const uint32_t p : c.parent_) w.Put(p);
    w.Count(c.aggs_.size());
    for (const uint32_t root : SortedKeys(c.aggs_)) {
      w.Put(root);
      Save(w, c.aggs_.at(root));
    }
    w.Put(c.next_seq_);
  }
  static bool Load(In& r, CampaignSet* c, size_t slots) {
    size_t n = 0;
    if (!(r.Tag("CAMP") && r.Count(&n, 4, "campaign forest"))) return false;
    c->parent_.resize(n);
    for (uint32_t& p : c->parent_) {
      if (!(r.Get(&p, "forest parent") && r.Check(p < n, "forest parent", "out of range"))) return false;
    }
    // The forest must be acyclic: Find would otherwise never end. Each
    // walk stops at a node already known to reach a root (state 2).
    std::vector<uint8_t> state(n, 0);  // 0 unknown, 1 on the current walk, 2 reaches a root
    std::vector<uint32_t> walk;
    for (size_t start = 0; start < n; ++start) {
      walk.clear();
      uint32_t x = static_cast<uint32_t>(start);
      while (state[x] == 0) {
        state[x] = 1;
        walk.push_back(x);
        if (c->parent_[x] == x) break;
        x = c->parent_[x];
      }
      if (!r.Check(state[x] != 1 || c->parent_[x] == x, "campaign forest", "has a cycle")) return false;
      for (const uint32_t y : walk) state[y] = 2;
    }
    size_t naggs = 0;
    if (!r.Count(&naggs, 4 + 60, "campaign aggregates")) return false;
    c->aggs_.reserve(naggs);
    uint32_t prev = 0;
    for (size_t gi = 0; gi < naggs; ++gi) {
      uint32_t root = 0;
      CampaignAggregate g;
      if (!(r.Get(&root, "campaign root") && r.Ascending(gi, prev, root, "campaign root") &&
            r.Check(root < n, "campaign root", "out of range") && Load(r, &g, slots))) {
        return false;
      }
      c->aggs_.emplace(root, std::move(g));
      prev = root;
    }
    return r.Get(&c->next_seq_, "next confirmation") && r.Check(c->next_seq_ >= 1, "next confirmation", "zero") &&
           r.Check(n == slots, "campaign forest", "not one node per account slot");
  }

  static_assert(sizeof(LinkEdge) == 24, "LinkEdge changed: update its snapshot encoder");
  static_assert(sizeof(LinkGraph) == 40, "LinkGraph changed: update its snapshot encoder");
  static void Save(Out& w, const LinkGraph& g) {
    w.Tag("LINK");
    w.Count(g.edges_.size());
    for (const uint32_t account : SortedKeys(g.edges_)) {
      const LinkGraph::Edges& edges = g.edges_.at(account);
      w.Put(account);
      w.Put(edges.n);
      for (size_t ei = 0; ei < edges.n; ++ei) {
        const LinkEdge& e = edges.e[ei];
        w.Put(e.other);
        w.Put(e.score);
        w.Put(e.reasons);
        w.Put(e.paid);
      }
    }
  }
  static bool Load(In& r, LinkGraph* g, size_t slots) {
    size_t n = 0;
    if (!(r.Tag("LINK") && r.Count(&n, 5, "linked accounts"))) return false;
    g->edges_.reserve(n);
    uint32_t prev = 0;
    for (size_t ai = 0; ai < n; ++ai) {
      uint32_t account = 0;
      LinkGraph::Edges edges;
      if (!(r.Get(&account, "linked account") && r.Ascending(ai, prev, account, "linked account") &&
            r.Get(&edges.n, "edge count") &&
            r.Check(account < slots, "linked account", "names an account slot that does not exist") &&
            r.Check(edges.n <= LinkGraph::kMaxEdges, "edge count", "over kMaxEdges"))) {
        return false;
      }
      for (size_t ei = 0; ei < edges.n; ++ei) {
        LinkEdge& e = edges.e[ei];
        if (!(r.Get(&e.other, "edge account") && r.Get(&e.score, "edge score") && r.Get(&e.reasons, "edge reasons") &&
              r.Bool(&e.paid, "edge paid") &&
              r.Check(e.other < slots, "edge account", "names an account slot that does not exist"))) {
          return false;
        }
      }
      g->edges_.emplace(account, edges);
      prev = account;
    }
    return true;
  }

  static_assert(sizeof(SharedEntry) == 40, "SharedEntry changed: update its snapshot encoder");
  static_assert(sizeof(Correlator) == 320, "Correlator changed: update its snapshot encoder");
  static void Save(Out& w, const Correlator& c) {
    Save(w, c.index_);
    Save(w, c.campaigns_);
    Save(w, c.graph_);
    w.Tag("SHRD");
    w.Count(c.shared_.entries_.size());
    for (const uint64_t key : SortedKeys(c.shared_.entries_)) {
      const SharedEntry& e = c.shared_.entries_.at(key);
      w.Put(key);
      w.Str(e.source);
      w.Put(e.trust);
    }
    for (const auto* lengths : {&c.shared_.v4_lengths_, &c.shared_.v6_lengths_}) {
      w.Count(lengths->size());
      for (const int len : *lengths) w.Put(len);
    }
    w.Put<uint8_t>(c.cards_seen_ ? 1 : 0);
  }
  static bool Load(In& r, Correlator* c, size_t slots) {
    size_t n = 0;
    if (!(Load(r, &c->index_, slots) && Load(r, &c->campaigns_, slots) && Load(r, &c->graph_, slots) && r.Tag("SHRD") &&
          r.Count(&n, 13, "shared indicators"))) {
      return false;
    }
    c->shared_.entries_.reserve(n);
    uint64_t prev = 0;
    for (size_t si = 0; si < n; ++si) {
      uint64_t key = 0;
      SharedEntry e;
      if (!(r.Get(&key, "shared key") && r.Ascending(si, prev, key, "shared key") && r.Str(&e.source, "shared source") && r.Get(&e.trust, "shared trust") &&
            r.Check(e.trust == SharedTrust::kReview || e.trust == SharedTrust::kBlock, "shared trust", "unknown"))) {
        return false;
      }
      c->shared_.entries_.emplace(key, std::move(e));
      prev = key;
    }
    for (auto* lengths : {&c->shared_.v4_lengths_, &c->shared_.v6_lengths_}) {
      if (!r.Count(&n, 4, "shared prefix lengths")) return false;
      lengths->resize(n);
      for (int& len : *lengths) {
        if (!(r.Get(&len, "shared prefix length") && r.Check(len >= 0 && len <= 128, "shared prefix length", "out of range"))) {
          return false;
        }
      }
    }
    // Whether the log has carried a card: kept, not derived from the
    // index -- a card that came when the index was full is in no entry.
    uint8_t cards_seen = 0;
    if (!(r.Get(&cards_seen, "cards seen") && r.Check(cards_seen <= 1, "cards seen", "not 0 or 1"))) return false;
    c->cards_seen_ = cards_seen == 1;
    return true;
  }

  // --- content ---------------------------------------------------------------
  static_assert(sizeof(TemplateIndex) == 184, "TemplateIndex changed: update its snapshot encoder");
  static void Save(Out& w, const TemplateIndex& t) {
    w.Tag("TMPL");
    w.Put(t.next_id_);
    for (const auto* bands : {&t.bands_, &t.old_bands_}) {
      w.Count(bands->size());
      for (const uint64_t key : SortedKeys(*bands)) {
        w.Put(key);
        w.Put(bands->at(key));
      }
    }
    for (const auto* reps : {&t.reps_, &t.old_reps_}) {
      w.Count(reps->size());
      for (const uint32_t id : SortedKeys(*reps)) {
        w.Put(id);
        w.Arr(reps->at(id));
      }
    }
  }
  static bool Load(In& r, TemplateIndex* t) {
    if (!(r.Tag("TMPL") && r.Get(&t->next_id_, "next cluster id") && r.Check(t->next_id_ >= 1, "next cluster id", "zero"))) {
      return false;
    }
    for (auto* bands : {&t->bands_, &t->old_bands_}) {
      size_t n = 0;
      if (!r.Count(&n, 12, "template bands")) return false;
      bands->reserve(n);
      uint64_t prev = 0;
      for (size_t bi = 0; bi < n; ++bi) {
        uint64_t key = 0;
        uint32_t id = 0;
        if (!(r.Get(&key, "band key") && r.Ascending(bi, prev, key, "band key") && r.Get(&id, "band cluster") &&
              r.Check(id < t->next_id_, "band cluster", "not assigned yet"))) {
          return false;
        }
        bands->emplace(key, id);
        prev = key;
      }
    }
    for (auto* reps : {&t->reps_, &t->old_reps_}) {
      size_t n = 0;
      if (!r.Count(&n, 4 + sizeof(Signature), "template clusters")) return false;
      reps->reserve(n);
      uint32_t prev = 0;
      for (size_t ri = 0; ri < n; ++ri) {
        uint32_t id = 0;
        Signature sig{};
        if (!(r.Get(&id, "cluster id") && r.Ascending(ri, prev, id, "cluster id") && r.Check(id >= 1 && id < t->next_id_, "cluster id", "not assigned yet") &&
              r.Arr(&sig, "cluster signature"))) {
          return false;
        }
        reps->emplace(id, sig);
        prev = id;
      }
    }
    return true;
  }

  static_assert(sizeof(TokenBaseline) == 1296, "TokenBaseline changed: update its snapshot encoder");
  static void Save(Out& w, const TokenBaseline& b) {
    w.Tag("TOKB");
    w.Arr(b.counts_);
    w.Put(b.total_);
    w.Put(b.upper_);
  }
  static bool Load(In& r, TokenBaseline* b) {
    return r.Tag("TOKB") && r.Arr(&b->counts_, "token histogram") && r.Get(&b->total_, "token samples") &&
           r.Get(&b->upper_, "token upper quantile");
  }

  static_assert(sizeof(RepeatTable) == sizeof(std::vector<uint64_t>) + 40, "RepeatTable changed: update its snapshot encoder");
  // Only the keys held, each with its slot; the table's size is its shift.
  static void Save(Out& w, const RepeatTable& t) {
    w.Tag("REPT");
    w.Put(t.shift_);
    w.Put(t.replaced_);
    w.Put(t.victim_);
    w.Count(t.used_);
    for (size_t i = 0; i < t.slots_.size(); ++i) {
      if (t.slots_[i] == 0) continue;
      w.Put<uint64_t>(i);
      w.Put(t.slots_[i]);
    }
  }
  static bool Load(In& r, RepeatTable* t) {
    uint32_t shift = 0;
    size_t n = 0;
    if (!(r.Tag("REPT") && r.Get(&shift, "repeat table shift") && r.Get(&t->replaced_, "repeats replaced") &&
          r.Get(&t->victim_, "repeat victim"))) {
      return false;
    }
    const uint32_t min_shift = 64 - static_cast<uint32_t>(std::countr_zero(t->max_buckets_));
    if (!r.Check(shift >= min_shift && shift <= 64 - std::countr_zero(RepeatTable::kMinBuckets), "repeat table shift",
                 "outside this engine's table sizes")) {
      return false;
    }
    if (!r.Count(&n, 16, "repeat keys")) return false;
    t->shift_ = shift;
    t->slots_.assign((size_t{1} << (64 - shift)) * RepeatTable::kWays, 0);
    if (!r.Check(n <= t->slots_.size(), "repeat keys", "more than the table holds")) return false;
    uint64_t prev = 0;
    for (size_t ki = 0; ki < n; ++ki) {
      uint64_t pos = 0, key = 0;
      if (!(r.Get(&pos, "repeat slot") && r.Ascending(ki, prev, pos, "repeat slot") && r.Get(&key, "repeat key") &&
            r.Check(pos < t->slots_.size() && key != 0 && t->BucketOf(key) == pos / RepeatTable::kWays, "repeat key",
                    "not in its bucket"))) {
        return false;
      }
      t->slots_[pos] = key;
      prev = pos;
    }
    t->used_ = n;
    return true;
  }

  // --- the engine ------------------------------------------------------------
  // ContentAnalyzer: two template indexes plus scratch buffers (not saved).
  static_assert(sizeof(ContentAnalyzer) == 2 * sizeof(TemplateIndex) + sizeof(DigestScratch) + sizeof(ContentDigest),
                "ContentAnalyzer changed: update its snapshot encoder");
  // Engine: the policy and options (fingerprinted, not saved), the stages
  // (asserted above) and 184 bytes of its own members, saved below.
  static_assert(sizeof(Engine) == sizeof(Policy) + sizeof(EngineOptions) + sizeof(ContentAnalyzer) + sizeof(AccountTable) +
                                      sizeof(Correlator) + sizeof(TokenBaseline) + sizeof(RepeatTable) + 184,
                "Engine changed: update its snapshot encoder");
  static void Save(Out& w, const Engine& e) {
    w.Tag("POLI");
    w.Put(Fingerprint(e.policy_, e.options_));
    w.Tag("ENGN");
    w.Put(e.interactions_);
    w.Put(e.now_);
    w.Put(e.last_reexamined_day_);
    w.Put(e.summaries_dropped_);
    Save(w, e.analyzer_.system_index_);
    Save(w, e.analyzer_.prompt_index_);
    Save(w, e.accounts_);
    Save(w, e.correlator_);
    Save(w, e.token_baseline_);
    Save(w, e.repeats_);
    w.Tag("OVRD");
    w.Count(e.overrides_.size());
    for (const std::string& id : SortedKeys(e.overrides_)) {
      w.Str(id);
      w.Put(e.overrides_.at(id));
    }
    w.Tag("DECI");
    w.Count(e.decisions_.size());
    for (const uint32_t idx : SortedKeys(e.decisions_)) {
      w.Put(idx);
      Save(w, e.decisions_.at(idx));
    }
    w.Tag("SUMM");
    w.Count(e.summaries_.size());
    for (const std::string& id : SortedKeys(e.summaries_)) {
      w.Str(id);
      Save(w, e.summaries_.at(id));
    }
    w.Tag("END.");
  }
  static bool Load(In& r, Engine* e) {
    uint64_t fingerprint = 0;
    if (!(r.Tag("POLI") && r.Get(&fingerprint, "policy fingerprint"))) return false;
    if (fingerprint != Fingerprint(e->policy_, e->options_)) {
      return r.Fail("policy fingerprint", "taken under another policy or engine options (replay instead)");
    }
    if (!(r.Tag("ENGN") && r.Get(&e->interactions_, "interactions") && r.Get(&e->now_, "clock") &&
          r.Get(&e->last_reexamined_day_, "last re-examined day") && r.Get(&e->summaries_dropped_, "summaries dropped") &&
          Load(r, &e->analyzer_.system_index_) && Load(r, &e->analyzer_.prompt_index_) && Load(r, &e->accounts_))) {
      return false;
    }
    const size_t slots = e->accounts_.accounts_.size();
    if (!(Load(r, &e->correlator_, slots) && Load(r, &e->token_baseline_) && Load(r, &e->repeats_))) return false;
    size_t n = 0;
    if (!(r.Tag("OVRD") && r.Count(&n, 5, "overrides"))) return false;
    std::string prev_id;
    for (size_t oi = 0; oi < n; ++oi) {
      std::string id;
      Verdict v{};
      if (!(r.Str(&id, "override account") && r.Ascending(oi, prev_id, id, "override account") &&
            r.Get(&v, "override verdict") &&
            r.Check(ValidVerdict(v), "override verdict", "not a verdict"))) {
        return false;
      }
      prev_id = id;
      e->overrides_.emplace(std::move(id), v);
    }
    if (!(r.Tag("DECI") && r.Count(&n, 4 + 20, "verdict records"))) return false;
    e->decisions_.reserve(n);
    uint32_t prev = 0;
    for (size_t di = 0; di < n; ++di) {
      uint32_t idx = 0;
      VerdictRecord v;
      if (!(r.Get(&idx, "record account") && r.Ascending(di, prev, idx, "record account") &&
            r.Check(idx < slots, "record account", "names an account slot that does not exist") && Load(r, &v))) {
        return false;
      }
      e->decisions_.emplace(idx, v);
      prev = idx;
    }
    if (!(r.Tag("SUMM") && r.Count(&n, 4 + 37, "summaries"))) return false;
    e->summaries_.reserve(n);
    prev_id.clear();
    for (size_t si = 0; si < n; ++si) {
      std::string id;
      AccountSummary s;
      if (!(r.Str(&id, "summary account") && r.Ascending(si, prev_id, id, "summary account") && Load(r, &s))) return false;
      prev_id = id;
      e->summaries_.emplace(std::move(id), s);
    }
    if (!r.Tag("END.")) return false;
    return r.Check(r.done(), "end", "bytes after the last section");
  }
};

void SaveSnapshot(const Engine& engine, std::string* out) {
  std::string payload;
  Out w(&payload);
  SnapshotAccess::Save(w, engine);
  const size_t start = out->size();
  out->reserve(start + kSnapshotHeaderBytes + payload.size());
  out->append(kMagic, sizeof(kMagic));
  ByteWriter h(out);
  h.Put<uint32_t>(kSnapshotVersion);
  h.Put<uint32_t>(0);
  h.Put<uint64_t>(payload.size());
  h.Put<uint64_t>(XXH3_64bits(payload.data(), payload.size()));
  out->append(payload);
}

absl::StatusOr<std::unique_ptr<Engine>> LoadSnapshot(std::string_view bytes, const Policy& policy,
                                                     const EngineOptions& options) {
  if (bytes.size() < kSnapshotHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError(fmt::format("snapshot: not an engine snapshot ({} bytes, no DGSNAPv1 header)",
                                                  bytes.size()));
  }
  ByteReader h(bytes.substr(sizeof(kMagic)));
  uint32_t version = 0, reserved = 0;
  uint64_t size = 0, checksum = 0;
  h.Get(&version);
  h.Get(&reserved);
  h.Get(&size);
  h.Get(&checksum);
  if (version != kSnapshotVersion) {
    return absl::FailedPreconditionError(
        fmt::format("snapshot: version {}, this build reads version {} (replay instead)", version, kSnapshotVersion));
  }
  const std::string_view payload = bytes.substr(kSnapshotHeaderBytes);
  if (payload.size() != size) {
    return absl::InvalidArgumentError(
        fmt::format("snapshot: torn: header says {} payload bytes, {} present", size, payload.size()));
  }
  if (XXH3_64bits(payload.data(), payload.size()) != checksum) {
    return absl::InvalidArgumentError(fmt::format("snapshot: corrupt: checksum mismatch over {} payload bytes", size));
  }
  auto engine = std::make_unique<Engine>(policy, options);
  In r(payload);
  if (!SnapshotAccess::Load(r, engine.get())) {
    const bool config = r.error().find("policy fingerprint") != std::string::npos;
    if (config) return absl::FailedPreconditionError(r.error());
    return absl::InvalidArgumentError(r.error());
  }
  return engine;
}

uint64_t SnapshotConfigFingerprint(const Policy& policy, const EngineOptions& options) {
  return SnapshotAccess::Fingerprint(policy, options);
}

}  // namespace dg
