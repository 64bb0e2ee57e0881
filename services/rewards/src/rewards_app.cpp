#include "rewards_app.h"

#include <atomic>
#include <random>
#include <thread>

#include "ledger_entry.h"
#include "records.h"
#include "tessera/crypto.h"
#include "tessera/errors.h"
#include "tessera/events.h"
#include "tessera/http_types.h"
#include "tessera/json_text.h"
#include "tessera/keys.h"

namespace tessera::rewards {

namespace {
constexpr int kMaxAttempts = 500;

Reply ProblemReply(const Problem& p) { return {p.status, p.Body(), false}; }

Reply FromStored(const StoredResponse& r) {
  if (r.status == 422 && r.body.empty()) {
    return ProblemReply(Problem::Make(422, codes::kIdempotencyKeyReused,
                                      "this Idempotency-Key was used with a different request"));
  }
  return {r.status, r.body, true};
}

Problem InProgress() {
  return Problem::Make(409, codes::kRequestInProgress, "a request with this Idempotency-Key is still in progress");
}

// Business refusals worth answering again on a retry with the same key.
bool Storable(int status) { return status < 400 || status == 409 || status == 412 || status == 422; }

void Backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int cap_us = std::min(2000, 50 * (1 << std::min(attempt, 5)));
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % cap_us));
}

// "<prefix><16 characters>": 80 random bits in Crockford base32.
std::string ShortId(const char* prefix) { return std::string(prefix) + Base32Encode(RandomBytes(10)); }

// The hold record the load found (absent when the hold does not exist).
std::optional<nlohmann::json> HoldRecord(const LoadResult& loaded) {
  if (!loaded.hold) return std::nullopt;
  return nlohmann::json::parse(*loaded.hold);
}
}  // namespace

RewardsApp::RewardsApp(AccountStore& store, const ProgramRules& rules, const Clock& clock, Logger& logger,
                       size_t cache_entries)
    : store_(store), rules_(rules), clock_(clock), logger_(logger), cache_(cache_entries) {}

RewardsApp::~RewardsApp() {
  std::unique_lock<std::mutex> lock(pending_mu_);
  pending_cv_.wait(lock, [&] { return pending_ == 0; });
}

std::string RewardsApp::IdempotencyKeyFor(const std::string& member_id, const std::string& key) {
  return IdempotencyKey(BucketTag(MemberBucket(member_id)), "rewards:" + member_id, key);
}

CommitRequest RewardsApp::Apply(const RequestContext& ctx, const LoadResult& loaded, MemberState& state,
                                const Operation& op, int success_status) {
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  Account account(state, rules_, now_ms);
  const std::optional<int64_t> due_before = account.NextDue();
  if (loaded.state) account.Settle();
  int status = success_status;
  RenderedJson body = op(account, loaded, status);  // a refusal leaves here

  CommitRequest c;
  c.member_id = ctx.member_id;
  c.expected_version = loaded.version;
  c.state = state.ToJson();
  c.new_seq = state.seq;
  c.due_ms = account.NextDue();
  c.ledger_online_entries = rules_.ledger_online_entries;
  const std::string occurred = FormatMs(now_ms);
  // Entries (compact, ledger_entry.h), envelopes and their payloads are written as text:
  // building and dumping JSON trees per change was a tenth of a redemption's CPU, and the
  // payload's balances alone, as a tree, 2 % (session 30).
  for (auto& ch : account.TakeChanges()) {
    const std::string& channel = ch.channel.empty() ? ctx.channel : ch.channel;
    c.ledger_entries.emplace_back(ch.seq, EncodeLedgerEntry({ch.type, ch.points, ch.total_after, ch.available_after,
                                                             channel, ch.reference, now_ms}));

    EventEnvelope e;
    e.event_id = LedgerEventId(ctx.member_id, ch.seq, now_ms);
    e.type = ch.type;
    e.occurred_at = occurred;
    e.member_id = ctx.member_id;
    e.member_seq = ch.seq;
    e.channel = channel;
    e.source = "tessera-rewards";
    e.correlation_id = ctx.correlation_id;
    e.causation_id = ctx.causation_id;
    std::string balances, entry_id, payload;
    balances.reserve(128);
    ch.balances.AppendJson(balances);
    AppendJsonString(entry_id, LedgerEntryId(ctx.member_id, ch.seq));
    payload.reserve(256);
    AppendJsonObject(payload, ch.payload, {{"balances", std::move(balances)}, {"entry_id", std::move(entry_id)}});
    c.events.push_back(e.DumpWithPayload(payload));
  }
  for (const auto& [k, v] : account.records().orders) c.orders.emplace_back(k, EncodeRecord(RecordKind::kOrder, v));
  for (const auto& [k, v] : account.records().redemptions) {
    c.redemptions.emplace_back(k, EncodeRecord(RecordKind::kRedemption, v));
  }
  for (const auto& [k, v] : account.records().holds) c.holds.emplace_back(k, JsonText(v));
  c.due_changed = !loaded.state || due_before != c.due_ms;  // the index moves only when due does
  c.response_status = status;
  c.response_body = std::move(body).text();
  return c;
}

