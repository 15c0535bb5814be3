#include "content/features.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

// The same families in the languages most API traffic outside English is
// written in, for scripts that separate words with spaces (matched like the
// phrases above: UTF-8 stays inside words; only ASCII capitals are
// lower-cased, so a phrase that often opens a sentence with a non-ASCII
// capital is listed capitalised too). Why: the reported campaigns were run
// by operators whose own language is not English, and a lexicon that reads
// English only is evaded for free by asking in another language. Each
// entry is the plain rendering of an English phrase above ("step by
// step", "your reasoning", "chain of thought", "before answering", "on a
// scale of 1 to 10", "training data"); as in English, each is evidence,
// never a verdict -- people ask for steps in every language.
const Phrase kSpacedForeignPhrases[] = {
    // Spanish
    {"paso a paso", Mark::kFlag, kFlagCot},
    {"tu razonamiento", Mark::kFlag, kFlagCot},
    {"su razonamiento", Mark::kFlag, kFlagCot},
    {"razonamiento completo", Mark::kFlag, kFlagCot},
    {"razonamiento detallado", Mark::kFlag, kFlagCot},
    {"proceso de razonamiento", Mark::kFlag, kFlagCot},
    {"cadena de pensamiento", Mark::kFlag, kFlagCot},
    {"piensa detenidamente", Mark::kFlag, kFlagCot},
    {"antes de responder", Mark::kFlag, kFlagCot},
    {"antes de contestar", Mark::kFlag, kFlagCot},
    {"juez imparcial", Mark::kFlag, kFlagRubric},
    {"rúbrica", Mark::kFlag, kFlagRubric},
    {"escala del 1 al 10", Mark::kFlag, kFlagRubric},
    {"escala de 1 a 10", Mark::kFlag, kFlagRubric},
    {"datos de entrenamiento", Mark::kFlag, kFlagDataGen},
    {"datos sintéticos", Mark::kFlag, kFlagDataGen},
    // Portuguese
    {"passo a passo", Mark::kFlag, kFlagCot},
    {"seu raciocínio", Mark::kFlag, kFlagCot},
    {"teu raciocínio", Mark::kFlag, kFlagCot},
    {"raciocínio completo", Mark::kFlag, kFlagCot},
    {"raciocínio detalhado", Mark::kFlag, kFlagCot},
    {"cadeia de pensamento", Mark::kFlag, kFlagCot},
    {"pense com cuidado", Mark::kFlag, kFlagCot},
    {"juiz imparcial", Mark::kFlag, kFlagRubric},
    {"dados de treinamento", Mark::kFlag, kFlagDataGen},
    {"dados sintéticos", Mark::kFlag, kFlagDataGen},
    // French
    {"étape par étape", Mark::kFlag, kFlagCot},
    {"Étape par étape", Mark::kFlag, kFlagCot},
    {"pas à pas", Mark::kFlag, kFlagCot},
    {"ton raisonnement", Mark::kFlag, kFlagCot},
    {"votre raisonnement", Mark::kFlag, kFlagCot},
    {"raisonnement complet", Mark::kFlag, kFlagCot},
    {"raisonnement détaillé", Mark::kFlag, kFlagCot},
    {"chaîne de pensée", Mark::kFlag, kFlagCot},
    {"avant de répondre", Mark::kFlag, kFlagCot},
    {"juge impartial", Mark::kFlag, kFlagRubric},
    {"grille d évaluation", Mark::kFlag, kFlagRubric},
    {"échelle de 1 à 10", Mark::kFlag, kFlagRubric},
    {"données d entraînement", Mark::kFlag, kFlagDataGen},
    {"données d’entraînement", Mark::kFlag, kFlagDataGen},  // typographic apostrophe: one word to Tokenize
    {"données synthétiques", Mark::kFlag, kFlagDataGen},
    // German
    {"schritt für schritt", Mark::kFlag, kFlagCot},
    {"erkläre schrittweise", Mark::kFlag, kFlagCot},
    {"denke schrittweise", Mark::kFlag, kFlagCot},
    {"gedankengang", Mark::kFlag, kFlagCot},
    {"gedankengänge", Mark::kFlag, kFlagCot},
    {"denkprozess", Mark::kFlag, kFlagCot},
    {"lösungsweg", Mark::kFlag, kFlagCot},
    {"rechenweg", Mark::kFlag, kFlagCot},
    {"bevor du antwortest", Mark::kFlag, kFlagCot},
    {"bevor sie antworten", Mark::kFlag, kFlagCot},
    {"unparteiischer richter", Mark::kFlag, kFlagRubric},
    {"bewertungskriterien", Mark::kFlag, kFlagRubric},
    {"bewertungsschema", Mark::kFlag, kFlagRubric},
    {"skala von 1 bis 10", Mark::kFlag, kFlagRubric},
    {"trainingsdaten", Mark::kFlag, kFlagDataGen},
    {"synthetische daten", Mark::kFlag, kFlagDataGen},
    // Italian
    {"passo dopo passo", Mark::kFlag, kFlagCot},
    {"tuo ragionamento", Mark::kFlag, kFlagCot},
    {"ragionamento completo", Mark::kFlag, kFlagCot},
    {"catena di pensiero", Mark::kFlag, kFlagCot},
    {"prima di rispondere", Mark::kFlag, kFlagCot},
    {"giudice imparziale", Mark::kFlag, kFlagRubric},
    {"dati di addestramento", Mark::kFlag, kFlagDataGen},
    // Dutch, Polish, Turkish, Indonesian, Vietnamese
    {"stap voor stap", Mark::kFlag, kFlagCot},
    {"krok po kroku", Mark::kFlag, kFlagCot},
    {"adım adım", Mark::kFlag, kFlagCot},
    {"langkah demi langkah", Mark::kFlag, kFlagCot},
    {"từng bước", Mark::kFlag, kFlagCot},
    // Russian (Cyrillic capitals are not lower-cased: sentence openers twice)
    {"шаг за шагом", Mark::kFlag, kFlagCot},
    {"Шаг за шагом", Mark::kFlag, kFlagCot},
    {"пошагово", Mark::kFlag, kFlagCot},
    {"Пошагово", Mark::kFlag, kFlagCot},
    {"ход рассуждений", Mark::kFlag, kFlagCot},
    {"ход мыслей", Mark::kFlag, kFlagCot},
    {"свои рассуждения", Mark::kFlag, kFlagCot},
    {"цепочку рассуждений", Mark::kFlag, kFlagCot},
    {"ход решения", Mark::kFlag, kFlagCot},
    {"рассуждай", Mark::kFlag, kFlagCot},
    {"Рассуждай", Mark::kFlag, kFlagCot},
    {"беспристрастный судья", Mark::kFlag, kFlagRubric},
    {"критерии оценки", Mark::kFlag, kFlagRubric},
    {"шкале от 1 до 10", Mark::kFlag, kFlagRubric},
    {"обучающие данные", Mark::kFlag, kFlagDataGen},
    {"синтетические данные", Mark::kFlag, kFlagDataGen},
    // Arabic, Hindi
    {"خطوة بخطوة", Mark::kFlag, kFlagCot},
    {"चरण दर चरण", Mark::kFlag, kFlagCot},
    {"कदम दर कदम", Mark::kFlag, kFlagCot},
    {"चरण दर चरण।", Mark::kFlag, kFlagCot},  // the danda is glued to the word
};

