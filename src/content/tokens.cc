#include "content/tokens.h"

#include <array>
#include <cstring>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/hash.h"

namespace dg {
namespace {

constexpr uint64_t kWordSeed = 0x5eed0001;
const uint64_t kNumToken = Hash64("<num>", kWordSeed);
const uint64_t kQuoteToken = Hash64("<q>", kWordSeed);
const uint64_t kCodeToken = Hash64("<code>", kWordSeed);
const uint64_t kUrlToken = Hash64("<url>", kWordSeed);
const uint64_t kEmailToken = Hash64("<email>", kWordSeed);
const uint64_t kNameToken = Hash64("<name>", kWordSeed);

// What each byte is, looked up once per byte (one table load instead of a
// chain of comparisons).
enum ByteClass : uint8_t {
  kWordByte = 1,       // ASCII letter or digit, '_', or any byte >= 0x80 (UTF-8 stays inside words)
  kDigitByte = 2,      // '0'..'9'
  kAlphaByte = 4,      // ASCII letter
  kUpperByte = 8,      // 'A'..'Z'
  kSentenceByte = 16,  // . ? ! \n : -- the next word starts a sentence
  kJoinByte = 32,      // @ . / : - -- may continue a URL, e-mail or number
  kSpecialByte = 64,   // ` " -- code and quoted slots
  kUrlStartByte = 128, // h w -- may start "http://", "https://" or "www."
};

constexpr std::array<uint8_t, 256> MakeClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    uint8_t k = 0;
    const bool digit = c >= '0' && c <= '9';
    const bool upper = c >= 'A' && c <= 'Z';
    const bool lower = c >= 'a' && c <= 'z';
    if (digit || upper || lower || c == '_' || c >= 0x80) k |= kWordByte;
    if (digit) k |= kDigitByte;
    if (upper || lower) k |= kAlphaByte;
    if (upper) k |= kUpperByte;
    if (c == '.' || c == '?' || c == '!' || c == '\n' || c == ':') k |= kSentenceByte;
    if (c == '@' || c == '.' || c == '/' || c == ':' || c == '-') k |= kJoinByte;
    if (c == '`' || c == '"') k |= kSpecialByte;
    if (c == 'h' || c == 'w') k |= kUrlStartByte;
    t[static_cast<size_t>(c)] = k;
  }
  return t;
}
constexpr std::array<uint8_t, 256> kClass = MakeClasses();

inline uint8_t Class(char c) { return kClass[static_cast<unsigned char>(c)]; }

constexpr size_t kMaxQuoteLen = 300;
constexpr size_t kHeadTokens = kMaxTokens * 3 / 4;
constexpr size_t kTailBytes = 4096;
constexpr size_t kWordBytes = 64;  // a word is hashed on its first 64 bytes (numbers: 63)

// The first `c` in text[from, from + window), or npos.
size_t FindWithin(std::string_view text, size_t from, size_t window, char c) {
  if (from >= text.size()) return std::string_view::npos;
  const size_t len = std::min(window, text.size() - from);
  const void* hit = std::memchr(text.data() + from, c, len);
  return hit == nullptr ? std::string_view::npos : static_cast<size_t>(static_cast<const char*>(hit) - text.data());
}

// Whether text at p (avail bytes) starts "http://", "https://" or "www.".
inline bool StartsUrl(const char* p, size_t avail) {
  if (avail >= 4 && std::memcmp(p, "www.", 4) == 0) return true;
  if (avail < 7 || std::memcmp(p, "http", 4) != 0) return false;
  if (p[4] == ':') return p[5] == '/' && p[6] == '/';
  return avail >= 8 && p[4] == 's' && p[5] == ':' && p[6] == '/' && p[7] == '/';
}

// dst[0, len) = src[0, len) with A-Z lowered; other bytes (UTF-8 too) kept.
// Eight bytes at a time (SWAR): a byte is upper case when its low seven
// bits are in ['A', 'Z'] and its high bit is clear; 0x20 is added to those.
inline uint64_t LowerEight(uint64_t x) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  const uint64_t low7 = x & (0x7f * kOnes);
  const uint64_t ge_a = low7 + (0x80 - 'A') * kOnes;      // high bit set where >= 'A'
  const uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * kOnes;  // high bit set where > 'Z'
  const uint64_t upper = (ge_a & ~gt_z) & ~x & (0x80 * kOnes);
  return x | (upper >> 2);
}
inline void LowerAscii(const char* src, size_t len, char* dst) {
  if (len < 8) {
    for (size_t idx = 0; idx < len; ++idx) {
      const char c = src[idx];
      dst[idx] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    }
    return;
  }
  uint64_t x;
  size_t idx = 0;
  for (; idx + 8 <= len; idx += 8) {
    std::memcpy(&x, src + idx, 8);
    x = LowerEight(x);
    std::memcpy(dst + idx, &x, 8);
  }
  if (idx < len) {  // the last eight bytes again, overlapping
    std::memcpy(&x, src + len - 8, 8);
    x = LowerEight(x);
    std::memcpy(dst + len - 8, &x, 8);
  }
}

