// The cluster's record formats: the event codec (publisher -> worker) gives
// every field back and rejects torn or foreign records; the batch codec
// (many records per message) gives every record back and refuses every
// malformed batch with a reason; account ids survive the KV key encoding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cluster/batch_codec.h"
#include "cluster/event_codec.h"

namespace dg {
namespace {

Interaction Sample() {
  Interaction in;
  in.ts = 1775000000123;
  in.request_id = "req_1";
  in.account_id = "acct \xe2\x9c\x93/..";
  in.org_id = "org";
  in.api_key_id = "key";
  in.ip = "10.1.2.3";
  in.user_agent = "ua/1";
  in.payment_fingerprint = "pm_1";
  in.account_created_at = 1774000000000;
  in.email_domain = "example.org";
  in.country = "FR";
  in.verification = "id";
  in.org_verified = 1;
  in.model = "atlas";
  in.system = "be brief";
  in.messages = {Message{Role::kUser, "hello\nworld", 1, 2, 3}, Message{Role::kAssistant, "hi", 0, 0, 0}};
  in.tool_names = {"search", "calc"};
  in.tools_hash = 77;
  in.max_tokens = 8192;
  in.temperature = 0.7;
  in.conversation_id = "c1";
  in.has_response = true;
  in.response_text = "an answer";
  in.stop_reason = "end_turn";
  in.input_tokens = 10;
  in.output_tokens = 20;
  in.reasoning_tokens = 5;
  in.source_index = 2;
  in.line = 99;
  in.seq = 1234;
  return in;
}

TEST(EventCodec, RoundTripsEveryField) {
  const Interaction in = Sample();
  const std::string rec = EncodeEvent(42, in);
  uint64_t seq = 0;
  Interaction out;
  ASSERT_TRUE(DecodeEvent(rec, &seq, &out));
  EXPECT_EQ(seq, 42u);
  EXPECT_EQ(EncodeEvent(42, out), rec);  // every field encoded is given back
  EXPECT_EQ(out.account_id, in.account_id);
  EXPECT_EQ(out.messages[0].text, "hello\nworld");
  EXPECT_EQ(out.messages[1].role, Role::kAssistant);
  EXPECT_EQ(out.messages[0].other_blocks, 3);
  EXPECT_EQ(out.tool_names, in.tool_names);
  EXPECT_DOUBLE_EQ(out.temperature, 0.7);
  EXPECT_TRUE(out.has_response);
  EXPECT_EQ(out.response_text, "an answer");
  EXPECT_EQ(out.reasoning_tokens, 5);
}

TEST(EventCodec, KeepsAnUnsetTemperature) {
  Interaction in = Sample();
  in.temperature = std::nan("");
  uint64_t seq = 0;
  Interaction out;
  ASSERT_TRUE(DecodeEvent(EncodeEvent(1, in), &seq, &out));
  EXPECT_TRUE(std::isnan(out.temperature));
}

TEST(EventCodec, RejectsEveryTruncationAndTrailingBytes) {
  const std::string rec = EncodeEvent(7, Sample());
  uint64_t seq = 0;
  for (size_t len = 0; len < rec.size(); ++len) {
    Interaction out;
    EXPECT_FALSE(DecodeEvent(std::string_view(rec).substr(0, len), &seq, &out)) << len;
  }
  Interaction out;
  EXPECT_FALSE(DecodeEvent(rec + "x", &seq, &out));
}

TEST(EventCodec, RejectsAForeignVersionAndAHugeCount) {
  std::string rec = EncodeEvent(7, Sample());
  uint64_t seq = 0;
  Interaction out;
  rec[0] = static_cast<char>(kEventCodecVersion + 1);
  EXPECT_FALSE(DecodeEvent(rec, &seq, &out));
  // A message count past the bound is refused before anything is allocated for it.
  Interaction empty;
  std::string small = EncodeEvent(1, empty);
  const size_t count_at = 1 + 8 + 8 + 8 + 15 * 4 + 1;
  small[count_at] = '\xff';
  small[count_at + 1] = '\xff';
  small[count_at + 2] = '\xff';
  small[count_at + 3] = '\x7f';
  EXPECT_FALSE(DecodeEvent(small, &seq, &out));
}

std::string SampleBatch(std::vector<std::string>* records) {
  BatchBuilder b;
  for (uint64_t seq : {3u, 11u, 12u}) {
    records->push_back(EncodeEvent(seq, Sample()));
    b.Add(records->back());
  }
  records->push_back("");  // an empty record is framed like any other
  b.Add(records->back());
  return b.Take();
}

TEST(BatchCodec, RoundTripsEveryRecordAndPrefix) {
  std::vector<std::string> records;
  const std::string batch = SampleBatch(&records);
  std::vector<std::string_view> got;
  ASSERT_TRUE(DecodeBatch(batch, &got).ok());
  ASSERT_EQ(got.size(), records.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], records[i]) << i;
  uint64_t seq = 0;
  Interaction out;
  ASSERT_TRUE(DecodeEvent(got[1], &seq, &out));
  EXPECT_EQ(seq, 11u);
  // A prefix and a body are one record (the digest stream's sequence number).
  BatchBuilder b;
  b.Add("body", "pre");
  EXPECT_EQ(b.count(), 1u);
  const std::string one = b.Take();
  EXPECT_EQ(b.count(), 0u);
  ASSERT_TRUE(DecodeBatch(one, &got).ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "prebody");
  // The builder is reusable after Take and gives the same bytes again.
  std::vector<std::string> again;
  EXPECT_EQ(SampleBatch(&again), batch);
}

TEST(BatchCodec, RefusesEveryTruncationAndTrailingBytesWithAReason) {
  std::vector<std::string> records;
  const std::string batch = SampleBatch(&records);
  std::vector<std::string_view> got;
  for (size_t len = 0; len < batch.size(); ++len) {
    const absl::Status s = DecodeBatch(std::string_view(batch).substr(0, len), &got);
    EXPECT_FALSE(s.ok()) << len;
    EXPECT_TRUE(got.empty()) << len;  // never half-read
    EXPECT_EQ(s.message().substr(0, 7), "batch: ") << len;
  }
  const absl::Status s = DecodeBatch(batch + "x", &got);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("1 bytes after the last of 4 records"), std::string::npos) << s.message();
}

