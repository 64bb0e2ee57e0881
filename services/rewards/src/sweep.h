// The expiry sweep: applies what is due (hold expiry, vesting, expiry warnings, lot expiry,
// tier downgrades) for members nobody touched. Members are indexed by their next due instant in
// one sorted set per bucket; a replica sweeps a bucket only while it holds that bucket's lease,
// so several replicas can run at once. Time comes from the injected clock.
#pragma once

#include <stop_token>
#include <string>

#include "rewards_app.h"
#include "tessera/metrics.h"

namespace tessera::rewards {

struct SweepOptions {
  std::string owner;                       // this replica
  std::chrono::milliseconds interval{1000};
  int batch = 200;                         // members per bucket per pass
  int64_t lease_ms = 30000;
};

class Sweep {
 public:
  Sweep(RewardsApp& app, AccountStore& store, const Clock& clock, SweepOptions options, Logger& logger,
        MetricsRegistry& metrics);
  // One pass over every bucket with a member due. Returns the number of changes committed.
  int RunOnce();
  // RunOnce every interval until stop is requested.
  void Run(std::stop_token stop);

 private:
  RewardsApp& app_;
  AccountStore& store_;
  const Clock& clock_;
  SweepOptions options_;
  Logger& logger_;
  Counter& changes_;
  Counter& members_;
};

}  // namespace tessera::rewards
