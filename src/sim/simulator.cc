#include "sim/simulator.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <queue>

#include <fmt/format.h>

#include "common/hash.h"
#include "common/json_out.h"
#include "common/rng.h"
#include "common/time.h"
#include "sim/text.h"

namespace dg::sim {
namespace {

// 2026-04-01T00:00:00Z
constexpr TimeMs kScenarioStart = 1775001600000LL;
constexpr double kSecondsPerDay = 86400.0;

enum class Schedule : uint8_t {
  kDiurnal,      // human sessions, weighted by local hour of day
  kBusiness,     // weekdays 9-18 local, paced
  kPaced,        // regular machine pacing around the clock
  kUniform,      // Poisson around the clock
  kRuns,         // occasional benchmark runs: bursts of paced requests
  kSynchronized  // campaign-wide windows shared by all accounts
};

enum class Style : uint8_t {
  kHuman,       // people asking their own questions
  kAgentApp,    // users of a popular coding agent (shared system + tools)
  kBatch,       // one template at volume
  kHomework,    // shared question list with personal edits
  kBenchmark,   // "think step by step" benchmark prompts
  kScripted,    // one person scripting the API over their own data with a copied template
  kSupportBot,  // SaaS chatbot with persona system prompt
  kRouter,      // diverse resold traffic
  kEvalJudge,   // legit LLM-as-judge evaluation
  kDistill,     // templated task harvesting
  kRecon,       // reasoning-trace reconstruction
  kRubric,      // reward-model harvesting
  kAgentDistill,// agentic trace harvesting
  kReseller     // resold organic traffic mixed with agentic harvesting
};

struct Shared {  // infrastructure and content shared by a group of accounts
  std::vector<std::string> ip_pool;
  bool ip_rotate = false;       // a new pool address for every request
  bool residential_rotate = false;  // a fresh random address every request
  std::vector<std::string> payments;
  std::string system;
  std::string tools_json;
  std::vector<std::string> wrappers;  // "{TASK}" templates
  std::vector<std::string> questions; // shared question list (homework, a lab's benchmark items)
  std::vector<std::pair<std::string, std::string>> shots;  // few-shot (question, written answer) pairs
  std::string ua;
  std::string email_domain;
  std::string org;
  int64_t max_tokens = -1;
  double temperature = -1;
  double paraphrase = 0;
  double cot_rate = 0;
  double multi_turn_fake = 0;
  bool hidden_cot = false;      // reasoning asked for in an earlier turn the model "accepted"
  int language = -1;            // foreign-cot: index into kForeignCot, -1 English
  // synchronized windows
  double window_period_s = 3600;
  double window_len_s = 900;
  double window_phase_s = 0;
  // model pivot
  double pivot_share = 0;
  double pivot_delay_h = -1;
};

struct Account {
  std::string id, org, key, ua, payment, email_domain, ip;
  TimeMs created = 0, active_from = 0, active_until = 0;
  Schedule schedule = Schedule::kDiurnal;
  Style style = Style::kHuman;
  TopicKind topic = TopicKind::kCasual;
  double rate_per_day = 5;
  int tz_hours = 0;
  double p_continue = 0.5;   // chance the next request continues the conversation
  int64_t max_tokens = -1;
  double temperature = -1;
  bool vary_settings = true;
  bool decoy = false;        // an attacker's account that only sends ordinary traffic
  bool long_output = false;  // asks for long answers (harvesting, or a person's own data generation)
  double public_template_rate = 0;  // share of new questions sent through a copied public template
  double adopt_at_day = -1;  // when it starts using the new model
  double adopt_share = 0.6;
  std::shared_ptr<Shared> shared;
  // labels
  bool attack = false;
  std::string campaign, archetype;
  std::string created_json;  // "created" as a JSON string, made at its first event
  // dynamic state
  TimeMs next = 0;
  std::vector<std::pair<bool, std::string>> history;  // (is_user, text)
  std::string conversation_id;
  int run_left = 0;
  uint64_t events = 0;
};

const std::vector<std::string_view> kCommonUas = {
    "openai-python/1.51.0", "anthropic-sdk-python/0.39.0", "python-httpx/0.27.2",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "node-fetch/3.3.2", "anthropic-typescript/0.30.1", "langchain-python/0.3.4", "curl/8.5.0", "axios/1.7.7"};
const std::vector<std::string_view> kMailDomains = {"gmail.com", "outlook.com", "yahoo.com", "icloud.com",
                                                    "proton.me", "hotmail.com", "gmx.de", "qq.com", "163.com"};
// Prompt templates and system prompts copied all over the internet: sent
// by heavy individual users at volume and by ordinary people now and then.
const std::vector<std::string> kPublicTemplates = {
    "Summarize the following text in 5 bullet points:\n\n{TASK}",
    "You are an expert. Answer the following question. Let's think step by step.\n\n{TASK}",
    "Answer the question below as accurately as possible.\nQuestion: {TASK}\nAnswer:",
    "Rewrite the following to be clearer and more concise:\n{TASK}",
    "{TASK}\n\nExplain your answer.",
    "Generate 5 diverse question-answer pairs about the following topic, as JSON: {TASK}",
    "Classify the sentiment of this text as positive, negative or neutral: {TASK}",
    "{TASK}"};
const std::vector<std::string> kPublicSystems = {
    "You are a helpful assistant.",
    "You are ChatGPT, a large language model. Answer as concisely as possible.",
    "You are an expert Python developer. Write clean, well-documented code."};
const char* const kOldModel = "atlas-3-pro";
const char* const kMiniModel = "atlas-3-mini";
const char* const kNewModel = "atlas-4-pro";

const char* const kAgentSystem =
    "You are CodePilot, an autonomous software engineering assistant running in the user's terminal. "
    "You can read and edit files, run shell commands and tests, and search the codebase using the tools "
    "provided. Always explain what you are about to do before calling a tool. Prefer small, reviewable "
    "changes. Never run destructive commands without confirmation. When a task is ambiguous, ask a "
    "clarifying question. Follow the repository's existing style, run the tests after each change, and "
    "summarise the diff at the end of the task. Respect .gitignore and never commit secrets.";
const char* const kAgentTools =
    R"([{"name":"read_file","description":"Read a file from the workspace","input_schema":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},)"
    R"({"name":"edit_file","description":"Replace text in a file","input_schema":{"type":"object","properties":{"path":{"type":"string"},"old":{"type":"string"},"new":{"type":"string"}}}},)"
    R"({"name":"run_command","description":"Run a shell command and return its output","input_schema":{"type":"object","properties":{"cmd":{"type":"string"}}}},)"
    R"({"name":"search_code","description":"Search the repository","input_schema":{"type":"object","properties":{"query":{"type":"string"}}}}])";

std::string Hex(Rng& rng, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(static_cast<size_t>(digits));
  uint64_t bits = rng.Next();
  for (int idx = 0; idx < digits; ++idx) {
    if (idx == 16) bits = rng.Next();
    s.push_back(kHex[bits & 0xF]);
    bits >>= 4;
  }
  return s;
}

// Hex(rng, digits) appended to out: the same draws and characters.
void AppendHex(std::string& out, Rng& rng, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = rng.Next();
  for (int idx = 0; idx < digits; ++idx) {
    if (idx == 16) bits = rng.Next();
    out.push_back(kHex[bits & 0xF]);
    bits >>= 4;
  }
}

void AppendInt(std::string& out, int64_t v) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), v);
  out.append(digits, end);
}

// FormatRfc3339(t) as a JSON string, appended: the date part is formatted
// once a day (events come in time order), the time of day by hand.
class Rfc3339Appender {
 public:
  void Append(std::string& out, TimeMs t) {
    int64_t day = t / kMsPerDay;
    int64_t rem = t % kMsPerDay;
    if (rem < 0) {
      rem += kMsPerDay;
      --day;
    }
    if (day != day_ || date_.empty()) {
      day_ = day;
      date_ = FormatRfc3339(day * kMsPerDay).substr(0, 11);  // "YYYY-MM-DDT"
    }
    const auto secs = static_cast<unsigned>(rem / 1000);
    const auto ms = static_cast<unsigned>(rem % 1000);
    char tail[16] = {static_cast<char>('0' + secs / 36000),
                     static_cast<char>('0' + secs / 3600 % 10),
                     ':',
                     static_cast<char>('0' + secs / 600 % 6),
                     static_cast<char>('0' + secs / 60 % 10),
                     ':',
                     static_cast<char>('0' + secs % 60 / 10),
                     static_cast<char>('0' + secs % 10),
                     '.',
                     static_cast<char>('0' + ms / 100),
                     static_cast<char>('0' + ms / 10 % 10),
                     static_cast<char>('0' + ms % 10),
                     'Z',
                     '"'};
    out.push_back('"');
    out.append(date_);
    out.append(tail, 14);
  }

