// ContentAnalyzer: turns one Interaction into the fixed-size EventFeatures
// that every later stage uses. It is the only stage that reads prompt text;
// after it, text is gone (privacy: only fingerprints and features are kept).
//
//   system prompt   -> template cluster (MinHash LSH)
//   last user turn  -> lexicon flags, capability, template cluster, and
//                      "frame" keys: hashes of the first and last 6 masked
//                      tokens, which stay fixed when a template wraps a
//                      long variable task
//   tools           -> toolset hash
// Cost: O(prompt length) -- one tokenisation and one MinHash per text, one
// LSH lookup per prompt. Memory: the two TemplateIndexes (bounded).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "content/features.h"
#include "content/minhash.h"
#include "content/tokens.h"
#include "ingest/interaction.h"

namespace dg {

struct EventFeatures {
  TimeMs ts = 0;
  uint32_t flags = 0;               // ContentFlag bits
  Capability capability = Capability::kGeneral;
  uint32_t system_cluster = 0;      // 0 = no system prompt
  uint32_t prompt_cluster = 0;      // 0 = no user text
  uint64_t frame_head = 0;          // 0 = prompt too short for a frame
  uint64_t frame_tail = 0;
  uint64_t tools_hash = 0;
  uint32_t prompt_tokens = 0;
  int64_t max_tokens = -1;
  double temperature = -1;
  int64_t output_tokens = -1;
  int64_t input_tokens = -1;
  int64_t reasoning_tokens = -1;    // extended thinking, where the log reports it
  bool single_turn = true;          // no earlier assistant turn sent
  // Fingerprints (TurnFingerprint) of the response served, and of the
  // latest assistant turn with text the request sends as history (only
  // history_fp[0] is filled; the wire keeps room for kHistoryFingerprints):
  // what lets the account stage tell a conversation the platform took part
  // in from one the client wrote.
  uint64_t response_fp = 0;         // 0 = the log has no response text
  uint8_t history_turns = 0;
  std::array<uint64_t, 4> history_fp{};
  // Deterministic requests only (temperature 0): a hash of everything that
  // decides the answer -- model, system prompt, every turn, tools, max_tokens
  // -- so the same request sent again is known as a repeat, which yields
  // nothing new (RequestFingerprint). 0 for any other request.
  uint64_t request_fp = 0;
};
inline constexpr size_t kHistoryFingerprints = 4;

// Fingerprint of an assistant turn as served and as sent back: the first
// 128 bytes that are not white space or control characters, ASCII-lowercased, hashed; 0 for a turn
// with no text. Robust to the re-wrapping and trimming clients do and to a
// client keeping only the start of a long answer. O(128).
uint64_t TurnFingerprint(std::string_view text);

// The request_fp of an interaction: nonzero only for a deterministic request
// (temperature exactly 0) whose turns are all text (no image, document or
// tool blocks, whose content the engine does not read); any byte of the
// model, system prompt, turns (role and text), tools or max_tokens that
// differs gives another value, so a request that can bring a different answer is never the "same
// request again". O(request bytes): one XXH3 per field, chained.
uint64_t RequestFingerprint(const Interaction& in);

// What the text of one interaction leaves behind once read: features with
// the cluster ids still unassigned, and the MinHash signatures that assign
// them. Computing it is stateless (any thread, any time); it is what the
// serve log keeps at rest instead of prompt text, so a replay assigns the
// same clusters in the same order. The one digest type scan, serve and
// traceback share (the response signature is what traceback indexes).
// ~430 bytes.
struct ContentDigest {
  EventFeatures features;  // system_cluster / prompt_cluster are 0 here
  bool has_system_sig = false;
  bool has_prompt_sig = false;
  bool has_response_sig = false;
  Signature system_sig{};
  Signature prompt_sig{};
  Signature response_sig{};  // ResponseSignature of the response served
};

// How many bytes of a response its signature reads.
inline constexpr size_t kResponsePrintBytes = 1024;

// The MinHash fingerprint of a response's opening kResponsePrintBytes,
// masked and shingled like prompts; false for text without tokens. What
// traceback indexes for every response served and computes for a suspect
// text. O(kResponsePrintBytes).
bool ResponseSignature(std::string_view text, TokenStream* scratch, Signature* sig);

// The digests of the system prompts seen last: agents and integrations send
// the same few system prompts with every request, so their tokenisation,
// lexicon match and signature are computed once and looked up after. Exact:
// an entry is found by the whole text (hash, then a byte comparison), never
// by a hash alone, so a hit gives what computing would. Direct-mapped,
// kSlots entries of texts up to kMaxBytes (~140 KB at most); the texts stay
// in this thread's memory only, like the request being read. One per thread.
class SystemDigestCache {
 public:
  static constexpr size_t kSlots = 64;
  static constexpr size_t kMaxBytes = 2048;
  struct Entry {
    std::string text;
    LexiconHits hits;  // MatchLexicon of the text alone
    bool has_sig = false;
    Signature sig{};
  };
  // The entry of `text` if cached, else nullptr; `slot` is where it goes.
  const Entry* Find(std::string_view text, size_t* slot) const;
  // Stores a computed entry (texts over kMaxBytes are not kept).
  void Store(size_t slot, std::string_view text, const LexiconHits& hits, bool has_sig, const Signature& sig);

 private:
  std::array<Entry, kSlots> entries_;
};

// A thread's reusable state for DigestContent: token buffers and the
// system-prompt cache.
struct DigestScratch {
  TokenStream tokens;
  SystemDigestCache systems;
};

struct DigestOptions {
  // Also fingerprint the response for traceback (one more tokenisation of
  // up to 1 KB); scan skips it when no response index is written.
  bool response_signature = true;
};

// Stateless half of the analysis: tokenises and fingerprints the text.
// `scratch` is a reusable token buffer (one per thread); the DigestScratch
// form also reuses the digests of repeated system prompts (same result).
void DigestContent(const Interaction& in, TokenStream* scratch, ContentDigest* out, DigestOptions options = {});
void DigestContent(const Interaction& in, DigestScratch* scratch, ContentDigest* out, DigestOptions options = {});

class ContentAnalyzer {
 public:
  friend struct SnapshotAccess;  // engine/snapshot.cc
  ContentAnalyzer(size_t max_clusters = 1u << 20);
  ContentAnalyzer(const ContentAnalyzer&) = delete;  // owns large indexes
  ContentAnalyzer& operator=(const ContentAnalyzer&) = delete;

  // Digest + Assign.
  void Analyze(const Interaction& in, EventFeatures* out);
  // Stateful half: assigns the digest's signatures to template clusters.
  void Assign(const ContentDigest& digest, EventFeatures* out);

  size_t system_clusters() const { return system_index_.clusters(); }
  size_t prompt_clusters() const { return prompt_index_.clusters(); }

 private:
  TemplateIndex system_index_;
  TemplateIndex prompt_index_;
  DigestScratch scratch_;  // reused buffers
  ContentDigest digest_;
};

}  // namespace dg
