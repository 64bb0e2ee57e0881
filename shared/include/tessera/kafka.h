// Kafka over librdkafka (C API), owned with RAII.
//
// KafkaProducer: idempotent (enable.idempotence, acks=all), polled by its own thread so
// delivery reports are always served, flushed on destruction. Publish() never blocks on the
// network; the callback runs on the poll thread once the broker acknowledged (or gave up).
//
// KafkaConsumer: a consumer-group member on its own thread. For each message it calls the
// handler; the offset is stored for commit only after the handler returned. A handler that
// throws PoisonMessage sends the message, with the reason, to the topic's dead-letter topic
// (tessera.<name>.dlq.v1) and moves on; one that throws UnavailableError is retried (with
// backoff) until it succeeds or the consumer stops, so nothing is skipped while Redis is down.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tessera/logging.h"
#include "tessera/metrics.h"

struct rd_kafka_s;

namespace tessera {

struct RdKafkaDeleter {
  void operator()(rd_kafka_s* rk) const;
};
using RdKafkaPtr = std::unique_ptr<rd_kafka_s, RdKafkaDeleter>;

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
  int message_timeout_ms = 30000;
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
  std::map<std::string, std::string> extra;
};

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
  // Messages not yet handled in the assigned partitions, as of the last fetch responses;
  // refreshed every 100 ms by the consumer's thread (also the tessera_kafka_consumer_lag gauge).
  int64_t lag() const { return lag_.load(); }

 private:
  void Loop();
  // False when the consumer stopped before the message could be handled.
  bool HandleWithRetry(const ConsumedMessage& msg);
  bool SendToDlq(const ConsumedMessage& msg, const std::string& reason);

  KafkaConsumerOptions options_;
  MessageHandler handler_;
  EventPublisher& dlq_;
  Logger& logger_;
  MetricsRegistry& metrics_;
  RdKafkaPtr rk_;
  std::atomic<bool> running_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> handled_{0};
  std::atomic<int64_t> lag_{0};
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
