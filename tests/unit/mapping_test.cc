#include "ingest/mapping.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "status_util.h"

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
  // A LiteLLM team is a key-management unit, not an organisation: mapping it
  // to org_id would give unrelated users of one team the same-org exemption.
  EXPECT_EQ(in.org_id, "");
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
  auto m = FieldMapping::FromToml(R"(version = 1
name = "gw"
[fields]
account_id = ["/auth/customer"]
ts = "/time"
[defaults]
org_id = "default-org"
)", "gw.toml");
  ASSERT_TRUE(m.ok()) << m.status();
  RecordParser parser(*m);
  Interaction in;
  auto err = parser.Parse(R"({"time":"2026-04-22T10:00:00Z","request_id":"r","auth":{"customer":"c9"},"messages":[{"role":"user","content":"x"}]})", false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.account_id, "c9");
  EXPECT_EQ(in.org_id, "default-org");
}

// The parser resolves pointers through an index of the record's top-level
// keys; what it finds must be what simdjson's at_pointer finds: the first of
// duplicate keys, escaped segments (~1 = '/', ~0 = '~'), the empty key, and
// the rest of the path below the first segment (arrays included).
TEST(Mapping, PointersResolveAsAtPointer) {
  auto m = FieldMapping::FromToml(R"(version = 1
name = "ptr"
[fields]
request_id = ["/missing", "/x~1y"]
account_id = ["/"]
org_id = ["/t~0u"]
ts = "/meta/0/time"
model = ["/meta/1/model", "/model"]
)", "ptr.toml");
  ASSERT_TRUE(m.ok()) << m.status();
  RecordParser parser(*m);
  Interaction in;
  const std::string line = R"({"model":"first","x/y":"r1","":"acct","t~u":"org","meta":[{"time":"2026-04-22T10:00:00Z"},{}],)"
                           R"("model":"second","x/y":"r2","messages":[{"role":"user","content":"x"}]})";
  auto err = parser.Parse(line, false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.request_id, "r1");
  EXPECT_EQ(in.account_id, "acct");
  EXPECT_EQ(in.org_id, "org");
  EXPECT_EQ(in.ts, 1776852000000LL);
  EXPECT_EQ(in.model, "first");  // /meta/1/model is absent; the first "model" key wins
  // The next record has other keys: nothing of the previous one is left.
  err = parser.Parse(R"({"x/y":"r3","":"a2","meta":[{"time":"2026-04-22T10:00:00Z"}],"messages":[{"role":"user","content":"x"}]})",
                     false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.request_id, "r3");
  EXPECT_EQ(in.org_id, "");
  EXPECT_EQ(in.model, "");
}

TEST(Mapping, TomlErrorsNameFileLineAndKey) {
  std::string error;
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields]\naccount = \"/x\"\n", "m.toml"));
  EXPECT_EQ(error, "m.toml:3: key 'fields.account': unknown field (see SCHEMA.md for field names)");
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields]\nip = \"no-slash\"\n", "m.toml"));
  EXPECT_EQ(error, "m.toml:3: key 'fields.ip': 'no-slash' is not a JSON pointer (must start with '/')");
  error = ErrorOf(FieldMapping::FromToml("version = 2\n", "m.toml"));
  EXPECT_EQ(error, "m.toml:1: key 'version': unsupported mapping version (expected 1)");
  error = ErrorOf(FieldMapping::FromToml("[fields\n", "m.toml"));
  EXPECT_EQ(error.rfind("m.toml:1: ", 0), 0u) << error;
}

TEST(Mapping, ShippedMappingFilesLoad) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(DG_SOURCE_DIR) + "/config/mappings")) {
    const std::string name = entry.path().filename().string();
    ++files;
    auto m = FieldMapping::Load(entry.path().string());
    ASSERT_TRUE(m.ok()) << m.status();
    auto preset = FieldMapping::Preset(m->name);
    ASSERT_TRUE(preset) << name;
    EXPECT_EQ(m->pointers, preset->pointers) << name << " must match the compiled-in preset";
    EXPECT_EQ(m->rules, preset->rules) << name;
    EXPECT_EQ(m->name + ".toml", name) << "a preset's name is its file name";
  }
  EXPECT_EQ(files + 1, FieldMapping::PresetNames().size()) << "every shipped file is a preset (plus canonical)";
}

// fuzz_config finding (see Policy.HugeFloatWhereAnIntegerBelongsIsAnErrorNotACast).
TEST(Mapping, HugeFloatVersionIsAnErrorNotACast) {
  std::string error;
  error = ErrorOf(FieldMapping::FromToml("version = 8.8e66\n", "m.toml"));
  EXPECT_NE(error.find("unsupported mapping version"), std::string::npos) << error;
}