TEST(BatchCodec, RefusesAForeignVersionAndABadCount) {
  std::vector<std::string> records;
  std::string batch = SampleBatch(&records);
  std::vector<std::string_view> got;
  // A single event record (the format before batches) is not a batch.
  EXPECT_FALSE(DecodeBatch(records[0], &got).ok());
  batch[0] = static_cast<char>(kEventCodecVersion);
  EXPECT_NE(DecodeBatch(batch, &got).message().find("version byte"), std::string::npos);
  batch[0] = static_cast<char>(kBatchCodecVersion);
  auto with_count = [&](uint32_t n) {
    std::string b = batch;
    std::memcpy(b.data() + 1, &n, sizeof(n));
    return b;
  };
  EXPECT_FALSE(DecodeBatch(with_count(0), &got).ok());
  EXPECT_FALSE(DecodeBatch(with_count(kMaxBatchRecords + 1), &got).ok());
  EXPECT_FALSE(DecodeBatch(with_count(0xffffffffu), &got).ok());
  EXPECT_FALSE(DecodeBatch(with_count(3), &got).ok());  // one record left over
  EXPECT_FALSE(DecodeBatch(with_count(5), &got).ok());  // one record missing
  // A count of records the bytes cannot hold is refused before any reserve.
  std::string tiny(5, '\0');
  tiny[0] = static_cast<char>(kBatchCodecVersion);
  const uint32_t n = kMaxBatchRecords;
  std::memcpy(tiny.data() + 1, &n, sizeof(n));
  EXPECT_NE(DecodeBatch(tiny, &got).message().find("cannot fit"), std::string::npos);
  EXPECT_TRUE(got.empty());
}

TEST(BatchCodec, HoldsTheMaximumCount) {
  BatchBuilder b;
  for (uint32_t i = 0; i < kMaxBatchRecords; ++i) b.Add("r");
  const std::string batch = b.Take();
  std::vector<std::string_view> got;
  ASSERT_TRUE(DecodeBatch(batch, &got).ok());
  EXPECT_EQ(got.size(), kMaxBatchRecords);
}

TEST(AccountKey, RoundTripsAnyIdAndRejectsOtherKeys) {
  for (const std::string& id : {std::string("acct_1"), std::string("a b/c.d\x01\xff"), std::string()}) {
    const std::string key = AccountKey(id);
    EXPECT_EQ(key.find_first_not_of("a.0123456789abcdef"), std::string::npos);
    std::string back;
    ASSERT_TRUE(AccountFromKey(key, &back));
    EXPECT_EQ(back, id);
  }
  std::string back;
  EXPECT_FALSE(AccountFromKey("b.00", &back));
  EXPECT_FALSE(AccountFromKey("a.0", &back));
  EXPECT_FALSE(AccountFromKey("a.zz", &back));
  EXPECT_FALSE(AccountFromKey("", &back));
}

