#include "sweep.h"

#include <thread>

#include "tessera/errors.h"
#include "tessera/keys.h"

namespace tessera::rewards {

Sweep::Sweep(RewardsApp& app, AccountStore& store, const Clock& clock, SweepOptions options, Logger& logger,
             MetricsRegistry& metrics)
    : app_(app),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      logger_(logger),
      changes_(metrics.GetCounter("tessera_rewards_sweep_changes_total", "Ledger changes made by the expiry sweep")),
      members_(metrics.GetCounter("tessera_rewards_sweep_members_total", "Members settled by the expiry sweep")) {}

int Sweep::RunOnce() {
  int total = 0;
  // One round trip finds the buckets with something due; only those are locked and read, so an
  // idle pass costs Redis 64 plain reads instead of 64 × (lock, read, unlock).
  for (int bucket : store_.DueBuckets(ToUnixMillis(clock_.Now()))) {
    if (!store_.TryLockBucket(bucket, options_.owner, options_.lease_ms)) continue;
    const int64_t now = ToUnixMillis(clock_.Now());
    for (const auto& member : store_.DueMembers(bucket, now, options_.batch)) {
      const int n = app_.SettleMember(member);
      members_.Inc();
      changes_.Inc(n);
      total += n;
    }
    store_.UnlockBucket(bucket, options_.owner);
  }
  return total;
}

void Sweep::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      RunOnce();
    } catch (const UnavailableError& e) {
      logger_.Warn("sweep postponed: redis unavailable", {{"error", e.what()}});
    }
    const auto until = std::chrono::steady_clock::now() + options_.interval;
    while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace tessera::rewards
