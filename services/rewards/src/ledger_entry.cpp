#include "ledger_entry.h"

#include <algorithm>
#include <array>
#include <span>

#include "account.h"
#include "tessera/crypto.h"
#include "tessera/json_text.h"

namespace tessera::rewards {

namespace {
const Uuid kLedgerEventNamespace = ParseUuid("fe5032b1-12d8-43c8-bcc6-1c39a45dece4");

// Stored codes: an entry's type or channel is written as its index here. Append-only — stored
// entries keep their meaning; a name not listed is written as the string itself.
constexpr std::array<std::string_view, 11> kTypes = {
    "member.enrolled", "points.earned",  "points.redeemed", "points.held",     "hold.captured", "hold.released",
    "points.expired",  "points.expiring", "points.adjusted", "points.reversed", "tier.changed"};
constexpr std::array<std::string_view, 5> kChannels = {"web", "app", "store", "system", "ops"};

void AppendCoded(std::string& out, std::span<const std::string_view> table, const std::string& name) {
  const auto it = std::find(table.begin(), table.end(), name);
  if (it != table.end()) {
    out += std::to_string(it - table.begin());
  } else {
    AppendJsonString(out, name);
  }
}

nlohmann::json Decoded(std::span<const std::string_view> table, const nlohmann::json& v) {
  if (!v.is_number_unsigned()) return v;  // a name, as written before codes or for a new name
  const size_t i = v.get<size_t>();
  if (i >= table.size()) throw nlohmann::json::out_of_range::create(401, "unknown code " + std::to_string(i), &v);
  return std::string(table[i]);
}
}  // namespace

std::string LedgerEntryId(const std::string& member_id, int64_t member_seq) {
  return member_id + ':' + std::to_string(member_seq);
}

std::string LedgerEventId(const std::string& member_id, int64_t member_seq, int64_t occurred_ms) {
  return NameUuid(kLedgerEventNamespace, LedgerEntryId(member_id, member_seq) + ':' + std::to_string(occurred_ms));
}

std::string EncodeLedgerEntry(const LedgerEntry& e) {
  std::string out;
  out.reserve(64 + e.reference.size());
  out += '[';
  AppendCoded(out, kTypes, e.type);
  for (const int64_t v : {e.points, e.balance_after, e.available_after}) {
    out += ',';
    AppendJsonInt(out, v);
  }
  out += ',';
  AppendCoded(out, kChannels, e.channel);
  out += ',';
  AppendJsonString(out, e.reference);
  out += ',';
  AppendJsonInt(out, e.occurred_ms);
  out += ']';
  return out;
}

nlohmann::json LedgerEntryView(const std::string& member_id, int64_t member_seq, const std::string& stored) {
  nlohmann::json j = nlohmann::json::parse(stored);
  if (j.is_object()) return j;  // written before the compact format
  const int64_t occurred_ms = j.at(6).get<int64_t>();
  return {{"entry_id", LedgerEntryId(member_id, member_seq)},
          {"member_seq", member_seq},
          {"type", Decoded(kTypes, j.at(0))},
          {"points", j.at(1)},
          {"balance_after", j.at(2)},
          {"available_after", j.at(3)},
          {"channel", Decoded(kChannels, j.at(4))},
          {"reference", j.at(5)},
          {"occurred_at", FormatMs(occurred_ms)},
          {"event_id", j.size() > 7 ? j.at(7).get<std::string>() : LedgerEventId(member_id, member_seq, occurred_ms)}};
}

int64_t LedgerEntryPoints(const std::string& stored) {
  nlohmann::json j = nlohmann::json::parse(stored);
  return j.is_object() ? j.at("points").get<int64_t>() : j.at(1).get<int64_t>();
}

}  // namespace tessera::rewards
