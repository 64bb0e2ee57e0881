// RedisPool against a real redis-server: commands, scripts, concurrency, and recovery after
// the server is killed and restarted.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tessera/redis.h"
#include "testing.h"

namespace tessera {
namespace {

using testing::RedisServer;

RedisOptions OptionsFor(const RedisServer& server, int pool = 4) {
  RedisOptions o;
  o.url = ParseRedisUrl(server.Url());
  o.pool_size = pool;
  o.command_timeout = std::chrono::milliseconds(500);
  o.connect_timeout = std::chrono::milliseconds(500);
  return o;
}

TEST(RedisPool, CommandsPipelinesAndScripts) {
  RedisServer server;
  RedisPool pool(OptionsFor(server));
  EXPECT_TRUE(pool.Ping());
  EXPECT_EQ(pool.Command({"SET", "k", "v with spaces\r\n"}).AsString(), "OK");
  EXPECT_EQ(pool.Command({"GET", "k"}).AsString(), "v with spaces\r\n");
  EXPECT_TRUE(pool.Command({"GET", "missing"}).IsNil());
  auto replies = pool.Pipeline({{"INCR", "n"}, {"INCRBY", "n", "41"}, {"HSET", "k", "f", "v"}});
  EXPECT_EQ(replies[1].AsInt(), 42);
  EXPECT_TRUE(replies[2].IsError());  // WRONGTYPE comes back as a value, not an exception
  EXPECT_THROW(replies[2].ThrowIfError(), DependencyError);

  LuaScript script("sum", "return tonumber(ARGV[1]) + tonumber(ARGV[2])");
  EXPECT_EQ(pool.Eval(script, {}, {"2", "3"}).AsInt(), 5);
  // After SCRIPT FLUSH (as after a Redis restart) EVALSHA meets NOSCRIPT and reloads.
  pool.Command({"SCRIPT", "FLUSH"});
  EXPECT_EQ(pool.Eval(script, {}, {"20", "3"}).AsInt(), 23);
  EXPECT_THROW(pool.Eval(LuaScript("bad", "return redis.call('NOPE')"), {}, {}), DependencyError);
}

// Replies are built by hiredis's reader straight into RedisValue trees: every type, nested
// arrays with nil and empty members, errors inside arrays, and a reply the pool abandons when
// its command times out halfway through reading it.
TEST(RedisPool, RepliesOfEveryShapeArriveWhole) {
  RedisServer server;
  RedisPool pool(OptionsFor(server));
  LuaScript shapes("shapes",
                   "return {1, 'two', false, {}, {'a', {ARGV[1], false, -3}}, redis.status_reply('FINE'),"
                   " redis.error_reply('ERR inside')}");
  const std::string big(100000, 'x');
  const RedisValue v = pool.Eval(shapes, {}, {big});
  ASSERT_EQ(v.type, RedisValue::Type::kArray);
  ASSERT_EQ(v.elements.size(), 7u);  // Lua stops an array at its first nil; false is a nil reply
  EXPECT_EQ(v.elements[0].AsInt(), 1);
  EXPECT_EQ(v.elements[1].AsString(), "two");
  EXPECT_EQ(v.elements[1].type, RedisValue::Type::kString);
  EXPECT_TRUE(v.elements[2].IsNil());
  EXPECT_EQ(v.elements[3].type, RedisValue::Type::kArray);
  EXPECT_TRUE(v.elements[3].elements.empty());
  const RedisValue& nested = v.elements[4].elements.at(1);
  ASSERT_EQ(nested.elements.size(), 3u);
  EXPECT_EQ(nested.elements[0].AsString(), big);
  EXPECT_TRUE(nested.elements[1].IsNil());
  EXPECT_EQ(nested.elements[2].AsInt(), -3);
  EXPECT_EQ(v.elements[5].type, RedisValue::Type::kStatus);
  EXPECT_EQ(v.elements[5].AsString(), "FINE");
  EXPECT_TRUE(v.elements[6].IsError());
  EXPECT_EQ(v.elements[6].str, "ERR inside");

  // A stream read: four levels deep.
  pool.Command({"XADD", "s", "1-1", "topic", "t", "value", "{}"}).ThrowIfError();
  const RedisValue x = pool.Command({"XREAD", "STREAMS", "s", "0-0"});
  const RedisValue& entry = x.elements.at(0).elements.at(1).elements.at(0);
  EXPECT_EQ(x.elements[0].elements[0].AsString(), "s");
  EXPECT_EQ(entry.elements.at(0).AsString(), "1-1");
  ASSERT_EQ(entry.elements.at(1).elements.size(), 4u);
  EXPECT_EQ(entry.elements[1].elements[3].AsString(), "{}");

  // 200 000 members of 100 bytes do not arrive within 1 ms: the connection is dropped with a
  // part-built reply inside (freed with it), and the next command gets a fresh connection.
  std::vector<std::string> push = {"RPUSH", "long"};
  for (int i = 0; i < 2000; ++i) push.push_back(std::string(100, static_cast<char>('a' + i % 26)));
  for (int i = 0; i < 100; ++i) pool.Command(push).ThrowIfError();
  RedisOptions hasty = OptionsFor(server);
  hasty.command_timeout = std::chrono::milliseconds(1);
  RedisPool hasty_pool(hasty);
  int timed_out = 0;
  for (int i = 0; i < 5; ++i) {
    try {
      EXPECT_EQ(hasty_pool.Command({"LRANGE", "long", "0", "-1"}).elements.size(), 200000u);
    } catch (const UnavailableError&) {
      ++timed_out;
    }
  }
  EXPECT_GT(timed_out, 0);
  EXPECT_EQ(pool.Command({"LLEN", "long"}).AsInt(), 200000);
  EXPECT_EQ(pool.Command({"LINDEX", "long", "-1"}).AsString(), std::string(100, 'a' + 1999 % 26));
}

TEST(RedisPool, ConnectsOverAUnixSocket) {
  RedisServer server;
  RedisOptions o = OptionsFor(server);
  o.url = ParseRedisUrl(server.SocketUrl());
  RedisPool pool(o);
  EXPECT_TRUE(pool.Ping());
  EXPECT_EQ(pool.Command({"SET", "k", "over the socket"}).AsString(), "OK");
  // The same server as over TCP.
  RedisPool tcp(OptionsFor(server));
  EXPECT_EQ(tcp.Command({"GET", "k"}).AsString(), "over the socket");

  RedisOptions missing = o;
  missing.url = ParseRedisUrl("unix:///nonexistent/redis.sock");
  RedisPool nowhere(missing);
  try {
    nowhere.Command({"PING"});
    FAIL() << "expected UnavailableError";
  } catch (const UnavailableError& e) {
    EXPECT_NE(std::string(e.what()).find("unix:/nonexistent/redis.sock"), std::string::npos) << e.what();
  }
}

TEST(RedisPool, IsSafeUnderManyThreads) {
  RedisServer server;
  RedisPool pool(OptionsFor(server, 4));
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) pool.Command({"INCR", "counter"}).ThrowIfError();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(pool.Command({"GET", "counter"}).AsInt(), 8000);
}

TEST(RedisPool, RecoversAfterRedisRestartsAndFailsFastWhileDown) {
  RedisServer server;
  RedisPool pool(OptionsFor(server, 4));
  // Open several connections so that all of them go stale on restart.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { pool.Command({"INCR", "warm"}); });
  for (auto& t : threads) t.join();
  pool.Command({"SET", "durable", "1"});

  server.Kill();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(pool.Command({"GET", "durable"}), UnavailableError);
  EXPECT_THROW(pool.Command({"GET", "durable"}), UnavailableError);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_FALSE(pool.Ping());

  server.Start();  // same port, AOF replayed
  int failures = 0;
  for (int i = 0; i < 50; ++i) {
    try {
      EXPECT_EQ(pool.Command({"GET", "durable"}).AsString(), "1");
    } catch (const UnavailableError&) {
      ++failures;
    }
  }
  EXPECT_LE(failures, 1) << "stale connections must be dropped together";
  EXPECT_TRUE(pool.Ping());
}

TEST(RedisPool, UnreachableServerIsUnavailableNotAHang) {
  RedisOptions o;
  o.url = ParseRedisUrl("redis://127.0.0.1:" + std::to_string(testing::FreePort()));
  RedisPool pool(o);
  EXPECT_THROW(pool.Command({"PING"}), UnavailableError);
  EXPECT_FALSE(pool.Ping());
}

}  // namespace
}  // namespace tessera
