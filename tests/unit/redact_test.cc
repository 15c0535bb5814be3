// Redaction of prompt samples (content/redact.h): each kind of secret and
// personal datum, in prose and inside JSON punctuation; secrets are masked
// before phone numbers so no half of a key is left behind.
#include "content/redact.h"

#include <string>

#include <gtest/gtest.h>

namespace dg {
namespace {

std::string R(std::string_view s) { return RedactSample(s, 4000); }

TEST(Redact, SlackTokensAreMaskedWholeNotAsPhoneNumbers) {
  EXPECT_EQ(R("use xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx now"), "use [KEY] now");
  EXPECT_EQ(R("xoxp-98765432101-98765432101-1234567890123-0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d"), "[KEY]");
}

TEST(Redact, KeysInsideJsonPunctuation) {
  EXPECT_EQ(R(R"({"api_key":"sk-abcdefghijklmnopqrstuvwx1234"})"), R"({"api_key":"[SECRET]"})");
  EXPECT_EQ(R(R"({"config": {"key": "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"}})"), R"({"config": {"key": "[SECRET]"}})");
  EXPECT_EQ(R(R"(["sk-ant-api03-AbCdEf123456", "ghp_0123456789abcdefABCDEF0123456789abcd"])"), R"(["[KEY]", "[KEY]"])");
}

TEST(Redact, OpenAiAndAnthropicKeys) {
  EXPECT_EQ(R("key sk-proj-AbCdEf1234567890123XyZ here"), "key [KEY] here");
  EXPECT_EQ(R("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"), "[KEY]");
  EXPECT_EQ(R("short sk-abc123 too"), "short [KEY] too");
  EXPECT_EQ(R("pip install sk-learn"), "pip install sk-learn");  // not a key
  EXPECT_EQ(R("export OPENAI=sk-abcdef123456"), "export OPENAI=[KEY]");
}

TEST(Redact, GitHubAwsGoogleAndJwt) {
  EXPECT_EQ(R("ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"), "[KEY]");
  EXPECT_EQ(R("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"), "[KEY]");
  EXPECT_EQ(R("aws AKIAIOSFODNN7EXAMPLE region"), "aws [KEY] region");
  EXPECT_EQ(R("AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"), "[KEY]");
  EXPECT_EQ(R("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl ok"), "jwt [KEY] ok");
}

TEST(Redact, BearerTokensAndPasswordValues) {
  EXPECT_EQ(R("Authorization: Bearer abcdefghijklmnopqrstuv"), "Authorization: Bearer [SECRET]");
  EXPECT_EQ(R("curl -H 'Bearer abc123def456'"), "curl -H 'Bearer [SECRET]'");
  EXPECT_EQ(R("pw=Hunter2Secret! user=jdoe Prove that"), "pw=[SECRET] user=jdoe Prove that");
  EXPECT_EQ(R("password=hunter2 pwd: s3cr3t secret=abc token=xyz"), "password=[SECRET] pwd: [SECRET] secret=[SECRET] token=[SECRET]");
  EXPECT_EQ(R(R"({"password": "hunter2", "user": "jdoe"})"), R"({"password": "[SECRET]", "user": "jdoe"})");
  EXPECT_EQ(R("DB_PASSWORD=letmein AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI"), "DB_PASSWORD=[SECRET] AWS_SECRET_ACCESS_KEY=[SECRET]");
  EXPECT_EQ(R("the bearer of news"), "the bearer of news");  // a word, not a scheme
}

TEST(Redact, CardsByLuhnAndCvvAfterItsKeyword) {
  EXPECT_EQ(R("card 4111 1111 1111 1111 exp"), "card [CARD] exp");
  EXPECT_EQ(R("card 4111-1111-1111-1111"), "card [CARD]");
  EXPECT_EQ(R("5500000000000004"), "[CARD]");
  EXPECT_EQ(R("4111 1111 1111 1112"), "[PHONE]");  // fails Luhn: still a long number
  EXPECT_EQ(R("cvv 123 and CVC: 4567 and cvc=987"), "cvv [CVV] and CVC: [CVV] and cvc=[CVV]");
  EXPECT_EQ(R(R"({"cvv": "321"})"), R"({"cvv": "[CVV]"})");
  EXPECT_EQ(R("I bought 123 apples"), "I bought 123 apples");
}

TEST(Redact, EmailsAlsoUrlEncoded) {
  EXPECT_EQ(R("mail jane.doe@example.com now"), "mail [EMAIL] now");
  EXPECT_EQ(R("to=jdoe%40example.com"), "to=[EMAIL]");
  EXPECT_EQ(R(R"({"email":"jdoe@example.org"})"), R"({"email":"[EMAIL]"})");
}

TEST(Redact, PhonesUrlsAndIbans) {
  EXPECT_EQ(R("call +44 7700 900123 or (555) 123-4567"), "call [PHONE] or ([PHONE]");
  EXPECT_EQ(R("see https://user:pw@host.io/x and https://x.io/a?token=s"), "see https://[URL] and https://[URL]");
  EXPECT_EQ(R("iban DE89370400440532013000 please"), "iban [IBAN] please");
  EXPECT_EQ(R("GB82WEST12345698765432"), "[IBAN]");
}

TEST(Redact, TruncationNeverLeavesHalfASecret) {
  // The cut falls inside a key: the key is dropped, not shown in part.
  const std::string text = std::string(50, 'a') + " sk-abcdefghijklmnopqrstuvwxyz0123456789";
  const std::string out = RedactSample(text, 15);  // reads at most 60 bytes
  EXPECT_EQ(out.find("sk-"), std::string::npos) << out;
  EXPECT_EQ(out.substr(out.size() - 3), "...");
  EXPECT_LE(out.size(), 15u + 3u);
  // Cut at a UTF-8 boundary.
  const std::string u = RedactSample("\xc3\xa9\xc3\xa9\xc3\xa9", 3);
  EXPECT_EQ(u, "\xc3\xa9...");
}

TEST(Redact, LinearOnHostileInput) {
  // Long runs of separators, of '=' and of digits: bounded work, no crash.
  const std::string big = std::string(1 << 20, '=') + std::string(1 << 20, ':') + std::string(1 << 20, '9');
  EXPECT_LE(RedactSample(big, 240).size(), 243u);
  std::string many;
  for (int i = 0; i < 20000; ++i) many += "pw= cvv : ";
  EXPECT_LE(RedactSample(many, 240).size(), 243u);
}

}  // namespace
}  // namespace dg