std::optional<FieldMapping> Toml(const std::string& text) {
  auto m = FieldMapping::FromToml(text, "t.toml");
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok()) return std::nullopt;
  return std::move(*m);
}

TEST(MappingTransforms, FallbacksSkipEmptyStringsAndNull) {
  RecordParser parser(FieldMapping::Canonical());
  Interaction in;
  auto err = parser.Parse(R"({"ts":1776852000,"request_id":"r","account_id":"","user":"u-2","ip":null,"messages":[{"role":"user","content":"x"}]})", false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.account_id, "u-2");
}

TEST(MappingTransforms, AddressListsAndPorts) {
  auto m = Toml(R"(version = 1
[fields]
ip = { from = ["/xff", "/peer"], transforms = ["first_of_list", "strip_port"] }
)");
  ASSERT_TRUE(m);
  RecordParser parser(*m);
  const std::pair<std::string, std::string> cases[] = {
      {R"("xff":"203.0.113.7, 10.0.0.2")", "203.0.113.7"},
      {R"("xff":"","peer":"198.51.100.9:51234")", "198.51.100.9"},
      {R"("peer":"[2001:db8::1]:443")", "2001:db8::1"},
      {R"("peer":"2001:db8::2")", "2001:db8::2"},
      {R"("xff":["192.0.2.1:80","10.0.0.1"])", "192.0.2.1"},
  };
  for (const auto& [extra, want] : cases) {
    Interaction in;
    auto err = parser.Parse(R"({"ts":1776852000,"request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}],)" + extra + "}", false, &in);
    ASSERT_FALSE(err) << extra << ": " << err->Message();
    EXPECT_EQ(in.ip, want) << extra;
  }
  // Without the transforms the same record is rejected, saying what to add.
  RecordParser plain(FieldMapping::Canonical());
  Interaction in;
  auto err = plain.Parse(R"({"ts":1776852000,"request_id":"r","account_id":"a","ip":"203.0.113.7, 10.0.0.2","messages":[{"role":"user","content":"x"}]})", false, &in);
  ASSERT_TRUE(err);
  EXPECT_NE(err->Message().find("first_of_list"), std::string::npos) << err->Message();
}

TEST(MappingTransforms, EpochUnitsAndNaiveTimestamps) {
  const std::pair<std::string, std::string> cases[] = {
      {R"(ts = { from = "/t", epoch = "ms" })", R"(1776852000250)"},
      {R"(ts = { from = "/t", epoch = "us" })", R"(1776852000250000)"},
      {R"(ts = { from = "/t", epoch = "ns" })", R"("1776852000250000000")"},
      {R"(ts = { from = "/t", epoch = "auto" })", R"(1776852000250)"},
      {R"(ts = { from = "/t", tz = "Z" })", R"("2026-04-22 10:00:00.250")"},
      {R"(ts = { from = "/t", tz = "+02:00" })", R"("2026-04-22T12:00:00.250")"},
      {R"(ts = { from = "/t", tz = "+02:00" })", R"("2026-04-22T10:00:00.250Z")"},  // an explicit offset wins
  };
  for (const auto& [rule, value] : cases) {
    auto m = Toml("version = 1\n[fields]\n" + rule + "\n");
    ASSERT_TRUE(m);
    RecordParser parser(*m);
    Interaction in;
    auto err = parser.Parse(R"({"t":)" + value + R"(,"request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}]})", false, &in);
    ASSERT_FALSE(err) << rule << " " << value << ": " << err->Message();
    EXPECT_EQ(in.ts, 1776852000250LL) << rule << " " << value;
  }
  // Milliseconds read as seconds are out of range: the error says what to set.
  auto m = Toml("version = 1\n[fields]\nts = \"/t\"\n");
  RecordParser parser(*m);
  Interaction in;
  auto err = parser.Parse(R"({"t":1776852000250,"request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}]})", false, &in);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->reason, Reject::kBadTimestamp);
  EXPECT_NE(err->Message().find("epoch = \"ms\""), std::string::npos) << err->Message();
  err = parser.Parse(R"({"t":"2026-04-22 10:00:00","request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}]})", false, &in);
  ASSERT_TRUE(err);
  EXPECT_NE(err->Message().find("set tz"), std::string::npos) << err->Message();
}

