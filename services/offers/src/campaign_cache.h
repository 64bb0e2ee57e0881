// Every replica holds the campaigns in memory (SPEC §5: "held in memory in every replica").
// Reload() reads them all from Redis; it runs at start, after every campaign event on
// tessera.offers.v1 (followed by every replica through a KafkaTopicTail), after every local
// write, and every 30 s as a safety net. Readers get an immutable snapshot; thread-safe. A stored
// campaign that cannot be read (damaged document) is logged and left out of the snapshot; it
// does not stop the others from loading or changing.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "campaign.h"
#include "offers_store.h"
#include "tessera/logging.h"

namespace tessera::offers {

using CampaignList = std::vector<std::shared_ptr<const Campaign>>;

class CampaignCache {
 public:
  CampaignCache(OffersStore& store, Logger& logger) : store_(store), logger_(logger) {}
  // Throws UnavailableError when Redis is unreachable (the previous snapshot stays).
  void Reload();
  // All campaigns that are not archived, sorted by id.
  std::shared_ptr<const CampaignList> Snapshot() const;
  // The snapshot and its generation, which moves only when a reload finds a campaign written
  // since (another revision, one more or one fewer): what a listing was ranked with.
  struct Versioned {
    std::shared_ptr<const CampaignList> campaigns;
    uint64_t generation = 0;
  };
  Versioned Current() const;
  std::shared_ptr<const Campaign> Find(const std::string& id) const;
  // The campaigns the last reload read as ended or archived: for good, since neither status can
  // be left again. An id the reload did not read (unknown yet, or unreadable) is not in it.
  std::shared_ptr<const std::set<std::string>> Retired() const;
  // Stored campaigns the last reload could not read (each logged at error, none served).
  size_t unreadable() const;

 private:
  OffersStore& store_;
  Logger& logger_;
  mutable std::mutex mu_;
  std::shared_ptr<const CampaignList> snapshot_ = std::make_shared<CampaignList>();
  std::shared_ptr<const std::set<std::string>> retired_ = std::make_shared<std::set<std::string>>();
  std::string fingerprint_;  // "<id>:<rev>," of every stored campaign, in index order
  uint64_t generation_ = 0;
  size_t unreadable_ = 0;
};

}  // namespace tessera::offers
