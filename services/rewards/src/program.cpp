#include "program.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "member_state.h"
#include "tessera/errors.h"

namespace tessera::rewards {

namespace {

class Reader {
 public:
  Reader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}

  [[noreturn]] void Fail(const std::string& field, const std::string& why) const {
    throw ConfigError(path_ + (field.empty() ? "" : "." + field) + ": " + why);
  }
  const nlohmann::json& Get(const std::string& field) const {
    if (!j_.is_object() || !j_.contains(field)) Fail(field, "is required");
    return j_.at(field);
  }
  bool Has(const std::string& field) const { return j_.is_object() && j_.contains(field); }
  int64_t Int(const std::string& field, int64_t min, int64_t max) const {
    const auto& v = Get(field);
    if (!v.is_number_integer()) Fail(field, "must be an integer");
    const int64_t x = v.get<int64_t>();
    if (x < min || x > max) Fail(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return x;
  }
  int64_t IntOr(const std::string& field, int64_t fallback, int64_t min, int64_t max) const {
    return Has(field) ? Int(field, min, max) : fallback;
  }
  Reader Child(const std::string& field) const {
    const auto& v = Get(field);
    if (!v.is_object()) Fail(field, "must be an object");
    return Reader(v, path_ + "." + field);
  }
  const nlohmann::json& json() const { return j_; }
  const std::string& path() const { return path_; }

 private:
  const nlohmann::json& j_;
  std::string path_;
};

// 1.5 -> 150; rejects more than two decimals and values outside (0, 100].
int64_t Hundredths(const nlohmann::json& v, const Reader& r, const std::string& field) {
  if (!v.is_number()) r.Fail(field, "must be a number");
  const double d = v.get<double>();
  const double scaled = d * 100.0;
  if (!(d > 0) || d > 100 || std::fabs(scaled - std::round(scaled)) > 1e-6) {
    r.Fail(field, "must be a multiplier above 0 and at most 100 with at most two decimals");
  }
  return static_cast<int64_t>(std::llround(scaled));
}

std::map<std::string, int64_t> Multipliers(const Reader& parent, const std::string& field,
                                           const std::set<std::string>* allowed_keys = nullptr) {
  std::map<std::string, int64_t> out;
  if (!parent.Has(field)) return out;
  Reader r = parent.Child(field);
  for (auto it = r.json().begin(); it != r.json().end(); ++it) {
    if (allowed_keys && !allowed_keys->count(it.key())) r.Fail(it.key(), "is not a known key here");
    out[it.key()] = Hundredths(it.value(), r, it.key());
  }
  return out;
}

}  // namespace

const TierRule& ProgramRules::TierFor(int64_t qualifying) const {
  const TierRule* best = &tiers.front();
  for (const auto& t : tiers) {
    if (qualifying >= t.threshold) best = &t;
  }
  return *best;
}

int ProgramRules::TierIndex(const std::string& name) const {
  for (size_t i = 0; i < tiers.size(); ++i) {
    if (tiers[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

int64_t ProgramRules::Multiplier(const std::map<std::string, int64_t>& table, const std::string& key) const {
  auto it = table.find(key);
  return it == table.end() ? 100 : it->second;
}

int64_t ProgramRules::RecordRetentionMs() const {
  return (int64_t{std::max(claim_window_days, reversal_window_days)} + 1) * kDayMs;
}

ProgramRules ParseProgram(const std::string& json_text, const std::string& origin) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw ConfigError(origin + ": not a JSON object");
  Reader root(doc, "program");
  static const std::set<std::string> kTop = {"program_id", "earn", "tiers", "expiry", "pending_days",
                                             "claim_window_days", "reversal_window_days", "goodwill",
                                             "holds", "ledger", "description"};
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (!kTop.count(it.key())) root.Fail(it.key(), "unknown field");
  }
  ProgramRules p;
  p.document = doc;
  const auto& id = root.Get("program_id");
  if (!id.is_string() || id.get<std::string>().empty()) root.Fail("program_id", "must be a non-empty string");
  p.program_id = id.get<std::string>();

  Reader earn = root.Child("earn");
  p.base_points_per_major_unit = earn.Int("base_points_per_major_unit", 1, 10000);
  Reader cur = earn.Child("currencies");
  for (auto it = cur.json().begin(); it != cur.json().end(); ++it) {
    if (it.key().size() != 3) cur.Fail(it.key(), "must be an ISO 4217 code");
    if (!it.value().is_number_integer() || it.value().get<int>() < 0 || it.value().get<int>() > 4) {
      cur.Fail(it.key(), "must be the number of minor-unit digits (0-4)");
    }
    p.currencies[it.key()] = it.value().get<int>();
  }
  if (p.currencies.empty()) cur.Fail("", "at least one currency is required");
  p.category_multipliers = Multipliers(earn, "category_multipliers");
  static const std::set<std::string> kChannels = {"web", "app", "store"};
  p.channel_multipliers = Multipliers(earn, "channel_multipliers", &kChannels);

  const auto& tiers = root.Get("tiers");
  if (!tiers.is_array() || tiers.empty()) root.Fail("tiers", "must be a non-empty array");
  for (size_t i = 0; i < tiers.size(); ++i) {
    Reader t(tiers[i], "program.tiers[" + std::to_string(i) + "]");
    TierRule rule;
    const auto& name = t.Get("name");
    if (!name.is_string() || name.get<std::string>().empty()) t.Fail("name", "must be a non-empty string");
    rule.name = name.get<std::string>();
    rule.threshold = t.Int("threshold", 0, 1'000'000'000);
    if (i == 0 && rule.threshold != 0) t.Fail("threshold", "the first tier must start at 0");
    if (i > 0 && rule.threshold <= p.tiers.back().threshold) t.Fail("threshold", "must be greater than the tier below");
    if (p.TierIndex(rule.name) >= 0) t.Fail("name", "duplicate tier name");
    p.tiers.push_back(rule);
  }
  std::set<std::string> tier_names;
  for (const auto& t : p.tiers) tier_names.insert(t.name);
  p.tier_multipliers = Multipliers(earn, "tier_multipliers", &tier_names);

  Reader expiry = root.Child("expiry");
  p.lot_expiry_days = static_cast<int>(expiry.Int("lot_days", 1, 3650));
  p.expiry_warning_days = static_cast<int>(expiry.IntOr("warning_days", 30, 0, 365));
  p.qualifying_window_days = static_cast<int>(expiry.IntOr("qualifying_window_days", 365, 1, 3650));
  if (p.expiry_warning_days >= p.lot_expiry_days) expiry.Fail("warning_days", "must be shorter than lot_days");
  p.pending_days = static_cast<int>(root.IntOr("pending_days", 0, 0, 90));
  p.claim_window_days = static_cast<int>(root.IntOr("claim_window_days", 365, 1, 3650));
  p.reversal_window_days = static_cast<int>(root.IntOr("reversal_window_days", 365, 1, 3650));
  Reader goodwill = root.Child("goodwill");
  p.max_adjustment_points = goodwill.Int("max_points_per_adjustment", 1, 1'000'000'000);
  p.max_agent_daily_points = goodwill.Int("max_points_per_agent_per_day", 1, 1'000'000'000);
  if (p.max_agent_daily_points < p.max_adjustment_points) {
    goodwill.Fail("max_points_per_agent_per_day", "must be at least max_points_per_adjustment");
  }
  if (root.Has("holds")) p.max_hold_ttl_seconds = static_cast<int>(root.Child("holds").Int("max_ttl_seconds", 1, 900));
  if (root.Has("ledger")) p.ledger_online_entries = static_cast<int>(root.Child("ledger").Int("online_entries", 20, 100000));
  return p;
}

ProgramRules LoadProgramFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError("TESSERA_PROGRAM_FILE: cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseProgram(ss.str(), path);
}

}  // namespace tessera::rewards