 private:
  int64_t day_ = 0;
  std::string date_;
};

std::string PublicIpv4(Rng& rng) {
  for (;;) {
    const int a = static_cast<int>(rng.Range(1, 223));
    if (a == 10 || a == 127 || a == 172 || a == 192 || a == 100 || a == 169) continue;
    return fmt::format("{}.{}.{}.{}", a, rng.Range(0, 255), rng.Range(0, 255), rng.Range(1, 254));
  }
}

std::string Ipv6(Rng& rng) {
  return fmt::format("2a0{}:{:x}:{:x}:{:x}::{:x}", rng.Range(0, 9), rng.Range(0x1000, 0xffff), rng.Range(0, 0xffff),
                     rng.Range(0, 0xffff), rng.Range(1, 0xffff));
}

std::string ResidentialIp(Rng& rng) { return rng.Chance(0.15) ? Ipv6(rng) : PublicIpv4(rng); }

// n addresses inside `prefixes` random /24 networks.
std::vector<std::string> IpPool(Rng& rng, int prefixes, int per_prefix) {
  std::vector<std::string> pool;
  for (int p = 0; p < prefixes; ++p) {
    const std::string net = PublicIpv4(rng);
    const std::string base = net.substr(0, net.rfind('.') + 1);
    for (int k = 0; k < per_prefix; ++k) pool.push_back(base + std::to_string(rng.Range(1, 254)));
  }
  return pool;
}

double HourWeight(int local_hour) {
  static constexpr double kW[24] = {0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.25, 0.5, 0.8, 1.0, 1.0, 1.0,
                                    0.95, 1.0, 1.0, 0.95, 0.9, 0.85, 0.8, 0.85, 0.9, 0.8, 0.6, 0.35};
  return kW[((local_hour % 24) + 24) % 24];
}

}  // namespace

const std::vector<std::string>& KnownScenarios() {
  static const std::vector<std::string> kNames = {"demo", "standard", "alibaba-scale"};
  return kNames;
}

const std::vector<std::string>& KnownFieldProfiles() {
  static const std::vector<std::string> kNames = {"full", "gateway", "no-ua", "no-ip", "content-only"};
  return kNames;
}

// foreign-cot: how an operator who does not write English asks for
// reasoning -- two task wrappers (the task itself stays the corpus text) and
// a standing instruction with its acknowledgement, per language. Written as
// sentences, not as the engine's lexicon entries: the second Japanese
// wrapper ("推論の過程") is a rendering the lexicon does not list.
struct ForeignCot {
  std::vector<std::string> wrappers;
  std::string_view standing, ack;
};
const std::vector<ForeignCot>& ForeignCotTable() {
  static const std::vector<ForeignCot> kTable = {
      {{"请一步一步地推理，写出完整的思考过程，然后给出最终答案。\n\n{TASK}", "{TASK}\n\n请详细说明你的推理过程。"},
       "在这次对话中，每个问题都请一步一步地思考，并写出完整的推理过程。", "好的。"},
      {{"Resuelve lo siguiente. Piensa paso a paso y muestra todo tu razonamiento antes de la respuesta final.\n\n{TASK}",
        "{TASK}\n\nExplica tu razonamiento con detalle."},
       "En esta conversación, razona siempre paso a paso y muestra tu razonamiento completo.", "Entendido."},
      {{"Реши задачу. Рассуждай шаг за шагом и покажи весь ход решения.\n\n{TASK}", "{TASK}\n\nПодробно объясни свои рассуждения."},
       "В этом чате всегда рассуждай шаг за шагом и показывай ход решения.", "Хорошо."},
      {{"Löse die folgende Aufgabe Schritt für Schritt und zeige deinen vollständigen Lösungsweg.\n\n{TASK}",
        "{TASK}\n\nErkläre deinen Gedankengang ausführlich."},
       "Von nun an erkläre bei jeder Aufgabe deinen Gedankengang Schritt für Schritt.", "Verstanden."},
      {{"次の問題をステップバイステップで解き、思考過程をすべて書いてください。\n\n{TASK}", "{TASK}\n\n推論の過程を詳しく説明してください。"},
       "この会話では、常にステップバイステップで考え、思考過程を示してください。", "承知しました。"},
      {{"다음 문제를 단계별로 풀고 전체 추론 과정을 보여 주세요.\n\n{TASK}", "{TASK}\n\n답하기 전에 생각을 차근차근 설명해 주세요."},
       "이 대화에서는 항상 단계별로 생각하고 추론 과정을 보여 주세요.", "알겠습니다."},
  };
  return kTable;
}

const std::vector<std::pair<std::string, std::string>>& KnownEvasions() {
  static const std::vector<std::pair<std::string, std::string>> kList = {
      {"no-shared-payment", "every attack account has its own payment instrument"},
      {"residential-ip", "attack accounts use rotating residential proxy addresses"},
      {"paraphrase", "attack templates are paraphrased on every request"},
      {"diurnal", "attack schedules follow a human day in one time zone"},
      {"multi-turn", "attack requests carry fabricated earlier turns half of the time"},
      {"no-cot", "attacks never ask for reasoning explicitly"},
      {"common-ua", "attacks use the most common SDK user agent and default settings"},
      {"slow", "four times as many attack accounts, each a quarter as busy"},
      {"aged-accounts", "attack accounts are months old and send ordinary traffic for the first third of their life"},
      {"public-decoys", "each campaign also runs 30 aged accounts on its cards, addresses and client that only ever send ordinary traffic, to make those values look public"},
      {"hidden-cot", "the reasoning instruction moves into an earlier user turn, followed by an assistant turn the model never produced (\"Understood.\"); the last turn is the bare task"},
      {"one-org", "every account of a campaign declares the same org_id (self-service organisations)"},
      {"foreign-cot", "each campaign asks for reasoning in another language (Chinese, Spanish, Russian, German, Japanese or Korean) around the English task, and in that language for hidden-cot"},
  };
  return kList;
}

struct Simulator::Impl {
  SimOptions options;
  std::unique_ptr<TextSource> text;
  Rng rng{1};
  std::vector<Account> accounts;
  TimeMs start = kScenarioStart;
  TimeMs end = kScenarioStart;
  TimeMs release = kScenarioStart;
  uint64_t request_counter = 0;
  // Field profile: which account and network fields the log carries.
  bool billing = true, has_ua = true, has_ip = true;
  // WriteEvent's scratch: formatted dates of the current day, a rotated
  // address, the text of the temperatures seen (a handful of values).
  Rfc3339Appender ts_format;
  std::string rotated_ip;
  std::vector<std::pair<double, std::string>> temperature_text;

  void AppendTemperature(std::string& out, double t) {
    for (const auto& [value, text] : temperature_text) {
      if (value == t) {
        out.append(text);
        return;
      }
    }
    temperature_text.emplace_back(t, fmt::format("{}", t));
    out.append(temperature_text.back().second);
  }

  bool Evade(std::string_view name) const {
    return std::find(options.evasions.begin(), options.evasions.end(), name) != options.evasions.end();
  }
  int Scaled(double n) const { return std::max(1, static_cast<int>(std::lround(n * options.scale))); }
  double Day(TimeMs t) const { return static_cast<double>(t - start) / (kSecondsPerDay * 1000.0); }

  Account& NewAccount(const std::string& archetype, bool attack, const std::string& campaign) {
    Account& a = accounts.emplace_back();
    a.id = "acct_" + Hex(rng, 16);
    a.key = "key_" + Hex(rng, 12);
    a.org = "org_" + Hex(rng, 10);
    a.archetype = archetype;
    a.attack = attack;
    a.campaign = campaign;
    a.ua = std::string(rng.Pick(kCommonUas));
    a.email_domain = std::string(rng.Pick(kMailDomains));
    a.ip = ResidentialIp(rng);
    if (rng.Chance(0.85)) a.payment = "pm_" + Hex(rng, 20);
    a.active_from = start;
    a.active_until = end;
    a.created = start - static_cast<TimeMs>(rng.Uniform(1, 700) * kSecondsPerDay * 1000);
    a.tz_hours = static_cast<int>(rng.Pick(std::vector<int>{-8, -7, -5, -4, -3, 0, 1, 2, 3, 5, 8, 9, 10}));
    a.adopt_at_day = rng.Chance(0.35) ? Day(release) + rng.Exponential(3.0) : -1;
    if (rng.Chance(0.5)) {
      a.max_tokens = rng.Pick(std::vector<int64_t>{512, 1024, 2048, 4096, 8192});
    }
    if (rng.Chance(0.5)) a.temperature = rng.Pick(std::vector<double>{0.0, 0.2, 0.5, 0.7, 1.0});
    return a;
  }