// Hash64(word, kWordSeed) with XXH3's short-input path called directly for
// words of up to 16 bytes (almost all of them): the same function XXH3
// dispatches to, inlined here, without the call and the length dispatch.
inline uint64_t HashWord(const char* p, size_t len) {
  if (len <= 16) return XXH3_len_0to16_64b(reinterpret_cast<const xxh_u8*>(p), len, XXH3_kSecret, kWordSeed);
  return Hash64(std::string_view(p, len), kWordSeed);
}

#ifdef __SSE2__
// The classes of 16 bytes at once, as bit masks (bit i = byte i): what
// kClass says of each byte, for the word-byte, letter and digit classes.
struct Masks16 {
  uint32_t word, alpha, digit;
};
// Whether each byte of x is in [lo, hi] (ASCII bounds): x - lo, shifted so
// that lo lands on -128, is below -128 + (hi - lo + 1) as a signed byte
// exactly then (one add and one compare).
inline __m128i InRange(__m128i x, char lo, char hi) {
  return _mm_cmplt_epi8(_mm_add_epi8(x, _mm_set1_epi8(static_cast<char>(0x80 - lo))),
                        _mm_set1_epi8(static_cast<char>(-128 + (hi - lo + 1))));
}
inline Masks16 Classify16(__m128i v) {
  const __m128i digit = InRange(v, '0', '9');
  // v | 0x20 maps A-Z onto a-z and no other byte into a-z.
  const __m128i alpha = InRange(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
  const __m128i high = _mm_cmplt_epi8(v, _mm_setzero_si128());
  const __m128i under = _mm_cmpeq_epi8(v, _mm_set1_epi8('_'));
  const __m128i word = _mm_or_si128(_mm_or_si128(digit, alpha), _mm_or_si128(high, under));
  return {static_cast<uint32_t>(_mm_movemask_epi8(word)), static_cast<uint32_t>(_mm_movemask_epi8(alpha)),
          static_cast<uint32_t>(_mm_movemask_epi8(digit))};
}
#endif

// Advances `end` over word bytes (kWordByte), noting whether any was a
// letter and whether all were digits. Sixteen bytes at a time while that
// many remain, then byte by byte: the same bytes as the byte-class loop.
inline size_t ScanWordBytes(const char* s, size_t end, size_t n, bool* has_alpha, bool* all_digits) {
#ifdef __SSE2__
  while (n - end >= 16) {
    const Masks16 m = Classify16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + end)));
    const uint32_t stop = ~m.word & 0xffffu;
    const unsigned run = stop == 0 ? 16u : static_cast<unsigned>(__builtin_ctz(stop));
    const uint32_t bits = (1u << run) - 1u;
    *has_alpha |= (m.alpha & bits) != 0;
    *all_digits &= (m.digit & bits) == bits;
    end += run;
    if (run < 16) return end;
  }
#endif
  uint8_t k;
  while (end < n && ((k = Class(s[end])) & kWordByte)) {
    *has_alpha |= (k & kAlphaByte) != 0;
    *all_digits &= (k & kDigitByte) != 0;
    ++end;
  }
  return end;
}

// Hash of the lower-cased first min(len, kWordBytes) bytes of a token at
// tok (`avail` bytes readable from tok).
inline uint64_t LowerHash(const char* tok, size_t len, size_t avail, char* word) {
  const size_t hashed = std::min(len, kWordBytes);
#ifdef __SSE2__
  if (hashed <= 16 && avail >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tok));
    const __m128i upper = InRange(v, 'A', 'Z');
    _mm_storeu_si128(reinterpret_cast<__m128i*>(word), _mm_add_epi8(v, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
    return HashWord(word, hashed);
  }
#endif
  LowerAscii(tok, hashed, word);
  return HashWord(word, hashed);
}

