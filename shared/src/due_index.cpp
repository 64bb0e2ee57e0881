#include "tessera/due_index.h"

#include "tessera/keys.h"

namespace tessera {

std::vector<int> BucketsWithDue(RedisPool& pool, const std::function<std::string(int bucket)>& index_key,
                                int64_t now_ms) {
  const std::string now = std::to_string(now_ms);
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(kBucketCount);
  for (int b = 0; b < kBucketCount; ++b) cmds.push_back({"ZRANGE", index_key(b), "-inf", now, "BYSCORE", "LIMIT", "0", "1"});
  const auto replies = pool.Pipeline(cmds);
  std::vector<int> due;
  for (int b = 0; b < kBucketCount; ++b) {
    if (!replies[b].ThrowIfError().elements.empty()) due.push_back(b);
  }
  return due;
}

void PostponeDue(RedisPool& pool, const std::string& key, const std::string& id, int64_t until_ms) {
  pool.Command({"ZADD", key, "XX", "GT", std::to_string(until_ms), id}).ThrowIfError();
}

}  // namespace tessera
