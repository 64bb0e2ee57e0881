// Invalidations for an in-process copy of Redis keys (Redis client-side caching, CLIENT
// TRACKING in broadcast mode; RESP2 redirect form, as hiredis 0.14 has no RESP3).
//
// One connection turns tracking on for `prefixes` with REDIRECT to itself and subscribes to
// `__redis__:invalidate`. From then on Redis sends it the name of every key under a prefix that
// any client changes (and "everything" on FLUSHALL/FLUSHDB), in the same event-loop turn in which
// it answers the client that made the change. Handlers run on the thread that reads them.
//
// Contract for a cache built on it:
//  - Use the cache only while Sync() returns true. Sync() first applies every invalidation that
//    has reached this host, and waits for one that another thread is applying.
//  - Redis writes a change's invalidation in the same event-loop turn as the writer's answer,
//    but not necessarily before it. A writer whose change must be visible on every replica when
//    it answers makes one more round trip to Redis (any command) after the write: Redis sends all
//    of a turn's output before it reads the next command, so by then the invalidation has left
//    Redis (on one host it is already in the replica's socket; across a network it is ahead of
//    the writer's answer by the hops the answer still has to make).
//  - Hold nothing while Sync() is false: the connection is down, invalidations may have been
//    lost. `all` runs whenever the connection is lost or (re)made, so a cache that clears itself
//    on `all` never keeps an entry across a gap.
//  - A value read from Redis may be superseded before it is stored (the invalidation arrives in
//    between): the cache must refuse to store a value read before an invalidation it has seen
//    (see OfferListCache's tickets).
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/logging.h"
#include "tessera/redis.h"

namespace tessera {

class RedisInvalidations {
 public:
  struct Handlers {
    std::function<void(std::string_view key)> key;  // this key changed or was deleted
    std::function<void()> all;                      // anything may have changed
  };
  RedisInvalidations(RedisOptions options, std::vector<std::string> prefixes, Handlers handlers, Logger& logger);
  ~RedisInvalidations();
  RedisInvalidations(const RedisInvalidations&) = delete;
  RedisInvalidations& operator=(const RedisInvalidations&) = delete;

  // Connects, reads invalidations and reconnects (backing off up to 1 s) until `stop`; a
  // background task. Handlers are called from this thread and from Sync()'s callers, never
  // from two threads at once.
  void Run(std::stop_token stop);
  // True when the subscription is live and every invalidation received so far is applied.
  bool Sync();
  // Connections made so far (a test and metrics hook).
  uint64_t connections() const { return connections_.load(); }

 private:
  void Connect();
  // With mu_ held: reads what has arrived and applies it; on a lost connection, Lose().
  void DrainLocked();
  // With mu_ held: closes the connection, Sync() turns false and `all` runs.
  void CloseLocked();
  void LoseLocked(const std::string& why);

  RedisOptions options_;
  std::vector<std::string> prefixes_;
  Handlers handlers_;
  Logger& logger_;
  std::mutex mu_;  // guards ctx_ and every call of a handler
  RedisContextPtr ctx_;
  std::atomic<int> fd_{-1};
  std::atomic<bool> live_{false};
  std::atomic<uint64_t> draining_{0};  // odd while a thread is applying what it read
  std::atomic<uint64_t> connections_{0};
};

}  // namespace tessera
