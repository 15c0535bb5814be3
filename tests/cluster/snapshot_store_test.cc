// The snapshot manifest (cluster/snapshot_store.h): what a restarting
// correlator trusts before it reads any chunk. Round trip, and refusals
// with a reason for everything else.
#include "cluster/snapshot_store.h"

#include <gtest/gtest.h>

namespace dg {
namespace {

SnapshotManifest Example() {
  SnapshotManifest m;
  m.gen = 7;
  m.slot = 1;
  m.next = 123456;
  m.bytes = 45592134;
  m.chunks = 174;
  m.xxh3 = 0xf9e91b10872b8e1dULL;
  m.pos = {10, 0, 31337, 4};
  return m;
}

TEST(SnapshotManifest, RoundTrips) {
  const SnapshotManifest m = Example();
  const std::string text = FormatManifest(m);
  EXPECT_EQ(text, "v1 gen=7 slot=1 next=123456 bytes=45592134 chunks=174 xxh3=f9e91b10872b8e1d pos=10,0,31337,4");
  SnapshotManifest back;
  ASSERT_TRUE(ParseManifest(text, 4, &back).ok());
  EXPECT_EQ(back.gen, m.gen);
  EXPECT_EQ(back.slot, m.slot);
  EXPECT_EQ(back.next, m.next);
  EXPECT_EQ(back.bytes, m.bytes);
  EXPECT_EQ(back.chunks, m.chunks);
  EXPECT_EQ(back.xxh3, m.xxh3);
  EXPECT_EQ(back.pos, m.pos);
  EXPECT_EQ(SnapshotChunkKey(1, 173), "s1.173");
}

TEST(SnapshotManifest, RefusesWithAReason) {
  const std::string good = FormatManifest(Example());
  struct Case {
    std::string text;
    std::string why;
  };
  const std::vector<Case> cases = {
      {"", "not a v1 manifest"},
      {"v2 " + good.substr(3), "not a v1 manifest"},
      {good.substr(0, good.find(" pos=")), "missing fields"},
      {good + " extra=1", "unknown field"},
      {good + " junk", "without '='"},
      {"v1 gen=x slot=1 next=1 bytes=1 chunks=1 xxh3=0000000000000000 pos=1,2,3,4", "'gen' is not a count"},
      {"v1 gen=1 slot=2 next=1 bytes=1 chunks=1 xxh3=0000000000000000 pos=1,2,3,4", "slot"},
      {"v1 gen=1 slot=0 next=1 bytes=1 chunks=1 xxh3=zz pos=1,2,3,4", "xxh3"},
      {"v1 gen=1 slot=0 next=1 bytes=1 chunks=0 xxh3=0000000000000000 pos=1,2,3,4", "chunk count"},
      {"v1 gen=1 slot=0 next=1 bytes=1024 chunks=99999999 xxh3=0000000000000000 pos=1,2,3,4", "chunk count"},
      {"v1 gen=1 slot=0 next=1 bytes=1 chunks=1 xxh3=0000000000000000 pos=1,2,3", "partition positions"},
      {"v1 gen=1 slot=0 next=1 bytes=1 chunks=1 xxh3=0000000000000000 pos=1,2,3,4,5", "partition positions"},
      {"v1 gen=1 slot=0 next=1 bytes=1 chunks=1 xxh3=0000000000000000 pos=1,,3,4", "partition positions"},
      {"v1 gen=99999999999999999999999 slot=0 next=1 bytes=1 chunks=1 xxh3=0000000000000000 pos=1,2,3,4", "count"},
  };
  for (const Case& c : cases) {
    SnapshotManifest m;
    const absl::Status s = ParseManifest(c.text, 4, &m);
    EXPECT_FALSE(s.ok()) << c.text;
    EXPECT_NE(s.message().find(c.why), std::string::npos) << c.text << " -> " << s.message();
  }
}

}  // namespace
}  // namespace dg
