#include "ingest/parser.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dg {
namespace {

class ParserTest : public ::testing::Test {
 protected:
  std::optional<ParseError> Parse(const std::string& line) { return parser_.Parse(line, false, &in_); }
  std::string Error(const std::string& line) {
    auto err = Parse(line);
    return err ? err->Message() : "accepted";
  }
  RecordParser parser_{FieldMapping::Canonical()};
  Interaction in_;
};

TEST_F(ParserTest, CanonicalRecord) {
  ASSERT_FALSE(Parse(R"({"ts":"2026-04-22T10:00:00.123Z","request_id":"r1","account_id":"a1","org_id":"o1",
    "api_key_id":"k1","ip":"203.0.113.9","user_agent":"sdk/1","payment_fingerprint":"pm1",
    "account_created_at":1776000000,"email_domain":"x.com","model":"m1","system":"be brief",
    "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"text","text":"hello"},{"type":"tool_use","id":"t","name":"f","input":{}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":"42"},{"type":"image","source":{}}]}],
    "tools":[{"name":"f","description":"d","input_schema":{}}],"max_tokens":1024,"temperature":0.5,
    "conversation_id":"c1","response":{"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn",
    "input_tokens":10,"output_tokens":5,"reasoning_tokens":2},"unknown_field":{"ignored":true}})"));
  EXPECT_EQ(in_.ts, 1776852000123LL);
  EXPECT_EQ(in_.request_id, "r1");
  EXPECT_EQ(in_.account_id, "a1");
  EXPECT_EQ(in_.ip, "203.0.113.9");
  EXPECT_EQ(in_.account_created_at, 1776000000000LL);
  EXPECT_EQ(in_.system, "be brief");
  ASSERT_EQ(in_.messages.size(), 3u);
  EXPECT_EQ(in_.messages[1].role, Role::kAssistant);
  EXPECT_EQ(in_.messages[1].text, "hello");
  EXPECT_EQ(in_.messages[1].tool_use_blocks, 1);
  EXPECT_EQ(in_.messages[2].tool_result_blocks, 1);
  EXPECT_EQ(in_.messages[2].other_blocks, 1);
  EXPECT_EQ(in_.PriorAssistantTurns(), 1);
  ASSERT_EQ(in_.tool_names.size(), 1u);
  EXPECT_NE(in_.tools_hash, 0u);
  EXPECT_EQ(in_.max_tokens, 1024);
  EXPECT_DOUBLE_EQ(in_.temperature, 0.5);
  EXPECT_EQ(in_.response_text, "ok");
  EXPECT_EQ(in_.output_tokens, 5);
  EXPECT_EQ(in_.reasoning_tokens, 2);
}

