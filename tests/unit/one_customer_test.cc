// One customer in the open (Correlator::OneCustomer, OpenCustomer): a group
// of at most policy.one_customer_max_accounts accounts, every one paying
// with the same one card and working from at most two address blocks -- a
// lab's researchers on the org's card and office network -- is judged as
// one customer: membership does not block it, and it is not tied to
// accounts outside it by looking alike. The same group with anything that
// hides where or how it pays (more accounts, other cards, proxy addresses)
// is a campaign as before.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "common/rng.h"
#include "decide/check.h"
#include "engine/engine.h"
#include "harvest_fixture.h"
#include "report/views.h"

namespace dg {
namespace {

using testing::kT0;

struct Group {
  std::string prefix;
  int accounts = 12;
  // The card and address of account i at round r.
  std::function<std::string(int)> card = [](int) { return std::string("card_lab"); };
  std::function<std::string(int, int)> ip = [](int i, int) { return "198.51.100." + std::to_string(10 + i % 3); };
  TimeMs created = kT0 - kMsPerHour;  // sign-up (groups made days apart share no sign-up wave)
  std::function<TimeMs(int)> created_of = nullptr;  // per account, when set
  std::string org = "";               // declared org; empty: org_<prefix>
  int start_round = 0;                // rounds before this group's accounts begin
  int style = -1;                     // Request's style: -1 the shared request, 0-3 one of its own
};

// Account i of g at `round`, sent at t: the harvesting request every group
// shares (style < 0), or one with persona, instruction, client and
// settings of its own (style 0-3): cells of one operator that share no
// content.
Interaction Request(const Group& g, int i, int round, TimeMs t, Rng& rng, int style = -1) {
  static const char* kPersona[] = {"You are Professor Sage, a world-class expert tutor.",
                                   "Act as a meticulous competition mathematician who never skips a step.",
                                   "You are a friendly physics coach for high school olympiad students.",
                                   "You are a terse senior software engineer reviewing code."};
  static const char* kAsk[] = {"Solve the following problem. Think step by step and show your complete reasoning. Problem: ",
                               "Give a rigorous derivation, every intermediate line included, for this exercise: ",
                               "Walk me through, in numbered stages, how you would work out the answer to: ",
                               "Explain line by line what this function computes and why, for input: "};
  static const char* kUa[] = {"python-httpx/0.27.2", "node-fetch/3.3.2", "Go-http-client/2.0", "curl/8.5.0"};
  Interaction in = testing::HarvestRequest(g.prefix + std::to_string(i), t, rng, g.card(i), g.ip(i, round));
  if (style >= 0) {
    const int s = style % 4;
    in.system = kPersona[s];
    in.messages[0].text = std::string(kAsk[s]) + std::to_string(rng.Next() % 1000) + " apples and " +
                          std::to_string(rng.Next() % 1000) + " pears";
    in.user_agent = kUa[s];
    in.max_tokens = 4096 * (s + 1);
    in.temperature = 0.3 + 0.2 * s;
  }
  in.org_id = g.org.empty() ? "org_" + g.prefix : g.org;
  if (g.org == "-") in.org_id.clear();
  in.account_created_at = g.created_of ? g.created_of(i) : g.created;
  return in;
}

// Each round, every account of every group sends one harvesting request,
// 2 s apart; `gap` between rounds.
void Play(Engine& engine, const std::vector<Group>& groups, int rounds = 40, TimeMs gap = 0, bool finish = true,
          TimeMs start = kT0, uint64_t seed = 7) {
  Rng rng(seed);
  TimeMs t = start;
  for (int round = 0; round < rounds; ++round) {
    for (const Group& g : groups) {
      if (round < g.start_round) continue;
      for (int i = 0; i < g.accounts; ++i) {
        t += 2000;
        engine.Observe(Request(g, i, round, t, rng, g.style));
      }
    }
    t += gap;
  }
  if (finish) engine.Finish();
}

size_t Count(const Engine& engine, const Group& g, Verdict v) {
  size_t n = 0;
  for (int i = 0; i < g.accounts; ++i) {
    const AccountState* a = engine.FindAccount(g.prefix + std::to_string(i));
    n += a != nullptr && a->verdict == v;
  }
  return n;
}

TEST(OneCustomer, ALabOnItsCardAndNetworkIsReviewedNotBlocked) {
  Engine engine(Policy::Defaults());
  const Group lab{"lab"};
  Play(engine, {lab});
  ASSERT_EQ(Campaigns(engine).size(), 1u);
  EXPECT_EQ(Campaigns(engine)[0].members.size(), 12u);
  EXPECT_EQ(Count(engine, lab, Verdict::kReview), 12u);
}

TEST(OneCustomer, SwitchedOffTheLabIsACampaignThatBlocks) {
  Policy p = Policy::Defaults();
  p.one_customer_max_accounts = 0;
  Engine engine(p);
  const Group lab{"lab"};
  Play(engine, {lab});
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 12u);
}

TEST(OneCustomer, MoreAccountsThanALabIsACampaign) {
  Engine engine(Policy::Defaults());
  Group big{"big"};
  big.accounts = 17;
  Play(engine, {big});
  EXPECT_EQ(Count(engine, big, Verdict::kBlock), 17u);
}

// Past the cap, a company's seats at a person's pace (Correlator::
// PersonsPace): 24 seats on the corporate card and office, a harvest
// request each every eight hours (3 an active day) for five days.
constexpr int kPacedRounds = 15;
constexpr TimeMs kPacedGap = 8 * kMsPerHour;

TEST(OneCustomer, ACompanyPastTheCapAtAPersonsPaceIsOneCustomer) {
  Engine engine(Policy::Defaults());
  Group corp{"corp"};
  corp.accounts = 24;
  Play(engine, {corp}, kPacedRounds, kPacedGap);
  ASSERT_EQ(Campaigns(engine).size(), 1u);
  EXPECT_EQ(Campaigns(engine)[0].members.size(), 24u);
  EXPECT_EQ(Count(engine, corp, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, corp, Verdict::kReview), 24u);
}

TEST(OneCustomer, TheSameSeatsAtAHarvestersPaceAreACampaign) {
  // Twelve harvest requests a seat an active day: more than a person asks.
  Engine engine(Policy::Defaults());
  Group corp{"corp"};
  corp.accounts = 24;
  Play(engine, {corp}, 36, 2 * kMsPerHour);
  EXPECT_EQ(Count(engine, corp, Verdict::kBlock), 24u);
}

TEST(OneCustomer, PastSixtyFourSeatsPaceMakesNoCustomer) {
  Engine engine(Policy::Defaults());
  Group corp{"corp"};
  corp.accounts = static_cast<int>(Correlator::kPacedCustomerMaxAccounts) + 1;
  Play(engine, {corp}, kPacedRounds, kPacedGap);
  EXPECT_EQ(Count(engine, corp, Verdict::kBlock), static_cast<size_t>(corp.accounts));
}

// Eleven researchers on the lab's card, and a member of staff on a card
// of its own at the office sending the same requests: at a person's pace
// (one a round, a round every three hours: eight a day) or at the lab's
// (40 rounds in one stretch).
void LabWithStaff(Engine& engine, bool staff_paced) {
  Group lab{"lab"};
  lab.accounts = 11;
  Group staff{"staff"};
  staff.accounts = 1;
  staff.card = [](int) { return std::string("card_own"); };
  staff.org = "-";
  if (!staff_paced) {
    Play(engine, {lab, staff});
    return;
  }
  Play(engine, {lab}, 40, 0, false);
  Play(engine, {staff}, 16, 3 * kMsPerHour, true, kT0 + kMsPerHour, 9);
}

TEST(OneCustomer, AMemberOfStaffOnAPersonalCardAtTheOfficeLeavesOneCustomer) {
  Engine engine(Policy::Defaults());
  LabWithStaff(engine, true);
  ASSERT_EQ(Campaigns(engine).size(), 1u);
  EXPECT_EQ(Campaigns(engine)[0].members.size(), 12u);
  EXPECT_EQ(Count(engine, Group{"lab", 11}, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, Group{"staff", 1}, Verdict::kBlock), 0u);
}

TEST(OneCustomer, OnACardOfItsOwnAtAHarvestersPaceIsNoMemberOfStaff) {
  // Review of 6a76d50: heads on cards of their own in a lab's /24 at the
  // lab's pace were laundered as its staff.
  Engine engine(Policy::Defaults());
  LabWithStaff(engine, false);
  EXPECT_EQ(Count(engine, Group{"lab", 11}, Verdict::kBlock), 11u);
  EXPECT_EQ(Count(engine, Group{"staff", 1}, Verdict::kBlock), 1u);
}

TEST(OneCustomer, TheGroupsCardIsTheOneMostMembersPayWithWhateverTheirOrder) {
  // Review of 6a76d50: the card was read off the first two members only.
  // Two members of staff on cards of their own, at a person's pace, join
  // a lab of ten once it works: one customer whether they come before the
  // researchers in each round or after them.
  for (const bool staff_first : {true, false}) {
    Engine engine(Policy::Defaults());
    Group lab{"lab"};
    lab.accounts = 10;
    Group staff{"staff"};
    staff.accounts = 2;
    staff.org = "-";
    staff.card = [](int i) { return "card_own" + std::to_string(i); };
    staff.start_round = 3;
    Play(engine, staff_first ? std::vector<Group>{staff, lab} : std::vector<Group>{lab, staff}, kPacedRounds, kPacedGap);
    EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 0u) << staff_first;
    EXPECT_EQ(Count(engine, staff, Verdict::kBlock), 0u) << staff_first;
  }
}

