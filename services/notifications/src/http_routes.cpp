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
    return app.Inbox(IdParam(req, "id"), only, ParseCursor(req, "off").value_or(0), ParseLimit(req));
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
