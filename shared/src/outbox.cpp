#include "tessera/outbox.h"

#include "tessera/lease.h"

namespace tessera {


OutboxRelay::OutboxRelay(RedisPool& pool, EventPublisher& publisher, OutboxRelayOptions options,
                         Logger& logger, MetricsRegistry& metrics)
    : pool_(pool),
      publisher_(publisher),
      options_(std::move(options)),
      logger_(logger),
      published_counter_(metrics.GetCounter("tessera_outbox_published_total",
                                            "Outbox entries acknowledged by Kafka and deleted")),
      failed_counter_(metrics.GetCounter("tessera_outbox_publish_failures_total",
                                         "Outbox publishes that failed and will be retried")) {
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
  thread_ = std::thread([this] { Loop(); });
}

void OutboxRelay::Stop(std::chrono::milliseconds drain) {
  if (stopped_.exchange(true)) return;
  running_ = false;
  if (thread_.joinable()) thread_.join();
  publisher_.Flush(drain);
  try {
    ApplyCompletions();
    for (const auto& s : owned_) {
      ReleaseLease(pool_, s + ":lease", options_.owner);
    }
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
      for (auto& [stream, id] : cursor_) id = "0-0";
      next_renew_ = {};
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }
}

void OutboxRelay::RenewLeases() {
  std::vector<std::string> keys;
  keys.reserve(options_.streams.size());
  for (const auto& s : options_.streams) keys.push_back(s + ":lease");
  const std::vector<bool> ours = AcquireLeases(pool_, keys, options_.owner, options_.lease_ttl.count());
  for (size_t i = 0; i < ours.size(); ++i) {
    const std::string& s = options_.streams[i];
    const bool own = ours[i];
    if (own && !owned_.count(s)) {
      owned_.insert(s);
      cursor_[s] = "0-0";
    } else if (!own && owned_.count(s)) {
      owned_.erase(s);
      cursor_.erase(s);
      logger_.Info("outbox relay lost a stream lease", {{"stream", s}});
    }
  }
  next_renew_ = std::chrono::steady_clock::now() + options_.lease_ttl / 3;
}

size_t OutboxRelay::ReadAndPublish() {
  // Views of the streams and cursors: each read names every owned stream twice (65 of each by
  // default), which copied as strings cost more than the read itself at low load.
  const std::string count = std::to_string(options_.batch), block = std::to_string(options_.block.count());
  std::vector<std::string_view> cmd = {"XREAD", "COUNT", count, "BLOCK", block, "STREAMS"};
  cmd.reserve(cmd.size() + 2 * owned_.size());
  for (const auto& s : owned_) cmd.push_back(s);
  for (const auto& s : owned_) cmd.push_back(cursor_[s]);
  RedisValue v = pool_.BlockingCommand(cmd, options_.block + pool_.options().command_timeout);
  v.ThrowIfError();
  if (v.IsNil()) return 0;
  size_t n = 0;
  for (const auto& stream_reply : v.elements) {
    const std::string& stream = stream_reply.elements.at(0).AsString();
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
      cursor_[stream] = id;
      if (topic->empty()) {
        logger_.Error("outbox entry without a topic dropped", {{"stream", stream}, {"id", id}});
        pool_.Command({"XDEL", stream, id});
        continue;
      }
      in_flight_++;
      publisher_.Publish(*topic, *key, *value, [this, stream, id](const std::string& error) {
        std::lock_guard lock(completions_mu_);
        completions_.push_back({stream, id, error});
      });
    }
  }
  return n;
}

void OutboxRelay::ApplyCompletions(bool force) {
  std::vector<Completion> done;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(completions_mu_);
    if (!force && now < next_delete_ && completions_.size() < options_.delete_batch) return;
    done.swap(completions_);
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
      if (cursor_.count(c.stream)) cursor_[c.stream] = "0-0";  // re-read what is still there
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
    std::lock_guard lock(completions_mu_);
    completions_.insert(completions_.end(), done.begin(), done.end());
    throw;
  }
  in_flight_ -= done.size();
  published_ += n;
  published_counter_.Inc(static_cast<double>(n));
}

}  // namespace tessera
