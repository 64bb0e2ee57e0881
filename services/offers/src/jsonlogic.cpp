#include "jsonlogic.h"

#include <stdexcept>
#include <vector>

namespace tessera::offers {

std::optional<FeatureType> FeatureTypeOf(const std::string& name) {
  static const std::set<std::string> kNumbers = {"lifetime_points", "available_points", "days_since_enrolled",
                                                 "days_since_last_purchase", "purchases_90d", "spend_90d_minor"};
  static const std::set<std::string> kStrings = {"tier", "persona", "locale", "channel"};
  if (kNumbers.count(name)) return FeatureType::kNumber;
  if (kStrings.count(name)) return FeatureType::kString;
  if (name.rfind("category.", 0) == 0 && name.size() > 9) return FeatureType::kNumber;
  return std::nullopt;
}

// Static type of an expression: what it yields.
enum class Kind { kBool, kNumber, kString, kArray };

struct Rule::Node {
  std::string op;  // "lit", "var", "and", ...
  nlohmann::json literal;
  std::string var;
  std::vector<std::shared_ptr<const Node>> args;
  Kind kind = Kind::kBool;
};

namespace {

using NodePtr = std::shared_ptr<const Rule::Node>;

[[noreturn]] void Bad(const std::string& where, const std::string& why) {
  throw std::invalid_argument((where.empty() ? "/" : where) + ": " + why);
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kBool: return "a boolean";
    case Kind::kNumber: return "a number";
    case Kind::kString: return "a string";
    case Kind::kArray: return "an array";
  }
  return "?";
}

class Compiler {
 public:
  std::set<std::string> vars;

  NodePtr Compile(const nlohmann::json& j, const std::string& at) {
    auto n = std::make_shared<Rule::Node>();
    if (j.is_boolean()) {
      n->op = "lit";
      n->literal = j;
      n->kind = Kind::kBool;
      return n;
    }
    if (j.is_number()) {
      n->op = "lit";
      n->literal = j;
      n->kind = Kind::kNumber;
      return n;
    }
    if (j.is_string()) {
      n->op = "lit";
      n->literal = j;
      n->kind = Kind::kString;
      return n;
    }
    if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) {
        if (!j[i].is_string() && !j[i].is_number()) Bad(at + "/" + std::to_string(i), "array literals hold strings or numbers");
      }
      n->op = "lit";
      n->literal = j;
      n->kind = Kind::kArray;
      return n;
    }
    if (!j.is_object() || j.size() != 1) Bad(at, "an operation is an object with exactly one operator");
    const std::string op = j.begin().key();
    const nlohmann::json& raw = j.begin().value();
    const std::string here = at + "/" + op;
    n->op = op;
    if (op == "var") {
      const nlohmann::json& name = raw.is_array() && raw.size() == 1 ? raw[0] : raw;
      if (!name.is_string()) Bad(here, "var takes a feature name");
      auto type = FeatureTypeOf(name.get<std::string>());
      if (!type) Bad(here, "unknown feature '" + name.get<std::string>() + "'");
      n->var = name.get<std::string>();
      n->kind = *type == FeatureType::kNumber ? Kind::kNumber : Kind::kString;
      vars.insert(n->var);
      return n;
    }
    nlohmann::json args = raw.is_array() ? raw : nlohmann::json::array({raw});
    for (size_t i = 0; i < args.size(); ++i) n->args.push_back(Compile(args[i], here + "/" + std::to_string(i)));
    auto arity = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi) {
        Bad(here, op + " takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                      " arguments");
      }
    };
    if (op == "and" || op == "or") {
      arity(1, 64);
      for (size_t i = 0; i < n->args.size(); ++i) {
        if (n->args[i]->kind != Kind::kBool) Bad(here + "/" + std::to_string(i), op + " combines conditions, not " + KindName(n->args[i]->kind));
      }
    } else if (op == "!") {
      arity(1, 1);
      if (n->args[0]->kind != Kind::kBool) Bad(here + "/0", "! negates a condition, not " + std::string(KindName(n->args[0]->kind)));
    } else if (op == "==" || op == "!=") {
      arity(2, 2);
      if (n->args[0]->kind != n->args[1]->kind) {
        Bad(here, std::string("compares ") + KindName(n->args[0]->kind) + " with " + KindName(n->args[1]->kind));
      }
    } else if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      arity(2, op[0] == '<' ? 3 : 2);
      for (size_t i = 0; i < n->args.size(); ++i) {
        if (n->args[i]->kind != Kind::kNumber) Bad(here + "/" + std::to_string(i), op + " compares numbers, not " + KindName(n->args[i]->kind));
      }
    } else if (op == "in") {
      arity(2, 2);
      const Kind needle = n->args[0]->kind, hay = n->args[1]->kind;
      if (hay == Kind::kArray) {
        if (needle != Kind::kString && needle != Kind::kNumber) Bad(here + "/0", "in looks for a string or a number");
        for (const auto& e : n->args[1]->literal) {
          if ((needle == Kind::kString) != e.is_string()) Bad(here + "/1", "the array must hold values of the same type as the first argument");
        }
      } else if (hay == Kind::kString) {
        if (needle != Kind::kString) Bad(here + "/0", "in on a string looks for a substring");
      } else {
        Bad(here + "/1", "in needs an array or a string");
      }
    } else {
      Bad(here, "unsupported operator '" + op + "' (use and, or, !, ==, !=, <, <=, >, >=, in, var)");
    }
    n->kind = Kind::kBool;
    return n;
  }
};

