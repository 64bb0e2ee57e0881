#include "tessera/kafka.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <deque>
#include <future>

#include "tessera/clock.h"
#include "tessera/errors.h"
#include "tessera/events.h"
#include "tessera/thread_name.h"

namespace tessera {

// Consumers are closed explicitly (bounded, see CloseConsumer) before this runs, so destroy must
// not try to close them again: that close waits for the group coordinator without a limit.
void RdKafkaDeleter::operator()(rd_kafka_s* rk) const {
  rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
}

void RdKafkaTopicDeleter::operator()(rd_kafka_topic_s* rkt) const { rd_kafka_topic_destroy(rkt); }

namespace {
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

void Set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    throw ConfigError("kafka property " + name + "=" + value + ": " + err);
  }
}

// librdkafka's own log lines, as JSON lines through the service logger (syslog levels).
void LogTo(Logger* logger, const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  if (!logger) return;
  const LogLevel l = level <= 3 ? LogLevel::kError : level <= 5 ? LogLevel::kWarn : level == 6 ? LogLevel::kInfo : LogLevel::kDebug;
  logger->Log(l, "librdkafka", {{"facility", facility}, {"detail", message}, {"client", rd_kafka_name(rk)}});
}

// The producer's and the topic tail's opaque is their Logger.
void OnLog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  LogTo(static_cast<Logger*>(rd_kafka_opaque(rk)), rk, level, facility, message);
}

// Leaves the consumer group (committing what was stored) within `timeout`. librdkafka's
// rd_kafka_consumer_close() blocks until the coordinator answers, i.e. forever when the broker
// is gone; this serves the asynchronous close instead and gives up at the deadline (uncommitted
// offsets are then redelivered, which consumers tolerate: they dedupe).
void CloseConsumer(rd_kafka_t* rk, std::chrono::milliseconds timeout, Logger& logger) {
  rd_kafka_commit(rk, nullptr, 1);  // asynchronous
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(rd_kafka_queue_new(rk), rd_kafka_queue_destroy);
  if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk, queue.get())) {
    logger.Warn("kafka consumer close failed", {{"error", rd_kafka_error_string(e)}});
    rd_kafka_error_destroy(e);
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!rd_kafka_consumer_closed(rk) && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue.get(), 100);
    if (!ev) continue;
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
      const bool cooperative = std::string(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, rd_kafka_event_topic_partition_list(ev))) {
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, nullptr);
      }
    }
    rd_kafka_event_destroy(ev);
  }
  if (!rd_kafka_consumer_closed(rk)) {
    logger.Warn("kafka consumer did not close in time (broker unreachable?); leaving without it",
                {{"timeout_ms", timeout.count()}});
  }
}

ConsumedMessage ToConsumed(const rd_kafka_message_t* msg) {
  ConsumedMessage m;
  m.topic = rd_kafka_topic_name(msg->rkt);
  m.partition = msg->partition;
  m.offset = msg->offset;
  if (msg->key) m.key.assign(static_cast<const char*>(msg->key), msg->key_len);
  if (msg->payload) m.value.assign(static_cast<const char*>(msg->payload), msg->len);
  return m;
}

struct DeliveryContext {
  DeliveryCallback callback;
  Counter* ok;
  Counter* failed;
};

void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void*) {
  std::unique_ptr<DeliveryContext> ctx(static_cast<DeliveryContext*>(msg->_private));
  if (!ctx) return;
  if (msg->err) {
    ctx->failed->Inc();
    ctx->callback(rd_kafka_err2str(msg->err));
  } else {
    ctx->ok->Inc();
    ctx->callback("");
  }
}
}  // namespace

