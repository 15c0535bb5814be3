#include "ingest/pipeline.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace dg {
namespace {

std::string Record(const std::string& id, const std::string& ts, const std::string& account = "a1") {
  return R"({"ts":")" + ts + R"(","request_id":")" + id + R"(","account_id":")" + account +
         R"(","messages":[{"role":"user","content":"hello"}]})";
}

struct Collected {
  std::vector<std::string> ids;
  std::vector<std::string> errors;
};

IngestPipeline MakePipeline(Collected& c, IngestOptions opts = {}) {
  return IngestPipeline(
      opts, [&c](Interaction& in) { c.ids.push_back(in.request_id); },
      [&c](const std::string& msg) { c.errors.push_back(msg); });
}

const std::string kLines = Record("r1", "2026-04-22T10:00:00Z") + "\n" + Record("r2", "2026-04-22T10:00:01Z") + "\n" +
                           Record("r3", "2026-04-22T10:00:02Z") + "\n";

TEST(Pipeline, PlainGzipZstdGiveTheSameInteractions) {
  testing::TempDir dir;
  testing::WriteText(dir.File("p.jsonl"), kLines);
  testing::WriteText(dir.File("g.jsonl.gz"), testing::Gzip(kLines));
  testing::WriteText(dir.File("z.jsonl.zst"), testing::Zstd(kLines));
  for (const auto* name : {"p.jsonl", "g.jsonl.gz", "z.jsonl.zst"}) {
    Collected c;
    auto p = MakePipeline(c);
    ASSERT_TRUE(p.AddFile(dir.File(name)));
    p.Flush();
    EXPECT_EQ(c.ids, (std::vector<std::string>{"r1", "r2", "r3"})) << name;
    EXPECT_TRUE(c.errors.empty()) << name;
    EXPECT_EQ(p.stats().lines_read, 3u);
    EXPECT_EQ(p.stats().accepted, 3u);
  }
}

// Issue #18 finding 16 (scan): an event dated far past the scan's clock is
// a bad line (file:line, field 'ts', out_of_range), counted; the others
// are delivered as without it. The clock is the options' (injected).
TEST(Pipeline, EventsFarPastTheClockAreRejectedWithFileAndLine) {
  const std::string lines = Record("r1", "2026-04-22T10:00:00Z") + "\n" + Record("r2", "2099-01-01T00:00:00Z") + "\n" +
                            Record("r3", "2026-04-22T10:00:02Z") + "\n" + Record("r4", "2026-04-23T09:59:00Z") + "\n" +
                            Record("r5", "2026-04-23T10:01:00Z") + "\n" + Record("r6", "1995-04-22T10:00:00Z") + "\n";
  IngestOptions opts;
  opts.now = *ParseRfc3339("2026-04-22T10:00:00Z");  // r4 is 23 h 59 min ahead, r5 24 h 1 min
  Collected c;
  auto p = MakePipeline(c, opts);
  ASSERT_TRUE(p.AddBuffer(lines, "log.jsonl"));
  p.Flush();
  EXPECT_EQ(c.ids, (std::vector<std::string>{"r6", "r1", "r3", "r4"}));
  ASSERT_EQ(c.errors.size(), 2u);
  EXPECT_EQ(c.errors[0].rfind("log.jsonl:2: field 'ts': out_of_range: 2099-01-01T00:00:00.000Z is more than 24 h after the scan's clock", 0),
            0u)
      << c.errors[0];
  EXPECT_EQ(c.errors[1].rfind("log.jsonl:5: field 'ts': out_of_range", 0), 0u) << c.errors[1];
  EXPECT_EQ(p.stats().rejected[static_cast<size_t>(Reject::kOutOfRange)], 2u);
  EXPECT_EQ(p.stats().accepted, 4u);
  EXPECT_NE(p.stats().Summary().find("out_of_range=2"), std::string::npos) << p.stats().Summary();

  // --strict stops at it.
  opts.strict = true;
  Collected strict;
  auto q = MakePipeline(strict, opts);
  EXPECT_FALSE(q.AddBuffer(lines, "log.jsonl"));
  ASSERT_EQ(strict.errors.size(), 1u);
  EXPECT_EQ(strict.errors[0].rfind("log.jsonl:2: field 'ts': out_of_range", 0), 0u);

  // Without a clock (a library user that wants none), nothing is bounded.
  Collected unbounded;
  auto u = MakePipeline(unbounded);
  ASSERT_TRUE(u.AddBuffer(lines, "log.jsonl"));
  u.Flush();
  EXPECT_EQ(unbounded.ids.size(), 6u);
}