std::optional<IdempotencyRef> RewardsApp::IdempotencyRefFor(const RequestContext& ctx) const {
  if (ctx.idempotency_key.empty()) return std::nullopt;
  return IdempotencyRef{IdempotencyKeyFor(ctx.member_id, ctx.idempotency_key), ctx.request_hash};
}

bool RewardsApp::Cacheable(const Lookup& lookup, MemberRequirement requirement) {
  // A missing record makes every operation that reads one refuse (and a refusal on the cached
  // path falls back to the load), except earn/bonus, whose order the commit checks instead.
  // Reversals always need their record: no point trying them from the cache.
  return requirement == MemberRequirement::kMustExist && lookup.redemption_id.empty() &&
         (lookup.order_id.empty() || lookup.order_must_be_new);
}

std::optional<RewardsApp::CachedAttempt> RewardsApp::PrepareCached(const RequestContext& ctx,
                                                                   const std::optional<IdempotencyRef>& idem,
                                                                   const Lookup& lookup, const Operation& op,
                                                                   int success_status) {
  std::optional<CachedMember> cached = cache_.Get(ctx.member_id);
  if (!cached) return std::nullopt;
  if (ctx.if_match && *ctx.if_match != cached->state.seq) return std::nullopt;  // let the load decide
  LoadResult loaded;
  loaded.state.emplace();  // present; the parsed state is `cached->state`
  loaded.seq = cached->state.seq;
  loaded.version = cached->version;
  CachedAttempt attempt{std::move(cached->state), {}};
  try {
    attempt.commit = Apply(ctx, loaded, attempt.state, op, success_status);
  } catch (const ProblemError&) {
    return std::nullopt;  // possibly decided on stale state: the load path decides again
  }
  attempt.commit.idempotency = idem;
  attempt.commit.marked_in_flight = false;
  // An order recorded meanwhile: conflict, and the load path refuses it.
  if (lookup.order_must_be_new) attempt.commit.require_new_order = lookup.order_id;
  return attempt;
}

std::optional<Reply> RewardsApp::AfterCachedCommit(const std::string& member_id, CachedAttempt& attempt,
                                                   const CommitResult& result) {
  switch (result.status) {
    case CommitStatus::kCommitted:
      // What the cache gives back is freed with `attempt`, by the thread that made the request
      // (RedisPipeline returns answered commands to their thread), not here on the pipeline's.
      attempt.state = cache_.Put(member_id, std::move(attempt.state), result.version);
      return Reply{attempt.commit.response_status, attempt.commit.response_body, false};
    case CommitStatus::kReplay:
      return FromStored(result.replay);
    case CommitStatus::kInProgress:
      return ProblemReply(InProgress());
    case CommitStatus::kConflict:
      cache_.Erase(member_id);
      return std::nullopt;
  }
  return std::nullopt;
}