TEST(OneCustomer, BankedQuietDaysDoNotPayForABurst) {
  // Review of 6a76d50: a month of one harvest request a seat a day, then
  // 200 each within hours -- a person's pace over the life, not now.
  Engine engine(Policy::Defaults());
  Group corp{"corp"};
  corp.accounts = 24;
  Play(engine, {corp}, 30, 24 * kMsPerHour, false);
  Play(engine, {corp}, 200, 0, true, kT0 + 31 * 24 * kMsPerHour, 11);
  EXPECT_EQ(Count(engine, corp, Verdict::kBlock), 24u);
}

TEST(OneCustomer, PacedCellsPastTheCapBehindOneProxyBlockAreNoCustomers) {
  // Review of 6a76d50: cells of 20 on a card each behind one /24, paced,
  // did not close each other's block (a card past 16 holders was no team).
  Engine engine(Policy::Defaults());
  std::vector<Group> cells;
  for (int c = 0; c < 3; ++c) {
    Group g{"cell" + std::to_string(c)};
    g.accounts = 20;
    g.style = c;
    g.org = "-";
    const std::string card = "card_cell" + std::to_string(c);
    g.card = [card](int) { return card; };
    g.ip = [c](int i, int) { return "100.70.5." + std::to_string(c * 60 + i + 1); };
    cells.push_back(g);
  }
  Play(engine, cells, kPacedRounds, kPacedGap);
  for (const Group& g : cells) EXPECT_EQ(Count(engine, g, Verdict::kBlock), 20u) << g.prefix;
}

TEST(OneCustomer, SwitchedOffPacedGroupsAreCampaignsToo) {
  // Review of 6a76d50: one_customer_max_accounts = 0 left paced groups open.
  Policy p = Policy::Defaults();
  p.one_customer_max_accounts = 0;
  Engine engine(p);
  Group corp{"corp"};
  corp.accounts = 24;
  Play(engine, {corp}, kPacedRounds, kPacedGap);
  EXPECT_EQ(Count(engine, corp, Verdict::kBlock), 24u);
}

TEST(OneCustomer, OnAPersonalCardAndElsewhereTooIsNoMemberOfStaff) {
  // The same account working from a proxy block of its own half the time.
  Engine engine(Policy::Defaults());
  Group lab{"lab"};
  lab.card = [](int i) { return std::string(i == 11 ? "card_own" : "card_lab"); };
  lab.ip = [](int i, int round) {
    return i == 11 && round % 2 == 1 ? std::string("203.0.113.77") : "198.51.100." + std::to_string(10 + i % 3);
  };
  Play(engine, {lab});
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 12u);
}

