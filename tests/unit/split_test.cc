// Campaigns that split (issue #15): a cluster merged on values that were
// pure when the link was made -- a popular SDK at its defaults, used so far
// only by suspicious accounts -- is re-examined once a day against the
// index as it is now, and the part held to the rest only by links that no
// longer hold breaks off.
#include <algorithm>
#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "common/rng.h"
#include "correlate/link_graph.h"
#include "engine/engine.h"
#include "harvest_fixture.h"
#include "report/views.h"

namespace dg {
namespace {

using testing::kT0;

constexpr const char* kWrapperA = "Our internal curriculum pipeline, batch item follows; reply in the house format. ";
constexpr const char* kWrapperB = "QA harvest job -- respond verbosely and mark the answer with ANSWER: ";

// Operation A (6 accounts) and operation B (4), each on its own cards,
// address block, sign-up wave and system prompt, both on the same SDK at
// the same settings from their first request: they link on it at once.
Interaction OperationRequest(int group, int k, TimeMs ts, Rng& rng) {
  const std::string g = group == 0 ? "a" : "b";
  Interaction in = testing::HarvestRequest("op" + g + std::to_string(k), ts, rng, "pm_" + g + std::to_string(k % 2),
                                           (group == 0 ? "198.51.100." : "203.0.113.") + std::to_string(10 + k),
                                           group == 0 ? kWrapperA : kWrapperB);
  in.account_created_at = kT0 - (group == 0 ? 2 : 40) * kMsPerHour;
  return in;
}

// An established customer on the same SDK at the same settings, asking
// its own questions of the same kind: the SDK is what everyone uses.
Interaction SdkUser(int k, TimeMs ts, Rng& rng) {
  Interaction in;
  in.ts = ts;
  in.request_id = "u" + std::to_string(rng.Next());
  in.account_id = "user" + std::to_string(k);
  in.org_id = "org_user" + std::to_string(k);
  in.ip = "192.0.2." + std::to_string(k + 1);
  in.user_agent = "python-httpx/0.27.2";
  in.account_created_at = kT0 - 400 * kMsPerDay;
  in.model = "m";
  in.max_tokens = 8192;
  in.temperature = 0.7;
  in.messages.push_back({Role::kUser,
                         "Please solve this problem from my kid's math homework: " + std::to_string(rng.Next() % 50) +
                             " apples and " + std::to_string(rng.Next() % 50) + " pears, how many fruits?",
                         0, 0, 0});
  if (rng.Chance(0.5)) {
    in.messages.push_back({Role::kAssistant, "Add them up.", 0, 0, 0});
    in.messages.push_back({Role::kUser, "thanks, and if she eats two?", 0, 0, 0});
  }
  return in;
}

struct Outcome {
  std::vector<CampaignView> before, after;
  std::vector<std::pair<std::string, Verdict>> verdicts;
};

Outcome Play() {
  Engine engine(Policy::Defaults());
  Rng rng(15);
  TimeMs ts = kT0 + kMsPerHour;
  // A first; B half an hour later, at its own minutes of the hour.
  for (int round = 0; round < 25; ++round) {
    for (int k = 0; k < 6; ++k) engine.Observe(OperationRequest(0, k, ts += 3000, rng));
  }
  ts = kT0 + kMsPerHour + 30 * kMsPerMinute;
  for (int round = 0; round < 25; ++round) {
    for (int k = 0; k < 4; ++k) engine.Observe(OperationRequest(1, k, ts += 3000, rng));
  }
  // The same day, sixty customers use the SDK at those settings, each
  // observed long enough to be cleared.
  ts = kT0 + 3 * kMsPerHour;
  for (int round = 0; round < 12; ++round) {
    for (int k = 0; k < 60; ++k) engine.Observe(SdkUser(k, ts += 20000, rng));
  }
  Outcome out;
  out.before = Campaigns(engine);
  // The next day: one request each, and the daily re-examination.
  ts = kT0 + kMsPerDay + kMsPerHour;
  for (int k = 0; k < 6; ++k) {
    engine.Observe(OperationRequest(0, k, ts += 3000, rng));
    if (k < 4) engine.Observe(OperationRequest(1, k, ts += 3000, rng));
  }
  engine.Finish();
  out.after = Campaigns(engine);
  for (const auto& a : engine.accounts()) {
    if (!a.id.empty()) out.verdicts.emplace_back(a.id, a.verdict);
  }
  return out;
}

TEST(Split, OperationsMergedOnAPopularSdkSplitOnceItIsPublic) {
  const Outcome r = Play();
  // Merged while the SDK was theirs alone.
  ASSERT_EQ(r.before.size(), 1u);
  EXPECT_EQ(r.before[0].members.size(), 10u);
  // Split once the SDK's users are known: A, the larger part, keeps the id.
  ASSERT_EQ(r.after.size(), 2u);
  const auto& a = r.after[0].id == r.before[0].id ? r.after[0] : r.after[1];
  const auto& b = r.after[0].id == r.before[0].id ? r.after[1] : r.after[0];
  EXPECT_EQ(a.id, r.before[0].id);
  EXPECT_EQ(a.members.size(), 6u);
  EXPECT_EQ(b.members.size(), 4u);
  EXPECT_NE(b.id, a.id);
  // Blocks are sticky; no customer is blocked.
  for (const auto& [id, v] : r.verdicts) {
    if (id.rfind("op", 0) == 0) {
      EXPECT_EQ(v, Verdict::kBlock) << id;
    }
    if (id.rfind("user", 0) == 0) {
      EXPECT_NE(v, Verdict::kBlock) << id;
    }
  }
}

// An account keeps at most kMaxEdges links, the strongest; a link is kept
// on both sides; forgetting an account removes its links and the links
// back to it from the accounts it held.
TEST(LinkGraph, KeepsTheStrongestLinksPerAccount) {
  LinkGraph g;
  for (uint32_t k = 1; k <= LinkGraph::kMaxEdges; ++k) g.Add(0, k, 1.0f + k, 0, false);
  ASSERT_NE(g.Find(0), nullptr);
  EXPECT_EQ(g.Find(0)->n, LinkGraph::kMaxEdges);
  g.Add(0, 100, 0.5f, 0, false);  // weaker than all: not kept on 0's side
  g.Add(0, 101, 50.f, 0, true);   // replaces the weakest (0-1)
  const LinkGraph::Edges* e = g.Find(0);
  ASSERT_EQ(e->n, LinkGraph::kMaxEdges);
  bool has1 = false, has100 = false, has101 = false;
  for (size_t i = 0; i < e->n; ++i) {
    has1 |= e->e[i].other == 1;
    has100 |= e->e[i].other == 100;
    has101 |= e->e[i].other == 101 && e->e[i].paid;
  }
  EXPECT_FALSE(has1);
  EXPECT_FALSE(has100);
  EXPECT_TRUE(has101);
  ASSERT_NE(g.Find(100), nullptr);  // 100's side keeps it
  EXPECT_EQ(g.Find(100)->e[0].other, 0u);
  g.Update(0, 100, 3.f, 0, false);  // the side that holds it is updated
  EXPECT_FLOAT_EQ(g.Find(100)->e[0].score, 3.f);
  g.Remove(0);
  EXPECT_EQ(g.Find(0), nullptr);
  EXPECT_EQ(g.Find(101), nullptr);
  // 100 still names slot 0: edges are pairs to score again, never trusted
  // as they were (SplitClusters re-scores them on the slot's current account).
  EXPECT_EQ(g.accounts(), 2u);  // 100 and 1 (whose edge 0 had replaced)
}

// Two groups, each a clique of `a` and `b` accounts, joined by `joins`
// links (infrastructure or not).
std::vector<GraphEdge> TwoGroups(uint32_t a, uint32_t b, int joins, bool infra) {
  std::vector<GraphEdge> edges;
  for (uint32_t base : {0u, a}) {
    const uint32_t size = base == 0 ? a : b;
    for (uint32_t i = 0; i < size; ++i) {
      for (uint32_t j = i + 1; j < size; ++j) edges.push_back({base + i, base + j, true});
    }
  }
  for (int k = 0; k < joins; ++k) edges.push_back({static_cast<uint32_t>(k), a + static_cast<uint32_t>(k), infra});
  return edges;
}

size_t Cuts(const std::vector<uint8_t>& cut) { return static_cast<size_t>(std::count(cut.begin(), cut.end(), 1)); }

TEST(SelfStandingBridges, OnlyAContentLinkBetweenTwoGroupsThatEachBlockIsCut) {
  // One content link between two groups of five: cut (the last edge).
  auto edges = TwoGroups(5, 5, 1, false);
  auto cut = SelfStandingBridges(10, edges, 5);
  EXPECT_EQ(Cuts(cut), 1u);
  EXPECT_EQ(cut.back(), 1);
  // The same on infrastructure (a shared card): one operation, kept.
  EXPECT_EQ(Cuts(SelfStandingBridges(10, TwoGroups(5, 5, 1, true), 5)), 0u);
  // A side too small to block on its own: kept (the link may be what
  // makes it a campaign that blocks).
  EXPECT_EQ(Cuts(SelfStandingBridges(9, TwoGroups(5, 4, 1, false), 5)), 0u);
  // Two links between them: not a bridge.
  EXPECT_EQ(Cuts(SelfStandingBridges(10, TwoGroups(5, 5, 2, false), 5)), 0u);
  // A chain (a path) has bridges everywhere; only the middle one leaves
  // five on each side.
  std::vector<GraphEdge> path;
  for (uint32_t i = 0; i + 1 < 10; ++i) path.push_back({i, i + 1, false});
  cut = SelfStandingBridges(10, path, 5);
  EXPECT_EQ(Cuts(cut), 1u);
  EXPECT_EQ(cut[4], 1);
  // Isolated nodes and an empty graph.
  EXPECT_EQ(Cuts(SelfStandingBridges(12, TwoGroups(5, 5, 1, false), 5)), 1u);
  EXPECT_TRUE(SelfStandingBridges(0, {}, 5).empty());
}

TEST(UncorroboratedTies, ContentLinksBetweenTwoGroupsThatShareNoOneAreCut) {
  // Two content links between two groups of five, from different accounts
  // to different accounts: no bridge, but no third account corroborates
  // either -- both cut.
  auto cut = UncorroboratedTies(10, TwoGroups(5, 5, 2, false), 5);
  EXPECT_EQ(Cuts(cut), 2u);
  EXPECT_EQ(cut[cut.size() - 1], 1);
  EXPECT_EQ(cut[cut.size() - 2], 1);
  EXPECT_EQ(Cuts(SelfStandingBridges(10, TwoGroups(5, 5, 2, false), 5)), 0u);
  // On infrastructure: kept.
  EXPECT_EQ(Cuts(UncorroboratedTies(10, TwoGroups(5, 5, 2, true), 5)), 0u);
  // Groups held together by content alone, many links each: their own
  // links are corroborated (linked pairs share neighbours), the joins not.
  auto content_only = TwoGroups(5, 5, 2, false);
  for (auto& e : content_only) e.infra = false;
  EXPECT_EQ(Cuts(UncorroboratedTies(10, content_only, 5)), 2u);
  // A side too small to block on its own keeps its links.
  EXPECT_EQ(Cuts(UncorroboratedTies(9, TwoGroups(5, 4, 2, false), 5)), 0u);
  // A join that a third account corroborates: two accounts of one group
  // both tied to the same account of the other -- kept.
  auto triangle = TwoGroups(5, 5, 0, false);
  triangle.push_back({0, 5, false});
  triangle.push_back({1, 5, false});
  EXPECT_EQ(Cuts(UncorroboratedTies(10, triangle, 5)), 0u);
  // A sparse campaign tied by content alone (a chain: no link has a
  // neighbour in common) is not shattered: parts too small to stand alone
  // are taken back into their neighbours.
  std::vector<GraphEdge> path;
  for (uint32_t i = 0; i + 1 < 30; ++i) path.push_back({i, i + 1, false});
  EXPECT_EQ(Cuts(UncorroboratedTies(30, path, 5)), 0u);
  EXPECT_TRUE(UncorroboratedTies(0, {}, 5).empty());
}

// Two cliques of `a` and `b` accounts whose first `joins` accounts are each
// linked to the other group's first three: many links across, each
// corroborated (linked pairs share neighbours), no bridge.
std::vector<GraphEdge> TouchingGroups(uint32_t a, uint32_t b, uint32_t joins, bool infra) {
  std::vector<GraphEdge> edges = TwoGroups(a, b, 0, false);
  for (uint32_t i = 0; i < joins; ++i) {
    for (uint32_t j = 0; j < 3; ++j) edges.push_back({i, a + j, infra});
  }
  return edges;
}

TEST(ModularityCommunities, TwoCliquesTouchingInAFewPairsAreTwoCommunities) {
  const auto comm = ModularityCommunities(24, TouchingGroups(12, 12, 2, false));
  ASSERT_EQ(comm.size(), 24u);
  for (uint32_t v = 0; v < 12; ++v) EXPECT_EQ(comm[v], 0u) << v;  // numbered by the lowest node
  for (uint32_t v = 12; v < 24; ++v) EXPECT_EQ(comm[v], 1u) << v;
  // Isolated nodes are communities of their own; no edges, no merging.
  const auto alone = ModularityCommunities(3, {});
  EXPECT_EQ(alone, (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_TRUE(ModularityCommunities(0, {}).empty());
}

TEST(SparseCommunityCuts, OperationsTouchingInManyCorroboratedPairsAreCut) {
  // Six links across, all corroborated: the older rules keep them.
  const auto edges = TouchingGroups(12, 12, 2, false);
  EXPECT_EQ(Cuts(SelfStandingBridges(24, edges, 10)), 0u);
  EXPECT_EQ(Cuts(UncorroboratedTies(24, edges, 10)), 0u);
  // Across: 6 links against ~69 that chance gives two groups of this
  // weight (ratio 0.09): each of the six is cut, nothing inside.
  auto cut = SparseCommunityCuts(24, edges, 10, 0.1);
  EXPECT_EQ(Cuts(cut), 6u);
  for (size_t e = 0; e + 6 < edges.size(); ++e) EXPECT_EQ(cut[e], 0) << e;
  // One of them on infrastructure: one operation, nothing cut.
  auto paid = edges;
  paid.back().infra = true;
  EXPECT_EQ(Cuts(SparseCommunityCuts(24, paid, 10, 0.1)), 0u);
  // A side too small to block on its own stays with the group it is linked to.
  EXPECT_EQ(Cuts(SparseCommunityCuts(21, TouchingGroups(12, 9, 2, false), 10, 0.1)), 0u);
  // With a threshold below the ties' 0.09 of chance, they hold.
  EXPECT_EQ(Cuts(SparseCommunityCuts(24, edges, 10, 0.05)), 0u);
  EXPECT_TRUE(SparseCommunityCuts(0, {}, 10, 0.1).empty());
}

TEST(SparseCommunityCuts, OneDenseOperationIsNotShattered) {
  // Forty accounts, each linked to about half the others (a fixed
  // pseudo-random pattern), weights 1..2: whatever Louvain proposes, the
  // parts are linked across about as densely as within, and stay one.
  std::vector<GraphEdge> edges;
  Rng rng(7);
  for (uint32_t i = 0; i < 40; ++i) {
    for (uint32_t j = i + 1; j < 40; ++j) {
      if (rng.Chance(0.5)) edges.push_back({i, j, false, static_cast<float>(1.0 + rng.Uniform())});
    }
  }
  EXPECT_EQ(Cuts(SparseCommunityCuts(40, edges, 10, 0.1)), 0u);
  // The same input, the same answer.
  EXPECT_EQ(ModularityCommunities(40, edges), ModularityCommunities(40, edges));
}

// The parts the kept links connect, and the size of the smallest one that
// holds two accounts or more or lost a link (an account no link touched is
// no part).
size_t SmallestPart(size_t n, const std::vector<GraphEdge>& edges, const std::vector<uint8_t>& cut) {
  std::vector<uint32_t> up(n);
  for (uint32_t v = 0; v < n; ++v) up[v] = v;
  const auto find = [&](uint32_t x) {
    while (up[x] != x) x = up[x] = up[up[x]];
    return x;
  };
  std::vector<uint8_t> touched(n, 0);
  for (size_t e = 0; e < edges.size(); ++e) {
    touched[edges[e].x] = touched[edges[e].y] = 1;
    if (!cut[e]) up[find(edges[e].x)] = find(edges[e].y);
  }
  std::vector<size_t> size(n, 0);
  for (uint32_t v = 0; v < n; ++v) size[find(v)] += touched[v];
  size_t smallest = SIZE_MAX;
  for (uint32_t v = 0; v < n; ++v) {
    if (touched[v]) smallest = std::min(smallest, size[find(v)]);
  }
  return smallest;
}

TEST(HoldSmallParts, TheRulesTogetherLeaveNoSmallPart) {
  // From the review of 1ee214b: two cliques of 12 tied by six
  // uncorroborated links, and account 24 with one strong link into the
  // first (no neighbour in common) and two weaker ones into the second
  // (corroborated). Louvain puts 24 with the first, so the community rule
  // cuts its links into the second; UncorroboratedTies sees it in the
  // second's part and cuts its strong link. Each rule keeps its own sides
  // whole; together they left 24 alone -- out of its campaign.
  std::vector<GraphEdge> es = TwoGroups(12, 12, 0, false);
  for (auto& e : es) e.infra = false;
  for (uint32_t i = 0; i < 6; ++i) es.push_back({i, 12 + i, false, 1});
  es.push_back({24, 7, false, 3});
  es.push_back({24, 17, false, 1});
  es.push_back({24, 18, false, 1});
  const auto s = SparseCommunityCuts(25, es, 10, 0.2);  // the ratio the review found it at
  const auto u = UncorroboratedTies(25, es, 10);
  const auto b = SelfStandingBridges(25, es, 10);
  std::vector<uint8_t> cut(es.size());
  for (size_t e = 0; e < es.size(); ++e) cut[e] = static_cast<uint8_t>(s[e] | u[e] | b[e]);
  EXPECT_EQ(SmallestPart(25, es, cut), 1u);  // the hole
  HoldSmallParts(25, es, 10, cut);
  EXPECT_GE(SmallestPart(25, es, cut), 10u);
  EXPECT_GT(Cuts(cut), 0u);  // the groups still come apart
}

TEST(HoldSmallParts, RandomGraphsKeepEveryPartWholeAndNeverCutInfrastructure) {
  // Planted groups of 8 to 40 accounts, dense inside, a few links across,
  // some on infrastructure; all three rules together, then HoldSmallParts:
  // no part under min_side, no infrastructure link cut, same answer twice.
  Rng rng(52);
  for (int round = 0; round < 200; ++round) {
    std::vector<GraphEdge> es;
    std::vector<uint32_t> group;
    const int groups = 2 + static_cast<int>(rng.Next() % 4);
    for (int g = 0; g < groups; ++g) {
      const auto size = 8 + static_cast<uint32_t>(rng.Next() % 33);
      for (uint32_t i = 0; i < size; ++i) group.push_back(static_cast<uint32_t>(g));
    }
    const auto n = static_cast<uint32_t>(group.size());
    for (uint32_t x = 0; x < n; ++x) {
      for (uint32_t y = x + 1; y < n; ++y) {
        const bool same = group[x] == group[y];
        if (rng.Chance(same ? 0.4 : 0.01)) {
          es.push_back({x, y, rng.Chance(same ? 0.1 : 0.05), static_cast<float>(rng.Uniform(0.5, 2.0))});
        }
      }
    }
    const auto s = SparseCommunityCuts(n, es, 16, 0.2);
    const auto u = UncorroboratedTies(n, es, 10);
    const auto b = SelfStandingBridges(n, es, 10);
    std::vector<uint8_t> cut(es.size());
    for (size_t e = 0; e < es.size(); ++e) cut[e] = static_cast<uint8_t>(s[e] | u[e] | b[e]);
    HoldSmallParts(n, es, 16, cut);
    if (!es.empty()) {
      EXPECT_GE(SmallestPart(n, es, cut), std::min<size_t>(16, SmallestPart(n, es, std::vector<uint8_t>(es.size(), 0)))) << round;
    }
    for (size_t e = 0; e < es.size(); ++e) {
      if (es[e].infra) {
        EXPECT_EQ(s[e], 0) << round << " " << e;
      }
    }
    EXPECT_EQ(SparseCommunityCuts(n, es, 16, 0.2), s) << round;
  }
  // Weights that are no weight: not a link, and no crash.
  std::vector<GraphEdge> odd = TouchingGroups(12, 12, 2, false);
  odd.push_back({3, 20, true, 0.0f});  // infrastructure at weight 0 still joins
  odd.push_back({4, 21, false, std::numeric_limits<float>::quiet_NaN()});
  odd.push_back({5, 22, false, std::numeric_limits<float>::infinity()});
  odd.push_back({6, 6, false, 1.0f});
  odd.push_back({30, 1, false, 1.0f});  // out of range
  const auto c = SparseCommunityCuts(24, odd, 10, 0.1);
  EXPECT_EQ(Cuts(c), 0u);
}

TEST(Split, SameInputSameSplit) {
  const Outcome x = Play(), y = Play();
  ASSERT_EQ(x.after.size(), y.after.size());
  for (size_t i = 0; i < x.after.size(); ++i) {
    EXPECT_EQ(x.after[i].id, y.after[i].id);
    EXPECT_EQ(x.after[i].members, y.after[i].members);
  }
  EXPECT_EQ(x.verdicts, y.verdicts);
}

}  // namespace
}  // namespace dg
