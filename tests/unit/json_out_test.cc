#include "common/json_out.h"

#include "ingest/parser.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace dg {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

TEST(JsonOut, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(Json(std::string_view("\x01\0x", 3)), "\"\\u0001\\u0000x\"");
}

TEST(JsonOut, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Json("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  EXPECT_EQ(Json("bad\xff\xfe!"), "\"bad\xef\xbf\xbd\xef\xbf\xbd!\"");
  EXPECT_EQ(Json("cut\xe2\x82"), "\"cut\xef\xbf\xbd\xef\xbf\xbd\"");
}

TEST(JsonOut, OutputAlwaysParsesAsJson) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  const std::string doc = "[" + Json(all) + "]";
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(doc).get(e), simdjson::SUCCESS);
}

// Every byte string gives a literal that is valid UTF-8 with no raw
// control character: the bytes between the quotes are checked one by one.
bool CleanUtf8WithoutControls(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const auto c = static_cast<unsigned char>(s[pos]);
    if (c < 0x20 || c == 0x7f) return false;
    const size_t len = Utf8SequenceLength(s, pos);
    if (len == 0) return false;
    if (len == 2 && c == 0xc2 && static_cast<unsigned char>(s[pos + 1]) < 0xa0) return false;  // C1
    pos += len;
  }
  return true;
}

TEST(JsonOut, RejectsOverlongFormsSurrogatesAndCodePointsPastTheRange) {
  const std::string_view r = "\xef\xbf\xbd";
  // Overlong encodings of '/' (2, 3 and 4 bytes) and of U+07FF / U+FFFF.
  EXPECT_EQ(Json("\xc0\xaf"), "\"" + std::string(r) + std::string(r) + "\"");
  EXPECT_EQ(Json("\xe0\x80\xaf"), "\"" + std::string(r) + std::string(r) + std::string(r) + "\"");
  EXPECT_EQ(Json("\xf0\x80\x80\xaf"), "\"" + std::string(r) + r.data() + r.data() + r.data() + "\"");
  EXPECT_EQ(Json("\xe0\x9f\xbf"), "\"" + std::string(r) + r.data() + r.data() + "\"");
  // UTF-16 surrogates written as UTF-8 (CESU): U+D800, U+DFFF.
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"" + std::string(r) + r.data() + r.data() + "\"");
  EXPECT_EQ(Json("\xed\xbf\xbf"), "\"" + std::string(r) + r.data() + r.data() + "\"");
  // Past U+10FFFF, and lead bytes that never occur.
  EXPECT_EQ(Json("\xf4\x90\x80\x80"), "\"" + std::string(r) + r.data() + r.data() + r.data() + "\"");
  EXPECT_EQ(Json("\xf5\x80\x80\x80"), "\"" + std::string(r) + r.data() + r.data() + r.data() + "\"");
  // The edges that are valid stay as they are.
  EXPECT_EQ(Json("\xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"),
            "\"\xed\x9f\xbf \xee\x80\x80 \xf0\x90\x80\x80 \xf4\x8f\xbf\xbf\"");
}

TEST(JsonOut, EscapesDelAndC1Controls) {
  EXPECT_EQ(Json("a\x7f" "b"), "\"a\\u007fb\"");
  // U+0085 (NEL), U+009B (CSI: a terminal escape), U+009F; U+00A0 is text.
  EXPECT_EQ(Json("\xc2\x85\xc2\x9b[31m\xc2\x9f\xc2\xa0"), "\"\\u0085\\u009b[31m\\u009f\xc2\xa0\"");
}

