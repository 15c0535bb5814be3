// STIX 2.1 export / import: required properties of every object, the round
// trip of the indicators, and that prompt text leaves only when asked; the
// import's bounded scanners (issue #18 finding 1: 50k-character fields) and
// semantics (finding 7: AND / FOLLOWEDBY / qualifiers skipped whole, revoked
// and expired indicators not imported).
#include "report/stix.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "status_util.h"
#include <simdjson.h>

#include "common/json_out.h"

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
  const auto bundle = ExportStix(kCampaigns, Fixed());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
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
  EXPECT_EQ(*ExportStix(kCampaigns, Fixed()), *bundle) << "same campaigns, same bundle";
}

TEST(Stix, PromptsLeaveOnlyWhenAskedFor) {
  StixExportOptions o = Fixed();
  o.include_prompts = true;
  const auto bundle = ExportStix(kCampaigns, o);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_NE(bundle->find("SECRET TEMPLATE"), std::string::npos);
  EXPECT_NE(bundle->find("SECRET SAMPLE"), std::string::npos);
  for (const auto& obj : Objects(*bundle)) EXPECT_TRUE(ValidateStixObject(obj).empty()) << obj;
}

TEST(Stix, RoundTripGivesBackTheSameIndicators) {
  const auto bundle = ExportStix(kCampaigns, Fixed());
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  const auto imported = ImportStix(*bundle);
  ASSERT_TRUE(imported.ok()) << imported.status();
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& i : imported->indicators) got.insert({i.kind, i.value});
  const std::set<std::pair<std::string, std::string>> want = {
      {"payment", "pm_abc"}, {"ip_prefix", "198.51.100.0/24"}, {"ip_prefix", "2001:db8:1::/48"},
      {"client", "python-httpx/0.27.2"}, {"payment", "pm_it's"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(imported->skipped_patterns, 0u);
}

TEST(Stix, CreatedComesFromTheInjectedClock) {
  StixExportOptions o;
  o.clock = [] { return TimeMs{1777636800000}; };  // 2026-05-01T12:00:00Z
  const auto bundle = ExportStix(kCampaigns, o);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_NE(bundle->find("\"created\":\"2026-05-01T12:00:00.000Z\""), std::string::npos);
}

TEST(Stix, OneCampaignOnly) {
  std::string error;
  StixExportOptions o = Fixed();
  o.campaign_id = "camp_2";
  const auto bundle = ExportStix(kCampaigns, o);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->find("198.51.100.0/24"), std::string::npos);
  o.campaign_id = "camp_9";
  error = ErrorOf(ExportStix(kCampaigns, o));
  EXPECT_EQ(error, "no campaign camp_9");
  EXPECT_EQ(ExportStix(kCampaigns, o).status().code(), absl::StatusCode::kNotFound);
  // Campaigns that do not read back are corrupt stored data.
  EXPECT_EQ(ErrorOf(ExportStix("{\"campaigns\": 7}", o)), "campaigns: not a {\"campaigns\": [...]} document");
  EXPECT_EQ(ExportStix("{\"campaigns\": 7}", o).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(ErrorOf(ExportStix("[1]\n", o)), "campaigns:1: not a JSON object");
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
  error = ErrorOf(ImportStix("{\"type\":\"campaign\"}"));
  EXPECT_NE(error.find("bundle"), std::string::npos);
  EXPECT_EQ(ErrorOf(ImportStix("not json")), "bundle: not valid JSON");
  EXPECT_EQ(ImportStix("not json").status().code(), absl::StatusCode::kInvalidArgument);
  error = ErrorOf(ImportStix(R"({"type":"bundle","id":"bundle--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","objects":[{"type":"indicator","id":"indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","spec_version":"2.1","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]})"));
  EXPECT_NE(error.find("pattern"), std::string::npos) << error;
  // Patterns this engine cannot act on are skipped and counted, not errors.
  const auto other = ImportStix(R"({"type":"bundle","id":"bundle--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","objects":[{"type":"indicator","id":"indicator--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b","spec_version":"2.1","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[file:hashes.'SHA-256' = 'aa']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]})");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->indicators.size(), 0u);
  EXPECT_EQ(other->skipped_patterns, 1u);
}

constexpr const char* kUuid = "0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b";

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

