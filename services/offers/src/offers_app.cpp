#include "offers_app.h"

#include <climits>

#include "quote.h"
#include "ranking.h"
#include "tessera/crypto.h"
#include "tessera/errors.h"
#include "tessera/events.h"
#include "tessera/ids.h"
#include "tessera/json_text.h"
#include "tessera/keys.h"

namespace tessera::offers {

namespace {
HttpResponse ProblemResponse(int status, const std::string& code, const std::string& detail) {
  return HttpResponse::FromProblem(Problem::Make(status, code, detail));
}

std::string RecordKey(const std::string& member_id, const std::string& key) {
  return IdempotencyKey(BucketTag(MemberBucket(member_id)), "offers:" + member_id, key);
}

std::map<std::string, MemberOfferState> States(const std::map<std::string, std::string>& raw) {
  std::map<std::string, MemberOfferState> out;
  for (const auto& [id, json] : raw) {
    auto j = nlohmann::json::parse(json, nullptr, false);
    if (!j.is_object()) continue;
    out[id] = {j.value("state", "activated"), j.value("redemptions", int64_t{0})};
  }
  return out;
}
}  // namespace

OffersApp::OffersApp(OffersStore& store, CampaignCache& cache, StatsAggregator& stats, IdempotencyStore& idempotency,
                     const Clock& clock, Logger& logger, std::string quote_secret, std::chrono::milliseconds quote_ttl)
    : store_(store),
      cache_(cache),
      stats_(stats),
      idempotency_(idempotency),
      clock_(clock),
      logger_(logger),
      quote_secret_(std::move(quote_secret)),
      quote_ttl_(quote_ttl) {}

std::string OffersApp::Envelope(const std::string& type, const std::optional<std::string>& member_id,
                                const std::string& channel, const std::string& correlation_id,
                                nlohmann::json payload) const {
  EventEnvelope e;
  e.event_id = NewUuid();
  e.type = type;
  e.occurred_at = FormatRfc3339(clock_.Now());
  e.member_id = member_id;
  e.channel = channel;
  e.source = "tessera-offers";
  e.correlation_id = correlation_id;
  e.causation_id = correlation_id;
  e.payload = std::move(payload);
  return e.Dump();
}

HttpResponse OffersApp::SaveWithEvent(Campaign c, int64_t expected_rev, const std::string& event_type,
                                      const CallContext& ctx, int status) {
  c.updated_at = FormatRfc3339(clock_.Now());
  const nlohmann::json doc = c.ToJson();
  std::string event;
  if (!event_type.empty()) {
    event = Envelope(event_type, std::nullopt, "ops", ctx.request_id,
                     {{"campaign_id", c.campaign_id}, {"version", c.version}, {"status", c.status}, {"campaign", doc}});
  }
  const SaveResult r = store_.SaveCampaign(c.campaign_id, expected_rev, doc.dump(), c.version,
                                           ToUnixMillis(clock_.Now()), event);
  if (r == SaveResult::kExists) return ProblemResponse(409, "campaign_exists", "campaign " + c.campaign_id + " already exists");
  if (r == SaveResult::kConflict) {
    return ProblemResponse(412, codes::kPreconditionFailed, "campaign " + c.campaign_id + " changed meanwhile; read it again");
  }
  try {
    cache_.Reload();
  } catch (const std::exception& e) {
    logger_.Warn("campaign cache not reloaded after a write", {{"error", e.what()}});
  }
  HttpResponse resp = HttpResponse::Json(status, doc);
  resp.headers.emplace_back("ETag", "\"" + std::to_string(c.version) + "\"");
  return resp;
}

HttpResponse OffersApp::CreateCampaign(const nlohmann::json& body, const CallContext& ctx) {
  Campaign c = ParseCampaign(body);
  c.status = "draft";
  c.version = 1;
  c.created_at = FormatRfc3339(clock_.Now());
  return SaveWithEvent(std::move(c), 0, "", ctx, 201);
}

HttpResponse OffersApp::ReplaceCampaign(const std::string& id, const nlohmann::json& body,
                                        std::optional<int64_t> if_match, const CallContext& ctx) {
  if (!if_match) {
    return ProblemResponse(428, "precondition_required", "send If-Match with the campaign version you edited");
  }
  Campaign c = ParseCampaign(body);
  if (c.campaign_id != id) {
    throw ProblemError(Problem::Validation("/campaign_id", "campaign_id must match the path"));
  }
  auto stored = store_.GetCampaign(id);
  if (!stored) return ProblemResponse(404, "campaign_not_found", "no campaign " + id);
  const Campaign current = Campaign::FromStored(nlohmann::json::parse(stored->doc));
  if (current.version != *if_match) {
    return ProblemResponse(412, codes::kPreconditionFailed,
                           "campaign " + id + " is at version " + std::to_string(current.version) + ", not " +
                               std::to_string(*if_match));
  }
  if (current.status == "ended" || current.status == "archived") {
    return ProblemResponse(409, "campaign_not_editable", "an " + current.status + " campaign cannot be edited");
  }
  c.status = current.status;
  c.version = current.version + 1;
  c.created_at = current.created_at;
  const std::string event = c.status == "active" ? "campaign.published" : "";
  return SaveWithEvent(std::move(c), stored->rev, event, ctx, 200);
}

HttpResponse OffersApp::GetCampaign(const std::string& id) {
  auto stored = store_.GetCampaign(id);
  if (!stored) return ProblemResponse(404, "campaign_not_found", "no campaign " + id);
  HttpResponse r = HttpResponse::Text(200, stored->doc, "application/json");
  r.headers.emplace_back("ETag", "\"" + std::to_string(nlohmann::json::parse(stored->doc)["version"].get<int64_t>()) + "\"");
  return r;
}

HttpResponse OffersApp::ListCampaigns(const std::optional<std::string>& status, const std::optional<std::string>& channel,
                                      int64_t offset, int limit) {
  nlohmann::json items = nlohmann::json::array();
  int64_t pos = offset;
  std::optional<int64_t> next;
  while (true) {
    auto ids = store_.CampaignIds(pos, 200);
    for (const auto& stored : store_.GetCampaigns(ids)) {
      ++pos;
      auto doc = nlohmann::json::parse(stored.doc);
      if (status && doc["status"] != *status) continue;
      if (channel && std::find(doc["channels"].begin(), doc["channels"].end(), *channel) == doc["channels"].end()) continue;
      if (static_cast<int>(items.size()) == limit) {
        next = pos - 1;
        break;
      }
      items.push_back(std::move(doc));
    }
    if (next || ids.size() < 200) break;
  }
  nlohmann::json body = {{"campaigns", items}};
  body["next_cursor"] = next ? nlohmann::json(MakeCursor("off", *next)) : nlohmann::json(nullptr);
  return HttpResponse::Json(200, body);
}

HttpResponse OffersApp::Transition(const std::string& id, const std::string& action, const CallContext& ctx) {
  auto stored = store_.GetCampaign(id);
  if (!stored) return ProblemResponse(404, "campaign_not_found", "no campaign " + id);
  Campaign c = Campaign::FromStored(nlohmann::json::parse(stored->doc));
  auto next = NextStatus(c.status, action);
  if (!next) {
    return ProblemResponse(409, "invalid_transition", "cannot " + action + " a campaign that is " + c.status);
  }
  if (*next == c.status) return HttpResponse::Json(200, c.ToJson());  // idempotent
  c.status = *next;
  const std::string event = *next == "active" ? "campaign.published" : *next == "paused" ? "campaign.paused"
                                                                     : *next == "ended"  ? "campaign.ended"
                                                                                         : "";
  return SaveWithEvent(std::move(c), stored->rev, event, ctx, 200);
}

HttpResponse OffersApp::CampaignStats(const std::string& id) {
  auto stored = store_.GetCampaign(id);
  if (!stored) return ProblemResponse(404, "campaign_not_found", "no campaign " + id);
  const Campaign c = Campaign::FromStored(nlohmann::json::parse(stored->doc));
  stats_.Flush();
  auto s = store_.Stats(id);
  nlohmann::json budget = nlohmann::json::object();
  if (c.limits.total_redemptions) budget["redemptions_left"] = std::max<int64_t>(0, *c.limits.total_redemptions - s["redeemed"]);
  if (c.limits.total_points) budget["points_left"] = std::max<int64_t>(0, *c.limits.total_points - s["points_used"]);
  return HttpResponse::Json(200, {{"campaign_id", id},
                                  {"version", c.version},
                                  {"status", c.status},
                                  {"offered", s["offered"]},
                                  {"activated", s["activated"]},
                                  {"redeemed", s["redeemed"]},
                                  {"points_given", s["points_used"]},
                                  {"budget_left", budget},
                                  {"holdout_size", s["holdout_size"]}});
}

std::optional<MemberFeatures> OffersApp::LoadFeatures(const std::string& member_id,
                                                      std::map<std::string, std::string>* offers_out) {
  try {
    auto view = store_.LoadMember(member_id);
    if (offers_out) *offers_out = std::move(view.offers);
    return MemberFeatures::FromHash(view.features);
  } catch (const UnavailableError& e) {
    // Personalization fails open: rank without features.
    logger_.Warn("member features unavailable; offers not personalized", {{"member_id", member_id}, {"error", e.what()}});
    return std::nullopt;
  }
}

void OffersApp::ForgetRetiredStates(const std::string& member_id, const std::map<std::string, std::string>& states) {
  if (states.empty()) return;
  const auto retired_ids = cache_.Retired();
  std::vector<std::string> retired;
  for (const auto& [campaign_id, state] : states) {
    if (retired_ids->count(campaign_id)) retired.push_back(campaign_id);
  }
  if (retired.empty()) return;
  try {
    // Like any write to a cached member key, this one drops the member's listing on every
    // replica (one more miss); the listing being built is the same with or without these states.
    const ForgottenOffers gone = store_.ForgetOffers(member_id, retired);
    logger_.Debug("removed offer states and redemption records of ended campaigns",
                  {{"member_id", member_id}, {"states", gone.states}, {"records", gone.records}});
  } catch (const std::exception& e) {
    logger_.Warn("could not remove offer states and records of ended campaigns; the next listing tries again",
                 {{"member_id", member_id}, {"error", e.what()}});
  }
}

void OffersApp::UseListingCache(ListingCache* listings, std::function<bool()> in_sync) {
  listings_ = listings;
  listings_in_sync_ = std::move(in_sync);
}

std::shared_ptr<CachedListing> OffersApp::BuildListing(const std::string& member_id, const std::string& channel,
                                                       int limit, const std::optional<std::string>& locale,
                                                       const CampaignCache::Versioned& campaigns, int64_t now,
                                                       bool* complete) {
  std::map<std::string, std::string> raw_states;
  auto features = LoadFeatures(member_id, &raw_states);
  *complete = features.has_value();
  ForgetRetiredStates(member_id, raw_states);
  RankResult ranked = Rank(*campaigns.campaigns, features ? &*features : nullptr, States(raw_states), member_id, channel,
                           now, static_cast<size_t>(limit));
  const std::string lang = locale.value_or(features && !features->locale.empty() ? features->locale : "en");

  auto out = std::make_shared<CachedListing>();
  out->campaigns_generation = campaigns.generation;
  out->watermark = features ? features->Watermark() : "none";
  // Valid until the first instant at which the same inputs could rank differently.
  int64_t until = std::min(now + ListingCache::kMaxAgeMs, features ? features->NextChangeMs(now) : INT64_MAX);
  for (const auto& c : *campaigns.campaigns) {
    if (c->starts_ms > now) until = std::min(until, c->starts_ms);
    if (c->ends_ms > now) until = std::min(until, c->ends_ms);
  }
  out->valid_until_ms = until;
  out->quoted.reserve(ranked.offers.size());
  out->shown.reserve(ranked.offers.size());
  for (const auto& o : ranked.offers) {
    out->quoted.emplace_back(o.campaign->campaign_id, o.campaign->version);
    out->shown.push_back(o.campaign->campaign_id);
  }
  out->holdout = std::move(ranked.holdout);
  // Assembled from each campaign's pre-rendered pieces (Campaign::PrepareForServing); keys in
  // the order nlohmann::json writes them, so the bytes equal a rendering of the whole tree.
  std::string& body = out->tail;
  body.reserve(64 + 600 * ranked.offers.size());
  body += ",\"offers\":[";
  for (size_t i = 0; i < ranked.offers.size(); ++i) {
    const auto& o = ranked.offers[i];
    const Campaign& c = *o.campaign;
    const Campaign::OfferPieces& p = c.offer_pieces.at(c.ContentLocaleFor(lang));
    if (i) body += ',';
    body += p.head;
    AppendJsonStrings(body, o.reasons);
    body += p.middle;
    body += std::to_string(o.score);
    body += ",\"state\":";
    AppendJsonString(body, o.state);
    body += p.tail;
  }
  body += "],\"personalized\":";
  body += ranked.personalized ? "true}" : "false}";
  return out;
}

HttpResponse OffersApp::OffersFor(const std::string& member_id, const std::string& channel, int limit,
                                  const std::optional<std::string>& locale) {
  const int64_t now = ToUnixMillis(clock_.Now());
  const auto campaigns = cache_.Current();
  const bool cacheable = listings_ != nullptr && listings_in_sync_();
  std::string variant;
  std::shared_ptr<const CachedListing> listing;
  if (cacheable) {
    variant = channel + '|' + std::to_string(limit) + '|' + locale.value_or("");
    listing = listings_->Find(member_id, variant, campaigns.generation, now);
  }
  if (!listing) {
    const ListingCache::Ticket ticket = cacheable ? listings_->Begin(member_id) : ListingCache::Ticket{};
    bool complete = false;
    auto built = BuildListing(member_id, channel, limit, locale, campaigns, now, &complete);
    built->variant = std::move(variant);
    if (cacheable && complete) listings_->Fill(member_id, ticket, built);
    listing = std::move(built);
  }

  Quote q;
  q.member_id = member_id;
  q.watermark = listing->watermark;
  q.issued_ms = now;
  q.expires_ms = now + quote_ttl_.count();
  q.campaigns = listing->quoted;
  std::string body;
  body.reserve(256 + listing->tail.size());
  body += "{\"channel\":";
  AppendJsonString(body, channel);
  body += ",\"decision_id\":";
  AppendJsonString(body, SignQuote(q, quote_secret_));
  body += ",\"generated_at\":";
  AppendJsonString(body, FormatRfc3339(FromUnixMillis(now)));
  body += ",\"member_id\":";
  AppendJsonString(body, member_id);
  body += listing->tail;
  stats_.Offered(listing->shown);
  for (const auto& id : listing->holdout) stats_.Holdout(id, member_id);
  return HttpResponse::Text(200, std::move(body), "application/json");
}

HttpResponse OffersApp::Features(const std::string& member_id) {
  auto view = store_.LoadMember(member_id);
  return HttpResponse::Json(200, MemberFeatures::FromHash(view.features).View(member_id, ToUnixMillis(clock_.Now())));
}

HttpResponse OffersApp::Activate(const std::string& member_id, const std::string& offer_id, const std::string& channel,
                                 const CallContext& ctx) {
  const int64_t now = ToUnixMillis(clock_.Now());
  auto c = cache_.Find(offer_id);
  if (!c) return ProblemResponse(404, "offer_not_found", "no offer " + offer_id);
  if (c->status == "ended" || now >= c->ends_ms) return ProblemResponse(410, "offer_ended", "offer " + offer_id + " has ended");
  if (!c->LiveAt(now)) return ProblemResponse(409, "offer_not_available", "offer " + offer_id + " is not running now");
  // Only an audience rule reads features: an offer open to all is decided without them, and its
  // activation costs one Redis round trip instead of two.
  MemberFeatures f;
  if (c->audience) f = MemberFeatures::FromHash(store_.LoadMember(member_id).features);
  if (!Eligible(*c, f.known ? &f : nullptr, member_id, channel, now)) {
    return ProblemResponse(409, "not_eligible", "offer " + offer_id + " is not offered to this member on " +
                                                    (channel.empty() ? std::string("any channel") : channel));
  }
  // The stored state of a clipped offer; "state" ("activated") and "redemptions" (0) are left
  // to their defaults until the first redemption writes them (redeem.lua) — a member's offer
  // states are a fifth of its Redis memory (bench/README.md, memory).
  const nlohmann::json state = {{"version", c->version}, {"activated_at", now}};
  nlohmann::json content = nlohmann::json::object();
  for (const auto& [loc, t] : c->content) content[loc] = {{"title", t.title}, {"description", t.description}};
  const std::string event =
      Envelope("offer.activated", member_id, channel.empty() ? "web" : channel, ctx.request_id,
               {{"campaign_id", c->campaign_id}, {"campaign_version", c->version}, {"offer_id", c->campaign_id},
                {"reward", c->reward.ToJson()}, {"ends_at", FormatRfc3339(FromUnixMillis(c->ends_ms))},
                {"content", content}});
  const auto existing =
      WritingMember(member_id, [&] { return store_.Activate(member_id, offer_id, state.dump(), event); });
  const nlohmann::json s = existing ? nlohmann::json::parse(*existing) : state;
  nlohmann::json body = {{"member_id", member_id},
                         {"offer_id", offer_id},
                         {"campaign_id", offer_id},
                         {"campaign_version", s.value("version", c->version)},
                         {"state", s.value("state", "activated")},
                         {"activated_at", s["activated_at"].is_number()
                                              ? nlohmann::json(FormatRfc3339(FromUnixMillis(s["activated_at"].get<int64_t>())))
                                              : nlohmann::json(nullptr)}};
  return HttpResponse::Json(existing ? 200 : 201, body);
}

HttpResponse OffersApp::Redeem(const std::string& member_id, const std::string& offer_id, const RedeemBody& body,
                               const CallContext& ctx) {
  const std::string record = RecordKey(member_id, ctx.idempotency_key);
  auto begin = idempotency_.Begin(record, ctx.request_hash);
  if (begin.outcome == IdempotencyOutcome::kReplay) {
    HttpResponse r = HttpResponse::Text(begin.response.status, begin.response.body,
                                        begin.response.status >= 400 ? "application/problem+json" : "application/json");
    r.headers.emplace_back("Idempotent-Replayed", "true");
    return r;
  }
  if (begin.outcome == IdempotencyOutcome::kMismatch) {
    return ProblemResponse(422, codes::kIdempotencyKeyReused, "this Idempotency-Key was used with a different request");
  }
  if (begin.outcome == IdempotencyOutcome::kInProgress) {
    return ProblemResponse(409, codes::kRequestInProgress, "a request with this Idempotency-Key is still in progress");
  }
  // A refusal changes nothing; it is recorded so a retry with the key gets the same answer.
  auto refuse = [&](int status, const std::string& code, const std::string& detail) {
    Problem p = Problem::Make(status, code, detail);
    idempotency_.Complete(record, ctx.request_hash, status, p.Body());
    return HttpResponse::FromProblem(p);
  };
  try {
    const int64_t now = ToUnixMillis(clock_.Now());
    auto current = cache_.Find(offer_id);
    if (!current) {
      idempotency_.Abandon(record, ctx.request_hash);
      return ProblemResponse(404, "offer_not_found", "no offer " + offer_id);
    }
    Campaign offered = *current;  // what the member is redeeming: the quoted version, if quoted
    if (!body.decision_id.empty()) {
      std::string why;
      auto quote = VerifyQuote(body.decision_id, quote_secret_, now, &why);
      if (!quote) return refuse(422, "invalid_quote", "decision_id rejected: " + why);
      if (quote->member_id != member_id) return refuse(422, "invalid_quote", "decision_id was issued for another member");
      auto version = quote->VersionOf(offer_id);
      if (!version) return refuse(422, "invalid_quote", "decision_id does not quote offer " + offer_id);
      if (*version != current->version) {
        auto doc = store_.GetCampaignVersion(offer_id, *version);
        if (!doc) return refuse(422, "invalid_quote", "the quoted campaign version is unknown");
        offered = Campaign::FromStored(nlohmann::json::parse(*doc));
      }
    }
    if (current->status == "ended" || current->status == "archived" || now >= current->ends_ms) {
      return refuse(410, "offer_ended", "offer " + offer_id + " has ended");
    }
    if (current->status == "paused") return refuse(409, "offer_paused", "offer " + offer_id + " is paused");
    if (current->status != "active" || now < current->starts_ms) {
      return refuse(409, "offer_not_started", "offer " + offer_id + " has not started");
    }
    if (!current->channels.count(body.channel)) {
      return refuse(409, "channel_not_eligible", "offer " + offer_id + " is not offered on " + body.channel);
    }
    if (body.decision_id.empty()) {
      auto view = store_.LoadMember(member_id);
      const MemberFeatures f = MemberFeatures::FromHash(view.features);
      if (!Eligible(*current, f.known ? &f : nullptr, member_id, body.channel, now)) {
        return refuse(409, "not_eligible", "offer " + offer_id + " is not offered to this member");
      }
    }
    const int64_t points = offered.reward.type == "bonus_points" ? offered.reward.points : 0;
    if (!store_.ReserveBudget(offer_id, points, current->limits.total_redemptions, current->limits.total_points)) {
      return refuse(409, "budget_exhausted", "offer " + offer_id + " has no budget left");
    }
    const std::string redemption_id = "ord_" + Base32Encode(RandomBytes(10));
    nlohmann::json payload = {{"campaign_id", offer_id},     {"campaign_version", offered.version},
                              {"offer_id", offer_id},        {"order_id", body.order_id},
                              {"redemption_id", redemption_id}, {"reward", offered.reward.ToJson()}};
    if (!body.decision_id.empty()) payload["decision_id"] = body.decision_id;
    nlohmann::json response = payload;
    response["member_id"] = member_id;
    response["channel"] = body.channel;
    response["state"] = "redeemed";
    response["redeemed_at"] = FormatRfc3339(FromUnixMillis(now));
    RedeemRequest rr;
    rr.member_id = member_id;
    rr.campaign_id = offer_id;
    rr.order_id = body.order_id;
    rr.per_member_limit = current->limits.per_member;
    rr.requires_activation = current->conditions.requires_activation;
    rr.version = offered.version;
    rr.now_ms = now;
    rr.event = Envelope("offer.redeemed", member_id, body.channel, ctx.request_id, payload);
    rr.response_body = response.dump();
    rr.idempotency_key = record;
    rr.request_hash = ctx.request_hash;
    RedeemResult result;
    try {
      result = WritingMember(member_id, [&] { return store_.Redeem(rr); });
    } catch (...) {
      store_.ReleaseBudget(offer_id, points);  // unknown outcome: never over-spend the budget
      throw;
    }
    if (result.outcome == "ok") {
      store_.Barrier();  // "redeemed" shows on every replica once this answer is sent
      return HttpResponse::Text(201, result.body, "application/json");
    }
    store_.ReleaseBudget(offer_id, points);
    if (result.outcome == "replay" || result.outcome == "duplicate") {
      HttpResponse r = HttpResponse::Text(result.status, result.body,
                                          result.status >= 400 ? "application/problem+json" : "application/json");
      r.headers.emplace_back("Idempotent-Replayed", "true");
      if (result.outcome == "duplicate") idempotency_.Complete(record, ctx.request_hash, result.status, result.body);
      return r;
    }
    if (result.outcome == "not_activated") {
      return refuse(409, "not_activated", "activate offer " + offer_id + " before redeeming it");
    }
    return refuse(409, "offer_limit_reached",
                  "offer " + offer_id + " was already redeemed " + std::to_string(*current->limits.per_member) +
                      " time(s) by this member");
  } catch (const UnavailableError&) {
    throw;  // the marker expires; a retry proceeds
  }
}

bool OffersApp::ApplyLedgerEvent(const nlohmann::json& e) {
  const std::string member = e.at("member_id");
  const auto& p = e.at("payload");
  const std::string type = e.at("type");
  const int64_t seq = e.at("member_seq");
  std::string tier, lifetime, available, enrolled, purchase_ms, spend, persona, locale;
  if (p.contains("balances") && p["balances"].is_object()) {
    tier = p["balances"].value("tier", "");
    lifetime = std::to_string(p["balances"].value("lifetime", int64_t{0}));
    available = std::to_string(p["balances"].value("available", int64_t{0}));
  }
  if (type == "member.enrolled") {
    auto t = ParseRfc3339(e.at("occurred_at").get<std::string>());
    if (t) enrolled = std::to_string(ToUnixMillis(*t));
    locale = p.value("locale", "");
    if (p.contains("profile") && p["profile"].is_object()) {
      const std::string persona_in = p["profile"].value("persona", "");
      if (persona_in == "analytical" || persona_in == "personal" || persona_in == "functional" || persona_in == "intuitive") {
        persona = persona_in;
      }
    }
  }
  if (type == "points.earned" && p.value("source", "") != "offer" && p.contains("occurred_at")) {
    auto t = ParseRfc3339(p["occurred_at"].get<std::string>());
    if (t) {
      purchase_ms = std::to_string(ToUnixMillis(*t));
      spend = std::to_string(p.value("total_minor", int64_t{0}));
    }
  }
  return WritingMember(member, [&] {
    return store_.ApplyLedgerFeatures(member, {std::to_string(seq), tier, lifetime, available, enrolled, purchase_ms,
                                               spend.empty() ? "0" : spend, persona, locale,
                                               std::to_string(ToUnixMillis(clock_.Now()))});
  });
}

bool OffersApp::ApplyPurchaseEvent(const nlohmann::json& e) {
  if (e.at("type") != "purchase.completed") return false;
  const std::string member = e.at("member_id");
  const auto& p = e.at("payload");
  nlohmann::json categories = nlohmann::json::array();
  if (p.contains("items") && p["items"].is_array()) {
    for (const auto& item : p["items"]) {
      if (item.is_object() && item.contains("category") && item["category"].is_string()) categories.push_back(item["category"]);
    }
  }
  return WritingMember(member, [&] {
    return store_.ApplyPurchaseFeatures(member, p.at("order_id").get<std::string>(), categories.dump(),
                                        ToUnixMillis(clock_.Now()));
  });
}

}  // namespace tessera::offers
