// The idempotency protocol against real Redis, including a kill -9 of redis-server under load:
// after AOF recovery every idempotency record has its change and every change has its record.
#include "tessera/idempotency.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tessera/keys.h"
#include "tessera/lua_library.h"
#include "testing.h"

namespace tessera {
namespace {

using testing::RedisServer;

// A miniature "domain" script built on the shared library exactly as services build theirs:
// check the record, apply the change, append the event, store the response — one script.
// KEYS: idem record, counter, applied set, outbox stream. ARGV: request hash, request id.
const LuaScript& ApplyScript() {
  static const LuaScript* s = new LuaScript(MakeScript("test_apply", R"lua(
local done = tessera_idem_check(KEYS[1], ARGV[1])
if done then return {'replay', done[1], done[2]} end
local n = redis.call('INCR', KEYS[2])
redis.call('SADD', KEYS[3], ARGV[2])
tessera_outbox_append(KEYS[4], 'tessera.ledger.v1', 'm-1', '{"event_id":"' .. ARGV[2] .. '"}')
local body = '{"applied":' .. n .. '}'
tessera_idem_store(KEYS[1], ARGV[1], 201, body, 86400000)
return {'applied', '201', body}
)lua"));
  return *s;
}

struct Keys {
  std::string record(const std::string& key) const { return IdempotencyKey("{b01}", "test", key); }
  std::string counter = "tessera:{b01}:counter";
  std::string applied = "tessera:{b01}:applied";
  std::string outbox = OutboxStream("{b01}", "test");
};

RedisPool MakePool(const RedisServer& server) {
  RedisOptions o;
  o.url = ParseRedisUrl(server.Url());
  o.pool_size = 8;
  o.command_timeout = std::chrono::milliseconds(500);
  return RedisPool(o);
}

TEST(Idempotency, ProceedInProgressReplayMismatch) {
  RedisServer server;
  RedisOptions o;
  o.url = ParseRedisUrl(server.Url());
  RedisPool pool(o);
  IdempotencyStore store(pool);
  Keys k;
  const std::string hash = IdempotencyStore::RequestHash("POST", "/v1/x", R"({"points":5})");

  EXPECT_EQ(store.Begin(k.record("key-1"), hash).outcome, IdempotencyOutcome::kProceed);
  EXPECT_EQ(store.Begin(k.record("key-1"), hash).outcome, IdempotencyOutcome::kInProgress);
  EXPECT_EQ(store.Begin(k.record("key-1"), "other").outcome, IdempotencyOutcome::kMismatch);

  RedisValue v = pool.Eval(ApplyScript(), {k.record("key-1"), k.counter, k.applied, k.outbox}, {hash, "r1"});
  EXPECT_EQ(v.elements[0].AsString(), "applied");

  auto replay = store.Begin(k.record("key-1"), hash);
  ASSERT_EQ(replay.outcome, IdempotencyOutcome::kReplay);
  EXPECT_EQ(replay.response.status, 201);
  EXPECT_EQ(replay.response.body, R"({"applied":1})");
  // A retry that raced past the marker is still applied once: the script replays.
  RedisValue again = pool.Eval(ApplyScript(), {k.record("key-1"), k.counter, k.applied, k.outbox}, {hash, "r1"});
  EXPECT_EQ(again.elements[0].AsString(), "replay");
  EXPECT_EQ(pool.Command({"GET", k.counter}).AsInt(), 1);
  EXPECT_EQ(store.Begin(k.record("key-1"), "other").outcome, IdempotencyOutcome::kMismatch);
  // The record expires after 24 h.
  EXPECT_GT(pool.Command({"PTTL", k.record("key-1")}).AsInt(), 23 * 3600 * 1000);

  // Abandon clears an in-flight marker (nothing was applied) so a retry may proceed.
  EXPECT_EQ(store.Begin(k.record("key-2"), hash).outcome, IdempotencyOutcome::kProceed);
  store.Abandon(k.record("key-2"), hash);
  EXPECT_EQ(store.Begin(k.record("key-2"), hash).outcome, IdempotencyOutcome::kProceed);
  // Abandon never removes a completed record.
  store.Abandon(k.record("key-1"), hash);
  EXPECT_EQ(store.Begin(k.record("key-1"), hash).outcome, IdempotencyOutcome::kReplay);
}

// Records are read in both formats and written in the one asked for: hashes (what releases before
// 2026-11-25 read) or strings. A body with spaces and line breaks comes back byte for byte.
TEST(Idempotency, RecordsOfBothFormatsAreReadAndTheChosenOneIsWritten) {
  RedisServer server;
  RedisPool pool = MakePool(server);
  IdempotencyOptions as_hash;
  as_hash.write_hash = true;
  IdempotencyStore hashes(pool, as_hash), strings(pool);
  Keys k;
  const std::string hash = IdempotencyStore::RequestHash("POST", "/v1/x", "{}");
  const std::string body = "{\"detail\":\"two words\\nand a line\"}\n second line";

  for (IdempotencyStore* writer : {&hashes, &strings}) {
    const std::string key = k.record(writer == &hashes ? "h" : "s");
    ASSERT_EQ(writer->Begin(key, hash).outcome, IdempotencyOutcome::kProceed);
    EXPECT_EQ(pool.Command({"TYPE", key}).AsString(), writer == &hashes ? "hash" : "string");
    for (IdempotencyStore* reader : {&hashes, &strings}) {
      EXPECT_EQ(reader->Begin(key, hash).outcome, IdempotencyOutcome::kInProgress);
      EXPECT_EQ(reader->Begin(key, "other").outcome, IdempotencyOutcome::kMismatch);
    }
    writer->Complete(key, hash, 409, body);
    EXPECT_GT(pool.Command({"PTTL", key}).AsInt(), 23 * 3600 * 1000);
    for (IdempotencyStore* reader : {&hashes, &strings}) {
      const IdempotencyBegin again = reader->Begin(key, hash);
      ASSERT_EQ(again.outcome, IdempotencyOutcome::kReplay);
      EXPECT_EQ(again.response.status, 409);
      EXPECT_EQ(again.response.body, body);
    }
    // A domain script finds the record too, and replays instead of applying.
    RedisValue v = pool.Eval(ApplyScript(), {key, k.counter, k.applied, k.outbox}, {hash, "r"});
    EXPECT_EQ(v.elements[0].AsString(), "replay");
    EXPECT_EQ(v.elements[2].AsString(), body);
  }
  EXPECT_EQ(pool.Command({"GET", k.record("s")}).AsString(), "409 " + hash + "\n" + body);
  EXPECT_EQ(pool.Command({"GET", k.record("s")}).AsString(), IdempotencyStore::StringRecord(409, hash, body))
      << "the record a script is handed whole (rewards' commit) is the one the library writes";
  EXPECT_EQ(pool.Command({"HGET", k.record("h"), "s"}).AsString(), "409");
  EXPECT_EQ(pool.Command({"GET", k.counter}).IsNil(), true) << "nothing was applied";

  // A replica writing hashes completes a request another replica marked as a string: the hash
  // cannot go over the string, so the record is written as a string (the change before it in
  // the same script must not be left without its record).
  ASSERT_EQ(strings.Begin(k.record("mixed"), hash).outcome, IdempotencyOutcome::kProceed);
  hashes.Complete(k.record("mixed"), hash, 201, body);
  EXPECT_EQ(pool.Command({"TYPE", k.record("mixed")}).AsString(), "string");
  const IdempotencyBegin mixed = hashes.Begin(k.record("mixed"), hash);
  ASSERT_EQ(mixed.outcome, IdempotencyOutcome::kReplay);
  EXPECT_EQ(mixed.response.body, body);

  // Abandon clears an in-flight marker of either format.
  for (IdempotencyStore* writer : {&hashes, &strings}) {
    const std::string key = k.record(writer == &hashes ? "h2" : "s2");
    ASSERT_EQ(writer->Begin(key, hash).outcome, IdempotencyOutcome::kProceed);
    (writer == &hashes ? strings : hashes).Abandon(key, hash);
    EXPECT_EQ(pool.Command({"EXISTS", key}).AsInt(), 0);
  }
}

TEST(Idempotency, RecordAndChangeSurviveOrVanishTogetherWhenRedisIsKilled) {
  RedisServer server(/*append_only=*/true);
  Keys k;
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> writers;
  std::mutex mu;
  std::set<std::string> acked_ids;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      RedisPool pool = MakePool(server);
      for (int i = 0; !stop.load(); ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        try {
          pool.Eval(ApplyScript(), {k.record(id), k.counter, k.applied, k.outbox}, {"h-" + id, id});
          acknowledged++;
          std::lock_guard lock(mu);
          acked_ids.insert(id);
        } catch (const UnavailableError&) {
          return;  // Redis is gone: this writer stops
        }
      }
    });
  }
  ASSERT_TRUE(testing::WaitFor([&] { return acknowledged.load() > 500; }, std::chrono::seconds(20)));
  server.Kill();
  stop = true;
  for (auto& w : writers) w.join();
  server.Start();