TEST(OneCustomer, MoreThanAQuarterOnCardsOfTheirOwnIsACampaign) {
  // Four of twelve on cards of their own: more than a quarter.
  Engine engine(Policy::Defaults());
  Group lab{"lab"};
  lab.card = [](int i) { return i >= 8 ? "card_own" + std::to_string(i) : std::string("card_lab"); };
  Play(engine, {lab});
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 12u);
}

TEST(OneCustomer, OneCardBehindProxyAddressesIsACampaign) {
  Engine engine(Policy::Defaults());
  Group hidden{"px"};
  hidden.accounts = 8;
  hidden.ip = [](int i, int round) { return "100." + std::to_string(64 + (i * 7 + round) % 50) + "." + std::to_string(round) + ".9"; };
  Play(engine, {hidden});
  EXPECT_EQ(Count(engine, hidden, Verdict::kBlock), 8u);
}

TEST(OneCustomer, TwoCardsAreTwoCustomersAndACampaign) {
  Engine engine(Policy::Defaults());
  Group two{"two"};
  two.accounts = 8;
  two.card = [](int i) { return "card_" + std::to_string(i % 2); };
  Play(engine, {two});
  EXPECT_EQ(Count(engine, two, Verdict::kBlock), 8u);
}

TEST(OneCustomer, TwoLabsAreNotOneCampaignForLookingAlike) {
  // The same persona, template and client, in step: everything but what
  // they pay with and where they work from.
  Engine engine(Policy::Defaults());
  Group a{"labA"}, b{"labB"};
  a.accounts = b.accounts = 8;
  b.card = [](int) { return std::string("card_labB"); };
  b.ip = [](int i, int) { return "203.0.113." + std::to_string(20 + i % 2); };
  b.created = kT0 - 5 * 24 * kMsPerHour;
  Play(engine, {a, b});
  size_t largest = 0;
  for (const auto& c : Campaigns(engine)) largest = std::max(largest, c.members.size());
  EXPECT_EQ(largest, 8u);
  EXPECT_EQ(Count(engine, a, Verdict::kReview), 8u);
  EXPECT_EQ(Count(engine, b, Verdict::kReview), 8u);
}

TEST(OneCustomer, AccountsThatCopyALabDoNotJoinIt) {
  // A hydra of young accounts on per-account cards and addresses copies
  // the lab's persona, template and client: it is a campaign of its own
  // (blocked), and the lab stays one customer.
  Engine engine(Policy::Defaults());
  const Group lab{"lab"};
  Group copy{"cp"};
  copy.accounts = 8;
  copy.card = [](int i) { return "card_cp" + std::to_string(i); };
  copy.ip = [](int i, int) { return "192.0.2." + std::to_string(100 + i); };
  copy.created = kT0 - 3 * 24 * kMsPerHour;
  Play(engine, {lab, copy});
  EXPECT_EQ(Count(engine, lab, Verdict::kReview), 12u);
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 0u);
}

TEST(OneCustomer, PairsOnACardAreNoCustomersInTheOpen) {
  // An operator that buys "openness" two accounts at a time -- a card and a
  // sticky address block per pair -- is still tied by what its pairs share.
  Engine engine(Policy::Defaults());
  Group pairs{"pr"};
  pairs.accounts = 10;
  pairs.card = [](int i) { return "card_pair" + std::to_string(i / 2); };
  pairs.ip = [](int i, int) { return "192.0." + std::to_string(10 + i / 2) + ".7"; };
  Play(engine, {pairs});
  EXPECT_EQ(Count(engine, pairs, Verdict::kBlock), 10u);
}

TEST(OneCustomer, ANewAccountOnTheLabsCardIsChallengedNotBlocked) {
  Engine engine(Policy::Defaults());
  const Group lab{"lab"};
  Play(engine, {lab});
  CheckRequest r;
  r.account_id = "lab_new";
  r.payment_fingerprint = "card_lab";
  r.ip = "198.51.100.10";
  const CheckResult out = engine.Check(r);
  EXPECT_EQ(out.decision, Decision::kChallenge);
  EXPECT_TRUE(out.reasons & Bit(Reason::kCampaignIndicatorMatch));
}

// A hydra of young heads, each on a card and an address block of its own,
// signed up hours apart, tied by what they send and when: a campaign that
// blocks. `decoys`
// accounts per head touch its card once with an ordinary question first.
Group Hydra(const std::string& prefix, int accounts) {
  Group h{prefix};
  h.accounts = accounts;
  h.org = "-";
  h.card = [prefix](int i) { return "card_" + prefix + std::to_string(i); };
  h.ip = [](int i, int) { return "100." + std::to_string(64 + i) + ".21.9"; };
  // Signed up hours apart: no sign-up wave ties them; what they send and
  // when does.
  h.created_of = [](int i) { return kT0 - 3 * 24 * kMsPerHour + (i % 8) * 9 * kMsPerHour; };
  return h;
}

void Decoys(Engine& engine, const Group& heads, int per_head) {
  TimeMs t = kT0 - 10 * 60 * 1000;
  for (int i = 0; i < heads.accounts; ++i) {
    for (int d = 0; d < per_head; ++d) {
      Interaction in;
      in.ts = t += 1000;
      in.request_id = "decoy" + std::to_string(i) + "_" + std::to_string(d);
      in.account_id = heads.prefix + "_decoy" + std::to_string(i) + "_" + std::to_string(d);
      in.ip = "81.2." + std::to_string(i) + "." + std::to_string(d + 1);
      in.user_agent = "Mozilla/5.0";
      in.payment_fingerprint = heads.card(i);
      in.account_created_at = kT0 - 30 * 24 * kMsPerHour;
      in.model = "m";
      in.messages.push_back({Role::kUser, "what is a good name for a grey cat", 0, 0, 0});
      engine.Observe(in);
    }
  }
}

TEST(OneCustomer, AHydraIsACampaignThatBlocks) {
  // The baseline of the decoy test below: without decoys the heads block.
  Engine engine(Policy::Defaults());
  const Group hydra = Hydra("hd", 8);
  Play(engine, {hydra});
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
}

