#include "content/analyzer.h"

#include <cmath>

#include "common/hash.h"

namespace dg {
namespace {
constexpr size_t kFrameTokens = 6;
constexpr size_t kMinFramedPrompt = 2 * kFrameTokens + 4;

uint64_t HashRange(const std::vector<uint64_t>& toks, size_t from, size_t count, uint64_t seed) {
  uint64_t h = seed;
  for (size_t idx = from; idx < from + count; ++idx) h = HashCombine(h, toks[idx]);
  return h | 1;
}
}  // namespace

ContentAnalyzer::ContentAnalyzer(size_t max_clusters)
    : system_index_(max_clusters / 4 + 1, 0.6), prompt_index_(max_clusters, 0.5) {}

void ContentAnalyzer::Analyze(const Interaction& in, EventFeatures* out) {
  *out = EventFeatures{};
  out->ts = in.ts;
  out->max_tokens = in.max_tokens;
  out->temperature = std::isnan(in.temperature) ? -1 : in.temperature;
  out->output_tokens = in.output_tokens;
  out->input_tokens = in.input_tokens;
  out->tools_hash = in.tools_hash;

  LexiconHits hits;
  bool tool_blocks = false;
  for (const auto& m : in.messages) {
    if (m.role == Role::kAssistant) out->single_turn = false;
    if (m.tool_use_blocks > 0 || m.tool_result_blocks > 0) tool_blocks = true;
  }
  if (!in.system.empty()) {
    Tokenize(in.system, &tokens_);
    MatchLexicon(tokens_, &hits);
    Signature sig;
    if (ComputeSignature(tokens_.masked, &sig)) out->system_cluster = system_index_.Assign(sig);
  }
  const std::string& user = in.LastUserText();
  size_t code_blocks = 0, numbers = 0, ntokens = 0;
  if (!user.empty()) {
    Tokenize(user, &tokens_);
    MatchLexicon(tokens_, &hits);
    code_blocks = tokens_.code_blocks;
    numbers = tokens_.numbers;
    ntokens = tokens_.total_tokens;
    out->prompt_tokens = static_cast<uint32_t>(std::min<size_t>(ntokens, UINT32_MAX));
    Signature sig;
    if (ComputeSignature(tokens_.masked, &sig)) out->prompt_cluster = prompt_index_.Assign(sig);
    const auto& masked = tokens_.masked;
    if (masked.size() >= kMinFramedPrompt) {
      out->frame_head = HashRange(masked, 0, kFrameTokens, 0xf00d);
      out->frame_tail = HashRange(masked, masked.size() - kFrameTokens, kFrameTokens, 0xbeef);
    }
  }
  const bool has_tools = in.tools_hash != 0 || tool_blocks;
  if (has_tools) hits.flags |= kFlagTools;
  if (!out->single_turn) hits.flags |= kFlagMultiTurn;
  out->flags = hits.flags;
  out->capability = ClassifyCapability(hits, has_tools, code_blocks, numbers, ntokens);
}

}  // namespace dg