void RewardsApp::MutateAsync(RequestContext ctx, Change change, ReplyCallback done) {
  {
    std::lock_guard<std::mutex> lock(pending_mu_);
    ++pending_;
  }
  // `done` once (whatever path gets there first, even if `done` itself throws), then one
  // pending operation fewer.
  auto finish = [this, done = std::move(done), once = std::make_shared<std::atomic<bool>>(false)](
                    Reply reply, std::exception_ptr error) {
    if (once->exchange(true)) return;
    try {
      done(std::move(reply), error);
    } catch (...) {  // the caller's callback failed; the count must still go down
    }
    std::lock_guard<std::mutex> lock(pending_mu_);
    if (--pending_ == 0) pending_cv_.notify_all();
  };
  // The load path (what Mutate does when the cached attempt does not settle the request): it
  // waits on Redis, so never on the pipeline's thread.
  auto from_load = [this, finish](const RequestContext& c, const Change& ch) {
    ReportTo(finish, [&] { return MutateFromLoad(c, ch.lookup, MemberRequirement::kMustExist, ch.success_status, ch.op); });
  };
  std::optional<CachedAttempt> attempt;
  try {
    if (Cacheable(change.lookup, MemberRequirement::kMustExist)) {
      attempt = PrepareCached(ctx, IdempotencyRefFor(ctx), change.lookup, change.op, change.success_status);
    }
  } catch (...) {
    return finish({}, std::current_exception());
  }
  if (!attempt) {
    // Not settled from the cache (a member not seen yet, a refusal): the load path goes to the
    // app's workers, so that the calling HTTP thread keeps reading its other connections instead
    // of waiting out two Redis round trips. With kMaxWaitingLoads already waiting it runs here:
    // the calling thread then reads nothing more until it is done, which bounds the queue.
    std::function<void()> load = [ctx = std::move(ctx), change = std::move(change), from_load] {
      from_load(ctx, change);
    };
    if (!slow_paths_.TryPost(std::move(load), kMaxWaitingLoads)) load();
    return;
  }
  auto state = std::make_shared<CachedAttempt>(std::move(*attempt));
  const CommitRequest& commit = state->commit;
  try {
    store_.CommitAsync(commit, [this, state, ctx = std::move(ctx), change = std::move(change), from_load, finish](
                                   CommitResult result, std::exception_ptr error) mutable {
      if (error) return finish({}, error);
      if (std::optional<Reply> reply = AfterCachedCommit(ctx.member_id, *state, result)) return finish(*reply, nullptr);
      // A conflict: the load path decides, on the app's worker threads.
      slow_paths_.Post([ctx = std::move(ctx), change = std::move(change), from_load] { from_load(ctx, change); });
    });
  } catch (...) {  // the commit could not be handed over, or its completion failed
    finish({}, std::current_exception());
  }
}

Reply RewardsApp::Mutate(const RequestContext& ctx, const Lookup& lookup, MemberRequirement requirement,
                         int success_status, const Operation& op) {
  if (Cacheable(lookup, requirement)) {
    if (std::optional<CachedAttempt> attempt = PrepareCached(ctx, IdempotencyRefFor(ctx), lookup, op, success_status)) {
      if (std::optional<Reply> r = AfterCachedCommit(ctx.member_id, *attempt, store_.Commit(attempt->commit))) return *r;
    }
  }
  return MutateFromLoad(ctx, lookup, requirement, success_status, op);
}

