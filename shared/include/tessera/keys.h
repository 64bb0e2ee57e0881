// The Redis key layout (docs/redis-keys.md). Every key that belongs to a member carries the
// hash tag of the member's bucket, `{bNN}`, so a member's keys and the outbox stream its
// changes are written to share one Redis Cluster slot, and one Lua script can touch them all.
//
//   bucket(member)  = FNV-1a-32(member_id) mod kBucketCount
//   member key      = tessera:{bNN}:m:<member_id>:<kind>
//   cached member key = tessera:mc:{bNN}:<member_id>:<kind>  (replicas may hold a copy in
//                     memory: every write to one is broadcast to them, docs/redis-keys.md)
//   outbox stream   = tessera:{bNN}:outbox:<service>
//   idempotency     = tessera:{<tag>}:idem:<scope>:<sha256(Idempotency-Key)>
//   global state    = tessera:{g:<service>}:<kind>, outbox tessera:{g:<service>}:outbox:<service>
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

inline constexpr int kBucketCount = 64;

uint32_t Fnv1a32(std::string_view data);
int MemberBucket(std::string_view member_id);
// "{b07}"
std::string BucketTag(int bucket);
// "{g:offers}": the tag of a service's state that belongs to no member.
std::string GlobalTag(std::string_view service);

std::string MemberKey(std::string_view member_id, std::string_view kind);
// A member key that service replicas may keep a copy of in memory. Redis broadcasts the name of
// every such key that changes to the replicas that asked (CLIENT TRACKING ... BCAST with
// CachedMemberKeyPrefixes()), so only keys a replica caches carry this prefix.
std::string CachedMemberKey(std::string_view member_id, std::string_view kind);
// The prefixes that cover every cached member key and nothing else ("tessera:mc:").
std::vector<std::string> CachedMemberKeyPrefixes();
// The member id of a CachedMemberKey, or "" when `key` is not one.
std::string MemberOfCachedKey(std::string_view key);
std::string OutboxStream(std::string_view tag, std::string_view service);
// The outbox streams a service's relay publishes: one per bucket, then the global one.
std::vector<std::string> OutboxStreams(std::string_view service);
// The relays of a service that are alive (a sorted set: relay owner -> expiry in ms), from which
// each relay works out its share of OutboxStreams(service).
std::string OutboxRelayRegistry(std::string_view service);
std::string IdempotencyKey(std::string_view tag, std::string_view scope, std::string_view key);

}  // namespace tessera
