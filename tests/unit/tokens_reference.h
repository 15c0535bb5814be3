// The tokenizer as it was before the byte-class rewrite (commit a9e477b),
// kept verbatim as the reference the rewrite must match token for token
// (tokens_equivalence_test.cc). Test-only: not linked into distillguard.
#pragma once

#include <algorithm>

#include "common/hash.h"
#include "content/tokens.h"

namespace dg::reference {
namespace {

constexpr uint64_t kWordSeed = 0x5eed0001;
const uint64_t kNumToken = Hash64("<num>", kWordSeed);
const uint64_t kQuoteToken = Hash64("<q>", kWordSeed);
const uint64_t kCodeToken = Hash64("<code>", kWordSeed);
const uint64_t kUrlToken = Hash64("<url>", kWordSeed);
const uint64_t kEmailToken = Hash64("<email>", kWordSeed);
const uint64_t kNameToken = Hash64("<name>", kWordSeed);

inline bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}
inline char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

constexpr size_t kMaxQuoteLen = 300;
constexpr size_t kHeadTokens = kMaxTokens * 3 / 4;
constexpr size_t kTailBytes = 4096;

}  // namespace

inline uint64_t WordHash(std::string_view lower_word) { return Hash64(lower_word, kWordSeed); }

inline void Tokenize(std::string_view text, TokenStream* out) {
  out->Clear();
  char word[64];
  bool sentence_start = true;
  size_t pos = 0;
  const size_t n = text.size();
  auto emit = [&](uint64_t w, uint64_t m) {
    ++out->total_tokens;
    out->words.push_back(w);
    out->masked.push_back(m);
  };
  while (pos < n) {
    if (out->words.size() >= kHeadTokens && n - pos > kTailBytes) {
      // Skip the middle of a very long prompt; keep its tail.
      size_t jump = n - kTailBytes;
      while (jump < n && IsWordByte(static_cast<unsigned char>(text[jump]))) ++jump;
      pos = jump;
      sentence_start = false;
      if (out->words.size() >= kMaxTokens) break;
    }
    const char c = text[pos];
    // Fenced code block ```...```: one <code> token.
    if (c == '`') {
      if (text.compare(pos, 3, "```") == 0) {
        const size_t close = text.find("```", pos + 3);
        pos = close == std::string_view::npos ? n : close + 3;
      } else {
        const size_t close = text.find('`', pos + 1);
        if (close == std::string_view::npos || close - pos > kMaxQuoteLen) {
          ++pos;
          continue;
        }
        pos = close + 1;
      }
      ++out->code_blocks;
      emit(kCodeToken, kCodeToken);
      continue;
    }
    if (c == '"') {
      const size_t close = text.find('"', pos + 1);
      if (close != std::string_view::npos && close - pos <= kMaxQuoteLen && close > pos + 1) {
        // Quoted slot: words inside still feed the lexicon stream.
        TokenStream inner;
        reference::Tokenize(text.substr(pos + 1, close - pos - 1), &inner);
        for (const uint64_t w : inner.words) {
          ++out->total_tokens;
          out->words.push_back(w);
        }
        out->masked.push_back(kQuoteToken);
        pos = close + 1;
        continue;
      }
      ++pos;
      continue;
    }
    // URLs run to the next whitespace: one <url> token.
    if ((c == 'h' || c == 'H' || c == 'w') &&
        (text.compare(pos, 7, "http://") == 0 || text.compare(pos, 8, "https://") == 0 || text.compare(pos, 4, "www.") == 0)) {
      while (pos < n && text[pos] != ' ' && text[pos] != '\n' && text[pos] != '\t' && text[pos] != ')') ++pos;
      sentence_start = false;
      emit(kUrlToken, kUrlToken);
      continue;
    }
    if (!IsWordByte(static_cast<unsigned char>(c))) {
      if (c == '.' || c == '?' || c == '!' || c == '\n' || c == ':') sentence_start = true;
      ++pos;
      continue;
    }
    // A word, URL or e-mail address.
    size_t end = pos;
    bool has_at = false;
    bool has_alpha = false;
    bool all_digits = true;
    while (end < n) {
      const auto b = static_cast<unsigned char>(text[end]);
      if (IsWordByte(b)) {
        if (!(b >= '0' && b <= '9')) all_digits = false;
        if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')) has_alpha = true;
        ++end;
        continue;
      }
      // Keep URL / e-mail / decimal punctuation inside the token.
      if ((b == '@' || b == '.' || b == '/' || b == ':' || b == '-') && end + 1 < n &&
          IsWordByte(static_cast<unsigned char>(text[end + 1]))) {
        if (b == '@') has_at = true;
        if (b == '.' || b == '-') {
          // a '.' or '-' only joins inside URLs, e-mails and numbers
          const std::string_view so_far = text.substr(pos, end - pos);
          if (!has_at && so_far.find("://") == std::string_view::npos && !all_digits) break;
        }
        if (b == '/' || b == ':') {
          const std::string_view so_far = text.substr(pos, end - pos);
          if (so_far != "http" && so_far != "https" && so_far.find("://") == std::string_view::npos) break;
        }
        ++end;
        continue;
      }
      break;
    }
    const std::string_view tok = text.substr(pos, end - pos);
    const bool was_sentence_start = sentence_start;
    sentence_start = false;
    pos = end;
    if (tok.find("://") != std::string_view::npos) {
      emit(kUrlToken, kUrlToken);
      continue;
    }
    if (has_at) {
      emit(kEmailToken, kEmailToken);
      continue;
    }
    if (all_digits) {
      ++out->numbers;
      emit(WordHash(tok.substr(0, 63)), kNumToken);
      continue;
    }
    if (!has_alpha) {  // a word of another script: itself, not <num>
      const uint64_t h = WordHash(tok.substr(0, 63));
      emit(h, h);
      continue;
    }
    const size_t len = std::min(tok.size(), sizeof(word));
    for (size_t idx = 0; idx < len; ++idx) word[idx] = Lower(tok[idx]);
    const uint64_t w = WordHash(std::string_view(word, len));
    const bool capitalised = tok[0] >= 'A' && tok[0] <= 'Z' && tok.size() > 1 && tok[1] >= 'a' && tok[1] <= 'z';
    emit(w, (capitalised && !was_sentence_start) ? kNameToken : w);
  }
}

}  // namespace dg::reference
