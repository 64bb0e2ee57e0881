// Kafka over librdkafka (C API), owned with RAII.
//
// KafkaProducer: idempotent (enable.idempotence, acks=all), polled by its own thread so
// delivery reports are always served, flushed on destruction. Publish() never blocks on the
// network; the callback runs on the poll thread once the broker acknowledged (or gave up).
// Messages to `unexpiring_topics` are never given up for time, so none of them is skipped while
// later messages of its partition go through (see KafkaProducerOptions).
//
// KafkaConsumer: a consumer-group member. Its poll thread hands each message to one of
// `workers` handler threads, chosen by topic and partition, so a partition's messages are handled
// one at a time and in order (a member's events share a partition: they stay in order) while
// different partitions are handled at once. The offset is stored for commit only after the
// handler returned; before its partitions move to another member (a rebalance) the consumer waits
// until every message handed out is handled, then commits. A handler that
// throws PoisonMessage sends the message, with the reason, to the topic's dead-letter topic
// (tessera.<name>.dlq.v1) and moves on; one that throws UnavailableError is retried (with
// backoff) until it succeeds or the consumer stops, so nothing is skipped while Redis is down.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tessera/logging.h"
#include "tessera/metrics.h"

struct rd_kafka_s;
struct rd_kafka_topic_s;

namespace tessera {

struct RdKafkaDeleter {
  void operator()(rd_kafka_s* rk) const;
};
using RdKafkaPtr = std::unique_ptr<rd_kafka_s, RdKafkaDeleter>;
struct RdKafkaTopicDeleter {
  void operator()(rd_kafka_topic_s* rkt) const;
};
using RdKafkaTopicPtr = std::unique_ptr<rd_kafka_topic_s, RdKafkaTopicDeleter>;

// Delivery outcome: empty `error` means the broker acknowledged the message.
using DeliveryCallback = std::function<void(const std::string& error)>;

// What the outbox relay and the consumers' dead-letter path need from a producer.
class EventPublisher {
 public:
  virtual ~EventPublisher() = default;
  // Queues one message; `on_delivery` runs exactly once, on another thread.
  virtual void Publish(const std::string& topic, const std::string& key, const std::string& value,
                       DeliveryCallback on_delivery) = 0;
  // Waits until every queued message is delivered or failed, or the timeout passes.
  virtual bool Flush(std::chrono::milliseconds timeout) = 0;
};

struct KafkaProducerOptions {
  std::string brokers;
  std::string client_id = "tessera";
  int linger_ms = 5;
  // How long a message may wait for Kafka before its delivery fails (librdkafka's
  // message.timeout.ms), for topics not listed below: callers that wait for the outcome and
  // retry, such as the dead-letter path.
  int message_timeout_ms = 30000;
  // Topics whose messages never fail for time: they wait, in order, until Kafka takes them. A
  // message that timed out is skipped while later ones of its partition are still written
  // (librdkafka's idempotent producer drops it and moves on), so sending it again would put it
  // after them. The outbox's event topics are listed here (OutboxProducerOptions): their copy of
  // record is in Redis, and a member's events must reach Kafka in the order they were appended.
  std::vector<std::string> unexpiring_topics;
  std::map<std::string, std::string> extra;  // any other librdkafka property
};

class KafkaProducer final : public EventPublisher {
 public:
  // Throws ConfigError for invalid properties.
  KafkaProducer(const KafkaProducerOptions& options, Logger& logger, MetricsRegistry& metrics);
  ~KafkaProducer() override;

  void Publish(const std::string& topic, const std::string& key, const std::string& value,
               DeliveryCallback on_delivery) override;
  bool Flush(std::chrono::milliseconds timeout) override;
  // True when broker metadata could be fetched within `timeout` (for /readyz).
  bool Reachable(std::chrono::milliseconds timeout);

