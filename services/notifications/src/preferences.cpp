#include "preferences.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <chrono>
#include <cstdio>

#include "tessera/clock.h"
#include "tessera/errors.h"
#include "tessera/http_types.h"

namespace tessera::notifications {

namespace {
using SysMs = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

[[noreturn]] void Invalid(const std::string& field, const std::string& detail) {
  throw ProblemError(Problem::Validation(field, detail));
}

cctz::time_zone Zone(const std::string& name) {
  cctz::time_zone tz;
  if (!cctz::load_time_zone(name, &tz)) cctz::load_time_zone("UTC", &tz);
  return tz;
}

std::optional<int> ParseHhMm(const std::string& s) {
  if (s.size() != 5 || s[2] != ':' || !isdigit(s[0]) || !isdigit(s[1]) || !isdigit(s[3]) || !isdigit(s[4])) return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::string HhMm(int minutes) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", (minutes / 60) % 24, minutes % 60);
  return buf;
}

bool ValidEmail(const std::string& s) {
  const auto at = s.find('@');
  if (at == std::string::npos || at == 0 || at != s.rfind('@') || s.size() > 254) return false;
  const std::string domain = s.substr(at + 1);
  const auto dot = domain.find('.');
  if (dot == std::string::npos || dot == 0 || domain.back() == '.') return false;
  for (char c : s) {
    if (c <= ' ' || c == '"' || c == ',' || c == ';' || c == '<' || c == '>' || c == '(' || c == ')') return false;
  }
  return true;
}

bool ValidPhone(const std::string& s) {  // E.164
  if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  return s.find_first_not_of("0123456789", 1) == std::string::npos;
}

ChannelPreference ParseChannel(const nlohmann::json* j, const char* name, const char* address_field,
                               bool (*valid)(const std::string&), const char* what) {
  ChannelPreference p;
  if (!j) return p;
  const std::string prefix = std::string("/channels/") + name;
  if (address_field) {
    JsonObjectReader r(*j, {address_field, "enabled"}, prefix);
    p.address = r.OptionalString(address_field, 0, 512).value_or("");  // "" = no address
    p.enabled = r.OptionalBool("enabled").value_or(!p.address.empty());
    if (!p.address.empty() && valid && !valid(p.address)) Invalid(prefix + "/" + address_field, std::string("not a valid ") + what);
    if (p.enabled && p.address.empty()) Invalid(prefix + "/" + address_field, std::string(name) + " is enabled but has no " + address_field);
  } else {
    JsonObjectReader r(*j, {"enabled"}, prefix);
    p.enabled = r.OptionalBool("enabled").value_or(true);
  }
  return p;
}
}  // namespace

Preferences Preferences::Defaults(const std::string& locale, const std::string& time_zone) {
  Preferences p;
  p.locale = locale.empty() ? "en" : locale;
  p.time_zone = IsKnownTimeZone(time_zone) ? time_zone : "UTC";
  return p;
}

nlohmann::json Preferences::ToJson() const {
  nlohmann::json j = {{"locale", locale},
                      {"time_zone", time_zone},
                      {"quiet_hours", nullptr},
                      {"channels",
                       {{"email", {{"address", email.address}, {"enabled", email.enabled}}},
                        {"sms", {{"phone", sms.address}, {"enabled", sms.enabled}}},
                        {"push", {{"token", push.address}, {"enabled", push.enabled}}},
                        {"inbox", {{"enabled", inbox.enabled}}}}},
                      {"marketing_opt_in", marketing_opt_in}};
  if (quiet_hours) j["quiet_hours"] = {{"start", HhMm(quiet_hours->first)}, {"end", HhMm(quiet_hours->second)}};
  return j;
}

Preferences ParsePreferences(const nlohmann::json& body) {
  JsonObjectReader r(body, {"locale", "time_zone", "quiet_hours", "channels", "marketing_opt_in"});
  Preferences p;
  p.locale = r.OptionalLocale("locale").value_or("en");
  p.time_zone = r.OptionalTimeZone("time_zone").value_or("UTC");
  if (const auto* q = r.Optional("quiet_hours")) {
    JsonObjectReader qr(*q, {"start", "end"}, "/quiet_hours");
    auto start = ParseHhMm(qr.RequiredString("start", 1, 5));
    if (!start) Invalid("/quiet_hours/start", "quiet hours are HH:MM (00:00-23:59)");
    auto end = ParseHhMm(qr.RequiredString("end", 1, 5));
    if (!end) Invalid("/quiet_hours/end", "quiet hours are HH:MM (00:00-23:59)");
    if (*start == *end) Invalid("/quiet_hours", "start and end must differ");
    p.quiet_hours = {{*start, *end}};
  }
  if (const auto* ch = r.Optional("channels")) {
    JsonObjectReader cr(*ch, {"email", "sms", "push", "inbox"}, "/channels");
    p.email = ParseChannel(cr.Optional("email"), "email", "address", ValidEmail, "e-mail address");
    p.sms = ParseChannel(cr.Optional("sms"), "sms", "phone", ValidPhone, "E.164 phone number (+8190...)");
    p.push = ParseChannel(cr.Optional("push"), "push", "token", nullptr, "");
    if (const auto* inbox = cr.Optional("inbox")) p.inbox = ParseChannel(inbox, "inbox", nullptr, nullptr, "");
  }
  p.marketing_opt_in = r.OptionalBool("marketing_opt_in").value_or(false);
  return p;
}

Preferences PreferencesFromStored(const nlohmann::json& stored) { return ParsePreferences(stored); }

std::optional<int64_t> QuietHoursEnd(const Preferences& prefs, int64_t now_ms) {
  if (!prefs.quiet_hours) return std::nullopt;
  const auto tz = Zone(prefs.time_zone);
  const auto now = std::chrono::time_point_cast<std::chrono::seconds>(SysMs(std::chrono::milliseconds(now_ms)));
  const cctz::civil_second local = cctz::convert(now, tz);
  const int minute = static_cast<int>(local.hour() * 60 + local.minute());
  const auto [start, end] = *prefs.quiet_hours;
  const bool quiet = start < end ? (minute >= start && minute < end) : (minute >= start || minute < end);
  if (!quiet) return std::nullopt;
  cctz::civil_day day(local);
  if (start > end && minute >= start) day += 1;  // quiet hours run past midnight: they end tomorrow
  const cctz::civil_second end_local(day.year(), day.month(), day.day(), end / 60, end % 60, 0);
  const auto end_utc = cctz::convert(end_local, tz);
  return std::chrono::duration_cast<std::chrono::milliseconds>(end_utc.time_since_epoch()).count();
}

std::string LocalDate(const std::string& time_zone, int64_t ms) {
  const auto tz = Zone(time_zone);
  const auto t = std::chrono::time_point_cast<std::chrono::seconds>(SysMs(std::chrono::milliseconds(ms)));
  const cctz::civil_day d(cctz::convert(t, tz));
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", static_cast<int>(d.year()), d.month(), d.day());
  return buf;
}

}  // namespace tessera::notifications
