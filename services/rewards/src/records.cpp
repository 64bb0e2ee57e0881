#include "records.h"

#include <algorithm>
#include <array>
#include <span>
#include <string_view>

#include "tessera/clock.h"
#include "tessera/json_text.h"

namespace tessera::rewards {

namespace {
struct Field {
  std::string_view name;
  std::string_view default_json;  // non-empty: this value is written as absent, and read back
};

// Append-only: a stored array's positions mean these names. A new field goes at the end.
constexpr std::array<Field, 9> kOrderFields = {{{"points", ""},
                                                {"total_minor", ""},
                                                {"refunded_minor", ""},
                                                {"reversed_points", ""},
                                                {"lot_id", ""},
                                                {"day", ""},
                                                {"occurred_ms", ""},
                                                {"currency", ""},
                                                {"bonus", ""}}};
constexpr std::array<Field, 4> kRedemptionFields = {
    {{"allocations", ""}, {"at", ""}, {"status", R"("completed")"}, {"hold_id", ""}}};

constexpr size_t kMaxFields = std::max(kOrderFields.size(), kRedemptionFields.size());

std::span<const Field> FieldsOf(RecordKind kind) {
  if (kind == RecordKind::kOrder) return kOrderFields;
  if (kind == RecordKind::kRedemption) return kRedemptionFields;
  return {};  // holds: stored as their object
}

// A redemption's allocations [[lot_id, points, expires_ms], ...] are stored as one flat array
// [lot_id, points, expires_ms, lot_id, ...].
constexpr size_t kAllocationWidth = 3;

bool AreLotTriples(const nlohmann::json& allocations) {
  if (!allocations.is_array()) return false;
  for (const auto& a : allocations) {
    if (!a.is_array() || a.size() != kAllocationWidth) return false;
  }
  return true;
}

void AppendFlattened(std::string& out, const nlohmann::json& allocations) {
  out.push_back('[');
  bool first = true;
  for (const auto& a : allocations) {
    for (const auto& v : a) {
      if (!first) out.push_back(',');
      first = false;
      AppendJson(out, v);
    }
  }
  out.push_back(']');
}

nlohmann::json Grouped(const nlohmann::json& flat) {
  if (!flat.is_array() || flat.size() % kAllocationWidth != 0) {
    throw nlohmann::json::type_error::create(302, "allocations are not lot triples", &flat);
  }
  nlohmann::json allocations = nlohmann::json::array();
  for (size_t i = 0; i < flat.size(); i += kAllocationWidth) {
    allocations.push_back({flat[i], flat[i + 1], flat[i + 2]});
  }
  return allocations;
}

bool IsAllocations(RecordKind kind, size_t field) { return kind == RecordKind::kRedemption && field == 0; }
}  // namespace

std::string EncodeRecord(RecordKind kind, const nlohmann::json& record) {
  const auto fields = FieldsOf(kind);
  if (!record.is_object()) return JsonText(record);
  // Written as text in one pass over the fields, no array built first: a record is written with
  // every redemption.
  std::array<const nlohmann::json*, kMaxFields> values{};  // null: written as null
  size_t used = 0, last = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    auto it = record.find(fields[i].name);
    if (it == record.end() || it->is_null()) continue;
    ++used;
    if (!fields[i].default_json.empty() && JsonText(*it) == fields[i].default_json) continue;
    if (IsAllocations(kind, i) && !AreLotTriples(*it)) return JsonText(record);  // keep the object
    values[i] = &*it;
    last = i + 1;
  }
  if (used != record.size()) return JsonText(record);  // a field outside the list: keep the object
  std::string out;
  out.reserve(64);
  out.push_back('[');
  for (size_t i = 0; i < last; ++i) {  // trailing absents left out
    if (i > 0) out.push_back(',');
    if (!values[i]) {
      out += "null";
    } else if (IsAllocations(kind, i)) {
      AppendFlattened(out, *values[i]);
    } else {
      AppendJson(out, *values[i]);
    }
  }
  out.push_back(']');
  return out;
}

nlohmann::json DecodeRecord(RecordKind kind, const std::string& stored) {
  nlohmann::json values = nlohmann::json::parse(stored);
  if (!values.is_array()) return values;  // stored as its object
  const auto fields = FieldsOf(kind);
  if (values.size() > fields.size()) throw nlohmann::json::out_of_range::create(401, "record has too many values", &values);
  nlohmann::json record = nlohmann::json::object();
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string name(fields[i].name);
    if (i < values.size() && !values[i].is_null()) {
      record[name] = IsAllocations(kind, i) ? Grouped(values[i]) : std::move(values[i]);
    } else if (!fields[i].default_json.empty()) {
      record[name] = nlohmann::json::parse(fields[i].default_json);
    }
  }
  return record;
}

std::optional<int64_t> RecordInstantMs(RecordKind kind, const nlohmann::json& record) {
  if (!record.is_object()) return std::nullopt;
  const auto number = [&](const char* name) -> std::optional<int64_t> {
    auto it = record.find(name);
    if (it == record.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
  };
  switch (kind) {
    case RecordKind::kOrder:
      return number("occurred_ms");
    case RecordKind::kRedemption:
      if (auto at = number("at")) return *at * 1000;
      return std::nullopt;
    case RecordKind::kHold: {
      auto it = record.find("expires_at");
      if (it == record.end() || !it->is_string()) return std::nullopt;
      if (auto t = ParseRfc3339(it->get<std::string>())) return ToUnixMillis(*t);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

RecordPrune PlanRecordPrune(RecordKind kind, const std::vector<std::pair<std::string, std::string>>& stored,
                            int64_t before_ms) {
  RecordPrune plan;
  for (const auto& [field, text] : stored) {
    std::optional<int64_t> at;
    try {
      at = RecordInstantMs(kind, DecodeRecord(kind, text));
    } catch (const nlohmann::json::exception&) {
      continue;  // unreadable: kept
    }
    if (!at) continue;
    if (*at < before_ms) {
      plan.expired.push_back(field);
    } else if (!plan.oldest_kept || *at < *plan.oldest_kept) {
      plan.oldest_kept = *at;
    }
  }
  return plan;
}

}  // namespace tessera::rewards
