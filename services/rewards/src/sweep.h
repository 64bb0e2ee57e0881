// The expiry sweep: applies what is due (hold expiry, vesting, expiry warnings, lot expiry,
// tier downgrades) for members nobody touched. Members are indexed by their next due instant in
// one sorted set per bucket; a replica sweeps a bucket only while it holds that bucket's lease,
// so several replicas can run at once. Time comes from the injected clock.
//
// One member cannot stop the sweep: a member whose settling fails for any reason but Redis
// being away (say, a state this build cannot read) is logged, counted and tried again
// `failure_retry` later, and the pass goes on with the next member.
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
  std::chrono::milliseconds failure_retry{std::chrono::minutes(10)};
};

class Sweep {
 public:
  Sweep(RewardsApp& app, AccountStore& store, const Clock& clock, SweepOptions options, Logger& logger,
        MetricsRegistry& metrics);
  // One pass over every bucket with a member due. Returns the number of changes committed.
  // Throws UnavailableError when Redis is away (a bucket lock taken is released if it can be).
  int RunOnce();
  // RunOnce every interval until stop is requested. Never throws: a failed pass is logged and
  // the next one runs after the interval.
  void Run(std::stop_token stop);

 private:
  int Settle(const std::string& member_id, int64_t now_ms);  // changes committed

  RewardsApp& app_;
  AccountStore& store_;
  const Clock& clock_;
  SweepOptions options_;
  Logger& logger_;
  Counter& changes_;
  Counter& members_;
  Counter& failures_;
  Counter& records_removed_;
};

}  // namespace tessera::rewards
