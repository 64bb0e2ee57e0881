// Framework-free HTTP request and response types that handlers see. No Pistache here:
// handlers and their tests build these directly.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/auth.h"
#include "tessera/errors.h"

namespace tessera {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string
  std::string route;   // the matched pattern, e.g. "/v1/members/{id}"
  std::map<std::string, std::string> path_params;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string request_id;
  Principal principal;  // empty for public routes

  std::optional<std::string> Header(const std::string& lower_name) const;
  const std::string& Param(const std::string& name) const;  // "" when absent
  std::optional<std::string> Query(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Json(int status, const nlohmann::json& body);
  static HttpResponse FromProblem(const Problem& problem);
  static HttpResponse Text(int status, std::string body, std::string content_type);
};

// `?limit=` of a list: 1-100, `fallback` when absent. Throws ProblemError 400 otherwise.
int ParseLimit(const HttpRequest& request, int fallback = 20);
// Opaque list cursors: base64url("<kind>:<n>"). nullopt when absent; 400 when the cursor is not
// one this API issued for `kind`.
std::optional<int64_t> ParseCursor(const HttpRequest& request, const std::string& kind);
std::string MakeCursor(const std::string& kind, int64_t n);

// The Idempotency-Key header (SPEC §3). nullopt when absent — unless `required_because` is
// given, then 400 idempotency_key_required with that detail; 400 idempotency_key_invalid when it
// is not 1-128 printable ASCII characters.
std::optional<std::string> ReadIdempotencyKey(const HttpRequest& request, const std::string& required_because = "");
// The If-Match header as a version number (`12` or `"12"`). nullopt when absent; 400
// validation_failed at /headers/If-Match with `detail` otherwise.
std::optional<int64_t> ReadIfMatch(const HttpRequest& request, const std::string& detail);

// `locale` if it is a locale tag (IsValidLocale); 400 validation_failed at `pointer` otherwise
// (for locales in paths and query strings; bodies use JsonObjectReader::OptionalLocale).
const std::string& RequireLocale(const std::string& locale, const std::string& pointer);

// Parses a JSON object body. Throws ProblemError 400 `malformed_json` for invalid JSON or a
// non-object, so handlers never see a half-parsed body.
nlohmann::json ParseJsonObject(const std::string& body);

// Field-by-field reading of a JSON object with SPEC §3 rules: unknown fields are rejected,
// wrong types and out-of-range values are 400 `validation_failed` naming the field.
class JsonObjectReader {
 public:
  // Throws ProblemError if `object` has a member not in `allowed`. `prefix` is the JSON pointer
  // of this object within the body ("" at the top).
  JsonObjectReader(const nlohmann::json& object, std::initializer_list<const char*> allowed,
                   std::string prefix = "");

  std::string RequiredString(const char* name, size_t min_len = 1, size_t max_len = 256) const;
  std::optional<std::string> OptionalString(const char* name, size_t min_len = 0, size_t max_len = 256) const;
  // An id per SPEC §3 ([A-Za-z0-9_.:-]{1,64}).
  std::string RequiredId(const char* name) const;
  std::optional<std::string> OptionalId(const char* name) const;
  // A locale tag (IsValidLocale).
  std::optional<std::string> OptionalLocale(const char* name) const;
  // An IANA time zone this machine knows (IsKnownTimeZone), 1-64 bytes.
  std::optional<std::string> OptionalTimeZone(const char* name) const;
  int64_t RequiredInt(const char* name, int64_t min, int64_t max) const;
  std::optional<int64_t> OptionalInt(const char* name, int64_t min, int64_t max) const;
  std::optional<bool> OptionalBool(const char* name) const;
  // One of `choices`.
  std::string RequiredEnum(const char* name, std::initializer_list<const char*> choices) const;
  const nlohmann::json* Optional(const char* name) const;  // nullptr when absent or null
  const nlohmann::json& Required(const char* name) const;
  std::string Pointer(const char* name) const { return prefix_ + "/" + name; }

 private:
  const nlohmann::json& object_;
  std::string prefix_;
};

}  // namespace tessera
