// Audience rules: a JsonLogic subset (operators and, or, !, ==, !=, <, <=, >, >=, in, var) over
// member features. Compile() parses and type-checks a rule when a campaign is written, so a bad
// rule is a 400 naming the part at fault and evaluation can never fail at offer time.
//
// Semantics follow jsonlogic.com: `and`/`or` short-circuit on truthiness, `!` negates
// truthiness, `<`/`<=` also take three arguments (between), `in` tests membership in an array
// or a substring. Types are checked: a number feature compares with numbers, a string feature
// with strings. A feature the member does not have is null: comparisons with it are false, so a
// targeted campaign is simply not offered.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace tessera::offers {

enum class FeatureType { kNumber, kString };

// The feature vocabulary: type of a known variable name, or nullopt. `category.<name>` is a
// number for any name.
std::optional<FeatureType> FeatureTypeOf(const std::string& name);

enum class FeatureId {
  kTier, kPersona, kLocale, kChannel,
  kLifetimePoints, kAvailablePoints, kDaysSinceEnrolled, kDaysSinceLastPurchase, kPurchases90d, kSpend90dMinor,
  kCategory,  // category.<name>: purchases in that category
};

// A variable of a rule, resolved when the rule is compiled (no name matching at offer time).
struct FeatureRef {
  FeatureId id = FeatureId::kTier;
  std::string name;      // as written, e.g. "category.electronics"
  std::string category;  // kCategory: the part after "category."
};

// A feature's value: null (the member lacks it), a number or a string. `text` must stay valid
// while the rule is evaluated (it points into the features or the request).
struct RuleValue {
  enum class Type { kNull, kNumber, kString };
  Type type = Type::kNull;
  double number = 0;
  std::string_view text;
  static RuleValue Null() { return {}; }
  static RuleValue Number(double v) { return {Type::kNumber, v, {}}; }
  static RuleValue String(std::string_view v) { return {Type::kString, 0, v}; }
  // A JSON number or string (anything else is null); strings point into `j`.
  static RuleValue FromJson(const nlohmann::json& j);
};

// The FeatureRef of a known variable name (see FeatureTypeOf).
FeatureRef ResolveFeature(const std::string& name);

// What a rule evaluates against. Returns null when the member lacks the feature.
using FeatureLookup = std::function<RuleValue(const FeatureRef& feature)>;

class Rule {
 public:
  struct Node;
  // Throws std::invalid_argument with "<json pointer>: <what is wrong>".
  static Rule Compile(const nlohmann::json& logic);
  bool Matches(const FeatureLookup& features) const;
  // Variables the rule reads (for ranking "fit" and for reasons).
  const std::set<std::string>& variables() const { return variables_; }
  const nlohmann::json& source() const { return source_; }

 private:
  std::shared_ptr<const Node> root_;
  std::set<std::string> variables_;
  nlohmann::json source_;
};

}  // namespace tessera::offers
