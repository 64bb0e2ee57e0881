// AccountStore on Redis: every key of a member carries the member's bucket hash tag
// (docs/rewards.md lists them); a commit is one Lua script (lua/commit.lua). Thread-safe.
#pragma once

#include <deque>
#include <string_view>

#include "account_store.h"
#include "tessera/idempotency.h"
#include "tessera/redis.h"

namespace tessera::rewards {

class RedisAccountStore final : public AccountStore {
 public:
  // `pool` (and `pipeline`, when given) must outlive the store. Without a pipeline CommitAsync
  // commits on the caller's thread through the pool. `idempotency`: the in-flight marker's TTL
  // and the format records are written in (both are read).
  explicit RedisAccountStore(RedisPool& pool, IdempotencyOptions idempotency = {}, RedisPipeline* pipeline = nullptr);

  LoadResult Load(const LoadRequest& request) override;
  CommitResult Commit(const CommitRequest& request) override;
  // Through the pipeline: `done` runs on the pipeline's thread.
  void CommitAsync(const CommitRequest& request, CommitCallback done) override;
  void AbandonIdempotency(const IdempotencyRef& ref) override;
  LedgerPage Ledger(const std::string& member_id, std::optional<int64_t> before_seq, int limit) override;
  LedgerTotals LedgerForAudit(const std::string& member_id) override;
  bool AddNote(const std::string& member_id, const std::string& note_json) override;
  std::vector<std::string> Notes(const std::string& member_id, int offset, int limit) override;
  std::vector<std::string> DueMembers(int bucket, int64_t now_ms, int limit) override;
  std::vector<int> DueBuckets(int64_t now_ms) override;  // one round trip for all buckets
  void PostponeDue(const std::string& member_id, int64_t until_ms) override;
  // One round trip reads the three hashes, one more deletes (when anything is due).
  PrunedRecords PruneRecords(const std::string& member_id, int64_t before_ms) override;
  bool ForgetDueIfGone(const std::string& member_id) override;
  bool TryLockBucket(int bucket, const std::string& owner, int64_t ttl_ms) override;
  void UnlockBucket(int bucket, const std::string& owner) override;
  bool ReserveAgentPoints(const std::string& agent_id, int64_t day, int64_t points, int64_t cap) override;
  void ReleaseAgentPoints(const std::string& agent_id, int64_t day, int64_t points) override;

  // Key names, for tests and docs.
  static std::string StateKey(const std::string& member_id);
  static std::string DueKey(int bucket);

 private:
  // commit.lua's keys and arguments: views of the request's strings and of the few this object
  // makes (key names, numbers), so a commit's events and records are copied once, into the
  // command. Valid while both live; it does not move (the views point into it).
  class CommitCall {
   public:
    // `write_hash`: the idempotency record as a hash (IdempotencyOptions::write_hash).
    CommitCall(const CommitRequest& request, bool write_hash);
    CommitCall(const CommitCall&) = delete;
    CommitCall& operator=(const CommitCall&) = delete;
    std::vector<std::string_view> keys, args;

   private:
    std::string_view Own(std::string value) { return made_.emplace_back(std::move(value)); }
    std::deque<std::string> made_;  // a deque: adding never moves what views already point at
  };
  static CommitResult ParseCommit(const RedisValue& reply);

  RedisPool& pool_;
  RedisPipeline* pipeline_;
  IdempotencyStore idempotency_;
};

}  // namespace tessera::rewards
