// Prompt and response text for the simulator.
//
// TextSource produces the text of one request for a given kind of actor.
// By default prompts are built procedurally from small word banks (fast,
// no files needed). With a corpus directory (../shared/corpora) it draws
// real human prompts and real distillation-style prompts from those files,
// read at run time -- no corpus text is compiled into the project.
//
// Cost: procedural prompts ~1 us; corpus prompts are a pick from memory
// (the corpus, ~10 MB, is loaded once).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/rng.h"
#include "common/status.h"

namespace dg::sim {

enum class TopicKind : uint8_t {
  kCasual,      // everyday questions, chit-chat, writing help
  kCoding,      // programming tasks
  kMaths,       // maths and quantitative reasoning
  kReasoning,   // puzzles, analysis
  kAgentic,     // long-horizon planning / tool-use tasks
  kHomework,    // course questions
  kSupport,     // customer-support chat turns
  kCount
};

class TextSource {
 public:
  // Loads corpora from `corpus_dir` when non-empty. NotFound when it is not
  // a corpus directory, InvalidArgument when it holds no usable prompts.
  static absl::StatusOr<std::unique_ptr<TextSource>> Create(const std::string& corpus_dir);

  // A user request of this kind written by a person.
  std::string HumanPrompt(TopicKind kind, Rng& rng) const;
  // A task statement as a harvesting pipeline would send it (instruction
  // data sets, evolved instructions, tool-use queries).
  std::string TaskPrompt(TopicKind kind, Rng& rng) const;
  // A judge / grading prompt template with a question and answer filled in.
  std::string JudgePrompt(Rng& rng) const;
  // A plausible assistant answer to `prompt` (deterministic in the rng).
  std::string Response(std::string_view prompt, TopicKind kind, Rng& rng) const;
  // A follow-up turn in a conversation.
  std::string FollowUp(Rng& rng) const;

 private:
  std::vector<std::string> human_;          // real user prompts
  std::vector<std::string> distill_;        // instruction-data prompts
  std::vector<std::string> distill_code_;   // code instruction prompts
  std::vector<std::string> distill_tools_;  // tool-use queries
  std::vector<std::string> judge_;          // judge templates
  std::vector<std::string> responses_;      // instruction-data responses
};

// Light paraphrase: swaps synonyms and reorders clauses so that exact
// matching fails while meaning stays (what a low-and-slow operator does).
std::string Paraphrase(std::string_view text, Rng& rng, double strength);

}  // namespace dg::sim