TEST(BucketValues, VerdictValuesParseAndForeignBytesAreRefused) {
  VerdictEntry e;
  ASSERT_TRUE(ParseVerdictEntry(
      R"({"account_id":"a","verdict":"block","score":0.91,"campaign_id":"camp_2","interactions":40,)"
      R"("reasons":["cot_elicitation","shared_onset","a_reason_of_a_later_version",7]})",
      &e));
  EXPECT_EQ(e.verdict, Verdict::kBlock);
  EXPECT_DOUBLE_EQ(e.score, 0.91);
  EXPECT_EQ(e.campaign_id, "camp_2");
  EXPECT_EQ(e.interactions, 40u);
  EXPECT_EQ(e.reasons, Bit(Reason::kCotElicitation) | Bit(Reason::kSharedOnset))
      << "names this version knows, a bit past 32 among them; the rest skipped";
  VerdictEntry bits;
  ASSERT_TRUE(ParseVerdictEntry(R"({"verdict":"review","score":0.6,"reasons":5})", &bits));
  EXPECT_EQ(bits.reasons, 0u) << "bits from a version before names renumber: read as none";
  VerdictEntry old;
  ASSERT_TRUE(ParseVerdictEntry(R"({"verdict":"review","score":0.5,"campaign_id":null})", &old));
  EXPECT_EQ(old.verdict, Verdict::kReview);
  EXPECT_EQ(old.reasons, 0u) << "a value from before reason bits";
  EXPECT_TRUE(old.campaign_id.empty());
  for (const char* bad : {"", "{", "null", R"({"verdict":"maybe"})", R"({"verdict":1})", "\xff\xfe"}) {
    VerdictEntry x;
    EXPECT_FALSE(ParseVerdictEntry(bad, &x)) << bad;
  }
}

TEST(BucketValues, OverrideActions) {
  EXPECT_EQ(ParseOverrideEntry(R"({"account_id":"a","action":"block","by":"ann","reason":"r","at":"t"})"), Verdict::kBlock);
  EXPECT_EQ(ParseOverrideEntry(R"({"action":"allow"})"), Verdict::kAllow);
  EXPECT_EQ(ParseOverrideEntry(R"({"action":"clear"})"), Verdict::kReview);
  EXPECT_EQ(ParseOverrideEntry(R"({"action":"ban"})"), std::nullopt);
  EXPECT_EQ(ParseOverrideEntry("not json"), std::nullopt);
}

// Imported indicators in dg_shared: the key names kind and canonical value,
// the value is serve's row; only canonical values of the shareable kinds
// with a known trust are accepted.
TEST(BucketValues, SharedIndicatorsRoundTripAndOnlyCanonicalValuesAreAccepted) {
  const SharedIndicatorRecord row{"ip_prefix", "203.0.113.0/24", "partner \"x\"", "block", "2026-12-04T00:00:00Z"};
  const std::string key = SharedIndicatorKey(row.kind, row.value);
  std::string kind, value;
  ASSERT_TRUE(SharedIndicatorFromKey(key, &kind, &value));
  EXPECT_EQ(kind, "ip_prefix");
  EXPECT_EQ(value, "203.0.113.0/24");
  SharedIndicatorRecord back;
  IndicatorKind k{};
  ASSERT_TRUE(ParseSharedIndicator(FormatSharedIndicator(row), &back, &k));
  EXPECT_EQ(k, IndicatorKind::kIpPrefix);
  EXPECT_EQ(back.source, row.source);
  EXPECT_EQ(back.trust, "block");
  EXPECT_EQ(back.imported_at, row.imported_at);
  ASSERT_TRUE(ParseSharedIndicator(R"({"kind":"client","value":"evil-bot/1","trust":"review"})", &back, &k));
  EXPECT_EQ(k, IndicatorKind::kClient);
  for (const char* bad : {R"({"kind":"ip_prefix","value":"203.0.113.77/24","trust":"block"})",  // not canonical
                          R"({"kind":"ip_prefix","value":"10.0.0.0/8","trust":"block"})",       // wider than /16
                          R"({"kind":"payment","value":"pm","trust":"maybe"})",
                          R"({"kind":"system_prompt","value":"x","trust":"block"})",
                          R"({"kind":"payment","value":"","trust":"block"})",
                          // one key per (kind, value): the store's old name for client is not a bucket kind
                          R"({"kind":"user_agent","value":"evil-bot/1","trust":"review"})", "{}", "not json"}) {
    EXPECT_FALSE(ParseSharedIndicator(bad, &back, &k)) << bad;
  }
  const std::string long_source = R"({"kind":"payment","value":"pm","trust":"block","source":")" + std::string(2000, 'x') + "\"}";
  EXPECT_FALSE(ParseSharedIndicator(long_source, &back, &k)) << "a source past kMaxSharedValueBytes";
  RequestValueEntry e;
  EXPECT_FALSE(ParseRequestValueEntry(
      R"({"campaign_id":")" + std::string(300, 'c') + R"(","kind":"payment","root":1,"evidence":1})", &e))
      << "a campaign id past kMaxCampaignIdBytes";
  CampaignMatch c;
  EXPECT_FALSE(ParseCampaignEntry(R"({"campaign_id":")" + std::string(300, 'c') + R"(","score":1})", &c));
  for (const char* bad_key : {"s.", "s.7061796d656e74", "s.1f70", "a.00", "s.zz"}) {
    EXPECT_FALSE(SharedIndicatorFromKey(bad_key, &kind, &value)) << bad_key;
  }
}

}  // namespace
}  // namespace dg
