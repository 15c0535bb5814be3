#include "sim/simulator.h"

#include <gtest/gtest.h>

#include "status_util.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <absl/container/flat_hash_map.h>
#include <simdjson.h>

#include "common/zstd_writer.h"
#include "content/features.h"
#include "content/tokens.h"
#include "ingest/line_reader.h"
#include "ingest/parser.h"
#include "test_util.h"

namespace dg::sim {
namespace {

struct Output {
  std::string events, labels;
};

Output Simulate(const SimOptions& options) {
  auto created = Simulator::Create(options);
  EXPECT_TRUE(created.ok()) << created.status();
  auto sim = std::move(*created);
  char* ebuf = nullptr;
  char* lbuf = nullptr;
  size_t elen = 0, llen = 0;
  std::FILE* ef = open_memstream(&ebuf, &elen);
  std::FILE* lf = open_memstream(&lbuf, &llen);
  SimStats stats;
  EXPECT_TRUE(sim->Run(ef, lf, &stats));
  std::fclose(ef);
  std::fclose(lf);
  Output out{std::string(ebuf, elen), std::string(lbuf, llen)};
  free(ebuf);
  free(lbuf);
  return out;
}

struct Label {
  std::string label, campaign, archetype;
};

struct Parsed {
  std::vector<Interaction> events;
  absl::flat_hash_map<std::string, Label> labels;
  std::map<std::string, std::vector<const Interaction*>> by_group;  // archetype -> events
};

Parsed Parse(const Output& out) {
  Parsed p;
  simdjson::dom::parser json;
  std::istringstream ls(out.labels);
  std::string line;
  while (std::getline(ls, line)) {
    auto e = json.parse(line).value();
    Label l{std::string(e["label"].get_string().value()), "", std::string(e["archetype"].get_string().value())};
    std::string_view c;
    if (e["campaign"].get(c) == simdjson::SUCCESS) l.campaign = c;
    p.labels[std::string(e["account_id"].get_string().value())] = l;
  }
  RecordParser parser(FieldMapping::Canonical());
  std::istringstream es(out.events);
  while (std::getline(es, line)) {
    Interaction in;
    auto err = parser.Parse(line, false, &in);
    EXPECT_FALSE(err) << err->Message() << "\n" << line.substr(0, 300);
    p.events.push_back(std::move(in));
  }
  for (const auto& in : p.events) p.by_group[p.labels[in.account_id].archetype].push_back(&in);
  return p;
}

const Parsed& Demo() {
  static const Parsed* parsed = [] {
    SimOptions o;
    o.scenario = "demo";
    o.seed = 11;
    return new Parsed(Parse(Simulate(o)));
  }();
  return *parsed;
}

TEST(Simulator, SameSeedSameBytesOtherSeedOtherBytes) {
  SimOptions o;
  o.scenario = "demo";
  o.scale = 0.3;
  o.seed = 5;
  const Output a = Simulate(o), b = Simulate(o);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.labels, b.labels);
  o.seed = 6;
  EXPECT_NE(Simulate(o).events, a.events);
}

// `simulate --out FILE.zst`: the events through a ZstdFileWriter read back
// (by the reader scan uses) as the bytes the FILE* overload writes.
TEST(Simulator, ZstdSinkHoldsTheSameBytes) {
  SimOptions o;
  o.scenario = "demo";
  o.scale = 0.1;
  o.seed = 11;
  const Output plain = Simulate(o);
  dg::testing::TempDir dir;
  const std::string path = dir.File("events.jsonl.zst");
  auto writer = ZstdFileWriter::Create(path);
  ASSERT_TRUE(writer.ok()) << writer.status();
  auto sim = std::move(*Simulator::Create(o));
  SimStats stats;
  size_t pieces = 0;
  ASSERT_TRUE(sim->Run([&](std::string_view piece) { ++pieces; return (*writer)->Write(piece); }, nullptr, &stats));
  ASSERT_TRUE((*writer)->Close()) << (*writer)->error();
  EXPECT_GT(pieces, 1u);  // streamed in pieces, not one buffer
  EXPECT_EQ(stats.bytes, plain.events.size());
  auto reader = LineReader::Open(path, kDefaultMaxLineBytes);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_STREQ((*reader)->compression(), "zstd");
  std::string back;
  std::string_view line;
  while ((*reader)->Next(&line) == LineReader::Status::kLine) {
    back.append(line);
    back.push_back('\n');
  }
  EXPECT_TRUE((*reader)->error().ok()) << (*reader)->error();
  EXPECT_EQ(back, plain.events);
  EXPECT_FALSE(ZstdFileWriter::Create(dir.File("no/such/dir/x.zst")).ok());
}

TEST(Simulator, EventsAreTimeOrderedAndLabelsMatchEvents) {
  const Parsed& p = Demo();
  ASSERT_GT(p.events.size(), 10000u);
  std::set<std::string> seen, ids;
  for (size_t idx = 1; idx < p.events.size(); ++idx) EXPECT_LE(p.events[idx - 1].ts, p.events[idx].ts);
  for (const auto& in : p.events) {
    seen.insert(in.account_id);
    EXPECT_TRUE(ids.insert(in.request_id).second) << "request ids are unique";
    EXPECT_TRUE(p.labels.contains(in.account_id)) << in.account_id;
  }
  EXPECT_EQ(seen.size(), p.labels.size()) << "every labelled account has events";
}

TEST(Simulator, NothingInIdsOrFieldsRevealsTheLabel) {
  const Parsed& p = Demo();
  const std::regex id_form("acct_[0-9a-f]{16}");
  std::map<std::string, std::set<size_t>> org_len;
  for (const auto& in : p.events) {
    EXPECT_TRUE(std::regex_match(in.account_id, id_form)) << in.account_id;
    const std::string& label = p.labels.at(in.account_id).label;
    org_len[label].insert(in.org_id.size());
    EXPECT_NE(in.account_created_at, kNoTime);
    EXPECT_FALSE(in.email_domain.empty());
  }
  EXPECT_EQ(org_len["attack"], org_len["legit"]);
}

TEST(Simulator, HasEveryArchetypeAndCampaign) {
  const Parsed& p = Demo();
  for (const auto* name : {"casual", "family_shared_card", "coding_agent_user", "enterprise_batch", "campus_class",
                           "research_lab_benchmark", "saas_chatbot", "api_router", "eval_team_judge", "hydra-templated",
                           "proxy-reseller", "low-and-slow", "rubric-harvest", "reasoning-trace", "model-pivot"}) {
    EXPECT_TRUE(p.by_group.contains(name)) << name;
  }
}

uint32_t FlagsOf(const Interaction& in) {
  TokenStream t;
  Tokenize(in.LastUserText(), &t);
  LexiconHits hits;
  MatchLexicon(in.LastUserText(), t, &hits);
  return hits.flags;
}

TEST(Simulator, CodingAgentUsersShareOneSystemPromptAndToolsButNotInfrastructure) {
  const auto& ev = Demo().by_group.at("coding_agent_user");
  std::set<std::string> systems, ips, accounts;
  std::set<uint64_t> tools;
  size_t multi = 0;
  for (const auto* in : ev) {
    systems.insert(in->system);
    tools.insert(in->tools_hash);
    ips.insert(in->ip);
    accounts.insert(in->account_id);
    multi += in->PriorAssistantTurns() > 0;
  }
  EXPECT_EQ(systems.size(), 1u);
  EXPECT_EQ(tools.size(), 1u);
  EXPECT_GT(ips.size(), accounts.size() / 2);
  EXPECT_GT(multi, ev.size() / 2) << "agent sessions are multi-turn";
}

TEST(Simulator, CampusClassSharesNatAndDomainAndWasCreatedInOneWeek) {
  const auto& ev = Demo().by_group.at("campus_class");
  std::map<std::string, std::map<std::string, size_t>> ips_by_domain;
  TimeMs lo = INT64_MAX, hi = INT64_MIN;
  for (const auto* in : ev) {
    ++ips_by_domain[in->email_domain][in->ip];
    lo = std::min(lo, in->account_created_at);
    hi = std::max(hi, in->account_created_at);
  }
  for (const auto& [domain, ips] : ips_by_domain) {
    size_t total = 0, top = 0;
    for (const auto& [ip, count] : ips) {
      total += count;
      top = std::max(top, count);
    }
    EXPECT_GT(top, total * 9 / 10) << domain << ": most traffic comes from the campus NAT (some from phones)";
  }
  EXPECT_LE(hi - lo, 7 * kMsPerDay + kMsPerHour) << "(demo has one class)";
}

TEST(Simulator, LowAndSlowUsesOneAddressAndOneCardPerAccount) {
  const auto& ev = Demo().by_group.at("low-and-slow");
  std::map<std::string, std::set<std::string>> ips, cards;
  std::set<std::string> all_cards;
  for (const auto* in : ev) {
    ips[in->account_id].insert(in->ip);
    cards[in->account_id].insert(in->payment_fingerprint);
    all_cards.insert(in->payment_fingerprint);
  }
  for (const auto& [acct, s] : ips) EXPECT_EQ(s.size(), 1u) << acct;
  EXPECT_EQ(all_cards.size(), cards.size()) << "no card shared";
}

TEST(Simulator, HydraRunsInWavesWithSharedPersonaAndCards) {
  const auto& ev = Demo().by_group.at("hydra-templated");
  std::set<std::string> systems, accounts, cards;
  std::set<int64_t> creation_hours;
  size_t cot = 0;
  for (const auto* in : ev) {
    systems.insert(in->system);
    accounts.insert(in->account_id);
    cards.insert(in->payment_fingerprint);
    creation_hours.insert(in->account_created_at / kMsPerHour);
    cot += (FlagsOf(*in) & kFlagCot) != 0;
    EXPECT_EQ(in->PriorAssistantTurns(), 0);
  }
  EXPECT_EQ(systems.size(), 1u);
  EXPECT_LT(cards.size(), accounts.size());
  EXPECT_LT(creation_hours.size(), accounts.size()) << "accounts are created in bursts";
  EXPECT_GT(cot, ev.size() * 9 / 10);
}

TEST(Simulator, RubricAndReasoningTraceCampaignsCarryTheirPrompts) {
  size_t rubric = 0, recon = 0;
  const auto& r = Demo().by_group.at("rubric-harvest");
  const auto& t = Demo().by_group.at("reasoning-trace");
  for (const auto* in : r) rubric += (FlagsOf(*in) & kFlagRubric) != 0;
  for (const auto* in : t) recon += (FlagsOf(*in) & kFlagRecon) != 0;
  EXPECT_GT(rubric, r.size() * 8 / 10);
  EXPECT_GT(recon, t.size() * 9 / 10);
}

// public-decoys: every campaign also runs 30 old accounts on its own cards,
// client and system prompt that only send ordinary traffic at a human pace.
TEST(Simulator, PublicDecoysShareTheHydraValuesButNeverHarvest) {
  SimOptions o;
  o.scenario = "demo";
  o.seed = 11;
  o.evasions = {"public-decoys"};
  const Parsed p = Parse(Simulate(o));
  const auto& hydra = p.by_group.at("hydra-templated");
  const auto& decoys = p.by_group.at("hydra-templated-decoy");
  std::set<std::string> hydra_cards, decoy_accounts;
  for (const auto* in : hydra) hydra_cards.insert(in->payment_fingerprint);
  size_t harvest = 0, on_hydra_card = 0;
  for (const auto* in : decoys) {
    decoy_accounts.insert(in->account_id);
    EXPECT_EQ(in->system, hydra.front()->system);
    EXPECT_EQ(in->user_agent, hydra.front()->user_agent);
    EXPECT_LT(in->account_created_at, in->ts - 50 * kMsPerDay) << "aged";
    harvest += (FlagsOf(*in) & (kFlagCot | kFlagRubric | kFlagRecon)) != 0;
    on_hydra_card += hydra_cards.count(in->payment_fingerprint);
  }
  EXPECT_EQ(decoy_accounts.size(), 30u);
  EXPECT_EQ(on_hydra_card, decoys.size());
  EXPECT_LT(harvest, decoys.size() / 10) << "ordinary traffic only";
  for (const auto& a : decoy_accounts) EXPECT_EQ(p.labels.at(a).campaign, "hydra-templated-decoys");
}

TEST(Simulator, ResellerMixesOrganicAndAgenticTraffic) {
  const auto& ev = Demo().by_group.at("proxy-reseller");
  size_t tools = 0, plain = 0;
  std::set<std::string> ips;
  for (const auto* in : ev) {
    (in->tools_hash != 0 ? tools : plain)++;
    ips.insert(in->ip);
  }
  EXPECT_GT(tools, ev.size() / 3);
  EXPECT_GT(plain, ev.size() / 5);
  EXPECT_GT(ips.size(), ev.size() / 2) << "rotating residential proxies";
}

TEST(Simulator, ModelPivotMovesAboutHalfItsTrafficWithinADayOfRelease) {
  const Parsed& p = Demo();
  TimeMs release = INT64_MAX;
  for (const auto& in : p.events) {
    if (in.model == "atlas-4-pro") release = std::min(release, in.ts);
  }
  ASSERT_NE(release, INT64_MAX);
  size_t after = 0, on_new = 0;
  for (const auto* in : p.by_group.at("model-pivot")) {
    if (in->ts < release + kMsPerDay) continue;
    ++after;
    on_new += in->model == "atlas-4-pro";
  }
  ASSERT_GT(after, 100u);
  EXPECT_NEAR(static_cast<double>(on_new) / after, 0.5, 0.12);
}

TEST(Simulator, CorpusTextIsUsedWhenGiven) {
  const std::string corpus = std::string(DG_SOURCE_DIR) + "/../shared/corpora";
  SimOptions o;
  o.scenario = "demo";
  o.scale = 0.2;
  o.corpus_dir = corpus;
  auto sim = Simulator::Create(o);
  if (!sim.ok() && ErrorOf(sim).find("not a corpus directory") != std::string::npos) GTEST_SKIP() << "no corpus beside the checkout";
  ASSERT_TRUE(sim.ok()) << sim.status();
  o.corpus_dir.clear();
  EXPECT_NE(Simulate(o).events.size(), 0u);
}

TEST(Simulator, RejectsUnknownScenarioAndEvasion) {
  std::string error;
  SimOptions o;
  o.scenario = "nope";
  error = ErrorOf(Simulator::Create(o));
  EXPECT_EQ(error, "unknown scenario 'nope' (known: demo, standard, alibaba-scale)");
  EXPECT_EQ(Simulator::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.scenario = "demo";
  o.evasions = {"teleport"};
  error = ErrorOf(Simulator::Create(o));
  EXPECT_EQ(error, "unknown evasion 'teleport' (see simulate --help)");
  o.evasions.clear();
  o.corpus_dir = "/nonexistent-corpus";
  EXPECT_EQ(ErrorOf(Simulator::Create(o)), "/nonexistent-corpus: not a corpus directory (expected human/ and distill/ inside)");
  EXPECT_EQ(Simulator::Create(o).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace dg::sim
