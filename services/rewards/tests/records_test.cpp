// How ledger entries and order and redemption records are stored: positional arrays that read
// back as the same objects, objects kept for records the array cannot say, and the older formats
// read.
#include "records.h"

#include <gtest/gtest.h>

#include "ledger_entry.h"

namespace tessera::rewards {
namespace {

TEST(Records, OrdersAndRedemptionsRoundTripAsCompactArrays) {
  const nlohmann::json order = {{"points", 1000},   {"total_minor", 10000}, {"refunded_minor", 0},
                                {"reversed_points", 0}, {"lot_id", "lot-1"}, {"day", 20779},
                                {"occurred_ms", 1795348693000}, {"currency", "USD"}};
  const std::string stored = EncodeRecord(RecordKind::kOrder, order);
  EXPECT_EQ(stored, R"([1000,10000,0,0,"lot-1",20779,1795348693000,"USD"])");
  EXPECT_EQ(DecodeRecord(RecordKind::kOrder, stored), order);
  EXPECT_LT(stored.size() * 2, order.dump().size());

  const nlohmann::json bonus = {{"points", 50}, {"total_minor", 0},  {"refunded_minor", 0}, {"reversed_points", 0},
                                {"lot_id", "lot-2"}, {"day", 20779}, {"occurred_ms", 1}, {"bonus", true}};
  EXPECT_EQ(EncodeRecord(RecordKind::kOrder, bonus), R"([50,0,0,0,"lot-2",20779,1,null,true])");
  EXPECT_EQ(DecodeRecord(RecordKind::kOrder, EncodeRecord(RecordKind::kOrder, bonus)), bonus);

  const nlohmann::json redemption = {{"allocations", {{"lot-1", 2, 1826884693220}, {"lot-2", 1, 1826884693221}}},
                                     {"status", "completed"},
                                     {"at", 1795348695}};
  const std::string r = EncodeRecord(RecordKind::kRedemption, redemption);
  EXPECT_EQ(r, R"([["lot-1",2,1826884693220,"lot-2",1,1826884693221],1795348695])");  // status: its default
  EXPECT_EQ(DecodeRecord(RecordKind::kRedemption, r), redemption);
  nlohmann::json captured = redemption;
  captured["hold_id"] = "hld_1";
  captured["status"] = "reversed";
  EXPECT_EQ(EncodeRecord(RecordKind::kRedemption, captured),
            R"([["lot-1",2,1826884693220,"lot-2",1,1826884693221],1795348695,"reversed","hld_1"])");
  EXPECT_EQ(DecodeRecord(RecordKind::kRedemption, EncodeRecord(RecordKind::kRedemption, captured)), captured);
}

TEST(Records, ARecordTheArrayCannotSayStaysAnObjectAndObjectsAreRead) {
  nlohmann::json unusual = {{"at", 1}, {"note", "a field outside the list"}};
  EXPECT_EQ(EncodeRecord(RecordKind::kRedemption, unusual), unusual.dump());
  EXPECT_EQ(DecodeRecord(RecordKind::kRedemption, unusual.dump()), unusual);
  // Written before the compact format.
  const std::string old = R"({"allocations":[["lot-1",1,5]],"at_ms":7,"channel":"web","points":1,"status":"reversed"})";
  EXPECT_EQ(DecodeRecord(RecordKind::kRedemption, old), nlohmann::json::parse(old));
  EXPECT_THROW(DecodeRecord(RecordKind::kRedemption, "[1,2,3,4,5]"), nlohmann::json::exception);
  EXPECT_THROW(DecodeRecord(RecordKind::kRedemption, R"([["lot-1",2],1])"), nlohmann::json::exception);
  EXPECT_THROW(DecodeRecord(RecordKind::kOrder, "not json"), nlohmann::json::exception);
}

TEST(Records, ThePruneRemovesWhatIsDatedBeforeTheCutOffAndKeepsWhatItCannotDate) {
  const int64_t cut = 1'795'000'000'000;
  const std::vector<std::pair<std::string, std::string>> orders = {
      {"old", EncodeRecord(RecordKind::kOrder, {{"points", 1}, {"occurred_ms", cut - 1}})},
      {"at-the-cut", EncodeRecord(RecordKind::kOrder, {{"points", 1}, {"occurred_ms", cut}})},
      {"newer", EncodeRecord(RecordKind::kOrder, {{"points", 1}, {"occurred_ms", cut + 5}})},
      {"old-object", R"({"points":1,"occurred_ms":1,"extra":true})"},
      {"undated", R"({"points":1})"},
      {"unreadable", "{not json"}};
  RecordPrune plan = PlanRecordPrune(RecordKind::kOrder, orders, cut);
  EXPECT_EQ(plan.expired, (std::vector<std::string>{"old", "old-object"}));
  EXPECT_EQ(plan.oldest_kept, cut);

  // A redemption is dated in seconds; a hold by its expiry.
  plan = PlanRecordPrune(RecordKind::kRedemption,
                         {{"r-old", EncodeRecord(RecordKind::kRedemption, {{"allocations", nlohmann::json::array()},
                                                                           {"at", cut / 1000 - 1}})},
                          {"r-new", EncodeRecord(RecordKind::kRedemption, {{"allocations", nlohmann::json::array()},
                                                                           {"at", cut / 1000 + 1}})}},
                         cut);
  EXPECT_EQ(plan.expired, (std::vector<std::string>{"r-old"}));
  EXPECT_EQ(plan.oldest_kept, cut + 1000);
  plan = PlanRecordPrune(RecordKind::kHold,
                         {{"h-old", R"({"status":"captured","expires_at":"2026-11-18T11:06:39Z"})"},
                          {"h-new", R"({"status":"active","expires_at":"2026-11-18T11:06:41.500Z"})"}},
                         cut);  // cut = 2026-11-18T11:06:40Z
  EXPECT_EQ(plan.expired, (std::vector<std::string>{"h-old"}));
  EXPECT_EQ(plan.oldest_kept, cut + 1500);
  EXPECT_FALSE(PlanRecordPrune(RecordKind::kHold, {}, cut).oldest_kept.has_value());
}

TEST(LedgerEntries, KnownNamesAreCodedAndOthersWrittenOut) {
  const std::string stored = EncodeLedgerEntry({"points.redeemed", -5, 95, 90, "app", "rdm_1", 1795348695395});
  EXPECT_EQ(stored, R"([2,-5,95,90,1,"rdm_1",1795348695395])");
  const nlohmann::json shown = LedgerEntryView("m-1", 7, stored);
  EXPECT_EQ(shown, nlohmann::json({{"entry_id", "m-1:7"},
                                   {"member_seq", 7},
                                   {"type", "points.redeemed"},
                                   {"points", -5},
                                   {"balance_after", 95},
                                   {"available_after", 90},
                                   {"channel", "app"},
                                   {"reference", "rdm_1"},
                                   {"occurred_at", "2026-11-22T11:58:15.395Z"},
                                   {"event_id", LedgerEventId("m-1", 7, 1795348695395)}}));
  // Python: uuid.uuid5(uuid.UUID("fe5032b1-12d8-43c8-bcc6-1c39a45dece4"), "m-1:7:1795348695395")
  EXPECT_EQ(LedgerEventId("m-1", 7, 1795348695395), "07bc7ccb-dbc6-54c4-bbbb-cbb2c4c20e66");
  EXPECT_NE(LedgerEventId("m-1", 7, 1795348695395), LedgerEventId("m-1", 8, 1795348695395));
  EXPECT_NE(LedgerEventId("m-1", 7, 1795348695395), LedgerEventId("m-2", 7, 1795348695395));
  EXPECT_EQ(LedgerEntryPoints(stored), -5);
  // A type and a channel without a code are written as names.
  const std::string other = EncodeLedgerEntry({"points.gifted", 3, 98, 93, "kiosk", "g-1", 1795348695395});
  EXPECT_EQ(other, R"(["points.gifted",3,98,93,"kiosk","g-1",1795348695395])");
  EXPECT_EQ(LedgerEntryView("m-1", 8, other)["type"], "points.gifted");
  EXPECT_EQ(LedgerEntryView("m-1", 8, other)["channel"], "kiosk");
  EXPECT_THROW(LedgerEntryView("m-1", 9, R"([99,1,1,1,0,"x",1])"), nlohmann::json::exception);
}

}  // namespace
}  // namespace tessera::rewards