TEST(OneCustomer, DecoysOnAHydraHeadsCardsDoNotMakeItACustomerInTheOpen) {
  // Two one-request accounts on each head's card put three holders on it,
  // as on a team's: only suspicious holders make a card a team's.
  Engine engine(Policy::Defaults());
  const Group hydra = Hydra("hd", 8);
  Decoys(engine, hydra, 2);
  Play(engine, {hydra});
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
}

TEST(OneCustomer, ACellOnTheHydrasProxyBlockIsTiedToIt) {
  // Four of the hydra's accounts on one card of their own, behind the
  // proxy /24 its heads use: a card team, but not one customer in the
  // open -- the block ties it to the heads, and the whole is a campaign.
  Engine engine(Policy::Defaults());
  Group hydra = Hydra("hd", 8);
  hydra.ip = [](int i, int) { return "100.64.21." + std::to_string(10 + i); };
  Group cell = Hydra("cl", 4);
  cell.card = [](int) { return std::string("card_cell"); };
  cell.ip = [](int i, int) { return "100.64.21." + std::to_string(100 + i); };
  Play(engine, {hydra, cell});
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
  EXPECT_EQ(Count(engine, cell, Verdict::kBlock), 4u);
}

TEST(OneCustomer, AHydraInCellsOfThreeBehindOneBlockIsACampaign) {
  // A card per three heads, every head on an address of its own in one
  // proxy /24: eight card teams on one block are one operator, not eight
  // customers in the open.
  Engine engine(Policy::Defaults());
  Group cells = Hydra("hc", 24);
  cells.card = [](int i) { return "card_c" + std::to_string(i / 3); };
  cells.ip = [](int i, int) { return "100.70.5." + std::to_string(10 + i); };
  Play(engine, {cells});
  EXPECT_EQ(Count(engine, cells, Verdict::kBlock), 24u);
}

TEST(OneCustomer, AResearcherOnTheRoadKeepsTheLabOneCustomer) {
  // From round 20 two researchers work from a hotel and a train: a lab is
  // not turned into a campaign overnight by a third network.
  Engine engine(Policy::Defaults());
  Group lab{"lab"};
  lab.ip = [](int i, int round) {
    if (round >= 20 && i == 0) return std::string("203.0.113.50");
    if (round >= 25 && i == 1) return std::string("100.99.1.7");
    return "198.51.100." + std::to_string(10 + i % 3);
  };
  Play(engine, {lab});
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, lab, Verdict::kReview), 12u);
}

TEST(OneCustomer, MostOfACellAwayFromItsNetworksIsACampaign) {
  // Where the quarter ends: four of twelve on addresses of their own.
  Engine engine(Policy::Defaults());
  Group cell{"cl"};
  cell.ip = [](int i, int round) {
    if (round >= 20 && i < 4) return "100." + std::to_string(70 + i) + ".3.3";
    return "198.51.100." + std::to_string(10 + i % 3);
  };
  Play(engine, {cell});
  EXPECT_EQ(Count(engine, cell, Verdict::kBlock), 12u);
}

// The lab's first two researchers (lab0, lab1) in step with a hydra that
// copies them, the rest of the lab (labr0-9, same card and network) from
// round 20, half an hour a round; then, the next day (re-examined at the
// day boundary), 20 more rounds.
struct LabAfterAHydra {
  Group hydra, first, rest;
};
LabAfterAHydra PlayLabAfterAHydra(Engine& engine) {
  LabAfterAHydra s{Hydra("hd", 8), Group{"lab"}, Group{"labr"}};
  s.first.accounts = 2;
  s.rest.org = "org_lab";
  s.rest.accounts = 10;
  s.rest.start_round = 20;
  Play(engine, {s.hydra, s.first, s.rest}, 40, 30 * 60 * 1000, false);
  Group rest_next = s.rest;
  rest_next.start_round = 0;
  Play(engine, {s.hydra, s.first, rest_next}, 20, 0, true, kT0 + 25 * kMsPerHour, 8);
  return s;
}

