// The byte-class tokenizer (content/tokens.cc) against the implementation it
// replaced (tokens_reference.h): the same words, masked tokens and counts,
// token for token, on text built to hit every branch -- quotes and backticks
// near the 300-byte limit, URLs, e-mail addresses, numbers with '.' and '-',
// "http:" joins, capitalised words after sentence ends, UTF-8, and prompts
// long enough to skip their middle. Template clusters, lexicon flags and
// frames are functions of these streams, so equal streams mean the same
// verdicts, byte for byte.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/rng.h"
#include "content/tokens.h"
#include "tokens_reference.h"

namespace dg {
namespace {

void ExpectSame(const std::string& text) {
  TokenStream got, want;
  Tokenize(text, &got);
  reference::Tokenize(text, &want);
  ASSERT_EQ(got.words, want.words) << "text: " << text.substr(0, 400);
  ASSERT_EQ(got.masked, want.masked) << "text: " << text.substr(0, 400);
  ASSERT_EQ(got.total_tokens, want.total_tokens);
  ASSERT_EQ(got.code_blocks, want.code_blocks);
  ASSERT_EQ(got.numbers, want.numbers);
}

const char* const kPieces[] = {
    "the ", "The ", "Alice ", "step by step", ". ", "? ", "!", "\n", ":", " - ", "-", ".", "@", "/", "@x.org",
    "bob@mail.example.com ", "http://a.b/c?d=1 ", "https://x.io/p)", "www.site.org ", "http:foo ", "https/x ",
    "httpx://y ", "H", "w", "3.14 ", "1-2-3 ", "v1.2.3 ", "2026-04-01 ", "\"", "\"quoted words here\" ",
    "\"\"", "`", "`x` ", "```\ncode\n```", "``", "_under_score ", "caf\xc3\xa9 ", "\xe4\xb8\xad\xe6\x96\x87 ",
    "\xff", "\t", "  ", "ABC ", "aB ", "Zz", "0", "9x ", "x9 ", "e.g. ", "a.b ", "1@2 ", "a@b.c-d ", "ok.", "-x",
    "Think Through ", "\"Unclosed ", "(`", "')", "\r\n",
};

std::string RandomText(Rng& rng, size_t pieces) {
  std::string s;
  for (size_t idx = 0; idx < pieces; ++idx) {
    const uint64_t r = rng.Next();
    if (r % 7 == 0) {
      s.push_back(static_cast<char>(rng.Next() & 0xff));  // any byte at all
    } else if (r % 11 == 0) {
      s.append(static_cast<size_t>(rng.Next() % 320), static_cast<char>("a \"`"[rng.Next() % 4]));
    } else {
      s += kPieces[rng.Next() % (sizeof(kPieces) / sizeof(kPieces[0]))];
    }
  }
  return s;
}

TEST(TokenizerEquivalence, HandWrittenEdgeCases) {
  for (const std::string& text : std::vector<std::string>{
           "", "a", "A", "\"", "\"\"", "\"a\"", "`", "``", "```", "````", "```a", "`a`", "http://", "http:", "https://x",
        "www.", "a@b", "a@", "@a", "1.", ".1", "1.2", "a.b", "a-b", "1-b", "b-1", "http:x", "http/x", "https:x",
        "HTTP://x", "Www.x", "Hello. World Again", "see Maria, Bob and Éva", "x \"" + std::string(298, 'a') + "\" y",
        "x \"" + std::string(299, 'a') + "\" y", "x \"" + std::string(300, 'a') + "\" y", "x `" + std::string(299, 'b') + "` y",
        "x `" + std::string(300, 'b') + "` y", std::string(70, 'Q') + " " + std::string(70, '7'), std::string(63, '1') + "2"}) {
    ExpectSame(text);
  }
}

TEST(TokenizerEquivalence, RandomTextOfEveryBranch) {
  Rng rng(20261203);
  for (int round = 0; round < 20000; ++round) ExpectSame(RandomText(rng, 1 + rng.Next() % 80));
}

TEST(TokenizerEquivalence, LongPromptsSkipTheirMiddleAlike) {
  Rng rng(7);
  for (int round = 0; round < 40; ++round) {
    std::string text = RandomText(rng, 3000 + rng.Next() % 6000);
    ExpectSame(text);
  }
  // A tail that is one long word (the skip lands at the end of the text).
  ExpectSame(std::string(20000, 'w') + " tail");
  std::string words;
  for (int idx = 0; idx < 5000; ++idx) words += "word ";
  ExpectSame(words + std::string(5000, 'z'));
}

// Tokens reach the streams in batches (content/tokens.cc gathers 128 at a
// time): counts around and across a batch, inside and outside quoted slots.
TEST(TokenizerEquivalence, BatchBoundaries) {
  for (size_t words : {size_t{1}, size_t{127}, size_t{128}, size_t{129}, size_t{255}, size_t{256}, size_t{257}, size_t{1000}}) {
    std::string text;
    for (size_t idx = 0; idx < words; ++idx) text += idx % 5 == 0 ? "Word " : "x ";
    ExpectSame(text);
    // A quoted slot of 140 one-letter words: the lexicon stream gets them
    // all, the masked stream one <q>, whatever the batch holds already.
    std::string quoted = "\"";
    for (int idx = 0; idx < 140; ++idx) quoted += "q ";
    quoted += "\" ";
    ExpectSame(text + quoted + text);
    ExpectSame(quoted + text + quoted);
  }
}

// The separators after a token are skipped right after it, except when the
// word count has reached the head limit: runs of separators (sentence ends,
// spaces, new lines, tabs, brackets) next to capitalised words, numbers,
// URLs and words that start like a URL, with the head limit reached at
// every position of such a run.
TEST(TokenizerEquivalence, SeparatorRunsAndTheHeadLimit) {
  const char* const kSeparators[] = {" ", "  ", ". ", ".\n\n", " ? ", "!", ":\t", " (", ") ", ",", " ; ", "\r\n", "...", " - ", "\n"};
  const char* const kWords[] = {"Name", "name", "http", "https", "www", "what", "hello", "12", "3.5", "a@b.c", "http://x.y/z", "www.a.b", "W", "h"};
  Rng rng(42);
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t pieces = 1 + rng.Next() % 60;
    for (size_t idx = 0; idx < pieces; ++idx) {
      text += kWords[rng.Next() % (sizeof(kWords) / sizeof(kWords[0]))];
      text += kSeparators[rng.Next() % (sizeof(kSeparators) / sizeof(kSeparators[0]))];
    }
    ExpectSame(text);
  }
  const size_t head = kMaxTokens * 3 / 4;
  for (size_t before = head - 3; before <= head + 2; ++before) {
    for (const char* sep : kSeparators) {
      std::string text;
      for (size_t idx = 0; idx < before; ++idx) text += "w ";
      text += "last";
      text += sep;
      text += "Name middle ";
      std::string tail;
      for (int idx = 0; tail.size() < 5000; ++idx) tail += idx % 3 == 0 ? ". Then " : "word ";
      ExpectSame(text + tail);
      ExpectSame(text + sep + tail + sep);
    }
  }
  // The head limit reached by the word before a run of separators that
  // straddles the start of the kept tail (the last 4096 bytes): the skip
  // lands inside the run, after its sentence end.
  for (size_t before = head - 1; before <= head; ++before) {
    std::string text;
    for (size_t idx = 0; idx < before; ++idx) text += "w ";
    text += "last";
    for (const std::string run : {".  \n  ", "!\t\t\t", ":         "}) {
      for (size_t rest = 4086; rest <= 4100; ++rest) {
        std::string tail = "Name";
        while (tail.size() + 2 <= rest) tail += " z";
        tail.resize(rest, 'z');
        ExpectSame(text + run + tail);
      }
    }
  }
}

}  // namespace
}  // namespace dg
