#include "account.h"

#include <algorithm>

#include "tessera/clock.h"
#include "tessera/errors.h"
#include "tessera/json_text.h"

namespace tessera::rewards {

namespace {
[[noreturn]] void Refuse(int status, const std::string& code, const std::string& detail) {
  throw ProblemError(Problem::Make(status, code, detail));
}

// [lot_id, points, expires_ms], as a redemption or hold record lists what it took.
nlohmann::json AllocationJson(const Allocation& a) {
  nlohmann::json::array_t v;
  v.reserve(3);
  v.emplace_back(a.lot_id);
  v.emplace_back(a.points);
  v.emplace_back(a.expires_ms);
  return nlohmann::json(std::move(v));
}
}  // namespace

std::string FormatMs(int64_t ms) { return FormatRfc3339(FromUnixMillis(ms)); }

Account::Account(MemberState& state, const ProgramRules& rules, int64_t now_ms)
    : s_(state), rules_(rules), now_(now_ms) {}

// Hot-path objects are filled key by key: nlohmann's initializer-list form first builds a
// two-element array per key (an allocation each), then converts it.
nlohmann::json BalanceFigures::ToJson() const {
  nlohmann::json b = nlohmann::json::object();
  b["available"] = available;
  b["pending"] = pending;
  b["held"] = held;
  b["lifetime"] = lifetime;
  b["qualifying"] = qualifying;
  b["tier"] = tier;
  return b;
}

void BalanceFigures::AppendJson(std::string& out) const {
  // Keys in ToJson()'s (sorted) order.
  const std::pair<std::string_view, int64_t> numbers[] = {{"{\"available\":", available},
                                                          {",\"held\":", held},
                                                          {",\"lifetime\":", lifetime},
                                                          {",\"pending\":", pending},
                                                          {",\"qualifying\":", qualifying}};
  for (const auto& [key, value] : numbers) {
    out += key;
    AppendJsonInt(out, value);
  }
  out += ",\"tier\":";
  AppendJsonString(out, tier);
  out += '}';
}

BalanceFigures Account::Figures() const {
  return {s_.Available(), s_.Pending(), s_.held, s_.lifetime, s_.Qualifying(now_, rules_.qualifying_window_days),
          s_.tier};
}

void Account::Emit(const std::string& type, int64_t points, const std::string& channel,
                   const std::string& reference, const nlohmann::json& payload) {
  EmitRendered(type, points, channel, reference, MembersOf(payload));
}

void Account::EmitRendered(const std::string& type, int64_t points, const std::string& channel,
                           const std::string& reference, JsonMembers payload) {
  Change c;
  c.seq = ++s_.seq;
  c.type = type;
  c.points = points;
  c.channel = channel;
  c.reference = reference;
  c.payload = std::move(payload);
  c.balances = Figures();
  c.total_after = s_.Total();
  c.available_after = s_.Available();
  changes_.push_back(std::move(c));
}

void Account::SortLots() {
  std::sort(s_.lots.begin(), s_.lots.end(), [](const Lot& a, const Lot& b) {
    return a.expires_ms != b.expires_ms ? a.expires_ms < b.expires_ms : a.id < b.id;
  });
}

std::string Account::NewLotId() { return "lot-" + std::to_string(++s_.lot_counter); }

Lot Account::NewLot(int64_t points, const std::string& source) {
  Lot lot;
  lot.id = NewLotId();
  lot.remaining = points;
  lot.expires_ms = now_ + int64_t{rules_.lot_expiry_days} * kDayMs;
  lot.order_id = source;
  return lot;
}

void Account::AddVestedPoints(Lot lot) {
  const int64_t pay = std::min(s_.debt, lot.remaining);
  s_.debt -= pay;
  lot.remaining -= pay;
  lot.vests_ms = 0;
  if (lot.remaining <= 0) return;
  for (auto& existing : s_.lots) {
    if (existing.id == lot.id) {
      existing.remaining += lot.remaining;
      return;
    }
  }
  s_.lots.push_back(std::move(lot));
  SortLots();
}

std::vector<Allocation> Account::TakeVested(int64_t points) {
  std::vector<Allocation> taken;
  for (auto& l : s_.lots) {  // sorted: soonest expiry first
    if (points == 0) break;
    if (l.vests_ms != 0 || l.remaining == 0) continue;
    const int64_t t = std::min(points, l.remaining);
    l.remaining -= t;
    points -= t;
    taken.push_back({l.id, t, l.expires_ms});
  }
  s_.lots.erase(std::remove_if(s_.lots.begin(), s_.lots.end(), [](const Lot& l) { return l.remaining == 0; }),
                s_.lots.end());
  return taken;
}

void Account::Restore(const std::vector<Allocation>& allocations) {
  for (const auto& a : allocations) {
    Lot lot;
    lot.id = a.lot_id;
    lot.remaining = a.points;
    lot.expires_ms = a.expires_ms;
    lot.warned = a.expires_ms - int64_t{rules_.expiry_warning_days} * kDayMs <= now_;
    AddVestedPoints(lot);
  }
}

void Account::RequireAvailable(int64_t points) const {
  if (s_.Available() < points) {
    Refuse(409, "insufficient_points",
           "available " + std::to_string(s_.Available()) + ", requested " + std::to_string(points));
  }
}

// Takes up to `points` back: first from `preferred_lot` (pending or vested), then vested lots
// soonest-expiring first; what is still missing becomes debt. Returns the points taken.
int64_t Account::Claw(int64_t points, const std::string& preferred_lot) {
  int64_t left = points;
  for (auto& l : s_.lots) {
    if (l.id == preferred_lot) {
      const int64_t t = std::min(left, l.remaining);
      l.remaining -= t;
      left -= t;
    }
  }
  if (left > 0) {
    for (const auto& a : TakeVested(left)) left -= a.points;
  }
  s_.lots.erase(std::remove_if(s_.lots.begin(), s_.lots.end(), [](const Lot& l) { return l.remaining == 0; }),
                s_.lots.end());
  s_.debt += left;
  return points;
}

void Account::MaybeUpgradeTier(const std::string& channel) {
  const int64_t q = s_.Qualifying(now_, rules_.qualifying_window_days);
  const TierRule& target = rules_.TierFor(q);
  if (rules_.TierIndex(target.name) > rules_.TierIndex(s_.tier)) {
    const std::string from = s_.tier;
    s_.tier = target.name;
    Emit("tier.changed", 0, channel, target.name,
         {{"from", from}, {"to", target.name}, {"direction", "up"}, {"qualifying", q}});
  }
}

void Account::Settle() {
  // 1. Holds not captured by their expiry give their points back.
  std::vector<ActiveHold> due_holds;
  for (auto it = s_.holds.begin(); it != s_.holds.end();) {
    if (it->expires_ms <= now_) {
      due_holds.push_back(*it);
      it = s_.holds.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& h : due_holds) {
    s_.held -= h.points;
    Restore(h.allocations);
    Keep(RecordKind::kHold, h.id, HoldRecord(h, "expired", {{"released_at", FormatMs(h.expires_ms)}}));
    Emit("hold.released", 0, "system", h.id, {{"hold_id", h.id}, {"points", h.points}, {"reason", "expired"}});
  }
  // 2. Pending points vest.
  std::vector<Lot> vesting;
  for (auto it = s_.lots.begin(); it != s_.lots.end();) {
    if (it->vests_ms != 0 && it->vests_ms <= now_) {
      vesting.push_back(*it);
      it = s_.lots.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& l : vesting) AddVestedPoints(l);
  // 3. Warnings, once per lot, `expiry_warning_days` before expiry.
  const int64_t warn_ms = int64_t{rules_.expiry_warning_days} * kDayMs;
  for (auto& l : s_.lots) {
    if (!l.warned && l.remaining > 0 && l.expires_ms > now_ && l.expires_ms - warn_ms <= now_) {
      l.warned = true;
      Emit("points.expiring", 0, "system", l.id,
           {{"lot_id", l.id}, {"points", l.remaining}, {"expires_at", FormatMs(l.expires_ms)}});
    }
  }
  // 4. Expired lots, one change each (so every entry's balance_after is exact).
  while (true) {
    auto it = std::find_if(s_.lots.begin(), s_.lots.end(), [&](const Lot& l) { return l.expires_ms <= now_; });
    if (it == s_.lots.end()) break;
    const Lot l = *it;
    s_.lots.erase(it);
    if (l.remaining > 0) {
      Emit("points.expired", -l.remaining, "system", l.id,
           {{"lot_id", l.id}, {"points", l.remaining}, {"expired_at", FormatMs(l.expires_ms)}});
    }
  }
  // 5. The qualifying window moves on; the tier follows it down.
  const int64_t first_day = now_ / kDayMs - rules_.qualifying_window_days + 1;
  for (auto it = s_.qualifying_days.begin(); it != s_.qualifying_days.end();) {
    it = it->first < first_day ? s_.qualifying_days.erase(it) : std::next(it);
  }
  if (!s_.tier.empty()) {
    const int64_t q = s_.Qualifying(now_, rules_.qualifying_window_days);
    const TierRule& target = rules_.TierFor(q);
    if (rules_.TierIndex(target.name) < rules_.TierIndex(s_.tier)) {
      const std::string from = s_.tier;
      s_.tier = target.name;
      Emit("tier.changed", 0, "system", target.name,
           {{"from", from}, {"to", target.name}, {"direction", "down"}, {"qualifying", q}});
    }
  }
}

std::optional<int64_t> Account::RecordsPruneDue() const {
  if (s_.records_since == 0) return std::nullopt;
  return s_.records_since + rules_.RecordRetentionMs();
}

std::optional<int64_t> Account::RecordsExpiredBefore() const {
  const auto due = RecordsPruneDue();
  if (!due || *due > now_) return std::nullopt;
  return now_ - rules_.RecordRetentionMs();
}

void Account::RecordsPruned(std::optional<int64_t> oldest_kept) {
  s_.records_since = oldest_kept.value_or(0);
  // Records this change writes are not in the store yet.
  for (const auto kind : {RecordKind::kOrder, RecordKind::kRedemption, RecordKind::kHold}) {
    for (const auto& [id, record] : RecordsOf(kind)) NoteRecordInstant(RecordInstantMs(kind, record));
  }
}

std::map<std::string, nlohmann::json>& Account::RecordsOf(RecordKind kind) {
  if (kind == RecordKind::kOrder) return records_.orders;
  if (kind == RecordKind::kRedemption) return records_.redemptions;
  return records_.holds;
}

void Account::NoteRecordInstant(std::optional<int64_t> at_ms) {
  if (at_ms && (s_.records_since == 0 || *at_ms < s_.records_since)) s_.records_since = *at_ms;
}

void Account::Keep(RecordKind kind, const std::string& id, nlohmann::json record) {
  NoteRecordInstant(RecordInstantMs(kind, record));
  RecordsOf(kind)[id] = std::move(record);
}

void Account::RequireClaimable(int64_t occurred_ms, const std::string& what) const {
  if (OlderThan(occurred_ms, rules_.claim_window_days)) {
    Refuse(422, "outside_claim_window",
           what + " is older than " + std::to_string(rules_.claim_window_days) + " days and earns no points");
  }
}

std::optional<int64_t> Account::NextDue() const {
  std::optional<int64_t> due;
  auto consider = [&](int64_t t) {
    if (!due || t < *due) due = t;
  };
  const int64_t warn_ms = int64_t{rules_.expiry_warning_days} * kDayMs;
  for (const auto& l : s_.lots) {
    consider(l.expires_ms);
    if (l.vests_ms != 0) consider(l.vests_ms);
    if (!l.warned && l.remaining > 0) consider(l.expires_ms - warn_ms);
  }
  for (const auto& h : s_.holds) consider(h.expires_ms);
  if (auto prune = RecordsPruneDue()) consider(*prune);
  if (!s_.qualifying_days.empty()) {
    // The day the oldest qualifying points leave the window.
    consider((s_.qualifying_days.begin()->first + rules_.qualifying_window_days) * kDayMs);
  }
  return due;
}

void Account::Enroll(const EnrollInput& in) {
  s_.member_id = in.member_id;
  s_.tier = rules_.tiers.front().name;
  s_.enrolled_ms = now_;
  s_.channel = in.channel;
  s_.locale = in.locale;
  s_.time_zone = in.time_zone;
  s_.profile = in.profile;
  Emit("member.enrolled", 0, in.channel, in.member_id,
       {{"locale", in.locale}, {"time_zone", in.time_zone}, {"profile", in.profile},
        {"enrolled_at", FormatMs(now_)}});
}

nlohmann::json Account::Earn(const Purchase& purchase, int64_t occurred_ms) {
  RequireClaimable(occurred_ms, "order " + purchase.order_id);
  const std::string tier_at_purchase = s_.tier;
  const EarnResult earn = ComputeEarn(rules_, purchase, tier_at_purchase);
  Lot lot = NewLot(earn.points, purchase.order_id);
  lot.vests_ms = rules_.pending_days > 0 ? now_ + int64_t{rules_.pending_days} * kDayMs : 0;
  const bool pending = lot.vests_ms != 0;
  if (earn.points > 0) {
    if (pending) {
      s_.lots.push_back(lot);
      SortLots();
    } else {
      AddVestedPoints(lot);
    }
  }
  s_.lifetime += earn.points;
  const int64_t day = occurred_ms / kDayMs;
  if (day > now_ / kDayMs - rules_.qualifying_window_days) s_.qualifying_days[day] += earn.points;

  nlohmann::json breakdown = nlohmann::json::array();
  for (const auto& b : earn.breakdown) breakdown.push_back({{"rule", b.rule}, {"points", b.points}});
  nlohmann::json payload = {{"order_id", purchase.order_id},
                            {"points", earn.points},
                            {"status", pending ? "pending" : "available"},
                            {"lot_id", lot.id},
                            {"expires_at", FormatMs(lot.expires_ms)},
                            {"currency", purchase.currency},
                            {"total_minor", purchase.total_minor},
                            {"occurred_at", FormatMs(occurred_ms)},
                            {"breakdown", breakdown}};
  if (pending) payload["vests_at"] = FormatMs(lot.vests_ms);
  if (!purchase.store_id.empty()) payload["store_id"] = purchase.store_id;
  Emit("points.earned", earn.points, purchase.channel, purchase.order_id, payload);
  const int64_t entry_seq = s_.seq;
  MaybeUpgradeTier(purchase.channel);

  Keep(RecordKind::kOrder, purchase.order_id,
       {{"points", earn.points}, {"total_minor", purchase.total_minor}, {"refunded_minor", 0},
        {"reversed_points", 0}, {"lot_id", lot.id}, {"day", day}, {"occurred_ms", occurred_ms},
        {"currency", purchase.currency}});
  nlohmann::json body = payload;
  body["member_id"] = s_.member_id;
  body["member_seq"] = entry_seq;
  body["tier"] = s_.tier;
  body["balances"] = Balances();
  return body;
}

nlohmann::json Account::Bonus(const std::string& order_key, int64_t points, const std::string& channel,
                              const nlohmann::json& details, int64_t occurred_ms) {
  RequireClaimable(occurred_ms, order_key);
  const Lot lot = NewLot(points, order_key);
  AddVestedPoints(lot);
  s_.lifetime += points;
  nlohmann::json payload = details;
  payload["points"] = points;
  payload["status"] = "available";
  payload["lot_id"] = lot.id;
  payload["expires_at"] = FormatMs(lot.expires_ms);
  payload["order_id"] = order_key;
  payload["breakdown"] = nlohmann::json::array({{{"rule", "offer_bonus"}, {"points", points}}});
  Emit("points.earned", points, channel, order_key, payload);
  Keep(RecordKind::kOrder, order_key,
       {{"points", points}, {"total_minor", 0}, {"refunded_minor", 0}, {"reversed_points", 0},
        {"lot_id", lot.id}, {"day", now_ / kDayMs}, {"occurred_ms", now_}, {"bonus", true}});
  nlohmann::json body = payload;
  body["member_id"] = s_.member_id;
  body["member_seq"] = s_.seq;
  body["balances"] = Balances();
  return body;
}

RenderedJson Account::Redeem(const std::string& redemption_id, int64_t points, const std::string& reward_id,
                             const std::string& order_id, const std::string& channel) {
  RequireAvailable(points);
  const auto taken = TakeVested(points);
  nlohmann::json allocations = nlohmann::json::array();
  for (const auto& a : taken) allocations.push_back(AllocationJson(a));
  // The payload's members (keys ascending), shared by the event and the answer.
  JsonMembers members;
  members.reserve(4);
  if (!order_id.empty()) members.emplace_back("order_id", JsonString(order_id));
  members.emplace_back("points", std::to_string(points));
  members.emplace_back("redemption_id", JsonString(redemption_id));
  if (!reward_id.empty()) members.emplace_back("reward_id", JsonString(reward_id));
  EmitRendered("points.redeemed", -points, channel, redemption_id, members);
  Keep(RecordKind::kRedemption, redemption_id, RedemptionRecord(std::move(allocations), ""));
  std::string balances;
  balances.reserve(128);
  changes_.back().balances.AppendJson(balances);  // nothing changed since the event's
  std::string body;
  body.reserve(256);
  AppendJsonObject(body, members,
                   {{"balances", std::move(balances)},
                    {"member_id", JsonString(s_.member_id)},
                    {"member_seq", std::to_string(s_.seq)},
                    {"status", "\"completed\""}});
  return RenderedJson(std::move(body));
}

nlohmann::json Account::RedemptionRecord(nlohmann::json allocations, const std::string& hold_id) const {
  nlohmann::json r = nlohmann::json::object();
  r["allocations"] = std::move(allocations);
  r["status"] = "completed";
  r["at"] = now_ / 1000;
  if (!hold_id.empty()) r["hold_id"] = hold_id;
  return r;
}

nlohmann::json Account::HoldRecord(const ActiveHold& h, const std::string& status, const nlohmann::json& extra) const {
  nlohmann::json r = {{"hold_id", h.id},
                      {"member_id", s_.member_id},
                      {"points", h.points},
                      {"status", status},
                      {"channel", h.channel},
                      {"created_at", FormatMs(h.created_ms)},
                      {"expires_at", FormatMs(h.expires_ms)}};
  if (!h.store_id.empty()) r["store_id"] = h.store_id;
  for (auto it = extra.begin(); it != extra.end(); ++it) r[it.key()] = it.value();
  return r;
}

nlohmann::json Account::Hold(const std::string& hold_id, int64_t points, const std::string& channel,
                             const std::string& store_id, int ttl_seconds) {
  RequireAvailable(points);
  ActiveHold h;
  h.id = hold_id;
  h.points = points;
  h.created_ms = now_;
  h.expires_ms = now_ + int64_t{ttl_seconds} * 1000;
  h.channel = channel;
  h.store_id = store_id;
  h.allocations = TakeVested(points);
  s_.held += points;
  s_.holds.push_back(h);
  nlohmann::json payload = {{"hold_id", hold_id}, {"points", points}, {"expires_at", FormatMs(h.expires_ms)}};
  if (!store_id.empty()) payload["store_id"] = store_id;
  Emit("points.held", 0, channel, hold_id, payload);
  Keep(RecordKind::kHold, hold_id, HoldRecord(h, "active", nlohmann::json::object()));
  nlohmann::json body = records_.holds[hold_id];
  body["member_seq"] = s_.seq;
  body["balances"] = Balances();
  return body;
}

nlohmann::json Account::Capture(const std::string& hold_id, const std::string& redemption_id,
                                const std::optional<nlohmann::json>& record) {
  auto it = std::find_if(s_.holds.begin(), s_.holds.end(), [&](const ActiveHold& h) { return h.id == hold_id; });
  if (it == s_.holds.end()) {
    const auto& rec = records_.holds.count(hold_id) ? std::optional(records_.holds.at(hold_id)) : record;
    if (!rec) Refuse(404, "hold_not_found", "no hold " + hold_id + " for this member");
    if ((*rec)["status"] == "captured") return *rec;  // idempotent: the first answer again
    Refuse(409, "hold_not_active", "hold " + hold_id + " is " + (*rec)["status"].get<std::string>());
  }
  ActiveHold h = *it;
  s_.holds.erase(it);
  s_.held -= h.points;
  nlohmann::json allocations = nlohmann::json::array();
  for (const auto& a : h.allocations) allocations.push_back(AllocationJson(a));
  Emit("hold.captured", -h.points, h.channel, hold_id,
       {{"hold_id", hold_id}, {"redemption_id", redemption_id}, {"points", h.points}});
  Keep(RecordKind::kRedemption, redemption_id, RedemptionRecord(std::move(allocations), hold_id));
  nlohmann::json rec = HoldRecord(h, "captured", {{"redemption_id", redemption_id}, {"captured_at", FormatMs(now_)},
                                                  {"member_seq", s_.seq}});
  Keep(RecordKind::kHold, hold_id, rec);
  return rec;
}

nlohmann::json Account::Release(const std::string& hold_id, const std::optional<nlohmann::json>& record) {
  auto it = std::find_if(s_.holds.begin(), s_.holds.end(), [&](const ActiveHold& h) { return h.id == hold_id; });
  if (it == s_.holds.end()) {
    const auto& rec = records_.holds.count(hold_id) ? std::optional(records_.holds.at(hold_id)) : record;
    if (!rec) Refuse(404, "hold_not_found", "no hold " + hold_id + " for this member");
    if ((*rec)["status"] == "captured") Refuse(409, "hold_not_active", "hold " + hold_id + " was captured");
    return *rec;  // released or expired: the points are back already
  }
  ActiveHold h = *it;
  s_.holds.erase(it);
  s_.held -= h.points;
  Restore(h.allocations);
  Emit("hold.released", 0, h.channel, hold_id, {{"hold_id", hold_id}, {"points", h.points}, {"reason", "released"}});
  nlohmann::json rec = HoldRecord(h, "released", {{"released_at", FormatMs(now_)}, {"member_seq", s_.seq}});
  Keep(RecordKind::kHold, hold_id, rec);
  Settle();  // restored points whose lot has expired in the meantime expire now
  return rec;
}

nlohmann::json Account::ReverseRefund(const std::string& reversal_id, const std::string& order_id,
                                      int64_t refund_minor, const std::string& reason,
                                      const std::optional<nlohmann::json>& order_record) {
  if (!order_record) Refuse(404, "order_not_found", "no earned order " + order_id + " for this member");
  nlohmann::json order = *order_record;
  const int64_t occurred = order["occurred_ms"];
  if (OlderThan(occurred, rules_.reversal_window_days)) {
    Refuse(422, "outside_reversal_window",
           "order " + order_id + " is older than " + std::to_string(rules_.reversal_window_days) + " days");
  }
  const int64_t total = order["total_minor"], refunded = order["refunded_minor"];
  if (refunded + refund_minor > total) {
    Refuse(422, "refund_exceeds_order", "refunds would total " + std::to_string(refunded + refund_minor) +
                                            " but the order was " + std::to_string(total));
  }
  const int64_t points = order["points"], reversed = order["reversed_points"];
  const int64_t target = total == 0 ? 0 : static_cast<int64_t>(static_cast<__int128>(points) * (refunded + refund_minor) / total);
  const int64_t delta = target - reversed;
  Claw(delta, order["lot_id"]);
  s_.lifetime -= delta;
  const int64_t day = order["day"];
  if (auto q = s_.qualifying_days.find(day); q != s_.qualifying_days.end()) {
    q->second -= std::min(q->second, delta);
    if (q->second == 0) s_.qualifying_days.erase(q);
  }
  order["refunded_minor"] = refunded + refund_minor;
  order["reversed_points"] = target;
  Keep(RecordKind::kOrder, order_id, order);
  nlohmann::json payload = {{"reversal_id", reversal_id}, {"kind", "refund"},          {"order_id", order_id},
                            {"refund_minor", refund_minor}, {"refunded_minor_total", refunded + refund_minor},
                            {"points", delta},             {"reason", reason}};
  Emit("points.reversed", -delta, "system", order_id, payload);
  nlohmann::json body = payload;
  body["member_id"] = s_.member_id;
  body["member_seq"] = s_.seq;
  body["balances"] = Balances();
  return body;
}

nlohmann::json Account::ReverseRedemption(const std::string& reversal_id, const std::string& redemption_id,
                                          const std::string& reason, const std::optional<nlohmann::json>& record) {
  if (!record) Refuse(404, "redemption_not_found", "no redemption " + redemption_id + " for this member");
  nlohmann::json r = *record;
  if (r["status"] != "completed") Refuse(409, "already_reversed", "redemption " + redemption_id + " was already reversed");
  if (auto at = RecordInstantMs(RecordKind::kRedemption, r); at && OlderThan(*at, rules_.reversal_window_days)) {
    Refuse(422, "outside_reversal_window", "redemption " + redemption_id + " is older than " +
                                               std::to_string(rules_.reversal_window_days) + " days");
  }
  std::vector<Allocation> allocations;
  int64_t points = 0;
  for (const auto& a : r["allocations"]) {
    allocations.push_back({a.at(0), a.at(1), a.at(2)});
    points += allocations.back().points;
  }
  Restore(allocations);
  r["status"] = "reversed";
  Keep(RecordKind::kRedemption, redemption_id, r);
  nlohmann::json payload = {{"reversal_id", reversal_id}, {"kind", "redemption_cancelled"},
                            {"redemption_id", redemption_id}, {"points", points}, {"reason", reason}};
  Emit("points.reversed", points, "system", redemption_id, payload);
  nlohmann::json body = payload;
  body["member_id"] = s_.member_id;
  body["member_seq"] = s_.seq;
  Settle();
  body["balances"] = Balances();
  return body;
}

nlohmann::json Account::Adjust(const std::string& adjustment_id, int64_t points, const std::string& reason_code,
                               const std::string& note, const std::string& agent_id) {
  if (points > 0) {
    AddVestedPoints(NewLot(points, adjustment_id));
    s_.lifetime += points;
  } else {
    RequireAvailable(-points);
    TakeVested(-points);
  }
  nlohmann::json payload = {{"adjustment_id", adjustment_id}, {"points", points},
                            {"reason_code", reason_code},     {"note", note}, {"agent_id", agent_id}};
  Emit("points.adjusted", points, "agent", adjustment_id, payload);
  nlohmann::json body = payload;
  body["member_id"] = s_.member_id;
  body["member_seq"] = s_.seq;
  body["balances"] = Balances();
  return body;
}

nlohmann::json Account::View() const {
  std::map<int64_t, int64_t> by_expiry;
  for (const auto& l : s_.lots) {
    if (l.remaining > 0) by_expiry[l.expires_ms] += l.remaining;
  }
  nlohmann::json expiring = nlohmann::json::array();
  for (const auto& [ms, pts] : by_expiry) {
    if (expiring.size() == 5) break;
    expiring.push_back({{"points", pts}, {"expires_at", FormatMs(ms)}});
  }
  nlohmann::json points = Balances();
  points.erase("tier");
  return {{"member_id", s_.member_id}, {"enrolled_at", FormatMs(s_.enrolled_ms)}, {"tier", s_.tier},
          {"points", points},          {"expiring", expiring},                    {"version", s_.seq},
          {"locale", s_.locale},       {"time_zone", s_.time_zone}};
}

}  // namespace tessera::rewards
