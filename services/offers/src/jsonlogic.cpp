#include "jsonlogic.h"

#include <map>
#include <stdexcept>
#include <vector>

namespace tessera::offers {

namespace {
// The feature vocabulary, one row per named feature; `category.<name>` is a number for any name.
struct NamedFeature {
  const char* name;
  FeatureId id;
  FeatureType type;
};
constexpr NamedFeature kNamedFeatures[] = {
    {"tier", FeatureId::kTier, FeatureType::kString},
    {"persona", FeatureId::kPersona, FeatureType::kString},
    {"locale", FeatureId::kLocale, FeatureType::kString},
    {"channel", FeatureId::kChannel, FeatureType::kString},
    {"lifetime_points", FeatureId::kLifetimePoints, FeatureType::kNumber},
    {"available_points", FeatureId::kAvailablePoints, FeatureType::kNumber},
    {"days_since_enrolled", FeatureId::kDaysSinceEnrolled, FeatureType::kNumber},
    {"days_since_last_purchase", FeatureId::kDaysSinceLastPurchase, FeatureType::kNumber},
    {"purchases_90d", FeatureId::kPurchases90d, FeatureType::kNumber},
    {"spend_90d_minor", FeatureId::kSpend90dMinor, FeatureType::kNumber},
};

const NamedFeature* FindNamed(const std::string& name) {
  for (const auto& f : kNamedFeatures) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

bool IsCategory(const std::string& name) { return name.rfind("category.", 0) == 0 && name.size() > 9; }
}  // namespace

std::optional<FeatureType> FeatureTypeOf(const std::string& name) {
  if (const NamedFeature* f = FindNamed(name)) return f->type;
  if (IsCategory(name)) return FeatureType::kNumber;
  return std::nullopt;
}

FeatureRef ResolveFeature(const std::string& name) {
  FeatureRef r;
  r.name = name;
  if (const NamedFeature* f = FindNamed(name)) {
    r.id = f->id;
  } else {
    r.id = FeatureId::kCategory;
    r.category = IsCategory(name) ? name.substr(9) : name;
  }
  return r;
}

RuleValue RuleValue::FromJson(const nlohmann::json& j) {
  if (j.is_number()) return Number(j.get<double>());
  if (j.is_string()) return String(j.get_ref<const std::string&>());
  return Null();
}

// Static type of an expression: what it yields.
enum class Kind { kBool, kNumber, kString, kArray };

enum class Op { kLit, kVar, kAnd, kOr, kNot, kEq, kNe, kLt, kLe, kGt, kGe, kIn };

// A compiled node. Literals are stored typed, so evaluation never touches JSON values.
struct Rule::Node {
  Op op = Op::kLit;
  Kind kind = Kind::kBool;
  bool boolean = false;                 // kLit, kBool
  double number = 0;                    // kLit, kNumber
  std::string text;                     // kLit, kString
  std::vector<std::string> strings;     // kLit, kArray of strings
  std::vector<double> numbers;          // kLit, kArray of numbers
  FeatureRef var;                       // kVar
  std::vector<std::shared_ptr<const Node>> args;
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
      n->boolean = j.get<bool>();
      n->kind = Kind::kBool;
      return n;
    }
    if (j.is_number()) {
      n->number = j.get<double>();
      n->kind = Kind::kNumber;
      return n;
    }
    if (j.is_string()) {
      n->text = j.get<std::string>();
      n->kind = Kind::kString;
      return n;
    }
    if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) {
        if (!j[i].is_string() && !j[i].is_number()) Bad(at + "/" + std::to_string(i), "array literals hold strings or numbers");
        if (j[i].is_string()) n->strings.push_back(j[i].get<std::string>());
        else n->numbers.push_back(j[i].get<double>());
      }
      n->kind = Kind::kArray;
      return n;
    }
    if (!j.is_object() || j.size() != 1) Bad(at, "an operation is an object with exactly one operator");
    const std::string op = j.begin().key();
    const nlohmann::json& raw = j.begin().value();
    const std::string here = at + "/" + op;
    if (op == "var") {
      const nlohmann::json& name = raw.is_array() && raw.size() == 1 ? raw[0] : raw;
      if (!name.is_string()) Bad(here, "var takes a feature name");
      auto type = FeatureTypeOf(name.get<std::string>());
      if (!type) Bad(here, "unknown feature '" + name.get<std::string>() + "'");
      n->op = Op::kVar;
      n->var = ResolveFeature(name.get<std::string>());
      n->kind = *type == FeatureType::kNumber ? Kind::kNumber : Kind::kString;
      vars.insert(n->var.name);
      return n;
    }
    static const std::map<std::string, Op> kOps = {{"and", Op::kAnd}, {"or", Op::kOr}, {"!", Op::kNot},
                                                   {"==", Op::kEq},   {"!=", Op::kNe}, {"<", Op::kLt},
                                                   {"<=", Op::kLe},   {">", Op::kGt},  {">=", Op::kGe},
                                                   {"in", Op::kIn}};
    const auto known = kOps.find(op);
    nlohmann::json args = raw.is_array() ? raw : nlohmann::json::array({raw});
    for (size_t i = 0; i < args.size(); ++i) n->args.push_back(Compile(args[i], here + "/" + std::to_string(i)));
    auto arity = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi) {
        Bad(here, op + " takes " + (lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi)) +
                      " arguments");
      }
    };
    if (known == kOps.end()) {
      Bad(here, "unsupported operator '" + op + "' (use and, or, !, ==, !=, <, <=, >, >=, in, var)");
    }
    n->op = known->second;
    switch (n->op) {
      case Op::kAnd:
      case Op::kOr:
        arity(1, 64);
        for (size_t i = 0; i < n->args.size(); ++i) {
          if (n->args[i]->kind != Kind::kBool) Bad(here + "/" + std::to_string(i), op + " combines conditions, not " + KindName(n->args[i]->kind));
        }
        break;
      case Op::kNot:
        arity(1, 1);
        if (n->args[0]->kind != Kind::kBool) Bad(here + "/0", "! negates a condition, not " + std::string(KindName(n->args[0]->kind)));
        break;
      case Op::kEq:
      case Op::kNe:
        arity(2, 2);
        if (n->args[0]->kind != n->args[1]->kind) {
          Bad(here, std::string("compares ") + KindName(n->args[0]->kind) + " with " + KindName(n->args[1]->kind));
        }
        break;
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        arity(2, n->op == Op::kLt || n->op == Op::kLe ? 3 : 2);  // < and <= also take three (between)
        for (size_t i = 0; i < n->args.size(); ++i) {
          if (n->args[i]->kind != Kind::kNumber) Bad(here + "/" + std::to_string(i), op + " compares numbers, not " + KindName(n->args[i]->kind));
        }
        break;
      case Op::kIn: {
        arity(2, 2);
        const Kind needle = n->args[0]->kind, hay = n->args[1]->kind;
        if (hay == Kind::kArray) {
          if (needle != Kind::kString && needle != Kind::kNumber) Bad(here + "/0", "in looks for a string or a number");
          const auto& a = *n->args[1];
          if ((needle == Kind::kString && !a.numbers.empty()) || (needle == Kind::kNumber && !a.strings.empty())) {
            Bad(here + "/1", "the array must hold values of the same type as the first argument");
          }
        } else if (hay == Kind::kString) {
          if (needle != Kind::kString) Bad(here + "/0", "in on a string looks for a substring");
        } else {
          Bad(here + "/1", "in needs an array or a string");
        }
        break;
      }
      case Op::kLit:
      case Op::kVar:
        break;  // not operators: handled above
    }
    n->kind = Kind::kBool;
    return n;
  }
};

