#include "tessera/logging.h"

#include <algorithm>
#include <cctype>

namespace tessera {

std::optional<LogLevel> ParseLogLevel(std::string_view text) {
  std::string s(text);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (s == "debug") return LogLevel::kDebug;
  if (s == "info") return LogLevel::kInfo;
  if (s == "warn" || s == "warning") return LogLevel::kWarn;
  if (s == "error") return LogLevel::kError;
  return std::nullopt;
}

Logger::Logger(std::string service, LogLevel level, std::ostream& out, const Clock& clock)
    : service_(std::move(service)), level_(level), out_(out), clock_(clock) {}

void Logger::Log(LogLevel level, std::string_view message, const nlohmann::json& fields,
                 std::string_view request_id) {
  if (!Enabled(level)) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  nlohmann::json line = nlohmann::json::object();
  line["time"] = FormatRfc3339(clock_.Now());
  line["level"] = kNames[static_cast<int>(level)];
  line["service"] = service_;
  line["message"] = message;
  if (!request_id.empty()) line["request_id"] = request_id;
  if (fields.is_object()) {
    for (auto it = fields.begin(); it != fields.end(); ++it) line.emplace(it.key(), it.value());
  }
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  std::lock_guard lock(mu_);
  out_ << text << std::flush;
}

}  // namespace tessera
