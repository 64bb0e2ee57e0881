#include "tessera/errors.h"

namespace tessera {
namespace {
const char* TitleFor(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Error";
  }
}
}  // namespace

nlohmann::json Problem::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (extra.is_object()) j = extra;
  j["type"] = "https://tessera.dev/problems/" + code;
  j["title"] = title.empty() ? TitleFor(status) : title;
  j["status"] = status;
  j["detail"] = detail;
  j["code"] = code;
  if (!field.empty()) j["field"] = field;
  return j;
}

std::string Problem::Body() const {
  return ToJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Problem Problem::Validation(std::string field, std::string detail) {
  Problem p = Make(400, codes::kValidationFailed, std::move(detail));
  p.field = std::move(field);
  return p;
}

Problem Problem::NotFound(std::string detail) { return Make(404, codes::kNotFound, std::move(detail)); }

Problem Problem::Make(int status, std::string code, std::string detail) {
  Problem p;
  p.status = status;
  p.code = std::move(code);
  p.title = TitleFor(status);
  p.detail = std::move(detail);
  return p;
}

}  // namespace tessera
