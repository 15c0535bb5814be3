#include "common/json_out.h"

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

TEST(HtmlOut, EscapesMarkup) {
  std::string out;
  AppendHtmlEscaped(out, "<script>alert('x') & \"y\"</script>");
  EXPECT_EQ(out, "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
}

}  // namespace
}  // namespace dg
