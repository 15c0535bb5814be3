// Numbers read from outside input never throw (issue #14): ParseDecimal,
// and the places that used std::stoi / std::stoull on such input.
#include "common/parse_int.h"

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "serve/service.h"
#include "serve/store.h"
#include "status_util.h"

namespace dg {
namespace {

TEST(ParseDecimal, WholeTextOrNothing) {
  EXPECT_EQ(ParseDecimal<uint64_t>("0"), 0u);
  EXPECT_EQ(ParseDecimal<uint64_t>("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(ParseDecimal<int64_t>("-42"), -42);
  EXPECT_EQ(ParseDecimal<int>("007"), 7);
  // What std::stoull / std::stoi threw on (std::terminate on a thread):
  EXPECT_FALSE(ParseDecimal<uint64_t>(""));
  EXPECT_FALSE(ParseDecimal<uint64_t>("garbage"));
  EXPECT_FALSE(ParseDecimal<uint64_t>("18446744073709551616"));
  EXPECT_FALSE(ParseDecimal<int>("99999999999"));
  // ... and what they silently took a prefix of:
  EXPECT_FALSE(ParseDecimal<uint64_t>("12abc"));
  EXPECT_FALSE(ParseDecimal<uint64_t>(" 12"));
  EXPECT_FALSE(ParseDecimal<uint64_t>("+12"));
  EXPECT_FALSE(ParseDecimal<uint64_t>("-1"));
  EXPECT_FALSE(ParseDecimal<int>("1.5"));
}

// serve --follow resumes at the offset stored with each batch. A stored
// value that is not a number used to reach std::stoull on the follower
// thread and terminate the process; now Follow refuses to start, naming it.
TEST(ParseDecimal, CorruptStoredFollowOffsetIsAnErrorNotACrash) {
  const auto dir = std::filesystem::temp_directory_path() / ("dg_safe_parse_" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string log = (dir / "gateway.log").string();
  std::ofstream(log) << "";
  for (const std::string stored : {"garbage", "99999999999999999999999", "12abc", ""}) {
    std::string error;
    {
      auto st = ValueOr(Store::Open((dir / "data").string()), &error);
      ASSERT_TRUE(st) << error;
      ASSERT_TRUE(Ok(st->Append({}, {{"follow:" + log, stored}}), &error)) << error;
    }
    ServiceOptions so;
    so.data_dir = (dir / "data").string();
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    EXPECT_FALSE(Ok(svc->Follow(log), &error)) << stored;
    EXPECT_EQ(error, log + ": the stored --follow offset '" + stored + "' is not a number (corrupt store)");
  }
  {
    std::string error;
    {
      auto st = ValueOr(Store::Open((dir / "data").string()), &error);
      ASSERT_TRUE(st) << error;
      ASSERT_TRUE(Ok(st->Append({}, {{"follow:" + log, "0"}}), &error)) << error;
    }
    ServiceOptions so;
    so.data_dir = (dir / "data").string();
    auto svc = ValueOr(Service::Open(so), &error);
    ASSERT_TRUE(svc) << error;
    EXPECT_TRUE(Ok(svc->Follow(log), &error)) << error;
    svc->Stop();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dg
