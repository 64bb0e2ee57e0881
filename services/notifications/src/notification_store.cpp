#include "notification_store.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cancel_lua.h"
#include "cap_lua.h"
#include "claim_lua.h"
#include "complete_lua.h"
#include "create_lua.h"
#include "inbox_lib_lua.h"
#include "inbox_read_lua.h"
#include "mark_sending_lua.h"
#include "tessera/due_index.h"
#include "tessera/keys.h"
#include "tessera/lease.h"
#include "tessera/lua_library.h"

namespace tessera::notifications {

namespace {
std::string Tag(const std::string& member) { return BucketTag(MemberBucket(member)); }
std::string BucketKey(int bucket, const std::string& rest) { return "tessera:" + BucketTag(bucket) + ":notif:" + rest; }
// Scripts that write the inbox carry the inbox helper (lua/inbox_lib.lua) before their body.
const LuaScript& InboxScript(const char* name, std::string_view body) {
  return CachedScript(name, std::string(embedded::kInboxLibLua) + "\n" + std::string(body));
}
std::string DueKey(int bucket) { return BucketKey(bucket, "due"); }
std::string G(const std::string& rest) { return "tessera:" + GlobalTag("notifications") + ":" + rest; }
}  // namespace

std::string NotificationStore::DeliveryPrefix(const std::string& member_id) {
  return "tessera:" + Tag(member_id) + ":notif:d:";
}

void NotificationStore::SaveProfile(const std::string& member_id, const std::map<std::string, std::string>& fields) {
  std::vector<std::string> cmd = {"HSET", MemberKey(member_id, "notify-profile")};
  for (const auto& [k, v] : fields) {
    cmd.push_back(k);
    cmd.push_back(v);
  }
  pool_.Command(cmd).ThrowIfError();
}

std::map<std::string, std::string> NotificationStore::Profile(const std::string& member_id) {
  RedisValue v = pool_.Command({"HGETALL", MemberKey(member_id, "notify-profile")});
  std::map<std::string, std::string> out;
  const auto& e = v.ThrowIfError().elements;
  for (size_t i = 0; i + 1 < e.size(); i += 2) out[e[i].AsString()] = e[i + 1].AsString();
  return out;
}

void NotificationStore::SavePreferences(const std::string& member_id, const std::string& prefs_json) {
  pool_.Command({"HSET", MemberKey(member_id, "notify-profile"), "prefs", prefs_json}).ThrowIfError();
}

std::optional<std::string> NotificationStore::TemplateOverride(const std::string& event_type, const std::string& locale) {
  RedisValue v = pool_.Command({"HGET", G("templates"), event_type + "/" + locale});
  if (v.ThrowIfError().IsNil()) return std::nullopt;
  return v.AsString();
}

void NotificationStore::SaveTemplate(const std::string& event_type, const std::string& locale, const std::string& json) {
  pool_.Command({"HSET", G("templates"), event_type + "/" + locale, json}).ThrowIfError();
}

int NotificationStore::CreateDeliveries(const std::string& member_id, const std::string& offer_id,
                                        const std::vector<NewDelivery>& deliveries) {
  const int bucket = MemberBucket(member_id);
  std::vector<std::string> args = {DeliveryPrefix(member_id), offer_id, std::to_string(deliveries.size()), "200",
                                   member_id};
  for (const auto& d : deliveries) {
    args.insert(args.end(), {d.id, std::to_string(d.due_ms), d.state, d.record, d.event, d.inbox_item});
  }
  const std::string offer_key = MemberKey(member_id, "notify-offer:" + (offer_id.empty() ? "-" : offer_id));
  return static_cast<int>(pool_
                              .Eval(InboxScript("notify_create", embedded::kCreateLua),
                                    {DueKey(bucket), OutboxStream(Tag(member_id), "notifications"), offer_key,
                                     MemberKey(member_id, "inbox"), MemberKey(member_id, "inbox-items"),
                                     MemberKey(member_id, "inbox-seq")},
                                    args)
                              .AsInt());
}

std::vector<ClaimedDelivery> NotificationStore::Claim(int bucket, int64_t now_ms, int limit, int64_t lease_ms,
                                                      const std::vector<std::string>& ids) {
  // All deliveries of a bucket share its prefix tag; the member id is only needed for the tag.
  const std::string prefix = "tessera:" + BucketTag(bucket) + ":notif:d:";
  RedisValue v = pool_.Eval(CachedScript("notify_claim", embedded::kClaimLua), {DueKey(bucket)},
                            {prefix, std::to_string(now_ms), std::to_string(limit), std::to_string(lease_ms),
                             ids.empty() ? "" : nlohmann::json(ids).dump()});
  std::vector<ClaimedDelivery> out;
  for (const auto& e : v.elements) {
    out.push_back({e.elements.at(0).AsString(), e.elements.at(1).AsString(),
                   static_cast<int>(e.elements.at(2).AsInt()), e.elements.at(3).AsString()});
  }
  return out;
}

bool NotificationStore::Complete(const std::string& member_id, const std::string& delivery_id, const DeliveryOutcome& o) {
  return pool_
             .Eval(InboxScript("notify_complete", embedded::kCompleteLua),
                   {DeliveryPrefix(member_id) + delivery_id, DueKey(MemberBucket(member_id)),
                    OutboxStream(Tag(member_id), "notifications"), MemberKey(member_id, "inbox"),
                    MemberKey(member_id, "inbox-items"), MemberKey(member_id, "inbox-seq")},
                   {delivery_id, o.outcome, std::to_string(o.next_due_ms), o.event, o.inbox_item, "200",
                    std::to_string(o.created_ms), o.reason, member_id})
             .AsString() == "ok";
}

bool NotificationStore::MarkSending(const std::string& member_id, const std::string& delivery_id) {
  return pool_.Eval(CachedScript("notify_mark_sending", embedded::kMarkSendingLua), {DeliveryPrefix(member_id) + delivery_id}, {})
             .AsInt() == 1;
}

std::vector<std::string> NotificationStore::CancelOfferMessages(const std::string& member_id, const std::string& offer_id,
                                                                const std::string& reason) {
  RedisValue v = pool_.Eval(CachedScript("notify_cancel", embedded::kCancelLua),
                            {MemberKey(member_id, "notify-offer:" + offer_id), DueKey(MemberBucket(member_id))},
                            {DeliveryPrefix(member_id), reason});
  std::vector<std::string> out;
  for (const auto& e : v.elements) out.push_back(e.AsString());
  return out;
}

bool NotificationStore::CountMarketing(const std::string& member_id, const std::string& local_date,
                                       const std::string& event_id, int cap) {
  return pool_
             .Eval(CachedScript("notify_cap", embedded::kCapLua), {MemberKey(member_id, "notify-cap:" + local_date)},
                   {event_id, std::to_string(cap), std::to_string(3 * 86400000LL)})
             .AsInt() == 1;
}

std::map<std::string, std::string> NotificationStore::Delivery(const std::string& member_id, const std::string& id) {
  RedisValue v = pool_.Command({"HGETALL", DeliveryPrefix(member_id) + id});
  std::map<std::string, std::string> out;
  const auto& e = v.ThrowIfError().elements;
  for (size_t i = 0; i + 1 < e.size(); i += 2) out[e[i].AsString()] = e[i + 1].AsString();
  return out;
}

void NotificationStore::MarkCampaignEnded(const std::string& campaign_id) {
  pool_.Command({"SADD", G("ended-campaigns"), campaign_id}).ThrowIfError();
}

bool NotificationStore::CampaignEnded(const std::string& campaign_id) {
  return pool_.Command({"SISMEMBER", G("ended-campaigns"), campaign_id}).ThrowIfError().AsInt() == 1;
}

std::vector<std::string> NotificationStore::Inbox(const std::string& member_id, int64_t offset, int limit) {
  RedisValue ids = pool_.Command({"ZREVRANGE", MemberKey(member_id, "inbox"), std::to_string(offset),
                                  std::to_string(offset + limit - 1)});
  std::vector<std::string> cmd = {"HMGET", MemberKey(member_id, "inbox-items")};
  for (const auto& e : ids.ThrowIfError().elements) cmd.push_back(e.AsString());
  std::vector<std::string> out;
  if (cmd.size() == 2) return out;
  for (const auto& e : pool_.Command(cmd).ThrowIfError().elements) {
    if (!e.IsNil()) out.push_back(e.AsString());
  }
  return out;
}

std::optional<std::string> NotificationStore::MarkRead(const std::string& member_id, const std::string& id,
                                                       const std::string& read_at) {
  RedisValue v = pool_.Eval(CachedScript("inbox_read", embedded::kInboxReadLua), {MemberKey(member_id, "inbox-items")},
                            {id, read_at});
  if (v.IsNil()) return std::nullopt;
  return v.AsString();
}

bool NotificationStore::TryLock(int bucket, const std::string& owner, int64_t ttl_ms) {
  return AcquireLease(pool_, BucketKey(bucket, "dispatch-lease"), owner, ttl_ms);
}

void NotificationStore::Unlock(int bucket, const std::string& owner) {
  ReleaseLease(pool_, BucketKey(bucket, "dispatch-lease"), owner);
}

std::vector<int> NotificationStore::DueBuckets(int64_t now_ms) { return BucketsWithDue(pool_, DueKey, now_ms); }

void NotificationStore::PostponeDue(int bucket, const std::string& delivery_id, int64_t until_ms) {
  tessera::PostponeDue(pool_, DueKey(bucket), delivery_id, until_ms);
}

}  // namespace tessera::notifications
