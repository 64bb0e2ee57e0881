// The outbox relay in-process against real Redis and the development broker: everything is
// published and deleted (in batches: per interval, or per delete_batch acknowledgements), two
// relays never publish the same stream, and a broker outage only delays delivery.
#include "tessera/outbox.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "tessera/crypto.h"
#include "tessera/events.h"
#include "tessera/keys.h"
#include "tessera/lua_library.h"
#include "testing.h"

namespace tessera {
namespace {

// Appends one event for a member to the member's bucket stream (as services do).
const LuaScript& AppendScript() {
  static const LuaScript* s = new LuaScript(MakeScript("test_append", R"lua(
return tessera_outbox_append(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
)lua"));
  return *s;
}

std::vector<std::string> AppendEvents(RedisPool& pool, const std::string& service, int n, const std::string& prefix) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    const std::string member = "m-" + std::to_string(i % 97);
    const std::string id = prefix + std::to_string(i);
    nlohmann::json ev = {{"event_id", id}, {"type", "points.earned"}, {"member_id", member}};
    pool.Eval(AppendScript(), {OutboxStream(BucketTag(MemberBucket(member)), service)},
              {topics::kLedger, member, ev.dump()});
    ids.push_back(id);
  }
  return ids;
}

std::map<std::string, int> CountIds(const std::vector<testing::TopicMessage>& msgs) {
  std::map<std::string, int> counts;
  for (const auto& m : msgs) counts[nlohmann::json::parse(m.value)["event_id"].get<std::string>()]++;
  return counts;
}

class OutboxRelayTest : public ::testing::Test {
 protected:
  OutboxRelayTest() : logger_("tessera-test", LogLevel::kError, log_, clock_) {
    RedisOptions ro;
    ro.url = ParseRedisUrl(redis_.Url());
    ro.pool_size = 8;
    pool_ = std::make_unique<RedisPool>(ro);
    KafkaProducerOptions po;
    po.brokers = broker_.brokers();
    producer_ = std::make_unique<KafkaProducer>(po, logger_, metrics_);
  }

  std::unique_ptr<OutboxRelay> MakeRelay(const std::string& owner,
                                         const std::function<void(OutboxRelayOptions&)>& tune = nullptr) {
    OutboxRelayOptions o;
    o.streams = OutboxStreams("svc");
    o.owner = owner;
    o.lease_ttl = std::chrono::seconds(3);
    if (tune) tune(o);
    return std::make_unique<OutboxRelay>(*pool_, *producer_, o, logger_, metrics_);
  }

  // XDEL commands Redis has run (INFO commandstats).
  int64_t XdelCalls() {
    const std::string info = pool_->Command({"INFO", "commandstats"}).AsString();
    const size_t at = info.find("cmdstat_xdel:calls=");
    return at == std::string::npos ? 0 : std::stoll(info.substr(at + 19));
  }

  SystemClock clock_;
  std::ostringstream log_;
  Logger logger_;
  MetricsRegistry metrics_;
  testing::RedisServer redis_;
  testing::DevBroker broker_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<KafkaProducer> producer_;
};

TEST_F(OutboxRelayTest, PublishesEveryEntryOnceThenDeletesIt) {
  auto ids = AppendEvents(*pool_, "svc", 2000, "e");
  auto relay = MakeRelay("relay-a");
  relay->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return relay->Depth() == 0; }, std::chrono::seconds(30)));
  relay->Stop();
  auto msgs = testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30));
  auto counts = CountIds(msgs);
  EXPECT_EQ(counts.size(), ids.size());
  EXPECT_EQ(msgs.size(), ids.size()) << "no failure happened, so nothing may be sent twice";
  // Messages are keyed by member, so a member's events share a partition and keep their order.
  std::map<std::string, int> partition_of;
  for (const auto& m : msgs) {
    auto [it, inserted] = partition_of.emplace(m.key, m.partition);
    EXPECT_EQ(it->second, m.partition) << m.key;
  }
  EXPECT_NE(metrics_.Render().find("tessera_outbox_published_total 2000"), std::string::npos);
}

