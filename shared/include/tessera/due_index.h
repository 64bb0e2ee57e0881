// Due indexes in Redis: per bucket, a sorted set of ids scored by the Unix ms at which each comes
// due (the rewards sweep's members, the notifications dispatcher's deliveries). Background loops
// look at all buckets first and lock or read only those with something due.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tessera/redis.h"

namespace tessera {

// The buckets 0..kBucketCount-1, ascending, whose index (`index_key(bucket)`) holds an id due at
// or before `now_ms`: one pipelined round trip of `ZRANGE key -inf now BYSCORE LIMIT 0 1`.
// Throws UnavailableError, or DependencyError when a key is not a sorted set.
std::vector<int> BucketsWithDue(RedisPool& pool, const std::function<std::string(int bucket)>& index_key,
                                int64_t now_ms);

// Moves `id` in the index at `key` to `until_ms`, never earlier than its score now (a writer
// meanwhile may have set a later one), and only if it is still indexed (ZADD XX GT). For an item
// a loop could not handle: it comes back then instead of at every pass.
void PostponeDue(RedisPool& pool, const std::string& key, const std::string& id, int64_t until_ms);

}  // namespace tessera
