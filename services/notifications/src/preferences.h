// A member's notification preferences (SPEC §6) and the quiet-hours rule. Members without
// saved preferences get the inbox only, in the locale and time zone they enrolled with (en and
// UTC when unknown), and no marketing.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace tessera::notifications {

struct ChannelPreference {
  std::string address;  // e-mail address, E.164 phone or push token ("" for inbox)
  bool enabled = false;
};

struct Preferences {
  std::string locale = "en";
  std::string time_zone = "UTC";
  std::optional<std::pair<int, int>> quiet_hours;  // minutes after midnight: start, end
  ChannelPreference email, sms, push;
  ChannelPreference inbox{"", true};
  bool marketing_opt_in = false;

  nlohmann::json ToJson() const;
  // Defaults for a member without saved preferences.
  static Preferences Defaults(const std::string& locale, const std::string& time_zone);
};

// Parses a PUT body. Throws ProblemError 400 naming the field (unknown IANA zone, "25:00",
// malformed e-mail or phone, an enabled channel without its address).
Preferences ParsePreferences(const nlohmann::json& body);
Preferences PreferencesFromStored(const nlohmann::json& stored);

// When a marketing message created at `now_ms` may be delivered: nullopt now, or the UTC
// instant quiet hours end in the member's time zone.
std::optional<int64_t> QuietHoursEnd(const Preferences& prefs, int64_t now_ms);

// The member's local calendar date ("2026-11-22") at `ms` (daily caps count by local day).
std::string LocalDate(const std::string& time_zone, int64_t ms);

}  // namespace tessera::notifications
