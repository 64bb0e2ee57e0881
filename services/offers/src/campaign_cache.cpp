#include "campaign_cache.h"

#include <algorithm>

namespace tessera::offers {

void CampaignCache::Reload() {
  std::vector<StoredCampaign> stored;
  std::string fingerprint;
  for (int64_t offset = 0;; offset += 500) {
    auto ids = store_.CampaignIds(offset, 500);
    for (auto& s : store_.GetCampaigns(ids)) {
      fingerprint += s.id + ':' + std::to_string(s.rev) + ',';
      stored.push_back(std::move(s));
    }
    if (ids.size() < 500) break;
  }
  {
    std::lock_guard lock(mu_);
    // Nothing written since, and nothing left out last time (a document repaired in place keeps
    // its revision, so what could not be read is read again at every reload until it can be).
    if (fingerprint == fingerprint_ && generation_ != 0 && unreadable_ == 0) return;
  }
  auto list = std::make_shared<CampaignList>();
  auto retired = std::make_shared<std::set<std::string>>();
  size_t unreadable = 0;
  for (const auto& s : stored) {
    try {
      Campaign c = Campaign::FromStored(nlohmann::json::parse(s.doc));
      c.PrepareForServing();
      if (c.status == "ended" || c.status == "archived") retired->insert(c.campaign_id);
      if (c.status != "archived") list->push_back(std::make_shared<const Campaign>(std::move(c)));
    } catch (const std::exception& e) {
      // Fail closed for this campaign only: what cannot be read is not offered; the rest is.
      ++unreadable;
      logger_.Error("stored campaign cannot be read; it is not served", {{"campaign_id", s.id}, {"error", e.what()}});
    }
  }
  std::sort(list->begin(), list->end(), [](const auto& a, const auto& b) { return a->campaign_id < b->campaign_id; });
  std::lock_guard lock(mu_);
  snapshot_ = std::move(list);
  retired_ = std::move(retired);
  fingerprint_ = std::move(fingerprint);
  unreadable_ = unreadable;
  ++generation_;
}

size_t CampaignCache::unreadable() const {
  std::lock_guard lock(mu_);
  return unreadable_;
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

std::shared_ptr<const std::set<std::string>> CampaignCache::Retired() const {
  std::lock_guard lock(mu_);
  return retired_;
}

}  // namespace tessera::offers
