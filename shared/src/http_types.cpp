#include "tessera/http_types.h"

#include <limits>

#include "tessera/clock.h"
#include "tessera/crypto.h"
#include "tessera/ids.h"

namespace tessera {

std::optional<std::string> HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

const std::string& HttpRequest::Param(const std::string& name) const {
  static const std::string kEmpty;
  auto it = path_params.find(name);
  return it == path_params.end() ? kEmpty : it->second;
}

std::optional<std::string> HttpRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

HttpResponse HttpResponse::Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

HttpResponse HttpResponse::FromProblem(const Problem& problem) {
  HttpResponse r;
  r.status = problem.status;
  r.body = problem.Body();
  r.content_type = "application/problem+json";
  return r;
}

HttpResponse HttpResponse::Text(int status, std::string body, std::string content_type) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

std::optional<std::string> ReadIdempotencyKey(const HttpRequest& request, const std::string& required_because) {
  auto key = request.Header("idempotency-key");
  if (!key) {
    if (!required_because.empty()) {
      throw ProblemError(Problem::Make(400, codes::kIdempotencyKeyRequired, required_because));
    }
    return std::nullopt;
  }
  if (!IsValidIdempotencyKey(*key)) {
    throw ProblemError(Problem::Make(400, codes::kIdempotencyKeyInvalid, "Idempotency-Key must be 1-128 printable ASCII characters"));
  }
  return key;
}

std::optional<int64_t> ReadIfMatch(const HttpRequest& request, const std::string& detail) {
  auto m = request.Header("if-match");
  if (!m) return std::nullopt;
  std::string v = *m;
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos) {
    throw ProblemError(Problem::Validation("/headers/If-Match", detail));
  }
  return std::stoll(v);
}

int ParseLimit(const HttpRequest& request, int fallback) {
  auto l = request.Query("limit");
  if (!l) return fallback;
  if (l->empty() || l->size() > 3 || l->find_first_not_of("0123456789") != std::string::npos || std::stoi(*l) < 1 ||
      std::stoi(*l) > 100) {
    throw ProblemError(Problem::Validation("/query/limit", "limit must be an integer from 1 to 100"));
  }
  return std::stoi(*l);
}

std::optional<int64_t> ParseCursor(const HttpRequest& request, const std::string& kind) {
  auto c = request.Query("cursor");
  if (!c || c->empty()) return std::nullopt;
  auto decoded = Base64UrlDecode(*c);
  const std::string prefix = kind + ":";
  if (!decoded || decoded->rfind(prefix, 0) != 0 || decoded->size() == prefix.size() ||
      decoded->size() > prefix.size() + 18 || decoded->find_first_not_of("0123456789", prefix.size()) != std::string::npos) {
    throw ProblemError(Problem::Validation("/query/cursor", "cursor is not one this API issued"));
  }
  return std::stoll(decoded->substr(prefix.size()));
}

std::string MakeCursor(const std::string& kind, int64_t n) { return Base64UrlEncode(kind + ":" + std::to_string(n)); }

const std::string& RequireLocale(const std::string& locale, const std::string& pointer) {
  if (!IsValidLocale(locale)) {
    throw ProblemError(Problem::Validation(
        pointer, "not a locale tag: 2-16 characters of [A-Za-z0-9_-] starting with a letter (e.g. en, ja-JP)"));
  }
  return locale;
}

nlohmann::json ParseJsonObject(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    throw ProblemError(Problem::Make(400, codes::kMalformedJson, "the request body is not valid JSON"));
  }
  if (!j.is_object()) {
    throw ProblemError(Problem::Make(400, codes::kMalformedJson, "the request body must be a JSON object"));
  }
  return j;
}

JsonObjectReader::JsonObjectReader(const nlohmann::json& object,
                                   std::initializer_list<const char*> allowed, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {
  if (!object_.is_object()) {
    throw ProblemError(Problem::Validation(prefix_.empty() ? "/" : prefix_, "must be an object"));
  }
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    bool known = false;
    for (const char* a : allowed) known = known || it.key() == a;
    if (!known) {
      throw ProblemError(Problem::Validation(prefix_ + "/" + it.key(), "unknown field '" + it.key() + "'"));
    }
  }
}

const nlohmann::json* JsonObjectReader::Optional(const char* name) const {
  auto it = object_.find(name);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

const nlohmann::json& JsonObjectReader::Required(const char* name) const {
  const nlohmann::json* v = Optional(name);
  if (!v) throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " is required"));
  return *v;
}

std::optional<std::string> JsonObjectReader::OptionalString(const char* name, size_t min_len,
                                                            size_t max_len) const {
  const nlohmann::json* v = Optional(name);
  if (!v) return std::nullopt;
  if (!v->is_string()) throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " must be a string"));
  std::string s = v->get<std::string>();
  if (s.size() < min_len || s.size() > max_len) {
    throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " must be " +
                                                              std::to_string(min_len) + " to " +
                                                              std::to_string(max_len) + " bytes"));
  }
  return s;
}

std::string JsonObjectReader::RequiredString(const char* name, size_t min_len, size_t max_len) const {
  Required(name);
  return *OptionalString(name, min_len, max_len);
}

std::optional<std::string> JsonObjectReader::OptionalId(const char* name) const {
  auto s = OptionalString(name, 0, 1024);
  if (s && !IsValidId(*s)) {
    throw ProblemError(Problem::Validation(Pointer(name), std::string(name) +
                                                              " must be 1-64 characters of [A-Za-z0-9_.:-]"));
  }
  return s;
}

std::optional<std::string> JsonObjectReader::OptionalLocale(const char* name) const {
  auto s = OptionalString(name, 0, 1024);
  if (s) RequireLocale(*s, Pointer(name));
  return s;
}

std::optional<std::string> JsonObjectReader::OptionalTimeZone(const char* name) const {
  auto s = OptionalString(name, 1, 64);
  if (s && !IsKnownTimeZone(*s)) {
    throw ProblemError(Problem::Validation(Pointer(name), "'" + *s + "' is not an IANA time zone"));
  }
  return s;
}

std::string JsonObjectReader::RequiredId(const char* name) const {
  Required(name);
  return *OptionalId(name);
}

std::optional<int64_t> JsonObjectReader::OptionalInt(const char* name, int64_t min, int64_t max) const {
  const nlohmann::json* v = Optional(name);
  if (!v) return std::nullopt;
  if (!v->is_number_integer()) {
    throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " must be an integer"));
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " is out of range"));
  }
  const int64_t x = v->get<int64_t>();
  if (x < min || x > max) {
    throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " must be between " +
                                                              std::to_string(min) + " and " + std::to_string(max)));
  }
  return x;
}

int64_t JsonObjectReader::RequiredInt(const char* name, int64_t min, int64_t max) const {
  Required(name);
  return *OptionalInt(name, min, max);
}

std::optional<bool> JsonObjectReader::OptionalBool(const char* name) const {
  const nlohmann::json* v = Optional(name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " must be a boolean"));
  return v->get<bool>();
}

std::string JsonObjectReader::RequiredEnum(const char* name, std::initializer_list<const char*> choices) const {
  std::string s = RequiredString(name, 1, 64);
  std::string list;
  for (const char* c : choices) {
    if (s == c) return s;
    list += list.empty() ? c : std::string(", ") + c;
  }
  throw ProblemError(Problem::Validation(Pointer(name), std::string(name) + " must be one of: " + list));
}

}  // namespace tessera
