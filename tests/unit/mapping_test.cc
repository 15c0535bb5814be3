#include "ingest/mapping.h"

#include <gtest/gtest.h>

#include "ingest/parser.h"

namespace dg {
namespace {

TEST(Mapping, LiteLlmStandardLoggingPayload) {
  RecordParser parser(*FieldMapping::Preset("litellm"));
  Interaction in;
  // Field names per docs.litellm.ai/docs/proxy/logging_spec.
  const std::string line = R"({"id":"chatcmpl-1","trace_id":"t1","call_type":"acompletion","startTime":1776852000.25,
    "endTime":1776852001.0,"model":"gpt-4o","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],
    "response":{"id":"x","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hello"}}],
                "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}},
    "prompt_tokens":3,"completion_tokens":1,"total_tokens":4,
    "metadata":{"user_api_key_hash":"hash1","user_api_key_user_id":"user-7","user_api_key_team_id":"team-2",
                "requester_ip_address":"198.51.100.4"},
    "model_parameters":{"max_tokens":256,"temperature":0.2}})";
  auto err = parser.Parse(line, false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.request_id, "chatcmpl-1");
  EXPECT_EQ(in.account_id, "user-7");
  EXPECT_EQ(in.org_id, "team-2");
  EXPECT_EQ(in.api_key_id, "hash1");
  EXPECT_EQ(in.ip, "198.51.100.4");
  EXPECT_EQ(in.ts, 1776852000250LL);
  EXPECT_EQ(in.system, "s");
  EXPECT_EQ(in.max_tokens, 256);
  EXPECT_EQ(in.response_text, "hello");
  EXPECT_EQ(in.output_tokens, 1);
}

TEST(Mapping, OpenAiBatchOutputLine) {
  RecordParser parser(*FieldMapping::Preset("openai-batch"));
  Interaction in;
  // Shape per platform.openai.com/docs/guides/batch ("output file").
  const std::string line = R"({"id":"batch_req_123","custom_id":"request-2","response":{"status_code":200,
    "request_id":"req_123","body":{"id":"chatcmpl-123","object":"chat.completion","created":1711652795,
    "model":"gpt-3.5-turbo-0125","choices":[{"index":0,"message":{"role":"assistant","content":"Hello."},
    "logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":22,"completion_tokens":2,"total_tokens":24},
    "system_fingerprint":"fp_123"}},"error":null})";
  auto err = parser.Parse(line, false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.request_id, "req_123");
  EXPECT_EQ(in.account_id, "batch-owner");
  EXPECT_EQ(in.ts, 1711652795000LL);
  EXPECT_EQ(in.model, "gpt-3.5-turbo-0125");
  EXPECT_EQ(in.response_text, "Hello.");
  EXPECT_EQ(in.input_tokens, 22);
  EXPECT_TRUE(in.messages.empty());
}

TEST(Mapping, TomlMappingOverridesPointers) {
  std::string error;
  auto m = FieldMapping::FromToml(R"(version = 1
name = "gw"
[fields]
account_id = ["/auth/customer"]
ts = "/time"
[defaults]
org_id = "default-org"
)", "gw.toml", &error);
  ASSERT_TRUE(m) << error;
  RecordParser parser(*m);
  Interaction in;
  auto err = parser.Parse(R"({"time":"2026-04-22T10:00:00Z","request_id":"r","auth":{"customer":"c9"},"messages":[{"role":"user","content":"x"}]})", false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.account_id, "c9");
  EXPECT_EQ(in.org_id, "default-org");
}

TEST(Mapping, TomlErrorsNameFileLineAndKey) {
  std::string error;
  EXPECT_FALSE(FieldMapping::FromToml("version = 1\n[fields]\naccount = \"/x\"\n", "m.toml", &error));
  EXPECT_EQ(error, "m.toml:3: key 'fields.account': unknown field (see SCHEMA.md for field names)");
  EXPECT_FALSE(FieldMapping::FromToml("version = 1\n[fields]\nip = \"no-slash\"\n", "m.toml", &error));
  EXPECT_EQ(error, "m.toml:3: key 'fields.ip': 'no-slash' is not a JSON pointer (must start with '/')");
  EXPECT_FALSE(FieldMapping::FromToml("version = 2\n", "m.toml", &error));
  EXPECT_EQ(error, "m.toml:1: key 'version': unsupported mapping version (expected 1)");
  EXPECT_FALSE(FieldMapping::FromToml("[fields\n", "m.toml", &error));
  EXPECT_EQ(error.rfind("m.toml:1: ", 0), 0u) << error;
}

TEST(Mapping, ShippedMappingFilesLoad) {
  for (const auto* name : {"litellm.toml", "openai-batch.toml"}) {
    std::string error;
    auto m = FieldMapping::Load(std::string(DG_SOURCE_DIR) + "/config/mappings/" + name, &error);
    ASSERT_TRUE(m) << error;
    auto preset = FieldMapping::Preset(m->name);
    ASSERT_TRUE(preset) << name;
    EXPECT_EQ(m->pointers, preset->pointers) << name << " must match the compiled-in preset";
  }
}

// fuzz_config finding (see Policy.HugeFloatWhereAnIntegerBelongsIsAnErrorNotACast).
TEST(Mapping, HugeFloatVersionIsAnErrorNotACast) {
  std::string error;
  EXPECT_FALSE(FieldMapping::FromToml("version = 8.8e66\n", "m.toml", &error));
  EXPECT_NE(error.find("unsupported mapping version"), std::string::npos) << error;
}

}  // namespace
}  // namespace dg