  // ---- legitimate archetypes ---------------------------------------------
  void AddLegit() {
    const int casual = Scaled(14000);
    for (int idx = 0; idx < casual; ++idx) {
      Account& a = NewAccount("casual", false, "");
      a.rate_per_day = rng.LogNormal(1.5, 0.9);
      a.p_continue = rng.Uniform(0.3, 0.75);
      a.topic = static_cast<TopicKind>(rng.Pick(std::vector<int>{0, 0, 0, 1, 1, 2, 3, 5}));
      a.vary_settings = rng.Chance(0.6);
      if (rng.Chance(0.25)) a.public_template_rate = rng.Uniform(0.05, 0.3);
      if (rng.Chance(0.3)) a.active_from = start + static_cast<TimeMs>(rng.Uniform(0, Day(end) * 0.8) * kSecondsPerDay * 1000);
      if (a.active_from > start && rng.Chance(0.5)) a.created = a.active_from - static_cast<TimeMs>(rng.Uniform(0, 2) * kSecondsPerDay * 1000);
    }
    // families and small teams sharing one card
    const int families = Scaled(700);
    for (int f = 0; f < families; ++f) {
      const std::string card = "pm_" + Hex(rng, 20);
      const int members = static_cast<int>(rng.Range(2, 5));
      const std::string home_ip = ResidentialIp(rng);
      for (int m = 0; m < members; ++m) {
        Account& a = NewAccount("family_shared_card", false, "");
        a.payment = card;
        if (rng.Chance(0.6)) a.ip = home_ip;
        a.rate_per_day = rng.LogNormal(1.5, 0.8);
        a.p_continue = rng.Uniform(0.3, 0.7);
      }
    }
    // users of one popular coding agent: identical long system prompt and tools
    auto agent = std::make_shared<Shared>();
    agent->system = kAgentSystem;
    agent->tools_json = kAgentTools;
    agent->ua = "codepilot-cli/2.3.1";
    const int agent_users = Scaled(2500);
    for (int idx = 0; idx < agent_users; ++idx) {
      Account& a = NewAccount("coding_agent_user", false, "");
      a.shared = agent;
      a.style = Style::kAgentApp;
      a.topic = TopicKind::kCoding;
      a.ua = agent->ua;
      a.rate_per_day = rng.LogNormal(10, 0.8);
      a.p_continue = 0.85;
      a.max_tokens = 8192;
      a.temperature = 0;
      a.vary_settings = false;
      a.schedule = Schedule::kDiurnal;
      if (rng.Chance(0.3)) a.payment = "";
    }
    // enterprise batch jobs: one template at high volume
    const int batches = Scaled(12);
    for (int idx = 0; idx < batches; ++idx) {
      auto sh = std::make_shared<Shared>();
      sh->wrappers = {rng.Pick(std::vector<std::string>{
          "Classify the following support ticket into one of: billing, bug, feature, other. Ticket: {TASK}",
          "Extract the company name, amount and due date as JSON from this invoice text: {TASK}",
          "Summarise the following customer review in one sentence and give its sentiment: {TASK}",
          "Translate the following product description into German, keeping the formatting: {TASK}"})};
      sh->ip_pool = IpPool(rng, 1, 3);
      Account& a = NewAccount("enterprise_batch", false, "");
      a.shared = sh;
      a.style = Style::kBatch;
      a.schedule = rng.Chance(0.5) ? Schedule::kPaced : Schedule::kBusiness;
      a.rate_per_day = rng.Uniform(800, 2500);
      a.max_tokens = rng.Pick(std::vector<int64_t>{256, 512, 1024});
      a.temperature = 0;
      a.vary_settings = false;
      a.p_continue = 0;
      a.email_domain = "corp-" + Hex(rng, 6) + ".com";
      a.ua = "python-httpx/0.27.2";
      const double s = rng.Uniform(0, Day(end) * 0.5);
      a.active_from = start + static_cast<TimeMs>(s * kSecondsPerDay * 1000);
      a.active_until = std::min(end, a.active_from + static_cast<TimeMs>(rng.Uniform(2, 6) * kSecondsPerDay * 1000));
    }
    // university classes behind one campus NAT, accounts created the same week
    const int classes = Scaled(3);
    for (int c = 0; c < classes; ++c) {
      auto sh = std::make_shared<Shared>();
      sh->ip_pool = IpPool(rng, 1, 2);
      sh->email_domain = "univ-" + Hex(rng, 4) + ".edu";
      const TimeMs week = start - static_cast<TimeMs>(rng.Uniform(0, 20) * kSecondsPerDay * 1000);
      const int students = static_cast<int>(rng.Range(40, 80));
      for (int s = 0; s < students; ++s) {
        Account& a = NewAccount("campus_class", false, "");
        a.shared = sh;
        a.style = Style::kHomework;
        a.topic = TopicKind::kHomework;
        a.email_domain = sh->email_domain;
        a.created = week + static_cast<TimeMs>(rng.Uniform(0, 7) * kSecondsPerDay * 1000);
        a.rate_per_day = rng.LogNormal(3, 0.6);
        a.p_continue = 0.5;
        a.tz_hours = 1;
        a.ip = sh->ip_pool[0];
        if (rng.Chance(0.5)) a.payment = "";
      }
    }
    // Research labs running benchmarks with "think step by step": by
    // default two to four accounts each (below a campaign's block size);
    // with --realistic-labs, labs of the size and habits below instead.
    auto labs_small = [&] {
      const int labs = Scaled(4);
      for (int l = 0; l < labs; ++l) {
        auto sh = std::make_shared<Shared>();
        sh->ip_pool = IpPool(rng, 1, 4);
        sh->org = "org_" + Hex(rng, 10);
        sh->payments = {"pm_" + Hex(rng, 20)};
        sh->wrappers = {"Question: {TASK}\nLet's think step by step, then give the final answer on the last line.",
                        "{TASK}\n\nThink step by step and show your reasoning before the answer."};
        const int members = static_cast<int>(rng.Range(2, 4));
        for (int m = 0; m < members; ++m) {
          Account& a = NewAccount("research_lab_benchmark", false, "");
          a.shared = sh;
          a.style = Style::kBenchmark;
          a.schedule = Schedule::kRuns;
          a.topic = rng.Chance(0.5) ? TopicKind::kMaths : TopicKind::kReasoning;
          a.org = sh->org;
          a.payment = sh->payments[0];
          a.ip = sh->ip_pool[static_cast<size_t>(m) % sh->ip_pool.size()];
          a.rate_per_day = 1;  // runs per ~3 days handled by the schedule
          a.max_tokens = 4096;
          a.temperature = 0;
          a.vary_settings = false;
          a.p_continue = 0;
          a.ua = "python-httpx/0.27.2";
        }
      }
    };
    // --realistic-labs: a handful of researchers (3-12), each with
    // an account, under one org, one card, one office /24 and the lab's own
    // mail domain. They run public benchmarks -- a fixed item set, asked again
    // in every run, by every researcher and on every model -- at temperature 0
    // with "think step by step" or in a few-shot format whose exemplar answers
    // the lab wrote (assistant turns the model never produced); most run a new
    // model within hours of its release. Sized like the labs and eval teams
    // that run model comparisons; a campaign-sized group on one card to the
    // linker.
    const int labs = options.realistic_labs ? Scaled(5) : 0;
    if (!options.realistic_labs) labs_small();
    for (int l = 0; l < labs; ++l) {
      auto sh = std::make_shared<Shared>();
      sh->ip_pool = IpPool(rng, 1, 2);
      sh->org = "org_" + Hex(rng, 10);
      sh->payments = {"pm_" + Hex(rng, 20)};
      sh->email_domain = "lab-" + Hex(rng, 4) + (rng.Chance(0.5) ? ".ai" : ".edu");
      sh->wrappers = {"Question: {TASK}\nLet's think step by step, then give the final answer on the last line.",
                      "{TASK}\n\nThink step by step and show your reasoning before the answer."};
      const TopicKind topic = rng.Chance(0.5) ? TopicKind::kMaths : TopicKind::kReasoning;
      const int items = static_cast<int>(rng.Range(150, 600));
      for (int q = 0; q < items; ++q) sh->questions.push_back(text->TaskPrompt(topic, rng));
      if (rng.Chance(0.4)) {  // few-shot: worked examples the lab wrote
        for (int k = 0; k < 3; ++k) {
          const std::string q = text->TaskPrompt(topic, rng);
          sh->shots.emplace_back(q, "Let's work through it. " + text->Response(q, topic, rng).substr(0, 240));
        }
      }
      const bool early = rng.Chance(0.7);
      const std::string ua = std::string(rng.Pick(std::vector<std::string_view>{"python-httpx/0.27.2", "openai-python/1.51.0"}));
      const int members = static_cast<int>(rng.Range(3, 12));
      for (int m = 0; m < members; ++m) {
        Account& a = NewAccount("research_lab_benchmark", false, "");
        a.shared = sh;
        a.style = Style::kBenchmark;
        a.schedule = Schedule::kRuns;
        a.topic = topic;
        a.org = sh->org;
        a.payment = sh->payments[0];
        a.email_domain = sh->email_domain;
        a.ip = sh->ip_pool[static_cast<size_t>(m) % sh->ip_pool.size()];
        a.rate_per_day = 1;  // runs per ~3 days handled by the schedule
        a.max_tokens = rng.Chance(0.5) ? 4096 : 2048;
        a.temperature = 0;
        a.vary_settings = false;
        a.p_continue = 0;
        a.ua = ua;
        if (early) {
          a.adopt_at_day = Day(release) + rng.Uniform(0.05, 0.5);
          a.adopt_share = 0.8;
        }
      }
    }
    // SaaS chatbots: persona system prompt, multi-turn, many end users
    const int saas = Scaled(30);
    for (int idx = 0; idx < saas; ++idx) {
      auto sh = std::make_shared<Shared>();
      sh->system = fmt::format("You are {}, the friendly support assistant of {}. Answer briefly, stay on topic, "
                               "and hand over to a human agent when the customer asks.",
                               rng.Pick(std::vector<std::string_view>{"Ava", "Max", "Nova", "Sam"}), "Company-" + Hex(rng, 4));
      sh->ip_pool = IpPool(rng, 1, 4);
      sh->ip_rotate = true;
      Account& a = NewAccount("saas_chatbot", false, "");
      a.shared = sh;
      a.style = Style::kSupportBot;
      a.topic = TopicKind::kSupport;
      a.rate_per_day = rng.Uniform(100, 500);
      a.p_continue = 0.7;
      a.max_tokens = 1024;
      a.temperature = 0.3;
      a.vary_settings = false;
      a.ua = "node-fetch/3.3.2";
    }
    // legitimate API routers: very high volume, diverse traffic
    const int routers = Scaled(5);
    for (int idx = 0; idx < routers; ++idx) {
      auto sh = std::make_shared<Shared>();
      sh->ip_pool = IpPool(rng, 1, 8);
      sh->ip_rotate = true;
      Account& a = NewAccount("api_router", false, "");
      a.shared = sh;
      a.style = Style::kRouter;
      a.schedule = Schedule::kUniform;
      a.rate_per_day = rng.Uniform(400, 1200);
      a.p_continue = 0.4;
      a.ua = "litellm/1.50.2";
    }
    // evaluation teams using the model as a judge for their own product
    const int evals = Scaled(6);
    for (int idx = 0; idx < evals; ++idx) {
      Account& a = NewAccount("eval_team_judge", false, "");
      a.style = Style::kEvalJudge;
      a.schedule = Schedule::kRuns;
      a.rate_per_day = 1;
      a.temperature = 0;
      a.max_tokens = 1024;
      a.vary_settings = false;
      a.p_continue = 0;
      a.ua = "python-httpx/0.27.2";
    }
    // Heavy individual API users: one person scripting the API for their
    // own work -- a data set run through a prompt template copied from the
    // internet, the most popular SDKs, fixed settings, single-turn batches,
    // webmail addresses, often a new account made the day before. The hard
    // negative of this field: each of them alone looks like one harvesting
    // account, and hundreds of them share every public value there is.
    const int heavy = Scaled(250);
    for (int idx = 0; idx < heavy; ++idx) {
      auto sh = std::make_shared<Shared>();
      sh->wrappers = {kPublicTemplates[rng.Below(kPublicTemplates.size())]};
      if (rng.Chance(0.3)) sh->wrappers.push_back(kPublicTemplates[rng.Below(kPublicTemplates.size())]);
      if (rng.Chance(0.35)) sh->system = kPublicSystems[rng.Below(kPublicSystems.size())];
      Account& a = NewAccount("heavy_individual", false, "");
      a.shared = sh;
      a.style = Style::kScripted;
      a.topic = static_cast<TopicKind>(rng.Pick(std::vector<int>{0, 1, 1, 2, 3, 5}));
      a.ua = std::string(kCommonUas[rng.Chance(0.5) ? 0 : rng.Below(3)]);
      a.max_tokens = rng.Pick(std::vector<int64_t>{-1, 2048, 4096, 8192, 16384});
      a.temperature = rng.Pick(std::vector<double>{-1, 0.0, 0.0, 0.2, 0.7, 1.0});
      a.vary_settings = false;
      a.p_continue = 0;
      a.long_output = rng.Chance(0.5);
      a.schedule = rng.Pick(std::vector<Schedule>{Schedule::kRuns, Schedule::kPaced, Schedule::kUniform, Schedule::kBusiness});
      a.rate_per_day = rng.LogNormal(120, 0.9);
      if (rng.Chance(0.45)) {  // a new account for the job
        const double from = rng.Uniform(0, Day(end) * 0.7);
        a.active_from = start + static_cast<TimeMs>(from * kSecondsPerDay * 1000);
        a.created = a.active_from - static_cast<TimeMs>(rng.Uniform(0.01, 1.5) * kSecondsPerDay * 1000);
      }
      if (rng.Chance(0.5)) {  // a job, not a habit
        a.active_until = std::min(end, a.active_from + static_cast<TimeMs>(rng.Uniform(1, 6) * kSecondsPerDay * 1000));
      }
    }
  }

