// Response fingerprints for traceback: the index file round-trips, refuses
// truncation, and a query finds an edited copy but not unrelated text.
#include "report/traceback.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "status_util.h"

namespace dg {
namespace {

Signature Sig(const std::string& text) {
  TokenStream scratch;
  Signature s{};
  EXPECT_TRUE(ResponseSignature(text, &scratch, &s));
  return s;
}

const std::string kA =
    "To reverse a linked list in place, walk it once with three pointers: the previous node, the current node and the "
    "next node. At each step point the current node back at the previous one, then advance all three. When current "
    "becomes null, previous is the new head. This runs in linear time and constant extra space.";
const std::string kB =
    "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen. The light reactions in the thylakoid "
    "membranes make ATP and NADPH; the Calvin cycle in the stroma then fixes carbon into sugars the plant can store.";

TEST(Traceback, FindsAnEditedCopyAndNotUnrelatedText) {
  ResponseIndex idx;
  idx.Add("acct_a", 1000, Sig(kA));
  idx.Add("acct_b", 2000, Sig(kB));
  std::string edited = kA;
  edited.replace(edited.find("walk it once"), 12, "traverse it one time");
  const auto hits = idx.Query(Sig(edited), 0.5);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(idx.account(idx.entry(hits[0].entry).account), "acct_a");
  EXPECT_GE(hits[0].similarity, 0.5);
  EXPECT_LT(hits[0].similarity, 1.0);
  EXPECT_EQ(idx.Query(Sig(kA), 0.99).size(), 1u) << "an exact copy is similarity 1";
  EXPECT_TRUE(idx.Query(Sig("The quarterly report shows revenue up eight percent on strong cloud demand in Europe."), 0.3).empty());
}

TEST(Traceback, IndexFileRoundTripsAndRefusesTruncation) {
  const auto path = (std::filesystem::temp_directory_path() / ("dg_tb_" + std::to_string(getpid()) + ".fp")).string();
  std::string error;
  {
    ResponseIndexWriter w;
    ASSERT_TRUE(w.Open(path).ok());
    w.Add("acct_a", 1000, Sig(kA));
    w.Add("acct_b", 2000, Sig(kB));
    w.Add("acct_a", 3000, Sig(kB));
    ASSERT_TRUE(w.Close().ok());
    EXPECT_EQ(w.written(), 3u);
  }
  auto idx = ResponseIndex::Load(path);
  ASSERT_TRUE(idx.ok()) << idx.status();
  EXPECT_EQ(idx->size(), 3u);
  const auto hits = idx->Query(Sig(kB), 0.9);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(idx->entry(hits[0].entry).ts, 2000);
  EXPECT_EQ(idx->account(idx->entry(hits[1].entry).account), "acct_a");
  // Cut the file inside its last record.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 5);
  error = ErrorOf(ResponseIndex::Load(path));
  EXPECT_NE(error.find("truncated"), std::string::npos) << error;
  EXPECT_EQ(ResponseIndex::Load(path).status().code(), absl::StatusCode::kDataLoss);
  std::ofstream(path) << "something else";
  error = ErrorOf(ResponseIndex::Load(path));
  EXPECT_NE(error.find("not a distillguard response index"), std::string::npos) << error;
  EXPECT_EQ(ResponseIndex::Load(path).status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove(path);
  EXPECT_EQ(ErrorOf(ResponseIndex::Load(path)), path + ": not a distillguard response index");
  EXPECT_EQ(ResponseIndex::Load(path).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ErrorOf(ReadSuspectTexts(path)), path + ": cannot read");
  EXPECT_EQ(ReadSuspectTexts(path).status().code(), absl::StatusCode::kNotFound);
  ResponseIndexWriter unwritable;
  const auto opened = unwritable.Open("/nonexistent-dir/responses.fp");
  EXPECT_EQ(opened.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorOf(opened).rfind("/nonexistent-dir/responses.fp: cannot write: ", 0), 0u) << opened;
}

}  // namespace
}  // namespace dg