TEST(MappingTransforms, JsonInStringNumbersConstantsAndText) {
  auto m = Toml(R"(version = 1
[fields]
ts = { from = "/started_at", epoch = "ms" }
request_id = "/id"
account_id = "/consumer/id"
org_id = { value = "acme" }
model = { from = "/payload/request", json = "/model" }
messages = { from = "/payload/request", json = "/messages" }
max_tokens = { from = "/params/max_tokens", transforms = ["to_number"] }
temperature = { from = "/params/temperature", transforms = ["to_number"] }
response_content = { from = "/payload/response", json = "/choices/0/message/content" }
system = { from = "/sys", transforms = ["text"] }
)");
  ASSERT_TRUE(m);
  RecordParser parser(*m);
  Interaction in;
  const std::string line = R"({"started_at":1776852000250,"id":"k1","consumer":{"id":"c1"},
    "payload":{"request":"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}",
               "response":"{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi!\"}}]}"},
    "params":{"max_tokens":"256","temperature":"0.7"},
    "sys":[{"type":"text","text":"be brief"},{"type":"text","text":"be kind","cache_control":{"type":"ephemeral"}}]})";
  auto err = parser.Parse(line, false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.model, "gpt-4o");
  ASSERT_EQ(in.messages.size(), 1u);
  EXPECT_EQ(in.messages[0].text, "hello there");
  EXPECT_EQ(in.response_text, "hi!");
  EXPECT_EQ(in.max_tokens, 256);
  EXPECT_DOUBLE_EQ(in.temperature, 0.7);
  EXPECT_EQ(in.org_id, "acme");
  EXPECT_EQ(in.system, "be brief\nbe kind");
  // Broken embedded JSON and a non-numeric string are named errors.
  err = parser.Parse(R"({"started_at":1776852000250,"id":"k1","consumer":{"id":"c1"},"payload":{"request":"{not json"}})", false, &in);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->field, "model");
  EXPECT_NE(err->Message().find("not JSON"), std::string::npos) << err->Message();
  err = parser.Parse(R"({"started_at":1776852000250,"id":"k1","consumer":{"id":"c1"},"payload":{"request":"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"},"params":{"max_tokens":"lots"}})", false, &in);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->field, "max_tokens");
  EXPECT_EQ(err->reason, Reject::kBadValue);
}

TEST(MappingTransforms, AnthropicSystemBlocksAndResponsesInputWithoutTransforms) {
  RecordParser parser(FieldMapping::Canonical());
  Interaction in;
  auto err = parser.Parse(R"({"ts":1776852000,"request_id":"r","account_id":"a",
    "system":[{"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}],
    "messages":[{"role":"user","content":[{"type":"text","text":"q"}]}]})", false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.system, "You are terse.");
  auto m = Toml("version = 1\n[fields]\nmessages = { from = \"/input\", transforms = [\"text\"] }\nresponse_content = \"/output\"\n");
  RecordParser responses(*m);
  err = responses.Parse(R"({"ts":1776852000,"request_id":"r","account_id":"a","input":"plain prompt"})", false, &in);
  ASSERT_FALSE(err) << err->Message();
  ASSERT_EQ(in.messages.size(), 1u);
  EXPECT_EQ(in.messages[0].text, "plain prompt");
  err = responses.Parse(R"({"ts":1776852000,"request_id":"r","account_id":"a",
    "input":[{"role":"user","content":[{"type":"input_text","text":"q1"}]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},
             {"type":"function_call_output","call_id":"c","output":"42"}],
    "output":[{"type":"reasoning","id":"rs","summary":[]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"ans"}]}]})", false, &in);
  ASSERT_FALSE(err) << err->Message();
  ASSERT_EQ(in.messages.size(), 3u);
  EXPECT_EQ(in.messages[0].text, "q1");
  EXPECT_EQ(in.messages[1].tool_use_blocks, 1);
  EXPECT_EQ(in.messages[2].tool_result_blocks, 1);
  EXPECT_EQ(in.response_text, "ans");
}

TEST(MappingTransforms, RecordFilter) {
  auto m = Toml(R"(version = 1
[filter]
field = "/call_type"
in = ["completion", "acompletion"]
)");
  ASSERT_TRUE(m);
  RecordParser parser(*m);
  Interaction in;
  const std::string rest = R"(,"ts":1776852000,"request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}]})";
  EXPECT_FALSE(parser.Parse(R"({"call_type":"acompletion")" + rest, false, &in));
  auto err = parser.Parse(R"({"call_type":"aembedding")" + rest, false, &in);
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->filtered);
  err = parser.Parse(R"({"x":1)" + rest, false, &in);
  ASSERT_TRUE(err);
  EXPECT_TRUE(err->filtered);
}