  // ---- attack campaigns ----------------------------------------------------
  // Shared attack infrastructure, then accounts in waves over [from, until).
  struct CampaignPlan {
    std::string name;
    Style style;
    TopicKind topic;
    int accounts;             // total over the campaign, including replacements
    int concurrent;           // live at once
    double rate_per_day;      // per account
    double life_days;         // account lifetime before replacement
    Schedule schedule;
    double from_day, until_day;
    int ip_prefixes;          // 0 = one residential address per account
    bool rotate = false;      // a fresh residential address on every request
    int cards;                // 0 = one card per account
    bool creation_burst = true;
  };

  // A campaign account's card, address, client and settings from the
  // campaign's shared pools (own_card_otherwise: a fresh card when the
  // campaign has none to share; else the account keeps its own).
  void UseCampaignInfrastructure(Account& a, const Shared& sh, bool own_card_otherwise) {
    if (!sh.payments.empty()) a.payment = sh.payments[rng.Below(sh.payments.size())];
    else if (own_card_otherwise) a.payment = "pm_" + Hex(rng, 20);
    if (!sh.ip_pool.empty()) a.ip = sh.ip_pool[rng.Below(sh.ip_pool.size())];
    if (!sh.ua.empty()) a.ua = sh.ua;
    a.max_tokens = sh.max_tokens;
    a.temperature = sh.temperature;
    a.vary_settings = false;
  }

