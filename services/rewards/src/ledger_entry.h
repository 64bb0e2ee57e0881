// A ledger entry: how the online ledger stores it, and how the API shows it.
//
// Stored (the member's `ledger` sorted set, score = member_seq) as a compact JSON array
//   [type, points, balance_after, available_after, channel, "<reference>", occurred_ms]
// where type and channel are small integers for the known ones (the code tables in
// ledger_entry.cpp, append-only) and strings otherwise. member_seq is the score, entry_id is
// "<member_id>:<member_seq>" and event_id is LedgerEventId(member_id, member_seq, occurred_ms),
// so none of them is repeated in every entry (a third of the bytes of the full object; see
// bench/README.md, memory). Shown as the object of schemas/openapi/rewards.openapi.json. Entries
// written in the earlier formats are still read: full JSON objects, and arrays with type and
// channel as strings and the event id as an 8th element.
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
};

// "<member_id>:<member_seq>": the entry_id of the ledger API and of every ledger event's payload.
std::string LedgerEntryId(const std::string& member_id, int64_t member_seq);

// The event id of the ledger event (and entry) `member_seq` of `member_id`, committed at
// `occurred_ms`: an RFC 4122 version-5 UUID of "<member_id>:<member_seq>:<occurred_ms>". A
// member_seq is used once per member, and the instant keeps ids apart should a member id ever
// be enrolled again, so ids stay unique; the same entry always shows the same id.
std::string LedgerEventId(const std::string& member_id, int64_t member_seq, int64_t occurred_ms);

std::string EncodeLedgerEntry(const LedgerEntry& e);
// The API object of a stored entry. Throws nlohmann::json::exception on a malformed one.
nlohmann::json LedgerEntryView(const std::string& member_id, int64_t member_seq, const std::string& stored);
// The points of a stored entry (for the audit).
int64_t LedgerEntryPoints(const std::string& stored);

}  // namespace tessera::rewards
