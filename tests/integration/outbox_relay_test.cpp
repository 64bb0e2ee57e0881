// The outbox relay in-process against real Redis and the development broker: everything is
// published and deleted (in batches: per interval, or per delete_batch acknowledgements), two
// relays never publish the same stream, relays split the streams evenly and hand them over as
// they come and go without reordering a member's events, and a broker outage only delays
// delivery — even one longer than the producer's message timeout — and a relay stopped during
// one leaves its events to the next relay.
#include "tessera/outbox.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <thread>
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

void AppendEvent(RedisPool& pool, const std::string& service, const std::string& member, const std::string& id) {
  nlohmann::json ev = {{"event_id", id}, {"type", "points.earned"}, {"member_id", member}};
  pool.Eval(AppendScript(), {OutboxStream(BucketTag(MemberBucket(member)), service)},
            {topics::kLedger, member, ev.dump()});
}

std::vector<std::string> AppendEvents(RedisPool& pool, const std::string& service, int n, const std::string& prefix) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back(prefix + std::to_string(i));
    AppendEvent(pool, service, "m-" + std::to_string(i % 97), ids.back());
  }
  return ids;
}

// Members whose first copies of events ("<letter><n>", appended in order of n) came out of
// order on the topic; later copies of an event (republished, same event_id) are skipped.
int FirstCopiesOutOfOrder(const std::vector<testing::TopicMessage>& msgs, std::set<std::string>& seen) {
  std::map<std::string, int> last_of;  // member -> sequence number of its last first copy
  int reordered = 0;
  for (const auto& m : msgs) {
    const std::string id = nlohmann::json::parse(m.value)["event_id"].get<std::string>();
    if (!seen.insert(id).second) continue;
    const int seq = std::stoi(id.substr(1));
    auto [it, first] = last_of.emplace(m.key, seq);
    if (!first) {
      if (seq < it->second) reordered++;
      it->second = seq;
    }
  }
  return reordered;
}

std::map<std::string, int> CountIds(const std::vector<testing::TopicMessage>& msgs) {
  std::map<std::string, int> counts;
  for (const auto& m : msgs) counts[nlohmann::json::parse(m.value)["event_id"].get<std::string>()]++;
  return counts;
}

// Appends events "<prefix><k>" for members m-(k % members), one every `every`, until Stop(),
// which answers how many were appended.
class EventWriter {
 public:
  EventWriter(RedisPool& pool, std::string prefix, int members, std::chrono::microseconds every)
      : thread_([this, &pool, prefix = std::move(prefix), members, every] {
          for (int k = 0; running_.load(); ++k) {
            AppendEvent(pool, "svc", "m-" + std::to_string(k % members), prefix + std::to_string(k));
            appended_ = k + 1;
            std::this_thread::sleep_for(every);
          }
        }) {}
  ~EventWriter() { Stop(); }
  size_t Stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
    return static_cast<size_t>(appended_.load());
  }

 private:
  std::atomic<bool> running_{true};
  std::atomic<int> appended_{0};
  std::thread thread_;
};

class OutboxRelayTest : public ::testing::Test {
 protected:
  OutboxRelayTest() : logger_("tessera-test", LogLevel::kError, log_, clock_) {
    RedisOptions ro;
    ro.url = ParseRedisUrl(redis_.Url());
    ro.pool_size = 8;
    pool_ = std::make_unique<RedisPool>(ro);
    // As the services make it, with a short timeout for other topics: an outage of a few
    // seconds outlasts it (ABrokerOutageLongerThanTheMessageTimeout...).
    KafkaProducerOptions po = OutboxProducerOptions(broker_.brokers(), "tessera-test");
    po.message_timeout_ms = 1000;
    producer_ = std::make_unique<KafkaProducer>(po, logger_, metrics_);
  }

  std::unique_ptr<OutboxRelay> MakeRelay(const std::string& owner,
                                         const std::function<void(OutboxRelayOptions&)>& tune = nullptr) {
    OutboxRelayOptions o;
    o.streams = OutboxStreams("svc");
    o.owner = owner;
    o.lease_ttl = std::chrono::seconds(3);
    o.registry = OutboxRelayRegistry("svc");
    if (tune) tune(o);
    return std::make_unique<OutboxRelay>(*pool_, *producer_, o, logger_, metrics_);
  }

  // Every one of the `n` events a writer appended is on the topic, and the first copy of each
  // member's events came in the order they were appended.
  void ExpectEveryEventWithEachMembersInOrder(size_t n, const std::string& what) {
    auto msgs = testing::ReadTopic(broker_.brokers(), topics::kLedger, n, std::chrono::seconds(30));
    std::set<std::string> seen;
    const int reordered = FirstCopiesOutOfOrder(msgs, seen);
    std::cout << "[ relay    ] " << n << " events " << what << ": " << msgs.size() << " messages on the topic" << std::endl;
    EXPECT_EQ(seen.size(), n) << "every event arrives";
    EXPECT_EQ(reordered, 0);
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
  EXPECT_EQ(CountIds(testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30))).size(),
            ids.size());
  // All 350 acknowledged: three batches of 100 deleted, 50 waiting for the next 100 (or Stop).
  ASSERT_TRUE(testing::WaitFor([&] { return relay->Depth() < 100; }, std::chrono::seconds(20)));
  EXPECT_GT(XdelCalls(), 0);
  relay->Stop();
  EXPECT_EQ(relay->Depth(), 0) << "Stop deletes what was acknowledged";
}

