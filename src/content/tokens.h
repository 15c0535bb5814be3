// Tokenisation and template normalisation of prompt text.
//
// Tokenize() splits text into lower-cased word tokens (ASCII letters and
// digits; other bytes separate words; UTF-8 sequences are kept inside words)
// and produces two hash streams in one pass:
//   - `words`: the word itself, for the phrase lexicon of features.h;
//   - `masked`: the same token with its variable slot masked, for template
//     fingerprints: numbers -> <num>, quoted text -> <q>, fenced or inline
//     code -> <code>, URLs -> <url>, e-mail addresses -> <email>,
//     capitalised words inside a sentence (names) -> <name>.
// Cost: O(bytes) -- word bytes are classified 16 at a time (SSE2 masks) and
// words of up to 16 bytes are lower-cased in one vector operation and hashed
// with XXH3's short-input path inline; the separators after a token are
// skipped in the same turn of the loop and tokens reach the vectors in
// batches of 128 (~30 instructions a byte of prose, ~190 a token, hashes
// included) -- bounded by kMaxTokens tokens (the head and tail of very long
// prompts are kept, the middle is skipped). No allocation beyond the two
// output vectors, which callers reuse.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace dg {

inline constexpr size_t kMaxTokens = 4096;

struct TokenStream {
  std::vector<uint64_t> words;
  std::vector<uint64_t> masked;
  size_t total_tokens = 0;  // including any skipped in the middle
  size_t code_blocks = 0;
  size_t numbers = 0;
  void Clear() {
    words.clear();
    masked.clear();
    total_tokens = code_blocks = numbers = 0;
  }
};

void Tokenize(std::string_view text, TokenStream* out);

// Hash of one lower-case word as Tokenize computes it (for lexicons).
uint64_t WordHash(std::string_view lower_word);

}  // namespace dg
