// A fake AccountStore for unit tests: the same semantics as RedisAccountStore (idempotency
// protocol, compare-and-set on the write version, records, ledger, due index, agent quotas) in maps
// behind one mutex.
#pragma once

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "account_store.h"
#include "records.h"
#include "nlohmann/json.hpp"

namespace tessera::rewards {

class InMemoryAccountStore : public AccountStore {
 public:
  LoadResult Load(const LoadRequest& r) override {
    std::lock_guard lock(mu_);
    ++loads;
    LoadResult out;
    if (r.begin) {
      auto it = idem_.find(r.begin->key);
      if (it == idem_.end()) {
        idem_[r.begin->key] = {r.begin->request_hash, 0, ""};
      } else if (it->second.hash != r.begin->request_hash) {
        out.idempotency = IdempotencyOutcome::kMismatch;
        return out;
      } else if (it->second.status == 0) {
        out.idempotency = IdempotencyOutcome::kInProgress;
        return out;
      } else {
        out.idempotency = IdempotencyOutcome::kReplay;
        out.replay = {it->second.status, it->second.body};
        return out;
      }
    }
    auto& m = members_[r.member_id];
    out.state = m.state;
    out.seq = m.seq;
    out.version = m.version;
    auto get = [](const std::map<std::string, std::string>& h, const std::string& f) -> std::optional<std::string> {
      auto it = h.find(f);
      if (f.empty() || it == h.end()) return std::nullopt;
      return it->second;
    };
    out.order = get(m.orders, r.order_id);
    out.redemption = get(m.redemptions, r.redemption_id);
    out.hold = get(m.holds, r.hold_id);
    return out;
  }

  CommitResult Commit(const CommitRequest& c) override {
    std::lock_guard lock(mu_);
    ++commits;
    if (c.idempotency) {
      auto it = idem_.find(c.idempotency->key);
      if (it != idem_.end() && it->second.hash != c.idempotency->request_hash) return {CommitStatus::kReplay, {422, ""}};
      if (it != idem_.end() && it->second.status != 0) return {CommitStatus::kReplay, {it->second.status, it->second.body}};
      if (it != idem_.end() && !c.marked_in_flight) return {CommitStatus::kInProgress, {}};
    }
    auto& m = members_[c.member_id];
    if (m.version != c.expected_version) return {CommitStatus::kConflict, {}};
    if (!c.require_new_order.empty() && m.orders.count(c.require_new_order)) return {CommitStatus::kConflict, {}};
    if (c.state) {
      m.state = *c.state;
      m.seq = c.new_seq;
      ++m.version;
    }
    for (const auto& [seq, e] : c.ledger_entries) m.ledger[seq] = e;
    for (const auto& e : c.events) events.push_back(e);
    for (const auto& [k, v] : c.orders) m.orders[k] = v;
    for (const auto& [k, v] : c.redemptions) m.redemptions[k] = v;
    for (const auto& [k, v] : c.holds) m.holds[k] = v;
    if (c.due_changed && c.due_ms) due_[c.member_id] = *c.due_ms;
    else if (c.due_changed) due_.erase(c.member_id);
    if (c.idempotency) idem_[c.idempotency->key] = {c.idempotency->request_hash, c.response_status, c.response_body};
    return {CommitStatus::kCommitted, {}, m.version};
  }

  void AbandonIdempotency(const IdempotencyRef& ref) override {
    std::lock_guard lock(mu_);
    auto it = idem_.find(ref.key);
    if (it != idem_.end() && it->second.hash == ref.request_hash && it->second.status == 0) idem_.erase(it);
  }

  LedgerPage Ledger(const std::string& member_id, std::optional<int64_t> before, int limit) override {
    std::lock_guard lock(mu_);
    LedgerPage p;
    auto& l = members_[member_id].ledger;
    for (auto it = l.rbegin(); it != l.rend(); ++it) {
      if (before && it->first >= *before) continue;
      if (static_cast<int>(p.entries.size()) == limit) return p;
      p.entries.emplace_back(it->first, it->second);
      p.next_before_seq = it->first;
    }
    p.next_before_seq.reset();
    return p;
  }

