// Evaluation told from harvest by repeats (account/repeat_table.h,
// RequestFingerprint in content/analyzer.h, policy
// thresholds.evaluation_repeat_share): a group that sends the same
// temperature-0 requests again -- an evaluation re-running its fixed items
// -- is reviewed, not blocked; a harvester that pads its traffic with cheap
// or sampled repeats is still blocked.
#include <gtest/gtest.h>

#include <string>

#include "account/repeat_table.h"
#include "common/rng.h"
#include "content/analyzer.h"
#include "engine/engine.h"
#include "harvest_fixture.h"

namespace dg {
namespace {

using testing::kT0;

TEST(RepeatTable, SeesAKeyOnlyAfterItWasRecorded) {
  RepeatTable t;
  EXPECT_FALSE(t.SeenBefore(42));
  EXPECT_TRUE(t.SeenBefore(42));
  EXPECT_FALSE(t.SeenBefore(43));
  EXPECT_FALSE(t.SeenBefore(0));
  EXPECT_FALSE(t.SeenBefore(0)) << "key 0 is never recorded";
}

TEST(RepeatTable, GrowsWithoutForgettingAndStaysWithinItsBytes) {
  RepeatTable t(size_t{4} << 20);  // 4 MiB: 64k buckets, 512k keys
  Rng rng(7);
  std::vector<uint64_t> keys;
  for (int i = 0; i < 50000; ++i) keys.push_back(rng.Next() | 1);
  for (const uint64_t k : keys) EXPECT_FALSE(t.SeenBefore(k));
  size_t seen = 0;
  for (const uint64_t k : keys) seen += t.SeenBefore(k);
  EXPECT_EQ(seen, keys.size()) << "growth must carry every key over";
  EXPECT_LE(t.bytes(), size_t{4} << 20);
  EXPECT_EQ(t.replaced(), 0u);
  // Past its bytes it replaces keys, never reports an unseen one as seen.
  for (int i = 0; i < 2000000; ++i) t.SeenBefore(rng.Next() | 1);
  EXPECT_EQ(t.bytes(), size_t{4} << 20);
  EXPECT_GT(t.replaced(), 0u);
  size_t false_hits = 0;
  for (int i = 0; i < 10000; ++i) false_hits += t.SeenBefore(rng.Next() | 1);
  EXPECT_EQ(false_hits, 0u);
}

Interaction Ask(const std::string& text, double temperature) {
  Interaction in;
  in.model = "m";
  in.system = "You are a careful grader.";
  in.messages.push_back({Role::kUser, text, 0, 0, 0});
  in.max_tokens = 2048;
  in.temperature = temperature;
  return in;
}

TEST(RequestFingerprint, OnlyDeterministicRequestsAndEveryFieldThatDecidesTheAnswer) {
  const Interaction base = Ask("What is 2 + 2? Think step by step.", 0);
  const uint64_t fp = RequestFingerprint(base);
  EXPECT_NE(fp, 0u);
  EXPECT_EQ(RequestFingerprint(Ask("What is 2 + 2? Think step by step.", 0)), fp);
  EXPECT_EQ(RequestFingerprint(Ask("What is 2 + 2? Think step by step.", 0.7)), 0u) << "sampled: a repeat may differ";
  Interaction no_temp = base;
  no_temp.temperature = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(RequestFingerprint(no_temp), 0u) << "temperature not logged: the provider's default samples";
  Interaction other = base;
  other.max_tokens = 4096;  // a longer answer is more answer
  EXPECT_NE(RequestFingerprint(other), fp);
  other = base;
  other.model = "m2";
  EXPECT_NE(RequestFingerprint(other), fp);
  other = base;
  other.system = "You are a careful grader!";
  EXPECT_NE(RequestFingerprint(other), fp);
  other = base;
  other.tools_hash = 9;
  EXPECT_NE(RequestFingerprint(other), fp);
  // The varying task moved into an earlier turn, the last turn kept fixed:
  // every earlier turn is in the hash, so this is no repeat.
  Interaction a = Ask("Continue.", 0), b = Ask("Continue.", 0);
  a.messages.insert(a.messages.begin(), {Role::kUser, "Task 1: prove the lemma", 0, 0, 0});
  b.messages.insert(b.messages.begin(), {Role::kUser, "Task 2: prove the lemma", 0, 0, 0});
  EXPECT_NE(RequestFingerprint(a), RequestFingerprint(b));
  // Content the engine does not read (a document, an image, tool blocks)
  // could carry a new task behind a fixed text: no fingerprint at all.
  Interaction doc = Ask("Solve the problem in the attached document. Think step by step.", 0);
  EXPECT_NE(RequestFingerprint(doc), 0u);
  doc.messages.back().other_blocks = 1;
  EXPECT_EQ(RequestFingerprint(doc), 0u);
  doc.messages.back().other_blocks = 0;
  doc.messages.back().tool_result_blocks = 1;
  EXPECT_EQ(RequestFingerprint(doc), 0u);
  // Bytes moved between fields change it.
  Interaction c = Ask("ab", 0), d = Ask("b", 0);
  c.system = "x";
  d.system = "xa";
  EXPECT_NE(RequestFingerprint(c), RequestFingerprint(d));
}

// Ten accounts on two cards, as in the hydra of the other engine tests; each
// request asks for step-by-step reasoning at temperature 0. `items` > 0:
// the whole group draws its problems from that fixed set (an evaluation);
// 0: every problem is new (a harvest). `padding`: after each request, that
// many cheap repeats of one short fixed request (5 tokens each).
struct Group {
  int items = 0;
  int padding = 0;
  int64_t pad_tokens = 5;  // each padding repeat's output tokens
  std::string pad_model{};  // its model (empty: the harvest's)
  double temperature = 0;
  double repeat_share_policy = -1;  // < 0: the default policy's
};

std::vector<const AccountState*> RunGroup(const Group& g, Engine* engine) {
  Rng rng(11);
  TimeMs t = kT0;
  // One account's request at time t; item >= 0: that item of the set.
  const auto ask = [&](int acct, int64_t item) {
    Interaction in = testing::HarvestRequest("h" + std::to_string(acct), t, rng, acct % 2 ? "cardA" : "cardB",
                                             "198.51.100." + std::to_string(acct + 1));
    in.temperature = g.temperature;
    in.input_tokens = 100;
    in.output_tokens = 800;
    if (item >= 0) {
      in.messages.back().text = "Solve the following problem. Think step by step and show your complete reasoning. Problem: " +
                                std::to_string(item * 37 % 1000) + " apples and " + std::to_string(item) + " pears";
    }
    engine->Observe(in);
    return in;
  };
  // An evaluation's first pass over its items: one account per card runs
  // them before the group's runs.
  for (int item = 0; item < g.items; ++item) {
    for (const int acct : {0, 1}) {
      t += 30000;
      ask(acct, item);
    }
  }
  for (int round = 0; round < 60; ++round) {
    for (int acct = 0; acct < 10; ++acct) {
      t += 2000;
      const Interaction in = ask(acct, g.items > 0 ? static_cast<int64_t>(rng.Next() % static_cast<uint64_t>(g.items)) : -1);
      for (int p = 0; p < g.padding; ++p) {
        Interaction pad = in;
        pad.request_id = "r" + std::to_string(rng.Next());
        pad.messages.back().text = "Say OK. Think step by step.";
        pad.output_tokens = g.pad_tokens;
        if (!g.pad_model.empty()) pad.model = g.pad_model;
        t += 10;
        pad.ts = t;
        engine->Observe(pad);
      }
    }
  }
  engine->Finish();
  std::vector<const AccountState*> out;
  for (int acct = 0; acct < 10; ++acct) out.push_back(engine->FindAccount("h" + std::to_string(acct)));
  return out;
}

// Blocked accounts among h2..h9, the group's runs. (h0 and h1 run the first
// pass of an evaluation's items, when there is one; here that pass is what
// forms the campaign, and they are blocked on it -- the documented limit.)
// `gate`: what /v1/check answers a never-seen account on card A afterwards,
// which reads the campaign's repeat share.
size_t Blocked(const Group& g, double* share = nullptr, Decision* gate = nullptr) {
  Policy p = Policy::Defaults();
  if (g.repeat_share_policy >= 0) p.evaluation_repeat_share = g.repeat_share_policy;
  Engine engine(p);
  size_t blocked = 0;
  double total = 0;
  const auto members = RunGroup(g, &engine);
  for (size_t m = 2; m < members.size(); ++m) {
    const AccountState* a = members[m];
    EXPECT_NE(a, nullptr);
    if (a == nullptr) continue;
    blocked += a->verdict == Verdict::kBlock;
    total += a->RepeatShare();
    if (a->verdict != Verdict::kBlock) {
      EXPECT_EQ(a->verdict, Verdict::kReview) << a->id << ": a member of the group is still reviewed";
    }
  }
  if (share) *share = total / 8;
  if (gate) {
    CheckRequest r;
    r.account_id = "newcomer";
    r.payment_fingerprint = "cardA";
    r.ip = "198.51.100.2";
    *gate = engine.Check(r).decision;
  }
  return blocked;
}

TEST(EvaluationRepeats, AGroupReAskingItsFixedItemsIsReviewedNotBlocked) {
  double share = 0;
  Decision gate = Decision::kAllow;
  EXPECT_EQ(Blocked({.items = 40}, &share, &gate), 0u);
  EXPECT_GT(share, 0.5);
  EXPECT_EQ(gate, Decision::kChallenge) << "a new colleague on the group's card is challenged, not blocked";
}

TEST(EvaluationRepeats, TheSameGroupHarvestingNewItemsIsBlocked) {
  double share = 1;
  Decision gate = Decision::kAllow;
  EXPECT_EQ(Blocked({.items = 0}, &share, &gate), 8u);
  EXPECT_LT(share, 0.05);
  EXPECT_EQ(gate, Decision::kBlock) << "a new account on the harvest's card is blocked";
}

TEST(EvaluationRepeats, SwitchedOffThePolicyBlocksTheEvaluationToo) {
  EXPECT_EQ(Blocked({.items = 40, .repeat_share_policy = 1.01}), 8u);
}

TEST(EvaluationRepeats, CheapRepeatsDoNotBuyTheExemption) {
  // Five 5-token repeats per 800-token harvest: most requests are repeats,
  // almost none of the tokens.
  double share = 1;
  EXPECT_EQ(Blocked({.items = 0, .padding = 5}, &share), 8u);
  EXPECT_LT(share, 0.1);
}

TEST(EvaluationRepeats, PaddingAfterTheBlocksBuysNoChallengeAtTheGateway) {
  // A long fixed repeat on another model after every harvest request: the
  // members are blocked before the share passes one half (blocks are
  // sticky); once it has, /v1/check still blocks a new account on their
  // card, as the members were (review finding).
  double share = 0;
  Decision gate = Decision::kAllow;
  EXPECT_EQ(Blocked({.items = 0, .padding = 1, .pad_tokens = 900, .pad_model = "cheap-small"}, &share, &gate), 8u);
  EXPECT_GT(share, 0.5);
  EXPECT_EQ(gate, Decision::kBlock);
}

TEST(EvaluationRepeats, SampledRepeatsAreNotRepeats) {
  // At temperature 0.7 the same request again is a new sample (best-of-n
  // harvesting): no exemption.
  double share = 1;
  EXPECT_EQ(Blocked({.items = 40, .temperature = 0.7}, &share), 8u);
  EXPECT_EQ(share, 0);
}

}  // namespace
}  // namespace dg
