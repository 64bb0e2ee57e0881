// Where reward accounts live. The interface is as narrow as the service's use of it:
// load a member (optionally starting an idempotent request), commit a new state with its
// ledger entries, events and records in one atomic compare-and-set on the state's write
// version (bumped by every write of the state, including those that add no ledger entry,
// such as vesting), and the
// read-only and housekeeping queries. RedisAccountStore is the real one; InMemoryAccountStore
// (tests) keeps the same semantics in a map.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "records.h"
#include "tessera/idempotency.h"

namespace tessera::rewards {

struct IdempotencyRef {
  std::string key;           // full record key (member's hash tag)
  std::string request_hash;  // IdempotencyStore::RequestHash
};

struct LoadRequest {
  std::string member_id;
  const IdempotencyRef* begin = nullptr;  // start the idempotency protocol on this load
  std::string order_id, redemption_id, hold_id;  // records to fetch with the state
};

struct LoadResult {
  IdempotencyOutcome idempotency = IdempotencyOutcome::kProceed;
  StoredResponse replay;                   // kReplay
  std::optional<std::string> state;        // MemberState JSON; nullopt: not enrolled
  int64_t seq = 0;      // member_seq (the account version clients see, If-Match)
  int64_t version = 0;  // write version of the state document (compare-and-set)
  std::optional<std::string> order, redemption, hold;
};

struct CommitRequest {
  std::string member_id;
  int64_t expected_version = 0;  // compare-and-set on LoadResult::version
  std::optional<std::string> state;  // new state (nullopt: unchanged, only records/idempotency)
  int64_t new_seq = 0;
  std::vector<std::pair<int64_t, std::string>> ledger_entries;  // (member_seq, EncodeLedgerEntry)
  std::vector<std::string> events;                              // envelopes for tessera.ledger.v1
  std::vector<std::pair<std::string, std::string>> orders, redemptions, holds;  // field -> JSON
  std::optional<int64_t> due_ms;  // next Settle() instant for the sweep; nullopt: none
  bool due_changed = true;        // false: leave the due index as it is
  std::optional<IdempotencyRef> idempotency;
  // false: this request did not mark its key in flight (it skipped the load), so an existing
  // in-flight marker belongs to another request with the same key -> kInProgress.
  bool marked_in_flight = true;
  // Non-empty: refuse with kConflict if this order is already recorded (the change was
  // computed without reading the order records).
  std::string require_new_order;
  int response_status = 0;
  std::string response_body;
  int ledger_online_entries = 1000;
};

enum class CommitStatus { kCommitted, kConflict, kReplay, kInProgress };
struct CommitResult {
  CommitStatus status = CommitStatus::kCommitted;
  StoredResponse replay;
  int64_t version = 0;  // kCommitted: the state's write version now
};

struct PrunedRecords {
  int64_t removed = 0;                // records deleted
  std::optional<int64_t> oldest_kept;  // the oldest record kept's instant (nullopt: none kept)

  // Counts one hash's plan: its expired records as removed, its oldest kept record.
  void Add(const RecordPrune& plan) {
    removed += static_cast<int64_t>(plan.expired.size());
    if (plan.oldest_kept && (!oldest_kept || *plan.oldest_kept < *oldest_kept)) oldest_kept = plan.oldest_kept;
  }
};

struct LedgerPage {
  std::vector<std::pair<int64_t, std::string>> entries;  // (member_seq, stored entry), newest first
  std::optional<int64_t> next_before_seq;
};

struct LedgerTotals {
  int64_t trimmed_points = 0;   // sum of entries moved off the online ledger
  int64_t trimmed_entries = 0;
  std::vector<std::pair<int64_t, std::string>> entries;  // (member_seq, stored entry), oldest first
};

// Calls `done(compute(), nullptr)`, or `done({}, error)` with what `compute` threw: the shape
// of every completion callback here (a result or an error, never both).
template <typename Done, typename Compute>
void ReportTo(const Done& done, Compute&& compute) {
  decltype(compute()) result;
  try {
    result = compute();
  } catch (...) {
    return done({}, std::current_exception());
  }
  done(std::move(result), nullptr);
}

class AccountStore {
 public:
  virtual ~AccountStore() = default;
  // All methods throw UnavailableError when the store cannot be reached.
  virtual LoadResult Load(const LoadRequest& request) = 0;
  virtual CommitResult Commit(const CommitRequest& request) = 0;
  // Commit without keeping the caller waiting: `done` runs once, perhaps on another thread and
  // after this returns, with the result or with what Commit would have thrown. `request` need
  // not outlive the call. This default commits here and then calls `done`.
  using CommitCallback = std::function<void(CommitResult result, std::exception_ptr error)>;
  virtual void CommitAsync(const CommitRequest& request, CommitCallback done) {
    ReportTo(done, [&] { return Commit(request); });
  }
  virtual void AbandonIdempotency(const IdempotencyRef& ref) = 0;
  virtual LedgerPage Ledger(const std::string& member_id, std::optional<int64_t> before_seq, int limit) = 0;
  virtual LedgerTotals LedgerForAudit(const std::string& member_id) = 0;
  // Notes: (note JSON) appended; returns false when the member does not exist.
  virtual bool AddNote(const std::string& member_id, const std::string& note_json) = 0;
  virtual std::vector<std::string> Notes(const std::string& member_id, int offset, int limit) = 0;
  // Members of `bucket` whose next Settle() is due at or before `now_ms`.
  virtual std::vector<std::string> DueMembers(int bucket, int64_t now_ms, int limit) = 0;
  // The buckets with a member due at or before `now_ms`, ascending: what a sweep pass must visit.
  virtual std::vector<int> DueBuckets(int64_t now_ms) = 0;
  // Moves a member that is indexed as due to `until_ms`, never earlier than it already is; a
  // member not in the index stays out. For a member the sweep could not settle: it is tried
  // again then instead of at every pass.
  virtual void PostponeDue(const std::string& member_id, int64_t until_ms) = 0;
  // Takes a member out of the due index if it has no state, in one atomic step (a member
  // enrolled meanwhile keeps its entry). Returns whether it was taken out. For a member whose
  // state was deleted: else the sweep would load it again at every pass.
  virtual bool ForgetDueIfGone(const std::string& member_id) = 0;
  // Removes the member's order, redemption and hold records dated before `before_ms`
  // (PlanRecordPrune). Not atomic with commits: for records past the retention, which no
  // operation changes.
  virtual PrunedRecords PruneRecords(const std::string& member_id, int64_t before_ms) = 0;
  // A lease on a bucket's sweep so replicas do not sweep the same bucket at once.
  virtual bool TryLockBucket(int bucket, const std::string& owner, int64_t ttl_ms) = 0;
  virtual void UnlockBucket(int bucket, const std::string& owner) = 0;
  // Goodwill caps: adds |points| to the agent's total for `day` if it stays within `cap`.
  virtual bool ReserveAgentPoints(const std::string& agent_id, int64_t day, int64_t points, int64_t cap) = 0;
  virtual void ReleaseAgentPoints(const std::string& agent_id, int64_t day, int64_t points) = 0;
};

}  // namespace tessera::rewards
