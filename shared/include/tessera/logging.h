// Structured logs: one JSON object per line on stderr (or a given stream):
// {"time","level","service","message","request_id"?, ...fields}. Thread-safe; a line is
// written with one call so lines from different threads never interleave.
#pragma once

#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>

#include "tessera/clock.h"

namespace tessera {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug" | "info" | "warn" | "error" (case-insensitive); nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view text);

class Logger {
 public:
  // `out` must outlive the logger; `clock` too.
  Logger(std::string service, LogLevel level, std::ostream& out, const Clock& clock);

  bool Enabled(LogLevel level) const { return level >= level_; }
  // `fields` must be a JSON object or null. `request_id` may be empty.
  void Log(LogLevel level, std::string_view message, const nlohmann::json& fields = nullptr,
           std::string_view request_id = {});
  void Debug(std::string_view m, const nlohmann::json& f = nullptr) { Log(LogLevel::kDebug, m, f); }
  void Info(std::string_view m, const nlohmann::json& f = nullptr) { Log(LogLevel::kInfo, m, f); }
  void Warn(std::string_view m, const nlohmann::json& f = nullptr) { Log(LogLevel::kWarn, m, f); }
  void Error(std::string_view m, const nlohmann::json& f = nullptr) { Log(LogLevel::kError, m, f); }

  const std::string& service() const { return service_; }

 private:
  std::string service_;
  LogLevel level_;
  std::ostream& out_;
  const Clock& clock_;
  std::mutex mu_;
};

}  // namespace tessera
