// Address rotation (issues #15, #16): an account behind a rotating
// residential proxy sends session after session from a network it has not
// used before; a person moves between a few networks and comes back.
// NetworkLog counts it, NetworkKey says what a network is, ScoreAccount
// weighs it as automation: beside harvest content, never alone.
#include <string>

#include <gtest/gtest.h>

#include "account/account_state.h"
#include "correlate/correlator.h"
#include "engine/engine.h"
#include "harvest_fixture.h"

namespace dg {
namespace {

using testing::kT0;

TEST(NetworkKey, SixteenBitsOfIpv4AndThirtyTwoOfIpv6) {
  EXPECT_NE(NetworkKey("81.2.69.160"), 0u);
  EXPECT_EQ(NetworkKey("81.2.69.160"), NetworkKey("81.2.200.7")) << "one /16";
  EXPECT_NE(NetworkKey("81.2.69.160"), NetworkKey("81.3.69.160"));
  EXPECT_EQ(NetworkKey("::ffff:81.2.1.1"), NetworkKey("81.2.9.9")) << "IPv4-mapped IPv6 is the IPv4 address";
  EXPECT_EQ(NetworkKey("2001:db8:1:2::1"), NetworkKey("2001:db8:ffff::9")) << "one /32";
  EXPECT_NE(NetworkKey("2001:db8::1"), NetworkKey("2001:db9::1"));
  EXPECT_NE(NetworkKey("2001:db8::1"), NetworkKey("32.1.13.184")) << "a v6 /32 is not the v4 /16 of the same bytes";
  for (const char* none : {"", "not an address", "127.0.0.1", "0.0.0.0", "::1", "::", "999.1.1.1", "1.2.3"}) {
    EXPECT_EQ(NetworkKey(none), 0u) << none;
  }
}

TEST(NetworkLog, APersonReturnsARotatorDoesNot) {
  // Home, with an evening on the phone's carrier pool (12 /16s, cycled)
  // and a trip of five hotel networks: every excursion returns home. Each
  // move opens a session.
  NetworkLog person;
  const uint32_t home = NetworkKey("81.2.69.1");
  for (int day = 0; day < 60; ++day) {
    person.Note(home, true);
    person.Note(NetworkKey("172." + std::to_string(56 + day % 12) + ".3.4"), true);
    if (day % 12 == 5) {
      person.Note(NetworkKey("93." + std::to_string(day) + ".1.1"), true);
      person.Note(home, true);
    }
  }
  EXPECT_GE(person.changes, 120);
  EXPECT_LE(person.first_visits, 12 + 5);
  EXPECT_LT(person.FirstVisitShare(), 0.2);
  EXPECT_FALSE(person.Rotating());

  NetworkLog rotator;
  for (int session = 0; session < 30; ++session) {
    for (int r = 0; r < 4; ++r) {
      rotator.Note(NetworkKey(std::to_string(20 + session) + "." + std::to_string(session * 7) + ".1." + std::to_string(r)), r == 0);
    }
  }
  EXPECT_EQ(rotator.changes, 29) << "the first network is no change; repeats within a session are none";
  EXPECT_EQ(rotator.first_visits, 29);
  EXPECT_DOUBLE_EQ(rotator.FirstVisitShare(), 1.0);
  EXPECT_TRUE(rotator.Rotating());

  NetworkLog none;
  for (int k = 0; k < 10; ++k) none.Note(0, true);  // no address in the log
  EXPECT_EQ(none.changes, 0);
  EXPECT_EQ(none.FirstVisitShare(), 0);
}

TEST(NetworkLog, ReturnsInsideASessionDoNotDiluteTheFirstVisits) {
  // An operator pads each session with quick moves between two networks it
  // holds (or a phone flaps between Wi-Fi and its carrier): only a return
  // that opens a session counts.
  NetworkLog padded;
  const uint32_t a = NetworkKey("81.2.1.1"), b = NetworkKey("82.2.1.1");
  padded.Note(a, true);
  for (int r = 0; r < 60; ++r) padded.Note(r % 2 ? a : b, false);
  EXPECT_EQ(padded.changes, 1) << "b once, then flapping";
  for (int session = 0; session < 20; ++session) {
    padded.Note(NetworkKey(std::to_string(30 + session) + ".9.1.1"), true);
    for (int r = 0; r < 6; ++r) padded.Note(r % 2 ? a : b, false);
  }
  EXPECT_TRUE(padded.Rotating()) << padded.first_visits << " of " << padded.changes;
  // The same returns, each opening a session of its own, do count.
  NetworkLog home;
  home.Note(a, true);
  for (int r = 0; r < 60; ++r) home.Note(r % 2 ? a : b, true);
  for (int session = 0; session < 20; ++session) home.Note(NetworkKey(std::to_string(30 + session) + ".9.1.1"), true);
  EXPECT_FALSE(home.Rotating()) << home.first_visits << " of " << home.changes;
}

TEST(NetworkLog, TheClockForgetsWhatIsNotReturnedTo) {
  NetworkLog l;
  for (uint32_t k = 0; k < NetworkLog::kRing; ++k) l.Note(k * 2 + 1, true);
  const uint32_t kept = 1;
  l.Note(kept, true);  // a return: its slot is passed over once
  ASSERT_EQ(l.first_visits, NetworkLog::kRing - 1);
  l.Note(1001, true);
  l.Note(kept, false);
  EXPECT_EQ(l.first_visits, NetworkLog::kRing) << "the returned-to network kept its slot";
  // Forty new networks and no return: the hand clears the mark as it
  // passes, and the network is forgotten.
  for (uint32_t k = 0; k < 40; ++k) l.Note(2001 + 2 * k, true);
  const uint16_t before = l.first_visits;
  l.Note(kept, true);
  EXPECT_EQ(l.first_visits, before + 1) << "a network not returned to since the hand passed is a first visit again";
}

TEST(NetworkLog, CountsHalveTogether) {
  NetworkLog l;
  for (uint32_t k = 1; k < 70000; ++k) l.Note(k * 2 + 1, true);
  EXPECT_LE(l.changes, NetworkLog::kHalveAt);
  EXPECT_GE(l.changes, NetworkLog::kHalveAt / 2);
  EXPECT_EQ(l.first_visits, l.changes) << "every move a first visit";
  EXPECT_LT(l.next, NetworkLog::kRing);
}

// A rotating exit's stop at a block is not tenancy (the office check's
// strangers): at most a quarter of the account's work, and only for an
// account that rotates.
TEST(StopsBy, ARotatorsSessionIsAStopAPersonsHomeIsNot) {
  constexpr size_t ki = static_cast<size_t>(IndicatorKind::kIpPrefix);
  constexpr uint64_t kBlock = 77;
  AccountState a;
  a.indicator_count[ki] = 3;
  a.indicators[ki][0] = kBlock;
  a.indicator_hits[ki][0] = 6;  // a session of six requests
  a.indicators[ki][1] = 78;
  a.indicator_hits[ki][1] = 6;
  a.indicators[ki][2] = 79;
  a.indicator_hits[ki][2] = 6;
  a.indicator_overflow[ki] = 6;  // 18 elsewhere: the block is a quarter
  EXPECT_FALSE(Correlator::PassesBy(a, kBlock)) << "six uses are no passer-by's";
  EXPECT_FALSE(Correlator::StopsBy(a, kBlock)) << "a person who does not rotate lives where it works";
  a.n = 24;  // six here, a quarter
  for (uint32_t k = 1; k <= 12; ++k) a.networks.Note(k * 2 + 1, true);
  ASSERT_TRUE(a.networks.Rotating());
  EXPECT_TRUE(Correlator::StopsBy(a, kBlock));
  a.n = 23;  // more than a quarter here
  EXPECT_FALSE(Correlator::StopsBy(a, kBlock));
  a.n = 400;  // 400 requests over 11 moves: it stays, it does not rotate now
  EXPECT_FALSE(Correlator::StopsBy(a, kBlock));
  a.n = 24;
  a.indicator_hits[ki][0] = 17;  // more than a session's worth here
  a.n = 17 * 4;
  EXPECT_FALSE(Correlator::StopsBy(a, kBlock));
  a.indicator_hits[ki][0] = 255;  // a saturated count is tenancy whatever the rest
  a.n = 60000;
  EXPECT_FALSE(Correlator::StopsBy(a, kBlock));
  a.indicator_hits[ki][0] = 6;
  a.n = 24;
  a.indicators[ki][0] = 80;  // the block given up: passes by, rotating or not
  EXPECT_TRUE(Correlator::StopsBy(a, kBlock));
}

TEST(NetworkLog, RotatingNeedsManyFirstVisitsAndMostMoves) {
  NetworkLog l;
  for (uint32_t k = 1; k <= NetworkLog::kRotatingFirstVisits + 1; ++k) l.Note(k * 2 + 1, true);
  EXPECT_EQ(l.first_visits, NetworkLog::kRotatingFirstVisits);
  EXPECT_FALSE(l.Rotating()) << "the first network is no visit";
  l.Note(1001, true);
  EXPECT_TRUE(l.Rotating());
  for (int r = 0; r < 10; ++r) l.Note(r % 2 ? 1001 : 3, true);  // back and forth between two held networks, a session each
  EXPECT_FALSE(l.Rotating()) << "returns are no rotation: share " << l.FirstVisitShare();
}

// Moving reads a rotator's first sessions, before Rotating can: two first
// visits, most moves somewhere new. A person's one trip away and back is
// not moving; nor is a first network alone.
TEST(NetworkLog, MovingReadsTheFirstSessionsOfARotator) {
  NetworkLog rotator;
  rotator.Note(3, true);
  EXPECT_FALSE(rotator.Moving()) << "the first network is no visit";
  rotator.Note(5, true);
  EXPECT_FALSE(rotator.Moving()) << "one first visit";
  rotator.Note(7, true);
  EXPECT_TRUE(rotator.Moving());
  EXPECT_FALSE(rotator.Rotating());
  NetworkLog person;
  for (int day = 0; day < 6; ++day) person.Note(3, true);  // home
  person.Note(5, true);                                    // a trip
  person.Note(3, true);                                    // and back
  person.Note(3, true);
  EXPECT_FALSE(person.Moving()) << "share " << person.FirstVisitShare();
  person.Note(9, true);  // a second trip, and back
  person.Note(3, true);
  EXPECT_FALSE(person.Moving()) << "two first visits, but half the moves are returns: share " << person.FirstVisitShare();
}

// An aged account (sign-up 300 days before), sessions of four requests an
// evening, one in three asking for step-by-step reasoning, from one home
// address or from a new network every session; a second account does the
// same rotation with ordinary requests only.
class AddressRotation : public ::testing::Test {
 protected:
  Interaction Request(const std::string& account, TimeMs ts, bool reasoning, const std::string& ip) {
    Interaction in;
    in.ts = ts;
    in.request_id = account + "-" + std::to_string(ts);
    in.account_id = account;
    in.ip = ip;
    in.user_agent = "OpenAI/Python 1.54.3";
    in.account_created_at = kT0 - 300 * kMsPerDay;
    in.model = "m";
    const std::string task = "How would a city of " + std::to_string(ts / kMsPerMinute % 997) + "k people plan its buses?";
    in.messages.push_back({Role::kUser, reasoning ? "Think step by step and show your full reasoning. " + task : task, 0, 0, 0});
    return in;
  }
  void Play(const std::string& account, bool rotate, bool harvest) { Play(engine, account, rotate, harvest); }
  void Play(Engine& e, const std::string& account, bool rotate, bool harvest) {
    for (int session = 0; session < 24; ++session) {
      const std::string ip = rotate ? std::to_string(30 + session * 5) + "." + std::to_string(session * 11 % 250) + ".7.9"
                                    : "81.2.69.160";
      for (int r = 0; r < 4; ++r) {
        // Evenings at a person's irregular times and gaps.
        const TimeMs ts = kT0 + session * kMsPerDay + (18 + session % 5) * kMsPerHour + (session * 37 % 50) * kMsPerMinute +
                          r * (2 + (session * 7 + r * 13) % 17) * kMsPerMinute;
        e.Observe(Request(account, ts, harvest && (session * 4 + r) % 3 == 0, ip));
      }
    }
  }
  Engine engine{Policy::Defaults()};
};

TEST_F(AddressRotation, BesideReasoningRequestsItIsReviewed) {
  Play("home", false, true);
  Play("rotating", true, true);
  const AccountState* home = engine.FindAccount("home");
  const AccountState* rotating = engine.FindAccount("rotating");
  ASSERT_NE(home, nullptr);
  ASSERT_NE(rotating, nullptr);
  EXPECT_EQ(home->verdict, Verdict::kAllow) << home->own_score;
  EXPECT_FALSE(home->reasons & Bit(Reason::kAddressRotation));
  EXPECT_EQ(rotating->networks.first_visits, 23);
  EXPECT_EQ(rotating->verdict, Verdict::kReview) << rotating->own_score;
  EXPECT_TRUE(rotating->reasons & Bit(Reason::kAddressRotation));
  EXPECT_FALSE(rotating->reasons & Bit(Reason::kCotElicitation))
      << "a third of requests asking for steps is below half strength: the gateway throttles, it does not withhold";
}

TEST_F(AddressRotation, AloneItFlagsNobody) {
  // A traveller, a VPN user: a new network every evening, ordinary requests.
  Play("traveller", true, false);
  const AccountState* a = engine.FindAccount("traveller");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->verdict, Verdict::kAllow);
  EXPECT_EQ(a->own_score, 0) << "automation counts only beside harvest content";
  EXPECT_FALSE(a->suspicious);
}

TEST_F(AddressRotation, TheWeightIsThePolicys) {
  Policy p = Policy::Defaults();
  p.weights[static_cast<size_t>(Reason::kAddressRotation)] = 0;
  Engine off(p);
  Play(off, "rotating", true, true);
  const AccountState* a = off.FindAccount("rotating");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->verdict, Verdict::kAllow) << "without the signal the account reads as a person asking for steps";
}

