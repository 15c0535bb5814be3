// Per-interaction content features: what a prompt asks the model to do.
//
// A phrase lexicon (word sequences matched on the token stream, O(tokens))
// marks requests that serve training data rather than a user:
//   cot_elicitation        "think step by step", "show your reasoning", ...
//   reasoning_reconstruction  "the internal reasoning behind a completed
//                          response", "given the answer, write the steps" ...
//   rubric_grading         "rubric", "impartial judge", "rate the response
//                          on a scale of 1 to 10", "[[rating]]" ...
//   data_generation        "generate 20 examples", "synthetic dataset" ...
// and scores the capability area (coding, maths, reasoning, agentic,
// writing, roleplay, general). The harvest families are also listed in
// Spanish, Portuguese, French, German, Italian, Russian, Chinese, Japanese,
// Korean and a few more languages. The lexicon lives in features.cc with
// the reason each phrase family exists; nothing here is fitted to the
// simulator.
#pragma once

#include <cstdint>
#include <string_view>

#include "content/tokens.h"

namespace dg {

enum class Capability : uint8_t { kGeneral, kCoding, kMath, kReasoning, kAgentic, kWriting, kRoleplay, kCount };
inline constexpr size_t kCapabilityCount = static_cast<size_t>(Capability::kCount);
std::string_view CapabilityName(Capability c);

enum ContentFlag : uint32_t {
  kFlagCot = 1u << 0,
  kFlagRecon = 1u << 1,
  kFlagRubric = 1u << 2,
  kFlagDataGen = 1u << 3,
  kFlagTools = 1u << 4,       // tool definitions or tool blocks present
  kFlagMultiTurn = 1u << 5,   // the request carries earlier assistant turns
};

struct LexiconHits {
  uint32_t flags = 0;
  uint16_t capability_hits[kCapabilityCount] = {};
};

// Scans `text` for lexicon phrases, adding to *hits: `tokens` must be
// Tokenize(text). Phrases of spaced scripts (English and the other
// languages listed in features.cc) are matched on `tokens.words`, O(tokens);
// phrases of scripts without spaces (Chinese, Japanese, Korean) as byte
// substrings of the text's first 16 KB and last 4 KB -- sixteen bytes per
// step until a byte opens a three-byte UTF-8 sequence, then one filtered
// lookup per character, so ASCII text costs about one instruction per four
// bytes.
void MatchLexicon(std::string_view text, const TokenStream& tokens, LexiconHits* hits);

// Dominant capability from lexicon hits and structure.
Capability ClassifyCapability(const LexiconHits& hits, bool has_tools, size_t code_blocks, size_t numbers,
                              size_t tokens);

}  // namespace dg