// One indicator object; `extra` is appended inside it (",\"revoked\":true").
std::string IndicatorObject(const std::string& pattern, const std::string& extra = "",
                            const std::string& id = std::string("indicator--") + kUuid,
                            const std::string& created = "2026-01-01T00:00:00Z") {
  return "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":" + Json(id) + ",\"created\":" + Json(created) +
         ",\"modified\":\"2026-01-01T00:00:00Z\",\"pattern\":" + Json(pattern) +
         ",\"pattern_type\":\"stix\",\"valid_from\":\"2026-01-01T00:00:00Z\"" + extra + "}";
}

std::string BundleOf(const std::vector<std::string>& objects) {
  std::string out = std::string("{\"type\":\"bundle\",\"id\":\"bundle--") + kUuid + "\",\"objects\":[";
  for (size_t i = 0; i < objects.size(); ++i) out += (i ? "," : "") + objects[i];
  return out + "]}";
}

StixImportOptions At(TimeMs now) {
  StixImportOptions o;
  o.clock = [now] { return now; };
  return o;
}
constexpr TimeMs kNov2026 = 1793491200000;  // 2026-11-01T00:00:00Z

// Finding 1: std::regex's recursive matcher overflowed the stack (SIGSEGV)
// on a 50k-character pattern literal, id or created. Now: the long pattern
// is skipped with its reason, a long id or created refuses the bundle with
// a short message naming the property, and the scanner itself is linear.
TEST(Stix, FiftyThousandCharacterFieldsAreSkippedOrRefusedNotACrash) {
  const std::string big(50000, 'a');
  std::string error;
  const std::string literal = BundleOf({IndicatorObject("[ipv4-addr:value = '" + big + "']")});
  auto r = ImportStix(literal, At(kNov2026));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->indicators.empty());
  EXPECT_EQ(r->skipped["pattern over 4096 bytes"], 1u);

  // With the cap lifted the scanner still reads it, in one pass.
  StixImportOptions wide = At(kNov2026);
  wide.max_pattern_bytes = 1u << 20;
  r = ImportStix(literal, wide);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->indicators.size(), 1u);
  EXPECT_EQ(r->indicators[0].value.size(), big.size());
  std::string escaped;  // 25k escaped quotes: the alternation the regex recursed on
  for (int i = 0; i < 25000; ++i) escaped += "\\'";
  r = ImportStix(BundleOf({IndicatorObject("[x-distillguard-payment:fingerprint = '" + escaped + "']")}), wide);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->indicators.size(), 1u);
  EXPECT_EQ(r->indicators[0].value, std::string(25000, '\''));
  r = ImportStix(BundleOf({IndicatorObject(std::string(50000, '(') + "[ipv4-addr:value = '1.2.3.4']" + std::string(50000, ')'))}),
                 wide);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->skipped["malformed pattern: parentheses nested too deep"], 1u);

  const std::string long_id = BundleOf({IndicatorObject("[ipv4-addr:value = '1.2.3.4']", "", "indicator--" + big)});
  error = ErrorOf(ImportStix(long_id, At(kNov2026)));
  EXPECT_NE(error.find("id 'indicator--aaa"), std::string::npos) << error;
  EXPECT_NE(error.find("(50011 bytes)"), std::string::npos) << error;
  EXPECT_LT(error.size(), 300u) << "the message quotes a bounded prefix";

  const std::string long_created =
      BundleOf({IndicatorObject("[ipv4-addr:value = '1.2.3.4']", "", std::string("indicator--") + kUuid, "2026-01-01T00:00:00." + std::string(50000, '1') + "Z")});
  error = ErrorOf(ImportStix(long_created, At(kNov2026)));
  EXPECT_NE(error.find("created"), std::string::npos) << error;
  EXPECT_LT(error.size(), 300u);

  EXPECT_FALSE(ValidateStixObject("{\"type\":\"campaign\",\"id\":\"campaign--" + big + "\"}").empty());
  const auto p = ValidateStixObject("{\"type\":" + Json(big) + ",\"id\":" + Json(big + "--" + kUuid) + "}");
  ASSERT_FALSE(p.empty());
  for (const auto& problem : p) EXPECT_LT(problem.size(), 400u) << problem.substr(0, 400);
}

