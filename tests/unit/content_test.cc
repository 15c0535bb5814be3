#include <gtest/gtest.h>

#include "common/hash.h"
#include "common/rng.h"
#include "content/analyzer.h"
#include "content/features.h"
#include "content/minhash.h"
#include "content/tokens.h"

namespace dg {
namespace {

uint32_t Flags(std::string_view text) {
  TokenStream t;
  Tokenize(text, &t);
  LexiconHits hits;
  MatchLexicon(text, t, &hits);
  return hits.flags;
}

TEST(Tokens, MasksVariableSlots) {
  TokenStream a, b;
  Tokenize("Compute 12 + 7 for \"Alice\" at https://x.io/p?q=1 or mail bob@x.org, see `code` and ```\nint x;\n```", &a);
  Tokenize("Compute 99 + 1 for \"Robert Smith\" at https://y.io/z or mail eve@y.org, see `other` and ```\nfoo();\n```", &b);
  EXPECT_EQ(a.masked, b.masked);
  EXPECT_NE(a.words, b.words);
  EXPECT_EQ(a.code_blocks, 2u);
}

TEST(Tokens, NamesInsideSentencesAreMasked) {
  TokenStream a, b;
  Tokenize("Write a poem for Maria about autumn.", &a);
  Tokenize("Write a poem for Jonathan about autumn.", &b);
  EXPECT_EQ(a.masked, b.masked);
}

// Words of other scripts are words: two different Russian or Chinese
// prompts are two templates, not one run of <num>, and they are no maths.
TEST(Tokens, WordsOfOtherScriptsAreNotNumbers) {
  TokenStream a, b;
  Tokenize("Как приготовить борщ дома?", &a);
  Tokenize("Где купить билеты сегодня?", &b);  // as many words
  EXPECT_NE(a.masked, b.masked);
  EXPECT_EQ(a.numbers, 0u);
  Tokenize("今天北京的天气怎么样？ 明天呢？", &a);
  Tokenize("推荐一本好书吧。 谢谢！", &b);
  EXPECT_NE(a.masked, b.masked);
  EXPECT_EQ(a.numbers, 0u);
  Tokenize("Итого 42 и 3.14", &a);
  EXPECT_EQ(a.numbers, 2u);
}

TEST(Tokens, HugeInputIsBounded) {
  TokenStream t;
  std::string huge;
  for (int idx = 0; idx < 200000; ++idx) huge += "word ";
  Tokenize(huge, &t);
  EXPECT_LE(t.words.size(), kMaxTokens + 10);
}

TEST(Lexicon, RecognisesHarvestingRequests) {
  EXPECT_TRUE(Flags("Solve this. Think step by step and show your reasoning.") & kFlagCot);
  EXPECT_TRUE(Flags("Let's think step-by-step") & kFlagCot);
  EXPECT_TRUE(Flags("Imagine and articulate the internal reasoning behind a completed response") & kFlagRecon);
  EXPECT_TRUE(Flags("Please act as an impartial judge and evaluate the quality of the response") & kFlagRubric);
  EXPECT_TRUE(Flags("Grade the response using this rubric") & kFlagRubric);
  EXPECT_TRUE(Flags("Generate a synthetic dataset of 50 question answer pairs") & kFlagDataGen);
  EXPECT_TRUE(Flags("Kindly lay out your line of thought before you reply") & kFlagCot);
  EXPECT_TRUE(Flags("Describe each step you take to reach the result") & kFlagCot);
  EXPECT_EQ(Flags("What's a good recipe for banana bread?"), 0u);
  EXPECT_EQ(Flags("Explain how photosynthesis works in plants"), 0u);
  EXPECT_EQ(Flags("step on it, by the way"), 0u);
}

// An exposition verb whose subject is the writer is no request for the
// model's reasoning: the persona prompts people copy into their apps say
// what the user will provide ("I will provide you with basic steps of an
// app functionality", awesome-chatgpt-prompts' tech writer), and every user
// of an app with that system prompt read as asking for reasoning in each
// request (holdout seed 34: six of its app's builders blocked with a hydra
// that copied the app). The model as the verb's object, or the writer as its
// subject, takes the verb out; the same verbs asked of the model still count.
TEST(Lexicon, TheWritersOwnStepsAreNoRequestForReasoning) {
  EXPECT_EQ(Flags("I will provide you with basic steps of an app functionality and you will write a guide") & kFlagCot, 0u);
  EXPECT_EQ(Flags("I want you to act as a debater. I will provide you my thoughts on the topic") & kFlagCot, 0u);
  EXPECT_EQ(Flags("Let me walk you through the process we use for refunds") & kFlagCot, 0u);
  EXPECT_EQ(Flags("I'll describe the process below; summarise it in one line") & kFlagCot, 0u);
  EXPECT_EQ(Flags("I'm going to explain my thought on it first") & kFlagCot, 0u);
  EXPECT_EQ(Flags("We walk through the process with every new hire") & kFlagCot, 0u);
  // Not the writer: a numbered part, and the model as the one who is going
  // to (a review's cases).
  EXPECT_TRUE(Flags("(i) Explain the process of mitosis. (ii) Name its phases.") & kFlagCot);
  EXPECT_TRUE(Flags("You are going to explain the logic behind each answer.") & kFlagCot);
  EXPECT_TRUE(Flags("Do you want to describe the process you followed?") & kFlagCot);
  EXPECT_TRUE(Flags("Provide your reasoning before the final answer") & kFlagCot);
  EXPECT_TRUE(Flags("I will give you a problem. Explain the steps you take to solve it") & kFlagCot);
  EXPECT_TRUE(Flags("Walk me through the process you used") & kFlagCot);
  EXPECT_TRUE(Flags("Can you show the steps of the derivation?") & kFlagCot);
}

// The harvest families in other languages: an instruction that is only
// translated is the same instruction. Sentences as people write them --
// capitalised at the start, with particles and punctuation attached.
TEST(Lexicon, RecognisesHarvestingRequestsInOtherLanguages) {
  EXPECT_TRUE(Flags("Resuelve el problema paso a paso y explica tu razonamiento.") & kFlagCot);
  EXPECT_TRUE(Flags("Responda passo a passo, mostrando seu raciocínio.") & kFlagCot);
  EXPECT_TRUE(Flags("Étape par étape, explique ton raisonnement.") & kFlagCot);
  EXPECT_TRUE(Flags("Erkläre deinen Gedankengang Schritt für Schritt.") & kFlagCot);
  EXPECT_TRUE(Flags("Ragiona passo dopo passo prima di rispondere.") & kFlagCot);
  EXPECT_TRUE(Flags("Шаг за шагом опиши ход рассуждений.") & kFlagCot);
  EXPECT_TRUE(Flags("Реши задачу и покажи пошагово решение.") & kFlagCot);
  EXPECT_TRUE(Flags("请一步一步地思考，然后给出答案。") & kFlagCot);
  EXPECT_TRUE(Flags("請寫出完整的推理過程。") & kFlagCot);
  EXPECT_TRUE(Flags("この問題をステップバイステップで解いてください。") & kFlagCot);
  EXPECT_TRUE(Flags("추론 과정을 자세히 보여 주세요.") & kFlagCot);
  EXPECT_TRUE(Flags("문제를 단계별로 풀어 주세요.") & kFlagCot);
  EXPECT_TRUE(Flags("حل المسألة خطوة بخطوة") & kFlagCot);
  EXPECT_TRUE(Flags("इस सवाल को चरण-दर-चरण हल करें") & kFlagCot);
  EXPECT_TRUE(Flags("Çözümü adım adım anlat.") & kFlagCot);
  EXPECT_TRUE(Flags("请作为公正的裁判，按照评分标准给回答打分（1到10分）。") & kFlagRubric);
  EXPECT_TRUE(Flags("Actúa como juez imparcial y califica en una escala del 1 al 10.") & kFlagRubric);
  EXPECT_TRUE(Flags("Erzeuge Trainingsdaten für ein Sprachmodell.") & kFlagDataGen);
  EXPECT_TRUE(Flags("ファインチューニング用の学習データを作ってください。") & kFlagDataGen);
  // Ordinary requests in the same languages ask for none of it.
  EXPECT_EQ(Flags("¿Cuál es la capital de Francia?"), 0u);
  EXPECT_EQ(Flags("Wie spät ist es gerade in Tokio?"), 0u);
  EXPECT_EQ(Flags("Как приготовить борщ дома?"), 0u);
  EXPECT_EQ(Flags("今天北京的天气怎么样？"), 0u);
  EXPECT_EQ(Flags("東京でおすすめのレストランはどこですか？"), 0u);
  EXPECT_EQ(Flags("오늘 저녁 메뉴 추천해 주세요."), 0u);
  EXPECT_EQ(Flags("Écris un poème sur la mer."), 0u);
  // Phrases that begin with a digit or a two-byte letter, and the short
  // forms that also mean "gradually" or "some steps", are not entries.
  EXPECT_TRUE(Flags("请给这个回答评1到10分。") & kFlagRubric);
  EXPECT_EQ(Flags("这是项目的部分步骤说明。"), 0u);
  EXPECT_EQ(Flags("気温が段階的に下がる。"), 0u);
  EXPECT_EQ(Flags("Die schrittweise Einführung beginnt im Mai."), 0u);
  EXPECT_EQ(Flags("Cerca il numero nella rubrica del telefono."), 0u);
  EXPECT_TRUE(Flags("Génère des données d’entraînement.") & kFlagDataGen);
  EXPECT_TRUE(Flags("इसे चरण दर चरण।") & kFlagCot);
}

// Unspaced phrases are searched in a bounded head and tail of the text, and
// a sequence cut off at the end of the text is no match and no overrun.
TEST(Lexicon, UnspacedSearchIsBoundedAndSafeAtTheEnd) {
  EXPECT_EQ(Flags("请一步一"), 0u);
  // Views that end inside a phrase whose bytes go on in memory: a read past
  // the view's end would complete the phrase (and ASan would not see it).
  const std::string whole = "请一步一步地思考";
  const std::string_view cut(whole.data(), whole.find("步地") + 2);  // ends inside the second 步
  EXPECT_EQ(Flags(cut), 0u);
  EXPECT_TRUE(Flags(std::string_view(whole.data(), whole.find("地"))) & kFlagCot);
  const std::string lead = "abc\xE4\xB8\x80\xE6\xAD\xA5\xE4\xB8\x80\xE6\xAD\xA5";  // abc一步一步
  for (size_t len = 3; len < lead.size(); ++len) EXPECT_EQ(Flags(std::string_view(lead.data(), len)), 0u) << len;
  EXPECT_TRUE(Flags(lead) & kFlagCot);
  std::string filler;
  while (filler.size() < 64 * 1024) filler += "今天天气很好。";
  EXPECT_EQ(Flags(filler + "请一步一步地思考。" + filler), 0u);   // the middle of a huge text is skipped
  EXPECT_TRUE(Flags("请一步一步地思考。" + filler) & kFlagCot);    // its head is read
  EXPECT_TRUE(Flags(filler + "请一步一步地思考。") & kFlagCot);    // and its tail
  EXPECT_TRUE(Flags("x请一步一步地思考") & kFlagCot);             // at any byte offset
  EXPECT_TRUE(Flags("xy一步一步") & kFlagCot);
}

TEST(MinHash, SimilarityTracksJaccard) {
  TokenStream a, b, c;
  Tokenize("You are an expert tutor. Explain the solution to the following problem in full detail with each step", &a);
  Tokenize("You are an expert tutor. Explain the answer to the following problem in full detail with each step", &b);
  Tokenize("Recommend three restaurants in Lisbon for a family dinner on a budget this weekend please", &c);
  Signature sa, sb, sc;
  ASSERT_TRUE(ComputeSignature(a.masked, &sa));
  ASSERT_TRUE(ComputeSignature(b.masked, &sb));
  ASSERT_TRUE(ComputeSignature(c.masked, &sc));
  EXPECT_GT(EstimateJaccard(sa, sb), 0.5);
  EXPECT_LT(EstimateJaccard(sa, sc), 0.2);
  Signature empty;
  EXPECT_FALSE(ComputeSignature({}, &empty));
}

// The densification loop as it was before the donor mask: each empty bin
// scans forward, step by step, for a bin to borrow from.
void ReferenceDensify(Signature* sig) {
  constexpr uint32_t kEmpty = UINT32_MAX;
  Signature& s = *sig;
  for (size_t bin = 0; bin < kMinHashBins; ++bin) {
    if (s[bin] != kEmpty) continue;
    for (size_t step = 1; step < kMinHashBins; ++step) {
      const uint32_t v = s[(bin + step) % kMinHashBins];
      if (v != kEmpty && v != kEmpty - 1) {
        s[bin] = static_cast<uint32_t>(Mix64(v + step * 0x9e3779b9ULL)) | 1u;
        break;
      }
    }
  }
}

TEST(MinHash, DensifyAsTheStepByStepScan) {
  Rng rng(32);
  auto check = [](const Signature& in) {
    Signature got = in, want = in;
    DensifySignature(&got);
    ReferenceDensify(&want);
    ASSERT_EQ(got, want);
  };
  for (int round = 0; round < 50000; ++round) {
    Signature s;
    const uint64_t empty_share = rng.Next() % 101;  // from no empty bin to all of them
    for (auto& v : s) {
      const uint64_t r = rng.Next() % 100;
      v = r < empty_share ? UINT32_MAX : r % 17 == 0 ? UINT32_MAX - 1 : static_cast<uint32_t>(rng.Next());
    }
    check(s);
  }
  Signature s;
  s.fill(UINT32_MAX);
  check(s);  // nothing to borrow: stays empty
  s.fill(UINT32_MAX - 1);
  check(s);
  for (size_t donor = 0; donor < kMinHashBins; ++donor) {  // one bin lends to all, across the wrap
    s.fill(UINT32_MAX);
    s[donor] = 12345;
    check(s);
    s[(donor + 1) % kMinHashBins] = UINT32_MAX - 1;
    check(s);
  }
}

TEST(TemplateIndex, ParaphrasedPromptsJoinOneClusterAndStrangersDoNot) {
  TemplateIndex index(1000, 0.5);
  auto sig = [](const std::string& text) {
    TokenStream t;
    Tokenize(text, &t);
    Signature s;
    ComputeSignature(t.masked, &s);
    return s;
  };
  const uint32_t first = index.Assign(sig("Solve the following problem and explain your reasoning in detail: 12 apples and 7 pears cost 40 dollars"));
  const uint32_t same = index.Assign(sig("Solve the following problem and explain your reasoning in detail: 3 apples and 9 pears cost 18 dollars"));
  const uint32_t edited = index.Assign(sig("Solve the following problem and explain all your reasoning in detail: 5 apples and 2 pears cost 11 dollars"));
  const uint32_t other = index.Assign(sig("What is the capital of Australia and why was it chosen over Sydney"));
  EXPECT_EQ(first, same);
  EXPECT_EQ(first, edited);
  EXPECT_NE(first, other);
}

TEST(TemplateIndex, MemoryIsBoundedByGenerations) {
  TemplateIndex index(100, 0.5);
  Rng rng(3);
  for (int idx = 0; idx < 10000; ++idx) {
    Signature s;
    for (auto& v : s) v = static_cast<uint32_t>(rng.Next());
    index.Assign(s);
  }
  EXPECT_LE(index.clusters(), 200u);
}

TEST(Analyzer, FeaturesOfAnAgenticMultiTurnRequest) {
  ContentAnalyzer analyzer;
  Interaction in;
  in.ts = 1;
  in.system = "You are a coding agent.";
  in.tools_hash = 77;
  in.messages.push_back({Role::kUser, "Fix the failing unit test in the python repository", 0, 0, 0});
  in.messages.push_back({Role::kAssistant, "Reading the file.", 1, 0, 0});
  in.messages.push_back({Role::kUser, "def f(): pass", 0, 1, 0});
  EventFeatures f;
  analyzer.Analyze(in, &f);
  EXPECT_FALSE(f.single_turn);
  EXPECT_TRUE(f.flags & kFlagTools);
  EXPECT_TRUE(f.flags & kFlagMultiTurn);
  EXPECT_EQ(f.capability, Capability::kAgentic);
  EXPECT_NE(f.system_cluster, 0u);
}

// A standing instruction in an earlier user turn is read in the lexicon's
// other languages too, with their words for "always", "every", "in this
// conversation"; an earlier request about its own question is not.
TEST(Analyzer, StandingInstructionInAnotherLanguage) {
  auto flags_after = [](const std::string& earlier) {
    ContentAnalyzer analyzer;
    Interaction in;
    in.ts = 1;
    in.messages.push_back({Role::kUser, earlier, 0, 0, 0});
    in.messages.push_back({Role::kAssistant, "Entendido.", 0, 0, 0});
    in.messages.push_back({Role::kUser, "What is the integral of x squared?", 0, 0, 0});
    EventFeatures f;
    analyzer.Analyze(in, &f);
    return f.flags;
  };
  EXPECT_TRUE(flags_after("En esta conversación, razona siempre paso a paso antes de contestar.") & kFlagCot);
  EXPECT_TRUE(flags_after("接下来的每个问题，都请一步一步地思考。") & kFlagCot);
  EXPECT_TRUE(flags_after("Von nun an erkläre jede Antwort Schritt für Schritt.") & kFlagCot);
  EXPECT_TRUE(flags_after("В этом чате всегда рассуждай шаг за шагом.") & kFlagCot);
  EXPECT_TRUE(flags_after("С этого момента рассуждай шаг за шагом.") & kFlagCot);
  EXPECT_EQ(flags_after("Resuelve 2x + 3 = 7 paso a paso.") & kFlagCot, 0u);
  EXPECT_EQ(flags_after("请一步一步地解这道题：2x + 3 = 7。") & kFlagCot, 0u);
  // Ordinary words that only look like scopes: "still", "next", "decade",
  // "city", "each step".
  EXPECT_EQ(flags_after("Ich verstehe es immer noch nicht, erkläre es Schritt für Schritt.") & kFlagCot, 0u);
  EXPECT_EQ(flags_after("接下来请一步一步地解这道题。") & kFlagCot, 0u);
  EXPECT_EQ(flags_after("En la década pasada, ¿cómo se resolvía? Explícalo paso a paso.") & kFlagCot, 0u);
  EXPECT_EQ(flags_after("Je ne comprends toujours pas, explique étape par étape.") & kFlagCot, 0u);
  EXPECT_EQ(flags_after("शहर के बारे में चरण दर चरण बताओ") & kFlagCot, 0u);
  EXPECT_EQ(flags_after("请展示每一步的推理过程。") & kFlagCot, 0u);
}

// The system-prompt cache gives what computing gives: more distinct system
// prompts than slots (evictions and shared slots), repeats, one over the
// cache's size limit, one without tokens, and lexicon words in them.
TEST(Analyzer, SystemPromptCacheDigestsAsWithoutIt) {
  std::vector<std::string> systems;
  for (int idx = 0; idx < 150; ++idx) {
    systems.push_back("You are assistant number " + std::to_string(idx) +
                      (idx % 3 == 0 ? ". Think step by step and grade the response with the rubric." : ". Be brief."));
  }
  systems.push_back(std::string(3000, 'x') + " python code");  // over kMaxBytes: never cached
  systems.push_back("!!! ???");                                 // no tokens: no signature
  DigestScratch cached;
  TokenStream plain;
  Rng rng(5);
  for (int round = 0; round < 2000; ++round) {
    Interaction in;
    in.system = systems[rng.Below(systems.size())];
    in.messages.push_back(Message{Role::kUser, round % 5 == 0 ? "" : "Write a poem about autumn " + std::to_string(round)});
    ContentDigest a, b;
    DigestContent(in, &cached, &a);
    DigestContent(in, &plain, &b);
    ASSERT_EQ(a.has_system_sig, b.has_system_sig);
    ASSERT_EQ(a.system_sig, b.system_sig);
    ASSERT_EQ(a.has_prompt_sig, b.has_prompt_sig);
    ASSERT_EQ(a.prompt_sig, b.prompt_sig);
    ASSERT_EQ(a.features.flags, b.features.flags) << in.system;
    ASSERT_EQ(a.features.capability, b.features.capability) << in.system;
    ASSERT_EQ(a.features.frame_head, b.features.frame_head);
  }
}

}  // namespace
}  // namespace dg
