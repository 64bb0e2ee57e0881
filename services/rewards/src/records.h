// Order and redemption records: how the member's `orders` and `redemptions` hashes store them.
//
// A record is stored as a JSON array of its values in a fixed field order (null where a field
// is absent or has its default; trailing nulls left out), so the field names are not repeated
// in every record — the records of a member are, with its ledger, most of its Redis memory
// (bench/README.md, memory). The domain keeps seeing the object:
//   order:      [points, total_minor, refunded_minor, reversed_points, "lot_id", day,
//                occurred_ms, "currency", bonus]
//   redemption: [["lot_id", points, expires_ms, "lot_id", ...] (the allocations, flattened),
//                at, "status" (default "completed"), "hold_id"]
// A record with a field outside its list is stored as its object, and objects (the format
// before this one) are read as they are.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace tessera::rewards {

enum class RecordKind { kOrder, kRedemption };

std::string EncodeRecord(RecordKind kind, const nlohmann::json& record);
// The record object of a stored record. Throws nlohmann::json::exception on malformed text.
nlohmann::json DecodeRecord(RecordKind kind, const std::string& stored);

}  // namespace tessera::rewards
