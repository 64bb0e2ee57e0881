// The reward-account use cases, framework-free: each takes a parsed request and a context and
// returns the HTTP status and body to send. A mutation is
//   load (and begin the idempotent request) -> Settle() -> the operation -> commit (CAS on
//   the state's write version, with ledger entries, events, records and the idempotency record)
// retried from the load when another change to the member won the race. So concurrent requests
// on one member serialise without locks, and every acknowledged change is in the ledger once.
// Operations that need no stored record (redeem, hold, adjust; capture and release of a hold
// still active in the state; earn and bonus, whose order must merely be new — the commit
// checks that) first try the member's state
// from the replica's MemberCache and go straight to the commit: one round trip when the cache
// is current; when it is not, the CAS refuses and the normal load path runs. A refusal decided
// on a cached state is never answered without the load path confirming it.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "account.h"
#include "account_store.h"
#include "member_cache.h"
#include "program.h"
#include "tessera/clock.h"
#include "tessera/logging.h"
#include "tessera/task_queue.h"

namespace tessera::rewards {

struct RequestContext {
  std::string member_id;
  std::string channel;          // for events when the operation has no channel of its own
  std::string correlation_id;   // X-Request-Id, or the correlation id of the causing event
  std::string causation_id;     // request id or causing event id
  std::string idempotency_key;  // empty: none (natural keys still apply)
  std::string request_hash;     // identifies "the same request" for the key
  std::optional<int64_t> if_match;
};

struct Reply {
  int status = 200;
  std::string body;  // JSON; a problem document when status >= 400
  bool replayed = false;
  bool IsProblem() const { return status >= 400; }
};

struct RedeemInput {
  int64_t points = 0;
  std::string reward_id, channel, order_id;
};
struct HoldInput {
  int64_t points = 0;
  std::string channel, store_id;
  int ttl_seconds = 0;
};
struct RefundInput {
  std::string order_id;
  int64_t refund_minor = 0;
  std::string reason;
};
struct CancelRedemptionInput {
  std::string redemption_id, reason;
};
struct AdjustInput {
  int64_t points = 0;
  std::string reason_code, note, agent_id;
};
struct EarnInput {
  Purchase purchase;
  int64_t occurred_ms = 0;
};
struct BonusInput {
  std::string order_key;  // natural key: "offer:<campaign_id>:<order_id>"
  int64_t points = 0;
  std::string channel;
  nlohmann::json details;
  int64_t occurred_ms = 0;  // when the offer was redeemed (the claim window)
};

class RewardsApp {
 public:
  // All references must outlive the app. Thread-safe. `cache_entries` bounds the member cache
  // (0: no cache, every change loads first).
  RewardsApp(AccountStore& store, const ProgramRules& rules, const Clock& clock, Logger& logger,
             size_t cache_entries = 0);
  // Waits for the asynchronous operations it started to answer.
  ~RewardsApp();

  Reply Enroll(const EnrollInput& in, const RequestContext& ctx);
  Reply Earn(const EarnInput& in, const RequestContext& ctx);
  Reply Bonus(const BonusInput& in, const RequestContext& ctx);
  Reply Redeem(const RedeemInput& in, const RequestContext& ctx);
  Reply Hold(const HoldInput& in, const RequestContext& ctx);
  Reply Capture(const std::string& hold_id, const RequestContext& ctx);
  Reply Release(const std::string& hold_id, const RequestContext& ctx);
  Reply ReverseRefund(const RefundInput& in, const RequestContext& ctx);
  Reply ReverseRedemption(const CancelRedemptionInput& in, const RequestContext& ctx);
  Reply Adjust(const AdjustInput& in, const RequestContext& ctx);

  // The same operations without keeping the caller's thread while the commit is in flight:
  // when the member's state is cached the commit goes out through AccountStore::CommitAsync and
  // `done` runs where it completes (RedisAccountStore: the Redis pipeline's thread). Anything
  // else (no cached state, a refusal or a conflict on it) takes the synchronous path above on
  // a worker thread of the app, so the caller's thread never waits on Redis; only when
  // kMaxWaitingLoads such requests already wait for a worker does it run on the caller's thread
  // (backpressure). `done` gets exactly one of a reply or the error the synchronous call would
  // have thrown, and must not block.
  using ReplyCallback = std::function<void(Reply reply, std::exception_ptr error)>;
  void EarnAsync(const EarnInput& in, RequestContext ctx, ReplyCallback done);
  void RedeemAsync(const RedeemInput& in, RequestContext ctx, ReplyCallback done);
  void HoldAsync(const HoldInput& in, RequestContext ctx, ReplyCallback done);
  void CaptureAsync(const std::string& hold_id, RequestContext ctx, ReplyCallback done);
  void ReleaseAsync(const std::string& hold_id, RequestContext ctx, ReplyCallback done);

