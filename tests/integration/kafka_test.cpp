// Producer and consumer against the development broker: delivery reports, commit-after-handle,
// retry while a dependency is down, dead-lettering of poison messages, and resuming from the
// committed offset in a new consumer of the same group.
#include "tessera/kafka.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <sstream>

#include "tessera/errors.h"
#include "tessera/events.h"
#include "testing.h"

namespace tessera {
namespace {

class KafkaTest : public ::testing::Test {
 protected:
  KafkaTest() : logger_("tessera-test", LogLevel::kError, log_, clock_) {
    KafkaProducerOptions o;
    o.brokers = broker_.brokers();
    producer_ = std::make_unique<KafkaProducer>(o, logger_, metrics_);
  }

  void ProduceAll(const std::string& topic, const std::vector<std::string>& values) {
    std::atomic<int> ok{0}, failed{0};
    for (const auto& v : values) {
      producer_->Publish(topic, "m-1", v, [&](const std::string& err) { (err.empty() ? ok : failed)++; });
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

}  // namespace
}  // namespace tessera
