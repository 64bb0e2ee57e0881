#include "ranking.h"

#include <algorithm>
#include <optional>

#include "tessera/crypto.h"

namespace tessera::offers {

uint32_t HoldoutBucket(const std::string& campaign_id, const std::string& member_id) {
  std::string input;
  input.reserve(campaign_id.size() + 1 + member_id.size());
  input.append(campaign_id).append(1, ':').append(member_id);
  unsigned char digest[32];
  Sha256(input, digest);
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | digest[i];  // first 8 bytes, big-endian
  return static_cast<uint32_t>(v % 10000);
}

bool InHoldout(const Campaign& c, const std::string& member_id) {
  return c.holdout_percent > 0 && HoldoutBucket(c.campaign_id, member_id) < static_cast<uint32_t>(c.holdout_percent) * 100;
}

namespace {
// `view` is null when the member's features are unknown: only untargeted campaigns match.
bool InAudience(const Campaign& c, const FeatureView* view) {
  if (!c.audience) return true;
  if (!view) return false;
  return c.audience->Matches([view](const FeatureRef& r) { return view->Get(r); });
}
}  // namespace

bool Eligible(const Campaign& c, const MemberFeatures* features, const std::string& member_id,
              const std::string& channel, int64_t now_ms) {
  if (!c.LiveAt(now_ms) || (!channel.empty() && !c.OnChannel(channel, ChannelBit(channel)))) return false;
  if (InHoldout(c, member_id)) return false;
  if (!features) return InAudience(c, nullptr);
  const FeatureView view(*features, channel, now_ms);
  return InAudience(c, &view);
}

namespace {
std::vector<std::string> Reasons(const Campaign& c, const MemberFeatures* f, int64_t now_ms, int64_t category_hits) {
  std::vector<std::string> r;
  if (c.priority > 0) r.push_back("Featured by marketing (priority " + std::to_string(c.priority) + ")");
  if (c.audience && f) {
    const auto& vars = c.audience->variables();
    if (vars.count("tier") && !f->tier.empty()) r.push_back("Picked for " + f->tier + " members");
    if (vars.count("lifetime_points") || vars.count("available_points")) r.push_back("Based on the member's points");
    if (vars.count("days_since_last_purchase")) r.push_back("Brings back members who have not shopped lately");
    if (vars.count("purchases_90d") || vars.count("spend_90d_minor")) r.push_back("Based on recent shopping");
    if (vars.count("days_since_enrolled")) r.push_back("Based on how long they have been a member");
    if (vars.count("persona")) r.push_back("Suits the member's shopping style");
    for (const auto& v : vars) {
      if (v.rfind("category.", 0) == 0) r.push_back("Buys " + v.substr(9));
    }
    if (r.empty() || (r.size() == 1 && c.priority > 0)) r.push_back("Matches the campaign's audience");
  } else {
    r.push_back("Open to all members");
  }
  if (category_hits > 0) r.push_back("Matches categories the member buys");
  const auto& w = c.reward;
  if (w.type == "bonus_points") r.push_back(std::to_string(w.points) + " bonus points");
  if (w.type == "points_multiplier") r.push_back(std::to_string(w.factor_hundredths / 100) + (w.factor_hundredths % 100 ? "." + std::to_string(w.factor_hundredths % 100) : "") + "x points");
  if (w.type == "percent_off") r.push_back(std::to_string(w.percent) + "% off");
  if (w.type == "amount_off") r.push_back("Money off the order");
  if (w.type == "free_item") r.push_back("A free " + w.sku);
  if (c.ends_ms - now_ms < 3 * kDayMs) r.push_back("Ends soon");
  return r;
}
}  // namespace

RankResult Rank(const std::vector<std::shared_ptr<const Campaign>>& campaigns, const MemberFeatures* features,
                const std::map<std::string, MemberOfferState>& states, const std::string& member_id,
                const std::string& channel, int64_t now_ms, size_t limit) {
  RankResult out;
  out.personalized = features != nullptr && features->known;
  const MemberFeatures* f = out.personalized ? features : nullptr;
  std::optional<FeatureView> view;
  if (f) view.emplace(*f, channel, now_ms);
  out.offers.reserve(campaigns.size());
  const uint8_t channel_bit = ChannelBit(channel);
  for (const auto& c : campaigns) {
    if (!c->LiveAt(now_ms) || !c->OnChannel(channel, channel_bit)) continue;
    // Audience first: the control group counted in the stats is the members who would have
    // been offered the campaign (and the holdout hash is only computed for them).
    if (!InAudience(*c, view ? &*view : nullptr)) continue;
    if (InHoldout(*c, member_id)) {
      out.holdout.push_back(c->campaign_id);
      continue;
    }
    int64_t category_hits = 0;
    if (f) {
      for (const auto& cat : c->conditions.categories) {
        const auto hit = f->categories.find(cat);
        if (hit != f->categories.end()) category_hits += std::min<int64_t>(hit->second, 3);
      }
    }
    const int64_t fit = (c->audience ? 10 * static_cast<int64_t>(c->audience->variables().size()) : 0) + std::min<int64_t>(category_hits, 9);
    RankedOffer o;
    o.campaign = c.get();
    o.score = c->priority * 1'000'000'000 + fit * 1'000'000 + std::min<int64_t>(c->EstimatedPoints(), 999'999);
    o.category_hits = category_hits;
    out.offers.push_back(std::move(o));
  }
  const auto better = [](const RankedOffer& a, const RankedOffer& b) {
    return a.score != b.score ? a.score > b.score : a.campaign->campaign_id < b.campaign->campaign_id;
  };
  const size_t keep = std::min(limit, out.offers.size());
  std::partial_sort(out.offers.begin(), out.offers.begin() + static_cast<std::ptrdiff_t>(keep), out.offers.end(), better);
  out.offers.resize(keep);
  // Only the offers shown are explained.
  for (auto& o : out.offers) {
    o.reasons = Reasons(*o.campaign, f, now_ms, o.category_hits);
    auto st = states.find(o.campaign->campaign_id);
    o.state = st == states.end() ? "available" : st->second.state;
  }
  return out;
}

}  // namespace tessera::offers
