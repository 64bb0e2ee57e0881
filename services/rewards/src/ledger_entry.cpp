#include "ledger_entry.h"

#include "account.h"
#include "tessera/json_text.h"

namespace tessera::rewards {

std::string EncodeLedgerEntry(const LedgerEntry& e) {
  std::string out = "[";
  AppendJsonString(out, e.type);
  out += ',' + std::to_string(e.points) + ',' + std::to_string(e.balance_after) + ',' +
         std::to_string(e.available_after) + ',';
  AppendJsonString(out, e.channel);
  out += ',';
  AppendJsonString(out, e.reference);
  out += ',' + std::to_string(e.occurred_ms) + ',';
  AppendJsonString(out, e.event_id);
  out += ']';
  return out;
}

nlohmann::json LedgerEntryView(const std::string& member_id, int64_t member_seq, const std::string& stored) {
  nlohmann::json j = nlohmann::json::parse(stored);
  if (j.is_object()) return j;  // written before the compact format
  return {{"entry_id", member_id + ":" + std::to_string(member_seq)},
          {"member_seq", member_seq},
          {"type", j.at(0)},
          {"points", j.at(1)},
          {"balance_after", j.at(2)},
          {"available_after", j.at(3)},
          {"channel", j.at(4)},
          {"reference", j.at(5)},
          {"occurred_at", FormatMs(j.at(6).get<int64_t>())},
          {"event_id", j.at(7)}};
}

int64_t LedgerEntryPoints(const std::string& stored) {
  nlohmann::json j = nlohmann::json::parse(stored);
  return j.is_object() ? j.at("points").get<int64_t>() : j.at(1).get<int64_t>();
}

}  // namespace tessera::rewards
