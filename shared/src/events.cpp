#include "tessera/events.h"

#include <cctype>
#include <string_view>

#include "tessera/clock.h"
#include "tessera/ids.h"
#include "tessera/json_text.h"

namespace tessera {

std::string DlqTopicFor(const std::string& topic) {
  const auto dot = topic.rfind(".v");
  if (topic.rfind("tessera.", 0) == 0 && dot != std::string::npos &&
      topic.find_first_not_of("0123456789", dot + 2) == std::string::npos && dot + 2 < topic.size()) {
    return topic.substr(0, dot) + ".dlq" + topic.substr(dot);
  }
  return topic + ".dlq";
}

std::vector<std::string> EventTopics() {
  return {topics::kPurchases, topics::kLedger, topics::kOffers, topics::kNotifications};
}

std::vector<std::string> AllTopics() {
  std::vector<std::string> out;
  for (const auto& t : EventTopics()) {
    out.push_back(t);
    out.push_back(DlqTopicFor(t));
  }
  return out;
}

nlohmann::json EventEnvelope::ToJson() const {
  nlohmann::json j = {{"event_id", event_id},
                      {"type", type},
                      {"schema_version", schema_version},
                      {"occurred_at", occurred_at},
                      {"member_id", member_id ? nlohmann::json(*member_id) : nlohmann::json(nullptr)},
                      {"channel", channel},
                      {"source", source},
                      {"correlation_id", correlation_id},
                      {"causation_id", causation_id},
                      {"payload", payload}};
  if (member_seq) j["member_seq"] = *member_seq;
  return j;
}

namespace {
// Dump()'s text before the payload's value, and after it. Keys in the order nlohmann::json
// writes them (sorted).
void AppendHead(std::string& out, const EventEnvelope& e) {
  out += "{\"causation_id\":";
  AppendJsonString(out, e.causation_id);
  out += ",\"channel\":";
  AppendJsonString(out, e.channel);
  out += ",\"correlation_id\":";
  AppendJsonString(out, e.correlation_id);
  out += ",\"event_id\":";
  AppendJsonString(out, e.event_id);
  out += ",\"member_id\":";
  if (e.member_id) AppendJsonString(out, *e.member_id);
  else out += "null";
  if (e.member_seq) {
    out += ",\"member_seq\":";
    AppendJsonInt(out, *e.member_seq);
  }
  out += ",\"occurred_at\":";
  AppendJsonString(out, e.occurred_at);
  out += ",\"payload\":";
}

void AppendTail(std::string& out, const EventEnvelope& e) {
  out += ",\"schema_version\":";
  AppendJsonInt(out, e.schema_version);
  out += ",\"source\":";
  AppendJsonString(out, e.source);
  out += ",\"type\":";
  AppendJsonString(out, e.type);
  out += '}';
}

// Room for an envelope's fixed part: one allocation for most events.
constexpr size_t kEnvelopeReserve = 320;
}  // namespace

std::string EventEnvelope::Dump() const {
  std::string out;
  out.reserve(kEnvelopeReserve + 256);
  AppendHead(out, *this);
  AppendJson(out, payload);
  AppendTail(out, *this);
  return out;
}

std::string EventEnvelope::DumpWithPayload(std::string_view payload_json) const {
  std::string out;
  out.reserve(kEnvelopeReserve + payload_json.size());
  AppendHead(out, *this);
  out += payload_json;
  AppendTail(out, *this);
  return out;
}

namespace {
// 8-4-4-4-12 hexadecimal digits, either case.
bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// "<noun>.<verb>" of lowercase letters and underscores (schemas/events/envelope.schema.json).
bool IsEventType(std::string_view s) {
  const size_t dot = s.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i != dot && !((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_')) return false;
  }
  return true;
}
}  // namespace

std::optional<EventEnvelope> EventEnvelope::FromJson(const nlohmann::json& j, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<EventEnvelope> {
    if (error) *error = why;
    return std::nullopt;
  };
  if (!j.is_object()) return fail("envelope is not a JSON object");
  for (const char* f : {"event_id", "type", "occurred_at"}) {
    if (!j.contains(f) || !j[f].is_string() || j[f].get<std::string>().empty()) {
      return fail(std::string("envelope.") + f + " must be a non-empty string");
    }
  }
  if (!j.contains("payload") || !j["payload"].is_object()) return fail("envelope.payload must be an object");
  EventEnvelope e;
  e.event_id = j["event_id"];
  e.type = j["type"];
  e.occurred_at = j["occurred_at"];
  e.payload = j["payload"];
  // Consumers dedupe by event_id and order by occurred_at: both must be what the contract says.
  if (!IsUuid(e.event_id)) return fail("envelope.event_id must be a UUID");
  if (!IsEventType(e.type)) return fail("envelope.type must be <noun>.<verb> in lowercase");
  if (!ParseRfc3339(e.occurred_at)) return fail("envelope.occurred_at must be an RFC 3339 date-time");
  if (j.contains("schema_version")) {
    if (!j["schema_version"].is_number_integer() || j["schema_version"].get<int64_t>() < 1) {
      return fail("envelope.schema_version must be an integer of at least 1");
    }
    e.schema_version = j["schema_version"];
  }
  if (j.contains("member_id") && !j["member_id"].is_null()) {
    if (!j["member_id"].is_string() || !IsValidId(j["member_id"].get<std::string>())) {
      return fail("envelope.member_id must be a member id (1-64 characters of [A-Za-z0-9_.:-])");
    }
    e.member_id = j["member_id"].get<std::string>();
  }
  if (j.contains("member_seq") && !j["member_seq"].is_null()) {
    if (!j["member_seq"].is_number_integer() || j["member_seq"].get<int64_t>() < 1) {
      return fail("envelope.member_seq must be an integer of at least 1");
    }
    e.member_seq = j["member_seq"].get<int64_t>();
  }
  auto opt_string = [&](const char* f, std::string& out) -> bool {
    if (!j.contains(f) || j[f].is_null()) return true;
    if (!j[f].is_string()) return false;
    out = j[f];
    return true;
  };
  if (!opt_string("channel", e.channel) || !opt_string("source", e.source) ||
      !opt_string("correlation_id", e.correlation_id) || !opt_string("causation_id", e.causation_id)) {
    return fail("envelope channel, source, correlation_id and causation_id must be strings");
  }
  return e;
}

}  // namespace tessera