  void AddCampaign(CampaignPlan plan, const std::shared_ptr<Shared>& sh) {
    if (Evade("slow")) {
      plan.accounts *= 4;
      plan.concurrent *= 4;
      plan.rate_per_day /= 4;
    }
    if (Evade("residential-ip")) {
      plan.ip_prefixes = 0;
      plan.rotate = true;
    }
    if (Evade("no-shared-payment")) plan.cards = 0;
    if (Evade("paraphrase")) sh->paraphrase = std::max(sh->paraphrase, 0.8);
    if (Evade("no-cot")) sh->cot_rate = 0;
    if (Evade("multi-turn")) sh->multi_turn_fake = 0.5;
    if (Evade("hidden-cot")) sh->hidden_cot = true;
    if (Evade("one-org")) sh->org = "org_" + Hex(rng, 10);
    if (Evade("foreign-cot")) {
      sh->language = static_cast<int>(rng.Below(ForeignCotTable().size()));
      if (sh->cot_rate > 0) sh->wrappers = ForeignCotTable()[static_cast<size_t>(sh->language)].wrappers;
    }
    if (Evade("diurnal")) plan.schedule = Schedule::kDiurnal;
    if (Evade("common-ua")) {
      sh->ua = std::string(kCommonUas[0]);
      sh->max_tokens = -1;
      sh->temperature = -1;
    }
    if (plan.ip_prefixes > 0) sh->ip_pool = IpPool(rng, plan.ip_prefixes, 12);
    sh->residential_rotate = plan.rotate;
    for (int c = 0; c < plan.cards; ++c) sh->payments.push_back("pm_" + Hex(rng, 20));
    const double span = plan.until_day - plan.from_day;
    const int waves = std::max(1, static_cast<int>(std::ceil(plan.accounts / static_cast<double>(plan.concurrent))));
    const double wave_len = std::max(plan.life_days, span / waves);
    int made = 0;
    for (int w = 0; w < waves && made < plan.accounts; ++w) {
      const double wave_start = plan.from_day + w * (span - plan.life_days) / std::max(1, waves - 1) * (waves > 1 ? 1 : 0);
      const double burst_at = wave_start - rng.Uniform(0.05, 0.5);
      for (int k = 0; k < plan.concurrent && made < plan.accounts; ++k, ++made) {
        Account& a = NewAccount(plan.name, true, plan.name);
        a.shared = sh;
        a.style = plan.style;
        a.topic = plan.topic;
        a.schedule = plan.schedule;
        a.rate_per_day = plan.rate_per_day * rng.Uniform(0.7, 1.3);
        const double from = std::max(0.0, wave_start + rng.Uniform(0, 0.3));
        a.active_from = start + static_cast<TimeMs>(from * kSecondsPerDay * 1000);
        a.active_until = std::min(end, start + static_cast<TimeMs>(std::min(plan.until_day, from + wave_len * rng.Uniform(0.8, 1.1)) * kSecondsPerDay * 1000));
        double created_day = plan.creation_burst ? burst_at + rng.Uniform(0, 0.04) : from - rng.Uniform(0.2, 10);
        if (Evade("aged-accounts")) created_day = from - rng.Uniform(60, 700);  // bought or farmed accounts
        a.created = start + static_cast<TimeMs>(created_day * kSecondsPerDay * 1000);
        UseCampaignInfrastructure(a, *sh, /*own_card_otherwise=*/true);
        if (!sh->org.empty()) a.org = sh->org;
        a.long_output = plan.style != Style::kReseller;
        a.p_continue = 0.0;
        if (sh->pivot_delay_h >= 0) {
          a.adopt_at_day = Day(release) + sh->pivot_delay_h / 24.0 * rng.Uniform(0.5, 1.0);
          a.adopt_share = sh->pivot_share;
        }
        a.tz_hours = 8;
      }
    }
    // Decoys: months-old accounts on the campaign's cards, addresses and
    // client, with its system prompt and tools, that send ordinary traffic
    // at a human pace for the whole period -- so that every value the
    // campaign uses has a long clean population (what the engine takes as
    // a sign that a value is public). Labelled as the campaign's own
    // accounts under "<campaign>-decoys", so that the campaign's row keeps
    // measuring the accounts that harvest.
    if (Evade("public-decoys")) {
      for (int k = 0; k < 30; ++k) {
        Account& a = NewAccount(plan.name + "-decoy", true, plan.name + "-decoys");
        a.shared = sh;
        a.decoy = true;
        a.style = Style::kHuman;
        a.topic = TopicKind::kCasual;
        a.schedule = Schedule::kDiurnal;
        a.rate_per_day = rng.Uniform(12, 24);
        a.created = start - static_cast<TimeMs>(rng.Uniform(60, 700) * kSecondsPerDay * 1000);
        UseCampaignInfrastructure(a, *sh, /*own_card_otherwise=*/false);
        a.tz_hours = 8;
      }
    }
  }

  void AddAttacks() {
    const double days = Day(end);
    // Templated hydra network with account waves and synchronized windows.
    {
      auto sh = std::make_shared<Shared>();
      sh->system = "You are Professor Sage, a world-class expert tutor in mathematics, computer science and logic. "
                   "You always give complete, rigorous, well-structured answers.";
      sh->wrappers = {"Solve the following problem. Think step by step and show your complete reasoning before the final answer.\n\nProblem: {TASK}",
                      "{TASK}\n\nExplain your reasoning step by step in detail, then state the final answer clearly."};
      sh->cot_rate = 1.0;
      sh->max_tokens = 8192;
      sh->temperature = 0.7;
      sh->ua = "python-httpx/0.27.2";
      sh->window_period_s = 3600;
      sh->window_len_s = 1200;
      sh->window_phase_s = rng.Uniform(0, 3600);
      AddCampaign({"hydra-templated", Style::kDistill, TopicKind::kMaths, Scaled(360), Scaled(60), 90, 3.0,
                   Schedule::kSynchronized, 0.5, days, 5, false, Scaled(12), true}, sh);
    }
    // Proxy reseller: resold organic traffic mixed with agentic harvesting.
    {
      auto sh = std::make_shared<Shared>();
      sh->tools_json = R"([{"name":"web_search","description":"Search the web","input_schema":{"type":"object","properties":{"q":{"type":"string"}}}},{"name":"python","description":"Run python code","input_schema":{"type":"object","properties":{"code":{"type":"string"}}}}])";
      sh->wrappers = {"You are an autonomous agent. Task: {TASK}\nPlan the full sequence of steps, call tools as needed, and narrate your reasoning at every step."};
      sh->cot_rate = 0.6;
      sh->max_tokens = 16000;
      AddCampaign({"proxy-reseller", Style::kReseller, TopicKind::kAgentic, Scaled(120), Scaled(40), 140, 6.0,
                   Schedule::kUniform, 1.0, days, 0, true, Scaled(10), false}, sh);
    }
    // Low-and-slow: one address and one card per account, paraphrased.
    {
      auto sh = std::make_shared<Shared>();
      sh->wrappers = {"Please explain in detail how to solve this, reasoning step by step: {TASK}",
                      "{TASK}\nWalk me through your thinking before you answer.",
                      "Answer the following question with a thorough explanation: {TASK}"};
      sh->paraphrase = 0.6;
      sh->cot_rate = 0.6;
      sh->max_tokens = 4096;
      sh->temperature = 1.0;
      sh->ua = std::string(kCommonUas[0]);
      AddCampaign({"low-and-slow", Style::kDistill, TopicKind::kReasoning, Scaled(240), Scaled(240), 22, days,
                   Schedule::kUniform, 0.0, days, 0, false, 0, false}, sh);
    }
    // Reward-model (rubric) harvesting.
    {
      auto sh = std::make_shared<Shared>();
      sh->max_tokens = 2048;
      sh->temperature = 0;
      sh->ua = "aiohttp/3.10.5";
      AddCampaign({"rubric-harvest", Style::kRubric, TopicKind::kCasual, Scaled(80), Scaled(40), 110, 5.0,
                   Schedule::kPaced, 2.0, days, 2, false, Scaled(4), true}, sh);
    }
    // Reasoning-trace reconstruction.
    {
      auto sh = std::make_shared<Shared>();
      sh->system = "You are a meticulous reasoning assistant.";
      sh->max_tokens = 16384;
      sh->temperature = 0.6;
      sh->ua = std::string(kCommonUas[1]);
      AddCampaign({"reasoning-trace", Style::kRecon, TopicKind::kMaths, Scaled(120), Scaled(40), 100, 4.0,
                   Schedule::kUniform, 1.5, days, 3, false, Scaled(6), true}, sh);
    }
    // Model-release pivot: about half the traffic moves within a day.
    {
      auto sh = std::make_shared<Shared>();
      sh->wrappers = {"Implement the following and explain each design decision: {TASK}",
                      "Write production-quality code for: {TASK}\nInclude tests."};
      sh->max_tokens = 8192;
      sh->temperature = 0.2;
      sh->ua = "go-resty/2.14.0";
      sh->pivot_share = 0.5;
      sh->pivot_delay_h = 20;
      AddCampaign({"model-pivot", Style::kDistill, TopicKind::kCoding, Scaled(150), Scaled(50), 80, 5.0,
                   Schedule::kPaced, 1.0, days, 4, false, Scaled(8), true}, sh);
    }
  }

