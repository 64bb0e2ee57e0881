#include "http_routes.h"

#include "tessera/crypto.h"
#include "tessera/errors.h"
#include "tessera/ids.h"

namespace tessera::notifications {

namespace {
const std::string& IdParam(const HttpRequest& req, const char* name) {
  const std::string& id = req.Param(name);
  if (!IsValidId(id)) throw ProblemError(Problem::Validation(std::string("/path/") + name, "invalid identifier"));
  return id;
}
int Limit(const HttpRequest& req) {
  auto l = req.Query("limit");
  if (!l) return 20;
  if (l->empty() || l->size() > 3 || l->find_first_not_of("0123456789") != std::string::npos || std::stoi(*l) < 1 || std::stoi(*l) > 100) {
    throw ProblemError(Problem::Validation("/query/limit", "limit must be an integer from 1 to 100"));
  }
  return std::stoi(*l);
}
int64_t Offset(const HttpRequest& req) {
  auto c = req.Query("cursor");
  if (!c || c->empty()) return 0;
  auto d = Base64UrlDecode(*c);
  if (!d || d->rfind("off:", 0) != 0 || d->size() < 5 || d->size() > 20 || d->find_first_not_of("0123456789", 4) != std::string::npos) {
    throw ProblemError(Problem::Validation("/query/cursor", "cursor is not one this API issued"));
  }
  return std::stoll(d->substr(4));
}
}  // namespace

void RegisterRoutes(HttpServer& server, NotificationsApp& app) {
  const RoleSet members{Role::kApp, Role::kStorefront, Role::kAgent};
  const RoleSet ops{Role::kOps};
  server.Route("GET", "/v1/members/{id}/preferences", {members, false, "id"},
               [&app](const HttpRequest& req) { return app.GetPreferences(IdParam(req, "id")); });
  server.Route("PUT", "/v1/members/{id}/preferences", {members, false, "id"}, [&app](const HttpRequest& req) {
    return app.PutPreferences(IdParam(req, "id"), ParseJsonObject(req.body));
  });
  server.Route("GET", "/v1/members/{id}/inbox", {members, false, "id"}, [&app](const HttpRequest& req) {
    auto unread = req.Query("unread_only");
    if (unread && *unread != "true" && *unread != "false" && *unread != "1" && *unread != "0" && !unread->empty()) {
      throw ProblemError(Problem::Validation("/query/unread_only", "unread_only is true or false"));
    }
    const bool only = unread && (*unread == "true" || *unread == "1" || unread->empty());
    return app.Inbox(IdParam(req, "id"), only, Offset(req), Limit(req));
  });
  server.Route("POST", "/v1/members/{id}/inbox/{notification_id}/read", {members, false, "id"}, [&app](const HttpRequest& req) {
    return app.MarkRead(IdParam(req, "id"), IdParam(req, "notification_id"));
  });
  server.Route("GET", "/v1/templates/{event_type}/{locale}", {ops}, [&app](const HttpRequest& req) {
    return app.GetTemplate(req.Param("event_type"), req.Param("locale"));
  });
  server.Route("PUT", "/v1/templates/{event_type}/{locale}", {ops}, [&app](const HttpRequest& req) {
    return app.PutTemplate(req.Param("event_type"), req.Param("locale"), ParseJsonObject(req.body));
  });
}

}  // namespace tessera::notifications