KafkaProducer::KafkaProducer(const KafkaProducerOptions& options, Logger& logger,
                             MetricsRegistry& metrics)
    : logger_(logger),
      produced_ok_(metrics.GetCounter("tessera_kafka_produced_total", "Messages acknowledged by Kafka",
                                      {{"result", "ok"}})),
      produced_failed_(metrics.GetCounter("tessera_kafka_produced_total",
                                          "Messages acknowledged by Kafka", {{"result", "failed"}})) {
  ConfPtr conf(rd_kafka_conf_new());
  Set(conf.get(), "bootstrap.servers", options.brokers);
  Set(conf.get(), "client.id", options.client_id);
  Set(conf.get(), "enable.idempotence", "true");
  Set(conf.get(), "acks", "all");
  Set(conf.get(), "linger.ms", std::to_string(options.linger_ms));
  Set(conf.get(), "message.timeout.ms", std::to_string(options.message_timeout_ms));
  for (const auto& [k, v] : options.extra) Set(conf.get(), k, v);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), OnDelivery);
  rd_kafka_conf_set_log_cb(conf.get(), OnLog);
  rd_kafka_conf_set_opaque(conf.get(), &logger_);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (!rk) throw ConfigError(std::string("kafka producer: ") + err);
  conf.release();  // owned by rk now
  rk_.reset(rk);
  for (const auto& topic : options.unexpiring_topics) {
    // The producer's default topic settings (acks=all, the partitioner, `extra`), but no timeout.
    rd_kafka_topic_conf_t* tconf = rd_kafka_default_topic_conf_dup(rk);
    if (rd_kafka_topic_conf_set(tconf, "message.timeout.ms", "0", err, sizeof err) != RD_KAFKA_CONF_OK) {
      rd_kafka_topic_conf_destroy(tconf);
      throw ConfigError(std::string("kafka topic ") + topic + ": " + err);
    }
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), tconf);  // takes tconf
    if (!rkt) throw ConfigError("kafka topic " + topic + ": " + rd_kafka_err2str(rd_kafka_last_error()));
    unexpiring_.emplace(topic, RdKafkaTopicPtr(rkt));
  }
  poller_ = std::thread([this] {
    NameThisThread("kafka-producer");  // serves the delivery reports
    while (running_.load()) rd_kafka_poll(rk_.get(), 100);
  });
}

KafkaProducer::~KafkaProducer() {
  // After a Flush that already gave up (Kafka away at shutdown), wait only a moment more.
  if (rd_kafka_flush(rk_.get(), flush_timed_out_.load() ? 1000 : 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    // The broker is not answering. Undelivered outbox entries stay in Redis and are published
    // again by the next relay; drop the local queue so destroy does not wait on it.
    logger_.Warn("kafka producer closed with undelivered messages",
                 {{"outstanding", rd_kafka_outq_len(rk_.get())}});
    rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk_.get(), 1000);
  }
  running_ = false;
  poller_.join();
  rd_kafka_poll(rk_.get(), 0);
}

void KafkaProducer::Publish(const std::string& topic, const std::string& key,
                            const std::string& value, DeliveryCallback on_delivery) {
  auto* ctx = new DeliveryContext{std::move(on_delivery), &produced_ok_, &produced_failed_};
  const auto unexpiring = unexpiring_.find(topic);
  rd_kafka_topic_t* rkt = unexpiring == unexpiring_.end() ? nullptr : unexpiring->second.get();
  for (int attempt = 0;; ++attempt) {
    rd_kafka_resp_err_t err =
        rkt ? rd_kafka_producev(rk_.get(), RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(ctx), RD_KAFKA_V_END)
            : rd_kafka_producev(rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(ctx), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < 100) {
      rd_kafka_poll(rk_.get(), 10);  // let deliveries drain
      continue;
    }
    std::unique_ptr<DeliveryContext> owned(ctx);
    produced_failed_.Inc();
    owned->callback(rd_kafka_err2str(err));
    return;
  }
}

bool KafkaProducer::Flush(std::chrono::milliseconds timeout) {
  const bool done = rd_kafka_flush(rk_.get(), static_cast<int>(timeout.count())) == RD_KAFKA_RESP_ERR_NO_ERROR;
  flush_timed_out_ = !done;
  return done;
}

bool KafkaProducer::Reachable(std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk_.get(), 0, nullptr, &md, static_cast<int>(timeout.count()));
  if (md) rd_kafka_metadata_destroy(md);
  return err == RD_KAFKA_RESP_ERR_NO_ERROR;
}

// A consumer's opaque for librdkafka's callbacks, which run on its poll thread.
struct ConsumerContext {
  Logger* logger;
  std::function<void()> before_revoke;  // returns once what was handed out is handled
};