TEST(Pipeline, TruncatedCompressedFilesAreReportedWithFileAndLine) {
  testing::TempDir dir;
  std::string big;
  for (int idx = 0; idx < 20000; ++idx) big += Record("r" + std::to_string(idx), "2026-04-22T10:00:00Z") + "\n";
  const std::string gz = testing::Gzip(big);
  const std::string zst = testing::Zstd(big);
  testing::WriteText(dir.File("t.gz"), gz.substr(0, gz.size() / 2));
  testing::WriteText(dir.File("t.zst"), zst.substr(0, zst.size() / 2));
  for (const auto* name : {"t.gz", "t.zst"}) {
    Collected c;
    auto p = MakePipeline(c);
    p.AddFile(dir.File(name));
    p.Flush();
    ASSERT_EQ(c.errors.size(), 1u) << name;  // the truncation, at the cut line
    EXPECT_EQ(p.stats().rejected[static_cast<size_t>(Reject::kIoError)], 1u);
    EXPECT_NE(c.errors.back().find(std::string(dir.File(name)) + ":"), std::string::npos) << c.errors.back();
    EXPECT_NE(c.errors.back().find("truncated"), std::string::npos) << c.errors.back();
    EXPECT_GT(c.ids.size(), 100u) << name << ": lines before the cut are kept; " << c.errors.back();
  }
}

TEST(Pipeline, UnreadableFileIsCountedAndOthersStillRead) {
  testing::TempDir dir;
  testing::WriteText(dir.File("ok.jsonl"), kLines);
  Collected c;
  auto p = MakePipeline(c);
  EXPECT_TRUE(p.AddFile(dir.File("missing.jsonl")));
  EXPECT_TRUE(p.AddFile(dir.File("ok.jsonl")));
  p.Flush();
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0], dir.File("missing.jsonl") + ": " + dir.File("missing.jsonl") + ": cannot open: No such file or directory");
  EXPECT_EQ(c.ids.size(), 3u);
}

TEST(Pipeline, BadLinesAreReportedWithFileLineFieldAndSkipped) {
  testing::TempDir dir;
  const std::string data = Record("r1", "2026-04-22T10:00:00Z") + "\n" + "{oops\n" +
                           Record("r2", "not-a-time") + "\n\n" + Record("r3", "2026-04-22T10:00:02Z") + "\n";
  testing::WriteText(dir.File("bad.jsonl"), data);
  Collected c;
  auto p = MakePipeline(c);
  p.AddFile(dir.File("bad.jsonl"));
  p.Flush();
  EXPECT_EQ(c.ids, (std::vector<std::string>{"r1", "r3"}));
  ASSERT_EQ(c.errors.size(), 2u);
  EXPECT_EQ(c.errors[0].rfind(dir.File("bad.jsonl") + ":2: malformed_json", 0), 0u) << c.errors[0];
  EXPECT_EQ(c.errors[1], dir.File("bad.jsonl") +
                             ":3: field 'ts': bad_timestamp: 'not-a-time' is not an RFC 3339 date-time between 1990 and 2100");
  const auto& st = p.stats();
  EXPECT_EQ(st.lines_read, 5u);
  EXPECT_EQ(st.blank_lines, 1u);
  EXPECT_EQ(st.accepted, 2u);
  EXPECT_EQ(st.RejectedTotal(), 2u);
  EXPECT_NE(st.Summary().find("malformed_json=1 bad_timestamp=1"), std::string::npos) << st.Summary();
}