Reply RewardsApp::MutateFromLoad(const RequestContext& ctx, const Lookup& lookup, MemberRequirement requirement,
                                 int success_status, const Operation& op) {
  const std::optional<IdempotencyRef> idem = IdempotencyRefFor(ctx);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    LoadRequest lr{ctx.member_id, attempt == 0 && idem ? &*idem : nullptr, lookup.order_id, lookup.redemption_id,
                   lookup.hold_id};
    LoadResult loaded = store_.Load(lr);
    switch (loaded.idempotency) {
      case IdempotencyOutcome::kReplay:
        return FromStored(loaded.replay);
      case IdempotencyOutcome::kMismatch:
        return ProblemReply(Problem::Make(422, codes::kIdempotencyKeyReused,
                                          "this Idempotency-Key was used with a different request"));
      case IdempotencyOutcome::kInProgress:
        return ProblemReply(InProgress());
      case IdempotencyOutcome::kProceed:
        break;
    }
    auto abandon = [&](Reply r) {
      if (idem) store_.AbandonIdempotency(*idem);
      return r;
    };
    if (requirement == MemberRequirement::kMustExist && !loaded.state) {
      return abandon(ProblemReply(Problem::Make(404, "member_not_found", "member " + ctx.member_id + " is not enrolled")));
    }
    if (ctx.if_match && *ctx.if_match != loaded.seq) {
      return abandon(ProblemReply(Problem::Make(412, codes::kPreconditionFailed,
                                                "the account is at version " + std::to_string(loaded.seq) +
                                                    ", not " + std::to_string(*ctx.if_match))));
    }
    MemberState state = loaded.state ? MemberState::FromJson(*loaded.state) : MemberState{};
    if (loaded.state) cache_.Put(ctx.member_id, state, loaded.version);
    CommitRequest commit;
    std::optional<Problem> refusal;
    try {
      commit = Apply(ctx, loaded, state, op, success_status);
    } catch (const ProblemError& e) {
      refusal = e.problem();
      if (!Storable(refusal->status)) return abandon(ProblemReply(*refusal));
    }
    if (refusal) {
      // Nothing changes but the answer is recorded, under the same compare-and-set, so that a
      // retry with the key gets the same refusal and the refusal was decided on current state.
      commit.member_id = ctx.member_id;
      commit.expected_version = loaded.version;
      commit.new_seq = loaded.seq;
      commit.due_changed = false;
      commit.ledger_online_entries = rules_.ledger_online_entries;
      commit.response_status = refusal->status;
      commit.response_body = refusal->Body();
      if (!idem) return ProblemReply(*refusal);
    }
    commit.idempotency = idem;
    CommitResult result = store_.Commit(commit);
    if (result.status == CommitStatus::kCommitted) {
      if (!refusal) cache_.Put(ctx.member_id, std::move(state), result.version);
      return {commit.response_status, commit.response_body, false};
    }
    if (result.status == CommitStatus::kReplay) return FromStored(result.replay);
    Backoff(attempt);
  }
  logger_.Warn("gave up after repeated write conflicts", {{"member_id", ctx.member_id}});
  throw UnavailableError("too many concurrent changes to member " + ctx.member_id);
}

Reply RewardsApp::Enroll(const EnrollInput& in, const RequestContext& ctx) {
  return Mutate(ctx, {}, MemberRequirement::kAny, 201, [&](Account& a, const LoadResult& loaded, int& status) {
    if (loaded.state) {
      status = 200;  // already a member: the account as it is
      return a.View();
    }
    a.Enroll(in);
    return a.View();
  });
}

RewardsApp::Change RewardsApp::EarnChange(const EarnInput& in) {
  return {{in.purchase.order_id, "", "", true}, 201, [in](Account& a, const LoadResult& loaded, int&) -> nlohmann::json {
            if (loaded.order) {
              throw ProblemError(Problem::Make(409, "order_already_earned",
                                               "order " + in.purchase.order_id + " has already earned points"));
            }
            return a.Earn(in.purchase, in.occurred_ms);
          }};
}

Reply RewardsApp::Earn(const EarnInput& in, const RequestContext& ctx) { return Mutate(ctx, EarnChange(in)); }

void RewardsApp::EarnAsync(const EarnInput& in, RequestContext ctx, ReplyCallback done) {
  MutateAsync(std::move(ctx), EarnChange(in), std::move(done));
}

Reply RewardsApp::Bonus(const BonusInput& in, const RequestContext& ctx) {
  return Mutate(ctx, {in.order_key, "", "", true}, MemberRequirement::kMustExist, 201,
                [&](Account& a, const LoadResult& loaded, int&) -> nlohmann::json {
                  if (loaded.order) {
                    throw ProblemError(Problem::Make(409, "order_already_earned", in.order_key + " already credited"));
                  }
                  return a.Bonus(in.order_key, in.points, in.channel, in.details, in.occurred_ms);
                });
}

