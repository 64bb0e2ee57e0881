// The event envelope of SPEC §7 and the topic names. Every Kafka message value is one envelope
// as JSON; the message key is the member id (or the campaign id for campaign events).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

namespace topics {
inline constexpr const char* kPurchases = "tessera.purchases.v1";
inline constexpr const char* kLedger = "tessera.ledger.v1";
inline constexpr const char* kOffers = "tessera.offers.v1";
inline constexpr const char* kNotifications = "tessera.notifications.v1";
}  // namespace topics

// "tessera.ledger.v1" -> "tessera.ledger.dlq.v1". Topics not of the form tessera.<name>.v<N>
// get ".dlq" appended.
std::string DlqTopicFor(const std::string& topic);
// The four event topics of SPEC §7.
std::vector<std::string> EventTopics();
// The four topics of SPEC §7 and their dead-letter topics.
std::vector<std::string> AllTopics();

struct EventEnvelope {
  std::string event_id;  // UUID v4
  std::string type;      // e.g. "points.earned"
  int schema_version = 1;
  std::string occurred_at;  // RFC 3339 UTC
  std::optional<std::string> member_id;
  std::optional<int64_t> member_seq;  // ledger events only
  std::string channel;
  std::string source;  // producing service, e.g. "tessera-rewards"
  std::string correlation_id;
  std::string causation_id;
  nlohmann::json payload = nlohmann::json::object();

  nlohmann::json ToJson() const;
  // The message value: ToJson().dump(), byte for byte, written as text (every change publishes
  // one, so no intermediate JSON tree).
  std::string Dump() const;
  // Dump() with `payload_json` written as the payload instead of `payload` (which is ignored):
  // for a producer that wrote the payload as text. `payload_json` must be one JSON object.
  std::string DumpWithPayload(std::string_view payload_json) const;
  // Validates the envelope against schemas/events/envelope.schema.json (event_id a UUID, type
  // "<noun>.<verb>", occurred_at RFC 3339, member_id an id, member_seq and schema_version >= 1);
  // on failure returns nullopt and sets `error`. Consumers dead-letter what fails.
  static std::optional<EventEnvelope> FromJson(const nlohmann::json& j, std::string* error);
};

}  // namespace tessera
