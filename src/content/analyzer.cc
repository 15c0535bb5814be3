#include "content/analyzer.h"

#include <algorithm>
#include <cmath>

#include "common/hash.h"

namespace dg {
namespace {
constexpr size_t kFrameTokens = 6;
constexpr size_t kMinFramedPrompt = 2 * kFrameTokens + 4;
// Earlier user turns are read for standing reasoning-harvest instructions
// only, up to this many bytes in all (the first turns first): a standing
// instruction ("for every task in this chat, think step by step") is
// typically there, and a long history must not multiply the cost per
// request.
constexpr size_t kHistoryBudget = 2048;

// Whether an instruction says it holds beyond its own turn. ASCII
// case-insensitive substring search over <= kHistoryBudget bytes, in the
// languages of the lexicon (features.cc): a standing instruction in
// Spanish or Chinese is as standing as one in English.
bool NamesStandingScope(std::string_view text) {
  // Searched in " " + the lower-cased text, so that a scope that must start a
  // word can say so with a leading space (" cada " is not "década").
  static constexpr std::string_view kScopes[] = {
      "every ", "each ", "from now on", "always", "all of your", "all your", "this chat", "this conversation",
      "this session", "rest of", "any question", "any task", "following tasks", "following questions",
      // es, pt, it
      "siempre", " cada ", "esta conversación", "este chat", "a partir de ahora", "de ahora en adelante",
      " sempre", "esta conversa", "a partir de agora", " ogni ", "questa conversazione", "d'ora in poi",
      "da ora in poi",
      // fr, de, nl, pl, tr, id, vi
      " chaque ", "cette conversation", "désormais", "à partir de maintenant", "À partir de maintenant",
      " jede ", " jeder ", " jedes ", "diesem gespräch", "diesem chat", "ab jetzt", "von nun an", " altijd",
      " elke ", " zawsze", " każd", "her zaman", " selalu", " setiap ", " luôn", " mỗi ",
      // ru, ar, hi
      "всегда", "Всегда", " кажд", " Кажд", "этом чате", "этом разговоре", "с этого момента", "С этого момента",
      "دائما", "हमेशा",
      // zh (simplified, traditional), ja, ko: scope nouns, not bare time words
      "每个问题", "每個問題", "每道题", "每个任务", "每次回答", "始终", "始終", "总是", "總是", "本次对话", "这次对话",
      "這次對話", "以后的每", "以後的每", "常に", "毎回", "この会話", "このチャット", "すべての質問", "全ての質問",
      "以降の質問", "항상", "매번", "이 대화", "모든 질문", "앞으로의 모든"};
  std::string lower(" ");
  lower.append(text);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  for (const std::string_view scope : kScopes) {
    if (lower.find(scope) != std::string::npos) return true;
  }
  return false;
}

uint64_t HashRange(const std::vector<uint64_t>& toks, size_t from, size_t count, uint64_t seed) {
  uint64_t h = seed;
  for (size_t idx = from; idx < from + count; ++idx) h = HashCombine(h, toks[idx]);
  return h | 1;
}
}  // namespace

uint64_t TurnFingerprint(std::string_view text) {
  char buf[128];
  size_t n = 0;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ') continue;  // white space and control characters
    buf[n++] = u >= 'A' && u <= 'Z' ? static_cast<char>(u + 32) : c;
    if (n == sizeof buf) break;
  }
  return n == 0 ? 0 : Hash64(std::string_view(buf, n), 0x5e12ed) | 1;
}

ContentAnalyzer::ContentAnalyzer(size_t max_clusters)
    : system_index_(max_clusters / 4 + 1, 0.6), prompt_index_(max_clusters, 0.5) {}

bool ResponseSignature(std::string_view text, TokenStream* scratch, Signature* sig) {
  Tokenize(text.substr(0, kResponsePrintBytes), scratch);
  return ComputeSignature(scratch->masked, sig);
}

