#include "tessera/outbox.h"

#include <algorithm>
#include <functional>
#include <set>

#include "tessera/events.h"
#include "tessera/lease.h"
#include "tessera/thread_name.h"

namespace tessera {

KafkaProducerOptions OutboxProducerOptions(std::string brokers, std::string client_id) {
  KafkaProducerOptions o;
  o.brokers = std::move(brokers);
  o.client_id = std::move(client_id);
  o.unexpiring_topics = EventTopics();
  return o;
}

OutboxRelay::OutboxRelay(RedisPool& pool, EventPublisher& publisher, OutboxRelayOptions options,
                         Logger& logger, MetricsRegistry& metrics)
    : pool_(pool),
      publisher_(publisher),
      options_(std::move(options)),
      logger_(logger),
      published_counter_(metrics.GetCounter("tessera_outbox_published_total",
                                            "Outbox entries acknowledged by Kafka and deleted")),
      failed_counter_(metrics.GetCounter("tessera_outbox_publish_failures_total",
                                         "Outbox publishes that failed and will be retried")),
      owned_gauge_(metrics.GetGauge("tessera_outbox_streams_owned", "Outbox streams this replica's relay publishes")) {
  metrics.AddCollector([this, &metrics] {
    try {
      metrics.GetGauge("tessera_outbox_depth", "Events waiting in the outbox streams").Set(static_cast<double>(Depth()));
    } catch (const std::exception&) {
      // Redis unreachable: the depth gauge keeps its last value; readiness reports the outage.
    }
  });
}

OutboxRelay::~OutboxRelay() { Stop(std::chrono::milliseconds(0)); }

void OutboxRelay::Start() {
  running_ = true;
  thread_ = std::thread([this] {
    NameThisThread("outbox-relay");
    Loop();
  });
}

void OutboxRelay::Stop(std::chrono::milliseconds drain) {
  if (stopped_.exchange(true)) return;
  running_ = false;
  if (thread_.joinable()) thread_.join();
  publisher_.Flush(drain);
  try {
    ApplyCompletions();
    for (const auto& [s, cursor] : owned_) {
      ReleaseLease(pool_, s + ":lease", options_.owner);
    }
    if (!options_.registry.empty()) LeaveMembership(pool_, options_.registry, options_.owner);
    owned_count_ = 0;
    owned_gauge_.Set(0);
  } catch (const std::exception& e) {
    logger_.Warn("outbox relay stopped without cleaning up", {{"error", e.what()}});
  }
}

int64_t OutboxRelay::Depth() {
  std::vector<std::vector<std::string>> cmds;
  cmds.reserve(options_.streams.size());
  for (const auto& s : options_.streams) cmds.push_back({"XLEN", s});
  int64_t total = 0;
  for (const auto& v : pool_.Pipeline(cmds)) total += v.ThrowIfError().AsInt();
  return total;
}

void OutboxRelay::Loop() {
  auto backoff = std::chrono::milliseconds(100);
  while (running_.load()) {
    try {
      if (std::chrono::steady_clock::now() >= next_renew_) RenewLeases();
      ApplyCompletions(false);
      if (owned_.empty() || in_flight_.load() >= options_.max_in_flight) {
        std::this_thread::sleep_for(options_.block);
        continue;
      }
      const size_t n = ReadAndPublish();
      if (n > 0 && n < static_cast<size_t>(options_.batch) && options_.linger.count() > 0) {
        std::this_thread::sleep_for(options_.linger);
      }
      backoff = std::chrono::milliseconds(100);
    } catch (const std::exception& e) {
      logger_.Warn("outbox relay: redis unavailable, retrying", {{"error", e.what()}});
      // Leases may have lapsed while Redis was away: re-read from the start of each stream.
      for (auto& [stream, id] : owned_) id = "0-0";
      next_renew_ = {};
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

void OutboxRelay::RenewLeases() {
  const size_t n = options_.streams.size();
  size_t share = n, least = n;  // at most `share`; below `least`, look again soon
  if (!options_.registry.empty()) {
    const auto alive = static_cast<size_t>(std::max<int64_t>(
        1, RenewMembership(pool_, options_.registry, options_.owner, options_.lease_ttl.count())));
    share = (n + alive - 1) / alive;
    least = n / alive;
  }
  std::vector<std::vector<std::string>> peek;
  peek.reserve(n);
  for (const auto& s : options_.streams) peek.push_back({"GET", s + ":lease"});
  const std::vector<RedisValue> holders = pool_.Pipeline(peek);
  std::vector<size_t> mine, free;
  for (size_t i = 0; i < n; ++i) {
    const RedisValue& h = holders.at(i).ThrowIfError();
    if (h.IsNil()) free.push_back(i);
    else if (h.AsString() == options_.owner) mine.push_back(i);
  }
  // Keep what we hold up to our share, hand the rest over, and fill up with free streams from a
  // place of our own, so that relays looking at the same moment mostly try different ones.
  std::vector<std::string> hand_over;
  while (mine.size() > share) {
    hand_over.push_back(options_.streams[mine.back()]);
    mine.pop_back();
  }
  std::vector<size_t> want = mine;
  const size_t start = free.empty() ? 0 : std::hash<std::string>{}(options_.owner) % free.size();
  for (size_t k = 0; k < free.size() && want.size() < share; ++k) want.push_back(free[(start + k) % free.size()]);
  std::vector<std::string> keys;
  keys.reserve(want.size());
  for (size_t i : want) keys.push_back(options_.streams[i] + ":lease");
  const std::vector<bool> ours = AcquireLeases(pool_, keys, options_.owner, options_.lease_ttl.count());
  std::set<std::string> now_owned;
  for (size_t j = 0; j < want.size(); ++j) {
    if (ours[j]) now_owned.insert(options_.streams[want[j]]);
  }
  for (auto it = owned_.begin(); it != owned_.end();) {
    const std::string& stream = it->first;
    if (now_owned.count(stream)) {
      ++it;
      continue;
    }
    if (std::find(hand_over.begin(), hand_over.end(), stream) == hand_over.end()) {
      logger_.Info("outbox relay lost a stream lease", {{"stream", stream}});
    }
    it = owned_.erase(it);
  }
  for (const auto& s : now_owned) owned_.try_emplace(s, "0-0");  // a stream new to us: from its start
  if (!hand_over.empty()) HandOver(hand_over);
  owned_count_ = owned_.size();
  owned_gauge_.Set(static_cast<double>(owned_.size()));
  const auto every = options_.lease_ttl / 3;
  next_renew_ = std::chrono::steady_clock::now() +
                (owned_.size() < least ? std::min<std::chrono::milliseconds>(every, options_.rebalance_retry) : every);
}

void OutboxRelay::HandOver(const std::vector<std::string>& streams) {
  // The next owner reads these streams from their start, so everything not yet deleted is
  // published again (same event_id). Waiting for our deliveries keeps that small; releasing
  // before they all arrived is still safe: each publisher keeps a partition's order, so the
  // first copy of every event still comes in the order the events were appended.
  publisher_.Flush(std::min<std::chrono::milliseconds>(options_.lease_ttl / 3, std::chrono::seconds(2)));
  ApplyCompletions();
  for (const auto& s : streams) ReleaseLease(pool_, s + ":lease", options_.owner);
  logger_.Info("outbox relay handed streams over to share them",
               {{"streams", streams.size()}, {"kept", owned_.size()}});
}

size_t OutboxRelay::ReadAndPublish() {
  // Views of the streams and cursors: each read names every owned stream twice (65 of each by
  // default), which copied as strings cost more than the read itself at low load.
  const std::string count = std::to_string(options_.batch), block = std::to_string(options_.block.count());
  std::vector<std::string_view> cmd = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS"};
  // The streams, then their cursors in the same order: walked, not looked up (65 lookups of a
  // stream's name per read were a tenth of the relay's instructions at low load).
  cmd.reserve(cmd.size() + 2 * owned_.size());
  for (const auto& [stream, id] : owned_) cmd.push_back(stream);
  for (const auto& [stream, id] : owned_) cmd.push_back(id);
  RedisValue v = pool_.BlockingCommand(cmd, options_.block + pool_.options().command_timeout);
  v.ThrowIfError();
  if (v.IsNil()) return 0;
  size_t n = 0;
  for (const auto& stream_reply : v.elements) {
    const std::string& stream = stream_reply.elements.at(0).AsString();
    std::string& cursor = owned_[stream];
    for (const auto& entry : stream_reply.elements.at(1).elements) {
      const std::string& id = entry.elements.at(0).AsString();
      const auto& fields = entry.elements.at(1).elements;
      ++n;
      static const std::string kNone;
      const std::string* topic = &kNone;  // point into the reply: an event is copied once, by the producer
      const std::string* key = &kNone;
      const std::string* value = &kNone;
      for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        const std::string& f = fields[i].AsString();
        if (f == "topic") topic = &fields[i + 1].AsString();
        else if (f == "key") key = &fields[i + 1].AsString();
        else if (f == "value") value = &fields[i + 1].AsString();
      }
      cursor = id;
      if (topic->empty()) {
        logger_.Error("outbox entry without a topic dropped", {{"stream", stream}, {"id", id}});
        pool_.Command({"XDEL", stream, id});
        continue;
      }
      in_flight_++;
      publisher_.Publish(*topic, *key, *value, [sink = completions_, stream, id](const std::string& error) {
        std::lock_guard lock(sink->mu);
        sink->items.push_back({stream, id, error});
      });
    }
  }
  return n;
}

void OutboxRelay::ApplyCompletions(bool force) {
  std::vector<Completion> done;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(completions_->mu);
    if (!force && now < next_delete_ && completions_->items.size() < options_.delete_batch) return;
    done.swap(completions_->items);
  }
  next_delete_ = now + options_.delete_interval;
  if (done.empty()) return;
  std::map<std::string, std::vector<std::string>> acked;
  for (const auto& c : done) {
    if (c.error.empty()) {
      acked[c.stream].push_back(c.id);
    } else {
      failed_counter_.Inc();
      logger_.Warn("outbox publish failed; will resend", {{"stream", c.stream}, {"error", c.error}});
      if (auto it = owned_.find(c.stream); it != owned_.end()) it->second = "0-0";  // re-read what is still there
    }
  }
  std::vector<std::vector<std::string>> cmds;
  size_t n = 0;
  for (auto& [stream, ids] : acked) {
    std::vector<std::string> cmd = {"XDEL", stream};
    cmd.insert(cmd.end(), ids.begin(), ids.end());
    n += ids.size();
    cmds.push_back(std::move(cmd));
  }
  try {
    for (const auto& r : pool_.Pipeline(cmds)) r.ThrowIfError();
  } catch (...) {
    // Not deleted: the entries will be published again (same event_id). Keep them pending.
    std::lock_guard lock(completions_->mu);
    completions_->items.insert(completions_->items.end(), done.begin(), done.end());
    throw;
  }
  in_flight_ -= done.size();
  published_ += n;
  published_counter_.Inc(static_cast<double>(n));
}

}  // namespace tessera
