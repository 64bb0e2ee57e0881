// MemberCache: a guess at each member's state, never stepping back to an older version, and
// handing back what it replaced so the caller chooses the thread that frees it.
#include "member_cache.h"

#include <gtest/gtest.h>

namespace tessera::rewards {
namespace {

MemberState StateAt(int64_t seq, const std::string& tier = "silver") {
  MemberState s;
  s.seq = seq;
  s.member_id = "m-1";
  s.tier = tier;
  return s;
}

TEST(MemberCache, KeepsTheLatestVersionAndHandsBackWhatItDoesNotKeep) {
  MemberCache cache(100);
  EXPECT_FALSE(cache.Get("m-1"));
  EXPECT_TRUE(cache.Put("m-1", StateAt(1), 1).member_id.empty()) << "nothing was replaced";
  ASSERT_TRUE(cache.Get("m-1"));
  EXPECT_EQ(cache.Get("m-1")->state.seq, 1);
  EXPECT_EQ(cache.Get("m-1")->version, 1);

  MemberState left = cache.Put("m-1", StateAt(2, "gold"), 2);
  EXPECT_EQ(left.seq, 1) << "the replaced state comes back";
  EXPECT_EQ(cache.Get("m-1")->state.tier, "gold");
  EXPECT_EQ(cache.Get("m-1")->version, 2);

  left = cache.Put("m-1", StateAt(9, "bronze"), 1);  // an older version: not stored
  EXPECT_EQ(left.seq, 9) << "a state not stored comes back as it was";
  EXPECT_EQ(cache.Get("m-1")->state.tier, "gold");

  EXPECT_EQ(cache.Put("m-1", StateAt(3), 2).seq, 2) << "the same version replaces";
  cache.Erase("m-1");
  EXPECT_FALSE(cache.Get("m-1"));
}

TEST(MemberCache, CapacityZeroKeepsNothingAndAFullShardStartsOver) {
  MemberCache off(0);
  EXPECT_EQ(off.Put("m-1", StateAt(4), 1).seq, 4);
  EXPECT_FALSE(off.Get("m-1"));

  MemberCache small(32);  // one entry per shard
  for (int i = 0; i < 1000; ++i) small.Put("m-" + std::to_string(i), StateAt(i), 1);
  int kept = 0;
  for (int i = 0; i < 1000; ++i) kept += small.Get("m-" + std::to_string(i)).has_value();
  EXPECT_GE(kept, 1);
  EXPECT_LE(kept, 32);
  ASSERT_TRUE(small.Get("m-999")) << "the last one put is kept";
  EXPECT_EQ(small.Get("m-999")->state.seq, 999);
}

}  // namespace
}  // namespace tessera::rewards