 private:
  RdKafkaPtr rk_;
  // Handles of the unexpiring topics, with their own message timeout. Declared after rk_, so
  // destroyed before the handle they belong to.
  std::map<std::string, RdKafkaTopicPtr, std::less<>> unexpiring_;
  std::atomic<bool> flush_timed_out_{false};  // a Flush gave up: destruction need not wait again
  Logger& logger_;
  Counter& produced_ok_;
  Counter& produced_failed_;
  std::atomic<bool> running_{true};
  std::thread poller_;
};

// Thrown by a message handler for a message that can never be processed.
class PoisonMessage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConsumedMessage {
  std::string topic;
  int partition = 0;
  int64_t offset = 0;
  std::string key;
  std::string value;
};

using MessageHandler = std::function<void(const ConsumedMessage&)>;

struct KafkaConsumerOptions {
  std::string brokers;
  std::string group_id;
  std::vector<std::string> topics;
  std::string client_id = "tessera";
  int session_timeout_ms = 6000;
  int heartbeat_interval_ms = 500;
  int fetch_wait_max_ms = 10;
  std::chrono::milliseconds retry_backoff{200};
  std::chrono::milliseconds max_retry_backoff{5000};
  // Handler threads (1: the poll thread handles each message itself). More than one lets a
  // handler that waits on Redis work on several partitions at once.
  int workers = 1;
  std::map<std::string, std::string> extra;
};

struct ConsumerContext;  // what librdkafka's callbacks get (kafka.cpp)

class KafkaConsumer {
 public:
  // `dlq` receives poison messages; it, `logger` and `metrics` must outlive the consumer.
  KafkaConsumer(KafkaConsumerOptions options, MessageHandler handler, EventPublisher& dlq,
                Logger& logger, MetricsRegistry& metrics);
  ~KafkaConsumer();  // Stop()

  void Start();
  // Finishes the message in hand, commits stored offsets, leaves the group. Idempotent.
  void Stop();
  // Messages handled (including dead-lettered) since start.
  uint64_t handled() const { return handled_.load(); }
  // Messages not yet handled in the assigned partitions, as of the last fetch responses, those
  // waiting for a worker included; refreshed every 100 ms by the poll thread (also the
  // tessera_kafka_consumer_lag gauge).
  int64_t lag() const { return lag_.load(); }

 private:
  struct Worker;

  void Loop();
  void WorkerLoop(Worker& w);
  // Queues the message for its partition's worker, waiting while that worker has
  // kMaxQueuedPerWorker queued. False when the consumer stopped first.
  bool HandOut(ConsumedMessage msg);
  // Waits until every message handed out is handled (or the consumer stops): called before
  // partitions are revoked, so the commit that follows covers them.
  void DrainHandedOut();
  // False when the consumer stopped before the message could be handled.
  bool HandleWithRetry(const ConsumedMessage& msg);
  // Stores the message's offset for the next commit and counts it.
  void Done(const ConsumedMessage& msg);
  bool SendToDlq(const ConsumedMessage& msg, const std::string& reason);

  KafkaConsumerOptions options_;
  MessageHandler handler_;
  EventPublisher& dlq_;
  Logger& logger_;
  MetricsRegistry& metrics_;
  Counter& consumed_;
  std::unique_ptr<ConsumerContext> context_;
  RdKafkaPtr rk_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> handled_{0};
  std::atomic<int64_t> lag_{0};
  std::vector<std::unique_ptr<Worker>> workers_;  // empty when options_.workers is 1
  std::mutex handed_out_mu_;
  std::condition_variable handed_out_cv_;
  int64_t handed_out_ = 0;  // queued or being handled by a worker; guarded by handed_out_mu_
  std::thread thread_;
};

// Follows topics from their current end, in every partition, without a consumer group: every
// instance sees every message published after Start() (e.g. to refresh an in-memory cache in
// all replicas). Commits nothing. The handler runs on the tail's own thread; exceptions are
// logged and the message skipped.
class KafkaTopicTail {
 public:
  KafkaTopicTail(std::string brokers, std::vector<std::string> topics, MessageHandler handler, Logger& logger);
  ~KafkaTopicTail();
  // Returns once every partition is assigned (or after `timeout`, false).
  bool Start(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Stop();

 private:
  std::vector<std::string> topics_;
  MessageHandler handler_;
  Logger& logger_;
  RdKafkaPtr rk_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace tessera