// The value of an expression while evaluating: typed, no allocation.
struct Val {
  enum class T { kNull, kBool, kNumber, kString, kArray } t = T::kNull;
  bool b = false;
  double n = 0;
  std::string_view s;
  const Rule::Node* array = nullptr;  // kArray: the literal node
};

bool Truthy(const Val& v) {
  switch (v.t) {
    case Val::T::kNull: return false;
    case Val::T::kBool: return v.b;
    case Val::T::kNumber: return v.n != 0;
    case Val::T::kString: return !v.s.empty();
    case Val::T::kArray: return !v.array->strings.empty() || !v.array->numbers.empty();
  }
  return false;
}

Val Bool(bool b) { return {Val::T::kBool, b, 0, {}, nullptr}; }

bool Equal(const Val& a, const Val& b) {
  if (a.t != b.t) return false;  // compile-time checks make the kinds agree
  if (a.t == Val::T::kNumber) return a.n == b.n;
  if (a.t == Val::T::kString) return a.s == b.s;
  return a.b == b.b;
}

Val Eval(const Rule::Node& n, const FeatureLookup& f) {
  switch (n.op) {
    case Op::kLit:
      switch (n.kind) {
        case Kind::kBool: return Bool(n.boolean);
        case Kind::kNumber: return {Val::T::kNumber, false, n.number, {}, nullptr};
        case Kind::kString: return {Val::T::kString, false, 0, n.text, nullptr};
        case Kind::kArray: return {Val::T::kArray, false, 0, {}, &n};
      }
      return {};
    case Op::kVar: {
      const RuleValue v = f(n.var);
      if (v.type == RuleValue::Type::kNumber) return {Val::T::kNumber, false, v.number, {}, nullptr};
      if (v.type == RuleValue::Type::kString) return {Val::T::kString, false, 0, v.text, nullptr};
      return {};
    }
    case Op::kAnd:
      for (const auto& a : n.args) {
        if (!Truthy(Eval(*a, f))) return Bool(false);
      }
      return Bool(true);
    case Op::kOr:
      for (const auto& a : n.args) {
        if (Truthy(Eval(*a, f))) return Bool(true);
      }
      return Bool(false);
    case Op::kNot:
      return Bool(!Truthy(Eval(*n.args[0], f)));
    default:
      break;
  }
  Val v[3];
  const size_t argc = n.args.size();
  for (size_t i = 0; i < argc; ++i) {
    v[i] = Eval(*n.args[i], f);
    if (v[i].t == Val::T::kNull) return Bool(false);  // a missing feature matches no comparison (and != too)
  }
  switch (n.op) {
    case Op::kEq: return Bool(Equal(v[0], v[1]));
    case Op::kNe: return Bool(!Equal(v[0], v[1]));
    case Op::kIn:
      if (v[1].t == Val::T::kArray) {
        if (v[0].t == Val::T::kString) {
          for (const auto& e : v[1].array->strings) {
            if (e == v[0].s) return Bool(true);
          }
        } else {
          for (double e : v[1].array->numbers) {
            if (e == v[0].n) return Bool(true);
          }
        }
        return Bool(false);
      }
      return Bool(v[1].s.find(v[0].s) != std::string_view::npos);
    case Op::kLt: return Bool(argc == 3 ? (v[0].n < v[1].n && v[1].n < v[2].n) : v[0].n < v[1].n);
    case Op::kLe: return Bool(argc == 3 ? (v[0].n <= v[1].n && v[1].n <= v[2].n) : v[0].n <= v[1].n);
    case Op::kGt: return Bool(v[0].n > v[1].n);
    case Op::kGe: return Bool(v[0].n >= v[1].n);
    default: return Bool(false);
  }
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

bool Rule::Matches(const FeatureLookup& features) const { return Truthy(Eval(*root_, features)); }

}  // namespace tessera::offers
