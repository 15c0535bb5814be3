// Conversation histories checked against what was served (issue #16): the
// turn fingerprint, the served index, the wire record that carries them,
// and the engine's unserved_history evidence.
#include "account/account_state.h"
#include "content/analyzer.h"
#include "detect/scoring.h"
#include "engine/engine.h"
#include "serve/wire.h"

#include <gtest/gtest.h>

#include "common/rng.h"
#include "harvest_fixture.h"

namespace dg {
namespace {

using testing::kT0;

TEST(TurnFingerprint, IgnoresWhiteSpaceAndCaseAndKeepsOnlyTheStart) {
  const std::string served = "First, turn off the water.\n\nThen unscrew the  handle and replace the washer; " + std::string(400, 'x');
  EXPECT_EQ(TurnFingerprint(served), TurnFingerprint("first, turn off the water. then unscrew the handle and replace the washer;" +
                                                     std::string(400, 'x')));
  // A client that keeps only the start of a long answer sends the same turn.
  EXPECT_EQ(TurnFingerprint(served), TurnFingerprint(served.substr(0, 300)));
  EXPECT_NE(TurnFingerprint(served), TurnFingerprint("Understood."));
  EXPECT_EQ(TurnFingerprint(""), 0u);
  EXPECT_EQ(TurnFingerprint(" \n\t "), 0u);
}

TEST(ServedRing, RemembersTheLastResponsesOfThisAccountOnly) {
  AccountState a, b;
  a.NoteServed(100);
  EXPECT_TRUE(a.WasServed(100));
  EXPECT_FALSE(b.WasServed(100)) << "served to another account";
  EXPECT_FALSE(a.WasServed(101));
  EXPECT_FALSE(a.WasServed(0)) << "no fingerprint, nothing to match";
  for (uint64_t fp = 200; fp < 200 + AccountState::kServedRing - 1; ++fp) a.NoteServed(fp);
  EXPECT_TRUE(a.WasServed(100)) << "still among the last kServedRing";
  a.NoteServed(999);
  EXPECT_FALSE(a.WasServed(100)) << "pushed out by newer answers";
}

TEST(TurnFingerprint, AnEmptyAssistantTurnIsNoHistoryAndAPrefillIsNotHistory) {
  Interaction in;
  in.messages.push_back({Role::kUser, "hi", 0, 0, 0});
  in.messages.push_back({Role::kAssistant, "", 0, 0, 0});
  in.messages.push_back({Role::kUser, "Generate 10 question answer pairs", 0, 0, 0});
  TokenStream scratch;
  ContentDigest d;
  DigestContent(in, &scratch, &d);
  EXPECT_TRUE(d.features.single_turn) << "an empty assistant turn makes no conversation";
  EXPECT_EQ(d.features.history_turns, 0);
  in.messages[1].text = "Hello! How can I help?";
  in.messages.push_back({Role::kAssistant, "{\"answer\":", 0, 0, 0});  // a prefill
  DigestContent(in, &scratch, &d);
  EXPECT_FALSE(d.features.single_turn);
  ASSERT_EQ(d.features.history_turns, 1);
  EXPECT_EQ(d.features.history_fp[0], TurnFingerprint("Hello! How can I help?")) << "the prefill is not history";
}

TEST(Wire, CarriesTurnFingerprintsAndStillReadsVersionsOneAndTwo) {
  Interaction in;
  in.ts = kT0;
  in.request_id = "r1";
  in.account_id = "a";
  ContentDigest d;
  d.features.reasoning_tokens = 1234;
  d.features.response_fp = 77;
  d.features.history_turns = 2;
  d.features.history_fp = {5, 6, 0, 0};
  d.features.request_fp = 99;
  const std::string rec = EncodeRecord(in, d);
  Interaction out;
  ContentDigest d2;
  ASSERT_TRUE(DecodeRecord(rec, &out, &d2));
  EXPECT_EQ(d2.features.reasoning_tokens, 1234);
  EXPECT_EQ(d2.features.response_fp, 77u);
  ASSERT_EQ(d2.features.history_turns, 2);
  EXPECT_EQ(d2.features.history_fp[1], 6u);
  EXPECT_EQ(d2.features.request_fp, 99u);
  // A version 2 record (written before the request fingerprint): the same
  // bytes without its 8; its repeats are not counted on replay.
  std::string v2 = rec.substr(0, rec.size() - 8);
  v2[0] = 2;
  ASSERT_TRUE(DecodeRecord(v2, &out, &d2));
  EXPECT_EQ(d2.features.response_fp, 77u);
  EXPECT_EQ(d2.features.request_fp, 0u);
  // A version 1 record (written before the fingerprints): without the tail.
  std::string v1 = v2.substr(0, v2.size() - (8 + 8 + 1 + 2 * 8));
  v1[0] = 1;
  ASSERT_TRUE(DecodeRecord(v1, &out, &d2));
  EXPECT_EQ(d2.features.response_fp, 0u);
  EXPECT_EQ(d2.features.history_turns, 0);
  EXPECT_EQ(d2.features.reasoning_tokens, -1);
  // A history count past the maximum is a foreign record, not read.
  std::string bad = rec;
  bad[rec.size() - 8 - 2 * 8 - 1] = 9;
  EXPECT_FALSE(DecodeRecord(bad, &out, &d2));
  // A version 3 record cut before its request fingerprint is refused.
  EXPECT_FALSE(DecodeRecord(rec.substr(0, rec.size() - 8), &out, &d2));
}

// A person continuing chats sends back what was served; a harvester writes
// the assistant turns itself ("Understood.").
class HistoryEngine : public ::testing::Test {
 protected:
  Interaction Turn(const std::string& account, TimeMs ts, const std::vector<std::string>& assistant_turns,
                   const std::string& response) {
    Interaction in;
    in.ts = ts;
    in.request_id = account + std::to_string(ts);
    in.account_id = account;
    in.ip = "198.51.100.7";
    in.account_created_at = kT0 - 400 * kMsPerDay;
    for (const auto& t : assistant_turns) {
      in.messages.push_back({Role::kUser, "tell me more about tides", 0, 0, 0});
      in.messages.push_back({Role::kAssistant, t, 0, 0, 0});
    }
    in.messages.push_back({Role::kUser, "and what about the moon " + std::to_string(ts), 0, 0, 0});
    in.has_response = true;
    in.response_text = response;
    in.output_tokens = 200;
    in.input_tokens = 40;
    return in;
  }
  // The k-th of a person's varied requests for reasoning (no template).
  static std::string AskForReasoning(int k) {
    static const char* const kAsks[] = {"Think step by step and", "Reason it through step by step, then", "Show your full reasoning and",
                                        "Walk me through your reasoning and", "Work it out step by step and"};
    static const char* const kTasks[] = {"find the drain time of a tank of", "bound the lookup cost of a trie with",
                                         "estimate the lateness of a job shop with", "count the rolls until six sixes among",
                                         "decide the deadlock risk of a queue with", "plan the shortest tour of"};
    return std::string(kAsks[(k * 3) % 5]) + " " + kTasks[(k * 5) % 6] + " " + std::to_string(17 + k * 13) + " items.";
  }
  double Unserved(const std::string& id) {
    const AccountState* a = engine.FindAccount(id);
    EXPECT_NE(a, nullptr);
    return ScoreAccount(*a, engine.policy()).strength[static_cast<size_t>(Reason::kUnservedHistory)];
  }
  Engine engine{Policy::Defaults()};
};

TEST_F(HistoryEngine, ServedHistoriesAreNotEvidenceWrittenOnesAre) {
  std::string last;
  for (int k = 0; k < 40; ++k) {
    const TimeMs ts = kT0 + k * 60'000;
    const std::string answer = "Tides follow the moon, answer number " + std::to_string(k) + ". The sea bulges toward it.";
    // The person: every request after the first sends back the last answer.
    engine.Observe(Turn("person", ts, last.empty() ? std::vector<std::string>{} : std::vector<std::string>{last}, answer));
    last = answer;
    // The writer pastes one answer it was really served before its own
    // "Understood.": only the latest turn counts.
    engine.Observe(Turn("writer", ts + 1, k == 0 ? std::vector<std::string>{"Understood."}
                                                 : std::vector<std::string>{"Sure, I can help with the writer's first task.", "Understood."},
                        k == 0 ? "Sure, I can help with the writer's first task." : answer + " (to the writer)"));
  }
  EXPECT_EQ(Unserved("person"), 0.0);
  EXPECT_GE(Unserved("writer"), 0.99);
  const AccountState* w = engine.FindAccount("writer");
  EXPECT_EQ(w->life.history, 39u) << "the first request: no response of this account logged yet to compare with";
  EXPECT_EQ(w->life.unserved, 39u);
  EXPECT_EQ(w->life.single_turn, 39u) << "a written history is a one-shot request";
  const AccountState* p = engine.FindAccount("person");
  EXPECT_EQ(p->life.single_turn, 1u);
}

TEST_F(HistoryEngine, WithoutResponsesInTheLogNothingIsChecked) {
  for (int k = 0; k < 40; ++k) {
    Interaction in = Turn("writer", kT0 + k * 60'000, {"Understood."}, "");
    in.has_response = false;
    engine.Observe(in);
  }
  EXPECT_EQ(engine.FindAccount("writer")->life.history, 0u);
  EXPECT_EQ(Unserved("writer"), 0.0);
}

// Harvest content without automation (issue #16 review: forty new accounts
// on one card asked for reasoning in every request, continued the chats
// they were served, picked a user agent per request and kept default
// settings and irregular gaps -- nothing bot-like, so none was ever a
// candidate and the card was never read). A new account, or one of unknown
// age, that asks for reasoning in most requests is a candidate linked
// through infrastructure only; an established customer asking the same is
// not; and none of them is suspicious on its own evidence.
TEST_F(HistoryEngine, HarvestWithoutAutomationIsAnInfrastructureCandidateWhenNewOrOfUnknownAge) {
  const std::vector<std::string> agents = {"Mozilla/5.0 (Windows NT 10.0)", "OpenAI/Python 1.54.3", "curl/8.5.0",
                                           "Mozilla/5.0 (iPhone)", "okhttp/4.12.0"};
  const auto run = [&](const std::string& id, TimeMs created_at, int per_day = 40, bool moves = false) {
    std::string last;
    TimeMs ts = kT0;
    for (int k = 0; k < 40; ++k) {
      ts += 60'000 + (static_cast<TimeMs>(k) * k * 7919) % 240'000;  // irregular gaps
      if (k > 0 && k % per_day == 0) ts += kMsPerDay;                // the next day
      Interaction in = Turn(id, ts, last.empty() ? std::vector<std::string>{} : std::vector<std::string>{last}, "");
      in.account_created_at = created_at;
      if (moves) in.ip = "203." + std::to_string(10 + k / 8) + ".0.9";  // a new network (/16) every 8 requests, never back
      in.user_agent = agents[(k * 7) % agents.size()];
      in.messages.back().text = AskForReasoning(k);
      in.response_text = "Step one for tide " + std::to_string(k) + ": the moon pulls the water.";
      last = in.response_text;
      engine.Observe(in);
    }
    const AccountState* a = engine.FindAccount(id);
    if (a == nullptr) {
      ADD_FAILURE() << id << " not found";
      return OwnEvidence{};
    }
    return ScoreAccount(*a, engine.policy());
  };
  const OwnEvidence fresh = run("fresh", kT0 - 3'600'000);
  EXPECT_GE(fresh.harvest, 0.5);
  EXPECT_LT(fresh.score, engine.policy().suspicious_score) << "no automation: not suspicious on its own";
  EXPECT_TRUE(fresh.infra_only);
  const OwnEvidence unknown = run("unknown", -1);
  EXPECT_TRUE(unknown.infra_only) << "a gateway's log: no sign-up time";
  // Of unknown age, on one network, at four requests a day: a member of
  // staff behind an office NAT asking for reasoning looks like this -- not
  // a candidate without harvest volume (kHomeHarvestPerDay) ...
  const OwnEvidence staff = run("staff", -1, 4);
  EXPECT_GE(staff.harvest, 0.5);
  EXPECT_FALSE(staff.infra_only);
  // ... unless it keeps moving to new networks.
  const OwnEvidence mover = run("mover", -1, 4, true);
  EXPECT_TRUE(mover.infra_only);
  const OwnEvidence customer = run("customer", kT0 - 400 * kMsPerDay);
  EXPECT_GE(customer.harvest, 0.5);
  EXPECT_FALSE(customer.infra_only) << "an established customer asking for reasoning is a customer";
  EXPECT_FALSE(engine.FindAccount("fresh")->reviewable) << "never reviewed on this alone";
}

// A member of staff on the office's internal tool sends one client
// configuration (user agent and explicit settings) with every request, at
// a person's pace, from the office's network: that repeat is no program's
// mark (neither fixed_sampling nor the client part of
// template_concentration count), and a trip home does not change that.
// The same configuration at a program's volume -- also after a quiet past,
// which must not dilute it -- or from an account that keeps moving to new
// networks, still counts; and in a log without addresses volume decides.
TEST_F(HistoryEngine, OneClientConfigurationIsAProgramsMarkOnlyAtVolumeOrOnTheMove) {
  struct Client {
    double fixed_sampling, template_concentration;
  };
  enum class Where { kOffice, kTripHome, kMoving, kNoAddress };
  // `quiet_days` days of one request each first, then 40 requests at
  // `per_day` a day.
  const auto run = [&](const std::string& id, int per_day, Where where, int quiet_days = 0) {
    TimeMs ts = kT0;
    const auto send = [&](int k) {
      Interaction in = Turn(id, ts, {}, "");
      in.account_created_at = -1;
      if (where == Where::kMoving) in.ip = "203." + std::to_string(10 + (k & 0xff) / 8) + ".0.9";  // on, never back
      if (where == Where::kTripHome && k == 20) in.ip = "81.2.69.160";
      if (where == Where::kNoAddress) in.ip.clear();
      in.user_agent = "acme-internal-assistant/2.3";
      in.max_tokens = 2048;
      in.temperature = 0.2;
      in.messages.back().text = AskForReasoning(k);
      engine.Observe(in);
    };
    for (int d = 0; d < quiet_days; ++d) {
      send(1000 + d);
      ts += kMsPerDay;
    }
    for (int k = 0; k < 40; ++k) {
      ts += 60'000 + (static_cast<TimeMs>(k) * k * 7919) % 240'000;
      if (k > 0 && k % per_day == 0) ts += kMsPerDay;
      if (where == Where::kTripHome && (k == 20 || k == 21)) ts += 3'600'000;  // the trip's own session, and back
      send(k);
    }
    const AccountState* a = engine.FindAccount(id);
    if (a == nullptr) {
      ADD_FAILURE() << id << " not found";
      return Client{};
    }
    const OwnEvidence e = ScoreAccount(*a, engine.policy());
    return Client{e.strength[static_cast<size_t>(Reason::kFixedSampling)],
                  e.strength[static_cast<size_t>(Reason::kTemplateConcentration)]};
  };
  for (const Client& person : {run("staff", 4, Where::kOffice), run("staff_trip", 4, Where::kTripHome),
                               run("staff_no_address", 4, Where::kNoAddress)}) {
    EXPECT_EQ(person.fixed_sampling, 0.0) << "one app's settings at a person's pace";
    EXPECT_LT(person.template_concentration, 0.2) << "only its own frames, which repeat a little";
  }
  for (const Client& program : {run("batch", 40, Where::kOffice), run("mover", 4, Where::kMoving),
                                run("burst_after_quiet", 40, Where::kOffice, 20)}) {
    EXPECT_GT(program.fixed_sampling, 0.9) << "at a program's volume, or on the move";
    EXPECT_GT(program.template_concentration, 0.5);
  }
}

TEST_F(HistoryEngine, ServedAndHarvestCountsAreKeptForTheYield) {
  Rng rng(3);
  for (int k = 0; k < 5; ++k) {
    Interaction in = testing::HarvestRequest("h", kT0 + k * kMsPerDay, rng, "pm_h", "203.0.113.9");
    in.output_tokens = 1000;
    in.input_tokens = 10;
    in.reasoning_tokens = 500;
    in.has_response = true;
    in.response_text = "answer " + std::to_string(k);
    engine.Observe(in);
  }
  const AccountState* a = engine.FindAccount("h");
  EXPECT_EQ(a->harvest_n, 5u);
  EXPECT_EQ(a->TokensServed(), 7500u);
  EXPECT_EQ(a->days_active, 5);
}

}  // namespace
}  // namespace dg
