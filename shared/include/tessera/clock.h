// Time for domain logic. Every component that needs "now" takes a `const Clock&`, so tests
// move a ManualClock instead of sleeping. Timestamps on the wire are RFC 3339 UTC.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

// Source of wall-clock time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

// The real wall clock, millisecond resolution.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override;
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start);
  TimePoint Now() const override;
  void Set(TimePoint t);
  void Advance(std::chrono::milliseconds d);

 private:
  std::atomic<int64_t> ms_;
};

int64_t ToUnixMillis(TimePoint t);
TimePoint FromUnixMillis(int64_t ms);

// "2026-11-22T06:43:24.123Z" (milliseconds always present, always UTC).
std::string FormatRfc3339(TimePoint t);

// Parses RFC 3339 date-times ("2026-11-22T06:43:24Z", fractional seconds and numeric offsets
// accepted). Returns nullopt for anything else, including impossible dates.
std::optional<TimePoint> ParseRfc3339(std::string_view text);

// True for a zone of the IANA database this machine has ("Europe/Paris", "UTC"); names
// longer than 63 bytes are refused without a lookup.
bool IsKnownTimeZone(const std::string& name);

}  // namespace tessera