  // ---- scheduling -------------------------------------------------------------
  TimeMs NextTime(Account& a, TimeMs now) {
    const double mean_gap_s = kSecondsPerDay / std::max(0.01, a.rate_per_day);
    switch (a.schedule) {
      case Schedule::kDiurnal: {
        if (!a.history.empty() && rng.Chance(a.p_continue)) {
          return now + static_cast<TimeMs>(rng.Uniform(15, 240) * 1000);  // reading, typing
        }
        // Next session start, thinned by the local hour of day; sessions
        // average 1/(1-p_continue) requests, so `rate_per_day` stays the
        // account's request rate.
        const double session_len = 1.0 / std::max(0.05, 1.0 - a.p_continue);
        TimeMs t = now;
        for (int tries = 0; tries < 1000; ++tries) {
          t += static_cast<TimeMs>(rng.Exponential(mean_gap_s * 0.6 * session_len) * 1000);
          const int hour = static_cast<int>(((t / kMsPerHour) + a.tz_hours) % 24);
          if (rng.Chance(HourWeight(hour))) break;
        }
        a.history.clear();
        return t;
      }
      case Schedule::kBusiness: {
        TimeMs t = now + static_cast<TimeMs>(mean_gap_s * rng.Uniform(0.3, 0.7) * 1000);
        for (int tries = 0; tries < 200; ++tries) {
          const int64_t day = t / kMsPerDay;
          const int hour = static_cast<int>(((t / kMsPerHour) + a.tz_hours) % 24);
          const bool weekday = ((day + 4) % 7) < 5;
          if (weekday && hour >= 9 && hour < 18) return t;
          t += kMsPerHour;
        }
        return t;
      }
      case Schedule::kPaced:
        return now + static_cast<TimeMs>(mean_gap_s * rng.Uniform(0.85, 1.15) * 1000);
      case Schedule::kUniform:
        return now + static_cast<TimeMs>(rng.Exponential(mean_gap_s) * 1000);
      case Schedule::kRuns: {
        if (a.run_left > 0) {
          --a.run_left;
          return now + static_cast<TimeMs>(rng.Uniform(2, 8) * 1000);
        }
        // A lab's run is one pass over its benchmark's items; other runs
        // (batch jobs) are a few hundred to 1,500 requests.
        a.run_left = a.style == Style::kBenchmark && a.shared && !a.shared->questions.empty()
                         ? static_cast<int>(a.shared->questions.size())
                         : static_cast<int>(rng.Range(300, 1500));
        const int hour_base = static_cast<int>(rng.Range(9, 16));
        const double days_ahead = rng.Uniform(1.5, 5.0);
        const TimeMs day0 = ((now + static_cast<TimeMs>(days_ahead * kSecondsPerDay * 1000)) / kMsPerDay) * kMsPerDay;
        return day0 + (hour_base - a.tz_hours) * kMsPerHour + static_cast<TimeMs>(rng.Uniform(0, 3600) * 1000);
      }
      case Schedule::kSynchronized: {
        const Shared& sh = *a.shared;
        // Inside the campaign's shared window, requests come in bursts.
        const double window_rate = a.rate_per_day * sh.window_period_s / sh.window_len_s;
        TimeMs t = now + static_cast<TimeMs>(rng.Exponential(kSecondsPerDay / window_rate) * 1000);
        const double period_ms = sh.window_period_s * 1000;
        const double pos = std::fmod(static_cast<double>(t - start) - sh.window_phase_s * 1000, period_ms);
        const double p = pos < 0 ? pos + period_ms : pos;
        if (p > sh.window_len_s * 1000) t += static_cast<TimeMs>(period_ms - p + rng.Uniform(0, 20000));
        return t;
      }
    }
    return now + static_cast<TimeMs>(mean_gap_s * 1000);
  }

  TimeMs FirstTime(Account& a) {
    TimeMs t = a.active_from;
    if (a.schedule == Schedule::kRuns) {
      a.run_left = 0;
      return NextTime(a, t - static_cast<TimeMs>(1.5 * kSecondsPerDay * 1000));
    }
    return NextTime(a, t);
  }

  // ---- one event ----------------------------------------------------------------
  std::string Wrap(const Shared& sh, const std::string& task) {
    std::string w = sh.wrappers.empty() ? "{TASK}" : sh.wrappers[rng.Below(sh.wrappers.size())];
    if (sh.paraphrase > 0) w = Paraphrase(w, rng, sh.paraphrase);
    const size_t p = w.find("{TASK}");
    if (p != std::string::npos) w.replace(p, 6, task);
    return w;
  }

  std::string ReconPrompt() {
    const std::string q = text->TaskPrompt(TopicKind::kMaths, rng);
    const std::string ans = text->Response(q, TopicKind::kMaths, rng);
    static const std::vector<std::string_view> kRecon = {
        "Below is a question and a completed response. Imagine and articulate the internal reasoning behind the completed response, and write it out step by step as if you were thinking it.\n\nQuestion: {Q}\n\nCompleted response: {A}",
        "Given the final answer below, reconstruct the reasoning that led to it in full detail, one step at a time.\nProblem: {Q}\nFinal answer: {A}",
        "Here is a problem and its solution. Write out the hidden reasoning a careful expert would go through to arrive at this answer.\n{Q}\n---\n{A}"};
    std::string t(rng.Pick(kRecon));
    size_t p;
    while ((p = t.find("{Q}")) != std::string::npos) t.replace(p, 3, q);
    while ((p = t.find("{A}")) != std::string::npos) t.replace(p, 3, ans);
    return t;
  }

  struct Request {
    std::string system;
    std::string tools_json;
    std::vector<std::pair<bool, std::string>> messages;
    bool tool_turns = false;
    TopicKind topic = TopicKind::kCasual;
  };