struct KafkaConsumer::Worker {
  std::mutex mu;
  std::condition_variable cv;  // a message queued, room in the queue, or stop
  std::deque<ConsumedMessage> queue;
  bool stop = false;
  std::thread thread;
};

namespace {
constexpr size_t kMaxQueuedPerWorker = 256;

void OnConsumerLog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  auto* ctx = static_cast<ConsumerContext*>(rd_kafka_opaque(rk));
  LogTo(ctx ? ctx->logger : nullptr, rk, level, facility, message);
}

void Rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
               void* opaque) {
  auto* ctx = static_cast<ConsumerContext*>(opaque);
  Logger* logger = ctx->logger;
  const bool cooperative = std::string(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    logger->Info("kafka partitions assigned", {{"count", parts->cnt}});
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, parts);
    }
  } else {
    // Commit what was handled before the partitions move to another member: first let the
    // workers finish what they were given, so the next owner does not handle it again.
    ctx->before_revoke();
    rd_kafka_commit(rk, nullptr, 0);
    logger->Info("kafka partitions revoked", {{"count", parts->cnt}});
    if (cooperative) {
      if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) rd_kafka_error_destroy(e);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
}
}  // namespace

KafkaConsumer::KafkaConsumer(KafkaConsumerOptions options, MessageHandler handler,
                             EventPublisher& dlq, Logger& logger, MetricsRegistry& metrics)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      dlq_(dlq),
      logger_(logger),
      metrics_(metrics),
      consumed_(metrics.GetCounter("tessera_kafka_consumed_total", "Messages handled", {{"group", options_.group_id}})),
      context_(std::make_unique<ConsumerContext>(ConsumerContext{&logger_, [this] { DrainHandedOut(); }})) {
  if (options_.workers < 1) throw ConfigError("kafka consumer: workers must be at least 1");
  ConfPtr conf(rd_kafka_conf_new());
  Set(conf.get(), "bootstrap.servers", options_.brokers);
  Set(conf.get(), "group.id", options_.group_id);
  Set(conf.get(), "client.id", options_.client_id);
  Set(conf.get(), "enable.auto.commit", "true");
  Set(conf.get(), "auto.commit.interval.ms", "500");
  Set(conf.get(), "enable.auto.offset.store", "false");
  Set(conf.get(), "auto.offset.reset", "earliest");
  Set(conf.get(), "session.timeout.ms", std::to_string(options_.session_timeout_ms));
  Set(conf.get(), "heartbeat.interval.ms", std::to_string(options_.heartbeat_interval_ms));
  Set(conf.get(), "fetch.wait.max.ms", std::to_string(options_.fetch_wait_max_ms));
  Set(conf.get(), "allow.auto.create.topics", "true");
  for (const auto& [k, v] : options_.extra) Set(conf.get(), k, v);
  rd_kafka_conf_set_rebalance_cb(conf.get(), Rebalance);
  rd_kafka_conf_set_log_cb(conf.get(), OnConsumerLog);
  rd_kafka_conf_set_opaque(conf.get(), context_.get());
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!rk) throw ConfigError(std::string("kafka consumer: ") + err);
  conf.release();
  rk_.reset(rk);
  rd_kafka_poll_set_consumer(rk_.get());
}

KafkaConsumer::~KafkaConsumer() { Stop(); }

void KafkaConsumer::Start() {
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
      rd_kafka_topic_partition_list_new(static_cast<int>(options_.topics.size())),
      rd_kafka_topic_partition_list_destroy);
  for (const auto& t : options_.topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  if (rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_.get(), list.get())) {
    throw ConfigError(std::string("kafka subscribe: ") + rd_kafka_err2str(e));
  }
  running_ = true;
  if (options_.workers > 1) {
    for (int i = 0; i < options_.workers; ++i) {
      workers_.push_back(std::make_unique<Worker>());
      Worker& w = *workers_.back();
      w.thread = std::thread([this, &w, i] {
        NameThisThread("kafka-worker-" + std::to_string(i));
        WorkerLoop(w);
      });
    }
  }
  thread_ = std::thread([this] {
    NameThisThread("kafka-consumer");
    Loop();
  });
}

