// A ledger entry: how the online ledger stores it, and how the API shows it.
//
// Stored (the member's `ledger` sorted set, score = member_seq) as a compact JSON array
//   ["<type>", points, balance_after, available_after, "<channel>", "<reference>",
//    occurred_ms, "<event_id>"]
// — member_seq is the score and entry_id is "<member_id>:<member_seq>", so neither is repeated
// in every entry (about half the bytes of the full object; see bench/README.md, memory). Shown
// as the object of schemas/openapi/rewards.openapi.json. Entries written before this format
// (full JSON objects) are still read.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace tessera::rewards {

struct LedgerEntry {
  std::string type;
  int64_t points = 0, balance_after = 0, available_after = 0;
  std::string channel, reference;
  int64_t occurred_ms = 0;
  std::string event_id;
};

std::string EncodeLedgerEntry(const LedgerEntry& e);
// The API object of a stored entry. Throws nlohmann::json::exception on a malformed one.
nlohmann::json LedgerEntryView(const std::string& member_id, int64_t member_seq, const std::string& stored);
// The points of a stored entry (for the audit).
int64_t LedgerEntryPoints(const std::string& stored);

}  // namespace tessera::rewards
