// Typed errors. Invalid input is an expected outcome (a Problem, rendered as RFC 9457
// application/problem+json); failures of outside systems are exceptions that say whether a
// retry may help (Unavailable) or not.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace tessera {

// Stable machine codes of SPEC §3 (the `code` member of a problem document).
namespace codes {
inline constexpr const char* kValidationFailed = "validation_failed";
inline constexpr const char* kMalformedJson = "malformed_json";
inline constexpr const char* kNotFound = "not_found";
inline constexpr const char* kMethodNotAllowed = "method_not_allowed";
inline constexpr const char* kPayloadTooLarge = "payload_too_large";
inline constexpr const char* kMalformedRequest = "malformed_request";  // not HTTP/1.1 the server can read
inline constexpr const char* kRequestHeadersTooLarge = "request_headers_too_large";
// more pipelined requests of one connection await their answers than the server holds
inline constexpr const char* kTooManyPipelinedRequests = "too_many_pipelined_requests";
inline constexpr const char* kUnauthorized = "unauthorized";
inline constexpr const char* kForbidden = "forbidden";
inline constexpr const char* kIdempotencyKeyRequired = "idempotency_key_required";
inline constexpr const char* kIdempotencyKeyInvalid = "idempotency_key_invalid";
inline constexpr const char* kIdempotencyKeyReused = "idempotency_key_reused";
inline constexpr const char* kRequestInProgress = "request_in_progress";
inline constexpr const char* kPreconditionFailed = "precondition_failed";
inline constexpr const char* kServiceUnavailable = "service_unavailable";
inline constexpr const char* kInternal = "internal_error";
}  // namespace codes

// An RFC 9457 problem. `type` is derived from `code`
// ("https://tessera.dev/problems/<code>"), `title` is the short human summary.
struct Problem {
  int status = 400;
  std::string code;
  std::string title;
  std::string detail;
  std::string field;         // JSON pointer of the offending field, when there is one
  nlohmann::json extra;      // further members (object or null)

  nlohmann::json ToJson() const;
  // Never throws on text that is not UTF-8 (a percent-decoded path segment quoted in `detail`,
  // say): such bytes are written as U+FFFD.
  std::string Body() const;

  static Problem Validation(std::string field, std::string detail);
  static Problem NotFound(std::string detail);
  static Problem Make(int status, std::string code, std::string detail);
};

// Thrown by handlers and domain code to end a request with a problem response.
class ProblemError : public std::runtime_error {
 public:
  explicit ProblemError(Problem p) : std::runtime_error(p.detail), problem_(std::move(p)) {}
  const Problem& problem() const { return problem_; }

 private:
  Problem problem_;
};

// An outside dependency (Redis, Kafka) could not be reached or timed out. Retryable; a request
// that meets it answers 503 and changes nothing it has not confirmed.
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An outside dependency answered with an error that a retry will not fix (a Lua script error,
// a wrong type). A programming or data error: 500 and a log line.
class DependencyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Invalid configuration at start-up. The message names the variable or field.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tessera