TEST(OneCustomer, ALabWhoseFirstAccountsMovedWithAHydraSplitsOffIt) {
  // The lab's first two researchers start in step with a hydra that
  // copies them, before the lab's card shows a team: they are tied to the
  // hydra on content. The rest of the lab is not carried in on the card,
  // and the next day's re-examination gives the lab back its first two.
  Engine engine(Policy::Defaults());
  const auto [hydra, first, rest] = PlayLabAfterAHydra(engine);
  EXPECT_EQ(Count(engine, rest, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
  // Blocks are sticky: the first two may stay blocked (THREAT_MODEL), but
  // the lab's campaign is the lab's twelve and nobody else.
  const AccountState* labr0 = engine.FindAccount("labr0");
  const AccountState* hd0 = engine.FindAccount("hd0");
  ASSERT_NE(labr0, nullptr);
  ASSERT_NE(hd0, nullptr);
  size_t lab_campaign = 0, with_hydra = 0;
  for (const auto& c : Campaigns(engine)) {
    const bool has_rest = std::find(c.members.begin(), c.members.end(), labr0->index) != c.members.end();
    const bool has_hydra = std::find(c.members.begin(), c.members.end(), hd0->index) != c.members.end();
    if (has_rest) lab_campaign = c.members.size();
    if (has_rest && has_hydra) ++with_hydra;
  }
  EXPECT_EQ(with_hydra, 0u);
  EXPECT_EQ(lab_campaign, 12u);
}

// `n` ordinary customers on addresses of `ip(i)`, each sending 12 ordinary
// questions (cleared after 10), before kT0.
void Bystanders(Engine& engine, const std::string& prefix, int n, std::function<std::string(int)> ip,
                std::function<std::string(int)> card = nullptr) {
  TimeMs t = kT0 - 20 * 60 * 60 * 1000;
  for (int r = 0; r < 12; ++r) {
    for (int i = 0; i < n; ++i) {
      Interaction in;
      in.ts = t += 1000;
      in.request_id = prefix + std::to_string(i) + "_" + std::to_string(r);
      in.account_id = prefix + std::to_string(i);
      in.ip = ip(i);
      in.user_agent = "Mozilla/5.0";
      if (card) in.payment_fingerprint = card(i);
      in.account_created_at = kT0 - 90 * 24 * kMsPerHour;
      in.model = "m";
      in.messages.push_back({Role::kUser, "tell me something about topic " + std::to_string(i * 37 + r * 101) +
                                              " for a school essay, person " + std::to_string(i), 0, 0, 0});
      engine.Observe(in);
    }
  }
}

TEST(OneCustomer, CellsBehindOneBusyBlockAreACampaign) {
  // AHydraInCellsOfThreeBehindOneBlockIsACampaign, with ordinary customers
  // on the proxy /24 too (a busy VPN exit, or the hydra's own padding):
  // the block is impure and ties nobody, but eight card teams on one block
  // are still no customers in the open (OtherTeamOnBlocks reads suspicious
  // holders only).
  Engine engine(Policy::Defaults());
  Bystanders(engine, "by", 30, [](int i) { return "100.70.5." + std::to_string(100 + i); });
  Group cells = Hydra("hc", 24);
  cells.card = [](int i) { return "card_c" + std::to_string(i / 3); };
  cells.ip = [](int i, int) { return "100.70.5." + std::to_string(10 + i); };
  Play(engine, {cells});
  EXPECT_EQ(Count(engine, cells, Verdict::kBlock), 24u);
}

// Like Play, but group after group (each its rounds in turn), group gi in
// style gi (Request): cells of one operator that share no content and no
// minutes.
void PlayOwnContent(Engine& engine, const std::vector<Group>& groups, int rounds = 40) {
  Rng rng(7);
  TimeMs t = kT0;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    for (int round = 0; round < rounds; ++round) {
      for (int i = 0; i < groups[gi].accounts; ++i) {
        t += 2000;
        engine.Observe(Request(groups[gi], i, round, t, rng, static_cast<int>(gi)));
      }
    }
  }
  engine.Finish();
}

// Three cells of eight heads, a card each, every head on an address of
// its own in one proxy /24.
std::vector<Group> CellsBehindOneBlock() {
  std::vector<Group> cells;
  for (int c = 0; c < 3; ++c) {
    Group g = Hydra("c" + std::to_string(c) + "_", 8);
    g.card = [c](int) { return "card_cell" + std::to_string(c); };
    g.ip = [c](int i, int) { return "100.70.5." + std::to_string(10 + 8 * c + i); };
    cells.push_back(g);
  }
  return cells;
}

TEST(OneCustomer, CellsOneAfterAnotherBehindOneProxyBlockAreACampaign) {
  // Three cells of eight, a card each, every head on an address of its own
  // in one proxy /24, each cell with its own persona, template and client,
  // started one after another: nothing but the block ties the cells, and
  // the block alone (0.6) is no link. Each cell is a campaign of its own
  // card -- and not one customer in the open, with other card teams on its
  // block: blocked, as with the rule switched off (cap 0).
  for (int cap : {16, 0}) {
    Policy p = Policy::Defaults();
    p.one_customer_max_accounts = cap;
    Engine engine(p);
    const std::vector<Group> cells = CellsBehindOneBlock();
    PlayOwnContent(engine, cells);
    size_t blocked = 0, review = 0;
    for (const Group& g : cells) blocked += Count(engine, g, Verdict::kBlock), review += Count(engine, g, Verdict::kReview);
    EXPECT_EQ(blocked, 24u) << "cap " << cap;
  }
}

// Like Play, interleaved, but group gi in style[gi] (Request).
void PlayMixed(Engine& engine, const std::vector<Group>& groups, const std::vector<int>& style, int rounds = 40) {
  Rng rng(7);
  TimeMs t = kT0;
  for (int round = 0; round < rounds; ++round) {
    for (size_t gi = 0; gi < groups.size(); ++gi) {
      if (round < groups[gi].start_round) continue;
      for (int i = 0; i < groups[gi].accounts; ++i) {
        t += 2000;
        engine.Observe(Request(groups[gi], i, round, t, rng, style[gi]));
      }
    }
  }
  engine.Finish();
}

bool SameCampaign(const Engine& engine, const std::string& x, const std::string& y) {
  const AccountState* a = engine.FindAccount(x);
  const AccountState* b = engine.FindAccount(y);
  if (a == nullptr || b == nullptr) return false;
  for (const auto& c : Campaigns(engine)) {
    if (std::find(c.members.begin(), c.members.end(), a->index) != c.members.end() &&
        std::find(c.members.begin(), c.members.end(), b->index) != c.members.end())
      return true;
  }
  return false;
}

TEST(OneCustomer, UnrelatedHeadsOnALabsCloudBlockDoNotCloseItsCard) {
  // A lab's eval jobs in a cloud /24, and an unrelated hydra's heads (a
  // card each, or none; nothing sent in common with the lab) on other
  // addresses in it: heads are no card team, however many.
  for (const bool cards : {true, false}) {
    Engine engine(Policy::Defaults());
    Group lab{"lab"};
    Group hydra = Hydra("hd", 12);
    hydra.card = [cards](int i) { return cards ? "card_hd" + std::to_string(i) : std::string(); };
    hydra.ip = [](int i, int) { return "198.51.100." + std::to_string(100 + i); };
    PlayMixed(engine, {lab, hydra}, {0, 1});
    EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 0u) << "cards " << cards;
    EXPECT_EQ(Count(engine, lab, Verdict::kReview), 12u) << "cards " << cards;
    EXPECT_FALSE(SameCampaign(engine, "lab0", "hd0"));
  }
}

TEST(OneCustomer, DecoysOnCellsCardsDoNotReopenCellsBehindOneBlock) {
  // CellsOneAfterAnotherBehindOneProxyBlockAreACampaign, with two one-
  // request decoys per head on each cell's card (25 holders a card): a
  // card's team is counted by its suspicious holders.
  Engine engine(Policy::Defaults());
  const std::vector<Group> cells = CellsBehindOneBlock();
  for (const Group& g : cells) Decoys(engine, g, 2);
  PlayOwnContent(engine, cells);
  size_t blocked = 0;
  for (const Group& g : cells) blocked += Count(engine, g, Verdict::kBlock);
  EXPECT_EQ(blocked, 24u);
}

