#include "http_routes.h"

#include "tessera/crypto.h"
#include "tessera/errors.h"
#include "tessera/ids.h"

namespace tessera::offers {

namespace {
const std::string& IdParam(const HttpRequest& req, const char* name) {
  const std::string& id = req.Param(name);
  if (!IsValidId(id)) {
    throw ProblemError(Problem::Validation(std::string("/path/") + name, std::string(name) + " must be 1-64 characters of [A-Za-z0-9_.:-]"));
  }
  return id;
}

CallContext Context(const HttpRequest& req, bool key_required) {
  CallContext ctx;
  ctx.request_id = req.request_id;
  ctx.idempotency_key = ReadIdempotencyKey(req, key_required ? "offer redemptions need an Idempotency-Key header" : "").value_or("");
  ctx.request_hash = IdempotencyStore::RequestHash(req.method, req.path, req.body);
  return ctx;
}

std::string Channel(const std::optional<std::string>& value, const char* field, bool required) {
  if (!value) {
    if (required) throw ProblemError(Problem::Validation(field, "channel is required (web, app or store)"));
    return "";
  }
  if (*value != "web" && *value != "app" && *value != "store") {
    throw ProblemError(Problem::Validation(field, "channel must be web, app or store"));
  }
  return *value;
}



}  // namespace

void RegisterRoutes(HttpServer& server, OffersApp& app) {
  const RoleSet ops{Role::kOps};
  const RoleSet readers{Role::kStorefront, Role::kPos, Role::kApp};
  const RoleSet feature_readers{Role::kStorefront, Role::kPos, Role::kApp, Role::kAgent, Role::kOps};
  const RoleSet redeemers{Role::kPos, Role::kStorefront, Role::kApp};

  server.Route("POST", "/v1/campaigns", {ops}, [&app](const HttpRequest& req) {
    return app.CreateCampaign(ParseJsonObject(req.body), Context(req, false));
  });
  server.Route("GET", "/v1/campaigns", {ops}, [&app](const HttpRequest& req) {
    auto status = req.Query("status");
    if (status && *status != "draft" && *status != "active" && *status != "paused" && *status != "ended" && *status != "archived") {
      throw ProblemError(Problem::Validation("/query/status", "status must be draft, active, paused, ended or archived"));
    }
    auto channel = req.Query("channel");
    if (channel) Channel(channel, "/query/channel", true);
    return app.ListCampaigns(status, channel, ParseCursor(req, "off").value_or(0), ParseLimit(req, 20));
  });
  server.Route("GET", "/v1/campaigns/{id}", {ops}, [&app](const HttpRequest& req) { return app.GetCampaign(IdParam(req, "id")); });
  server.Route("PUT", "/v1/campaigns/{id}", {ops}, [&app](const HttpRequest& req) {
    return app.ReplaceCampaign(IdParam(req, "id"), ParseJsonObject(req.body), ReadIfMatch(req, "If-Match must be a campaign version"), Context(req, false));
  });
  for (const char* action : {"publish", "pause", "end", "archive"}) {
    const std::string a = action;
    server.Route("POST", "/v1/campaigns/{id}/" + a, {ops}, [&app, a](const HttpRequest& req) {
      return app.Transition(IdParam(req, "id"), a, Context(req, false));
    });
  }
  server.Route("GET", "/v1/campaigns/{id}/stats", {ops}, [&app](const HttpRequest& req) { return app.CampaignStats(IdParam(req, "id")); });

  server.Route("GET", "/v1/members/{id}/offers", {readers, false, "id"}, [&app](const HttpRequest& req) {
    const std::string channel = Channel(req.Query("channel"), "/query/channel", true);
    auto locale = req.Query("locale");
    if (locale) RequireLocale(*locale, "/query/locale");
    return app.OffersFor(IdParam(req, "id"), channel, ParseLimit(req, 10), locale);
  });
  server.Route("GET", "/v1/members/{id}/features", {feature_readers, false, "id"},
               [&app](const HttpRequest& req) { return app.Features(IdParam(req, "id")); });
  server.Route("POST", "/v1/members/{id}/offers/{offer_id}/activate", {readers, false, "id"}, [&app](const HttpRequest& req) {
    std::optional<std::string> channel = req.Query("channel");
    if (!req.body.empty()) {
      auto body = ParseJsonObject(req.body);
      JsonObjectReader r(body, {"channel"});
      if (auto ch = r.OptionalString("channel", 1, 16)) channel = ch;
    }
    return app.Activate(IdParam(req, "id"), IdParam(req, "offer_id"), Channel(channel, "/channel", false), Context(req, false));
  });
  server.Route("POST", "/v1/members/{id}/offers/{offer_id}/redeem", {redeemers, false, "id"}, [&app](const HttpRequest& req) {
    const std::string& member = IdParam(req, "id");
    const std::string& offer = IdParam(req, "offer_id");
    auto body = ParseJsonObject(req.body);
    JsonObjectReader r(body, {"order_id", "channel", "decision_id"});
    RedeemBody in;
    in.order_id = r.RequiredId("order_id");
    in.channel = r.RequiredEnum("channel", {"web", "app", "store"});
    in.decision_id = r.OptionalString("decision_id", 1, 8192).value_or("");
    CallContext ctx = Context(req, true);
    return app.Redeem(member, offer, in, ctx);
  });
}

}  // namespace tessera::offers