// Acknowledged entries wait for the delete interval and then go in one XDEL per stream, not
// one per read: the entries stay in the outbox after they are on the topic, until the interval.
TEST_F(OutboxRelayTest, AcknowledgedEntriesAreDeletedTogetherOncePerInterval) {
  auto relay = MakeRelay("relay-a", [](OutboxRelayOptions& o) { o.delete_interval = std::chrono::seconds(3); });
  const auto start = std::chrono::steady_clock::now();
  relay->Start();
  auto ids = AppendEvents(*pool_, "svc", 300, "i");
  ASSERT_EQ(testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30)).size(),
            ids.size());
  if (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500)) {
    EXPECT_EQ(relay->Depth(), 300) << "published entries were deleted before the interval";
    EXPECT_EQ(XdelCalls(), 0);
  }
  ASSERT_TRUE(testing::WaitFor([&] { return relay->Depth() == 0; }, std::chrono::seconds(10)));
  // 300 entries over 97 members fill at most 64 bucket streams: one XDEL each.
  EXPECT_LE(XdelCalls(), 64);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2900));
  relay->Stop();
}

// With a long interval, deletion waits for delete_batch acknowledgements instead; Stop()
// deletes the rest.
TEST_F(OutboxRelayTest, ABatchOfAcknowledgementsIsDeletedWithoutWaitingForTheInterval) {
  auto relay = MakeRelay("relay-a", [](OutboxRelayOptions& o) {
    o.delete_interval = std::chrono::hours(1);
    o.delete_batch = 100;
  });
  relay->Start();
  auto ids = AppendEvents(*pool_, "svc", 350, "b");
  ASSERT_TRUE(testing::WaitFor([&] { return relay->Depth() < 100; }, std::chrono::seconds(20)));
  EXPECT_GT(XdelCalls(), 0);
  relay->Stop();
  EXPECT_EQ(relay->Depth(), 0) << "Stop deletes what was acknowledged";
  EXPECT_EQ(CountIds(testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30))).size(),
            ids.size());
}

TEST_F(OutboxRelayTest, TwoRelaysShareTheStreamsWithoutDuplicates) {
  auto relay_a = MakeRelay("relay-a");
  auto relay_b = MakeRelay("relay-b");
  relay_a->Start();
  relay_b->Start();
  auto ids = AppendEvents(*pool_, "svc", 1500, "x");
  ASSERT_TRUE(testing::WaitFor([&] { return relay_a->Depth() == 0; }, std::chrono::seconds(30)));
  relay_a->Stop();
  relay_b->Stop();
  auto msgs = testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30));
  EXPECT_EQ(CountIds(msgs).size(), ids.size());
  EXPECT_EQ(msgs.size(), ids.size());
}

TEST_F(OutboxRelayTest, ABrokerOutageOnlyDelaysDelivery) {
  auto relay = MakeRelay("relay-a");
  relay->Start();
  broker_.Down();
  auto ids = AppendEvents(*pool_, "svc", 300, "d");
  // While the broker is down nothing is acknowledged, so nothing leaves the outbox.
  EXPECT_FALSE(testing::WaitFor([&] { return relay->published() > 0; }, std::chrono::seconds(2)));
  const int64_t depth_during_outage = relay->Depth();
  broker_.Up();
  ASSERT_TRUE(testing::WaitFor([&] { return relay->Depth() == 0; }, std::chrono::seconds(60)));
  relay->Stop();
  std::cout << "[ fault    ] broker down for 2 s: outbox depth during outage " << depth_during_outage
            << ", drained to 0 after recovery" << std::endl;
  EXPECT_EQ(depth_during_outage, 300);
  auto counts = CountIds(testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30)));
  EXPECT_EQ(counts.size(), ids.size());
}

}  // namespace
}  // namespace tessera