TEST(Pipeline, StrictStopsAtFirstBadLine) {
  Collected c;
  IngestOptions opts;
  opts.strict = true;
  auto p = MakePipeline(c, opts);
  EXPECT_FALSE(p.AddBuffer(Record("r1", "2026-04-22T10:00:00Z") + "\n[]\n" + Record("r3", "2026-04-22T10:00:02Z") + "\n", "mem"));
  p.Flush();
  EXPECT_TRUE(p.stopped());
  EXPECT_EQ(c.ids, (std::vector<std::string>{"r1"}));
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0], "mem:2: not_an_object: a record must be a JSON object, got array");
}

TEST(Pipeline, RepeatedRequestIdIsCountedOnce) {
  Collected c;
  auto p = MakePipeline(c);
  p.AddBuffer(kLines + Record("r2", "2026-04-22T10:00:05Z") + "\n", "mem");
  p.Flush();
  EXPECT_EQ(c.ids.size(), 3u);
  EXPECT_EQ(p.stats().duplicates, 1u);
}

TEST(Pipeline, ReorderBufferRestoresTimeOrderAndCountsLateEvents) {
  Collected c;
  IngestOptions opts;
  opts.reorder_window = 2;
  auto p = MakePipeline(c, opts);
  p.AddBuffer(Record("b", "2026-04-22T10:00:02Z") + "\n" + Record("a", "2026-04-22T10:00:01Z") + "\n" +
                  Record("c", "2026-04-22T10:00:03Z") + "\n" + Record("d", "2026-04-22T10:00:04Z") + "\n" +
                  Record("e", "2026-04-22T10:00:05Z") + "\n" + Record("z", "2026-04-22T09:00:00Z") + "\n",
              "mem");
  p.Flush();
  EXPECT_EQ(c.ids, (std::vector<std::string>{"a", "b", "c", "z", "d", "e"}));
  EXPECT_EQ(p.stats().late, 1u);
}

TEST(Pipeline, LineTooLongIsSkippedAndCounted) {
  Collected c;
  IngestOptions opts;
  opts.max_line_bytes = 200;
  auto p = MakePipeline(c, opts);
  std::string huge = R"({"ts":"2026-04-22T10:00:00Z","request_id":"big","account_id":"a","messages":[{"role":"user","content":")" +
                     std::string(5000, 'x') + R"("}]})";
  p.AddBuffer(huge + "\n" + kLines, "mem");
  p.Flush();
  EXPECT_EQ(c.ids.size(), 3u);
  EXPECT_EQ(p.stats().rejected[static_cast<size_t>(Reject::kLineTooLong)], 1u);
  ASSERT_FALSE(c.errors.empty());
  EXPECT_EQ(c.errors[0], "mem:1: line_too_long: line exceeds 200 bytes and was skipped");
}

TEST(Pipeline, NulBytesAndCrlfAreHandled) {
  Collected c;
  auto p = MakePipeline(c);
  std::string data = Record("r1", "2026-04-22T10:00:00Z") + "\r\n";
  data += std::string("{\"ts\":1,\0}\n", 11);
  data += Record("r2", "2026-04-22T10:00:01Z");  // no final newline
  p.AddBuffer(data, "mem");
  p.Flush();
  EXPECT_EQ(c.ids, (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(p.stats().RejectedTotal(), 1u);
}

TEST(Pipeline, ReadsStandardInput) {
  testing::TempDir dir;
  testing::WriteText(dir.File("in.jsonl.gz"), testing::Gzip(kLines));
  const int saved = dup(STDIN_FILENO);
  const int fd = open(dir.File("in.jsonl.gz").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  dup2(fd, STDIN_FILENO);
  close(fd);
  Collected c;
  auto p = MakePipeline(c);
  EXPECT_TRUE(p.AddFile("-"));
  p.Flush();
  dup2(saved, STDIN_FILENO);
  close(saved);
  EXPECT_EQ(c.ids.size(), 3u);
}

}  // namespace
}  // namespace dg