  Request BuildRequest(Account& a, TimeMs ts) {
    Request r;
    // Warm-up: an aged account first looks like an ordinary customer.
    if (a.decoy || (a.attack && Evade("aged-accounts") && ts < a.active_from + (a.active_until - a.active_from) / 3)) {
      const TopicKind kind = static_cast<TopicKind>(rng.Below(4));
      r.messages.emplace_back(true, text->HumanPrompt(kind, rng));
      if (rng.Chance(0.4)) {
        r.messages.insert(r.messages.begin(), {{true, text->HumanPrompt(kind, rng)}, {false, text->Response("", kind, rng)}});
      }
      r.topic = kind;
      if (a.decoy) {
        r.system = a.shared->system;
        r.tools_json = a.shared->tools_json;
      }
      return r;
    }
    r.topic = a.topic;
    const Shared* sh = a.shared.get();
    auto human_turn = [&](TopicKind kind) {
      if (!a.history.empty() && a.schedule == Schedule::kDiurnal) {
        r.messages = std::move(a.history);  // WriteEvent sets it again (diurnal)
        r.messages.emplace_back(true, text->FollowUp(rng));
      } else if (a.public_template_rate > 0 && rng.Chance(a.public_template_rate)) {
        Shared copied;
        copied.wrappers = {kPublicTemplates[rng.Below(kPublicTemplates.size())]};
        if (rng.Chance(0.3)) r.system = kPublicSystems[rng.Below(kPublicSystems.size())];
        r.messages.emplace_back(true, Wrap(copied, text->HumanPrompt(kind, rng)));
      } else {
        r.messages.emplace_back(true, text->HumanPrompt(kind, rng));
      }
    };
    switch (a.style) {
      case Style::kHuman: human_turn(a.topic); break;
      case Style::kAgentApp:
        r.system = sh->system;
        r.tools_json = sh->tools_json;
        if (!a.history.empty()) {
          if (a.schedule == Schedule::kDiurnal) r.messages = std::move(a.history);  // WriteEvent sets it again
          else r.messages = a.history;
          r.messages.emplace_back(true, rng.Chance(0.7) ? "[tool_result] exit code 0\n" + std::string(text->Response("", TopicKind::kCoding, rng)).substr(0, 200) : text->FollowUp(rng));
          r.tool_turns = true;
        } else {
          r.messages.emplace_back(true, text->HumanPrompt(TopicKind::kCoding, rng));
        }
        break;
      case Style::kBatch: r.messages.emplace_back(true, Wrap(*sh, text->HumanPrompt(TopicKind::kSupport, rng) + " (ref " + std::to_string(rng.Range(1000, 99999)) + ")")); break;
      case Style::kHomework: {
        if (!a.history.empty()) {
          human_turn(TopicKind::kHomework);
        } else {
          std::string q = text->HumanPrompt(TopicKind::kHomework, rng);
          if (rng.Chance(0.3)) q += " Please explain step by step.";
          if (rng.Chance(0.3)) q = "hi, " + q;
          r.messages.emplace_back(true, q);
        }
        break;
      }
      case Style::kBenchmark: {
        if (sh->questions.empty()) {  // the default small labs: a fresh item each time
          r.messages.emplace_back(true, Wrap(*sh, text->TaskPrompt(a.topic, rng)));
          break;
        }
        const std::string& item = sh->questions[rng.Below(sh->questions.size())];
        if (sh->shots.empty()) {
          r.messages.emplace_back(true, Wrap(*sh, item));
          break;
        }
        for (const auto& [q, ans] : sh->shots) {
          r.messages.emplace_back(true, "Question: " + q);
          r.messages.emplace_back(false, ans);
        }
        r.messages.emplace_back(true, "Question: " + item);
        break;
      }
      case Style::kSupportBot:
        r.system = sh->system;
        human_turn(TopicKind::kSupport);
        break;
      case Style::kRouter: {
        const TopicKind kind = static_cast<TopicKind>(rng.Below(4));
        if (rng.Chance(0.2)) r.system = "You are a helpful assistant.";
        human_turn(kind);
        r.topic = kind;
        break;
      }
      case Style::kEvalJudge: r.messages.emplace_back(true, text->JudgePrompt(rng)); break;
      case Style::kScripted:
        r.system = sh->system;
        r.messages.emplace_back(true, Wrap(*sh, a.topic == TopicKind::kCasual ? text->HumanPrompt(a.topic, rng) : text->TaskPrompt(a.topic, rng)));
        break;
      case Style::kDistill: {
        std::string task = text->TaskPrompt(a.topic, rng);
        r.system = sh->system;
        r.messages.emplace_back(true, sh->cot_rate > 0 && rng.Chance(sh->cot_rate) ? Wrap(*sh, task) : Wrap(Shared{}, task));
        break;
      }
      case Style::kRecon:
        r.system = sh->system;
        r.messages.emplace_back(true, ReconPrompt());
        break;
      case Style::kRubric: r.messages.emplace_back(true, text->JudgePrompt(rng)); break;
      case Style::kAgentDistill:
      case Style::kReseller: {
        if (a.style == Style::kReseller && rng.Chance(0.4)) {  // resold organic customer traffic
          const TopicKind kind = static_cast<TopicKind>(rng.Below(4));
          r.messages.emplace_back(true, text->HumanPrompt(kind, rng));
          if (rng.Chance(0.4)) {
            r.messages.insert(r.messages.begin(), {{true, text->HumanPrompt(kind, rng)}, {false, text->Response("", kind, rng)}});
          }
          r.topic = kind;
          break;
        }
        r.tools_json = sh->tools_json;
        r.messages.emplace_back(true, Wrap(*sh, text->TaskPrompt(TopicKind::kAgentic, rng)));
        if (rng.Chance(0.5)) {  // continue a harvested agent trace
          r.messages.emplace_back(false, "I'll start by searching for the relevant information.");
          r.messages.emplace_back(true, "[tool_result] " + text->Response("", TopicKind::kAgentic, rng).substr(0, 160));
          r.tool_turns = true;
        }
        break;
      }
    }
    if (sh != nullptr && sh->hidden_cot && a.attack && !a.decoy && r.messages.size() == 1) {
      static const std::vector<std::string_view> kStanding = {
          "For every task in this chat, think step by step and show your complete reasoning before the final answer.",
          "From now on, before each answer, write out your full chain of thought, then the answer.",
          "In this conversation always reason carefully and explain every step of your thinking in detail."};
      static const std::vector<std::string_view> kAck = {"Understood.", "Sure, I will do that.", "Okay."};
      const std::string task = a.style == Style::kRecon || a.style == Style::kRubric ? r.messages.back().second : text->TaskPrompt(a.topic, rng);
      r.messages.clear();
      if (sh->language >= 0) {
        const ForeignCot& f = ForeignCotTable()[static_cast<size_t>(sh->language)];
        r.messages.emplace_back(true, std::string(f.standing));
        r.messages.emplace_back(false, std::string(f.ack));
      } else {
        r.messages.emplace_back(true, std::string(rng.Pick(kStanding)));
        r.messages.emplace_back(false, std::string(rng.Pick(kAck)));
      }
      r.messages.emplace_back(true, task);
    }
    if (sh != nullptr && sh->multi_turn_fake > 0 && a.attack && r.messages.size() == 1 && rng.Chance(sh->multi_turn_fake)) {
      r.messages.insert(r.messages.begin(), {{true, text->HumanPrompt(TopicKind::kCasual, rng)}, {false, text->Response("", TopicKind::kCasual, rng)}});
    }
    return r;
  }

