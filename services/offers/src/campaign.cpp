#include "campaign.h"

#include <cmath>

#include "tessera/clock.h"
#include "tessera/errors.h"
#include "tessera/http_types.h"
#include "tessera/ids.h"
#include "tessera/json_text.h"

namespace tessera::offers {

namespace {
[[noreturn]] void Invalid(const std::string& field, const std::string& detail) {
  throw ProblemError(Problem::Validation(field, detail));
}

std::vector<std::string> Strings(const nlohmann::json* v, const std::string& field, size_t max) {
  std::vector<std::string> out;
  if (!v) return out;
  if (!v->is_array() || v->size() > max) Invalid(field, "must be an array of at most " + std::to_string(max) + " strings");
  for (size_t i = 0; i < v->size(); ++i) {
    const auto& s = (*v)[i];
    if (!s.is_string() || s.get<std::string>().empty() || s.get<std::string>().size() > 64) {
      Invalid(field + "/" + std::to_string(i), "must be a non-empty string of at most 64 characters");
    }
    out.push_back(s);
  }
  return out;
}

int64_t Time(const JsonObjectReader& r, const char* name) {
  auto t = ParseRfc3339(r.RequiredString(name, 1, 64));
  if (!t) Invalid(r.Pointer(name), std::string(name) + " must be an RFC 3339 date-time");
  return ToUnixMillis(*t);
}

Reward ParseReward(const nlohmann::json& j) {
  JsonObjectReader r(j, {"type", "points", "factor", "categories", "percent", "max_minor", "amount_minor", "sku"}, "/reward");
  Reward w;
  w.type = r.RequiredEnum("type", {"bonus_points", "points_multiplier", "percent_off", "amount_off", "free_item"});
  auto only = [&](std::initializer_list<const char*> allowed) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      bool ok = it.key() == "type";
      for (const char* a : allowed) ok = ok || it.key() == a;
      if (!ok) Invalid("/reward/" + it.key(), "not a field of a " + w.type + " reward");
    }
  };
  if (w.type == "bonus_points") {
    only({"points"});
    w.points = r.RequiredInt("points", 1, 1'000'000);
  } else if (w.type == "points_multiplier") {
    only({"factor", "categories"});
    const auto& f = r.Required("factor");
    if (!f.is_number() || f.get<double>() <= 1 || f.get<double>() > 20 ||
        std::fabs(f.get<double>() * 100 - std::round(f.get<double>() * 100)) > 1e-6) {
      Invalid("/reward/factor", "factor must be above 1 and at most 20, with at most two decimals");
    }
    w.factor_hundredths = std::llround(f.get<double>() * 100);
    w.categories = Strings(r.Optional("categories"), "/reward/categories", 50);
  } else if (w.type == "percent_off") {
    only({"percent", "max_minor"});
    w.percent = r.RequiredInt("percent", 1, 100);
    w.max_minor = r.OptionalInt("max_minor", 1, 1'000'000'000);
  } else if (w.type == "amount_off") {
    only({"amount_minor"});
    w.amount_minor = r.RequiredInt("amount_minor", 1, 1'000'000'000);
  } else {
    only({"sku"});
    w.sku = r.RequiredString("sku", 1, 64);
  }
  return w;
}
}  // namespace

nlohmann::json Reward::ToJson() const {
  nlohmann::json j = {{"type", type}};
  if (type == "bonus_points") j["points"] = points;
  if (type == "points_multiplier") {
    j["factor"] = static_cast<double>(factor_hundredths) / 100.0;
    if (!categories.empty()) j["categories"] = categories;
  }
  if (type == "percent_off") {
    j["percent"] = percent;
    if (max_minor) j["max_minor"] = *max_minor;
  }
  if (type == "amount_off") j["amount_minor"] = amount_minor;
  if (type == "free_item") j["sku"] = sku;
  return j;
}

int64_t Reward::EstimatedPoints() const {
  if (type == "bonus_points") return points;
  if (type == "points_multiplier") return (factor_hundredths - 100) * 5;  // on a typical $50 basket at 10 pts/$
  if (type == "percent_off") return std::min<int64_t>(percent * 50, max_minor ? *max_minor / 10 : percent * 50);
  if (type == "amount_off") return amount_minor / 10;
  return 100;  // a free item
}

nlohmann::json Campaign::ToJson() const {
  nlohmann::json content_j = nlohmann::json::object();
  for (const auto& [locale, c] : content) content_j[locale] = {{"title", c.title}, {"description", c.description}};
  nlohmann::json limits_j = nlohmann::json::object();
  if (limits.per_member) limits_j["per_member"] = *limits.per_member;
  if (limits.total_redemptions) limits_j["total_redemptions"] = *limits.total_redemptions;
  if (limits.total_points) limits_j["total_points"] = *limits.total_points;
  nlohmann::json conditions_j = {{"requires_activation", conditions.requires_activation}};
  if (conditions.min_spend_minor) conditions_j["min_spend_minor"] = *conditions.min_spend_minor;
  if (!conditions.categories.empty()) conditions_j["categories"] = conditions.categories;
  return {{"campaign_id", campaign_id},
          {"name", name},
          {"status", status},
          {"version", version},
          {"starts_at", FormatRfc3339(FromUnixMillis(starts_ms))},
          {"ends_at", FormatRfc3339(FromUnixMillis(ends_ms))},
          {"channels", channels},
          {"audience", audience ? audience->source() : nlohmann::json(nullptr)},
          {"reward", reward.ToJson()},
          {"conditions", conditions_j},
          {"limits", limits_j},
          {"priority", priority},
          {"holdout_percent", holdout_percent},
          {"content", content_j},
          {"created_at", created_at},
          {"updated_at", updated_at}};
}

Campaign ParseCampaign(const nlohmann::json& body) {
  JsonObjectReader r(body, {"campaign_id", "name", "starts_at", "ends_at", "channels", "audience", "reward", "conditions",
                            "limits", "priority", "holdout_percent", "content"});
  Campaign c;
  c.campaign_id = r.RequiredId("campaign_id");
  c.name = r.RequiredString("name", 1, 200);
  c.starts_ms = Time(r, "starts_at");
  c.ends_ms = Time(r, "ends_at");
  if (c.ends_ms <= c.starts_ms) Invalid("/ends_at", "ends_at must be after starts_at");
  for (const auto& ch : Strings(&r.Required("channels"), "/channels", 3)) {
    if (ch != "web" && ch != "app" && ch != "store") Invalid("/channels", "channels are web, app and store");
    c.channels.insert(ch);
  }
  if (c.channels.empty()) Invalid("/channels", "at least one channel is required");
  if (const auto* a = r.Optional("audience")) {
    try {
      c.audience = Rule::Compile(*a);
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      const auto colon = what.find(": ");
      Invalid("/audience" + (what.substr(0, colon) == "/" ? "" : what.substr(0, colon)),
              "invalid audience rule: " + what.substr(colon + 2));
    }
  }
  c.reward = ParseReward(r.Required("reward"));
  if (const auto* cond = r.Optional("conditions")) {
    JsonObjectReader cr(*cond, {"min_spend_minor", "categories", "requires_activation"}, "/conditions");
    c.conditions.min_spend_minor = cr.OptionalInt("min_spend_minor", 0, 1'000'000'000'000);
    c.conditions.categories = Strings(cr.Optional("categories"), "/conditions/categories", 50);
    c.conditions.requires_activation = cr.OptionalBool("requires_activation").value_or(false);
  }
  if (const auto* lim = r.Optional("limits")) {
    JsonObjectReader lr(*lim, {"per_member", "total_redemptions", "total_points"}, "/limits");
    c.limits.per_member = lr.OptionalInt("per_member", 1, 1'000'000);
    c.limits.total_redemptions = lr.OptionalInt("total_redemptions", 1, 1'000'000'000);
    c.limits.total_points = lr.OptionalInt("total_points", 1, 1'000'000'000'000);
  }
  c.priority = r.OptionalInt("priority", 0, 1000).value_or(0);
  c.holdout_percent = static_cast<int>(r.OptionalInt("holdout_percent", 0, 100).value_or(0));
  const auto& content = r.Required("content");
  if (!content.is_object() || content.empty()) Invalid("/content", "content must map locales to {title, description}");
  for (auto it = content.begin(); it != content.end(); ++it) {
    RequireLocale(it.key(), "/content/" + it.key());
    JsonObjectReader cr(it.value(), {"title", "description"}, "/content/" + it.key());
    c.content[it.key()] = {cr.RequiredString("title", 1, 200), cr.OptionalString("description", 0, 2000).value_or("")};
  }
  if (!c.content.count("en")) Invalid("/content/en", "English content is required (it is the fallback)");
  return c;
}

Campaign Campaign::FromStored(const nlohmann::json& j) {
  nlohmann::json body = j;
  for (const char* k : {"status", "version", "created_at", "updated_at"}) body.erase(k);
  if (body["audience"].is_null()) body.erase("audience");
  Campaign c = ParseCampaign(body);
  c.status = j["status"];
  c.version = j["version"];
  c.created_at = j.value("created_at", "");
  c.updated_at = j.value("updated_at", "");
  return c;
}

const std::string& Campaign::ContentLocaleFor(const std::string& locale) const {
  if (auto it = content.find(locale); it != content.end()) return it->first;
  const std::string lang = locale.substr(0, locale.find_first_of("-_"));
  if (auto it = content.find(lang); it != content.end()) return it->first;
  return content.find("en")->first;
}

const Content& Campaign::ContentFor(const std::string& locale) const { return content.at(ContentLocaleFor(locale)); }

uint8_t ChannelBit(std::string_view channel) {
  if (channel == "web") return 1;
  if (channel == "app") return 2;
  if (channel == "store") return 4;
  return 0;
}

void Campaign::PrepareForServing() {
  serving = Serving{};
  for (const auto& ch : channels) serving.channel_bits |= ChannelBit(ch);
  serving.active = status == "active";
  serving.estimated_points = reward.EstimatedPoints();
  serving.prepared = true;
  offer_pieces.clear();
  const std::string ends_at = FormatRfc3339(FromUnixMillis(ends_ms));
  for (const auto& [loc, text] : content) {
    OfferPieces p;
    p.head = "{\"campaign_id\":";
    AppendJsonString(p.head, campaign_id);
    p.head += ",\"campaign_version\":" + std::to_string(version) + ",\"description\":";
    AppendJsonString(p.head, text.description);
    p.head += ",\"ends_at\":";
    AppendJsonString(p.head, ends_at);
    p.head += ",\"offer_id\":";
    AppendJsonString(p.head, campaign_id);
    p.head += ",\"reasons\":";
    p.middle = std::string(",\"requires_activation\":") + (conditions.requires_activation ? "true" : "false") +
               ",\"reward\":" + reward.ToJson().dump() + ",\"score\":";
    p.tail = ",\"title\":";
    AppendJsonString(p.tail, text.title);
    p.tail += "}";
    offer_pieces.emplace(loc, std::move(p));
  }
}

std::optional<std::string> NextStatus(const std::string& from, const std::string& action) {
  if (action == "publish" && (from == "draft" || from == "paused" || from == "active")) return "active";
  if (action == "pause" && (from == "active" || from == "paused")) return "paused";
  if (action == "end" && (from == "active" || from == "paused" || from == "ended")) return "ended";
  if (action == "archive" && (from == "draft" || from == "ended" || from == "archived")) return "archived";
  return std::nullopt;
}

}  // namespace tessera::offers