// A redemption's or hold's id is drawn per attempt of the operation: only the committed one is
// ever seen.
RewardsApp::Change RewardsApp::RedeemChange(const RedeemInput& in) {
  return {{}, 201, [in](Account& a, const LoadResult&, int&) {
            return a.Redeem(ShortId("rdm_"), in.points, in.reward_id, in.order_id, in.channel);
          }};
}

Reply RewardsApp::Redeem(const RedeemInput& in, const RequestContext& ctx) { return Mutate(ctx, RedeemChange(in)); }

void RewardsApp::RedeemAsync(const RedeemInput& in, RequestContext ctx, ReplyCallback done) {
  MutateAsync(std::move(ctx), RedeemChange(in), std::move(done));
}

RewardsApp::Change RewardsApp::HoldChange(const HoldInput& in) {
  return {{}, 201, [in](Account& a, const LoadResult&, int&) {
            return a.Hold(ShortId("hld_"), in.points, in.channel, in.store_id, in.ttl_seconds);
          }};
}

Reply RewardsApp::Hold(const HoldInput& in, const RequestContext& ctx) { return Mutate(ctx, HoldChange(in)); }

void RewardsApp::HoldAsync(const HoldInput& in, RequestContext ctx, ReplyCallback done) {
  MutateAsync(std::move(ctx), HoldChange(in), std::move(done));
}

RewardsApp::Change RewardsApp::CaptureChange(const std::string& hold_id) {
  return {{"", "", hold_id}, 200, [hold_id](Account& a, const LoadResult& loaded, int&) {
            return a.Capture(hold_id, ShortId("rdm_"), HoldRecord(loaded));
          }};
}

Reply RewardsApp::Capture(const std::string& hold_id, const RequestContext& ctx) {
  return Mutate(ctx, CaptureChange(hold_id));
}

void RewardsApp::CaptureAsync(const std::string& hold_id, RequestContext ctx, ReplyCallback done) {
  MutateAsync(std::move(ctx), CaptureChange(hold_id), std::move(done));
}

RewardsApp::Change RewardsApp::ReleaseChange(const std::string& hold_id) {
  return {{"", "", hold_id}, 200, [hold_id](Account& a, const LoadResult& loaded, int&) {
            return a.Release(hold_id, HoldRecord(loaded));
          }};
}

Reply RewardsApp::Release(const std::string& hold_id, const RequestContext& ctx) {
  return Mutate(ctx, ReleaseChange(hold_id));
}

void RewardsApp::ReleaseAsync(const std::string& hold_id, RequestContext ctx, ReplyCallback done) {
  MutateAsync(std::move(ctx), ReleaseChange(hold_id), std::move(done));
}

Reply RewardsApp::ReverseRefund(const RefundInput& in, const RequestContext& ctx) {
  const std::string id = ShortId("rev_");
  return Mutate(ctx, {in.order_id, "", ""}, MemberRequirement::kMustExist, 201,
                [&](Account& a, const LoadResult& loaded, int&) {
                  std::optional<nlohmann::json> rec;
                  if (loaded.order) rec = DecodeRecord(RecordKind::kOrder, *loaded.order);
                  return a.ReverseRefund(id, in.order_id, in.refund_minor, in.reason, rec);
                });
}

Reply RewardsApp::ReverseRedemption(const CancelRedemptionInput& in, const RequestContext& ctx) {
  const std::string id = ShortId("rev_");
  return Mutate(ctx, {"", in.redemption_id, ""}, MemberRequirement::kMustExist, 201,
                [&](Account& a, const LoadResult& loaded, int&) {
                  std::optional<nlohmann::json> rec;
                  if (loaded.redemption) rec = DecodeRecord(RecordKind::kRedemption, *loaded.redemption);
                  return a.ReverseRedemption(id, in.redemption_id, in.reason, rec);
                });
}