TEST(MappingTransforms, TomlErrorsNameLineAndKey) {
  std::string error;
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields]\nip = { from = \"/a\", transforms = [\"rot13\"] }\n", "m.toml"));
  EXPECT_EQ(error.rfind("m.toml:3: key 'fields.ip': transforms: unknown transform 'rot13'", 0), 0u) << error;
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields.ts]\nfrom = \"/t\"\ntz = \"+2:00\"\n", "m.toml"));
  EXPECT_EQ(error.rfind("m.toml:4: key 'fields.ts': tz: '+2:00' is not a UTC offset", 0), 0u) << error;
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields]\nip = { from = \"/a\", epoch = \"ms\" }\n", "m.toml"));
  EXPECT_NE(error.find("epoch and tz apply only to ts"), std::string::npos) << error;
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[filter]\nfield = \"/x\"\n", "m.toml"));
  EXPECT_NE(error.find("needs 'in' or 'not_in'"), std::string::npos) << error;
}


// Named zones (mapping tz = "America/New_York"): DST from the OS tz
// database; the rule for local times that do not name one instant is the
// one common/time_zone.h documents (expected values: Python's zoneinfo).
TimeMs ParseNaiveIn(const std::string& tz, const std::string& value, std::string* why = nullptr) {
  auto m = Toml("version = 1\n[fields]\nts = { from = \"/t\", tz = \"" + tz + "\" }\n");
  EXPECT_TRUE(m) << tz;
  if (!m) return kNoTime;
  RecordParser parser(*m);
  Interaction in;
  auto err = parser.Parse(R"({"t":")" + value + R"(","request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}]})",
                          false, &in);
  if (err) {
    if (why != nullptr) *why = err->Message();
    return kNoTime;
  }
  return in.ts;
}
TimeMs Utc(const char* text) { return *ParseRfc3339(text); }

TEST(MappingTimeZones, NewYorkWinterAndSummer) {
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-01-15 09:00:00"), Utc("2026-01-15T14:00:00Z"));      // EST, -05:00
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-07-15T09:00:00.250"), Utc("2026-07-15T13:00:00.250Z"));  // EDT, -04:00
  // One minute either side of the spring transition (2026-03-08 02:00 EST -> 03:00 EDT).
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-03-08 01:59:00"), Utc("2026-03-08T06:59:00Z"));
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-03-08 03:00:00"), Utc("2026-03-08T07:00:00Z"));
  EXPECT_EQ(ParseNaiveIn("Europe/Berlin", "2026-07-01 12:00:00"), Utc("2026-07-01T10:00:00Z"));
  EXPECT_EQ(ParseNaiveIn("Europe/Berlin", "2026-12-01 12:00:00"), Utc("2026-12-01T11:00:00Z"));
  EXPECT_EQ(ParseNaiveIn("UTC", "2026-07-01 12:00:00"), Utc("2026-07-01T12:00:00Z"));
  EXPECT_EQ(ParseNaiveIn("Etc/UTC", "2026-07-01 12:00:00"), Utc("2026-07-01T12:00:00Z"));
  // An explicit offset in the text wins over the mapping's zone.
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-07-15T09:00:00Z"), Utc("2026-07-15T09:00:00Z"));
  // Past 2037 (the zone files stop listing transitions) DST still applies.
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2080-07-01 12:00:00"), Utc("2080-07-01T16:00:00Z"));
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2080-01-01 12:00:00"), Utc("2080-01-01T17:00:00Z"));
  // A zone without DST now keeps its offset after 2037.
  EXPECT_EQ(ParseNaiveIn("Asia/Tokyo", "2050-07-01 12:00:00"), Utc("2050-07-01T03:00:00Z"));
}

TEST(MappingTimeZones, SpringForwardGapUsesTheOffsetBeforeIt) {
  // 02:30 does not exist on 2026-03-08 in New York: read as 02:30 EST,
  // i.e. 07:30Z (= 03:30 EDT), like java.time and Python's zoneinfo.
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-03-08 02:30:00"), Utc("2026-03-08T07:30:00Z"));
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-03-08 02:00:00"), Utc("2026-03-08T07:00:00Z"));
  // Order inside the gap is kept.
  EXPECT_LT(ParseNaiveIn("America/New_York", "2026-03-08 02:10:00"), ParseNaiveIn("America/New_York", "2026-03-08 02:50:00"));
}

TEST(MappingTimeZones, FallBackOverlapTakesTheEarliest) {
  // 01:30 happens twice on 2026-11-01 in New York (EDT, then EST): the
  // earliest, 01:30 EDT = 05:30Z, not 06:30Z.
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-11-01 01:30:00"), Utc("2026-11-01T05:30:00Z"));
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-11-01 00:59:59"), Utc("2026-11-01T04:59:59Z"));
  EXPECT_EQ(ParseNaiveIn("America/New_York", "2026-11-01 02:00:00"), Utc("2026-11-01T07:00:00Z"));  // after: EST
  // Europe: 02:30 on 2026-10-25 happens in CEST then CET: the earliest is 00:30Z.
  EXPECT_EQ(ParseNaiveIn("Europe/Berlin", "2026-10-25 02:30:00"), Utc("2026-10-25T00:30:00Z"));
}