TEST(JsonOut, EveryShortByteStringGivesCleanUtf8) {
  // All strings of one and two bytes, and three-byte strings over the
  // interesting lead bytes: the literal is clean and parses.
  simdjson::dom::parser parser;
  auto check = [&](const std::string& in) {
    const std::string lit = Json(in);
    ASSERT_TRUE(CleanUtf8WithoutControls(lit)) << "input bytes: " << in.size();
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(lit).get(e), simdjson::SUCCESS);
  };
  for (int a = 0; a < 256; ++a) {
    check(std::string(1, static_cast<char>(a)));
    for (int b = 0; b < 256; ++b) check(std::string{static_cast<char>(a), static_cast<char>(b)});
  }
  for (const int a : {0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4}) {
    for (int b = 0x70; b < 0xd0; ++b) {
      for (int c = 0x70; c < 0xd0; ++c) check(std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
    }
  }
}

TEST(HtmlOut, NoInvalidUtf8OrControlCharacters) {
  std::string out;
  AppendHtmlEscaped(out, "ok\xc3\xa9 bad\xff \xed\xa0\x80 c1\xc2\x9b esc\x1b[2J del\x7f tab\tnl\n");
  EXPECT_EQ(out, "ok\xc3\xa9 bad\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd c1\xef\xbf\xbd esc\xef\xbf\xbd[2J "
                 "del\xef\xbf\xbd tab\tnl\n");
}

TEST(LogSafe, EscapesControlsInvalidBytesAndBackslashes) {
  EXPECT_EQ(LogSafe("2026\x1b[31m\r\nforged line\\ \xc2\x9b \xff ok\xc3\xa9"),
            "2026\\x1b[31m\\x0d\\x0aforged line\\x5c \\xc2\\x9b \\xff ok\xc3\xa9");
  EXPECT_EQ(LogSafe("abcdef", 3), "abc...");
}

// The parser quotes bad client values in its messages (stderr, serve's
// log): a timestamp, address or role with a terminal escape or a newline
// comes out escaped.
TEST(LogSafe, ParserErrorsDoNotEchoControlCharacters) {
  RecordParser parser{FieldMapping::Canonical()};
  Interaction in;
  for (const std::string line : {
           R"({"ts":"2026\u001b[2J\nx","request_id":"r","account_id":"a","messages":[{"role":"user","content":"hi"}]})",
           R"({"ts":"2026-04-22T10:00:00Z","ip":"1.2.3.4\u0007\r","request_id":"r","account_id":"a","messages":[{"role":"user","content":"hi"}]})",
           R"({"ts":"2026-04-22T10:00:00Z","request_id":"r","account_id":"a","messages":[{"role":"us\u009ber\u001b","content":"hi"}]})"}) {
    const auto err = parser.Parse(line, false, &in);
    ASSERT_TRUE(err.has_value()) << line;
    const std::string msg = err->Message();
    EXPECT_TRUE(CleanUtf8WithoutControls(msg)) << msg;
    EXPECT_NE(msg.find("\\x"), std::string::npos) << msg;
  }
}

// AppendJsonString skips plain ASCII 16 bytes at a time: a byte that needs
// a look is found wherever it falls in or across a 16-byte block, with the
// output of the same byte alone.
TEST(JsonOut, SpecialBytesAtEveryOffsetOfABlock) {
  for (const std::string& special : std::vector<std::string>{"\"", "\\", "\n", std::string(1, '\x01'), std::string(1, '\0'), "\x7f",
                                    "\xc3\xa9", "\xc2\x85", "\xff", "\xe2\x82"}) {
    std::string alone;
    AppendJsonString(alone, special);
    const std::string escaped = alone.substr(1, alone.size() - 2);
    for (size_t lead = 0; lead <= 40; ++lead) {
      const std::string text = std::string(lead, 'a') + special + std::string(lead % 19, 'b');
      std::string out;
      AppendJsonString(out, text);
      EXPECT_EQ(out, "\"" + std::string(lead, 'a') + escaped + std::string(lead % 19, 'b') + "\"") << lead;
    }
  }
}

TEST(HtmlOut, EscapesMarkup) {
  std::string out;
  AppendHtmlEscaped(out, "<script>alert('x') & \"y\"</script>");
  EXPECT_EQ(out, "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
}

}  // namespace
}  // namespace dg
