// Event codec: one parsed interaction, text included, as the binary record
// the publisher puts on the events stream (dg.events.<p>) for a worker to
// digest. The publisher has already parsed, de-duplicated and ordered the
// log (ingest/), so a worker never re-parses JSON: it decodes this record,
// runs DigestContent and sends on the text-free wire record (serve/wire.h).
//
// Format: a version byte, the global sequence number (the interaction's
// place in the publisher's timeline, which the correlator applies in
// order), then fixed-width little-endian integers and length-prefixed
// strings for every Interaction field. DecodeEvent checks every length
// against the record and rejects trailing bytes: a foreign or torn record is
// an error, never a half-filled interaction. O(record size); the record is
// about the size of the interaction's text plus ~150 bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "account/account_state.h"
#include "correlate/correlator.h"
#include "decide/check.h"
#include "ingest/interaction.h"
#include "serve/store.h"

namespace dg {

inline constexpr uint8_t kEventCodecVersion = 1;
// Bounds a decoder enforces on hostile records (a record is at most the
// stream's maximum message size anyway).
inline constexpr uint32_t kMaxEventMessages = 4096;
inline constexpr uint32_t kMaxEventToolNames = 4096;

std::string EncodeEvent(uint64_t global_seq, const Interaction& in);
// Fills *in (every field, texts included) and *global_seq; false on any
// inconsistency.
bool DecodeEvent(std::string_view record, uint64_t* global_seq, Interaction* in);
// The global sequence number of a record DecodeEvent refuses, when its
// version byte and sequence number are intact (a record damaged further on):
// the worker then still tells the correlator that this number will never
// come (a "skipped" digest), so an --until-done correlator does not wait for
// it. False when not even the header is readable.
bool PeekEventSequence(std::string_view record, uint64_t* global_seq);

// A KV key for any account id: "a." and the id's bytes in hex (KV keys
// allow only [-/_=.a-zA-Z0-9]). AccountFromKey inverts it (false if not one).
std::string AccountKey(std::string_view account_id);
bool AccountFromKey(std::string_view key, std::string* account_id);

// The values of the KV buckets decision nodes watch (cluster/serve_link.h),
// as the correlator (dg_verdicts) and serve --nats (dg_overrides) write
// them; anyone on the bus can put other bytes there, so both are fuzzed
// (fuzz_cluster_codec). O(value size).
struct VerdictEntry {
  Verdict verdict = Verdict::kAllow;
  double score = 0;
  ReasonMask reasons = 0;       // Reason bits (0 in values written before them)
  uint32_t interactions = 0;
  std::string campaign_id;    // empty: none
};
// {"verdict":"allow"|"review"|"block","score","campaign_id","interactions",
// "reasons"}: false when it is not JSON or has no known verdict.
bool ParseVerdictEntry(std::string_view value, VerdictEntry* out);
// An override's action: allow, block, or clear (kReview: no override, as
// Engine::SetOverride takes it); nullopt for anything else.
std::optional<Verdict> OverrideActionVerdict(std::string_view action);
// {"account_id","action","by","reason","at"} -> its action's verdict.
std::optional<Verdict> ParseOverrideEntry(std::string_view value);

// The new-account check's tables (decide/check.h, CheckInputs::MatchCampaign)
// as the correlator publishes them for decision nodes:
//   dg_indicators  "k.<16 hex digits of the IndicatorIndex key>" ->
//                  {"campaign_id","kind":"payment"|"ip_prefix","root","evidence"}
//                  (Correlator::ForEachRequestValue: the values a new
//                  account's request is matched on)
//   dg_campaigns   CampaignKey(id) -> {"campaign_id","members","score",
//                  "measuring","one_customer"} (CampaignMatchOf)
// Numbers are written in full (shortest round-trip form), so a decision
// node's sums and threshold comparisons are the engine's.
// Bounds on what a node keeps from a bucket value (a hostile writer's
// value is refused past them, not stored at the bus's 1 MiB).
inline constexpr size_t kMaxCampaignIdBytes = 256;
inline constexpr size_t kMaxSharedValueBytes = 1024;
struct RequestValueEntry {
  std::string campaign_id;
  ValueEvidence value;
};
std::string RequestValueKey(uint64_t index_key);
bool RequestValueFromKey(std::string_view key, uint64_t* index_key);
std::string FormatRequestValueEntry(const std::string& campaign_id, const ValueEvidence& v);
// False unless a JSON object with a non-empty campaign_id, kind payment or
// ip_prefix, a root and a finite evidence >= 0.
bool ParseRequestValueEntry(std::string_view value, RequestValueEntry* out);

// "c." and the campaign id's bytes in hex; CampaignFromKey inverts it.
std::string CampaignKey(std::string_view campaign_id);
bool CampaignFromKey(std::string_view key, std::string* campaign_id);
// `members` is reported, not used by the check.
std::string FormatCampaignEntry(const CampaignMatch& c, size_t members);
// Fills campaign_id, campaign_score, measuring and one_customer; false
// unless a JSON object with a non-empty campaign_id and a finite score.
bool ParseCampaignEntry(std::string_view value, CampaignMatch* out, uint64_t* members = nullptr);

// Imported (STIX) indicators, shared by every node of a cluster:
//   dg_shared  SharedIndicatorKey(kind, canonical value) -> {"kind","value",
//              "source","trust","imported_at"} (serve's SharedIndicatorRecord)
// The key is "s." and the bytes of kind, 0x1f, value in hex.
std::string SharedIndicatorKey(std::string_view kind, std::string_view value);
// The kinds an imported indicator may have: payment, ip_prefix, client.
std::optional<IndicatorKind> SharedKindByName(std::string_view name);
bool SharedIndicatorFromKey(std::string_view key, std::string* kind, std::string* value);
std::string FormatSharedIndicator(const SharedIndicatorRecord& r);
// False unless a JSON object whose kind is payment, ip_prefix or client
// (value and source at most kMaxSharedValueBytes), whose value is that kind's canonical form
// (SharedIndicators::Canonical) and whose trust is block or review; the
// kind is returned as *kind_out.
bool ParseSharedIndicator(std::string_view value, SharedIndicatorRecord* out, IndicatorKind* kind_out);

}  // namespace dg