// The streams under construction. Tokens are gathered in small arrays on the
// stack and appended to the vectors kBuf at a time: a push_back per token
// reloads the vector's fields from memory and checks its capacity, which
// costs about as much as the rest of a short word. `words` counts every
// word emitted (what words.size() would be). TokenizeInto fills the arrays
// through locals and keeps nw, nm and words up to date here whenever it
// hands the sink on (a quoted slot) or returns.
struct TokenSink {
  static constexpr size_t kBuf = 128;
  explicit TokenSink(TokenStream* stream) : out(stream), words(stream->words.size()), first(words) {}

  // buf[*fill] = v, after appending a full buf to `dst`.
  static void Put(uint64_t v, uint64_t* buf, size_t* fill, std::vector<uint64_t>* dst) {
    if (*fill == kBuf) Flush(buf, fill, dst);
    buf[(*fill)++] = v;
  }
  static void Flush(uint64_t* buf, size_t* fill, std::vector<uint64_t>* dst) {
    dst->insert(dst->end(), buf, buf + *fill);
    *fill = 0;
  }
  // Appends what is gathered and the counts to `out`.
  void Finish() {
    Flush(wbuf, &nw, &out->words);
    Flush(mbuf, &nm, &out->masked);
    out->total_tokens += words - first;  // every token emitted is one word
    out->code_blocks += code_blocks;
    out->numbers += numbers;
  }

  TokenStream* out;
  size_t words;  // out->words.size() once flushed
  size_t first;  // out->words.size() at the start
  size_t code_blocks = 0, numbers = 0;
  size_t nw = 0, nm = 0;
  uint64_t wbuf[kBuf];
  uint64_t mbuf[kBuf];
};

// Skips a run of plain separators -- bytes that are neither word bytes nor
// '`' / '"' -- from `pos`; the only thing they do is start a sentence
// ('.', '?', '!', '\n', ':').
inline size_t SkipSeparators(const char* s, size_t pos, size_t n, bool* sentence_start) {
  uint8_t cls;
  while (pos < n && !((cls = Class(s[pos])) & (kWordByte | kSpecialByte))) {
    if (cls & kSentenceByte) *sentence_start = true;
    ++pos;
  }
  return pos;
}