// The parser reuses the buffers of the Interaction it is handed (the
// pipeline recycles them): a record parsed into one that held a fuller
// record must read exactly as into a fresh one -- nothing left over.
TEST_F(ParserTest, ReusedInteractionKeepsNothingFromTheLastRecord) {
  const std::string full = R"({"ts":"2026-04-22T10:00:00.123Z","request_id":"r1","account_id":"a1","org_id":"o1",
    "api_key_id":"k1","ip":"203.0.113.9","user_agent":"sdk/1","payment_fingerprint":"pm1",
    "account_created_at":1776000000,"email_domain":"x.com","model":"m1","system":"be brief",
    "messages":[{"role":"user","content":"hi there, a long enough first turn to live on the heap"},{"role":"assistant","content":"hello"},
                {"role":"user","content":"again"}],
    "tools":[{"name":"f","description":"d","input_schema":{}}],"max_tokens":1024,"temperature":0.5,
    "conversation_id":"c1","response":{"content":"ok, a response long enough to be on the heap as well","stop_reason":"end_turn",
    "input_tokens":10,"output_tokens":5,"reasoning_tokens":2}})";
  const std::string bare = R"({"ts":"2026-04-22T10:00:01Z","request_id":"r2","account_id":"a2","messages":[{"role":"user","content":"x"}]})";
  for (const std::string* second : {&bare, &full}) {
    ASSERT_FALSE(Parse(full));
    ASSERT_FALSE(Parse(*second));
    Interaction fresh;
    RecordParser other(FieldMapping::Canonical());
    ASSERT_FALSE(other.Parse(*second, false, &fresh));
    EXPECT_EQ(in_.ts, fresh.ts);
    EXPECT_EQ(in_.request_id, fresh.request_id);
    EXPECT_EQ(in_.account_id, fresh.account_id);
    EXPECT_EQ(in_.org_id, fresh.org_id);
    EXPECT_EQ(in_.api_key_id, fresh.api_key_id);
    EXPECT_EQ(in_.ip, fresh.ip);
    EXPECT_EQ(in_.user_agent, fresh.user_agent);
    EXPECT_EQ(in_.payment_fingerprint, fresh.payment_fingerprint);
    EXPECT_EQ(in_.account_created_at, fresh.account_created_at);
    EXPECT_EQ(in_.email_domain, fresh.email_domain);
    EXPECT_EQ(in_.model, fresh.model);
    EXPECT_EQ(in_.system, fresh.system);
    ASSERT_EQ(in_.messages.size(), fresh.messages.size());
    for (size_t idx = 0; idx < fresh.messages.size(); ++idx) {
      EXPECT_EQ(in_.messages[idx].text, fresh.messages[idx].text);
      EXPECT_EQ(in_.messages[idx].role, fresh.messages[idx].role);
    }
    EXPECT_EQ(in_.tool_names, fresh.tool_names);
    EXPECT_EQ(in_.tools_hash, fresh.tools_hash);
    EXPECT_EQ(in_.max_tokens, fresh.max_tokens);
    EXPECT_EQ(std::isnan(in_.temperature), std::isnan(fresh.temperature));
    EXPECT_EQ(in_.conversation_id, fresh.conversation_id);
    EXPECT_EQ(in_.has_response, fresh.has_response);
    EXPECT_EQ(in_.response_text, fresh.response_text);
    EXPECT_EQ(in_.stop_reason, fresh.stop_reason);
    EXPECT_EQ(in_.input_tokens, fresh.input_tokens);
    EXPECT_EQ(in_.output_tokens, fresh.output_tokens);
    EXPECT_EQ(in_.reasoning_tokens, fresh.reasoning_tokens);
  }
  EXPECT_EQ(in_.response_text, "ok, a response long enough to be on the heap as well");
}