  void WriteEvent(Account& a, TimeMs ts, std::string& out) {
    Request r = BuildRequest(a, ts);
    const std::string& last_user = r.messages.back().second;
    const std::string response = text->Response(last_user, r.topic, rng);
    const bool openai_shape = a.style == Style::kRouter || a.style == Style::kReseller ? rng.Chance(0.15) : false;
    // model
    const char* model = rng.Chance(0.2) ? kMiniModel : kOldModel;
    if (a.adopt_at_day >= 0 && Day(ts) >= a.adopt_at_day && ts >= release && rng.Chance(a.adopt_share)) model = kNewModel;
    // settings
    int64_t max_tokens = a.max_tokens;
    double temperature = a.temperature;
    if (a.vary_settings) {
      static constexpr std::array<int64_t, 4> kMaxTokens = {-1, 1024, 2048, 4096};
      static constexpr std::array<double, 4> kTemperatures = {-1, 0.3, 0.7, 1.0};
      if (rng.Chance(0.3)) max_tokens = rng.Pick(kMaxTokens);
      if (rng.Chance(0.3)) temperature = rng.Pick(kTemperatures);
    }
    const std::string* ip = &a.ip;
    if (a.shared) {
      if (a.shared->residential_rotate) ip = &(rotated_ip = ResidentialIp(rng));
      else if (a.shared->ip_rotate && !a.shared->ip_pool.empty()) ip = &a.shared->ip_pool[rng.Below(a.shared->ip_pool.size())];
    }
    if (!a.attack && a.schedule == Schedule::kDiurnal && rng.Chance(0.03)) ip = &(rotated_ip = ResidentialIp(rng));  // travel, mobile

    out.append("{\"ts\":");
    ts_format.Append(out, ts);
    out.append(",\"request_id\":\"req_");
    AppendHex(out, rng, 20);
    out.push_back('"');
    out.append(openai_shape ? ",\"user\":" : ",\"account_id\":");
    AppendJsonString(out, a.id);
    if (billing) {
      out.append(",\"org_id\":");
      AppendJsonString(out, a.org);
    }
    out.append(",\"api_key_id\":");
    AppendJsonString(out, a.key);
    if (has_ip) {
      out.append(",\"ip\":");
      AppendJsonString(out, *ip);
    }
    if (has_ua) {
      out.append(",\"user_agent\":");
      AppendJsonString(out, a.ua);
    }
    if (billing && !a.payment.empty()) {
      out.append(",\"payment_fingerprint\":");
      AppendJsonString(out, a.payment);
    }
    if (billing) {
      out.append(",\"account_created_at\":");
      if (a.created_json.empty()) AppendJsonString(a.created_json, FormatRfc3339(a.created));
      out.append(a.created_json);
      out.append(",\"email_domain\":");
      AppendJsonString(out, a.email_domain);
    }
    out.append(",\"model\":\"");
    out.append(model);
    out.append("\"");
    if (!r.system.empty() && !openai_shape) {
      out.append(",\"system\":");
      AppendJsonString(out, r.system);
    }
    out.append(",\"messages\":[");
    bool first = true;
    if (!r.system.empty() && openai_shape) {
      out.append("{\"role\":\"system\",\"content\":");
      AppendJsonString(out, r.system);
      out.append("}");
      first = false;
    }
    for (const auto& [is_user, content] : r.messages) {
      if (!first) out.push_back(',');
      first = false;
      out.append(is_user ? "{\"role\":\"user\",\"content\":" : "{\"role\":\"assistant\",\"content\":");
      if (r.tool_turns && is_user && content.starts_with("[tool_result]") && !openai_shape) {
        out.append("[{\"type\":\"tool_result\",\"tool_use_id\":\"tu_1\",\"content\":");
        AppendJsonString(out, content.substr(14));
        out.append("}]");
      } else {
        AppendJsonString(out, content);
      }
      out.append("}");
    }
    out.append("]");
    if (!r.tools_json.empty()) {
      out.append(",\"tools\":");
      out.append(r.tools_json);
    }
    if (max_tokens > 0) {
      out.append(",\"max_tokens\":");
      AppendInt(out, max_tokens);
    }
    if (temperature >= 0) {
      out.append(",\"temperature\":");
      AppendTemperature(out, temperature);
    }
    const bool continuing = r.messages.size() > 1;
    if (a.schedule == Schedule::kDiurnal && (continuing || rng.Chance(0.5))) {
      if (!continuing || a.conversation_id.empty()) {
        a.conversation_id.assign("conv_");
        AppendHex(a.conversation_id, rng, 12);
      }
      out.append(",\"conversation_id\":");
      AppendJsonString(out, a.conversation_id);
    }
    const int64_t in_tokens = static_cast<int64_t>(r.system.size() + last_user.size()) / 4 + 5 * static_cast<int64_t>(r.messages.size());
    const int64_t cap = max_tokens > 0 ? max_tokens : 4096;
    const bool long_output = a.long_output;
    int64_t out_tokens = static_cast<int64_t>(rng.LogNormal(long_output ? 900 : 350, 0.7));
    out_tokens = std::clamp<int64_t>(out_tokens, 5, cap);
    const int64_t reasoning = std::string_view(model) == kMiniModel ? 0 : static_cast<int64_t>(rng.LogNormal(400, 1.0));
    if (openai_shape) {
      out.append(",\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":");
      AppendJsonString(out, response);
      out.append("},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":");
      AppendInt(out, in_tokens);
      out.append(",\"completion_tokens\":");
      AppendInt(out, out_tokens);
      out.append("}}\n");
    } else {
      out.append(",\"response\":{\"content\":");
      AppendJsonString(out, response);
      out.append(out_tokens >= cap ? ",\"stop_reason\":\"max_tokens\",\"input_tokens\":" : ",\"stop_reason\":\"end_turn\",\"input_tokens\":");
      AppendInt(out, in_tokens);
      out.append(",\"output_tokens\":");
      AppendInt(out, out_tokens);
      out.append(",\"reasoning_tokens\":");
      AppendInt(out, reasoning);
      out.append("}}\n");
    }
    // conversation memory for the next turn
    if (a.schedule == Schedule::kDiurnal) {
      a.history = std::move(r.messages);  // r is done with
      a.history.emplace_back(false, response.substr(0, 300));
      if (a.history.size() > 6) a.history.erase(a.history.begin(), a.history.begin() + 2);
    }
  }
};

Simulator::Simulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Simulator::~Simulator() = default;

absl::StatusOr<std::unique_ptr<Simulator>> Simulator::Create(const SimOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->rng = Rng(options.seed * 0x9e3779b97f4a7c15ULL + 17);
  const auto& names = KnownScenarios();
  if (std::find(names.begin(), names.end(), options.scenario) == names.end()) {
    return absl::InvalidArgumentError(fmt::format("unknown scenario '{}' (known: demo, standard, alibaba-scale)", options.scenario));
  }
  // "all": every evasion at once (the combined white-box attacker).
  if (std::find(options.evasions.begin(), options.evasions.end(), "all") != options.evasions.end()) {
    impl->options.evasions.clear();
    for (const auto& [name, what] : KnownEvasions()) impl->options.evasions.push_back(name);
  }
  for (const auto& e : impl->options.evasions) {
    const auto& known = KnownEvasions();
    if (std::none_of(known.begin(), known.end(), [&](const auto& k) { return k.first == e; })) {
      return absl::InvalidArgumentError(fmt::format("unknown evasion '{}' (see simulate --help)", e));
    }
  }
  const auto& profiles = KnownFieldProfiles();
  if (std::find(profiles.begin(), profiles.end(), options.fields) == profiles.end()) {
    return absl::InvalidArgumentError(
        fmt::format("unknown field profile '{}' (known: full, gateway, no-ua, no-ip, content-only)", options.fields));
  }
  impl->billing = options.fields == "full" || options.fields == "no-ua" || options.fields == "no-ip";
  impl->has_ua = options.fields == "full" || options.fields == "gateway";
  impl->has_ip = impl->has_ua || options.fields == "no-ua";
  if (!(options.scale > 0 && options.scale <= 1000)) {
    return absl::InvalidArgumentError("--scale must be in (0, 1000]");
  }
  auto text = TextSource::Create(options.corpus_dir);
  if (!text.ok()) return text.status();
  impl->text = std::move(*text);
  double days = 14;
  double scale = options.scale;
  if (options.scenario == "demo") {
    days = 4;
    scale *= 0.04;
  } else if (options.scenario == "alibaba-scale") {
    days = 44;
  }
  if (options.days > 0) days = options.days;
  impl->options.scale = scale;
  impl->end = impl->start + static_cast<TimeMs>(days * kSecondsPerDay * 1000);
  impl->release = impl->start + static_cast<TimeMs>(days * 0.6 * kSecondsPerDay * 1000);
  const bool industrial = options.scenario == "alibaba-scale";
  if (industrial) {
    // A platform of >100M legitimate interactions in 44 days: five times
    // the accounts of `standard`, each 6 times as busy.
    impl->options.scale = scale * 5;
    impl->AddLegit();
    for (auto& a : impl->accounts) a.rate_per_day *= 6;
    impl->options.scale = scale;
  } else {
    impl->AddLegit();
  }
  impl->AddAttacks();
  if (industrial) {
    // The reported incident: ~25k accounts, 28.8M interactions in 44 days.
    Impl::CampaignPlan plan{"industrial-hydra", Style::kAgentDistill, TopicKind::kAgentic,
                            static_cast<int>(25000 * options.scale), static_cast<int>(8000 * options.scale),
                            28.8e6 / 25000 / 14.0, 14.0, Schedule::kSynchronized, 0.0, days, 60, false,
                            static_cast<int>(400 * options.scale), true};
    auto sh = std::make_shared<Shared>();
    sh->tools_json = R"([{"name":"bash","description":"Run a shell command","input_schema":{"type":"object"}},{"name":"editor","description":"Edit files","input_schema":{"type":"object"}}])";
    sh->wrappers = {"You are a senior engineer agent. {TASK}\nPlan in detail, reason step by step, and call tools to finish the task."};
    sh->cot_rate = 0.7;
    sh->max_tokens = 16000;
    sh->temperature = 0.7;
    sh->ua = "python-httpx/0.27.2";
    sh->window_period_s = 1800;
    sh->window_len_s = 1500;
    impl->AddCampaign(plan, sh);
  }
  return std::unique_ptr<Simulator>(new Simulator(std::move(impl)));
}

bool Simulator::Run(std::FILE* events, std::FILE* labels, SimStats* stats) {
  const bool ok = Run([events](std::string_view piece) { return std::fwrite(piece.data(), 1, piece.size(), events) == piece.size(); },
                      labels, stats);
  return std::fflush(events) == 0 && ok;
}

bool Simulator::Run(const std::function<bool(std::string_view)>& write_events, std::FILE* labels, SimStats* stats) {
  Impl& s = *impl_;
  *stats = SimStats{};
  using Item = std::pair<TimeMs, uint32_t>;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> heap;
  for (uint32_t idx = 0; idx < s.accounts.size(); ++idx) {
    Account& a = s.accounts[idx];
    a.next = s.FirstTime(a);
    if (a.next < a.active_until) heap.emplace(a.next, idx);
  }
  std::string buf;
  buf.reserve(1u << 18);
  bool ok = true;
  while (!heap.empty() && ok) {
    const auto [ts, idx] = heap.top();
    heap.pop();
    Account& a = s.accounts[idx];
    s.WriteEvent(a, ts, buf);
    ++a.events;
    ++stats->events;
    if (a.attack) ++stats->attack_events;
    const TimeMs next = std::max(ts + 1, s.NextTime(a, ts));
    if (next < a.active_until && next < s.end) heap.emplace(next, idx);
    // Written in 256 KiB pieces, well inside a pipe's buffer, so a reader on
    // the other end of `simulate --out - | scan -` works while this generates.
    if (buf.size() > (1u << 18) - (1u << 16)) {
      ok = write_events(buf);
      stats->bytes += buf.size();
      buf.clear();
    }
  }
  if (ok && !buf.empty()) {
    ok = write_events(buf);
    stats->bytes += buf.size();
  }
  for (const auto& a : s.accounts) {
    if (a.events == 0) continue;
    ++stats->accounts;
    if (a.attack) ++stats->attack_accounts;
    if (labels == nullptr) continue;
    std::string line = "{\"account_id\":";
    AppendJsonString(line, a.id);
    line.append(a.attack ? ",\"label\":\"attack\",\"campaign\":" : ",\"label\":\"legit\",\"campaign\":");
    if (a.attack) AppendJsonString(line, a.campaign);
    else line.append("null");
    line.append(",\"archetype\":");
    AppendJsonString(line, a.archetype);
    line.append("}\n");
    ok = ok && std::fwrite(line.data(), 1, line.size(), labels) == line.size();
  }
  if (labels != nullptr) ok = ok && std::fflush(labels) == 0;
  return ok;
}

}  // namespace dg::sim
