#include "member_features.h"

#include <algorithm>
#include <climits>

#include "tessera/clock.h"

namespace tessera::offers {

namespace {
int64_t ToInt(const std::map<std::string, std::string>& f, const char* k) {
  auto it = f.find(k);
  if (it == f.end() || it->second.empty()) return 0;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    return 0;
  }
}
std::string Str(const std::map<std::string, std::string>& f, const char* k) {
  auto it = f.find(k);
  return it == f.end() ? "" : it->second;
}
}  // namespace

MemberFeatures MemberFeatures::FromHash(const std::map<std::string, std::string>& f) {
  MemberFeatures m;
  m.known = !f.empty();
  m.tier = Str(f, "tier");
  m.persona = Str(f, "persona");
  m.locale = Str(f, "locale");
  m.lifetime_points = ToInt(f, "lifetime");
  m.available_points = ToInt(f, "available");
  m.enrolled_ms = ToInt(f, "enrolled_ms");
  m.last_purchase_ms = ToInt(f, "last_purchase_ms");
  m.ledger_seq = ToInt(f, "seq");
  m.purchase_events = ToInt(f, "purchase_events");
  auto p = nlohmann::json::parse(Str(f, "purchases").empty() ? "[]" : Str(f, "purchases"), nullptr, false);
  if (p.is_array()) {
    for (const auto& e : p) {
      if (e.is_array() && e.size() == 2 && e[0].is_number() && e[1].is_number()) m.purchases.emplace_back(e[0], e[1]);
    }
  }
  for (const auto& [k, v] : f) {
    if (k.rfind("cat:", 0) == 0) m.categories[k.substr(4)] = std::stoll(v);
  }
  return m;
}

nlohmann::json MemberFeatures::View(const std::string& member_id, int64_t now_ms) const {
  nlohmann::json cats = nlohmann::json::object();
  for (const auto& [k, v] : categories) cats[k] = v;
  nlohmann::json j = {{"member_id", member_id}, {"known", known}, {"watermark", Watermark()}, {"category", cats}};
  const std::string no_channel;
  const FeatureView view(*this, no_channel, now_ms);  // the values audience rules see
  for (const char* n : {"tier", "persona", "locale", "lifetime_points", "available_points", "days_since_enrolled",
                        "days_since_last_purchase", "purchases_90d", "spend_90d_minor"}) {
    const RuleValue v = view.Get(ResolveFeature(n));
    if (v.type == RuleValue::Type::kNumber) j[n] = static_cast<int64_t>(v.number);  // all are integers
    else if (v.type == RuleValue::Type::kString) j[n] = std::string(v.text);
    else j[n] = nullptr;
  }
  return j;
}

std::string MemberFeatures::Watermark() const { return std::to_string(ledger_seq) + "." + std::to_string(purchase_events); }

int64_t MemberFeatures::NextChangeMs(int64_t now_ms) const {
  int64_t next = INT64_MAX;
  // (now - since) / kDayMs steps up at since + k days.
  auto day_step = [&](int64_t since) {
    if (since && now_ms >= since) next = std::min(next, since + ((now_ms - since) / kDayMs + 1) * kDayMs);
    else if (since) next = std::min(next, since);
  };
  if (known) {
    day_step(enrolled_ms);
    day_step(last_purchase_ms);
    for (const auto& [ms, minor] : purchases) {
      if (now_ms - ms <= 90 * kDayMs) next = std::min(next, ms + 90 * kDayMs + 1);  // leaves the window
    }
  }
  return next;
}

FeatureView::FeatureView(const MemberFeatures& f, const std::string& channel, int64_t now_ms)
    : f_(f), channel_(channel), now_ms_(now_ms) {
  for (const auto& [ms, minor] : f.purchases) {
    if (now_ms - ms <= 90 * kDayMs) {
      ++purchases_90d_;
      spend_90d_ += minor;
    }
  }
}

RuleValue FeatureView::Get(const FeatureRef& r) const {
  auto text = [](const std::string& s) { return s.empty() ? RuleValue::Null() : RuleValue::String(s); };
  auto number = [](int64_t v) { return RuleValue::Number(static_cast<double>(v)); };
  if (r.id == FeatureId::kChannel) return text(channel_);
  if (!f_.known) return RuleValue::Null();
  switch (r.id) {
    case FeatureId::kTier: return text(f_.tier);
    case FeatureId::kPersona: return text(f_.persona);
    case FeatureId::kLocale: return text(f_.locale);
    case FeatureId::kChannel: return text(channel_);
    case FeatureId::kLifetimePoints: return number(f_.lifetime_points);
    case FeatureId::kAvailablePoints: return number(f_.available_points);
    case FeatureId::kDaysSinceEnrolled:
      return f_.enrolled_ms ? number((now_ms_ - f_.enrolled_ms) / kDayMs) : RuleValue::Null();
    case FeatureId::kDaysSinceLastPurchase:
      return f_.last_purchase_ms ? number((now_ms_ - f_.last_purchase_ms) / kDayMs) : RuleValue::Null();
    case FeatureId::kPurchases90d: return number(purchases_90d_);
    case FeatureId::kSpend90dMinor: return number(spend_90d_);
    case FeatureId::kCategory: {
      auto it = f_.categories.find(r.category);
      return number(it == f_.categories.end() ? 0 : it->second);
    }
  }
  return RuleValue::Null();
}

}  // namespace tessera::offers
