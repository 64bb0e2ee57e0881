// Campaign statistics that would cost a Redis write per offer shown (offered counts, holdout
// members seen) are counted in memory and flushed every second. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "offers_store.h"
#include "tessera/logging.h"

namespace tessera::offers {

class StatsAggregator {
 public:
  StatsAggregator(OffersStore& store, Logger& logger) : store_(store), logger_(logger) {}
  void Offered(const std::vector<std::string>& campaign_ids);
  void Holdout(const std::string& campaign_id, const std::string& member_id);
  // Writes what was counted since the last flush. On failure the counts are kept for the next.
  void Flush();
  void Run(std::stop_token stop);

 private:
  OffersStore& store_;
  Logger& logger_;
  std::mutex mu_;
  std::map<std::string, std::map<std::string, int64_t>> counters_;
  std::map<std::string, std::set<std::string>> holdout_;
};

}  // namespace tessera::offers