TEST(OneCustomer, OrdinaryColleaguesOnTheLabsCardKeepItOpen) {
  // ALabWhoseFirstAccountsMovedWithAHydraSplitsOffIt with five colleagues
  // who pay with the lab's card and ask ordinary questions (17 holders):
  // the rest of the lab is still not carried into the hydra.
  Engine engine(Policy::Defaults());
  Bystanders(engine, "col", 5, [](int i) { return "198.51.100." + std::to_string(10 + i % 3); },
             [](int) { return std::string("card_lab"); });
  const Group rest = PlayLabAfterAHydra(engine).rest;
  EXPECT_EQ(Count(engine, rest, Verdict::kBlock), 0u);
  EXPECT_FALSE(SameCampaign(engine, "labr0", "hd0"));
  EXPECT_FALSE(SameCampaign(engine, "lab0", "hd0"));
}

TEST(OneCustomer, AResearcherWhoPaysOnceWithAPersonalCardKeepsTheLabOpen) {
  // One of twelve pays once with a personal card: a quarter of the group
  // may hold another card besides the lab's.
  Engine engine(Policy::Defaults());
  const Group lab{"lab"};
  Play(engine, {lab}, 20, 0, false);
  Group lab2 = lab;
  lab2.card = [](int i) { return i == 0 ? std::string("card_personal") : std::string("card_lab"); };
  Play(engine, {lab2}, 1, 0, false, kT0 + 2 * kMsPerHour, 9);
  Play(engine, {lab}, 20, 0, true, kT0 + 3 * kMsPerHour, 10);
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, lab, Verdict::kReview), 12u);
}

TEST(OneCustomer, AThirdOfACellOnOtherCardsIsACampaign) {
  // Where the quarter ends for cards: four of twelve also pay with cards
  // of their own.
  Engine engine(Policy::Defaults());
  const Group lab{"cl"};
  Play(engine, {lab}, 20, 0, false);
  Group lab2 = lab;
  lab2.card = [](int i) { return i < 4 ? "card_own" + std::to_string(i) : std::string("card_lab"); };
  Play(engine, {lab2}, 1, 0, false, kT0 + 2 * kMsPerHour, 9);
  Play(engine, {lab}, 20, 0, true, kT0 + 3 * kMsPerHour, 10);
  EXPECT_EQ(Count(engine, lab, Verdict::kBlock), 12u);
}

// A gateway's log: no card, no sign-up time, no org. A group is one
// customer only as an office: its accounts on at most two blocks nobody
// else suspicious works from, first seen more than a day apart.
Group Gateway(Group g) {
  g.card = [](int) { return std::string(); };
  g.created = kNoTime;
  g.org = "-";
  return g;
}

// A lab of twelve in a gateway log: four researchers from the start
// (fewer than a campaign that blocks), eight more joining 30 hours later,
// all on the office's block.
constexpr int kOfficeRounds = 60;
constexpr TimeMs kOfficeGap = kMsPerHour;

struct Office {
  Group first = Gateway(Group{"ofa", 4});
  Group later = Gateway(Group{"ofb", 8});
  Office() { later.start_round = 30; }
  size_t Count(const Engine& engine, Verdict v) const { return dg::Count(engine, first, v) + dg::Count(engine, later, v); }
  // Both teams, and `others` beside them, an hour between rounds.
  void Run(Engine& engine, std::vector<Group> others = {}) const {
    others.insert(others.begin(), {first, later});
    Play(engine, others, kOfficeRounds, kOfficeGap);
  }
};

// Harvesting accounts of their own kind (style 1-3) that start at `start`
// and work from ip(i, round), next to an office.
Group Visitors(const std::string& prefix, int accounts, int style, int start, std::function<std::string(int, int)> ip) {
  Group g = Gateway(Group{prefix, accounts});
  g.style = style;
  g.start_round = start;
  g.ip = std::move(ip);
  return g;
}

// Five harvesting strangers of their own kind whose rotating exits fall
// once each into the office's block (rounds 40-44).
Group PassersBy() {
  return Visitors("passers", 5, 1, 10, [](int i, int round) {
    return round == 40 + i ? "198.51.100." + std::to_string(90 + i)
                           : "100." + std::to_string(64 + round) + "." + std::to_string(i) + ".9";
  });
}

// A hydra of eight on a proxy block that sends what the office sends, from
// round 35; two heads pass through the office's block twice (rounds 45, 46).
Group CopyingHydra() {
  return Visitors("copy", 8, -1, 35, [](int i, int round) {
    return i < 2 && (round == 45 || round == 46) ? "198.51.100." + std::to_string(60 + i)
                                                 : "203.0.113." + std::to_string(10 + i);
  });
}

TEST(OneCustomer, ALabInAGatewayLogIsOneCustomerByItsOffice) {
  Engine engine(Policy::Defaults());
  const Office lab;
  lab.Run(engine);
  EXPECT_EQ(lab.Count(engine, Verdict::kBlock), 0u);
  EXPECT_EQ(lab.Count(engine, Verdict::kReview), 12u);
}

TEST(OneCustomer, ACellBroughtUpTogetherInAGatewayLogIsACampaign) {
  // The same twelve on one block, all first seen within the hour: switched
  // on, not grown.
  Engine engine(Policy::Defaults());
  Office cell;
  cell.later.start_round = 0;
  cell.Run(engine);
  EXPECT_EQ(cell.Count(engine, Verdict::kBlock), 12u);
}

TEST(OneCustomer, AnyCardInTheLogMeansNoGroupIsAnOffice) {
  // Where the log carries cards (anyone's), a group without a common card
  // is no customer in the open: the lab is a campaign again.
  Engine engine(Policy::Defaults());
  Rng rng(3);
  Interaction paid = testing::HarvestRequest("somebody", kT0, rng, "card_somebody", "192.0.2.1");
  paid.system = "You are a helpful assistant.";
  paid.messages[0].text = "what should I cook tonight?";
  engine.Observe(paid);
  const Office lab;
  Play(engine, {lab.first, lab.later}, kOfficeRounds, kOfficeGap, true, kT0 + 1000);
  EXPECT_EQ(lab.Count(engine, Verdict::kBlock), 12u);
}

