// The reward-account rules applied to one member's state at one instant (SPEC §4). No I/O:
// the caller loads the state, calls Settle() and one operation, and commits the state with
// the changes this object collected, atomically. Business refusals throw ProblemError
// (409 insufficient_points, 422 outside_reversal_window, ...) and change nothing.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "earn_rules.h"
#include "member_state.h"
#include "program.h"
#include "records.h"
#include "tessera/json_text.h"

namespace tessera::rewards {

// A member's balances at one instant, as answers and ledger events show them (SPEC §4).
struct BalanceFigures {
  int64_t available = 0, pending = 0, held = 0, lifetime = 0, qualifying = 0;
  std::string tier;

  nlohmann::json ToJson() const;
  // Appends ToJson().dump(), byte for byte, written as text.
  void AppendJson(std::string& out) const;
};

// One step of member_seq: becomes a ledger entry and an event on tessera.ledger.v1.
struct Change {
  int64_t seq = 0;
  std::string type;     // points.earned, ...
  int64_t points = 0;   // effect on available + pending + held
  std::string channel;
  std::string reference;
  // The type-specific payload's members, without the "balances" and "entry_id" every ledger
  // event's payload also carries (the commit adds them).
  JsonMembers payload;
  BalanceFigures balances;  // after this change
  int64_t total_after = 0;
  int64_t available_after = 0;
};

// Records that live beside the state (hash fields), written with the commit.
struct Records {
  std::map<std::string, nlohmann::json> orders;       // order_id -> order record
  std::map<std::string, nlohmann::json> redemptions;  // redemption_id -> redemption record
  std::map<std::string, nlohmann::json> holds;        // hold_id -> hold record
};

struct EnrollInput {
  std::string member_id, channel, locale, time_zone;
  nlohmann::json profile = nlohmann::json::object();
};

class Account {
 public:
  // `state` is modified in place. `now_ms` is the instant every rule is evaluated at.
  Account(MemberState& state, const ProgramRules& rules, int64_t now_ms);

  // Time-driven changes due at `now`: expired holds released, pending lots vested, expiry
  // warnings, expired lots, qualifying window moved (tier downgrade). Idempotent.
  void Settle();

  void Enroll(const EnrollInput& in);
  // Returns the response body. `occurred_ms` is the purchase time (qualifying day, refund window).
  nlohmann::json Earn(const Purchase& purchase, int64_t occurred_ms);
  // A fixed bonus (offer.redeemed with bonus_points): vested at once, counts as lifetime.
  // `occurred_ms` is when the offer was redeemed (the claim window).
  nlohmann::json Bonus(const std::string& order_key, int64_t points, const std::string& channel,
                       const nlohmann::json& details, int64_t occurred_ms);
  // Written as text, not as a tree: the redemption is the hot path (bench/README.md).
  RenderedJson Redeem(const std::string& redemption_id, int64_t points, const std::string& reward_id,
                      const std::string& order_id, const std::string& channel);
  nlohmann::json Hold(const std::string& hold_id, int64_t points, const std::string& channel,
                      const std::string& store_id, int ttl_seconds);
  // `record` is the stored hold record (nullopt: 404). Captured holds answer their first answer.
  nlohmann::json Capture(const std::string& hold_id, const std::string& redemption_id,
                         const std::optional<nlohmann::json>& record);
  nlohmann::json Release(const std::string& hold_id, const std::optional<nlohmann::json>& record);
  nlohmann::json ReverseRefund(const std::string& reversal_id, const std::string& order_id, int64_t refund_minor,
                               const std::string& reason, const std::optional<nlohmann::json>& order);
  nlohmann::json ReverseRedemption(const std::string& reversal_id, const std::string& redemption_id,
                                   const std::string& reason, const std::optional<nlohmann::json>& redemption);
  nlohmann::json Adjust(const std::string& adjustment_id, int64_t points, const std::string& reason_code,
                        const std::string& note, const std::string& agent_id);

  // The account as GET /v1/members/{id} shows it.
  nlohmann::json View() const;
  nlohmann::json Balances() const { return Figures().ToJson(); }
  BalanceFigures Figures() const;

  const std::vector<Change>& changes() const { return changes_; }
  // The changes, handed over (changes() is empty afterwards).
  std::vector<Change> TakeChanges() { return std::move(changes_); }
  const Records& records() const { return records_; }
  // Earliest instant at which Settle() or the records' pruning has something to do (nullopt:
  // nothing scheduled).
  std::optional<int64_t> NextDue() const;
  // When the oldest stored record may be past the program's record retention (nullopt: the
  // member has none).
  std::optional<int64_t> RecordsPruneDue() const;
  // Once RecordsPruneDue() has come: the instant before which records are past the retention
  // (nullopt: not yet). The caller removes those from the store and reports the oldest one kept
  // (nullopt: none) to RecordsPruned.
  std::optional<int64_t> RecordsExpiredBefore() const;
  void RecordsPruned(std::optional<int64_t> oldest_kept);

 private:
  // Writes a record with this change and keeps the state's records_since no later than it.
  void Keep(RecordKind kind, const std::string& id, nlohmann::json record);
  std::map<std::string, nlohmann::json>& RecordsOf(RecordKind kind);
  void NoteRecordInstant(std::optional<int64_t> at_ms);
  // 422 outside_claim_window for a purchase (or offer redemption) older than the claim window.
  void RequireClaimable(int64_t occurred_ms, const std::string& what) const;
  // Whether `at_ms` lies more than `days` before now (the claim and reversal windows).
  bool OlderThan(int64_t at_ms, int days) const { return now_ - at_ms > int64_t{days} * kDayMs; }
  void Emit(const std::string& type, int64_t points, const std::string& channel, const std::string& reference,
            const nlohmann::json& payload);
  // Emit with the payload's members already written.
  void EmitRendered(const std::string& type, int64_t points, const std::string& channel, const std::string& reference,
                    JsonMembers payload);
  void SortLots();
  void AddVestedPoints(Lot lot);  // pays debt first
  std::vector<Allocation> TakeVested(int64_t points);
  void Restore(const std::vector<Allocation>& allocations);
  void RequireAvailable(int64_t points) const;
  int64_t Claw(int64_t points, const std::string& preferred_lot);
  void MaybeUpgradeTier(const std::string& channel);
  std::string NewLotId();
  // A vested lot of `points` from `source` (order id, adjustment id, offer key), expiring after
  // the program's lot life.
  Lot NewLot(int64_t points, const std::string& source);
  // {allocations: [[lot_id, points, expires_ms]...], status: "completed", at (unix seconds),
  // hold_id?}: what a cancellation needs (the points are the allocations' sum; the channel and
  // the instant to the millisecond are on the ledger entry).
  nlohmann::json RedemptionRecord(nlohmann::json allocations, const std::string& hold_id) const;
  nlohmann::json HoldRecord(const ActiveHold& h, const std::string& status, const nlohmann::json& extra) const;

  MemberState& s_;
  const ProgramRules& rules_;
  int64_t now_;
  std::vector<Change> changes_;
  Records records_;
};

std::string FormatMs(int64_t ms);  // RFC 3339 UTC

}  // namespace tessera::rewards