TEST_F(ParserTest, OpenAiShapedRecord) {
  ASSERT_FALSE(Parse(R"({"ts":1776852000.5,"request_id":"r2","user":"acct-9","model":"gpt",
    "messages":[{"role":"system","content":"sys prompt"},{"role":"user","content":[{"type":"text","text":"q"}]},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function"}]},{"role":"tool","content":"r"}],
    "tools":[{"type":"function","function":{"name":"lookup","parameters":{}}}],
    "choices":[{"message":{"role":"assistant","content":"answer"}}],"usage":{"prompt_tokens":7,"completion_tokens":3}})"));
  EXPECT_EQ(in_.ts, 1776852000500LL);
  EXPECT_EQ(in_.account_id, "acct-9");
  EXPECT_EQ(in_.system, "sys prompt");
  ASSERT_EQ(in_.messages.size(), 3u);
  EXPECT_EQ(in_.messages[1].tool_use_blocks, 1);
  EXPECT_EQ(in_.messages[2].tool_result_blocks, 1);
  ASSERT_EQ(in_.tool_names.size(), 1u);
  EXPECT_EQ(in_.tool_names[0], "lookup");
  EXPECT_EQ(in_.response_text, "answer");
  EXPECT_EQ(in_.input_tokens, 7);
  EXPECT_EQ(in_.output_tokens, 3);
}

TEST_F(ParserTest, BadInputMessages) {
  const std::string ok_tail = R"("request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}])";
  EXPECT_EQ(Error("{not json"), "malformed_json: The JSON document has an improper structure: missing or superfluous commas, braces, missing keys, etc.");
  EXPECT_EQ(Error("[1,2]"), "not_an_object: a record must be a JSON object, got array");
  EXPECT_EQ(Error(R"({"request_id":"r","account_id":"a","messages":[]})"), "field 'ts': missing_field: required field is absent");
  EXPECT_EQ(Error(R"({"ts":"2026-04-22T10:00:00Z","account_id":"a","messages":[{"role":"user","content":"x"}]})"),
            "field 'request_id': missing_field: required field is absent");
  EXPECT_EQ(Error(R"({"ts":"2026-04-22T10:00:00Z","request_id":"r","messages":[{"role":"user","content":"x"}]})"),
            "field 'account_id': missing_field: required field is absent");
  EXPECT_EQ(Error(R"({"ts":"2026-04-22T10:00:00Z","request_id":"r","account_id":"a"})"),
            "field 'messages': missing_field: required field is absent");
  EXPECT_EQ(Error(R"({"ts":"2026-99-22T10:00:00Z",)" + ok_tail + "}"),
            "field 'ts': bad_timestamp: '2026-99-22T10:00:00Z' is not an RFC 3339 date-time between 1990 and 2100");
  EXPECT_EQ(Error(R"({"ts":true,)" + ok_tail + "}"),
            "field 'ts': wrong_type: expected RFC 3339 string or epoch seconds, got boolean");
  EXPECT_EQ(Error(R"({"ts":1e300,)" + ok_tail + "}"), "field 'ts': bad_timestamp: 1e+300 is not epoch seconds between 1990 and 2100");
  EXPECT_EQ(Error(R"({"ts":1776852000,"account_id":{"x":1},"request_id":"r","messages":[]})"),
            "field 'account_id': wrong_type: expected string, got object");
  EXPECT_EQ(Error(R"({"ts":1776852000,"ip":"999.1.1.1",)" + ok_tail + "}"),
            "field 'ip': bad_value: '999.1.1.1' is not an IPv4 or IPv6 address");
  EXPECT_EQ(Error(R"({"ts":1776852000,"request_id":"r","account_id":"a","messages":"hi"})"),
            "field 'messages': wrong_type: expected array, got string (for a bare prompt add transforms = [\"text\"])");
  EXPECT_EQ(Error(R"({"ts":1776852000,"request_id":"r","account_id":"a","messages":[{"role":"robot","content":"x"}]})"),
            "field 'messages[0].role': bad_value: unknown role 'robot' (expected user, assistant or system)");
  EXPECT_EQ(Error(R"({"ts":1776852000,"max_tokens":"lots",)" + ok_tail + "}"),
            "field 'max_tokens': wrong_type: expected integer, got string");
  EXPECT_EQ(Error(R"({"ts":1776852000,"max_tokens":-3,)" + ok_tail + "}"),
            "field 'max_tokens': bad_value: -3 is not an integer in [0, 1e9]");
  EXPECT_EQ(Error(R"({"ts":1776852000,"temperature":1e9,)" + ok_tail + "}"),
            "field 'temperature': bad_value: 1000000000 is out of range [0, 100]");
}

TEST_F(ParserTest, DeeplyNestedJsonIsRejectedNotCrashed) {
  std::string deep = R"({"ts":1776852000,"request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}],"x":)";
  deep += std::string(5000, '[') + std::string(5000, ']') + "}";
  auto err = Parse(deep);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->reason, Reject::kMalformedJson);
}

TEST_F(ParserTest, InvalidUtf8IsRejectedWithReason) {
  std::string bad = R"({"ts":1776852000,"request_id":"r","account_id":"a)";
  bad += "\xff\xfe";
  bad += R"(","messages":[{"role":"user","content":"x"}]})";
  auto err = Parse(bad);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->reason, Reject::kMalformedJson);
}

}  // namespace
}  // namespace dg