const SystemDigestCache::Entry* SystemDigestCache::Find(std::string_view text, size_t* slot) const {
  *slot = Hash64(text, 0x5157) % kSlots;
  const Entry& e = entries_[*slot];
  return e.text.size() == text.size() && e.text == text ? &e : nullptr;
}

void SystemDigestCache::Store(size_t slot, std::string_view text, const LexiconHits& hits, bool has_sig,
                              const Signature& sig) {
  if (text.size() > kMaxBytes) return;
  Entry& e = entries_[slot];
  e.text.assign(text);
  e.hits = hits;
  e.has_sig = has_sig;
  e.sig = sig;
}

uint64_t RequestFingerprint(const Interaction& in) {
  if (!(in.temperature == 0.0)) return 0;  // also NaN (not given): sampling may differ
  // A request with content the engine does not read -- an image, a
  // document, a tool call's arguments or a tool result's blocks -- could
  // carry a new task behind a fixed text: never "the same request again"
  // (review finding: a new problem in an attached document each time).
  for (const Message& m : in.messages) {
    if (m.other_blocks != 0 || m.tool_use_blocks != 0 || m.tool_result_blocks != 0) return 0;
  }
  // Each field hashed on its own (one XXH3 call each, cheaper than a
  // streaming state on short fields) and chained, so that moving bytes
  // between fields changes the result.
  uint64_t fp = Hash64(in.model, 0x7265715f6670ULL);
  fp = HashCombine(fp, Hash64(in.system, 1));
  for (const Message& m : in.messages) {
    fp = HashCombine(fp, Hash64(m.text, 2 + static_cast<uint64_t>(m.role)));
  }
  fp = HashCombine(fp, in.tools_hash);
  fp = HashCombine(fp, static_cast<uint64_t>(in.max_tokens));
  return fp == 0 ? 1 : fp;
}