// The base rate of rotation: how many cleared accounts rotate their exits.
// Where privacy VPNs are common, two accounts that both rotate is no
// coincidence worth much (Correlator::RotationRarity halves at 2%).
TEST_F(AddressRotation, RotationAmongClearedAccountsIsItsBaseRate) {
  EXPECT_DOUBLE_EQ(engine.correlator().RotationRarity(), 1.0) << "nobody rotates yet";
  for (int t = 0; t < 20; ++t) Play("traveller" + std::to_string(t), true, false);
  for (int h = 0; h < 5; ++h) Play("home" + std::to_string(h), false, false);
  // 20 of a population read as at least 1,000 (IndicatorIndex::kMinPopulation): 2%.
  EXPECT_NEAR(engine.correlator().RotationRarity(), 0.5, 1e-9);
  for (int t = 20; t < 40; ++t) Play("traveller" + std::to_string(t), true, false);
  EXPECT_NEAR(engine.correlator().RotationRarity(), 0.2, 1e-9) << "4%: a fifth of the weight";
  // A rotating account that turns to harvesting leaves the base rate.
  Play("traveller0", true, true);
  EXPECT_TRUE(engine.FindAccount("traveller0")->suspicious);
  EXPECT_FALSE(engine.FindAccount("traveller0")->counted_rotating);
  EXPECT_NEAR(engine.correlator().RotationRarity(), 1.0 / (1.0 + 1.95 * 1.95), 1e-9);
}