nlohmann::json Value(const Rule::Node& n, const FeatureLookup& f);

bool Truthy(const nlohmann::json& v) {
  if (v.is_null()) return false;
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !v.get<std::string>().empty();
  if (v.is_array()) return !v.empty();
  return true;
}

nlohmann::json Value(const Rule::Node& n, const FeatureLookup& f) {
  if (n.op == "lit") return n.literal;
  if (n.op == "var") return f(n.var);
  if (n.op == "and") {
    for (const auto& a : n.args) {
      if (!Truthy(Value(*a, f))) return false;
    }
    return true;
  }
  if (n.op == "or") {
    for (const auto& a : n.args) {
      if (Truthy(Value(*a, f))) return true;
    }
    return false;
  }
  if (n.op == "!") return !Truthy(Value(*n.args[0], f));
  std::vector<nlohmann::json> v;
  for (const auto& a : n.args) v.push_back(Value(*a, f));
  for (const auto& x : v) {
    if (x.is_null()) return false;  // a missing feature matches no comparison (and != too)
  }
  if (n.op == "==") return v[0] == v[1];
  if (n.op == "!=") return v[0] != v[1];
  if (n.op == "in") {
    if (v[1].is_array()) {
      for (const auto& e : v[1]) {
        if (e == v[0]) return true;
      }
      return false;
    }
    return v[1].get<std::string>().find(v[0].get<std::string>()) != std::string::npos;
  }
  const double a = v[0].get<double>(), b = v[1].get<double>();
  if (n.op == "<") return v.size() == 3 ? (a < b && b < v[2].get<double>()) : a < b;
  if (n.op == "<=") return v.size() == 3 ? (a <= b && b <= v[2].get<double>()) : a <= b;
  if (n.op == ">") return a > b;
  return a >= b;
}

}  // namespace

Rule Rule::Compile(const nlohmann::json& logic) {
  Compiler c;
  Rule r;
  r.root_ = c.Compile(logic, "");
  if (r.root_->kind != Kind::kBool) Bad("", "an audience rule must be a condition, not " + std::string(KindName(r.root_->kind)));
  r.variables_ = std::move(c.vars);
  r.source_ = logic;
  return r;
}

bool Rule::Matches(const FeatureLookup& features) const { return Truthy(Value(*root_, features)); }

}  // namespace tessera::offers