void KafkaConsumer::Stop() {
  if (stopped_.exchange(true)) return;
  running_ = false;
  for (auto& w : workers_) {  // wakes a poll thread waiting for room, and idle workers
    std::lock_guard lock(w->mu);
    w->stop = true;
    w->cv.notify_all();
  }
  {
    std::lock_guard lock(handed_out_mu_);  // wakes a revoke waiting for the workers
    handed_out_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // Each worker finishes the message in hand; what is still queued is left uncommitted, for
  // redelivery. The offsets stored until now are committed by the close.
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  CloseConsumer(rk_.get(), std::chrono::seconds(5), logger_);
}

bool KafkaConsumer::HandOut(ConsumedMessage msg) {
  const size_t index = (std::hash<std::string>{}(msg.topic) + static_cast<size_t>(msg.partition)) % workers_.size();
  Worker& w = *workers_[index];
  {
    std::unique_lock lock(w.mu);
    w.cv.wait(lock, [&] { return w.stop || w.queue.size() < kMaxQueuedPerWorker; });
    if (w.stop) return false;
    {
      std::lock_guard count(handed_out_mu_);
      ++handed_out_;
    }
    w.queue.push_back(std::move(msg));
  }
  w.cv.notify_all();
  return true;
}

void KafkaConsumer::WorkerLoop(Worker& w) {
  while (true) {
    ConsumedMessage msg;
    {
      std::unique_lock lock(w.mu);
      w.cv.wait(lock, [&] { return w.stop || !w.queue.empty(); });
      if (w.stop) return;
      msg = std::move(w.queue.front());
      w.queue.pop_front();
    }
    w.cv.notify_all();  // room for the poll thread
    const bool handled = HandleWithRetry(msg);
    if (handled) Done(msg);
    {
      std::lock_guard lock(handed_out_mu_);
      --handed_out_;
      handed_out_cv_.notify_all();
    }
    if (!handled) return;  // stopping mid-retry: the offset stays for redelivery
  }
}

void KafkaConsumer::DrainHandedOut() {
  std::unique_lock lock(handed_out_mu_);
  handed_out_cv_.wait(lock, [&] { return handed_out_ == 0 || !running_.load(); });
}

void KafkaConsumer::Done(const ConsumedMessage& msg) {
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> offs(
      rd_kafka_topic_partition_list_new(1), rd_kafka_topic_partition_list_destroy);
  rd_kafka_topic_partition_list_add(offs.get(), msg.topic.c_str(), msg.partition)->offset = msg.offset + 1;
  rd_kafka_offsets_store(rk_.get(), offs.get());  // refused for a partition no longer assigned: redelivered
  consumed_.Inc();
}

namespace {
using PartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;

// Messages in a consumer's assigned partitions that it has not handed to its handler yet,
// against the high watermarks its fetches last reported. A partition's starting point is the
// position after the last message handed out; before the first one since the assignment, the
// group's committed offset (asked of the broker once per assignment; none committed means the
// partition's beginning, as auto.offset.reset=earliest). Runs on the consumer's thread only.
class LagMeter {
 public:
  struct Reading {
    int64_t lag = 0;
    int assigned = 0;  // partitions assigned to this consumer; 0 while it (re)joins its group
  };
  Reading Measure(rd_kafka_t* rk) {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(rk, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR || !raw) return {};
    PartitionListPtr parts(raw, rd_kafka_topic_partition_list_destroy);
    if (rd_kafka_position(rk, parts.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return {};
    std::string assignment;
    for (int i = 0; i < parts->cnt; ++i) {
      assignment += parts->elems[i].topic;
      assignment += '/' + std::to_string(parts->elems[i].partition) + ' ';
    }
    if (assignment != assignment_) {  // a rebalance: committed offsets are to be asked again
      assignment_ = std::move(assignment);
      committed_.clear();
    }
    AskCommitted(rk, *parts);
    int64_t total = 0;
    for (int i = 0; i < parts->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = parts->elems[i];
      int64_t lo = 0, hi = 0;
      if (rd_kafka_get_watermark_offsets(rk, p.topic, p.partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0) {
        continue;  // nothing fetched from it yet
      }
      int64_t from = p.offset;
      if (from < 0) {
        auto known = committed_.find({p.topic, p.partition});
        if (known == committed_.end()) continue;  // not known yet: counts 0
        from = known->second;  // negative (nothing committed): from the beginning, lo
      }
      total += std::max<int64_t>(0, hi - std::max(from, lo));
    }
    return {total, parts->cnt};
  }

 private:
  // Fills committed_ for the partitions without a position, in one broker call. The call blocks
  // the consumer's thread: bounded, and not repeated for 5 s after a failure (a broker that does
  // not answer must not stall consumption every 100 ms).
  void AskCommitted(rd_kafka_t* rk, const rd_kafka_topic_partition_list_t& parts) {
    PartitionListPtr ask(rd_kafka_topic_partition_list_new(0), rd_kafka_topic_partition_list_destroy);
    for (int i = 0; i < parts.cnt; ++i) {
      const rd_kafka_topic_partition_t& p = parts.elems[i];
      if (p.offset < 0 && !committed_.count({p.topic, p.partition})) {
        rd_kafka_topic_partition_list_add(ask.get(), p.topic, p.partition);
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (ask->cnt == 0 || now < next_ask_) return;
    if (rd_kafka_committed(rk, ask.get(), 500) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      next_ask_ = now + std::chrono::seconds(5);
      return;
    }
    for (int i = 0; i < ask->cnt; ++i) {
      const rd_kafka_topic_partition_t& p = ask->elems[i];
      if (p.err == RD_KAFKA_RESP_ERR_NO_ERROR) committed_[{p.topic, p.partition}] = p.offset;
    }
  }

  std::string assignment_;
  std::map<std::pair<std::string, int32_t>, int64_t> committed_;  // offset, negative = none
  std::chrono::steady_clock::time_point next_ask_{};
};
}  // namespace

void KafkaConsumer::Loop() {
  Gauge& lag = metrics_.GetGauge("tessera_kafka_consumer_lag", "Messages behind the high watermark",
                                 {{"group", options_.group_id}});
  Gauge& assigned = metrics_.GetGauge("tessera_kafka_assigned_partitions",
                                      "Partitions assigned to this consumer (0 while it joins its group)",
                                      {{"group", options_.group_id}});
  LagMeter meter;
  auto next_lag = std::chrono::steady_clock::now();
  auto refresh_lag = [&] {  // at most every 100 ms: it walks the assignment
    const auto now = std::chrono::steady_clock::now();
    if (now < next_lag) return;
    next_lag = now + std::chrono::milliseconds(100);
    const LagMeter::Reading r = meter.Measure(rk_.get());
    int64_t waiting = 0;  // fetched and handed to a worker, not handled yet
    {
      std::lock_guard lock(handed_out_mu_);
      waiting = handed_out_;
    }
    lag_ = r.lag + waiting;
    lag.Set(static_cast<double>(r.lag + waiting));
    assigned.Set(r.assigned);
  };
  while (running_.load()) {
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_.get(), 100);
    refresh_lag();
    if (!raw) continue;
    std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg(raw, rd_kafka_message_destroy);
    if (msg->err) {
      if (msg->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        logger_.Warn("kafka consumer error", {{"error", rd_kafka_message_errstr(msg.get())}});
      }
      continue;
    }
    ConsumedMessage m = ToConsumed(msg.get());
    if (!workers_.empty()) {
      if (!HandOut(std::move(m))) break;
      continue;
    }
    if (!HandleWithRetry(m)) break;  // stopping mid-retry: leave the offset for redelivery
    Done(m);
  }
}

bool KafkaConsumer::HandleWithRetry(const ConsumedMessage& msg) {
  auto backoff = options_.retry_backoff;
  while (true) {
    try {
      handler_(msg);
      handled_++;
      return true;
    } catch (const PoisonMessage& e) {
      if (SendToDlq(msg, e.what())) {
        handled_++;
        return true;
      }
    } catch (const UnavailableError& e) {
      logger_.Warn("message handling postponed: dependency unavailable",
                   {{"topic", msg.topic}, {"offset", msg.offset}, {"error", e.what()}});
    } catch (const std::exception& e) {
      // An unexpected error is a bug or bad data: park the message rather than stall the partition.
      if (SendToDlq(msg, std::string("handler error: ") + e.what())) {
        handled_++;
        return true;
      }
    }
    if (!running_.load()) return false;
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, options_.max_retry_backoff);
  }
}

bool KafkaConsumer::SendToDlq(const ConsumedMessage& msg, const std::string& reason) {
  const std::string dlq_topic = DlqTopicFor(msg.topic);
  nlohmann::json record = {{"error", reason},
                           {"topic", msg.topic},
                           {"partition", msg.partition},
                           {"offset", msg.offset},
                           {"key", msg.key},
                           {"value", msg.value},
                           {"consumer_group", options_.group_id},
                           {"failed_at", FormatRfc3339(SystemClock().Now())}};
  auto delivered = std::make_shared<std::promise<std::string>>();
  auto result = delivered->get_future();
  dlq_.Publish(dlq_topic, msg.key,
               record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
               [delivered](const std::string& err) { delivered->set_value(err); });
  if (result.wait_for(std::chrono::seconds(30)) != std::future_status::ready || !result.get().empty()) {
    logger_.Error("could not dead-letter a message; will retry", {{"topic", msg.topic}, {"offset", msg.offset}});
    return false;
  }
  metrics_.GetCounter("tessera_kafka_dead_lettered_total", "Messages sent to a dead-letter topic",
                      {{"topic", msg.topic}})
      .Inc();
  logger_.Warn("message dead-lettered", {{"topic", msg.topic}, {"offset", msg.offset}, {"reason", reason}});
  return true;
}

KafkaTopicTail::KafkaTopicTail(std::string brokers, std::vector<std::string> topics, MessageHandler handler,
                               Logger& logger)
    : topics_(std::move(topics)), handler_(std::move(handler)), logger_(logger) {
  ConfPtr conf(rd_kafka_conf_new());
  Set(conf.get(), "bootstrap.servers", brokers);
  // The group id is only there because rd_kafka_consumer_poll needs one: the tail never joins
  // (assign, not subscribe) and never stores or commits an offset.
  Set(conf.get(), "group.id", "tessera-tail-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
  Set(conf.get(), "enable.auto.commit", "false");
  Set(conf.get(), "enable.auto.offset.store", "false");
  Set(conf.get(), "fetch.wait.max.ms", "10");
  rd_kafka_conf_set_log_cb(conf.get(), OnLog);
  rd_kafka_conf_set_opaque(conf.get(), &logger_);
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!rk) throw ConfigError(std::string("kafka tail: ") + err);
  conf.release();
  rk_.reset(rk);
  rd_kafka_poll_set_consumer(rk_.get());
}

KafkaTopicTail::~KafkaTopicTail() { Stop(); }

bool KafkaTopicTail::Start(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)> list(
      rd_kafka_topic_partition_list_new(8), rd_kafka_topic_partition_list_destroy);
  bool complete = true;
  for (const auto& topic : topics_) {
    int partitions = 0;
    while (partitions == 0 && std::chrono::steady_clock::now() < deadline) {
      const rd_kafka_metadata_t* md = nullptr;
      rd_kafka_topic_t* t = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
      if (rd_kafka_metadata(rk_.get(), 0, t, &md, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
        partitions = md->topics[0].partition_cnt;
      }
      if (md) rd_kafka_metadata_destroy(md);
      rd_kafka_topic_destroy(t);
      if (partitions == 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (partitions == 0) complete = false;
    for (int p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
    }
  }
  rd_kafka_assign(rk_.get(), list.get());
  running_ = true;
  thread_ = std::thread([this] {
    NameThisThread("kafka-tail");
    while (running_.load()) {
      rd_kafka_message_t* raw = rd_kafka_consumer_poll(rk_.get(), 100);
      if (!raw) continue;
      std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg(raw, rd_kafka_message_destroy);
      if (msg->err) continue;
      const ConsumedMessage m = ToConsumed(msg.get());
      try {
        handler_(m);
      } catch (const std::exception& e) {
        logger_.Warn("topic tail handler failed", {{"topic", m.topic}, {"error", e.what()}});
      }
    }
  });
  return complete;
}

void KafkaTopicTail::Stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
  rd_kafka_assign(rk_.get(), nullptr);  // never joined its group, stored nothing: nothing to leave or commit
}

}  // namespace tessera
