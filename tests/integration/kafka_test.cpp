// Producer and consumer against the development broker: delivery reports, commit-after-handle,
// retry while a dependency is down, dead-lettering of poison messages, resuming from the
// committed offset in a new consumer of the same group, and stopping while the broker is gone.
#include "tessera/kafka.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "tessera/errors.h"
#include "tessera/events.h"
#include "testing.h"

namespace tessera {
namespace {

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

class KafkaTest : public ::testing::Test {
 protected:
  KafkaTest() : logger_("tessera-test", LogLevel::kError, log_, clock_) {
    KafkaProducerOptions o;
    o.brokers = broker_.brokers();
    producer_ = std::make_unique<KafkaProducer>(o, logger_, metrics_);
  }

  // Each value keyed by `key_of(i)` (the partition), "m-1" unless given.
  void ProduceAll(const std::string& topic, const std::vector<std::string>& values,
                  const std::function<std::string(size_t)>& key_of = nullptr) {
    std::atomic<int> ok{0}, failed{0};
    for (size_t i = 0; i < values.size(); ++i) {
      const std::string& v = values[i];
      producer_->Publish(topic, key_of ? key_of(i) : "m-1", v, [&](const std::string& err) { (err.empty() ? ok : failed)++; });
    }
    ASSERT_TRUE(producer_->Flush(std::chrono::seconds(20)));
    ASSERT_EQ(ok.load(), static_cast<int>(values.size()));
    ASSERT_EQ(failed.load(), 0);
  }

  KafkaConsumerOptions ConsumerOptions(const std::string& topic) {
    KafkaConsumerOptions o;
    o.brokers = broker_.brokers();
    o.group_id = "test-group";
    o.topics = {topic};
    o.retry_backoff = std::chrono::milliseconds(20);
    return o;
  }

  SystemClock clock_;
  std::ostringstream log_;
  Logger logger_;
  MetricsRegistry metrics_;
  testing::DevBroker broker_;
  std::unique_ptr<KafkaProducer> producer_;
};

TEST_F(KafkaTest, ProducerDeliversEveryMessageWithItsKey) {
  std::vector<std::string> values;
  for (int i = 0; i < 1000; ++i) values.push_back("v" + std::to_string(i));
  ProduceAll(topics::kLedger, values);
  auto got = testing::ReadTopic(broker_.brokers(), topics::kLedger, 1000, std::chrono::seconds(20));
  ASSERT_EQ(got.size(), 1000u);
  std::set<std::string> seen;
  for (const auto& m : got) {
    EXPECT_EQ(m.key, "m-1");
    seen.insert(m.value);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_TRUE(producer_->Reachable(std::chrono::seconds(2)));
}

TEST_F(KafkaTest, PoisonGoesToTheDeadLetterTopicAndTransientFailuresAreRetried) {
  ProduceAll(topics::kPurchases, {"ok-1", "poison", "flaky", "ok-2"});
  std::mutex mu;
  std::vector<std::string> handled;
  int flaky_attempts = 0;
  KafkaConsumer consumer(
      ConsumerOptions(topics::kPurchases),
      [&](const ConsumedMessage& m) {
        if (m.value == "poison") throw PoisonMessage("payload.total_minor must be an integer");
        std::lock_guard lock(mu);
        if (m.value == "flaky" && ++flaky_attempts < 3) throw UnavailableError("redis down");
        handled.push_back(m.value);
      },
      *producer_, logger_, metrics_);
  consumer.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return consumer.handled() == 4; }, std::chrono::seconds(30)));
  consumer.Stop();
  EXPECT_EQ(handled, (std::vector<std::string>{"ok-1", "flaky", "ok-2"}));
  EXPECT_EQ(flaky_attempts, 3);

  auto dlq = testing::ReadTopic(broker_.brokers(), "tessera.purchases.dlq.v1", 1, std::chrono::seconds(20));
  ASSERT_EQ(dlq.size(), 1u);
  auto record = nlohmann::json::parse(dlq[0].value);
  EXPECT_EQ(record["value"], "poison");
  EXPECT_EQ(record["topic"], "tessera.purchases.v1");
  EXPECT_EQ(record["error"], "payload.total_minor must be an integer");
  EXPECT_EQ(record["consumer_group"], "test-group");
}

