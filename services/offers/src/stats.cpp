#include "stats.h"

#include <thread>

namespace tessera::offers {

void StatsAggregator::Offered(const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  for (const auto& id : ids) counters_[id]["offered"]++;
}

void StatsAggregator::Holdout(const std::string& campaign_id, const std::string& member_id) {
  std::lock_guard lock(mu_);
  auto& set = holdout_[campaign_id];
  if (set.size() < 100000) set.insert(member_id);
}

void StatsAggregator::Flush() {
  std::map<std::string, std::map<std::string, int64_t>> counters;
  std::map<std::string, std::set<std::string>> holdout;
  {
    std::lock_guard lock(mu_);
    counters.swap(counters_);
    holdout.swap(holdout_);
  }
  if (counters.empty() && holdout.empty()) return;
  std::map<std::string, std::vector<std::string>> members;
  for (const auto& [id, set] : holdout) members[id] = std::vector<std::string>(set.begin(), set.end());
  try {
    store_.AddStats(counters, members);
  } catch (const std::exception& e) {
    logger_.Warn("campaign stats not flushed; kept for the next flush", {{"error", e.what()}});
    std::lock_guard lock(mu_);
    for (const auto& [id, fields] : counters) {
      for (const auto& [f, n] : fields) counters_[id][f] += n;
    }
    for (const auto& [id, set] : holdout) holdout_[id].insert(set.begin(), set.end());
  }
}

void StatsAggregator::Run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    for (int i = 0; i < 50 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    Flush();
  }
}

}  // namespace tessera::offers
