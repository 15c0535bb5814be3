// Every shipped mapping preset scans its fixture (tests/data/logs/NAME.jsonl,
// field names from the format's documentation: see the README there) with
// zero rejected lines, and yields content where the shape carries any.
#include <gtest/gtest.h>

#include <filesystem>

#include "ingest/mapping.h"
#include "ingest/pipeline.h"

namespace dg {
namespace {

struct Scanned {
  IngestStats stats;
  std::vector<Interaction> got;
  std::vector<std::string> errors;
};

Scanned ScanFixture(const std::string& preset) {
  Scanned s;
  IngestOptions io;
  auto m = FieldMapping::Preset(preset);
  EXPECT_TRUE(m) << preset;
  if (!m) return s;
  io.mapping = *m;
  IngestPipeline p(io, [&](Interaction& in) { s.got.push_back(in); }, [&](const std::string& e) { s.errors.push_back(e); });
  p.AddFile(std::string(DG_TEST_DATA) + "/logs/" + preset + ".jsonl");
  p.Flush();
  s.stats = p.stats();
  return s;
}

bool HasContent(const Interaction& in) {
  if (!in.response_text.empty()) return true;
  for (const auto& msg : in.messages) {
    if (!msg.text.empty()) return true;
  }
  return false;
}

// Shapes that carry no prompt or response text at all.
bool ContentFree(const std::string& preset) { return preset == "envoy-ai-gateway"; }

TEST(Presets, EveryPresetHasAFixtureThatScansClean) {
  size_t checked = 0;
  for (const auto& name : FieldMapping::PresetNames()) {
    if (name == "canonical") continue;
    SCOPED_TRACE(name);
    ASSERT_TRUE(std::filesystem::exists(std::string(DG_TEST_DATA) + "/logs/" + name + ".jsonl")) << "no fixture for " << name;
    const Scanned s = ScanFixture(name);
    EXPECT_EQ(s.stats.RejectedTotal(), 0u) << (s.errors.empty() ? "" : s.errors[0]);
    ASSERT_GE(s.got.size(), 2u);
    for (const auto& in : s.got) {
      EXPECT_FALSE(in.account_id.empty()) << in.request_id;
      EXPECT_FALSE(in.request_id.empty());
      EXPECT_GE(in.ts, kMinValidTime) << in.request_id;
      if (!ContentFree(name)) {
        EXPECT_TRUE(HasContent(in)) << in.request_id << " has no text";
      }
    }
    ++checked;
  }
  EXPECT_GE(checked, 10u);
}

TEST(Presets, FieldsLandWhereTheyBelong) {
  {
    auto s = ScanFixture("anthropic-messages");
    ASSERT_EQ(s.got.size(), 3u);
    EXPECT_EQ(s.got[0].system, "You are a careful tutor.");
    EXPECT_EQ(s.got[0].ip, "203.0.113.7");
    EXPECT_EQ(s.got[1].ip, "198.51.100.23");
    EXPECT_EQ(s.got[1].account_id, "u-43");  // "" skipped
    EXPECT_EQ(s.got[2].ip, "2001:db8::7");
    EXPECT_EQ(s.got[2].ts, s.got[0].ts + 2880);
  }
  {
    auto s = ScanFixture("litellm");
    EXPECT_EQ(s.stats.filtered, 1u);  // the embedding call
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.got[0].account_id, "user-7");
    EXPECT_EQ(s.got[0].org_id, "");  // a team is not an organisation
    EXPECT_EQ(s.got[1].account_id, "app-user-9");
    EXPECT_EQ(s.got[1].ip, "203.0.113.50");
    EXPECT_EQ(s.got[1].max_tokens, 50);
  }
  {
    auto s = ScanFixture("litellm-spendlogs");
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.got[0].ts, 1777636800250LL);
    EXPECT_EQ(s.got[0].org_id, "org-1");
    EXPECT_EQ(s.got[0].user_agent, "OpenAI/Python 1.54.0");
    EXPECT_EQ(s.got[1].response_text, "Bonjour");
    EXPECT_EQ(s.got[1].account_id, "app-user-9");
  }
  {
    auto s = ScanFixture("helicone");
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.got[0].ts, 1777636800123LL);
    EXPECT_EQ(s.got[0].response_text, "Cat and dog.");
    EXPECT_EQ(s.got[1].system, "Be terse.");
    EXPECT_EQ(s.got[1].response_text, "Rome.");  // an Anthropic-shaped response_body
    EXPECT_EQ(s.got[1].stop_reason, "end_turn");
    EXPECT_EQ(s.got[1].org_id, "");  // Helicone's organization_id is the workspace
  }
  {
    auto s = ScanFixture("langfuse");
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.stats.filtered, 1u);
    EXPECT_EQ(s.got[0].max_tokens, 256);
    EXPECT_DOUBLE_EQ(s.got[0].temperature, 0.7);
    EXPECT_EQ(s.got[0].response_text, "Entropy measures disorder.");
    EXPECT_EQ(s.got[1].response_text, "No: 91 = 7 x 13.");
    EXPECT_EQ(s.got[1].account_id, "lf-user-2");
  }
  {
    auto s = ScanFixture("kong-ai");
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.got[0].ts, 1777636800123LL);
    EXPECT_EQ(s.got[0].messages.at(0).text, "Give me a synonym for happy.");
    EXPECT_EQ(s.got[0].response_text, "Joyful.");
    EXPECT_EQ(s.got[0].model, "gpt-4o");
    EXPECT_EQ(s.got[1].account_id, "bob");
    EXPECT_EQ(s.got[1].response_text, "n-e-c-e-s-s-a-r-y");
  }
  {
    auto s = ScanFixture("envoy-ai-gateway");
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.got[0].ip, "203.0.113.90");
    EXPECT_EQ(s.got[0].input_tokens, 42);
    EXPECT_EQ(s.got[1].ip, "198.51.100.61");
    EXPECT_EQ(s.got[1].input_tokens, -1);
  }
  {
    auto s = ScanFixture("openai-responses");
    ASSERT_EQ(s.got.size(), 2u);
    EXPECT_EQ(s.got[0].messages.at(0).text, "Write a haiku about autumn.");
    EXPECT_EQ(s.got[0].system, "You are a poet.");
    EXPECT_EQ(s.got[1].response_text, "It is 4C and raining in Oslo.");
    EXPECT_EQ(s.got[1].reasoning_tokens, 20);
  }
}

}  // namespace
}  // namespace dg