// Finding 7: [A AND B] was split into A and B, each blocking alone. A
// pattern is usable only when it is `=` comparisons joined by OR.
TEST(Stix, OnlyEqualitiesJoinedByOrAreUsable) {
  const std::vector<std::pair<std::string, std::string>> skipped = {
      {"[ipv4-addr:value = '1.2.3.4' AND x-distillguard-payment:fingerprint = 'pm_1']", "unsupported: AND"},
      {"[ipv4-addr:value = '1.2.3.4'] AND [x-distillguard-payment:fingerprint = 'pm_1']", "unsupported: AND"},
      {"[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [ipv4-addr:value = '1.2.3.5']", "unsupported: FOLLOWEDBY"},
      {"[ipv4-addr:value = '1.2.3.4'] WITHIN 300 SECONDS", "unsupported: qualifier WITHIN"},
      {"[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES", "unsupported: qualifier REPEATS"},
      {"[ipv4-addr:value = '1.2.3.4'] START t'2026-01-01T00:00:00Z' STOP t'2026-02-01T00:00:00Z'", "unsupported: qualifier START"},
      {"[ipv4-addr:value != '1.2.3.4']", "unsupported: operator !="},
      {"[ipv4-addr:value < '1.2.3.4']", "unsupported: operator < > <= >="},
      {"[ipv4-addr:value MATCHES '^1\\\\.2']", "unsupported: operator MATCHES"},
      {"[ipv4-addr:value LIKE '1.2.%']", "unsupported: operator LIKE"},
      {"[ipv4-addr:value IN ('1.2.3.4', '1.2.3.5')]", "unsupported: operator IN"},
      {"[ipv4-addr:value ISSUBSET '1.2.0.0/16']", "unsupported: operator ISSUBSET"},
      {"[ipv4-addr:value NOT = '1.2.3.4']", "unsupported: operator NOT"},
      {"[EXISTS ipv4-addr:value]", "unsupported: operator EXISTS"},
      {"[ipv4-addr:value = 1234]", "unsupported: a comparison with a literal that is not a string"},
      {"[network-traffic:extensions.'http-request-ext'.request_header[0] = 'x']", "unsupported: list index in an object path"},
      {"[ipv4-addr:value = '1.2.3.4' OR x-distillguard-payment:fingerprint = 'pm_1' AND ipv4-addr:value = '5.6.7.8']",
       "unsupported: AND"},
      {"[ipv4-addr:value = '1.2.3.4'", "malformed pattern: incomplete"},
      {"[ipv4-addr:value = '1.2.3.4]", "malformed pattern: unterminated string literal"},
      {"ipv4-addr:value = '1.2.3.4'", "malformed pattern: a comparison outside [ ]"},
      {"[[ipv4-addr:value = '1.2.3.4']]", "malformed pattern: '[' inside an observation"},
      {"[ipv4-addr:value = '1.2.3.4'])", "malformed pattern: unbalanced ')'"},
      {"[ipv4-addr:value = '1.2.3.4' or ipv4-addr:value = '5.6.7.8']", "malformed pattern: unexpected word"},
      {"[]", "malformed pattern: expected a comparison"},
      {"[ipv4-addr:value = 'a\\b']", "malformed pattern: bad escape in a string literal"},
  };
  std::vector<std::string> objects;
  for (const auto& [pattern, reason] : skipped) {
    std::vector<StixComparison> cmp;
    EXPECT_EQ(ParseStixPattern(pattern, &cmp), reason) << pattern;
    objects.push_back(IndicatorObject(pattern));
  }
  auto r = ImportStix(BundleOf(objects), At(kNov2026));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->indicators.empty()) << r->indicators[0].value;
  EXPECT_EQ(r->skipped_patterns, skipped.size());
  EXPECT_EQ(r->skipped["unsupported: AND"], 3u);

  const std::vector<std::pair<std::string, size_t>> usable = {
      {"[ipv4-addr:value = '1.2.3.4']", 1},
      {"[ipv4-addr:value = '1.2.3.4' OR x-distillguard-payment:fingerprint = 'pm_1']", 2},
      {"[ipv4-addr:value = '1.2.3.4'] OR [ipv6-addr:value = '2001:db8::/48']", 2},
      {"([ipv4-addr:value = '1.2.3.4'] OR ([x-distillguard-payment:fingerprint = 'pm_1']))", 2},
      {"[(ipv4-addr:value = '1.2.3.4' OR ipv4-addr:value = '5.6.7.8')]", 2},
      {"  [ ipv4-addr:value='1.2.3.4' ]  ", 1},
      {"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'it\\'s \\\\ bot']", 1},
  };
  for (const auto& [pattern, n] : usable) {
    std::vector<StixComparison> cmp;
    EXPECT_EQ(ParseStixPattern(pattern, &cmp), "") << pattern;
    EXPECT_EQ(cmp.size(), n) << pattern;
  }
  std::vector<StixComparison> cmp;
  ParseStixPattern(usable.back().first, &cmp);
  ASSERT_EQ(cmp.size(), 1u);
  EXPECT_EQ(cmp[0].value, "it's \\ bot");
  EXPECT_EQ(cmp[0].object, "network-traffic");
  // An OR with a comparison of another kind: the usable half is imported.
  r = ImportStix(BundleOf({IndicatorObject("[file:hashes.MD5 = 'aa' OR ipv4-addr:value = '1.2.3.4']")}), At(kNov2026));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->indicators.size(), 1u);
  EXPECT_EQ(r->indicators[0].value, "1.2.3.4");
}

