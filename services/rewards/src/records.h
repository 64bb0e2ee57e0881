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
// before this one) are read as they are. Hold records are always stored as their object.
//
// Records are not kept for ever: each is dated (RecordInstantMs), and the sweep removes those
// older than the program's record retention (PlanRecordPrune; docs/rewards.md, "Records").
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera::rewards {

enum class RecordKind { kOrder, kRedemption, kHold };

std::string EncodeRecord(RecordKind kind, const nlohmann::json& record);
// The record object of a stored record. Throws nlohmann::json::exception on malformed text.
nlohmann::json DecodeRecord(RecordKind kind, const std::string& stored);

// The instant (ms) a record is dated by: an order's purchase (`occurred_ms`; an offer bonus's
// credit), a redemption's `at` (unix seconds), a hold's `expires_at`. nullopt when the record
// carries none.
std::optional<int64_t> RecordInstantMs(RecordKind kind, const nlohmann::json& record);

// Which of a hash's stored records (field, stored text) are dated before `before_ms`, and the
// instant of the oldest one dated at or after it. A record that cannot be read or dated is
// kept and not counted: nothing is removed that cannot be shown to be old.
struct RecordPrune {
  std::vector<std::string> expired;  // fields to delete
  std::optional<int64_t> oldest_kept;
};
RecordPrune PlanRecordPrune(RecordKind kind, const std::vector<std::pair<std::string, std::string>>& stored,
                            int64_t before_ms);

}  // namespace tessera::rewards
