#include "redis_account_store.h"

#include <iterator>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "commit_lua.h"
#include "load_lua.h"
#include "records.h"
#include "tessera/due_index.h"
#include "tessera/keys.h"
#include "tessera/lease.h"
#include "tessera/lua_library.h"

namespace tessera::rewards {

namespace {
const LuaScript& LoadScript() {
  static const LuaScript* s = new LuaScript(MakeScript("rewards_load", embedded::kLoadLua));
  return *s;
}
// commit.lua's positional arguments before its lists.
constexpr size_t kCommitHeaderArgs = 12;

const LuaScript& CommitScript() {
  static const LuaScript* s = new LuaScript(MakeScript("rewards_commit", embedded::kCommitLua));
  return *s;
}
const LuaScript& ReserveScript() {
  static const LuaScript* s = new LuaScript("rewards_agent_reserve", R"lua(
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then return 0 end
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], 172800000)
return 1
)lua");
  return *s;
}
const LuaScript& NoteScript() {
  static const LuaScript* s = new LuaScript("rewards_note", R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = redis.call('HINCRBY', KEYS[3], 'notes', 1)
redis.call('ZADD', KEYS[2], n, ARGV[1])
return n
)lua");
  return *s;
}
const LuaScript& ForgetDueScript() {
  static const LuaScript* s = new LuaScript("rewards_forget_due", R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
)lua");
  return *s;
}

std::string Key(const std::string& member, const char* kind) { return MemberKey(member, kind); }
std::string Tag(const std::string& member) { return BucketTag(MemberBucket(member)); }

}  // namespace

RedisAccountStore::RedisAccountStore(RedisPool& pool, IdempotencyOptions idempotency, RedisPipeline* pipeline)
    : pool_(pool), pipeline_(pipeline), idempotency_(pool, idempotency) {}

std::string RedisAccountStore::StateKey(const std::string& member_id) { return Key(member_id, "state"); }
std::string RedisAccountStore::DueKey(int bucket) { return "tessera:" + BucketTag(bucket) + ":rewards:due"; }

LoadResult RedisAccountStore::Load(const LoadRequest& r) {
  const std::string state_key = StateKey(r.member_id);
  RedisValue v = pool_.Eval(
      LoadScript(),
      {state_key, r.begin ? r.begin->key : state_key, Key(r.member_id, "orders"), Key(r.member_id, "redemptions"),
       Key(r.member_id, "holds")},
      {r.begin ? "1" : "0", r.begin ? r.begin->request_hash : "",
       std::to_string(idempotency_.options().in_flight_ttl.count()), r.order_id, r.redemption_id, r.hold_id,
       idempotency_.options().write_hash ? "1" : "0"});
  LoadResult out;
  const std::string& tag = v.elements.at(0).AsString();
  if (tag == "mismatch") out.idempotency = IdempotencyOutcome::kMismatch;
  if (tag == "in_progress") out.idempotency = IdempotencyOutcome::kInProgress;
  if (tag == "replay") {
    out.idempotency = IdempotencyOutcome::kReplay;
    out.replay = {static_cast<int>(v.elements.at(1).AsInt()), v.elements.at(2).AsString()};
  }
  auto opt = [](const RedisValue& e) -> std::optional<std::string> {
    if (e.IsNil() || e.type == RedisValue::Type::kInteger) return std::nullopt;  // Lua false -> nil
    return e.AsString();
  };
  out.state = opt(v.elements.at(3));
  out.seq = v.elements.at(4).AsInt();
  out.order = opt(v.elements.at(5));
  out.redemption = opt(v.elements.at(6));
  out.hold = opt(v.elements.at(7));
  out.version = v.elements.at(8).AsInt();
  return out;
}