TEST_F(KafkaTest, ANewConsumerResumesAfterTheLastHandledMessage) {
  ProduceAll(topics::kOffers, {"a", "b", "c"});
  std::vector<std::string> first, second;
  {
    KafkaConsumer c1(ConsumerOptions(topics::kOffers), [&](const ConsumedMessage& m) { first.push_back(m.value); },
                     *producer_, logger_, metrics_);
    c1.Start();
    ASSERT_TRUE(testing::WaitFor([&] { return c1.handled() == 3; }, std::chrono::seconds(30)));
    c1.Stop();  // commits and leaves the group
  }
  ProduceAll(topics::kOffers, {"d", "e"});
  KafkaConsumer c2(ConsumerOptions(topics::kOffers), [&](const ConsumedMessage& m) { second.push_back(m.value); },
                   *producer_, logger_, metrics_);
  c2.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return c2.handled() >= 2; }, std::chrono::seconds(30)));
  c2.Stop();
  EXPECT_EQ(first, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(second, (std::vector<std::string>{"d", "e"})) << "committed messages must not be handled again";
}

// The lag gauge is what an operator (and `make bench`) reads to know a consumer has caught up:
// it must count every message not yet handled in every assigned partition, and read 0 once all
// are.
TEST_F(KafkaTest, LagCountsTheMessagesNotYetHandledInEveryPartitionAndReturnsToZero) {
  std::vector<std::string> values;
  for (int i = 0; i < 30; ++i) values.push_back("v" + std::to_string(i));
  ProduceAll(topics::kOffers, values, [](size_t i) { return "m-" + std::to_string(i % 5); });
  KafkaConsumer c(ConsumerOptions(topics::kOffers),
                  [&](const ConsumedMessage&) { std::this_thread::sleep_for(std::chrono::milliseconds(25)); },
                  *producer_, logger_, metrics_);
  c.Start();
  int64_t most = 0;
  ASSERT_TRUE(testing::WaitFor([&] {
    most = std::max(most, c.lag());
    return c.handled() == values.size();
  }, std::chrono::seconds(30)));
  // 30 messages over several partitions: a gauge of one partition's backlog would stay under 30/2.
  EXPECT_GE(most, 20) << "while the handler works through 30 messages, most of them are behind";
  EXPECT_LE(most, 29);
  ASSERT_TRUE(testing::WaitFor([&] { return c.lag() == 0; }, std::chrono::seconds(5)));
  const std::string text = metrics_.Render();
  EXPECT_NE(text.find("tessera_kafka_consumer_lag{group=\"test-group\"} 0\n"), std::string::npos) << text;
  // The development broker's topics have 6 partitions, all assigned to the group's only member.
  EXPECT_NE(text.find("tessera_kafka_assigned_partitions{group=\"test-group\"} 6\n"), std::string::npos) << text;
  c.Stop();
}