TEST(Stix, RevokedAndExpiredIndicatorsAreNotImported) {
  const std::string p = "[ipv4-addr:value = '1.2.3.4']";
  const std::string bundle = BundleOf({IndicatorObject(p, ",\"revoked\":true"), IndicatorObject(p, ",\"revoked\":false"),
                                       IndicatorObject(p, ",\"valid_until\":\"2026-10-31T23:59:59Z\""),
                                       IndicatorObject(p, ",\"valid_until\":\"2026-11-01T00:00:01Z\"")});
  std::string error;
  auto r = ImportStix(bundle, At(kNov2026));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->indicators.size(), 2u) << "not revoked; valid until a second from now";
  EXPECT_EQ(r->skipped["revoked"], 1u);
  EXPECT_EQ(r->skipped["expired (valid_until in the past)"], 1u);
  // The same bundle a second later: the last one has expired too (the clock is injected, not read).
  r = ImportStix(bundle, At(kNov2026 + 1000));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->indicators.size(), 1u);
  EXPECT_EQ(r->skipped["expired (valid_until in the past)"], 2u);
  error = ErrorOf(ImportStix(BundleOf({IndicatorObject(p, ",\"valid_until\":\"soon\"")}), At(kNov2026)));
  EXPECT_NE(error.find("valid_until"), std::string::npos) << error;
}

TEST(Stix, IdsAndTimestampsAreCheckedByTheirShape) {
  auto id_ok = [](const std::string& id) {
    return ValidateStixObject("{\"type\":\"identity\",\"id\":" + Json(id) +
                              ",\"spec_version\":\"2.1\",\"created\":\"2026-01-01T00:00:00Z\",\"modified\":\"2026-01-01T00:00:00Z\","
                              "\"name\":\"n\"}")
        .empty();
  };
  EXPECT_TRUE(id_ok("identity--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b"));
  EXPECT_TRUE(id_ok("identity--0b6d6b9e-6c1a-8b1e-ad0e-3b8c0e1f2a3b"));
  EXPECT_FALSE(id_ok("identity--0B6D6B9E-6c1a-4b1e-9d0e-3b8c0e1f2a3b")) << "uppercase";
  EXPECT_FALSE(id_ok("identity--0b6d6b9e-6c1a-9b1e-9d0e-3b8c0e1f2a3b")) << "version 9";
  EXPECT_FALSE(id_ok("identity--0b6d6b9e-6c1a-4b1e-cd0e-3b8c0e1f2a3b")) << "variant c";
  EXPECT_FALSE(id_ok("identity--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3")) << "short";
  EXPECT_FALSE(id_ok("identity--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3bb")) << "long";
  EXPECT_FALSE(id_ok("campaign--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b")) << "another type";
  EXPECT_FALSE(id_ok("identity-0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b"));
  auto ts_ok = [](const std::string& ts) {
    return ValidateStixObject("{\"type\":\"identity\",\"id\":\"identity--0b6d6b9e-6c1a-4b1e-9d0e-3b8c0e1f2a3b\",\"spec_version\":\"2.1\","
                              "\"created\":" + Json(ts) + ",\"modified\":\"2026-01-01T00:00:00Z\",\"name\":\"n\"}")
        .empty();
  };
  EXPECT_TRUE(ts_ok("2026-01-01T00:00:00Z"));
  EXPECT_TRUE(ts_ok("2026-01-01T00:00:00.123456Z"));
  EXPECT_FALSE(ts_ok("2026-01-01T00:00:00.Z"));
  EXPECT_FALSE(ts_ok("2026-01-01T00:00:00"));
  EXPECT_FALSE(ts_ok("2026-01-01 00:00:00Z"));
  EXPECT_FALSE(ts_ok("2026-01-01T00:00:00+00:00"));
  EXPECT_FALSE(ts_ok("2026-1-01T00:00:00Z"));
}

}  // namespace
}  // namespace dg