namespace {

void Digest(const Interaction& in, TokenStream* scratch, SystemDigestCache* systems, ContentDigest* digest,
            DigestOptions options) {
  *digest = ContentDigest{};
  if (options.response_signature && in.has_response && !in.response_text.empty()) {
    digest->has_response_sig = ResponseSignature(in.response_text, scratch, &digest->response_sig);
  }
  EventFeatures* out = &digest->features;
  out->ts = in.ts;
  out->max_tokens = in.max_tokens;
  out->temperature = std::isnan(in.temperature) ? -1 : in.temperature;
  out->output_tokens = in.output_tokens;
  out->input_tokens = in.input_tokens;
  out->reasoning_tokens = in.reasoning_tokens;
  out->tools_hash = in.tools_hash;
  if (in.has_response) out->response_fp = TurnFingerprint(in.response_text);
  out->request_fp = RequestFingerprint(in);
  // History: the assistant turns before the last user turn (one after it is
  // a prefill the client wrote for this answer, not history). Only a turn
  // with text or a tool call makes the request a conversation -- an empty
  // assistant turn is no history at all.
  size_t last_user = in.messages.size();
  for (size_t idx = in.messages.size(); idx-- > 0;) {
    if (in.messages[idx].role == Role::kUser) {
      last_user = idx;
      break;
    }
  }
  LexiconHits hits;
  bool tool_blocks = false;
  for (const auto& m : in.messages) {
    if (m.tool_use_blocks > 0 || m.tool_result_blocks > 0) tool_blocks = true;
  }
  // Only the newest turn with text is fingerprinted (the one the engine
  // checks), walking back from the last user turn: O(128) per request.
  if (last_user < in.messages.size()) {
    for (size_t idx = last_user; idx-- > 0;) {
      const Message& m = in.messages[idx];
      if (m.role != Role::kAssistant) continue;
      if (m.tool_use_blocks > 0) out->single_turn = false;
      if (const uint64_t fp = TurnFingerprint(m.text); fp != 0) {
        out->single_turn = false;
        out->history_fp[0] = fp;
        out->history_turns = 1;
        break;
      }
    }
  }
  if (!in.system.empty()) {
    // `hits` is still empty here: the system prompt's own hits are what a
    // cache entry holds.
    size_t slot = 0;
    const SystemDigestCache::Entry* cached = systems != nullptr ? systems->Find(in.system, &slot) : nullptr;
    if (cached != nullptr) {
      hits = cached->hits;
      digest->has_system_sig = cached->has_sig;
      if (cached->has_sig) digest->system_sig = cached->sig;
    } else {
      Tokenize(in.system, scratch);
      MatchLexicon(in.system, *scratch, &hits);
      digest->has_system_sig = ComputeSignature(scratch->masked, &digest->system_sig);
      if (systems != nullptr) systems->Store(slot, in.system, hits, digest->has_system_sig, digest->system_sig);
    }
  }
  const std::string& user = in.LastUserText();
  size_t code_blocks = 0, numbers = 0, ntokens = 0;
  if (!user.empty()) {
    Tokenize(user, scratch);
    MatchLexicon(user, *scratch, &hits);
    code_blocks = scratch->code_blocks;
    numbers = scratch->numbers;
    ntokens = scratch->total_tokens;
    out->prompt_tokens = static_cast<uint32_t>(std::min<size_t>(ntokens, UINT32_MAX));
    digest->has_prompt_sig = ComputeSignature(scratch->masked, &digest->prompt_sig);
    const auto& masked = scratch->masked;
    if (masked.size() >= kMinFramedPrompt) {
      out->frame_head = HashRange(masked, 0, kFrameTokens, 0xf00d);
      out->frame_tail = HashRange(masked, masked.size() - kFrameTokens, kFrameTokens, 0xbeef);
    }
  }
  // A harvesting instruction moved into an earlier user turn still asks for
  // the reasoning of every later answer in the conversation.
  if (!out->single_turn && (hits.flags & (kFlagCot | kFlagRecon)) != (kFlagCot | kFlagRecon)) {
    const Message* last_user = nullptr;
    for (const auto& m : in.messages) {
      if (m.role == Role::kUser && !m.text.empty()) last_user = &m;
    }
    size_t budget = kHistoryBudget;
    for (const auto& m : in.messages) {
      if (budget == 0 || &m == last_user) break;
      if (m.role != Role::kUser || m.text.empty()) continue;
      const std::string_view text = std::string_view(m.text).substr(0, budget);
      budget -= text.size();
      Tokenize(text, scratch);
      LexiconHits turn;
      MatchLexicon(text, *scratch, &turn);
      // Only a standing instruction -- one that names its scope ("for every
      // task", "from now on", "in this chat") -- asks for the reasoning of
      // later answers; a person's earlier "solve this step by step" was
      // about that question, and follow-ups carry it along.
      if ((turn.flags & (kFlagCot | kFlagRecon)) != 0 && NamesStandingScope(text)) hits.flags |= turn.flags & (kFlagCot | kFlagRecon);
    }
  }
  const bool has_tools = in.tools_hash != 0 || tool_blocks;
  if (has_tools) hits.flags |= kFlagTools;
  if (!out->single_turn) hits.flags |= kFlagMultiTurn;
  out->flags = hits.flags;
  out->capability = ClassifyCapability(hits, has_tools, code_blocks, numbers, ntokens);
}

}  // namespace

void DigestContent(const Interaction& in, TokenStream* scratch, ContentDigest* digest, DigestOptions options) {
  Digest(in, scratch, nullptr, digest, options);
}

void DigestContent(const Interaction& in, DigestScratch* scratch, ContentDigest* digest, DigestOptions options) {
  Digest(in, &scratch->tokens, &scratch->systems, digest, options);
}

void ContentAnalyzer::Assign(const ContentDigest& digest, EventFeatures* out) {
  *out = digest.features;
  if (digest.has_system_sig) out->system_cluster = system_index_.Assign(digest.system_sig);
  if (digest.has_prompt_sig) out->prompt_cluster = prompt_index_.Assign(digest.prompt_sig);
}

void ContentAnalyzer::Analyze(const Interaction& in, EventFeatures* out) {
  DigestContent(in, &scratch_, &digest_);
  Assign(digest_, out);
}

}  // namespace dg