  Reply GetAccount(const std::string& member_id);
  Reply Ledger(const std::string& member_id, std::optional<int64_t> before_seq, int limit);
  Reply Audit(const std::string& member_id);
  Reply AddNote(const std::string& member_id, const std::string& agent_id, const std::string& text,
                const std::string& author);
  Reply Notes(const std::string& member_id, int offset, int limit);

  // Applies what is due for the member (sweep), and removes its order, redemption and hold
  // records once they are past the program's record retention. Returns the number of changes
  // committed and records removed, or nullopt when the member is not enrolled (its state is gone).
  struct Settled {
    int changes = 0;
    int64_t records_removed = 0;
  };
  std::optional<Settled> SettleMember(const std::string& member_id);

  const ProgramRules& rules() const { return rules_; }
  // The idempotency record key for (member, key) — same hash tag as the member.
  static std::string IdempotencyKeyFor(const std::string& member_id, const std::string& key);

 private:
  struct Lookup {
    std::string order_id, redemption_id, hold_id;
    // true: the operation only needs to know that `order_id` is not recorded yet (earn, bonus),
    // so the cached path may skip the load and let the commit refuse if it is.
    bool order_must_be_new = false;
  };
  enum class MemberRequirement { kMustExist, kMustNotExist, kAny };
  // Returns the answer's body (a tree, or text an operation wrote itself).
  using Operation = std::function<RenderedJson(Account&, const LoadResult&, int& status)>;

  Reply Mutate(const RequestContext& ctx, const Lookup& lookup, MemberRequirement requirement, int success_status,
               const Operation& op);
  // A change of a member that must exist, with everything its synchronous and asynchronous
  // entry points share: what it looks up besides the state, its success status, and the
  // operation, which owns what it captures (an asynchronous one outlives its caller).
  struct Change {
    Lookup lookup;
    int success_status;
    Operation op;
  };
  static Change EarnChange(const EarnInput& in);
  static Change RedeemChange(const RedeemInput& in);
  static Change HoldChange(const HoldInput& in);
  static Change CaptureChange(const std::string& hold_id);
  static Change ReleaseChange(const std::string& hold_id);
  Reply Mutate(const RequestContext& ctx, const Change& change) {
    return Mutate(ctx, change.lookup, MemberRequirement::kMustExist, change.success_status, change.op);
  }
  // Mutate of a Change without waiting on the cached path's commit; see RedeemAsync.
  void MutateAsync(RequestContext ctx, Change change, ReplyCallback done);

  // Mutate after its cached attempt: load (beginning the idempotent request), apply, commit,
  // retried from the load on a conflict.
  Reply MutateFromLoad(const RequestContext& ctx, const Lookup& lookup, MemberRequirement requirement,
                       int success_status, const Operation& op);
  // The one-round-trip attempt on a cached state: PrepareCached computes the change on the
  // cached state (nullopt: not cached, or refused there, so the load path must decide), and
  // AfterCachedCommit answers from the commit's result (nullopt: a conflict, the load path
  // decides; the cached state is dropped).
  struct CachedAttempt {
    MemberState state;
    CommitRequest commit;
  };
  std::optional<CachedAttempt> PrepareCached(const RequestContext& ctx, const std::optional<IdempotencyRef>& idem,
                                             const Lookup& lookup, const Operation& op, int success_status);
  std::optional<Reply> AfterCachedCommit(const std::string& member_id, CachedAttempt& attempt,
                                         const CommitResult& result);
  std::optional<IdempotencyRef> IdempotencyRefFor(const RequestContext& ctx) const;
  static bool Cacheable(const Lookup& lookup, MemberRequirement requirement);
  // One attempt of a change on `state` (loaded or cached): Settle() when the member exists, the
  // operation, then the commit of everything it changed (state, entries, events, records, due
  // instant) with its answer, expecting `loaded.version`. A refusal propagates as the
  // operation's ProblemError.
  CommitRequest Apply(const RequestContext& ctx, const LoadResult& loaded, MemberState& state, const Operation& op,
                      int success_status);

  AccountStore& store_;
  const ProgramRules& rules_;
  const Clock& clock_;
  Logger& logger_;
  MemberCache cache_;
  // Asynchronous operations not answered yet; the destructor waits for 0.
  std::mutex pending_mu_;
  std::condition_variable pending_cv_;
  int pending_ = 0;
  // Runs the synchronous path of an asynchronous operation that the cache did not settle, or
  // whose cached commit conflicted. Last member: destroyed (drained) first, while everything
  // its tasks use still exists.
  static constexpr size_t kMaxWaitingLoads = 256;
  TaskQueue slow_paths_{4};
};

}  // namespace tessera::rewards
