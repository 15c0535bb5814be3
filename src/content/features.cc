#include "content/features.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

namespace dg {
namespace {

// What a phrase says about a request.
enum class Mark : uint8_t { kFlag, kCapability };

struct Phrase {
  const char* text;
  Mark mark;
  uint32_t value;  // ContentFlag or Capability
};

constexpr uint32_t Cap(Capability c) { return static_cast<uint32_t>(c); }

// Why these families exist:
// - Reasoning elicitation: harvesting chain-of-thought is the most valuable
//   output for training a reasoning model (reported 2026 campaigns asked for
//   step-by-step internal reasoning). Real users ask for it too, so it is
//   evidence, never a verdict.
// - Reasoning reconstruction: asking the model to invent the reasoning
//   behind an answer it is given ("imagine and articulate the internal
//   reasoning behind a completed response") only makes sense as data
//   generation.
// - Rubric grading: using the model as a reward model / judge.
// - Data generation: explicit requests for training examples.
// Capability words follow the areas campaigns reportedly targeted.
const Phrase kPhrases[] = {
    // reasoning elicitation
    {"step by step", Mark::kFlag, kFlagCot},
    {"think through", Mark::kFlag, kFlagCot},
    {"chain of thought", Mark::kFlag, kFlagCot},
    {"show your reasoning", Mark::kFlag, kFlagCot},
    {"show your work", Mark::kFlag, kFlagCot},
    {"explain your reasoning", Mark::kFlag, kFlagCot},
    {"reasoning process", Mark::kFlag, kFlagCot},
    {"thought process", Mark::kFlag, kFlagCot},
    {"reason through", Mark::kFlag, kFlagCot},
    {"think carefully", Mark::kFlag, kFlagCot},
    {"let s think", Mark::kFlag, kFlagCot},
    {"lets think", Mark::kFlag, kFlagCot},
    {"full reasoning", Mark::kFlag, kFlagCot},
    {"complete reasoning", Mark::kFlag, kFlagCot},
    {"detailed reasoning", Mark::kFlag, kFlagCot},
    {"your reasoning", Mark::kFlag, kFlagCot},
    {"internal reasoning", Mark::kFlag, kFlagCot},
    {"reasoning trace", Mark::kFlag, kFlagCot},
    {"reasoning steps", Mark::kFlag, kFlagCot},
    {"intermediate steps", Mark::kFlag, kFlagCot},
    {"think aloud", Mark::kFlag, kFlagCot},
    {"think out loud", Mark::kFlag, kFlagCot},
    {"walk me through", Mark::kFlag, kFlagCot},
    {"walk through your", Mark::kFlag, kFlagCot},
    {"before answering", Mark::kFlag, kFlagCot},
    {"before giving the final answer", Mark::kFlag, kFlagCot},
    {"explain each step", Mark::kFlag, kFlagCot},
    // reasoning reconstruction
    {"reasoning behind", Mark::kFlag, kFlagRecon},
    {"reconstruct the reasoning", Mark::kFlag, kFlagRecon},
    {"reasoning that led to", Mark::kFlag, kFlagRecon},
    {"reasoning that leads to", Mark::kFlag, kFlagRecon},
    {"completed response", Mark::kFlag, kFlagRecon},
    {"given the final answer", Mark::kFlag, kFlagRecon},
    {"given the answer", Mark::kFlag, kFlagRecon},
    {"arrive at this answer", Mark::kFlag, kFlagRecon},
    {"arrived at this answer", Mark::kFlag, kFlagRecon},
    {"arrive at the given answer", Mark::kFlag, kFlagRecon},
    {"articulate the", Mark::kFlag, kFlagRecon},
    {"rationale for the answer", Mark::kFlag, kFlagRecon},
    {"write out the reasoning", Mark::kFlag, kFlagRecon},
    {"hidden reasoning", Mark::kFlag, kFlagRecon},
    // rubric / judge
    {"rubric", Mark::kFlag, kFlagRubric},
    {"impartial judge", Mark::kFlag, kFlagRubric},
    {"act as a judge", Mark::kFlag, kFlagRubric},
    {"rate the response", Mark::kFlag, kFlagRubric},
    {"rate the quality", Mark::kFlag, kFlagRubric},
    {"score the response", Mark::kFlag, kFlagRubric},
    {"grade the response", Mark::kFlag, kFlagRubric},
    {"grade the following", Mark::kFlag, kFlagRubric},
    {"evaluate the response", Mark::kFlag, kFlagRubric},
    {"evaluate the quality", Mark::kFlag, kFlagRubric},
    {"on a scale of 1 to 10", Mark::kFlag, kFlagRubric},
    {"on a scale of 1 to 5", Mark::kFlag, kFlagRubric},
    {"scale of 1 10", Mark::kFlag, kFlagRubric},
    {"which response is better", Mark::kFlag, kFlagRubric},
    {"which assistant", Mark::kFlag, kFlagRubric},
    {"scoring criteria", Mark::kFlag, kFlagRubric},
    {"reward model", Mark::kFlag, kFlagRubric},
    {"preference label", Mark::kFlag, kFlagRubric},
    // data generation
    {"training data", Mark::kFlag, kFlagDataGen},
    {"synthetic data", Mark::kFlag, kFlagDataGen},
    {"synthetic dataset", Mark::kFlag, kFlagDataGen},
    {"fine tuning dataset", Mark::kFlag, kFlagDataGen},
    {"instruction response pairs", Mark::kFlag, kFlagDataGen},
    {"question answer pairs", Mark::kFlag, kFlagDataGen},
    {"diverse examples", Mark::kFlag, kFlagDataGen},
    // capabilities
    {"python", Mark::kCapability, Cap(Capability::kCoding)},
    {"javascript", Mark::kCapability, Cap(Capability::kCoding)},
    {"typescript", Mark::kCapability, Cap(Capability::kCoding)},
    {"java", Mark::kCapability, Cap(Capability::kCoding)},
    {"rust", Mark::kCapability, Cap(Capability::kCoding)},
    {"sql", Mark::kCapability, Cap(Capability::kCoding)},
    {"function", Mark::kCapability, Cap(Capability::kCoding)},
    {"code", Mark::kCapability, Cap(Capability::kCoding)},
    {"program", Mark::kCapability, Cap(Capability::kCoding)},
    {"bug", Mark::kCapability, Cap(Capability::kCoding)},
    {"compile", Mark::kCapability, Cap(Capability::kCoding)},
    {"implement", Mark::kCapability, Cap(Capability::kCoding)},
    {"algorithm", Mark::kCapability, Cap(Capability::kCoding)},
    {"regex", Mark::kCapability, Cap(Capability::kCoding)},
    {"api", Mark::kCapability, Cap(Capability::kCoding)},
    {"refactor", Mark::kCapability, Cap(Capability::kCoding)},
    {"unit test", Mark::kCapability, Cap(Capability::kCoding)},
    {"repository", Mark::kCapability, Cap(Capability::kCoding)},
    {"script", Mark::kCapability, Cap(Capability::kCoding)},
    {"solve", Mark::kCapability, Cap(Capability::kMath)},
    {"equation", Mark::kCapability, Cap(Capability::kMath)},
    {"integral", Mark::kCapability, Cap(Capability::kMath)},
    {"derivative", Mark::kCapability, Cap(Capability::kMath)},
    {"prove", Mark::kCapability, Cap(Capability::kMath)},
    {"theorem", Mark::kCapability, Cap(Capability::kMath)},
    {"probability", Mark::kCapability, Cap(Capability::kMath)},
    {"calculate", Mark::kCapability, Cap(Capability::kMath)},
    {"compute", Mark::kCapability, Cap(Capability::kMath)},
    {"matrix", Mark::kCapability, Cap(Capability::kMath)},
    {"polynomial", Mark::kCapability, Cap(Capability::kMath)},
    {"puzzle", Mark::kCapability, Cap(Capability::kReasoning)},
    {"logic", Mark::kCapability, Cap(Capability::kReasoning)},
    {"riddle", Mark::kCapability, Cap(Capability::kReasoning)},
    {"deduce", Mark::kCapability, Cap(Capability::kReasoning)},
    {"infer", Mark::kCapability, Cap(Capability::kReasoning)},
    {"argument", Mark::kCapability, Cap(Capability::kReasoning)},
    {"plan", Mark::kCapability, Cap(Capability::kAgentic)},
    {"multi step", Mark::kCapability, Cap(Capability::kAgentic)},
    {"tool", Mark::kCapability, Cap(Capability::kAgentic)},
    {"tools", Mark::kCapability, Cap(Capability::kAgentic)},
    {"agent", Mark::kCapability, Cap(Capability::kAgentic)},
    {"subtasks", Mark::kCapability, Cap(Capability::kAgentic)},
    {"execute", Mark::kCapability, Cap(Capability::kAgentic)},
    {"story", Mark::kCapability, Cap(Capability::kWriting)},
    {"poem", Mark::kCapability, Cap(Capability::kWriting)},
    {"essay", Mark::kCapability, Cap(Capability::kWriting)},
    {"email", Mark::kCapability, Cap(Capability::kWriting)},
    {"blog", Mark::kCapability, Cap(Capability::kWriting)},
    {"rewrite", Mark::kCapability, Cap(Capability::kWriting)},
    {"summarize", Mark::kCapability, Cap(Capability::kWriting)},
    {"summarise", Mark::kCapability, Cap(Capability::kWriting)},
    {"letter", Mark::kCapability, Cap(Capability::kWriting)},
    {"article", Mark::kCapability, Cap(Capability::kWriting)},
    {"act as", Mark::kCapability, Cap(Capability::kRoleplay)},
    {"pretend", Mark::kCapability, Cap(Capability::kRoleplay)},
    {"roleplay", Mark::kCapability, Cap(Capability::kRoleplay)},
    {"role play", Mark::kCapability, Cap(Capability::kRoleplay)},
    {"in character", Mark::kCapability, Cap(Capability::kRoleplay)},
    {"imagine you are", Mark::kCapability, Cap(Capability::kRoleplay)},
};

struct CompiledPhrase {
  std::vector<uint64_t> rest;  // tokens after the first
  Mark mark;
  uint32_t value;
};

// Splits a phrase into words the way Tokenize does.
std::vector<uint64_t> PhraseTokens(std::string_view phrase) {
  std::vector<uint64_t> out;
  size_t pos = 0;
  while (pos < phrase.size()) {
    const size_t sp = phrase.find(' ', pos);
    const size_t end = sp == std::string_view::npos ? phrase.size() : sp;
    if (end > pos) out.push_back(WordHash(phrase.substr(pos, end - pos)));
    pos = end + 1;
  }
  return out;
}

const absl::flat_hash_map<uint64_t, std::vector<CompiledPhrase>>& Lexicon() {
  static const auto* lexicon = [] {
    auto* m = new absl::flat_hash_map<uint64_t, std::vector<CompiledPhrase>>();
    for (const auto& p : kPhrases) {
      auto toks = PhraseTokens(p.text);
      const uint64_t first = toks.front();
      toks.erase(toks.begin());
      (*m)[first].push_back(CompiledPhrase{std::move(toks), p.mark, p.value});
    }
    return m;
  }();
  return *lexicon;
}

constexpr std::array<std::string_view, kCapabilityCount> kCapabilityNames = {
    "general", "coding", "maths", "reasoning", "agentic", "writing", "roleplay"};

// Reasoning elicitation also shows as an exposition verb followed closely
// by a reasoning noun ("lay out your line of thought", "describe each
// step", "narrate the rationale"), however it is paraphrased.
constexpr std::string_view kExpositionVerbs[] = {"explain", "show", "walk", "describe", "articulate", "outline",
                                                 "detail", "write", "narrate", "lay", "justify", "reveal",
                                                 "present", "include", "give", "provide", "elaborate", "clarify"};
constexpr std::string_view kReasoningNouns[] = {"reasoning", "thinking", "thought", "thoughts", "rationale", "logic",
                                                "steps", "step", "derivation", "workings", "process"};
constexpr size_t kCotWindow = 6;

// Bitmaps over the low bits of word hashes: a word whose bit is clear is
// certainly not a phrase start, verb or noun, so most words cost one load
// instead of a hash-table probe (the hashes are XXH3, their low bits
// uniform; with ~150 words in 4096 bits, ~4% of other words pass to the
// exact lookup).
class WordFilter {
 public:
  void Add(uint64_t h) { bits_[Slot(h)] |= Bit(h); }
  bool MayContain(uint64_t h) const { return (bits_[Slot(h)] & Bit(h)) != 0; }