TEST(OneCustomer, HarvestersMovingIntoTheOfficeBlockEndIt) {
  // Six harvesting accounts of their own kind that work half from the
  // lab's block and half from another, once the lab is an office: the
  // block ties them to it, and eighteen accounts on it are more than one
  // customer -- the price of sharing a block with harvesters (framing
  // from inside the block, THREAT_MODEL).
  Engine engine(Policy::Defaults());
  const Office lab;
  const Group heads = Visitors("roam", 6, 2, 35, [](int i, int round) {
    return round % 2 == 0 ? "198.51.100." + std::to_string(40 + i) : "203.0.113." + std::to_string(40 + i);
  });
  lab.Run(engine, {heads});
  EXPECT_GT(lab.Count(engine, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, heads, Verdict::kBlock), 6u);
}

TEST(OneCustomer, APasserByOnTheOfficeBlockLeavesItAnOffice) {
  // A harvesting stranger of its own kind whose rotating proxy exit fell
  // once into the lab's block, once the lab is an office: a passer-by,
  // not a tenant.
  Engine engine(Policy::Defaults());
  const Office lab;
  const Group stranger = Visitors("passer", 1, 1, 10, [](int, int round) {
    return round == 40 ? std::string("198.51.100.99") : "100." + std::to_string(64 + round) + ".7.9";
  });
  lab.Run(engine, {stranger});
  const AccountState* s = engine.FindAccount("passer0");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->suspicious);  // in the block's ring: the rule is exercised
  EXPECT_EQ(lab.Count(engine, Verdict::kBlock), 0u);
}

TEST(OneCustomer, PassersByOnTheOfficeBlockDoNotMakeItACrowd) {
  // Five harvesting strangers whose rotating exits each fell once into
  // the lab's block: with the lab's twelve, seventeen suspicious users of
  // the block -- more than its ring holds -- but the ring shows five
  // passers-by and no one it lost but the lab's own.
  Engine engine(Policy::Defaults());
  const Office lab;
  const Group strangers = PassersBy();
  lab.Run(engine, {strangers});
  for (int i = 0; i < strangers.accounts; ++i) {
    const AccountState* s = engine.FindAccount("passers" + std::to_string(i));
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->suspicious) << i;  // in the block's ring: the rule is exercised
  }
  EXPECT_EQ(lab.Count(engine, Verdict::kBlock), 0u);
  EXPECT_EQ(lab.Count(engine, Verdict::kReview), 12u);
}

TEST(OneCustomer, AStrangerComingBackToTheOfficeBlockIsOneStranger) {
  // One harvesting stranger whose exits rotate through more blocks than
  // an account keeps, back in the lab's block every seventh round: its
  // slot for the block is given up and taken again each time, so the
  // block counts it as a new suspicious user on each return -- but each
  // return is in the block's ring, seen as the passer-by it is, not
  // counted as an unseen tenant.
  Engine engine(Policy::Defaults());
  const Office lab;
  const Group stranger = Visitors("returner", 1, 1, 8, [](int, int round) {
    return round % 7 == 0 ? std::string("198.51.100.99") : "100." + std::to_string(64 + round) + ".7.9";
  });
  lab.Run(engine, {stranger});
  const AccountState* s = engine.FindAccount("returner0");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->suspicious);
  EXPECT_GT(s->indicator_overflow[static_cast<size_t>(IndicatorKind::kIpPrefix)], 0u);  // its slots turned over
  // Past the ring's 16: the unseen count, not the raw one, is what is read.
  const IndicatorStats* block = engine.correlator().index().Find(
      IndicatorIndex::Key(IndicatorKind::kIpPrefix, IpPrefixKey("198.51.100.99", nullptr)));
  ASSERT_NE(block, nullptr);
  EXPECT_GT(block->suspicious, kMaxMembers);
  EXPECT_EQ(lab.Count(engine, Verdict::kBlock), 0u);
  EXPECT_EQ(lab.Count(engine, Verdict::kReview), 12u);
}

TEST(OneCustomer, AHydraThatCopiesTheOfficeAndPassesThroughItsBlockDoesNotCarryItIn) {
  // A hydra of eight on a proxy block that sends what the lab sends; two
  // of its heads pass through the lab's block twice once the lab is an
  // office. The block ties those heads to the lab's accounts, but the
  // office block is the lab's card in a log without cards: a link on it
  // does not carry the lab into a cluster that holds accounts off it
  // (issue #15 review).
  Engine engine(Policy::Defaults());
  const Office lab;
  const Group hydra = CopyingHydra();
  lab.Run(engine, {hydra});
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
  EXPECT_EQ(lab.Count(engine, Verdict::kBlock), 0u);
  EXPECT_EQ(lab.Count(engine, Verdict::kReview), 12u);
}

