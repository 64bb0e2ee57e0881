// The outbox relay: publishes events that service scripts appended to Redis outbox streams
// (tessera_outbox_append in the shared Lua library) to Kafka, and deletes an entry only after
// the broker acknowledged it. Delivery is at-least-once with the envelope's `event_id`
// preserved: killing the relay at any moment loses nothing; a restart may publish an entry a
// second time, and consumers dedupe by event_id.
//
// Several replicas may run relays over the same streams: each stream is owned by one relay at a
// time through a lease key (`<stream>:lease`, renewed every lease_ttl/3), which keeps one
// publisher per stream and so keeps a member's events in order. Relays that share a `registry`
// also share the streams: each holds at most ceil(streams / relays alive), hands the surplus
// over when another relay joins, and takes up the streams of one that left or died.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tessera/kafka.h"
#include "tessera/logging.h"
#include "tessera/metrics.h"
#include "tessera/redis.h"

namespace tessera {

struct OutboxRelayOptions {
  std::vector<std::string> streams;  // e.g. OutboxStreams("rewards")
  std::string owner;                 // unique per relay instance
  int batch = 512;                   // entries read per XREAD
  std::chrono::milliseconds block{100};
  // After a read that found fewer than `batch` entries, wait this long before reading again,
  // so that under load one XREAD (and one XDEL per stream) carries many entries instead of
  // one or two. Adds at most this much to an event's delivery latency. 0: read again at once.
  // Each read names every owned stream, which Redis looks up and checks: at 20 000 events/s,
  // 5 ms instead of 2 saved Redis about 0.5 µs and the relay 0.4 µs per event (bench/README.md,
  // session 31). Services take it from TESSERA_OUTBOX_LINGER_MS.
  std::chrono::milliseconds linger{5};
  // Acknowledged entries are deleted (one XDEL per stream) at most this often, or as soon as
  // `delete_batch` acknowledgements wait: with 65 streams, deleting after every read sent about
  // two ids per XDEL. A later delete only means a crash republishes more (same event_id).
  std::chrono::milliseconds delete_interval{25};
  size_t delete_batch = 1024;
  std::chrono::milliseconds lease_ttl{10000};
  size_t max_in_flight = 20000;
  // OutboxRelayRegistry(service): where the relays over these streams record that they are
  // alive, to split the streams between them. Empty: this relay takes every stream it can.
  std::string registry;
  // While this relay holds fewer streams than its share (another relay has not yet handed
  // them over), it looks again this often instead of every lease_ttl/3.
  std::chrono::milliseconds rebalance_retry{500};
};

// The options of the producer an outbox relay publishes through: the event topics of SPEC §7
// never time out (KafkaProducerOptions::unexpiring_topics), so a Kafka outage of any length
// delays a member's events without skipping one and sending it again after later ones.
KafkaProducerOptions OutboxProducerOptions(std::string brokers, std::string client_id);

class OutboxRelay {
 public:
  // `pool`, `publisher`, `logger` and `metrics` must outlive the relay.
  OutboxRelay(RedisPool& pool, EventPublisher& publisher, OutboxRelayOptions options, Logger& logger,
              MetricsRegistry& metrics);
  ~OutboxRelay();

  void Start();
  // Stops reading, waits up to `drain` for in-flight deliveries, deletes what was
  // acknowledged and gives up the leases. Idempotent.
  void Stop(std::chrono::milliseconds drain = std::chrono::seconds(10));

  // Entries waiting in all streams (XLEN sum). Throws UnavailableError.
  int64_t Depth();
  uint64_t published() const { return published_.load(); }
  // Streams this relay holds the lease of (as of its last renewal).
  size_t owned_streams() const { return owned_count_.load(); }

 private:
  struct Completion {
    std::string stream, id, error;
  };
  // Where delivery reports land. Shared with the callbacks, so that a report arriving after the
  // relay is gone (the producer outlives it and purges what Kafka never took) lands here too.
  struct Completions {
    std::mutex mu;
    std::vector<Completion> items;
  };
  void Loop();
  // Renews the leases this relay keeps, takes free ones up to its share, hands the surplus over.
  void RenewLeases();
  // Gives up `streams` (no longer read): waits a moment for what is in flight, deletes what
  // was acknowledged, then releases their leases.
  void HandOver(const std::vector<std::string>& streams);
  size_t ReadAndPublish();  // entries read
  // Deletes what the broker acknowledged; `force`: whatever is waiting, else only when
  // delete_interval has passed or delete_batch acknowledgements wait.
  void ApplyCompletions(bool force = true);

  RedisPool& pool_;
  EventPublisher& publisher_;
  OutboxRelayOptions options_;
  Logger& logger_;
  Counter& published_counter_;
  Counter& failed_counter_;
  Gauge& owned_gauge_;
  std::map<std::string, std::string> owned_;  // the streams this relay holds -> the last id read in each
  std::chrono::steady_clock::time_point next_renew_{};
  std::chrono::steady_clock::time_point next_delete_{};
  std::shared_ptr<Completions> completions_ = std::make_shared<Completions>();
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> published_{0};
  std::atomic<size_t> owned_count_{0};
  std::atomic<bool> running_{false};
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace tessera