// Scripts written without spaces between words (Chinese, Japanese), or with
// particles attached to them (Korean), are one "word" to Tokenize: these
// phrases are found as byte substrings of the text (MatchUnspaced). The
// same families and the same renderings as above.
constexpr Phrase kUnspacedPhrases[] = {
    // Chinese, simplified and traditional
    {"一步一步", Mark::kFlag, kFlagCot},
    {"一步步", Mark::kFlag, kFlagCot},
    {"逐步推理", Mark::kFlag, kFlagCot},
    {"逐步思考", Mark::kFlag, kFlagCot},
    {"逐步分析", Mark::kFlag, kFlagCot},
    {"逐步解答", Mark::kFlag, kFlagCot},
    {"逐步解释", Mark::kFlag, kFlagCot},
    {"分步骤解答", Mark::kFlag, kFlagCot},
    {"分步骤思考", Mark::kFlag, kFlagCot},
    {"思考过程", Mark::kFlag, kFlagCot},
    {"推理过程", Mark::kFlag, kFlagCot},
    {"思维链", Mark::kFlag, kFlagCot},
    {"详细推理", Mark::kFlag, kFlagCot},
    {"解题过程", Mark::kFlag, kFlagCot},
    {"解题步骤", Mark::kFlag, kFlagCot},
    {"回答之前", Mark::kFlag, kFlagCot},
    {"思考過程", Mark::kFlag, kFlagCot},  // also Japanese
    {"推理過程", Mark::kFlag, kFlagCot},
    {"思維鏈", Mark::kFlag, kFlagCot},
    {"評分標準", Mark::kFlag, kFlagRubric},
    {"评分标准", Mark::kFlag, kFlagRubric},
    {"公正的裁判", Mark::kFlag, kFlagRubric},
    {"公正的评委", Mark::kFlag, kFlagRubric},
    {"哪个回答更好", Mark::kFlag, kFlagRubric},
    {"哪個回答更好", Mark::kFlag, kFlagRubric},
    {"到10分", Mark::kFlag, kFlagRubric},
    {"打分", Mark::kFlag, kFlagRubric},
    {"训练数据", Mark::kFlag, kFlagDataGen},
    {"訓練資料", Mark::kFlag, kFlagDataGen},
    {"合成数据", Mark::kFlag, kFlagDataGen},
    {"微调数据", Mark::kFlag, kFlagDataGen},
    {"问答对数据", Mark::kFlag, kFlagDataGen},
    {"生成问答对", Mark::kFlag, kFlagDataGen},
    // Japanese
    {"ステップバイステップ", Mark::kFlag, kFlagCot},
    {"段階的に考え", Mark::kFlag, kFlagCot},
    {"段階的に説明", Mark::kFlag, kFlagCot},
    {"一歩ずつ", Mark::kFlag, kFlagCot},
    {"順を追って", Mark::kFlag, kFlagCot},
    {"思考プロセス", Mark::kFlag, kFlagCot},
    {"推論過程", Mark::kFlag, kFlagCot},
    {"推論プロセス", Mark::kFlag, kFlagCot},
    {"答える前に", Mark::kFlag, kFlagCot},
    {"評価基準", Mark::kFlag, kFlagRubric},
    {"採点", Mark::kFlag, kFlagRubric},
    {"公平な審査員", Mark::kFlag, kFlagRubric},
    {"学習データ", Mark::kFlag, kFlagDataGen},
    {"訓練データ", Mark::kFlag, kFlagDataGen},
    {"合成データ", Mark::kFlag, kFlagDataGen},
    // Korean
    {"단계별로", Mark::kFlag, kFlagCot},
    {"단계적으로 생각", Mark::kFlag, kFlagCot},
    {"단계적으로 설명", Mark::kFlag, kFlagCot},
    {"차근차근", Mark::kFlag, kFlagCot},
    {"추론 과정", Mark::kFlag, kFlagCot},
    {"사고 과정", Mark::kFlag, kFlagCot},
    {"생각의 사슬", Mark::kFlag, kFlagCot},
    {"답하기 전에", Mark::kFlag, kFlagCot},
    {"평가 기준", Mark::kFlag, kFlagRubric},
    {"채점", Mark::kFlag, kFlagRubric},
    {"공정한 심사위원", Mark::kFlag, kFlagRubric},
    {"학습 데이터", Mark::kFlag, kFlagDataGen},
    {"훈련 데이터", Mark::kFlag, kFlagDataGen},
    {"합성 데이터", Mark::kFlag, kFlagDataGen},
};