RedisAccountStore::CommitCall::CommitCall(const CommitRequest& r, bool write_hash) {
  args.reserve(17 + 2 * r.ledger_entries.size() + r.events.size() +
               2 * (r.orders.size() + r.redemptions.size() + r.holds.size()));
  args.push_back(Own(std::to_string(r.expected_version)));
  args.push_back(Own(std::to_string(r.new_seq)));
  args.push_back(r.state ? std::string_view(*r.state) : "");
  args.push_back(!r.due_changed ? "" : r.due_ms ? Own(std::to_string(*r.due_ms)) : "-");
  args.push_back(r.member_id);
  args.push_back(r.idempotency ? std::string_view(r.idempotency->request_hash) : "");
  if (write_hash || !r.idempotency) {
    args.push_back(Own(std::to_string(r.response_status)));
    args.push_back(r.response_body);
  } else {  // the record as the string commit.lua stores as is
    args.push_back("");
    args.push_back(Own(IdempotencyStore::StringRecord(r.response_status, r.idempotency->request_hash, r.response_body)));
  }
  // Entries are scored by rising member_seqs of their own, so the ledger can exceed the limit only
  // once the newest entry's seq does: only then is the limit sent, and the script counts.
  const bool may_exceed = !r.ledger_entries.empty() && r.ledger_entries.back().first > r.ledger_online_entries;
  args.push_back(may_exceed ? Own(std::to_string(r.ledger_online_entries)) : "");
  args.push_back(r.marked_in_flight ? "0" : "1");
  args.push_back(r.require_new_order);
  args.push_back(Own(std::to_string(r.expected_version + 1)));  // stored as is: the script does no arithmetic
  // Five lists, each ended by an empty argument or by the end of the arguments (commit.lua): an
  // empty item would end its list early.
  const auto item = [&](std::string_view v) {
    if (v.empty()) throw std::logic_error("commit: an empty ledger entry, event or record field");
    args.push_back(v);
  };
  for (const auto& [seq, json] : r.ledger_entries) {
    args.push_back(Own(std::to_string(seq)));
    item(json);
  }
  args.push_back("");
  for (const auto& e : r.events) item(e);
  args.push_back("");
  for (const auto* records : {&r.redemptions, &r.orders, &r.holds}) {
    for (const auto& [field, json] : *records) {
      item(field);
      item(json);
    }
    args.push_back("");
  }
  // Trailing empty lists are left out: each argument costs Redis about 560 instructions even
  // when empty. The header's own empty arguments stay (they are positional).
  while (args.size() > kCommitHeaderArgs && args.back().empty()) args.pop_back();
  const std::string_view state_key = Own(StateKey(r.member_id));
  keys = {state_key, Own(Key(r.member_id, "ledger")), Own(OutboxStream(Tag(r.member_id), "rewards")),
          r.idempotency ? std::string_view(r.idempotency->key) : state_key};
  // The optional keys, up to the last one this change needs (commit.lua's KEYS 5-9).
  const bool need[] = {!r.redemptions.empty(), !r.orders.empty() || !r.require_new_order.empty(), !r.holds.empty(),
                       r.due_changed, may_exceed};
  size_t wanted = 0;
  for (size_t k = 0; k < std::size(need); ++k) {
    if (need[k]) wanted = k + 1;
  }
  const auto optional_key = [&](size_t k) -> std::string_view {
    switch (k) {
      case 0: return Own(Key(r.member_id, "redemptions"));
      case 1: return Own(Key(r.member_id, "orders"));
      case 2: return Own(Key(r.member_id, "holds"));
      case 3: return Own(DueKey(MemberBucket(r.member_id)));
      default: return Own(Key(r.member_id, "meta"));
    }
  };
  for (size_t k = 0; k < wanted; ++k) keys.push_back(optional_key(k));
}

CommitResult RedisAccountStore::ParseCommit(const RedisValue& v) {
  const std::string& tag = v.elements.at(0).AsString();
  if (tag == "committed") return {CommitStatus::kCommitted, {}, v.elements.at(3).AsInt()};
  if (tag == "conflict") return {CommitStatus::kConflict, {}, 0};
  if (tag == "in_progress") return {CommitStatus::kInProgress, {}, 0};
  return {CommitStatus::kReplay, {static_cast<int>(v.elements.at(1).AsInt()), v.elements.at(2).AsString()}, 0};
}

CommitResult RedisAccountStore::Commit(const CommitRequest& r) {
  const CommitCall call(r, idempotency_.options().write_hash);
  return ParseCommit(pool_.Eval(CommitScript(), {call.keys.begin(), call.keys.end()},
                                {call.args.begin(), call.args.end()}));
}

void RedisAccountStore::CommitAsync(const CommitRequest& r, CommitCallback done) {
  if (!pipeline_) return AccountStore::CommitAsync(r, std::move(done));
  const CommitCall call(r, idempotency_.options().write_hash);
  pipeline_->Eval(CommitScript(), call.keys, call.args,
                  [done = std::move(done)](RedisValue reply, std::exception_ptr error) {
                    if (error) return done({}, error);
                    ReportTo(done, [&] { return ParseCommit(reply); });
                  });
}

void RedisAccountStore::AbandonIdempotency(const IdempotencyRef& ref) { idempotency_.Abandon(ref.key, ref.request_hash); }

LedgerPage RedisAccountStore::Ledger(const std::string& member_id, std::optional<int64_t> before_seq, int limit) {
  const std::string max = before_seq ? "(" + std::to_string(*before_seq) : "+inf";
  RedisValue v = pool_.Command({"ZREVRANGEBYSCORE", Key(member_id, "ledger"), max, "-inf", "WITHSCORES", "LIMIT",
                                "0", std::to_string(limit + 1)});
  v.ThrowIfError();
  LedgerPage page;
  for (size_t i = 0; i + 1 < v.elements.size() && page.entries.size() < static_cast<size_t>(limit); i += 2) {
    page.entries.emplace_back(v.elements[i + 1].AsInt(), v.elements[i].AsString());
    page.next_before_seq = v.elements[i + 1].AsInt();
  }
  if (v.elements.size() / 2 <= static_cast<size_t>(limit)) page.next_before_seq.reset();
  return page;
}

