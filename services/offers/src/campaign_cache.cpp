#include "campaign_cache.h"

#include <algorithm>

namespace tessera::offers {

void CampaignCache::Reload() {
  auto list = std::make_shared<CampaignList>();
  std::string fingerprint;
  for (int64_t offset = 0;; offset += 500) {
    auto ids = store_.CampaignIds(offset, 500);
    for (const auto& stored : store_.GetCampaigns(ids)) {
      Campaign c = Campaign::FromStored(nlohmann::json::parse(stored.doc));
      fingerprint += c.campaign_id + ':' + std::to_string(stored.rev) + ',';
      c.PrepareForServing();
      if (c.status != "archived") list->push_back(std::make_shared<const Campaign>(std::move(c)));
    }
    if (ids.size() < 500) break;
  }
  std::sort(list->begin(), list->end(), [](const auto& a, const auto& b) { return a->campaign_id < b->campaign_id; });
  std::lock_guard lock(mu_);
  if (fingerprint == fingerprint_ && generation_ != 0) return;  // nothing written since
  snapshot_ = std::move(list);
  fingerprint_ = std::move(fingerprint);
  ++generation_;
}

CampaignCache::Versioned CampaignCache::Current() const {
  std::lock_guard lock(mu_);
  return {snapshot_, generation_};
}

std::shared_ptr<const CampaignList> CampaignCache::Snapshot() const { return Current().campaigns; }

std::shared_ptr<const Campaign> CampaignCache::Find(const std::string& id) const {
  auto snap = Snapshot();
  auto it = std::lower_bound(snap->begin(), snap->end(), id, [](const auto& c, const std::string& v) { return c->campaign_id < v; });
  if (it != snap->end() && (*it)->campaign_id == id) return *it;
  return nullptr;
}

}  // namespace tessera::offers
