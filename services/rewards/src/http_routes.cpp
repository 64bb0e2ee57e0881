#include "http_routes.h"

#include <variant>

#include "requests.h"
#include "tessera/crypto.h"
#include "tessera/errors.h"
#include "tessera/ids.h"
#include "tessera/idempotency.h"

namespace tessera::rewards {

namespace {

enum class KeyPolicy { kOptional, kRequired };

HttpResponse ToResponse(const Reply& r) {
  HttpResponse resp;
  resp.status = r.status;
  resp.body = r.body;
  resp.content_type = r.IsProblem() ? "application/problem+json" : "application/json";
  if (r.replayed) resp.headers.emplace_back("Idempotent-Replayed", "true");
  return resp;
}

const std::string& MemberParam(const HttpRequest& req) {
  const std::string& id = req.Param("id");
  if (!IsValidId(id)) throw ProblemError(Problem::Validation("/path/id", "member id must be 1-64 characters of [A-Za-z0-9_.:-]"));
  return id;
}

RequestContext Context(const HttpRequest& req, const std::string& member_id, KeyPolicy policy) {
  RequestContext ctx;
  ctx.member_id = member_id;
  ctx.correlation_id = req.request_id;
  ctx.causation_id = req.request_id;
  ctx.idempotency_key =
      ReadIdempotencyKey(req, policy == KeyPolicy::kRequired ? "this request spends points: send an Idempotency-Key header" : "")
          .value_or("");
  ctx.request_hash = IdempotencyStore::RequestHash(req.method, req.path, req.body);
  ctx.if_match = ReadIfMatch(req, "If-Match must be an account version (an integer)");
  return ctx;
}



// Answers the route's request with the operation's reply or error (an asynchronous operation's
// completion).
RewardsApp::ReplyCallback AnswerWith(HttpResponder responder) {
  return [responder](Reply reply, std::exception_ptr error) {
    if (error) return responder.Fail(error);
    responder.Send(ToResponse(reply));
  };
}

}  // namespace

void RegisterRoutes(HttpServer& server, RewardsApp& app, const Clock& clock) {
  const RoleSet readers{Role::kStorefront, Role::kApp, Role::kPos, Role::kAgent};
  const RoleSet enrollers{Role::kStorefront, Role::kApp, Role::kPos, Role::kAgent};
  const RoleSet earners{Role::kPos};
  const RoleSet redeemers{Role::kPos, Role::kApp};
  const RoleSet holders{Role::kPos};
  const RoleSet reversers{Role::kPos, Role::kAgent};
  const RoleSet agents{Role::kAgent};

  server.Route("GET", "/v1/program", {RoleSet{Role::kStorefront, Role::kApp, Role::kPos, Role::kAgent, Role::kOps}},
               [&app](const HttpRequest&) { return HttpResponse::Json(200, app.rules().document); });

  server.Route("POST", "/v1/members", {enrollers}, [&app](const HttpRequest& req) {
    EnrollInput in = ParseEnroll(ParseJsonObject(req.body));
    if (req.principal.member_id && *req.principal.member_id != in.member_id) {
      throw ProblemError(Problem::Make(403, codes::kForbidden, "an app token may enroll only its own member"));
    }
    RequestContext ctx = Context(req, in.member_id, KeyPolicy::kOptional);
    ctx.channel = in.channel;
    return ToResponse(app.Enroll(in, ctx));
  });

  server.Route("GET", "/v1/members/{id}", {readers, false, "id"},
               [&app](const HttpRequest& req) { return ToResponse(app.GetAccount(MemberParam(req))); });

  // The write paths a till or an app calls most answer asynchronously: the server's thread is
  // free while the commit is in Redis (RewardsApp::RedeemAsync).
  server.RouteAsync("POST", "/v1/members/{id}/earnings", {earners, false, "id"},
                    [&app, &clock](const HttpRequest& req, HttpResponder responder) {
                      const std::string& member = MemberParam(req);
                      EarnInput in = ParseEarn(ParseJsonObject(req.body), app.rules(), clock.Now());
                      RequestContext ctx = Context(req, member, KeyPolicy::kOptional);
                      if (ctx.idempotency_key.empty()) ctx.idempotency_key = "order:" + in.purchase.order_id;  // natural key
                      ctx.channel = in.purchase.channel;
                      app.EarnAsync(in, std::move(ctx), AnswerWith(std::move(responder)));
                    });

  server.RouteAsync("POST", "/v1/members/{id}/redemptions", {redeemers, false, "id"},
                    [&app](const HttpRequest& req, HttpResponder responder) {
                      const std::string& member = MemberParam(req);
                      RedeemInput in = ParseRedeem(ParseJsonObject(req.body));
                      RequestContext ctx = Context(req, member, KeyPolicy::kRequired);
                      ctx.channel = in.channel;
                      app.RedeemAsync(in, std::move(ctx), AnswerWith(std::move(responder)));
                    });

  server.RouteAsync("POST", "/v1/members/{id}/holds", {holders, false, "id"},
                    [&app](const HttpRequest& req, HttpResponder responder) {
                      const std::string& member = MemberParam(req);
                      HoldInput in = ParseHold(ParseJsonObject(req.body), app.rules());
                      RequestContext ctx = Context(req, member, KeyPolicy::kRequired);
                      ctx.channel = in.channel;
                      app.HoldAsync(in, std::move(ctx), AnswerWith(std::move(responder)));
                    });

  for (const char* action : {"capture", "release"}) {
    const std::string verb = action;
    server.RouteAsync("POST", "/v1/members/{id}/holds/{hold_id}/" + verb, {holders, false, "id"},
                      [&app, verb](const HttpRequest& req, HttpResponder responder) {
                        const std::string& member = MemberParam(req);
                        const std::string& hold_id = req.Param("hold_id");
                        if (!IsValidId(hold_id)) throw ProblemError(Problem::Validation("/path/hold_id", "invalid hold id"));
                        if (!req.body.empty() && ParseJsonObject(req.body).size() != 0) {
                          throw ProblemError(Problem::Validation("/", "this request takes no body fields"));
                        }
                        RequestContext ctx = Context(req, member, KeyPolicy::kOptional);
                        if (verb == "capture") {
                          app.CaptureAsync(hold_id, std::move(ctx), AnswerWith(std::move(responder)));
                        } else {
                          app.ReleaseAsync(hold_id, std::move(ctx), AnswerWith(std::move(responder)));
                        }
                      });
  }

  server.Route("POST", "/v1/members/{id}/reversals", {reversers, false, "id"}, [&app](const HttpRequest& req) {
    const std::string& member = MemberParam(req);
    auto in = ParseReversal(ParseJsonObject(req.body));
    RequestContext ctx = Context(req, member, KeyPolicy::kRequired);
    ctx.channel = "system";
    if (auto* refund = std::get_if<RefundInput>(&in)) return ToResponse(app.ReverseRefund(*refund, ctx));
    return ToResponse(app.ReverseRedemption(std::get<CancelRedemptionInput>(in), ctx));
  });

  server.Route("POST", "/v1/members/{id}/adjustments", {agents, false, "id"}, [&app](const HttpRequest& req) {
    const std::string& member = MemberParam(req);
    AdjustInput in = ParseAdjust(ParseJsonObject(req.body));
    RequestContext ctx = Context(req, member, KeyPolicy::kRequired);
    ctx.channel = "agent";
    return ToResponse(app.Adjust(in, ctx));
  });

  server.Route("GET", "/v1/members/{id}/ledger", {readers, false, "id"}, [&app](const HttpRequest& req) {
    return ToResponse(app.Ledger(MemberParam(req), ParseCursor(req, "seq"), ParseLimit(req)));
  });

  server.Route("POST", "/v1/members/{id}/notes", {agents, false, "id"}, [&app](const HttpRequest& req) {
    const std::string& member = MemberParam(req);
    auto body = ParseJsonObject(req.body);
    JsonObjectReader r(body, {"agent_id", "text"});
    const std::string agent = r.RequiredId("agent_id");
    const std::string text = r.RequiredString("text", 1, 4000);
    return ToResponse(app.AddNote(member, agent, text, req.principal.name));
  });

  server.Route("GET", "/v1/members/{id}/notes", {agents, false, "id"}, [&app](const HttpRequest& req) {
    return ToResponse(app.Notes(MemberParam(req), static_cast<int>(ParseCursor(req, "off").value_or(0)), ParseLimit(req)));
  });

  server.Route("GET", "/v1/members/{id}/audit", {agents, false, "id"},
               [&app](const HttpRequest& req) { return ToResponse(app.Audit(MemberParam(req))); });
}

}  // namespace tessera::rewards