// 65 streams over three relays: 22, 22 and 21, each publishing its own, none twice.
TEST_F(OutboxRelayTest, RelaysSplitTheStreamsEvenlyWithoutDuplicates) {
  std::vector<std::unique_ptr<OutboxRelay>> relays;
  for (const char* owner : {"relay-a", "relay-b", "relay-c"}) {
    relays.push_back(MakeRelay(owner));
    relays.back()->Start();
  }
  auto counts = [&] {
    std::multiset<size_t> c;
    for (const auto& r : relays) c.insert(r->owned_streams());
    return c;
  };
  ASSERT_TRUE(testing::WaitFor([&] { return counts() == std::multiset<size_t>{21, 22, 22}; }, std::chrono::seconds(20)))
      << "owned: " << nlohmann::json(std::vector<size_t>(counts().begin(), counts().end())).dump();
  auto ids = AppendEvents(*pool_, "svc", 1500, "x");
  ASSERT_TRUE(testing::WaitFor([&] { return relays[0]->Depth() == 0; }, std::chrono::seconds(30)));
  for (const auto& r : relays) {
    EXPECT_GT(r->published(), 0u) << "every relay publishes its share";
    r->Stop();
  }
  auto msgs = testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30));
  EXPECT_EQ(CountIds(msgs).size(), ids.size());
  EXPECT_EQ(msgs.size(), ids.size());
}

// While events flow, a second and a third relay join a relay that holds every stream, then the
// first one leaves: the streams move to their new owners and every event arrives, and the
// first copy of each member's events comes in the order they were appended (a stream's new
// owner republishes what its old owner had not yet deleted, after it).
TEST_F(OutboxRelayTest, StreamsChangeHandsAsRelaysComeAndGoWithoutReorderingAMembersEvents) {
  EventWriter writer(*pool_, "o", 97, std::chrono::microseconds(500));
  auto a = MakeRelay("relay-a");
  a->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return a->owned_streams() == 65; }, std::chrono::seconds(10)));
  auto b = MakeRelay("relay-b");
  b->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return a->owned_streams() + b->owned_streams() == 65 && b->owned_streams() >= 32; },
                               std::chrono::seconds(20)));
  auto c = MakeRelay("relay-c");
  c->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return c->owned_streams() >= 21; }, std::chrono::seconds(20)));
  a->Stop();
  ASSERT_TRUE(testing::WaitFor([&] { return b->owned_streams() + c->owned_streams() == 65; }, std::chrono::seconds(20)));
  const size_t n = writer.Stop();
  ASSERT_TRUE(testing::WaitFor([&] { return b->Depth() == 0; }, std::chrono::seconds(30)));
  EXPECT_GT(b->published(), 0u);
  EXPECT_GT(c->published(), 0u);
  b->Stop();
  c->Stop();
  ExpectEveryEventWithEachMembersInOrder(n, "while relays joined and left");
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

// Events keep flowing through an outage three times longer than the producer's message timeout
// for other topics. The event topics never time out, so nothing is given up and sent again
// behind later events: every event arrives, each member's first copies in append order.
// (With the 1 s timeout on the event topic too, messages queued early in the outage failed,
// later ones went through once the broker was back, and the failed ones came after them.)
TEST_F(OutboxRelayTest, ABrokerOutageLongerThanTheMessageTimeoutNeitherDropsNorReordersEvents) {
  auto relay = MakeRelay("relay-a");
  relay->Start();
  EventWriter writer(*pool_, "t", 13, std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  broker_.Down();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  broker_.Up();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const size_t n = writer.Stop();
  ASSERT_TRUE(testing::WaitFor([&] { return relay->Depth() == 0; }, std::chrono::seconds(60)));
  relay->Stop();
  ExpectEveryEventWithEachMembersInOrder(n, "through a 3 s outage (message timeout of other topics 1 s)");
  EXPECT_NE(metrics_.Render().find("tessera_outbox_publish_failures_total 0"), std::string::npos)
      << "no publish was given up";
}

// A relay stopped while Kafka is away leaves what it could not deliver in the outbox, and the
// next relay delivers it once Kafka is back. Its undelivered messages stay queued in the
// producer, which outlives the relay: their delivery reports must not reach the gone relay.
TEST_F(OutboxRelayTest, ARelayStoppedDuringAnOutageLeavesItsEventsToTheNextOne) {
  broker_.Down();
  auto ids = AppendEvents(*pool_, "svc", 200, "s");
  {
    auto relay = MakeRelay("relay-a");
    relay->Start();
    ASSERT_TRUE(testing::WaitFor([&] { return relay->owned_streams() == 65; }, std::chrono::seconds(10)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // read and queued in the producer
    relay->Stop(std::chrono::milliseconds(200));
    EXPECT_EQ(relay->Depth(), 200) << "nothing acknowledged, nothing deleted";
  }
  broker_.Up();
  auto next = MakeRelay("relay-b");
  next->Start();
  ASSERT_TRUE(testing::WaitFor([&] { return next->Depth() == 0; }, std::chrono::seconds(60)));
  next->Stop();
  auto msgs = testing::ReadTopic(broker_.brokers(), topics::kLedger, ids.size(), std::chrono::seconds(30));
  EXPECT_EQ(CountIds(msgs).size(), ids.size());
}

}  // namespace
}  // namespace tessera