LedgerTotals RedisAccountStore::LedgerForAudit(const std::string& member_id) {
  auto replies = pool_.Pipeline({{"ZRANGE", Key(member_id, "ledger"), "0", "-1", "WITHSCORES"},
                                 {"HMGET", Key(member_id, "meta"), "trimmed_points", "trimmed_entries"}});
  LedgerTotals t;
  const auto& entries = replies[0].ThrowIfError().elements;
  for (size_t i = 0; i + 1 < entries.size(); i += 2) t.entries.emplace_back(entries[i + 1].AsInt(), entries[i].AsString());
  const auto& meta = replies[1].ThrowIfError().elements;
  if (!meta.at(0).IsNil()) t.trimmed_points = meta.at(0).AsInt();
  if (!meta.at(1).IsNil()) t.trimmed_entries = meta.at(1).AsInt();
  return t;
}

bool RedisAccountStore::AddNote(const std::string& member_id, const std::string& note_json) {
  return pool_.Eval(NoteScript(), {StateKey(member_id), Key(member_id, "notes"), Key(member_id, "meta")}, {note_json})
             .AsInt() > 0;
}

std::vector<std::string> RedisAccountStore::Notes(const std::string& member_id, int offset, int limit) {
  RedisValue v = pool_.Command({"ZREVRANGE", Key(member_id, "notes"), std::to_string(offset),
                                std::to_string(offset + limit - 1)});
  std::vector<std::string> out;
  for (const auto& e : v.ThrowIfError().elements) out.push_back(e.AsString());
  return out;
}

std::vector<std::string> RedisAccountStore::DueMembers(int bucket, int64_t now_ms, int limit) {
  RedisValue v = pool_.Command({"ZRANGEBYSCORE", DueKey(bucket), "-inf", std::to_string(now_ms), "LIMIT", "0",
                                std::to_string(limit)});
  std::vector<std::string> out;
  for (const auto& e : v.ThrowIfError().elements) out.push_back(e.AsString());
  return out;
}

std::vector<int> RedisAccountStore::DueBuckets(int64_t now_ms) {
  return BucketsWithDue(pool_, DueKey, now_ms);
}

void RedisAccountStore::PostponeDue(const std::string& member_id, int64_t until_ms) {
  tessera::PostponeDue(pool_, DueKey(MemberBucket(member_id)), member_id, until_ms);
}

PrunedRecords RedisAccountStore::PruneRecords(const std::string& member_id, int64_t before_ms) {
  constexpr std::pair<RecordKind, const char*> kHashes[] = {
      {RecordKind::kOrder, "orders"}, {RecordKind::kRedemption, "redemptions"}, {RecordKind::kHold, "holds"}};
  std::vector<std::vector<std::string>> reads;
  for (const auto& [kind, hash] : kHashes) reads.push_back({"HGETALL", Key(member_id, hash)});
  const auto replies = pool_.Pipeline(reads);
  std::vector<std::vector<std::string>> deletes;
  PrunedRecords result;
  for (size_t i = 0; i < std::size(kHashes); ++i) {
    const auto& fields = replies[i].ThrowIfError().elements;
    std::vector<std::pair<std::string, std::string>> stored;
    stored.reserve(fields.size() / 2);
    for (size_t f = 0; f + 1 < fields.size(); f += 2) stored.emplace_back(fields[f].AsString(), fields[f + 1].AsString());
    RecordPrune plan = PlanRecordPrune(kHashes[i].first, stored, before_ms);
    result.Add(plan);
    if (plan.expired.empty()) continue;
    std::vector<std::string> del = {"HDEL", Key(member_id, kHashes[i].second)};
    del.insert(del.end(), std::make_move_iterator(plan.expired.begin()), std::make_move_iterator(plan.expired.end()));
    deletes.push_back(std::move(del));
  }
  if (!deletes.empty()) {
    for (const auto& r : pool_.Pipeline(deletes)) r.ThrowIfError();
  }
  return result;
}

bool RedisAccountStore::ForgetDueIfGone(const std::string& member_id) {
  // The state key and the bucket's due index share the member's hash tag (one slot).
  return pool_.Eval(ForgetDueScript(), {StateKey(member_id), DueKey(MemberBucket(member_id))}, {member_id})
             .ThrowIfError()
             .AsInt() == 1;
}

bool RedisAccountStore::TryLockBucket(int bucket, const std::string& owner, int64_t ttl_ms) {
  return AcquireLease(pool_, "tessera:" + BucketTag(bucket) + ":rewards:sweep-lock", owner, ttl_ms);
}

void RedisAccountStore::UnlockBucket(int bucket, const std::string& owner) {
  ReleaseLease(pool_, "tessera:" + BucketTag(bucket) + ":rewards:sweep-lock", owner);
}

bool RedisAccountStore::ReserveAgentPoints(const std::string& agent_id, int64_t day, int64_t points, int64_t cap) {
  return pool_.Eval(ReserveScript(), {"tessera:{agent:" + agent_id + "}:goodwill:" + std::to_string(day)},
                    {std::to_string(points), std::to_string(cap)})
             .AsInt() == 1;
}

void RedisAccountStore::ReleaseAgentPoints(const std::string& agent_id, int64_t day, int64_t points) {
  pool_.Command({"DECRBY", "tessera:{agent:" + agent_id + "}:goodwill:" + std::to_string(day), std::to_string(points)})
      .ThrowIfError();
}

}  // namespace tessera::rewards