  LedgerTotals LedgerForAudit(const std::string& member_id) override {
    std::lock_guard lock(mu_);
    LedgerTotals t;
    for (const auto& [seq, e] : members_[member_id].ledger) t.entries.emplace_back(seq, e);
    return t;
  }

  bool AddNote(const std::string& member_id, const std::string& note) override {
    std::lock_guard lock(mu_);
    if (!members_[member_id].state) return false;
    members_[member_id].notes.insert(members_[member_id].notes.begin(), note);
    return true;
  }

  std::vector<std::string> Notes(const std::string& member_id, int offset, int limit) override {
    std::lock_guard lock(mu_);
    auto& n = members_[member_id].notes;
    std::vector<std::string> out;
    for (int i = offset; i < static_cast<int>(n.size()) && i < offset + limit; ++i) out.push_back(n[i]);
    return out;
  }

  std::vector<std::string> DueMembers(int, int64_t now_ms, int limit) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [m, t] : due_) {
      if (t <= now_ms && static_cast<int>(out.size()) < limit) out.push_back(m);
    }
    return out;
  }
  std::vector<int> DueBuckets(int64_t now_ms) override {
    if (DueMembers(0, now_ms, 1).empty()) return {};
    return {0};  // the fake keeps all members in bucket 0
  }
  void PostponeDue(const std::string& member_id, int64_t until_ms) override {
    std::lock_guard lock(mu_);
    auto it = due_.find(member_id);
    if (it != due_.end()) it->second = std::max(it->second, until_ms);
  }
  PrunedRecords PruneRecords(const std::string& member_id, int64_t before_ms) override {
    std::lock_guard lock(mu_);
    PrunedRecords result;
    auto m = members_.find(member_id);
    if (m == members_.end()) return result;
    for (auto [kind, hash] : {std::pair{RecordKind::kOrder, &m->second.orders},
                              std::pair{RecordKind::kRedemption, &m->second.redemptions},
                              std::pair{RecordKind::kHold, &m->second.holds}}) {
      const RecordPrune plan = PlanRecordPrune(kind, {hash->begin(), hash->end()}, before_ms);
      for (const auto& field : plan.expired) hash->erase(field);
      result.Add(plan);
    }
    return result;
  }
  bool ForgetDueIfGone(const std::string& member_id) override {
    std::lock_guard lock(mu_);
    auto m = members_.find(member_id);
    if (m != members_.end() && m->second.state) return false;
    return due_.erase(member_id) == 1;
  }
  bool TryLockBucket(int bucket, const std::string& owner, int64_t) override {
    std::lock_guard lock(mu_);
    if (bucket != 0) return false;  // the fake keeps all members in bucket 0
    auto [it, inserted] = locks_.emplace(bucket, owner);
    return inserted || it->second == owner;
  }
  void UnlockBucket(int bucket, const std::string& owner) override {
    std::lock_guard lock(mu_);
    if (locks_.count(bucket) && locks_[bucket] == owner) locks_.erase(bucket);
  }
  bool ReserveAgentPoints(const std::string& agent, int64_t day, int64_t points, int64_t cap) override {
    std::lock_guard lock(mu_);
    auto& used = agent_[agent + ":" + std::to_string(day)];
    if (used + points > cap) return false;
    used += points;
    return true;
  }
  void ReleaseAgentPoints(const std::string& agent, int64_t day, int64_t points) override {
    std::lock_guard lock(mu_);
    agent_[agent + ":" + std::to_string(day)] -= points;
  }

  std::vector<std::string> events;  // committed envelopes, in order
  int loads = 0, commits = 0;  // calls so far (how many round trips a use case costs)

 private:
  struct Member {
    std::optional<std::string> state;
    int64_t seq = 0;
    int64_t version = 0;
    std::map<int64_t, std::string> ledger;
    std::map<std::string, std::string> orders, redemptions, holds;
    std::vector<std::string> notes;
  };
  struct Idem {
    std::string hash;
    int status = 0;
    std::string body;
  };
  std::mutex mu_;
  std::map<std::string, Member> members_;
  std::map<std::string, Idem> idem_;
  std::map<std::string, int64_t> due_;
  std::map<int, std::string> locks_;
  std::map<std::string, int64_t> agent_;
};

}  // namespace tessera::rewards