Reply RewardsApp::Adjust(const AdjustInput& in, const RequestContext& ctx) {
  const int64_t magnitude = in.points < 0 ? -in.points : in.points;
  if (magnitude > rules_.max_adjustment_points) {
    return ProblemReply(Problem::Make(422, "adjustment_cap_exceeded",
                                      "an adjustment may not exceed " + std::to_string(rules_.max_adjustment_points) +
                                          " points"));
  }
  const int64_t day = ToUnixMillis(clock_.Now()) / kDayMs;
  if (!store_.ReserveAgentPoints(in.agent_id, day, magnitude, rules_.max_agent_daily_points)) {
    return ProblemReply(Problem::Make(422, "agent_daily_cap_exceeded",
                                      "agent " + in.agent_id + " would exceed " +
                                          std::to_string(rules_.max_agent_daily_points) + " points today"));
  }
  const std::string id = ShortId("adj_");
  Reply r;
  try {
    r = Mutate(ctx, {}, MemberRequirement::kMustExist, 201,
               [&](Account& a, const LoadResult&, int&) { return a.Adjust(id, in.points, in.reason_code, in.note, in.agent_id); });
  } catch (...) {
    store_.ReleaseAgentPoints(in.agent_id, day, magnitude);  // nothing was applied (or unknown: fail safe)
    throw;
  }
  // Give the quota back when nothing was credited (refusal, or a replay of an earlier answer).
  if (r.IsProblem() || r.replayed) store_.ReleaseAgentPoints(in.agent_id, day, magnitude);
  return r;
}

Reply RewardsApp::GetAccount(const std::string& member_id) {
  LoadResult loaded = store_.Load({member_id, nullptr, "", "", ""});
  if (!loaded.state) return ProblemReply(Problem::Make(404, "member_not_found", "member " + member_id + " is not enrolled"));
  MemberState state = MemberState::FromJson(*loaded.state);
  Account account(state, rules_, ToUnixMillis(clock_.Now()));
  account.Settle();  // shown as of now; the sweep commits what is due
  nlohmann::json view = account.View();
  view["version"] = loaded.seq;  // If-Match refers to the stored version
  return {200, view.dump(), false};
}

Reply RewardsApp::Ledger(const std::string& member_id, std::optional<int64_t> before_seq, int limit) {
  LedgerPage page = store_.Ledger(member_id, before_seq, limit);
  if (page.entries.empty() && !before_seq) {
    if (!store_.Load({member_id, nullptr, "", "", ""}).state) {
      return ProblemReply(Problem::Make(404, "member_not_found", "member " + member_id + " is not enrolled"));
    }
  }
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [seq, stored] : page.entries) items.push_back(LedgerEntryView(member_id, seq, stored));
  nlohmann::json body = {{"member_id", member_id}, {"entries", items}};
  body["next_cursor"] = page.next_before_seq ? nlohmann::json(MakeCursor("seq", *page.next_before_seq))
                                             : nlohmann::json(nullptr);
  return {200, body.dump(), false};
}

