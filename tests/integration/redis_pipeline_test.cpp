// RedisPipeline against a real redis-server: replies reach their callbacks in order from many
// submitting threads, scripts (and NOSCRIPT), and what the callbacks get when Redis goes away.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "tessera/metrics.h"
#include "tessera/redis.h"
#include "testing.h"

namespace tessera {
namespace {

using testing::RedisServer;

RedisOptions OptionsFor(const std::string& url) {
  RedisOptions o;
  o.url = ParseRedisUrl(url);
  o.command_timeout = std::chrono::milliseconds(500);
  o.connect_timeout = std::chrono::milliseconds(500);
  return o;
}

// Submits one command and waits for its callback.
std::pair<RedisValue, std::exception_ptr> Call(RedisPipeline& pipeline, std::vector<std::string> args,
                                               const LuaScript* script = nullptr) {
  std::promise<std::pair<RedisValue, std::exception_ptr>> p;
  auto done = [&p](RedisValue v, std::exception_ptr e) { p.set_value({std::move(v), e}); };
  if (script) {
    pipeline.Eval(*script, {}, args, done);
  } else {
    pipeline.Command(std::move(args), done);
  }
  return p.get_future().get();
}

// Submits a PING whose callback holds the pipeline's thread until the returned promise is set,
// and returns once the callback runs: what is submitted meanwhile queues, and goes out in
// batches once released.
std::promise<void> HoldThePipeline(RedisPipeline& pipeline) {
  auto entered = std::make_shared<std::promise<void>>();  // outlives this function if need be
  std::future<void> in_callback = entered->get_future();
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  pipeline.Command({"PING"}, [entered, released](RedisValue, std::exception_ptr) {
    entered->set_value();
    released.wait();
  });
  in_callback.get();
  return release;
}

TEST(RedisPipeline, CommandsAndScriptsAnswerTheirOwnCallbacks) {
  RedisServer server;
  RedisPipeline pipeline(OptionsFor(server.Url()));
  EXPECT_EQ(Call(pipeline, {"SET", "k", "v\r\n"}).first.AsString(), "OK");
  EXPECT_EQ(Call(pipeline, {"GET", "k"}).first.AsString(), "v\r\n");
  EXPECT_TRUE(Call(pipeline, {"HSET", "k", "f", "v"}).first.IsError());  // WRONGTYPE as a value

  LuaScript sum("sum", "return tonumber(ARGV[1]) + tonumber(ARGV[2])");
  EXPECT_EQ(Call(pipeline, {"2", "3"}, &sum).first.AsInt(), 5);
  // After SCRIPT FLUSH (as after a Redis restart) EVALSHA meets NOSCRIPT and is sent as EVAL.
  Call(pipeline, {"SCRIPT", "FLUSH"});
  EXPECT_EQ(Call(pipeline, {"20", "3"}, &sum).first.AsInt(), 23);
  LuaScript bad("bad", "return redis.call('NOPE')");
  auto [v, error] = Call(pipeline, {}, &bad);
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), DependencyError);
}

// Commands are written in Redis's wire format by the pipeline itself: keys and arguments must
// arrive byte for byte (empty, CR LF inside, 100 000 bytes), also when a NOSCRIPT answer makes
// the pipeline rewrite EVALSHA as EVAL.
TEST(RedisPipeline, KeysAndArgumentsArriveByteForByteBeforeAndAfterNoscript) {
  RedisServer server;
  RedisPipeline pipeline(OptionsFor(server.Url()));
  LuaScript echo("echo", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], #ARGV}");
  const std::vector<std::string> keys = {"k\r\n1", "{tag}:2"};
  const std::vector<std::string> args = {"", "bulk $3\r\nfoo\r\n", std::string(100000, 'x')};
  auto eval = [&] {
    std::promise<std::pair<RedisValue, std::exception_ptr>> p;
    pipeline.Eval(echo, keys, args, [&p](RedisValue v, std::exception_ptr e) { p.set_value({std::move(v), e}); });
    return p.get_future().get();
  };
  for (int round = 0; round < 2; ++round) {
    if (round == 1) Call(pipeline, {"SCRIPT", "FLUSH"});
    auto [v, error] = eval();
    ASSERT_FALSE(error) << "round " << round;
    ASSERT_EQ(v.elements.size(), 6u);
    EXPECT_EQ(v.elements[0].AsString(), keys[0]);
    EXPECT_EQ(v.elements[1].AsString(), keys[1]);
    EXPECT_EQ(v.elements[2].AsString(), args[0]);
    EXPECT_EQ(v.elements[3].AsString(), args[1]);
    EXPECT_EQ(v.elements[4].AsString(), args[2]);
    EXPECT_EQ(v.elements[5].AsInt(), 3);
  }
  // A plain command with the same kinds of arguments.
  EXPECT_EQ(Call(pipeline, {"SET", "", args[2]}).first.AsString(), "OK");
  EXPECT_EQ(Call(pipeline, {"STRLEN", ""}).first.AsInt(), 100000);
}