// With several workers a replica handles different partitions at once, yet a member's events
// (one key, one partition) are still handled one at a time, in the order they were produced,
// and the lag still counts the messages waiting for a worker.
TEST_F(KafkaTest, WorkersHandlePartitionsAtOnceAndEachPartitionInOrder) {
  std::vector<std::string> values;
  for (int i = 0; i < 60; ++i) values.push_back("m-" + std::to_string(i % 6) + ":" + std::to_string(i / 6));
  ProduceAll(topics::kOffers, values, [](size_t i) { return "m-" + std::to_string(i % 6); });
  std::mutex mu;
  std::map<std::string, std::vector<int>> seen;  // key -> sequence numbers, in handling order
  std::map<std::string, int> active_per_key;
  int active = 0, most_active = 0, overlap_within_a_key = 0;
  auto options = ConsumerOptions(topics::kOffers);
  options.workers = 3;
  KafkaConsumer c(options, [&](const ConsumedMessage& m) {
    {
      std::lock_guard lock(mu);
      most_active = std::max(most_active, ++active);
      if (++active_per_key[m.key] > 1) ++overlap_within_a_key;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lock(mu);
    --active;
    --active_per_key[m.key];
    seen[m.key].push_back(std::stoi(m.value.substr(m.value.find(':') + 1)));
  }, *producer_, logger_, metrics_);
  c.Start();
  int64_t most_lag = 0;
  ASSERT_TRUE(testing::WaitFor([&] {
    most_lag = std::max(most_lag, c.lag());
    return c.handled() == values.size();
  }, std::chrono::seconds(30)));
  ASSERT_TRUE(testing::WaitFor([&] { return c.lag() == 0; }, std::chrono::seconds(5)));
  c.Stop();
  EXPECT_GE(most_active, 2) << "partitions are handled at once";
  EXPECT_LE(most_active, 3) << "by at most `workers` threads";
  EXPECT_EQ(overlap_within_a_key, 0) << "a partition's messages are handled one at a time";
  ASSERT_EQ(seen.size(), 6u);
  for (const auto& [key, seqs] : seen) {
    std::vector<int> expected(10);
    for (int i = 0; i < 10; ++i) expected[i] = i;
    EXPECT_EQ(seqs, expected) << key << ": every message once, in produced order";
  }
  EXPECT_GE(most_lag, 20) << "messages queued for a worker are not handled yet: they count as lag";
}

// When a second replica joins, partitions move. Messages the first one had already handed to
// its workers must be handled (and committed) before they move, or the new owner handles them
// again: each message is handled exactly once across the two.
TEST_F(KafkaTest, AReplicaFinishesWhatItHandedOutBeforeItsPartitionsMove) {
  std::vector<std::string> values;
  for (int i = 0; i < 100; ++i) values.push_back("v" + std::to_string(i));
  ProduceAll(topics::kOffers, values, [](size_t i) { return "m-" + std::to_string(i % 12); });
  std::mutex mu;
  std::map<std::string, int> times_handled;
  auto handler = [&](const ConsumedMessage& m) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(mu);
    ++times_handled[m.value];
  };
  auto options = ConsumerOptions(topics::kOffers);
  options.workers = 2;
  options.session_timeout_ms = 4000;  // the development broker rebalances about 3 s after a join
  KafkaConsumer first(options, handler, *producer_, logger_, metrics_);
  first.Start();
  ASSERT_TRUE(testing::WaitFor([&] { return first.handled() >= 5; }, std::chrono::seconds(30)));
  // Most of the 100 are now queued for the first replica's workers: 5 s of work, so the
  // rebalance comes while they still wait.
  KafkaConsumer second(options, handler, *producer_, logger_, metrics_);
  second.Start();
  ASSERT_TRUE(testing::WaitFor([&] {
    std::lock_guard lock(mu);
    return times_handled.size() == values.size();
  }, std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // a duplicate would show up by now
  second.Stop();
  first.Stop();
  std::lock_guard lock(mu);
  for (const auto& v : values) EXPECT_EQ(times_handled[v], 1) << v;
}

// A pod is often stopped because Kafka is gone. Stopping must then still end within its bounds
// (and without spinning), or the pod burns CPU until the orchestrator kills it.
TEST_F(KafkaTest, ConsumersStopPromptlyWhenTheBrokerIsGone) {
  ProduceAll(topics::kOffers, {"before"});
  std::atomic<int> tail_seen{0};
  auto tail = std::make_unique<KafkaTopicTail>(broker_.brokers(), std::vector<std::string>{topics::kOffers},
                                               [&](const ConsumedMessage&) { tail_seen++; }, logger_);
  ASSERT_TRUE(tail->Start(std::chrono::seconds(10)));
  auto consumer = std::make_unique<KafkaConsumer>(ConsumerOptions(topics::kOffers), [](const ConsumedMessage&) {},
                                                  *producer_, logger_, metrics_);
  consumer->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return consumer->handled() >= 1; }, std::chrono::seconds(30)));
  // The tail starts at the end: give it messages of its own to consume (and offsets to store).
  std::vector<std::string> more;
  for (int i = 0; i < 50; ++i) more.push_back("after-" + std::to_string(i));
  ProduceAll(topics::kOffers, more);
  ASSERT_TRUE(testing::WaitFor([&] { return tail_seen.load() >= 50; }, std::chrono::seconds(30)));

  broker_.process().Signal(SIGKILL);
  broker_.process().Wait(std::chrono::seconds(5));
  const double cpu0 = ProcessCpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  tail.reset();
  const auto tail_stop = std::chrono::steady_clock::now() - t0;
  consumer.reset();
  const auto both_stop = std::chrono::steady_clock::now() - t0;
  // The tail has no group to leave; the consumer gives up leaving its group after 5 s.
  // (Before the fix the tail took 45 s, session.timeout.ms, with a core busy all along.)
  EXPECT_LT(tail_stop, std::chrono::seconds(3));
  EXPECT_LT(both_stop, std::chrono::seconds(10));
  EXPECT_LT(ProcessCpuSeconds() - cpu0, 3.0) << "stopping must wait, not spin";
  producer_.reset();  // its own flush is bounded too
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(25));
}

}  // namespace
}  // namespace tessera