TEST(MappingTimeZones, UnknownZoneIsAMappingErrorWithLine) {
  std::string error;
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields.ts]\nfrom = \"/t\"\ntz = \"Mars/Olympus_Mons\"\n", "m.toml"));
  EXPECT_EQ(error.rfind("m.toml:4: key 'fields.ts': tz: unknown time zone 'Mars/Olympus_Mons'", 0), 0u) << error;
  // Not a path: names that could walk out of the zone directory are refused before any lookup.
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields]\nts = { from = \"/t\", tz = \"../../etc/passwd\" }\n", "m.toml"));
  EXPECT_EQ(error.rfind("m.toml:3: key 'fields.ts': tz: unknown time zone '../../etc/passwd'", 0), 0u) << error;
  error = ErrorOf(FieldMapping::FromToml("version = 1\n[fields]\nts = { from = \"/t\", tz = \"\" }\n", "m.toml"));
  EXPECT_NE(error.find("tz: unknown time zone ''"), std::string::npos) << error;
}

TEST(MappingTimeZones, ErrorCodes) {
  EXPECT_EQ(TimeZone::Find("../../etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TimeZone::Find("Mars/Olympus_Mons").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(TimeZone::Find("Mars/Olympus_Mons")).rfind("unknown time zone 'Mars/Olympus_Mons'", 0), 0u);
  ASSERT_TRUE(TimeZone::Find("Europe/Berlin").ok());
  EXPECT_EQ((*TimeZone::Find("Europe/Berlin"))->name(), "Europe/Berlin");
  const auto missing = FieldMapping::Load("/nonexistent/m.toml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(missing).rfind("/nonexistent/m.toml: not a preset (canonical, ", 0), 0u) << ErrorOf(missing);
  EXPECT_EQ(FieldMapping::FromToml("version = 2\n", "m.toml").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(MappingTimeZones, ResolvedOnceAtLoad) {
  auto a = Toml("version = 1\n[fields]\nts = { from = \"/t\", tz = \"America/New_York\" }\n");
  auto b = Toml("version = 1\n[fields]\naccount_created_at = { from = \"/c\", tz = \"America/New_York\" }\n");
  ASSERT_TRUE(a && b);
  const TimeZone* za = a->RuleFor(Field::kTs).zone;
  ASSERT_NE(za, nullptr);
  EXPECT_EQ(za->name(), "America/New_York");
  EXPECT_EQ(za, b->RuleFor(Field::kAccountCreatedAt).zone);  // one zone object per name, per process
  // Fixed offsets do not need the database.
  auto c = Toml("version = 1\n[fields]\nts = { from = \"/t\", tz = \"-05:00\" }\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->RuleFor(Field::kTs).zone, nullptr);
}

TEST(MappingTimeZones, FixedOffsetsStillWork) {
  EXPECT_EQ(ParseNaiveIn("-05:00", "2026-07-15 09:00:00"), Utc("2026-07-15T14:00:00Z"));  // no DST with an offset
  EXPECT_EQ(ParseNaiveIn("+05:30", "2026-07-15T09:00:00.5"), Utc("2026-07-15T03:30:00.5Z"));
  EXPECT_EQ(ParseNaiveIn("Z", "2026-07-15 09:00:00"), Utc("2026-07-15T09:00:00Z"));
}

TEST(MappingTimeZones, AccountCreatedAtInAZone) {
  auto m = Toml("version = 1\n[fields]\naccount_created_at = { from = \"/c\", tz = \"Europe/Berlin\" }\n");
  ASSERT_TRUE(m);
  RecordParser parser(*m);
  Interaction in;
  auto err = parser.Parse(R"({"ts":"2026-07-01T00:00:00Z","c":"2026-06-01 08:00:00","request_id":"r","account_id":"a","messages":[{"role":"user","content":"x"}]})", false, &in);
  ASSERT_FALSE(err) << err->Message();
  EXPECT_EQ(in.account_created_at, Utc("2026-06-01T06:00:00Z"));
  std::string why;
  EXPECT_EQ(ParseNaiveIn("Europe/Berlin", "not a time", &why), kNoTime);
  EXPECT_NE(why.find("field 'ts'"), std::string::npos) << why;
}

}  // namespace
}  // namespace dg
