#include "member_state.h"

#include <stdexcept>

#include "tessera/json_text.h"

namespace tessera::rewards {

int64_t MemberState::Vested() const {
  int64_t v = 0;
  for (const auto& l : lots) {
    if (l.vests_ms == 0) v += l.remaining;
  }
  return v;
}

int64_t MemberState::Pending() const {
  int64_t v = 0;
  for (const auto& l : lots) {
    if (l.vests_ms != 0) v += l.remaining;
  }
  return v;
}

int64_t MemberState::Qualifying(int64_t now_ms, int window_days) const {
  const int64_t first_day = now_ms / kDayMs - window_days + 1;
  int64_t q = 0;
  for (const auto& [day, points] : qualifying_days) {
    if (day >= first_day) q += points;
  }
  return q;
}

std::string MemberState::ToJson() const {
  // Written as text (the state is written on every change); fields at their default — no
  // debt, nothing held, no active hold, an empty profile — are left out and read back as
  // their default (a member's state is in Redis for every member: bench/README.md, memory).
  const auto num = [](std::string& out, std::string_view key, int64_t v) {
    out += key;
    AppendJsonInt(out, v);
  };
  const auto str = [](std::string& out, std::string_view key, std::string_view v) {
    out += key;
    AppendJsonString(out, v);
  };
  std::string out;
  out.reserve(256 + 64 * lots.size() + 128 * holds.size());
  str(out, "{\"ch\":", channel);
  if (debt != 0) num(out, ",\"debt\":", debt);
  num(out, ",\"enr\":", enrolled_ms);
  if (held != 0) num(out, ",\"held\":", held);
  if (!holds.empty()) {
    out += ",\"holds\":[";
    for (size_t i = 0; i < holds.size(); ++i) {
      const ActiveHold& h = holds[i];
      if (i > 0) out += ',';
      out += "{\"al\":[";
      for (size_t k = 0; k < h.allocations.size(); ++k) {
        const Allocation& a = h.allocations[k];
        out += k > 0 ? ",[" : "[";
        AppendJsonString(out, a.lot_id);
        num(out, ",", a.points);
        num(out, ",", a.expires_ms);
        out += ']';
      }
      num(out, "],\"at\":", h.created_ms);
      str(out, ",\"ch\":", h.channel);
      num(out, ",\"exp\":", h.expires_ms);
      str(out, ",\"id\":", h.id);
      num(out, ",\"p\":", h.points);
      str(out, ",\"st\":", h.store_id);
      out += '}';
    }
    out += ']';
  }
  num(out, ",\"lc\":", lot_counter);
  num(out, ",\"life\":", lifetime);
  str(out, ",\"loc\":", locale);
  out += ",\"lots\":[";
  for (size_t i = 0; i < lots.size(); ++i) {
    const Lot& l = lots[i];
    out += i > 0 ? ",[" : "[";
    AppendJsonString(out, l.id);
    num(out, ",", l.remaining);
    num(out, ",", l.expires_ms);
    num(out, ",", l.vests_ms);
    out += l.warned ? ",1," : ",0,";
    AppendJsonString(out, l.order_id);
    out += ']';
  }
  str(out, "],\"m\":", member_id);
  if (!profile.is_null() && !profile.empty()) {
    out += ",\"prof\":";
    AppendJson(out, profile);
  }
  out += ",\"q\":{";
  bool first = true;
  for (const auto& [day, points] : qualifying_days) {
    if (!first) out += ',';
    first = false;
    out += '"';
    AppendJsonInt(out, day);
    num(out, "\":", points);
  }
  out += '}';
  if (records_since != 0) num(out, ",\"rec\":", records_since);
  num(out, ",\"seq\":", seq);
  str(out, ",\"tier\":", tier);
  str(out, ",\"tz\":", time_zone);
  out += ",\"v\":2}";
  return out;
}

MemberState MemberState::FromJson(const std::string& text) {
  try {
    const auto j = nlohmann::json::parse(text);
    MemberState s;
    s.seq = j.at("seq");
    s.member_id = j.at("m");
    s.tier = j.at("tier");
    s.enrolled_ms = j.at("enr");
    s.channel = j.at("ch");
    s.locale = j.at("loc");
    s.time_zone = j.at("tz");
    s.profile = j.value("prof", nlohmann::json::object());
    s.debt = j.value("debt", int64_t{0});
    s.lifetime = j.at("life");
    s.held = j.value("held", int64_t{0});
    s.lot_counter = j.at("lc");
    for (const auto& l : j.at("lots")) {
      s.lots.push_back({l.at(0), l.at(1), l.at(2), l.at(3), l.at(4).get<int>() != 0, l.at(5)});
    }
    for (const auto& h : j.value("holds", nlohmann::json::array())) {
      ActiveHold hold{h.at("id"), h.at("p"), h.at("exp"), h.at("at"), h.at("ch"), h.at("st"), {}};
      for (const auto& a : h.at("al")) hold.allocations.push_back({a.at(0), a.at(1), a.at(2)});
      s.holds.push_back(std::move(hold));
    }
    for (auto it = j.at("q").begin(); it != j.at("q").end(); ++it) {
      s.qualifying_days[std::stoll(it.key())] = it.value().get<int64_t>();
    }
    // Format 2 leaves "rec" out when the member has no record; format 1 did not keep it, so
    // its records may be as old as the member.
    s.records_since = j.value("rec", j.value("v", 1) < 2 ? s.enrolled_ms : int64_t{0});
    return s;
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("member state is malformed: ") + e.what());
  }
}

}  // namespace tessera::rewards
