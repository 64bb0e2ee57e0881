// Redis state of tessera-notifications, each change one Lua script in the member's bucket slot:
// member profiles and preferences, template overrides, deliveries (created once per event and
// channel), the due index the dispatcher works from, daily marketing caps and the inbox.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tessera/redis.h"

namespace tessera::notifications {

struct NewDelivery {
  std::string id;
  int64_t due_ms = 0;
  std::string state;   // pending | deferred
  std::string record;  // JSON: member_id, channel, class, event_id, event_type, offer_id, message...
  std::string event;   // notification.deferred or notification.sent envelope, or ""
  std::string inbox_item;  // non-empty: an inbox message delivered in the same step (state "sent")
};

struct ClaimedDelivery {
  std::string id, previous_state;
  int attempts = 0;
  std::string record;
};

struct DeliveryOutcome {
  std::string outcome;  // sent | retry | failed | unknown | dropped | deferred
  int64_t next_due_ms = 0;
  std::string event;       // envelope or ""
  std::string inbox_item;  // JSON or "" (inbox deliveries)
  int64_t created_ms = 0;
  std::string reason;
};

class NotificationStore {
 public:
  explicit NotificationStore(RedisPool& pool) : pool_(pool) {}

  // Profile (from member.enrolled) and saved preferences.
  void SaveProfile(const std::string& member_id, const std::map<std::string, std::string>& fields);
  std::map<std::string, std::string> Profile(const std::string& member_id);  // includes "prefs" when saved
  void SavePreferences(const std::string& member_id, const std::string& prefs_json);

  std::optional<std::string> TemplateOverride(const std::string& event_type, const std::string& locale);
  void SaveTemplate(const std::string& event_type, const std::string& locale, const std::string& json);

  int CreateDeliveries(const std::string& member_id, const std::string& offer_id, const std::vector<NewDelivery>& d);
  // Due deliveries of a bucket (or exactly `ids` of a member's bucket) claimed with a lease.
  std::vector<ClaimedDelivery> Claim(int bucket, int64_t now_ms, int limit, int64_t lease_ms,
                                     const std::vector<std::string>& ids = {});
  bool Complete(const std::string& member_id, const std::string& delivery_id, const DeliveryOutcome& outcome);
  // Right before a provider call: from here on a crash leaves the outcome unknown.
  bool MarkSending(const std::string& member_id, const std::string& delivery_id);
  std::vector<std::string> CancelOfferMessages(const std::string& member_id, const std::string& offer_id,
                                               const std::string& reason);
  bool CountMarketing(const std::string& member_id, const std::string& local_date, const std::string& event_id, int cap);
  std::map<std::string, std::string> Delivery(const std::string& member_id, const std::string& delivery_id);

  void MarkCampaignEnded(const std::string& campaign_id);
  bool CampaignEnded(const std::string& campaign_id);

  // Inbox, newest first.
  std::vector<std::string> Inbox(const std::string& member_id, int64_t offset, int limit);
  std::optional<std::string> MarkRead(const std::string& member_id, const std::string& notification_id,
                                      const std::string& read_at);

  // The dispatcher's lock on a bucket while it claims and sends there: true when `owner` now
  // holds it (for `ttl_ms`, after which it lapses by itself); Unlock gives it up.
  bool TryLock(int bucket, const std::string& owner, int64_t ttl_ms);
  void Unlock(int bucket, const std::string& owner);
  // The buckets with a delivery to claim at or before `now_ms`, ascending, in one round trip (as
  // tessera-rewards' sweep finds its due buckets).
  std::vector<int> DueBuckets(int64_t now_ms);
  // Moves a delivery still indexed in `bucket` to `until_ms`, never earlier than it is: for one
  // the dispatcher could not process, tried again then instead of at every lease.
  void PostponeDue(int bucket, const std::string& delivery_id, int64_t until_ms);

  static std::string DeliveryPrefix(const std::string& member_id);

 private:
  RedisPool& pool_;
};

}  // namespace tessera::notifications