Reply RewardsApp::Audit(const std::string& member_id) {
  LoadResult loaded = store_.Load({member_id, nullptr, "", "", ""});
  if (!loaded.state) return ProblemReply(Problem::Make(404, "member_not_found", "member " + member_id + " is not enrolled"));
  const MemberState s = MemberState::FromJson(*loaded.state);
  const LedgerTotals ledger = store_.LedgerForAudit(member_id);
  int64_t sum = ledger.trimmed_points;
  nlohmann::json differences = nlohmann::json::array();
  int64_t expected_seq = ledger.trimmed_entries + 1;
  for (const auto& [seq, stored] : ledger.entries) {
    sum += LedgerEntryPoints(stored);
    if (seq != expected_seq) {
      differences.push_back({{"check", "member_seq has no gaps"}, {"expected", expected_seq}, {"found", seq}});
    }
    expected_seq = seq + 1;
  }
  if (expected_seq - 1 != s.seq) {
    differences.push_back({{"check", "last ledger entry is the account version"}, {"expected", s.seq}, {"found", expected_seq - 1}});
  }
  const int64_t total = s.Available() + s.Pending() + s.held;
  if (sum != total) {
    differences.push_back({{"check", "available + pending + held equals the ledger sum"}, {"ledger_sum", sum}, {"balances", total}});
  }
  int64_t held_by_holds = 0, allocated = 0;
  for (const auto& h : s.holds) {
    held_by_holds += h.points;
    for (const auto& a : h.allocations) allocated += a.points;
  }
  if (held_by_holds != s.held || allocated != s.held) {
    differences.push_back({{"check", "held equals the active holds"}, {"held", s.held}, {"holds", held_by_holds}, {"allocated", allocated}});
  }
  if (s.debt > 0 && s.Vested() > 0) differences.push_back({{"check", "debt is paid before points are spendable"}, {"debt", s.debt}});
  for (const auto& l : s.lots) {
    if (l.remaining <= 0) differences.push_back({{"check", "lots hold positive points"}, {"lot_id", l.id}});
  }
  nlohmann::json body = {{"member_id", member_id},
                         {"version", s.seq},
                         {"ledger_sum", sum},
                         {"ledger_entries", ledger.trimmed_entries + static_cast<int64_t>(ledger.entries.size())},
                         {"balances", {{"available", s.Available()}, {"pending", s.Pending()}, {"held", s.held}, {"debt", s.debt}}},
                         {"differences", differences},
                         {"consistent", differences.empty()}};
  return {200, body.dump(), false};
}

Reply RewardsApp::AddNote(const std::string& member_id, const std::string& agent_id, const std::string& text,
                          const std::string& author) {
  nlohmann::json note = {{"note_id", ShortId("note_")},
                         {"agent_id", agent_id},
                         {"text", text},
                         {"author", author},
                         {"created_at", FormatRfc3339(clock_.Now())}};
  if (!store_.AddNote(member_id, note.dump())) {
    return ProblemReply(Problem::Make(404, "member_not_found", "member " + member_id + " is not enrolled"));
  }
  note["member_id"] = member_id;
  return {201, note.dump(), false};
}

Reply RewardsApp::Notes(const std::string& member_id, int offset, int limit) {
  if (!store_.Load({member_id, nullptr, "", "", ""}).state) {
    return ProblemReply(Problem::Make(404, "member_not_found", "member " + member_id + " is not enrolled"));
  }
  auto notes = store_.Notes(member_id, offset, limit + 1);
  nlohmann::json items = nlohmann::json::array();
  for (size_t i = 0; i < notes.size() && i < static_cast<size_t>(limit); ++i) items.push_back(nlohmann::json::parse(notes[i]));
  nlohmann::json body = {{"member_id", member_id}, {"notes", items}};
  body["next_cursor"] = notes.size() > static_cast<size_t>(limit)
                            ? nlohmann::json(MakeCursor("off", offset + limit))
                            : nlohmann::json(nullptr);
  return {200, body.dump(), false};
}

std::optional<RewardsApp::Settled> RewardsApp::SettleMember(const std::string& member_id) {
  RequestContext ctx;
  ctx.member_id = member_id;
  ctx.channel = "system";
  ctx.correlation_id = "sweep";
  ctx.causation_id = "sweep";
  Settled settled;
  const Reply r = Mutate(ctx, {}, MemberRequirement::kMustExist, 200, [&](Account& a, const LoadResult&, int&) {
    if (auto before = a.RecordsExpiredBefore()) {
      // Idempotent: a retry after a conflict finds nothing more to remove. Nothing can change a
      // record past the retention (its purchase can no longer earn or be refunded, its
      // redemption no longer be cancelled), so removing it outside the commit races with none.
      const PrunedRecords pruned = store_.PruneRecords(member_id, *before);
      settled.records_removed += pruned.removed;  // a retry after a conflict finds none left
      a.RecordsPruned(pruned.oldest_kept);
    }
    settled.changes = static_cast<int>(a.changes().size());
    return nlohmann::json::object();
  });
  if (r.status == 404) return std::nullopt;
  return settled;
}

}  // namespace tessera::rewards
