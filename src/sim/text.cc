#include "sim/text.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>

namespace dg::sim {
namespace {

// ---- procedural word banks ------------------------------------------------
const std::vector<std::string_view> kLangs = {"Python", "JavaScript", "TypeScript", "Go", "Rust", "Java", "C++", "SQL", "Bash", "Kotlin"};
const std::vector<std::string_view> kCodeTasks = {
    "parses a CSV file and returns the average of a column", "checks whether a string is a palindrome",
    "merges two sorted lists", "retries an HTTP request with exponential backoff",
    "finds the longest common subsequence of two strings", "implements an LRU cache",
    "validates an email address", "computes the shortest path in a weighted graph",
    "deduplicates records by a composite key", "streams a large file line by line",
    "implements a thread-safe queue", "converts a timestamp between time zones",
    "paginates results from a REST API", "serialises a tree to JSON and back",
    "rate-limits calls with a token bucket", "computes a rolling median",
    "detects cycles in a linked list", "tokenises arithmetic expressions",
    "implements binary search on a rotated array", "schedules jobs with dependencies"};
const std::vector<std::string_view> kCodeAsks = {
    "Write a {} function that {}.", "How do I write {} code that {}?", "Can you show me {} code that {}?",
    "I need a {} snippet that {}. Keep it short.", "my {} code that {} is slow, how can I fix it",
    "Implement in {} a routine that {}, with tests."};
const std::vector<std::string_view> kCasualAsks = {
    "What's a good recipe for {}?", "How do I {}?", "Can you explain {} like I'm five?",
    "Give me three ideas for {}.", "what is the difference between {} and {}", "Is it a good idea to {}?",
    "Help me write a short message about {}.", "Why does {} happen?", "Recommend a book about {}.",
    "Summarise the main points of {}.", "how long does it take to {}", "Plan a weekend trip to {}."};
const std::vector<std::string_view> kCasualTopics = {
    "banana bread", "fix a leaky tap", "photosynthesis", "a birthday party", "inflation", "learn the guitar",
    "the French revolution", "improve my sleep", "Lisbon", "composting at home", "black holes",
    "negotiate a salary", "train a puppy", "the stock market", "write a cover letter", "solar panels",
    "a vegetarian lasagna", "start running", "the Roman empire", "budget for a wedding", "Kyoto",
    "rainbows", "tax deductions", "meditation", "a job interview", "mushroom risotto", "climate change",
    "the immune system", "a road trip", "houseplants", "Tokyo", "quantum computing", "renting vs buying"};
const std::vector<std::string_view> kMathAsks = {
    "Solve for x: {}x + {} = {}.", "What is the integral of x^{} times e^x?",
    "A train leaves at {} km/h and another at {} km/h; when do they meet if {} km apart?",
    "Prove that the sum of the first {} odd numbers is a perfect square.",
    "What is the probability of rolling at least one six in {} throws?",
    "Find the eigenvalues of the matrix [[{}, 1], [1, {}]].", "Compute {} choose {}."};
const std::vector<std::string_view> kReasoningAsks = {
    "Three friends each own a different pet; {} clues follow. Who owns the fish?",
    "If all bloops are razzies and some razzies are {}, what can we conclude?",
    "Analyse the argument: '{} causes {}, so banning it fixes the problem.'",
    "A farmer must cross a river with {} items and a boat that holds two. How?",
    "Which is heavier, {} kg of feathers or {} kg of steel, and why?"};
const std::vector<std::string_view> kAgenticAsks = {
    "Plan the migration of a {} service to Kubernetes, listing each step and the tools to call.",
    "Break down the task of building a {} dashboard into subtasks and execute the first one.",
    "Using the available tools, find the cheapest flight to {} and book it.",
    "Investigate why the {} test suite fails and propose a multi step fix.",
    "Design an agent workflow that monitors {} and files tickets automatically."};
const std::vector<std::string_view> kHomework = {
    "Explain the difference between mitosis and meiosis.", "What were the causes of World War I?",
    "Solve the quadratic equation x^2 - 5x + 6 = 0.", "Describe the water cycle.",
    "What is Newton's second law? Give an example.", "Summarise the plot of Macbeth.",
    "How does supply and demand set prices?", "What is a derivative in calculus?",
    "Explain how a binary search works.", "Compare mitochondria and chloroplasts.",
    "What is the Pythagorean theorem used for?", "Describe the structure of DNA.",
    "What caused the fall of the Roman Republic?", "Explain Ohm's law with a circuit example.",
    "What is opportunity cost?", "How do vaccines train the immune system?"};
const std::vector<std::string_view> kSupport = {
    "I can't log in to my account", "where is my order", "how do I change my plan",
    "the app crashes when I upload a photo", "can I get a refund", "how do I reset my password",
    "my payment failed", "do you ship to Canada", "how do I cancel", "the invoice is wrong"};
const std::vector<std::string_view> kFollowUps = {
    "Thanks! Can you make it shorter?", "why?", "Can you give an example?", "ok, and what about the second part",
    "That didn't work, I get an error.", "Can you explain that again more simply?", "great, thanks",
    "What would you change?", "hmm, are you sure?", "Now translate it to Spanish.", "more detail please",
    "and if I only have half the time?"};
const std::vector<std::string_view> kResponseOpeners = {
    "Here is one way to approach it.", "Sure. The short answer is that it depends on a few things.",
    "Good question.", "Let's go through it.", "There are a few options.", "Certainly."};
constexpr auto kResponseWords = std::to_array<std::string_view>({
    "first", "consider", "the", "value", "result", "then", "because", "each", "step", "we", "can", "use",
    "function", "data", "approach", "example", "this", "means", "that", "important", "finally", "check",
    "case", "simple", "answer", "so", "also", "note", "time", "which", "gives", "works", "when", "input"});
// The words padded to 16 bytes, so that Response copies each with one
// fixed-size move instead of a call to memcpy of its length.
constexpr size_t kWordPad = 16;
static_assert(std::all_of(kResponseWords.begin(), kResponseWords.end(), [](std::string_view w) { return w.size() <= kWordPad; }));
struct PaddedWord {
  char text[kWordPad];
  size_t size;
};
constexpr std::array<PaddedWord, kResponseWords.size()> kPaddedWords = [] {
  std::array<PaddedWord, kResponseWords.size()> table{};
  for (size_t idx = 0; idx < kResponseWords.size(); ++idx) {
    std::copy(kResponseWords[idx].begin(), kResponseWords[idx].end(), table[idx].text);
    table[idx].size = kResponseWords[idx].size();
  }
  return table;
}();

std::string Fill(std::string_view pattern, Rng& rng, const std::vector<std::string_view>& bank) {
  std::string out;
  size_t pos = 0;
  while (pos < pattern.size()) {
    const size_t hole = pattern.find("{}", pos);
    if (hole == std::string_view::npos) {
      out.append(pattern.substr(pos));
      break;
    }
    out.append(pattern.substr(pos, hole - pos));
    out.append(bank.empty() ? std::string_view(std::to_string(rng.Range(2, 99))) : rng.Pick(bank));
    pos = hole + 2;
  }
  return out;
}

std::string FillNumbers(std::string_view pattern, Rng& rng) {
  std::string out;
  size_t pos = 0;
  while (pos < pattern.size()) {
    const size_t hole = pattern.find("{}", pos);
    if (hole == std::string_view::npos) {
      out.append(pattern.substr(pos));
      break;
    }
    out.append(pattern.substr(pos, hole - pos));
    out.append(std::to_string(rng.Range(2, 120)));
    pos = hole + 2;
  }
  return out;
}

std::string CodeAsk(Rng& rng) {
  std::string_view pattern = rng.Pick(kCodeAsks);
  const size_t first = pattern.find("{}");
  std::string out(pattern.substr(0, first));
  out.append(rng.Pick(kLangs));
  const size_t second = pattern.find("{}", first + 2);
  out.append(pattern.substr(first + 2, second - first - 2));
  out.append(rng.Pick(kCodeTasks));
  out.append(pattern.substr(second + 2));
  return out;
}

// ---- corpus loading ---------------------------------------------------------
bool ReadFile(const std::filesystem::path& p, std::string* out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

constexpr size_t kMaxCorpusPrompt = 6000;

void Keep(std::vector<std::string>& v, std::string_view s) {
  if (s.size() >= 8 && s.size() <= kMaxCorpusPrompt) v.emplace_back(s);
}

}  // namespace

absl::StatusOr<std::unique_ptr<TextSource>> TextSource::Create(const std::string& corpus_dir) {
  auto src = std::unique_ptr<TextSource>(new TextSource());
  if (corpus_dir.empty()) return src;
  namespace fs = std::filesystem;
  const fs::path root(corpus_dir);
  if (!fs::is_directory(root / "human") || !fs::is_directory(root / "distill")) {
    return absl::NotFoundError(fmt::format("{}: not a corpus directory (expected human/ and distill/ inside)", corpus_dir));
  }
  simdjson::dom::parser parser;
  std::vector<fs::path> files;
  for (const auto& sub : {"human", "distill"}) {
    for (const auto& entry : fs::directory_iterator(root / sub)) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // directory order is not deterministic
  for (const auto& path : files) {
    const std::string name = path.filename().string();
    const bool human = path.parent_path().filename() == "human";
    std::string data;
    if (!ReadFile(path, &data)) continue;
    auto each_json_line = [&](auto&& fn) {
      std::istringstream lines(data);
      std::string line;
      while (std::getline(lines, line)) {
        simdjson::dom::element e;
        if (parser.parse(line).get(e) == simdjson::SUCCESS) fn(e);
      }
    };
    if (name.ends_with(".csv")) {  // awesome-chatgpt-prompts: "act","prompt"
      std::istringstream lines(data);
      std::string line;
      std::getline(lines, line);
      while (std::getline(lines, line)) {
        const size_t split = line.find("\",\"");
        if (split == std::string::npos) continue;
        std::string prompt = line.substr(split + 3);
        if (!prompt.empty() && prompt.back() == '"') prompt.pop_back();
        size_t dq;
        while ((dq = prompt.find("\"\"")) != std::string::npos) prompt.erase(dq, 1);
        Keep(src->human_, prompt);
      }
    } else if (name.starts_with("arena_hard")) {
      each_json_line([&](simdjson::dom::element e) {
        std::string_view s;
        if (e.at_pointer("/turns/0/content").get(s) == simdjson::SUCCESS) Keep(src->human_, s);
      });
    } else if (name.starts_with("oasst_prompt_lottery")) {
      each_json_line([&](simdjson::dom::element e) {
        std::string_view s;
        if (e.get(s) == simdjson::SUCCESS) Keep(src->human_, s);
      });
    } else if (name.starts_with("oasst_en_100_tree")) {
      each_json_line([&](simdjson::dom::element e) {
        std::string_view s;
        if (e.at_pointer("/prompt/text").get(s) == simdjson::SUCCESS) Keep(src->human_, s);
      });
    } else if (name.starts_with("hh_harmless")) {
      each_json_line([&](simdjson::dom::element e) {
        std::string_view s;
        if (e["chosen"].get(s) != simdjson::SUCCESS) return;
        const size_t start = s.find("Human: ");
        if (start == std::string_view::npos) return;
        const size_t end = s.find("\n\nAssistant:", start);
        Keep(src->human_, s.substr(start + 7, end == std::string_view::npos ? std::string_view::npos : end - start - 7));
      });
    } else if (name.starts_with("mtbench_judge")) {
      each_json_line([&](simdjson::dom::element e) {
        std::string_view sys, tmpl;
        if (e["system_prompt"].get(sys) == simdjson::SUCCESS && e["prompt_template"].get(tmpl) == simdjson::SUCCESS) {
          src->judge_.push_back(std::string(sys) + "\n\n" + std::string(tmpl));
        }
      });
    } else if (!human && name.ends_with(".json")) {
      simdjson::dom::element doc;
      if (parser.parse(data).get(doc) != simdjson::SUCCESS) continue;
      simdjson::dom::array arr;
      if (doc.get(arr) != simdjson::SUCCESS) continue;
      for (simdjson::dom::element item : arr) {
        std::string_view instruction, input, response, query;
        if (item["query"].get(query) == simdjson::SUCCESS) {
          Keep(src->distill_tools_, query);
          continue;
        }
        if (item["instruction"].get(instruction) == simdjson::SUCCESS) {
          std::string text(instruction);
          if (item["input"].get(input) == simdjson::SUCCESS && !input.empty()) text += "\n" + std::string(input);
          if (name.find("codegen") != std::string::npos) Keep(src->distill_code_, text);
          else if (name.find("toolformer") != std::string::npos) Keep(src->distill_tools_, text);
          else Keep(src->distill_, text);
          if (item["response"].get(response) == simdjson::SUCCESS) Keep(src->responses_, response);
        } else if (item["input"].get(input) == simdjson::SUCCESS) {
          Keep(src->distill_, input);
          if (item["output"].get(response) == simdjson::SUCCESS) Keep(src->responses_, response);
        }
      }
    }
  }
  if (src->human_.empty() || (src->distill_.empty() && src->distill_code_.empty())) {
    return absl::InvalidArgumentError(fmt::format("{}: no usable prompts found in the corpus files", corpus_dir));
  }
  return src;
}

std::string TextSource::HumanPrompt(TopicKind kind, Rng& rng) const {
  if (!human_.empty() && kind != TopicKind::kSupport && kind != TopicKind::kHomework && rng.Chance(0.7)) {
    return rng.Pick(human_);
  }
  switch (kind) {
    case TopicKind::kCoding: return CodeAsk(rng);
    case TopicKind::kMaths: return FillNumbers(rng.Pick(kMathAsks), rng);
    case TopicKind::kReasoning: return Fill(rng.Pick(kReasoningAsks), rng, kCasualTopics);
    case TopicKind::kAgentic: return Fill(rng.Pick(kAgenticAsks), rng, kCasualTopics);
    case TopicKind::kHomework: return std::string(rng.Pick(kHomework));
    case TopicKind::kSupport: return std::string(rng.Pick(kSupport));
    default: return Fill(rng.Pick(kCasualAsks), rng, kCasualTopics);
  }
}

std::string TextSource::TaskPrompt(TopicKind kind, Rng& rng) const {
  if (!distill_.empty()) {
    if (kind == TopicKind::kCoding && !distill_code_.empty()) return rng.Pick(distill_code_);
    if (kind == TopicKind::kAgentic && !distill_tools_.empty()) return rng.Pick(distill_tools_);
    if (rng.Chance(0.8)) return rng.Pick(distill_);
    return rng.Pick(human_);
  }
  return HumanPrompt(kind, rng);
}

std::string TextSource::JudgePrompt(Rng& rng) const {
  const std::string question = HumanPrompt(rng.Chance(0.5) ? TopicKind::kCoding : TopicKind::kCasual, rng);
  const std::string answer = Response(question, TopicKind::kCasual, rng);
  if (!judge_.empty()) {
    std::string t = rng.Pick(judge_);
    auto replace = [&](std::string_view key, const std::string& value) {
      size_t p;
      while ((p = t.find(key)) != std::string::npos) t.replace(p, key.size(), value);
    };
    replace("{question}", question);
    replace("{answer}", answer);
    replace("{answer_a}", answer);
    replace("{answer_b}", Response(question, TopicKind::kCasual, rng));
    replace("{ref_answer_1}", answer);
    replace("{question_1}", question);
    replace("{answer_1}", answer);
    replace("{question_2}", HumanPrompt(TopicKind::kCasual, rng));
    replace("{answer_2}", Response(question, TopicKind::kCasual, rng));
    replace("{answer_a_1}", answer);
    replace("{answer_b_1}", answer);
    replace("{answer_a_2}", answer);
    replace("{answer_b_2}", answer);
    replace("{ref_answer_2}", answer);
    return t;
  }
  static const std::vector<std::string_view> kJudge = {
      "You are grading an assistant's answer against a rubric. Rubric: correctness (0-4), completeness (0-3), "
      "clarity (0-3). Give a score for each criterion and a total.\n\nQuestion: {Q}\n\nAnswer: {A}",
      "Please act as an impartial judge and evaluate the quality of the response below on a scale of 1 to 10. "
      "Explain briefly, then output the rating.\n\n[Question]\n{Q}\n\n[Response]\n{A}",
      "Compare the two responses to the question and decide which response is better, citing the scoring "
      "criteria.\nQuestion: {Q}\nResponse A: {A}\nResponse B: {A}"};
  std::string t(rng.Pick(kJudge));
  size_t p;
  while ((p = t.find("{Q}")) != std::string::npos) t.replace(p, 3, question);
  while ((p = t.find("{A}")) != std::string::npos) t.replace(p, 3, answer);
  return t;
}

std::string TextSource::Response(std::string_view prompt, TopicKind kind, Rng& rng) const {
  if (!responses_.empty() && rng.Chance(0.5)) return rng.Pick(responses_).substr(0, 1200);
  const std::string_view opener = rng.Pick(kResponseOpeners);
  const int words = static_cast<int>(rng.Range(25, 90));
  // Written into a buffer sized for the longest answer (a word and its
  // separator take at most kWordPad + 2 bytes), not grown word by word.
  std::string out(opener.size() + static_cast<size_t>(words) * (kWordPad + 2), '\0');
  char* w = out.data();
  std::memcpy(w, opener.data(), opener.size());
  w += opener.size();
  for (int idx = 0; idx < words; ++idx) {
    if (idx % 12 == 0) {
      *w++ = '.';
      *w++ = ' ';
    } else {
      *w++ = ' ';
    }
    const PaddedWord& word = rng.Pick(kPaddedWords);  // the draw of rng.Pick(kResponseWords)
    std::memcpy(w, word.text, kWordPad);
    w += word.size;
  }
  out.resize(static_cast<size_t>(w - out.data()));
  if (kind == TopicKind::kCoding) out.append("\n```\ndef solve(x):\n    return x\n```");
  out.push_back('.');
  return out;
}

std::string TextSource::FollowUp(Rng& rng) const { return std::string(rng.Pick(kFollowUps)); }

std::string Paraphrase(std::string_view text, Rng& rng, double strength) {
  static const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> kSyn = {
      {"Explain", {"Describe", "Walk through", "Lay out", "Clarify"}},
      {"explain", {"describe", "walk through", "lay out", "clarify"}},
      {"step by step", {"one step at a time", "stage by stage", "in sequential steps", "step-by-step"}},
      {"reasoning", {"thinking", "rationale", "logic", "line of thought"}},
      {"Write", {"Produce", "Compose", "Draft", "Create"}},
      {"write", {"produce", "compose", "draft", "create"}},
      {"Solve", {"Work out", "Figure out", "Resolve", "Answer"}},
      {"problem", {"question", "task", "exercise", "challenge"}},
      {"detailed", {"thorough", "in-depth", "careful", "complete"}},
      {"answer", {"response", "solution", "result", "reply"}},
      {"Please", {"Kindly", "Could you", "I'd like you to", ""}},
      {"following", {"next", "below", "given", "this"}},
      {"final", {"ultimate", "concluding", "last", "closing"}},
      {"show", {"display", "present", "give", "include"}},
      {"You are", {"Act as", "Imagine you are", "Behave as", "Take the role of"}},
      {"expert", {"specialist", "veteran", "professional", "authority"}},
  };
  std::string out(text);
  for (const auto& [from, tos] : kSyn) {
    if (!rng.Chance(strength)) continue;
    const size_t p = out.find(from);
    if (p == std::string::npos) continue;
    out.replace(p, from.size(), rng.Pick(tos));
  }
  return out;
}

}  // namespace dg::sim