TEST(RedisPipeline, ManyThreadsGetTheirOwnRepliesInOrder) {
  RedisServer server;
  RedisPipeline pipeline(OptionsFor(server.Url()));
  constexpr int kThreads = 16, kPerThread = 500;
  std::atomic<int> wrong{0}, answered{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread's counter rises by one per command; its replies must arrive 1, 2, 3, ...
      auto next = std::make_shared<std::atomic<long long>>(1);
      for (int i = 0; i < kPerThread; ++i) {
        pipeline.Command({"INCR", "c" + std::to_string(t)}, [&, next](RedisValue v, std::exception_ptr e) {
          if (e || v.AsInt() != next->fetch_add(1)) ++wrong;
          ++answered;
        });
      }
    });
  }
  for (auto& t : threads) t.join();
  while (answered.load() < kThreads * kPerThread) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(wrong.load(), 0);
  RedisPool pool(OptionsFor(server.Url()));
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(pool.Command({"GET", "c" + std::to_string(t)}).AsInt(), kPerThread);
}

TEST(RedisPipeline, KilledRedisFailsCallbacksThenTheNextBatchReconnects) {
  RedisServer server;
  RedisPipeline pipeline(OptionsFor(server.Url()));
  ASSERT_EQ(Call(pipeline, {"SET", "durable", "1"}).first.AsString(), "OK");

  server.Kill();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    auto [v, error] = Call(pipeline, {"GET", "durable"});
    ASSERT_TRUE(error);
    EXPECT_THROW(std::rethrow_exception(error), UnavailableError);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));

  server.Start();  // same port, AOF replayed
  auto [v, error] = Call(pipeline, {"GET", "durable"});
  EXPECT_FALSE(error);
  EXPECT_EQ(v.AsString(), "1");
}

