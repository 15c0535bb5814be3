// STIX 2.1 export / import: required properties of every object, the round
// trip of the indicators, and that prompt text leaves only when asked.
#include "report/stix.h"

#include <set>

#include <gtest/gtest.h>
#include <simdjson.h>

namespace dg {
namespace {

const char* kCampaigns =
    R"({"campaign_id":"camp_1","score":0.9,"accounts":["a","b"],"account_count":2,"interactions":500,)"
    R"("first_seen":"2026-04-01T10:00:00.000Z","last_seen":"2026-04-03T10:00:00.000Z","capabilities":{"maths":400},)"
    R"("models":{"atlas-3-pro":500},"indicators":[{"kind":"payment","value":"pm_abc"},)"
    R"({"kind":"ip_prefix","value":"198.51.100.0/24"},{"kind":"ip_prefix","value":"2001:db8:1::/48"},)"
    R"({"kind":"client","value":"python-httpx/0.27.2 max_tokens=8192 temperature=0.70"},)"
    R"({"kind":"prompt_template","value":"SECRET TEMPLATE Think step by step"},{"kind":"creation_burst","value":"x"}],)"
    R"("reasons":["shared_payment"],"samples":["SECRET SAMPLE"]})"
    "\n"
    R"({"campaign_id":"camp_2","score":0.8,"accounts":["c"],"account_count":1,"interactions":10,"first_seen":"2026-04-02T00:00:00.000Z",)"
    R"("last_seen":"2026-04-02T01:00:00.000Z","indicators":[{"kind":"payment_fingerprint","value":"pm_it's"}],"reasons":[],"samples":[]})"
    "\n";

std::vector<std::string> Objects(const std::string& bundle) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(bundle);
  std::vector<std::string> out;
  for (simdjson::dom::element o : doc["objects"].get_array()) out.push_back(simdjson::minify(o));
  return out;
}

StixExportOptions Fixed() {
  StixExportOptions o;
  o.created = "2026-11-29T00:00:00.000Z";
  return o;
}

TEST(Stix, EveryExportedObjectHasTheRequiredProperties) {
  std::string error;
  const auto bundle = ExportStix(kCampaigns, Fixed(), &error);
  ASSERT_TRUE(bundle) << error;
  EXPECT_TRUE(ValidateStixObject(*bundle).empty());
  std::multiset<std::string> types;
  for (const auto& o : Objects(*bundle)) {
    const auto problems = ValidateStixObject(o);
    EXPECT_TRUE(problems.empty()) << o << "\n" << (problems.empty() ? "" : problems[0]);
    simdjson::dom::parser p;
    types.insert(std::string(std::string_view(p.parse(o)["type"])));
  }
  EXPECT_EQ(types.count("identity"), 1u);
  EXPECT_EQ(types.count("campaign"), 2u);
  EXPECT_EQ(types.count("indicator"), 5u);  // payment, two prefixes, client; camp_2's payment
  EXPECT_EQ(types.count("relationship"), 5u);
  EXPECT_EQ(bundle->find("SECRET"), std::string::npos) << "no prompt text unless asked for";
  EXPECT_EQ(*ExportStix(kCampaigns, Fixed(), &error), *bundle) << "same campaigns, same bundle";
}

TEST(Stix, PromptsLeaveOnlyWhenAskedFor) {
  std::string error;
  StixExportOptions o = Fixed();
  o.include_prompts = true;
  const auto bundle = ExportStix(kCampaigns, o, &error);
  ASSERT_TRUE(bundle) << error;
  EXPECT_NE(bundle->find("SECRET TEMPLATE"), std::string::npos);
  EXPECT_NE(bundle->find("SECRET SAMPLE"), std::string::npos);
  for (const auto& obj : Objects(*bundle)) EXPECT_TRUE(ValidateStixObject(obj).empty()) << obj;
}

TEST(Stix, RoundTripGivesBackTheSameIndicators) {
  std::string error;
  const auto bundle = ExportStix(kCampaigns, Fixed(), &error);
  ASSERT_TRUE(bundle) << error;
  const auto imported = ImportStix(*bundle, &error);
  ASSERT_TRUE(imported) << error;
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& i : imported->indicators) got.insert({i.kind, i.value});
  const std::set<std::pair<std::string, std::string>> want = {
      {"payment", "pm_abc"}, {"ip_prefix", "198.51.100.0/24"}, {"ip_prefix", "2001:db8:1::/48"},
      {"client", "python-httpx/0.27.2"}, {"payment", "pm_it's"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(imported->skipped_patterns, 0u);
}

TEST(Stix, CreatedComesFromTheInjectedClock) {
  std::string error;
  StixExportOptions o;
  o.clock = [] { return TimeMs{1777636800000}; };  // 2026-05-01T12:00:00Z
  const auto bundle = ExportStix(kCampaigns, o, &error);
  ASSERT_TRUE(bundle) << error;
  EXPECT_NE(bundle->find("\"created\":\"2026-05-01T12:00:00.000Z\""), std::string::npos);
}

TEST(Stix, OneCampaignOnly) {
  std::string error;
  StixExportOptions o = Fixed();
  o.campaign_id = "camp_2";
  const auto bundle = ExportStix(kCampaigns, o, &error);
  ASSERT_TRUE(bundle) << error;
  EXPECT_EQ(bundle->find("198.51.100.0/24"), std::string::npos);
  o.campaign_id = "camp_9";
  EXPECT_FALSE(ExportStix(kCampaigns, o, &error));
  EXPECT_EQ(error, "no campaign camp_9");
}

TEST(Stix, ValidationNamesWhatIsMissing) {
  auto p = ValidateStixObject(R"({"type":"indicator","spec_version":"2.1","id":"indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b",)"
                              R"("created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern_type":"stix"})");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "indicator: required property 'pattern' missing or not a string");
  EXPECT_EQ(p[1], "indicator: required property 'valid_from' missing or not a string");
  p = ValidateStixObject(R"({"type":"campaign","spec_version":"2.0","id":"campaign--x","created":"yesterday","modified":"2026-01-01T00:00:00Z","name":"n"})");
  EXPECT_EQ(p.size(), 3u);  // bad id, spec_version, created
}

TEST(Stix, ImportRefusesWhatIsNotABundle) {
  std::string error;
  EXPECT_FALSE(ImportStix("{\"type\":\"campaign\"}", &error));
  EXPECT_NE(error.find("bundle"), std::string::npos);
  EXPECT_FALSE(ImportStix("not json", &error));
  EXPECT_FALSE(ImportStix(R"({"type":"bundle","id":"bundle--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","objects":[{"type":"indicator","id":"indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","spec_version":"2.1","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]})",
                          &error));
  EXPECT_NE(error.find("pattern"), std::string::npos) << error;
  // Patterns this engine cannot act on are skipped and counted, not errors.
  const auto other = ImportStix(R"({"type":"bundle","id":"bundle--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","objects":[{"type":"indicator","id":"indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","spec_version":"2.1","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[file:hashes.'SHA-256' = 'aa']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]})",
                                &error);
  ASSERT_TRUE(other) << error;
  EXPECT_EQ(other->indicators.size(), 0u);
  EXPECT_EQ(other->skipped_patterns, 1u);
}

}  // namespace
}  // namespace dg