 private:
  static constexpr size_t kBits = 4096;
  static size_t Slot(uint64_t h) { return (h % kBits) / 64; }
  static uint64_t Bit(uint64_t h) { return uint64_t{1} << (h % 64); }
  std::array<uint64_t, kBits / 64> bits_{};
};

struct WordSets {
  absl::flat_hash_set<uint64_t> nouns, verbs;
  WordFilter noun_filter, verb_filter, phrase_filter;
};

const WordSets& Words() {
  static const auto* sets = [] {
    auto* out = new WordSets();
    for (const auto w : kReasoningNouns) {
      out->nouns.insert(WordHash(w));
      out->noun_filter.Add(WordHash(w));
    }
    for (const auto w : kExpositionVerbs) {
      out->verbs.insert(WordHash(w));
      out->verb_filter.Add(WordHash(w));
    }
    for (const auto& [first, phrases] : Lexicon()) out->phrase_filter.Add(first);
    return out;
  }();
  return *sets;
}

bool ExpositionOfReasoning(const std::vector<uint64_t>& words) {
  const WordSets& sets = Words();
  size_t last_verb = SIZE_MAX;
  for (size_t pos = 0; pos < words.size(); ++pos) {
    const uint64_t w = words[pos];
    if (sets.verb_filter.MayContain(w) && sets.verbs.contains(w)) {
      last_verb = pos;
    } else if (last_verb != SIZE_MAX && pos - last_verb <= kCotWindow && sets.noun_filter.MayContain(w) &&
               sets.nouns.contains(w)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view CapabilityName(Capability c) { return kCapabilityNames[static_cast<size_t>(c)]; }

void MatchLexicon(const TokenStream& tokens, LexiconHits* hits) {
  const auto& lexicon = Lexicon();
  const WordFilter& starts = Words().phrase_filter;
  const auto& words = tokens.words;
  if (ExpositionOfReasoning(words)) hits->flags |= kFlagCot;
  for (size_t pos = 0; pos < words.size(); ++pos) {
    if (!starts.MayContain(words[pos])) continue;
    const auto it = lexicon.find(words[pos]);
    if (it == lexicon.end()) continue;
    for (const auto& phrase : it->second) {
      if (pos + phrase.rest.size() >= words.size()) continue;
      bool match = true;
      for (size_t off = 0; off < phrase.rest.size(); ++off) {
        if (words[pos + 1 + off] != phrase.rest[off]) {
          match = false;
          break;
        }
      }
      if (!match) continue;
      if (phrase.mark == Mark::kFlag) {
        hits->flags |= phrase.value;
      } else if (hits->capability_hits[phrase.value] < 1000) {
        ++hits->capability_hits[phrase.value];
      }
    }
  }
}

Capability ClassifyCapability(const LexiconHits& hits, bool has_tools, size_t code_blocks, size_t numbers,
                              size_t tokens) {
  if (has_tools) return Capability::kAgentic;
  std::array<double, kCapabilityCount> score{};
  for (size_t idx = 0; idx < kCapabilityCount; ++idx) score[idx] = hits.capability_hits[idx];
  score[static_cast<size_t>(Capability::kCoding)] += 2.0 * static_cast<double>(code_blocks);
  if (tokens > 0 && numbers * 5 > tokens) score[static_cast<size_t>(Capability::kMath)] += 1.0;
  size_t best = 0;
  double best_score = 0.5;
  for (size_t idx = 1; idx < kCapabilityCount; ++idx) {
    if (score[idx] > best_score) {
      best_score = score[idx];
      best = idx;
    }
  }
  return static_cast<Capability>(best);
}

}  // namespace dg
