#include "offers_store.h"

#include <map>
#include <mutex>
#include <stdexcept>

#include "activate_lua.h"
#include "budget_lua.h"
#include "campaign_save_lua.h"
#include "features_lua.h"
#include "forget_lua.h"
#include "redeem_lua.h"
#include "tessera/keys.h"
#include "tessera/lua_library.h"

namespace tessera::offers {

namespace {
const std::string kTag = GlobalTag("offers");
std::string G(const std::string& rest) { return "tessera:" + kTag + ":" + rest; }
std::string StatsKey(const std::string& id) { return G("campaign:" + id + ":stats"); }


std::map<std::string, std::string> HashOf(const RedisValue& v) {
  std::map<std::string, std::string> m;
  for (size_t i = 0; i + 1 < v.elements.size(); i += 2) m[v.elements[i].AsString()] = v.elements[i + 1].AsString();
  return m;
}
}  // namespace

std::string OffersStore::CampaignKey(const std::string& id) { return G("campaign:" + id); }

std::optional<StoredCampaign> OffersStore::GetCampaign(const std::string& id) {
  RedisValue v = pool_.Command({"HMGET", CampaignKey(id), "doc", "rev"});
  v.ThrowIfError();
  if (v.elements.at(0).IsNil()) return std::nullopt;
  return StoredCampaign{v.elements[0].AsString(), v.elements[1].AsInt(), id};
}

std::optional<std::string> OffersStore::GetCampaignVersion(const std::string& id, int64_t version) {
  RedisValue v = pool_.Command({"GET", CampaignKey(id) + ":v:" + std::to_string(version)});
  v.ThrowIfError();
  if (v.IsNil()) return std::nullopt;
  return v.AsString();
}

std::vector<std::string> OffersStore::CampaignIds(int64_t offset, int64_t limit) {
  RedisValue v = pool_.Command({"ZRANGE", G("campaigns"), std::to_string(offset), std::to_string(offset + limit - 1)});
  std::vector<std::string> ids;
  for (const auto& e : v.ThrowIfError().elements) ids.push_back(e.AsString());
  return ids;
}

std::vector<StoredCampaign> OffersStore::GetCampaigns(const std::vector<std::string>& ids) {
  std::vector<std::vector<std::string>> cmds;
  for (const auto& id : ids) cmds.push_back({"HMGET", CampaignKey(id), "doc", "rev"});
  std::vector<StoredCampaign> out;
  const auto replies = pool_.Pipeline(cmds);
  for (size_t i = 0; i < replies.size(); ++i) {
    const RedisValue& v = replies[i].ThrowIfError();
    if (!v.elements.at(0).IsNil()) out.push_back({v.elements[0].AsString(), v.elements[1].AsInt(), ids[i]});
  }
  return out;
}

SaveResult OffersStore::SaveCampaign(const std::string& id, int64_t expected_rev, const std::string& doc, int64_t version,
                                     int64_t index_score, const std::string& event) {
  RedisValue v = pool_.Eval(CachedScript("campaign_save", embedded::kCampaignSaveLua),
                            {CampaignKey(id), G("campaigns"), OutboxStream(kTag, "offers"),
                             CampaignKey(id) + ":v:" + std::to_string(version)},
                            {std::to_string(expected_rev), doc, std::to_string(version), id, std::to_string(index_score),
                             event, id});
  const std::string& tag = v.elements.at(0).AsString();
  if (tag == "ok") return SaveResult::kOk;
  return tag == "exists" ? SaveResult::kExists : SaveResult::kConflict;
}

OffersStore::MemberView OffersStore::LoadMember(const std::string& member_id) {
  auto replies = pool_.Pipeline({{"HGETALL", CachedMemberKey(member_id, "features")}, {"HGETALL", CachedMemberKey(member_id, "offers")}});
  return {HashOf(replies[0].ThrowIfError()), HashOf(replies[1].ThrowIfError())};
}

bool OffersStore::ApplyLedgerFeatures(const std::string& member_id, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ledger"};
  argv.insert(argv.end(), args.begin(), args.end());
  return pool_.Eval(CachedScript("features", embedded::kFeaturesLua), {CachedMemberKey(member_id, "features")}, argv).AsInt() == 1;
}

bool OffersStore::ApplyPurchaseFeatures(const std::string& member_id, const std::string& order_id,
                                        const std::string& categories_json, int64_t now_ms) {
  return pool_
             .Eval(CachedScript("features", embedded::kFeaturesLua), {CachedMemberKey(member_id, "features")},
                   {"purchase", order_id, categories_json, std::to_string(now_ms)})
             .AsInt() == 1;
}

ForgottenOffers OffersStore::ForgetOffers(const std::string& member_id, const std::vector<std::string>& campaign_ids) {
  RedisValue v = pool_.Eval(CachedScript("forget", embedded::kForgetLua),
                            {CachedMemberKey(member_id, "offers"), MemberKey(member_id, "offer-redemptions")}, campaign_ids);
  return {v.elements.at(0).AsInt(), v.elements.at(1).AsInt()};
}

std::optional<std::string> OffersStore::Activate(const std::string& member_id, const std::string& campaign_id,
                                                 const std::string& state_json, const std::string& event) {
  RedisValue v = pool_.Eval(CachedScript("activate", embedded::kActivateLua),
                            {CachedMemberKey(member_id, "offers"), OutboxStream(BucketTag(MemberBucket(member_id)), "offers")},
                            {campaign_id, state_json, event, member_id});
  if (v.elements.at(0).AsString() == "exists") return v.elements.at(1).AsString();
  // Sent after the script's answer arrived, so it is also the broadcast barrier (see Barrier()).
  pool_.Command({"HINCRBY", StatsKey(campaign_id), "activated", "1"}).ThrowIfError();
  return std::nullopt;
}

bool OffersStore::ReserveBudget(const std::string& campaign_id, int64_t points, std::optional<int64_t> total_redemptions,
                                std::optional<int64_t> total_points) {
  return pool_
             .Eval(CachedScript("budget", embedded::kBudgetLua), {StatsKey(campaign_id)},
                   {"reserve", std::to_string(points), total_redemptions ? std::to_string(*total_redemptions) : "",
                    total_points ? std::to_string(*total_points) : ""})
             .AsString() == "reserved";
}

void OffersStore::ReleaseBudget(const std::string& campaign_id, int64_t points) {
  pool_.Eval(CachedScript("budget", embedded::kBudgetLua), {StatsKey(campaign_id)}, {"release", std::to_string(points), "", ""});
}

RedeemResult OffersStore::Redeem(const RedeemRequest& r) {
  // SPEC §3: an offer redemption always carries an Idempotency-Key, and redeem.lua writes its
  // record under this key (a string: any other key would be overwritten).
  if (r.idempotency_key.empty()) throw std::logic_error("offer redemption without an idempotency record key");
  const std::string tag = BucketTag(MemberBucket(r.member_id));
  RedisValue v = pool_.Eval(
      CachedScript("redeem", embedded::kRedeemLua),
      {CachedMemberKey(r.member_id, "offers"), MemberKey(r.member_id, "offer-redemptions"), OutboxStream(tag, "offers"),
       r.idempotency_key},
      {r.campaign_id, r.order_id, r.per_member_limit ? std::to_string(*r.per_member_limit) : "",
       r.requires_activation ? "1" : "0", r.event, r.response_body, r.request_hash, r.member_id,
       std::to_string(r.now_ms), std::to_string(r.version), write_hash_records_ ? "1" : "0"});
  RedeemResult out;
  out.outcome = v.elements.at(0).AsString();
  const std::string& s = v.elements.at(1).AsString();
  out.status = s.empty() ? 0 : std::stoi(s);
  out.body = v.elements.at(2).AsString();
  return out;
}

void OffersStore::Barrier() { pool_.Command({"PING"}).ThrowIfError(); }

void OffersStore::AddStats(const std::map<std::string, std::map<std::string, int64_t>>& counters,
                           const std::map<std::string, std::vector<std::string>>& holdout_members) {
  std::vector<std::vector<std::string>> cmds;
  for (const auto& [id, fields] : counters) {
    for (const auto& [field, n] : fields) cmds.push_back({"HINCRBY", StatsKey(id), field, std::to_string(n)});
  }
  for (const auto& [id, members] : holdout_members) {
    std::vector<std::string> cmd = {"PFADD", G("campaign:" + id + ":holdout")};
    cmd.insert(cmd.end(), members.begin(), members.end());
    cmds.push_back(std::move(cmd));
  }
  for (const auto& r : pool_.Pipeline(cmds)) r.ThrowIfError();
}

std::map<std::string, int64_t> OffersStore::Stats(const std::string& campaign_id) {
  auto replies = pool_.Pipeline({{"HGETALL", StatsKey(campaign_id)}, {"PFCOUNT", G("campaign:" + campaign_id + ":holdout")}});
  std::map<std::string, int64_t> out;
  for (const auto& [k, v] : HashOf(replies[0].ThrowIfError())) out[k] = std::stoll(v);
  out["holdout_size"] = replies[1].ThrowIfError().AsInt();
  return out;
}

}  // namespace tessera::offers