// MatchUnspaced stops only at bytes that open a three-byte UTF-8 sequence:
// a phrase that starts otherwise (a digit, a two-byte letter) would never
// be found.
constexpr bool StartsWithThreeByteCharacter() {
  for (const Phrase& p : kUnspacedPhrases) {
    const auto lead = static_cast<unsigned char>(p.text[0]);
    if ((lead & 0xF0) != 0xE0 || p.text[1] == 0 || p.text[2] == 0) return false;
  }
  return true;
}
static_assert(StartsWithThreeByteCharacter(), "every unspaced phrase must start with a three-byte UTF-8 character");

// The first character of a phrase above (a three-byte UTF-8 sequence: every
// entry starts with one) as a 24-bit key.
inline uint32_t Lead3(const char* p) {
  return static_cast<uint32_t>(static_cast<unsigned char>(p[0])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(p[1])) << 8 | static_cast<unsigned char>(p[2]);
}

struct UnspacedLexicon {
  absl::flat_hash_map<uint32_t, std::vector<std::string_view>> phrases;  // by Lead3
  absl::flat_hash_map<std::string_view, uint32_t> flags;                 // phrase -> flag
  std::array<uint64_t, 64> filter{};                                     // bits over Lead3 % 4096
  static size_t Slot(uint32_t k) { return (k % 4096) / 64; }
  static uint64_t Bit(uint32_t k) { return uint64_t{1} << (k % 64); }
};