// One pass over `text`. kWordsOnly: the words inside a quoted slot, which
// only feed the lexicon stream (no masked tokens, no counts of numbers or
// code blocks) -- what the tokenizer has always done with them.
//
// Facts the scan relies on (each follows from the join rule, and
// tokens_equivalence_test.cc checks the whole against the earlier
// implementation): a joined punctuation byte is always followed by a word
// byte, so no token contains "://"; a quoted slot holds no '"' and is at
// most kMaxQuoteLen bytes, so it never reaches the head/tail skip. The
// separators after a token are skipped right after it (not by another turn
// of the loop): the head/tail check at the top of the loop cannot fire
// inside a run of separators unless it fires at the run's first byte (the
// word count does not change there and the bytes left only shrink), so the
// shortcut is taken only when it cannot fire at all.
template <bool kWordsOnly>
void TokenizeInto(std::string_view text, TokenSink& sink) {
  const char* const s = text.data();
  const size_t n = text.size();
  alignas(16) char word[kWordBytes];
  bool sentence_start = true;
  size_t pos = 0;
  // The sink's fill levels and word count in locals for the loop (the
  // compiler keeps them in registers; as fields they went to memory and
  // back for every token); written back around a quoted slot and at the end.
  size_t nw = sink.nw, nm = sink.nm, words = sink.words;
  auto emit = [&](uint64_t w) {
    TokenSink::Put(w, sink.wbuf, &nw, &sink.out->words);
    ++words;
  };
  auto emit_masked = [&](uint64_t m) { TokenSink::Put(m, sink.mbuf, &nm, &sink.out->masked); };
  while (pos < n) {
    if constexpr (!kWordsOnly) {
      if (words >= kHeadTokens && n - pos > kTailBytes) {
        // Skip the middle of a very long prompt; keep its tail.
        size_t jump = n - kTailBytes;
        while (jump < n && (Class(s[jump]) & kWordByte)) ++jump;
        pos = jump;
        sentence_start = false;
        if (words >= kMaxTokens) break;
        if (pos >= n) break;
      }
    }
    const char c = s[pos];
    const uint8_t cls = Class(c);
    if (!(cls & kWordByte)) {
      if (cls & kSpecialByte) {
        if (c == '`') {
          // Fenced code block ```...```: one <code> token; `inline`: too.
          if (n - pos >= 3 && s[pos + 1] == '`' && s[pos + 2] == '`') {
            const size_t close = text.find("```", pos + 3);
            pos = close == std::string_view::npos ? n : close + 3;
          } else {
            const size_t close = FindWithin(text, pos + 1, kMaxQuoteLen, '`');
            if (close == std::string_view::npos) {
              ++pos;
              continue;
            }
            pos = close + 1;
          }
          if constexpr (!kWordsOnly) ++sink.code_blocks;
          emit(kCodeToken);
          if constexpr (!kWordsOnly) emit_masked(kCodeToken);
          continue;
        }
        // '"': a quoted slot of 1..kMaxQuoteLen-1 bytes is one <q> token;
        // the words inside still feed the lexicon stream.
        const size_t close = FindWithin(text, pos + 1, kMaxQuoteLen, '"');
        if constexpr (!kWordsOnly) {
          if (close != std::string_view::npos && close > pos + 1) {
            sink.nw = nw;
            sink.nm = nm;
            sink.words = words;
            TokenizeInto<true>(text.substr(pos + 1, close - pos - 1), sink);
            nw = sink.nw;
            nm = sink.nm;
            words = sink.words;
            emit_masked(kQuoteToken);
            pos = close + 1;
            continue;
          }
        }
        ++pos;
        continue;
      }
      pos = SkipSeparators(s, pos, n, &sentence_start);
      continue;
    }
    uint64_t w, m;
    if ((cls & kUrlStartByte) && StartsUrl(s + pos, n - pos)) {
      // URLs run to the next whitespace: one <url> token.
      while (pos < n && s[pos] != ' ' && s[pos] != '\n' && s[pos] != '\t' && s[pos] != ')') ++pos;
      sentence_start = false;
      w = m = kUrlToken;
    } else {
      // A word, an e-mail address or a number. The classes of its word
      // bytes are OR-ed and AND-ed together: has a letter = OR has
      // kAlphaByte, all digits = AND has kDigitByte (joined punctuation
      // counts for neither).
      size_t end = pos;
      bool has_at = false;
      bool has_alpha = false;
      bool all_digits = true;
      for (;;) {
        end = ScanWordBytes(s, end, n, &has_alpha, &all_digits);
        if (end + 1 >= n) break;
        // Keep e-mail / decimal punctuation inside the token: '.' and '-'
        // join inside e-mails and numbers, '/' and ':' only after a bare
        // "http" / "https"; each only before another word byte.
        const char b = s[end];
        if (!(Class(b) & kJoinByte) || !(Class(s[end + 1]) & kWordByte)) break;
        if (b == '@') {
          has_at = true;
        } else if (b == '.' || b == '-') {
          if (!has_at && !all_digits) break;
        } else {  // '/' or ':'
          const size_t so_far = end - pos;
          if (!((so_far == 4 || (so_far == 5 && s[pos + 4] == 's')) && std::memcmp(s + pos, "http", 4) == 0)) break;
        }
        ++end;
      }
      const size_t len = end - pos;
      const char* const tok = s + pos;
      const bool was_sentence_start = sentence_start;
      sentence_start = false;
      pos = end;
      if (has_at) {
        w = m = kEmailToken;
      } else if (all_digits || !has_alpha) {
        // No ASCII letter: the lower-cased bytes are the bytes themselves.
        // Only digits (with joined '.' / '-') are a number slot; a word of
        // another script ("привет", "思考") is a word, not <num>: masked
        // as one, every Cyrillic or Chinese prompt of a shape was one
        // template, and counted as numbers they made it maths.
        w = HashWord(tok, std::min(len, kWordBytes - 1));
        if (all_digits) {
          if constexpr (!kWordsOnly) ++sink.numbers;
          m = kNumToken;
        } else {
          m = w;
        }
      } else {
        const bool capitalised = len > 1 && tok[0] >= 'A' && tok[0] <= 'Z' && tok[1] >= 'a' && tok[1] <= 'z';
        w = LowerHash(tok, len, static_cast<size_t>(s + n - tok), word);
        m = (capitalised && !was_sentence_start) ? kNameToken : w;
      }
    }
    emit(w);
    if constexpr (!kWordsOnly) {
      emit_masked(m);
      if (words >= kHeadTokens) continue;  // the loop's head/tail check may fire next
    }
    pos = SkipSeparators(s, pos, n, &sentence_start);
  }
  sink.nw = nw;
  sink.nm = nm;
  sink.words = words;
}

}  // namespace

uint64_t WordHash(std::string_view lower_word) { return Hash64(lower_word, kWordSeed); }

void Tokenize(std::string_view text, TokenStream* out) {
  out->Clear();
  TokenSink sink(out);
  TokenizeInto<false>(text, sink);
  sink.Finish();
}

}  // namespace dg