  RedisPool pool = MakePool(server);
  const long long counter = pool.Command({"GET", k.counter}).AsInt();
  const long long applied = pool.Command({"SCARD", k.applied}).AsInt();
  const long long events = pool.Command({"XLEN", k.outbox}).AsInt();
  RedisValue records = pool.Command({"KEYS", "tessera:{b01}:idem:test:*"});
  std::cout << "[ fault    ] killed redis-server after " << acknowledged.load()
            << " acknowledged scripts; after AOF replay: counter=" << counter << " applied=" << applied
            << " events=" << events << " records=" << records.elements.size() << std::endl;
  EXPECT_EQ(counter, applied);
  EXPECT_EQ(events, applied);
  EXPECT_EQ(static_cast<long long>(records.elements.size()), applied);
  // Every acknowledged request survived (appendfsync always) and carries its record: sent again,
  // it is replayed with its first answer.
  IdempotencyStore store(pool);
  for (const auto& id : acked_ids) {
    ASSERT_EQ(pool.Command({"SISMEMBER", k.applied, id}).AsInt(), 1) << id;
    const IdempotencyBegin again = store.Begin(k.record(id), "h-" + id);
    ASSERT_EQ(again.outcome, IdempotencyOutcome::kReplay) << id;
    ASSERT_EQ(again.response.status, 201) << id;
  }
}

}  // namespace
}  // namespace tessera