const UnspacedLexicon& Unspaced() {
  static const auto* lex = [] {
    auto* out = new UnspacedLexicon();
    for (const auto& p : kUnspacedPhrases) {
      const std::string_view text = p.text;
      const uint32_t key = Lead3(text.data());
      out->phrases[key].push_back(text);
      out->flags[text] |= p.value;
      out->filter[UnspacedLexicon::Slot(key)] |= UnspacedLexicon::Bit(key);
    }
    return out;
  }();
  return *lex;
}

// Bytes of a text searched for unspaced phrases: its head and its tail, so
// that a huge prompt costs a bounded scan (Tokenize also keeps a long
// prompt's head and tail).
constexpr size_t kUnspacedHead = 16 * 1024;
constexpr size_t kUnspacedTail = 4 * 1024;

void MatchUnspacedRange(std::string_view text, size_t from, size_t to, LexiconHits* hits) {
  const UnspacedLexicon& lex = Unspaced();
  const char* s = text.data();
  size_t pos = from;
  while (pos < to) {
#ifdef __SSE2__
    // Sixteen bytes at a time until one begins a three-byte sequence
    // (0xE0-0xEF): ASCII and two-byte scripts cost a load and a compare.
    if (to - pos >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + pos));
      const __m128i lead = _mm_cmpeq_epi8(_mm_and_si128(v, _mm_set1_epi8(static_cast<char>(0xF0))),
                                          _mm_set1_epi8(static_cast<char>(0xE0)));
      const auto mask = static_cast<uint32_t>(_mm_movemask_epi8(lead));
      if (mask == 0) {
        pos += 16;
        continue;
      }
      pos += static_cast<size_t>(__builtin_ctz(mask));
    }
#endif
    const auto byte = static_cast<unsigned char>(s[pos]);
    if ((byte & 0xF0) != 0xE0 || text.size() - pos < 3) {
      ++pos;
      continue;
    }
    const uint32_t key = Lead3(s + pos);
    if ((lex.filter[UnspacedLexicon::Slot(key)] & UnspacedLexicon::Bit(key)) != 0) {
      if (const auto it = lex.phrases.find(key); it != lex.phrases.end()) {
        for (const std::string_view phrase : it->second) {
          if (text.size() - pos >= phrase.size() && text.compare(pos, phrase.size(), phrase) == 0) {
            hits->flags |= lex.flags.at(phrase);
          }
        }
      }
    }
    pos += 3;
  }
}