TEST(OneCustomer, AResidentDoesNotJoinAHydraWhoseExitsPassedThroughItsBlock) {
  // A person at home on its own /24 asks ordinary questions every two
  // hours. A hydra on its proxy pool's two /24s, whose exits also rotate
  // through fresh residential /24s, passes through the person's block
  // once per head (six heads) and moves on: those exits leave the heads'
  // slots, but the block's ring still names the heads, and its campaign.
  // Days later the person starts scripting -- its own prompts, with the
  // SDK and settings the hydra uses. Block, client and settings would add
  // up to a campaign match, but the person works from the block and the
  // hydra only passed through it: the block says nothing of the person
  // (issue #15: heavy scripters at home matched into a campaign on
  // residential proxies). The client's weight is raised so that block and
  // client alone reach the link threshold: the rule, not the default
  // weights, is under test.
  Policy policy = Policy::Defaults();
  policy.links[static_cast<size_t>(IndicatorKind::kClient)] = 0.6;
  Engine engine(policy);
  const Group hydra = Visitors("rot", 8, -1, 36, [](int i, int round) {
    if (i < 6 && round == 60 + i) return "192.0.2." + std::to_string(200 + i);
    return round % 2 == 0 ? "100.64." + std::to_string(i % 2) + ".9"
                          : "100." + std::to_string(100 + round) + "." + std::to_string(i) + ".9";
  });
  Rng rng(7);
  TimeMs t = kT0;
  for (int round = 0; round < 96; ++round) {
    Interaction mine = testing::HarvestRequest("home", t, rng, "", "192.0.2.7");
    mine.org_id.clear();
    mine.account_created_at = kNoTime;
    if (round < 80) {
      mine.system.clear();
      mine.messages[0].text = "what should I cook tonight with " + std::to_string(rng.Next() % 50) + " eggs?";
      mine.temperature = 1.0;
    } else {
      mine.system = "You clean address records for a shipping database.";
      mine.messages[0].text = "Normalise this record, reasoning step by step: " + std::to_string(rng.Next() % 100000) +
                              " Harbour Road, unit " + std::to_string(rng.Next() % 500);
    }
    engine.Observe(mine);
    if (round >= hydra.start_round) {
      for (int i = 0; i < hydra.accounts; ++i) engine.Observe(Request(hydra, i, round, t += 2000, rng, -1));
    }
    t += 2 * kMsPerHour;
  }
  engine.Finish();
  const AccountState* resident = engine.FindAccount("home");
  ASSERT_NE(resident, nullptr);
  EXPECT_TRUE(resident->suspicious);  // in the block's ring: the match is examined
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
  EXPECT_NE(resident->verdict, Verdict::kBlock);
}

TEST(OneCustomer, PassersByDoNotOpenTheOfficeToAHydraThatCopiesIt) {
  // The hydra above, and five harvesting strangers of their own kind
  // whose exits fell once each into the lab's block: more suspicious users
  // of the block than the cap, which asked of a card's group before the
  // office's count (OpenCardGroup) ended the office for every account not
  // yet judged with its group -- and the guard with it (second review).
  Engine engine(Policy::Defaults());
  const Office lab;
  const Group hydra = CopyingHydra();
  const Group strangers = PassersBy();
  lab.Run(engine, {hydra, strangers});
  for (int i = 0; i < strangers.accounts; ++i) {
    const AccountState* s = engine.FindAccount("passers" + std::to_string(i));
    ASSERT_NE(s, nullptr);
    EXPECT_TRUE(s->suspicious) << i;
  }
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
  EXPECT_EQ(lab.Count(engine, Verdict::kBlock), 0u);
  EXPECT_EQ(lab.Count(engine, Verdict::kReview), 12u);
}

TEST(OneCustomer, MoreThanALabOnOneBlockInAGatewayLogIsACampaign) {
  // Twenty accounts behind one block, grown over days: more than one
  // customer's accounts (one_customer_max_accounts).
  Engine engine(Policy::Defaults());
  Office big;
  big.later.accounts = 16;
  big.Run(engine);
  EXPECT_EQ(big.Count(engine, Verdict::kBlock), 20u);
}

// A cell of `n` on one card, every head on its own address of one proxy
// /24 from `ip0`, content style `style`.
Group ProxyCell(const std::string& prefix, int n, int style, int ip0) {
  Group g{prefix};
  g.accounts = n;
  g.style = style;
  g.org = "-";
  const std::string card = "card_" + prefix;
  g.card = [card](int) { return card; };
  g.ip = [ip0](int i, int) { return "100.70.5." + std::to_string(ip0 + i); };
  return g;
}

TEST(OneCustomer, ACellHiddenBesideAPacedCellPastTheCapClosesItsBlock) {
  // Second review of b4b6cf0: a cell of 16 on the /24 a cell of 64 moves
  // onto once it is linked -- a quarter of 64 -- was allowed as strangers.
  Engine engine(Policy::Defaults());
  Group big = ProxyCell("big", 64, 0, 2);
  big.ip = [](int i, int round) { return (round < 5 ? "100.71.9." : "100.70.5.") + std::to_string(2 + i); };
  const Group small = ProxyCell("sm", 16, 1, 150);
  Play(engine, {small, big}, kPacedRounds, kPacedGap);
  EXPECT_EQ(Count(engine, big, Verdict::kBlock), 64u);
}

TEST(OneCustomer, OneSeatsStrayRequestFromABusyProxyBlockLeavesACompanyOpen) {
  // Second review of b4b6cf0: one request by one seat from a /24 where an
  // eight-head hydra works counted the hydra as strangers on the
  // company's blocks, and all 24 seats were blocked.
  Engine engine(Policy::Defaults());
  Group corp{"corp"};
  corp.accounts = 24;
  corp.ip = [](int i, int round) {
    return i == 0 && round == 10 ? std::string("100.64.21.77") : "198.51.100." + std::to_string(10 + i % 3);
  };
  Group hydra = Hydra("hd", 8);
  hydra.ip = [](int i, int) { return "100.64.21." + std::to_string(10 + i); };
  hydra.style = 3;
  Play(engine, {hydra}, 40, 0, false);
  Play(engine, {corp}, kPacedRounds, kPacedGap, true, kT0 + kMsPerHour);
  EXPECT_EQ(Count(engine, corp, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, hydra, Verdict::kBlock), 8u);
}

TEST(OneCustomer, AVisitFromAnotherPacedCompanyClosesNeither) {
  // Second review of b4b6cf0: a seat of a paced company of 20 visiting the
  // office of a paced company of 24 blocked all 44.
  Engine engine(Policy::Defaults());
  Group corp{"corp"};
  corp.accounts = 24;
  Group other{"oth"};
  other.accounts = 20;
  other.style = 1;
  other.card = [](int) { return std::string("card_oth"); };
  other.ip = [](int i, int round) {
    return i == 0 && round == 10 ? std::string("198.51.100.77") : "203.0.113." + std::to_string(1 + i % 3);
  };
  Play(engine, {corp, other}, kPacedRounds, kPacedGap);
  EXPECT_EQ(Count(engine, corp, Verdict::kBlock), 0u);
  EXPECT_EQ(Count(engine, other, Verdict::kBlock), 0u);
}

}  // namespace
}  // namespace dg
