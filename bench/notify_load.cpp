// tessera-bench-notify: event -> inbox latency of tessera-notifications, and the development
// broker's produce -> consume latency at the same rate as the ceiling (bench/run.sh).
//   tessera-bench-notify --brokers B --redis-url U [--rate 2000] [--seconds 30] [--members 1000]
//                        [--timeline FILE]
// Produces points.earned events to tessera.ledger.v1 at the rate, then reads every inbox item
// back from Redis: latency = item.created_at (arrival) - item.event_time (the event's
// occurred_at). Prints one JSON line of results.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "tessera/clock.h"
#include "tessera/crypto.h"
#include "tessera/events.h"
#include "tessera/kafka.h"
#include "tessera/keys.h"
#include "tessera/redis.h"

namespace {
using namespace tessera;
using Steady = std::chrono::steady_clock;

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Produces `count` messages at `rate`/s, calling make(i) for each value.
template <typename Make>
void Paced(KafkaProducer& producer, const std::string& topic, int rate, int seconds, Make make) {
  const auto start = Steady::now();
  const int total = rate * seconds;
  for (int i = 0; i < total; ++i) {
    const auto due = start + std::chrono::microseconds(static_cast<int64_t>(1e6 * i / rate));
    std::this_thread::sleep_until(due);
    auto [key, value] = make(i);
    producer.Publish(topic, key, value, [](const std::string&) {});
  }
  producer.Flush(std::chrono::seconds(30));
}

struct Latencies {
  double p50, p99, p999, max;
};

// The broker ceiling: a consumer on a scratch topic measures produce -> consume latency.
Latencies BrokerCeiling(const std::string& brokers, KafkaProducer& producer, int rate, int seconds) {
  const std::string topic = "bench.latency." + HexEncode(RandomBytes(4));
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", topic.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err);
  rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  rd_kafka_poll_set_consumer(rk);
  producer.Publish(topic, "warm", "0", [](const std::string&) {});  // creates the topic
  producer.Flush(std::chrono::seconds(10));
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(4);
  for (int p = 0; p < 4; ++p) rd_kafka_topic_partition_list_add(parts, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<double> lat;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load() || lat.size() < static_cast<size_t>(rate * seconds)) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
      if (!m) {
        if (done.load()) break;
        continue;
      }
      if (!m->err) {
        const int64_t sent = std::stoll(std::string(static_cast<const char*>(m->payload), m->len));
        lat.push_back(static_cast<double>(ToUnixMillis(SystemClock().Now()) - sent));
      }
      rd_kafka_message_destroy(m);
    }
  });
  Paced(producer, topic, rate, seconds, [&](int i) {
    return std::pair{std::to_string(i % 64), std::to_string(ToUnixMillis(SystemClock().Now()))};
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  done = true;
  reader.join();
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return {Percentile(lat, 0.5), Percentile(lat, 0.99), Percentile(lat, 0.999), Percentile(lat, 1.0)};
}
}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> a = {{"--rate", "2000"}, {"--seconds", "30"}, {"--members", "1000"}};
  for (int i = 1; i + 1 < argc; i += 2) a[argv[i]] = argv[i + 1];
  if (!a.count("--brokers") || !a.count("--redis-url")) {
    std::cerr << "usage: tessera-bench-notify --brokers B --redis-url U [--rate N] [--seconds N] [--members N]\n";
    return 2;
  }
  const int rate = std::stoi(a["--rate"]), seconds = std::stoi(a["--seconds"]), members = std::stoi(a["--members"]);
  SystemClock clock;
  std::ostringstream quiet;
  Logger logger("bench", LogLevel::kError, quiet, clock);
  MetricsRegistry metrics;
  KafkaProducerOptions po;
  po.brokers = a["--brokers"];
  KafkaProducer producer(po, logger, metrics);
  RedisOptions ro;
  ro.url = ParseRedisUrl(a["--redis-url"]);
  RedisPool redis(ro);

  auto envelope = [&](const std::string& type, const std::string& member, int64_t seq, nlohmann::json payload) {
    EventEnvelope e;
    e.event_id = NewUuid();
    e.type = type;
    e.occurred_at = FormatRfc3339(clock.Now());
    e.member_id = member;
    e.member_seq = seq;
    e.channel = "store";
    e.source = "bench";
    e.correlation_id = "bench";
    e.payload = std::move(payload);
    return e.Dump();
  };
  std::cerr << "[bench-notify] broker ceiling: produce -> consume at " << rate << "/s for " << seconds << " s" << std::endl;
  const Latencies broker = BrokerCeiling(a["--brokers"], producer, rate, seconds);

  std::cerr << "[bench-notify] enrolling " << members << " members" << std::endl;
  for (int m = 0; m < members; ++m) {
    const std::string id = "nb-" + std::to_string(m);
    producer.Publish(topics::kLedger, id, envelope("member.enrolled", id, 1, {{"locale", "en"}, {"time_zone", "UTC"}}),
                     [](const std::string&) {});
  }
  producer.Flush(std::chrono::seconds(30));
  auto inbox_total = [&] {
    std::vector<std::vector<std::string>> cmds;
    for (int m = 0; m < members; ++m) cmds.push_back({"ZCARD", MemberKey("nb-" + std::to_string(m), "inbox")});
    int64_t n = 0;
    for (const auto& r : redis.Pipeline(cmds)) n += r.AsInt();
    return n;
  };
  for (int i = 0; i < 600 && inbox_total() < members; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));

  std::cerr << "[bench-notify] event -> inbox: " << rate << " points.earned/s for " << seconds << " s" << std::endl;
  const auto start = Steady::now();
  Paced(producer, topics::kLedger, rate, seconds, [&](int i) {
    const std::string id = "nb-" + std::to_string(i % members);
    return std::pair{id, envelope("points.earned", id, 2 + i / members, {{"points", 10}, {"balances", {{"available", i}}}})};
  });
  const int64_t expected = static_cast<int64_t>(members) + static_cast<int64_t>(rate) * seconds;
  for (int i = 0; i < 600 && inbox_total() < expected; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
  std::vector<double> lat;
  std::vector<std::pair<int64_t, double>> timeline;  // (event time, latency), for --timeline
  for (int m = 0; m < members; ++m) {
    RedisValue items = redis.Command({"HVALS", MemberKey("nb-" + std::to_string(m), "inbox-items")});
    for (const auto& e : items.elements) {
      auto j = nlohmann::json::parse(e.AsString());
      if (j["event_type"] != "points.earned") continue;
      auto arrived = ParseRfc3339(j["created_at"].get<std::string>());
      auto happened = ParseRfc3339(j["event_time"].get<std::string>());
      if (!arrived || !happened) continue;
      lat.push_back(static_cast<double>(ToUnixMillis(*arrived) - ToUnixMillis(*happened)));
      timeline.emplace_back(ToUnixMillis(*happened), lat.back());
    }
  }
  if (a.count("--timeline")) {  // one line per event: ms since the first event, latency ms, Unix ms
    std::sort(timeline.begin(), timeline.end());
    std::ofstream f(a["--timeline"]);
    for (const auto& [t, l] : timeline) f << (t - timeline.front().first) << ' ' << l << ' ' << t << '\n';
  }
  const int64_t produced = static_cast<int64_t>(rate) * seconds;
  nlohmann::json out = {{"rate", rate},
                        {"seconds", seconds},
                        {"produced", produced},
                        {"delivered", lat.size()},
                        {"lost", produced - static_cast<int64_t>(lat.size())},
                        {"throughput_per_s", static_cast<double>(lat.size()) / elapsed},
                        {"p50_ms", Percentile(lat, 0.5)},
                        {"p99_ms", Percentile(lat, 0.99)},
                        {"p999_ms", Percentile(lat, 0.999)},
                        {"max_ms", Percentile(lat, 1.0)},
                        {"broker_p50_ms", broker.p50},
                        {"broker_p99_ms", broker.p99},
                        {"broker_p999_ms", broker.p999},
                        {"broker_max_ms", broker.max}};
  std::cout << out.dump() << std::endl;
  return 0;
}