void MatchUnspaced(std::string_view text, LexiconHits* hits) {
  if (text.size() <= kUnspacedHead + kUnspacedTail) {
    MatchUnspacedRange(text, 0, text.size(), hits);
    return;
  }
  MatchUnspacedRange(text, 0, kUnspacedHead, hits);
  MatchUnspacedRange(text, text.size() - kUnspacedTail, text.size(), hits);
}

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
    auto add = [m](const Phrase& p) {
      auto toks = PhraseTokens(p.text);
      const uint64_t first = toks.front();
      toks.erase(toks.begin());
      (*m)[first].push_back(CompiledPhrase{std::move(toks), p.mark, p.value});
    };
    for (const auto& p : kPhrases) add(p);
    for (const auto& p : kSpacedForeignPhrases) add(p);
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

// Words around an exposition verb that make the writer its subject: "I
// will provide you with the basic steps", "let me walk you through the
// process" -- the user describing what it does or gives, not asking the
// model to lay out its reasoning. The model as the verb's object ("...
// you ...") or the writer as its subject ("we", "I will/'ll/can ...", "I'm
// going to", "I want to", "let me"). A bare "I" before the verb is not
// taken: exam items number their parts "(i) Explain ...", "Part I: outline
// ..."; nor "going to" / "want to" without the writer before them ("you
// are going to explain ..." asks the model). Known misses: an instruction
// quoted in the first person ("Answer as: I will explain my reasoning
// ...") reads as the writer's own (docs/SIGNALS.md).
struct WriterWords {
  uint64_t you = WordHash("you"), i = WordHash("i"), we = WordHash("we"), me = WordHash("me"), let = WordHash("let"),
           to = WordHash("to"), going = WordHash("going"), want = WordHash("want");
  absl::flat_hash_set<uint64_t> modal;  // between the subject and the verb
  WriterWords() {
    for (const std::string_view m : {"will", "shall", "can", "may", "ll", "am", "would", "want", "d"}) {
      modal.insert(WordHash(m));
    }
  }
};

bool WriterIsSubject(const std::vector<uint64_t>& words, size_t pos) {
  static const WriterWords* ww = new WriterWords();
  auto at = [&](size_t back) { return pos >= back ? words[pos - back] : 0; };  // 0: before the text
  auto writer = [&](uint64_t w) { return w == ww->i || w == ww->we; };
  const uint64_t next = pos + 1 < words.size() ? words[pos + 1] : 0;
  const uint64_t p1 = at(1), p2 = at(2);
  // "I want to", "I'm going to" ("i m going to"), "we're going to".
  const bool intends = p1 == ww->to && (p2 == ww->going || p2 == ww->want) && (writer(at(3)) || writer(at(4)));
  return next == ww->you || p1 == ww->we || (ww->modal.contains(p1) && writer(p2)) ||
         (p1 == ww->me && p2 == ww->let) || intends;
}

bool ExpositionOfReasoning(const std::vector<uint64_t>& words) {
  const WordSets& sets = Words();
  size_t last_verb = SIZE_MAX;
  for (size_t pos = 0; pos < words.size(); ++pos) {
    const uint64_t w = words[pos];
    if (sets.verb_filter.MayContain(w) && sets.verbs.contains(w)) {
      if (!WriterIsSubject(words, pos)) last_verb = pos;  // the writer's verb leaves an earlier one standing
    } else if (last_verb != SIZE_MAX && pos - last_verb <= kCotWindow && sets.noun_filter.MayContain(w) &&
               sets.nouns.contains(w)) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view CapabilityName(Capability c) { return kCapabilityNames[static_cast<size_t>(c)]; }

void MatchLexicon(std::string_view text, const TokenStream& tokens, LexiconHits* hits) {
  MatchUnspaced(text, hits);
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
