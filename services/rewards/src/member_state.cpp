#include "member_state.h"

#include <stdexcept>

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
  nlohmann::json lots_j = nlohmann::json::array();
  for (const auto& l : lots) {
    lots_j.push_back({l.id, l.remaining, l.expires_ms, l.vests_ms, l.warned ? 1 : 0, l.order_id});
  }
  nlohmann::json holds_j = nlohmann::json::array();
  for (const auto& h : holds) {
    nlohmann::json al = nlohmann::json::array();
    for (const auto& a : h.allocations) al.push_back({a.lot_id, a.points, a.expires_ms});
    holds_j.push_back({{"id", h.id}, {"p", h.points}, {"exp", h.expires_ms}, {"at", h.created_ms},
                       {"ch", h.channel}, {"st", h.store_id}, {"al", al}});
  }
  nlohmann::json q = nlohmann::json::object();
  for (const auto& [day, points] : qualifying_days) q[std::to_string(day)] = points;
  nlohmann::json j = {{"v", 1},          {"seq", seq},         {"m", member_id},   {"tier", tier},
                      {"enr", enrolled_ms}, {"ch", channel},    {"loc", locale},    {"tz", time_zone},
                      {"prof", profile},  {"debt", debt},       {"life", lifetime}, {"held", held},
                      {"lc", lot_counter}, {"lots", lots_j},    {"holds", holds_j}, {"q", q}};
  return j.dump();
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
    s.profile = j.at("prof");
    s.debt = j.at("debt");
    s.lifetime = j.at("life");
    s.held = j.at("held");
    s.lot_counter = j.at("lc");
    for (const auto& l : j.at("lots")) {
      s.lots.push_back({l.at(0), l.at(1), l.at(2), l.at(3), l.at(4).get<int>() != 0, l.at(5)});
    }
    for (const auto& h : j.at("holds")) {
      ActiveHold hold{h.at("id"), h.at("p"), h.at("exp"), h.at("at"), h.at("ch"), h.at("st"), {}};
      for (const auto& a : h.at("al")) hold.allocations.push_back({a.at(0), a.at(1), a.at(2)});
      s.holds.push_back(std::move(hold));
    }
    for (auto it = j.at("q").begin(); it != j.at("q").end(); ++it) {
      s.qualifying_days[std::stoll(it.key())] = it.value().get<int64_t>();
    }
    return s;
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("member state is malformed: ") + e.what());
  }
}

}  // namespace tessera::rewards
