// Issue #18 finding 15: with samples off (scan / serve --no-samples) no
// prompt text reaches the engine's views -- content indicators are shown by
// fingerprint, samples restored from a store are ignored. The same run with
// samples on shows the planted text, so the check can fail.
#include <algorithm>

#include <gtest/gtest.h>

#include "common/rng.h"
#include "harvest_fixture.h"
#include "report/stix.h"
#include "report/views.h"
#include "report/writers.h"

namespace dg {
namespace {

using testing::kT0;

// The planted strings in the system prompt and every user turn: no
// --no-samples output may contain them.
Interaction Planted(const std::string& account, TimeMs ts, Rng& rng, const std::string& card, const std::string& ip) {
  Interaction in = testing::HarvestRequest(account, ts, rng, card, ip, "PLANTED-7f3a ");
  in.system = "PLANTED-7f3a-system You are Professor Sage, a world-class expert tutor.";
  in.messages.back().text.insert(13, "pw=Hunter2Secret! ");
  return in;
}

// Everything the scan writes of campaigns, as text.
std::string CampaignOutputs(bool keep_samples, bool restore) {
  EngineOptions options;
  options.keep_samples = keep_samples;
  Engine engine(Policy::Defaults(), options);
  Rng rng(1);
  TimeMs t = kT0;
  for (int round = 0; round < 30; ++round) {
    for (int acct = 0; acct < 10; ++acct) {
      t += 2000;
      engine.Observe(Planted("h" + std::to_string(acct), t, rng, acct % 2 ? "cardA" : "cardB", "198.51.100." + std::to_string(acct + 1)));
    }
  }
  engine.Finish();
  auto campaigns = Campaigns(engine);
  EXPECT_EQ(campaigns.size(), 1u);
  if (restore && !campaigns.empty()) {
    // What serve does on restart with samples from its store.
    engine.RestoreSample(campaigns[0].id, "PLANTED-7f3a restored sample");
    campaigns = Campaigns(engine);
  }
  std::string out;
  for (const auto& c : campaigns) {
    AppendCampaignJson(out, c, engine);
    out += "\n";
  }
  return out;
}

TEST(Privacy, NoSamplesMeansNoPromptTextInCampaigns) {
  const std::string with = CampaignOutputs(true, true);
  EXPECT_NE(with.find("PLANTED-7f3a"), std::string::npos) << "the planted text must reach the outputs with samples on";
  // (Its samples are full, so the restored one is not added there; without
  // samples the campaign has room, and the old code restored it.)
  EXPECT_EQ(with.find("Hunter2Secret"), std::string::npos) << "pw= values are redacted even with samples on";

  const std::string without = CampaignOutputs(false, true);
  EXPECT_EQ(without.find("PLANTED"), std::string::npos) << without;
  EXPECT_EQ(without.find("Professor"), std::string::npos) << without;
  EXPECT_EQ(without.find("Solve the following"), std::string::npos) << without;
  EXPECT_NE(without.find("\"samples\":[]"), std::string::npos) << without;
  // Content indicators are still listed, by fingerprint.
  EXPECT_NE(without.find("\"kind\":\"system_prompt\",\"value\":\"fingerprint "), std::string::npos) << without;
  EXPECT_NE(without.find("\"kind\":\"prompt_template\",\"value\":\"fingerprint "), std::string::npos) << without;
}

TEST(Privacy, FingerprintsAreStableForTheSameInput) {
  EXPECT_EQ(CampaignOutputs(false, false), CampaignOutputs(false, false));
  EXPECT_EQ(IndicatorFingerprint(0x1234), "fingerprint 0000000000001234");
}

// The STIX export never shares a content fingerprint, even when asked for
// prompts; a user agent that merely starts with the word is still shared.
TEST(Privacy, StixExportSkipsContentFingerprints) {
  const std::string campaigns =
      R"({"campaign_id":"camp_1","account_count":2,"interactions":9,"first_seen":"2026-04-01T10:00:00.000Z",)"
      R"("indicators":[{"kind":"system_prompt","value":"fingerprint 00000000deadbeef"},)"
      R"({"kind":"prompt_template","value":"fingerprint 00000000cafef00d"},)"
      R"({"kind":"client","value":"fingerprint-ua/1.0 max_tokens=1 temperature=0.10"},)"
      R"({"kind":"client","value":"fingerprint ua/2.0 max_tokens=1 temperature=0.10"}],"reasons":[],"samples":[]})"
      "\n";
  StixExportOptions o;
  o.created = "2026-11-29T00:00:00.000Z";
  o.include_prompts = true;
  const auto bundle = ExportStix(campaigns, o);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(bundle->find("deadbeef"), std::string::npos) << *bundle;
  EXPECT_EQ(bundle->find("cafef00d"), std::string::npos) << *bundle;
  EXPECT_EQ(bundle->find("x-distillguard-prompt"), std::string::npos) << *bundle;
  EXPECT_NE(bundle->find("fingerprint-ua/1.0"), std::string::npos) << *bundle;
  EXPECT_NE(bundle->find("fingerprint ua/2.0"), std::string::npos) << *bundle;
}

}  // namespace
}  // namespace dg