// Aged accounts share public prompts and tools with strangers, so content
// does not tie them -- unless both hide behind rotating exits, where paper
// age is no history. One that rotates is still not tied to one at home.
TEST(ContentMayTie, AgedAccountsOnlyWhenBothRotate) {
  AccountState aged_a, aged_b, unknown;
  for (AccountState* x : {&aged_a, &aged_b, &unknown}) x->harvesting = true;
  aged_a.created_at = aged_b.created_at = 0;  // sign-up known, not young, not changed
  unknown.created_at = -1;                    // a gateway's log: age unknown
  EXPECT_FALSE(Correlator::ContentMayTie(aged_a, aged_b));
  for (uint32_t k = 1; k <= 12; ++k) aged_a.networks.Note(k * 2 + 1, true);
  ASSERT_TRUE(aged_a.networks.Rotating());
  EXPECT_FALSE(Correlator::ContentMayTie(aged_a, aged_b)) << "one rotates, the other lives somewhere";
  EXPECT_FALSE(Correlator::ContentMayTie(aged_a, unknown)) << "a person at home is not tied to a rotator on content";
  for (uint32_t k = 1; k <= 12; ++k) aged_b.networks.Note(k * 2 + 1001, true);
  EXPECT_TRUE(Correlator::ContentMayTie(aged_a, aged_b));
  aged_b.harvesting = false;
  EXPECT_FALSE(Correlator::ContentMayTie(aged_a, aged_b)) << "only accounts that harvest on their own evidence";
}

}  // namespace
}  // namespace dg
