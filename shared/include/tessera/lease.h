// Leases in Redis: a key holding its owner's name with a TTL, so that one replica at a time does
// a piece of work (an outbox stream, a sweep bucket, a dispatcher bucket). Taking a lease that
// is free or already ours succeeds and renews it; a lease that lapses (its owner died) is free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/redis.h"

namespace tessera {

// KEYS[1] lease key; ARGV[1] owner, ARGV[2] ttl ms, ARGV[3] "acquire" | "release". Returns 1
// when the lease is (now) ours. For callers that pipeline many leases with EVALSHA.
const LuaScript& LeaseScript();

// Takes or renews `key` for `owner` for `ttl_ms`. Throws UnavailableError.
bool AcquireLease(RedisPool& pool, const std::string& key, const std::string& owner, int64_t ttl_ms);
// AcquireLease for many keys in one round trip: element i is true when keys[i] is (now) ours.
// Throws UnavailableError; a key the script cannot take (not a string) throws DependencyError.
std::vector<bool> AcquireLeases(RedisPool& pool, const std::vector<std::string>& keys, const std::string& owner,
                                int64_t ttl_ms);
// Gives `key` up if `owner` holds it.
void ReleaseLease(RedisPool& pool, const std::string& key, const std::string& owner);

// Membership of a group of replicas that share leases: `registry` is a sorted set of owner ->
// expiry (Redis server time, ms). Renewing records `owner` as alive for `ttl_ms`, drops
// members whose time ran out, and returns how many are alive (itself included). Throws
// UnavailableError.
int64_t RenewMembership(RedisPool& pool, const std::string& registry, const std::string& owner, int64_t ttl_ms);
// Takes `owner` out of the group at once (a clean shutdown), so the others need not wait for
// its time to run out.
void LeaveMembership(RedisPool& pool, const std::string& registry, const std::string& owner);

}  // namespace tessera