// Redis is killed while threads keep submitting and batches are in flight (the next batch is
// written while the last one's replies are still being read): every callback runs exactly once,
// with its reply or UnavailableError, and the pipeline reconnects once Redis is back.
TEST(RedisPipeline, KillingRedisUnderLoadAnswersEveryCommandOnce) {
  RedisServer server;
  RedisPipeline pipeline(OptionsFor(server.Url()));
  constexpr int kThreads = 8;
  std::atomic<bool> stop{false};
  std::atomic<int> submitted{0}, ok{0}, unavailable{0}, other{0};
  auto count = [&](RedisValue, std::exception_ptr e) {
    if (!e) return void(++ok);
    try {
      std::rethrow_exception(e);
    } catch (const UnavailableError&) {
      ++unavailable;
    } catch (...) {
      ++other;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 1; !stop.load(); ++i) {
        pipeline.Command({"INCR", "n"}, count);
        ++submitted;
        if (i % 32 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // keep it coming
      }
    });
  }
  ASSERT_TRUE(testing::WaitFor([&] { return ok.load() >= 2000; }, std::chrono::seconds(10)));
  server.Kill();
  // The threads keep submitting until commands fail: some were in flight or queued at the kill.
  EXPECT_TRUE(testing::WaitFor([&] { return unavailable.load() > 0; }, std::chrono::seconds(10)));
  stop = true;
  for (auto& t : threads) t.join();
  ASSERT_TRUE(testing::WaitFor([&] { return ok + unavailable + other >= submitted; }, std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a callback run twice would show now
  EXPECT_EQ(ok + unavailable + other, submitted.load());
  EXPECT_EQ(other.load(), 0);
  server.Start();
  auto [v, error] = Call(pipeline, {"PING"});
  EXPECT_FALSE(error);
  EXPECT_EQ(v.AsString(), "PONG");
}

TEST(RedisPipeline, DestructionAnswersEverythingSubmitted) {
  RedisServer server;
  std::atomic<int> answered{0};
  {
    RedisPipeline pipeline(OptionsFor(server.Url()));
    for (int i = 0; i < 1000; ++i) {
      pipeline.Command({"INCR", "n"}, [&](RedisValue, std::exception_ptr) { ++answered; });
    }
  }
  EXPECT_EQ(answered.load(), 1000);
  RedisPool pool(OptionsFor(server.Url()));
  EXPECT_EQ(pool.Command({"GET", "n"}).AsInt(), 1000);
}

// Records the thread that destroys it.
struct FreedBy {
  std::promise<std::thread::id>* where;
  ~FreedBy() { where->set_value(std::this_thread::get_id()); }
};

// An answered command's callback (with what it captured) is freed by the thread that submitted
// it, at that thread's next Submit, while the pipeline is busy; and by the pipeline's own thread
// once it has nothing left to do, so nothing waits on a thread that submits no more.
TEST(RedisPipeline, AnsweredCommandsAreFreedByTheirOwnThreadOrOnceThePipelineIsIdle) {
  RedisServer server;
  RedisPipeline pipeline(OptionsFor(server.Url()));
  std::promise<std::thread::id> freed_busy, freed_idle;
  std::thread::id submitter;
  std::thread([&] {
    submitter = std::this_thread::get_id();
    std::promise<void> blocked, answered;
    // Keeps the pipeline busy: Redis answers this after 300 ms, and what follows waits behind it.
    pipeline.Command({"BLPOP", "nothing", "0.3"}, [&](RedisValue, std::exception_ptr) { blocked.set_value(); });
    auto captured = std::make_shared<FreedBy>(&freed_busy);
    pipeline.Command({"SET", "a", "1"}, [captured, &answered](RedisValue, std::exception_ptr) { answered.set_value(); });
    captured.reset();
    pipeline.Command({"BLPOP", "nothing", "0.5"}, [](RedisValue, std::exception_ptr) {});  // busy again
    blocked.get_future().get();
    answered.get_future().get();
    // The callback has run; the pipeline's thread hands the item back right after, then waits
    // 500 ms for the second BLPOP.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    pipeline.Command({"PING"}, [](RedisValue, std::exception_ptr) {});  // frees the SET's callback here
  }).join();
  auto busy = freed_busy.get_future();
  ASSERT_EQ(busy.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_EQ(busy.get(), submitter);

  std::promise<void> answered;
  auto captured = std::make_shared<FreedBy>(&freed_idle);
  pipeline.Command({"SET", "b", "1"}, [captured, &answered](RedisValue, std::exception_ptr) { answered.set_value(); });
  captured.reset();
  answered.get_future().get();
  auto idle = freed_idle.get_future();  // this thread submits nothing more
  ASSERT_EQ(idle.wait_for(std::chrono::seconds(2)), std::future_status::ready);
  EXPECT_NE(idle.get(), std::this_thread::get_id());
}

// What queues while a batch is in flight goes out in batches of at most kMaxBatch, in order.
TEST(RedisPipeline, AQueueLongerThanABatchGoesOutInBoundedBatchesInOrder) {
  RedisServer server;
  Histogram sizes(RedisPipeline::BatchSizeBuckets());
  RedisPipeline pipeline(OptionsFor(server.Url()), &sizes);
  std::promise<void> queued = HoldThePipeline(pipeline);  // the PING went out alone
  constexpr int kQueued = 1000;
  std::vector<int64_t> replies;
  std::promise<void> all_answered;
  for (int i = 0; i < kQueued; ++i) {
    pipeline.Command({"INCR", "n"}, [&](RedisValue v, std::exception_ptr e) {
      replies.push_back(e ? -1 : v.AsInt());  // only the pipeline's thread runs callbacks
      if (replies.size() == kQueued) all_answered.set_value();
    });
  }
  queued.set_value();
  all_answered.get_future().get();
  for (int i = 0; i < kQueued; ++i) ASSERT_EQ(replies[i], i + 1) << "reply " << i;
  // 1 + 1000 commands: the PING alone, then ceil(1000 / 256) = 4 batches, none above the cap.
  EXPECT_EQ(sizes.Count(), 5u);
  EXPECT_EQ(sizes.Sum(), 1.0 + kQueued);
  EXPECT_EQ(sizes.CumulativeCounts()[sizes.bounds().size() - 1], sizes.Count()) << "a batch above kMaxBatch";
  EXPECT_EQ(sizes.bounds().back(), static_cast<double>(RedisPipeline::kMaxBatch));
}

// A batch far larger than the socket takes in one write (256 commands of 200 000 bytes each,
// written from the commands themselves with writev) arrives whole and in order.
TEST(RedisPipeline, ABatchLargerThanTheSocketBufferArrivesByteForByte) {
  RedisServer server;
  Histogram sizes(RedisPipeline::BatchSizeBuckets());
  RedisPipeline pipeline(OptionsFor(server.Url()), &sizes);
  std::promise<void> queued = HoldThePipeline(pipeline);
  constexpr int kCommands = static_cast<int>(RedisPipeline::kMaxBatch);
  auto value = [](int i) {
    std::string v(200'000, static_cast<char>('a' + i % 26));
    v.replace(0, 8, std::to_string(10'000'000 + i));  // no two alike
    return v;
  };
  std::atomic<int> ok{0};
  std::promise<void> all_answered;
  for (int i = 0; i < kCommands; ++i) {
    pipeline.Command({"SET", "big:" + std::to_string(i), value(i)}, [&, i](RedisValue v, std::exception_ptr e) {
      if (!e && v.AsString() == "OK") ++ok;
      if (i == kCommands - 1) all_answered.set_value();
    });
  }
  queued.set_value();
  all_answered.get_future().get();
  EXPECT_EQ(ok.load(), kCommands);
  EXPECT_EQ(sizes.Count(), 2u) << "the PING, then one batch of them all";
  for (int i : {0, 1, 127, kCommands - 1}) {
    EXPECT_EQ(Call(pipeline, {"GET", "big:" + std::to_string(i)}).first.AsString(), value(i)) << i;
  }
}

TEST(RedisPipeline, UnreachableServerFailsTheCallbackNotAHang) {
  RedisPipeline pipeline(OptionsFor("redis://127.0.0.1:" + std::to_string(testing::FreePort())));
  auto [v, error] = Call(pipeline, {"PING"});
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), UnavailableError);
}

}  // namespace
}  // namespace tessera
