// Campaigns (SPEC §5): the model marketing ops write, validated field by field, and its
// lifecycle draft -> active <-> paused -> ended, plus archived. Plain data; no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "jsonlogic.h"

namespace tessera::offers {

struct Reward {
  std::string type;  // bonus_points | points_multiplier | percent_off | amount_off | free_item
  int64_t points = 0;          // bonus_points
  int64_t factor_hundredths = 0;  // points_multiplier (2.0 -> 200)
  std::vector<std::string> categories;  // points_multiplier, optional
  int64_t percent = 0;         // percent_off (1-100)
  std::optional<int64_t> max_minor;  // percent_off cap
  int64_t amount_minor = 0;    // amount_off
  std::string sku;             // free_item
  nlohmann::json ToJson() const;
  // A rough worth in points, for ranking: points, or minor units / 10 for money rewards.
  int64_t EstimatedPoints() const;
};

struct Limits {
  std::optional<int64_t> per_member;
  std::optional<int64_t> total_redemptions;
  std::optional<int64_t> total_points;  // bonus points the campaign may give in total
};

struct Conditions {
  std::optional<int64_t> min_spend_minor;
  std::vector<std::string> categories;
  bool requires_activation = false;
};

struct Content {
  std::string title, description;
};

// The bit of a campaign channel (web, app, store) in Campaign::serving.channel_bits; 0 for
// any other.
uint8_t ChannelBit(std::string_view channel);

struct Campaign {
  std::string campaign_id, name, status = "draft";
  int64_t version = 1;
  int64_t starts_ms = 0, ends_ms = 0;
  std::set<std::string> channels;
  std::optional<Rule> audience;
  Reward reward;
  Conditions conditions;
  Limits limits;
  int64_t priority = 0;
  int holdout_percent = 0;
  std::map<std::string, Content> content;  // locale -> text; "en" required
  std::string created_at, updated_at;

  // This campaign's entry in an offers listing, pre-rendered per content locale around the
  // per-member parts (reasons, score, state), so a listing is assembled by appending strings:
  //   head + reasons + middle + score + ",\"state\":" + state + tail
  // is byte for byte the nlohmann::json rendering of the entry. Filled by PrepareForServing().
  struct OfferPieces {
    std::string head, middle, tail;
  };
  std::map<std::string, OfferPieces> offer_pieces;  // content locale -> pieces
  // Derived by PrepareForServing() from the fields above for the ranking loop, which asks them
  // of every campaign on every listing (no string comparisons there). Until prepared, the
  // methods below read the fields themselves; a prepared copy whose fields change must be
  // prepared again (CampaignCache::Reload prepares what it caches, and the cache is immutable).
  struct Serving {
    bool prepared = false;
    bool active = false;        // status == "active"
    uint8_t channel_bits = 0;   // `channels` as ChannelBit()s
    int64_t estimated_points = 0;  // reward.EstimatedPoints()
  } serving;
  void PrepareForServing();
  bool OnChannel(const std::string& channel, uint8_t bit) const {
    return serving.prepared ? (serving.channel_bits & bit) != 0 : channels.count(channel) > 0;
  }
  int64_t EstimatedPoints() const { return serving.prepared ? serving.estimated_points : reward.EstimatedPoints(); }
  // The key of `content` that ContentFor(locale) uses.
  const std::string& ContentLocaleFor(const std::string& locale) const;

  nlohmann::json ToJson() const;
  static Campaign FromStored(const nlohmann::json& j);  // trusted (written by us)
  // Offered now on `channel`?
  bool LiveAt(int64_t now_ms) const {
    return (serving.prepared ? serving.active : status == "active") && starts_ms <= now_ms && now_ms < ends_ms;
  }
  // Title and description in `locale`, else its language ("pt-BR" -> "pt"), else English.
  const Content& ContentFor(const std::string& locale) const;
};

// Parses a create (`id_from_path` empty) or full replace body. Throws ProblemError 400 naming
// the field (`/audience/and/1: unknown feature 'tire'`). Status and version are not client fields.
Campaign ParseCampaign(const nlohmann::json& body);

// Lifecycle: the status `action` (publish | pause | end | archive) leads to from `from`, or
// nullopt when the move is not allowed.
std::optional<std::string> NextStatus(const std::string& from, const std::string& action);

}  // namespace tessera::offers
