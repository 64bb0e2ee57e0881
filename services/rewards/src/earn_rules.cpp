#include "earn_rules.h"

#include <map>

namespace tessera::rewards {

namespace {
using Wide = __int128;

int64_t Pow10(int e) {
  int64_t v = 1;
  while (e-- > 0) v *= 10;
  return v;
}
}  // namespace

EarnResult ComputeEarn(const ProgramRules& rules, const Purchase& purchase, const std::string& tier) {
  const int64_t exponent = Pow10(rules.currencies.at(purchase.currency));
  const int64_t channel = rules.Multiplier(rules.channel_multipliers, purchase.channel);
  const int64_t tier_mult = rules.Multiplier(rules.tier_multipliers, tier);

  // Amounts per category (a line without a known category earns the base rate).
  std::map<std::string, Wide> by_category;
  if (purchase.lines.empty()) {
    by_category[""] = purchase.total_minor;
  } else {
    for (const auto& l : purchase.lines) by_category[l.category] += static_cast<Wide>(l.amount_minor) * l.quantity;
  }
  // Stage sums in units of (minor * points) scaled by 100^3 so every multiplier stays integral.
  const Wide base_rate = rules.base_points_per_major_unit;
  Wide s_base = 0, s_category = 0;
  for (const auto& [category, amount] : by_category) {
    const int64_t m = category.empty() ? 100 : rules.Multiplier(rules.category_multipliers, category);
    s_base += amount * base_rate * 100 * 100 * 100;
    s_category += amount * base_rate * m * 100 * 100;
  }
  const Wide s_channel = s_category / 100 * channel;  // exact: s_category is a multiple of 100
  const Wide s_tier = s_channel / 100 * tier_mult;
  const Wide denom = static_cast<Wide>(exponent) * 100 * 100 * 100;

  const int64_t f_base = static_cast<int64_t>(s_base / denom);
  const int64_t f_category = static_cast<int64_t>(s_category / denom);
  const int64_t f_channel = static_cast<int64_t>(s_channel / denom);
  const int64_t f_tier = static_cast<int64_t>(s_tier / denom);

  EarnResult r;
  r.points = f_tier;
  r.breakdown.push_back({"base", f_base});
  // Split the category stage between the categories that carry a multiplier.
  int64_t category_total = f_category - f_base;
  if (category_total != 0) {
    // Each category's own (truncated) share; the rounding residue goes to the last one so the
    // breakdown adds up exactly.
    std::vector<std::pair<std::string, int64_t>> shares;
    int64_t assigned = 0;
    for (const auto& [category, amount] : by_category) {
      const int64_t m = category.empty() ? 100 : rules.Multiplier(rules.category_multipliers, category);
      if (m == 100) continue;
      const int64_t share = static_cast<int64_t>(amount * base_rate * (m - 100) * 100 * 100 / denom);
      shares.emplace_back(category, share);
      assigned += share;
    }
    if (!shares.empty()) shares.back().second += category_total - assigned;
    for (const auto& [category, share] : shares) r.breakdown.push_back({"category:" + category, share});
  }
  if (f_channel != f_category) r.breakdown.push_back({"channel:" + purchase.channel, f_channel - f_category});
  if (f_tier != f_channel) r.breakdown.push_back({"tier:" + tier, f_tier - f_channel});
  return r;
}

}  // namespace tessera::rewards
