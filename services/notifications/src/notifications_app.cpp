#include "notifications_app.h"

#include <future>
#include <random>
#include <thread>

#include "tessera/crypto.h"
#include "tessera/errors.h"
#include "tessera/events.h"
#include "tessera/held_lock.h"
#include "tessera/keys.h"

namespace tessera::notifications {

namespace {
const char* kChannels[] = {"inbox", "email", "sms", "push"};

std::string DefaultName(const std::string& locale) {
  const std::string lang = locale.substr(0, 2);
  if (lang == "ja") return "会員";
  if (lang == "ko") return "회원";
  if (lang == "zh") return "会员";
  if (lang == "th") return "สมาชิก";
  return "Member";
}

std::string Str(const nlohmann::json& j, const char* k) {
  if (!j.is_object() || !j.contains(k) || j[k].is_null()) return "";
  return j[k].is_string() ? j[k].get<std::string>() : j[k].dump();
}
}  // namespace

NotificationsApp::NotificationsApp(NotificationStore& store, Provider& provider, EventPublisher& dlq, const Clock& clock,
                                   Logger& logger, MetricsRegistry& metrics, NotifyOptions options)
    : store_(store), provider_(provider), dlq_(dlq), clock_(clock), logger_(logger), metrics_(metrics), options_(options) {}

Preferences NotificationsApp::PreferencesOf(const std::map<std::string, std::string>& profile) const {
  if (auto it = profile.find("prefs"); it != profile.end()) {
    try {
      return PreferencesFromStored(nlohmann::json::parse(it->second));
    } catch (const std::exception& e) {
      logger_.Error("stored preferences unreadable; using defaults", {{"error", e.what()}});
    }
  }
  auto get = [&](const char* k) { auto it = profile.find(k); return it == profile.end() ? std::string() : it->second; };
  return Preferences::Defaults(get("locale"), get("time_zone"));
}

std::optional<std::string> NotificationsApp::SavedTemplate(const std::string& event_type, const std::string& locale) {
  const std::string key = event_type + "/" + locale;
  const int64_t now = ToUnixMillis(clock_.Now());
  {
    std::lock_guard lock(templates_mu_);
    auto it = template_cache_.find(key);
    if (it != template_cache_.end() && it->second.first > now) return it->second.second;
  }
  auto saved = store_.TemplateOverride(event_type, locale);
  std::lock_guard lock(templates_mu_);
  template_cache_[key] = {now + 5000, saved};
  return saved;
}

Template NotificationsApp::TemplateFor(const std::string& event_type, const std::string& locale) {
  const std::string lang = locale.substr(0, locale.find_first_of("-_"));
  for (const std::string& l : {locale, lang}) {
    if (auto saved = SavedTemplate(event_type, l)) {
      auto j = nlohmann::json::parse(*saved);
      return {j["subject"], j["body"]};
    }
  }
  return *DefaultTemplate(event_type, locale);
}

nlohmann::json NotificationsApp::InboxItem(const std::string& id, const nlohmann::json& rec, int64_t now_ms) const {
  return {{"notification_id", id},
          {"event_type", rec["event_type"]},
          {"class", rec["class"]},
          {"subject", rec["subject"]},
          {"body", rec["body"]},
          {"locale", rec["locale"]},
          {"created_at", FormatRfc3339(FromUnixMillis(now_ms))},  // when it reached the inbox
          {"event_time", rec.value("event_time", "")},
          {"read_at", nullptr}};
}

std::string NotificationsApp::Event(const std::string& type, const nlohmann::json& record, const std::string& id,
                                    nlohmann::json extra) const {
  EventEnvelope e;
  e.event_id = NewUuid();
  e.type = type;
  e.occurred_at = FormatRfc3339(clock_.Now());
  e.member_id = record.value("member_id", "");
  e.channel = record.value("channel", "");
  e.source = "tessera-notifications";
  e.correlation_id = record.value("correlation_id", "");
  e.causation_id = record.value("event_id", "");
  e.payload = {{"notification_id", id},
               {"event_id", record.value("event_id", "")},
               {"event_type", record.value("event_type", "")},
               {"channel", record.value("channel", "")},
               {"class", record.value("class", "")},
               {"locale", record.value("locale", "")}};
  for (auto it = extra.begin(); it != extra.end(); ++it) e.payload[it.key()] = it.value();
  return e.Dump();
}

int64_t NotificationsApp::Backoff(int attempt) const {
  thread_local std::minstd_rand rng(std::random_device{}());
  const int64_t base = options_.retry_base.count() << std::min(attempt - 1, 16);
  std::uniform_int_distribution<int64_t> jitter(base / 2, base + base / 2);  // ±50 %
  return jitter(rng);
}

void NotificationsApp::HandleEvent(const nlohmann::json& e) {
  const std::string type = e.at("type");
  const auto& payload = e.at("payload");
  if (type == "campaign.ended") {
    store_.MarkCampaignEnded(payload.at("campaign_id").get<std::string>());
    return;
  }
  if (!e.contains("member_id") || !e["member_id"].is_string()) return;
  const std::string member = e["member_id"];
  if (type == "offer.redeemed") {
    auto cancelled = store_.CancelOfferMessages(member, payload.at("offer_id").get<std::string>(), "offer_redeemed");
    metrics_.GetCounter("tessera_notifications_cancelled_total", "Pending messages cancelled (offer redeemed)").Inc(cancelled.size());
    return;
  }
  if (type == "member.enrolled") {
    std::map<std::string, std::string> fields = {{"locale", Str(payload, "locale")}, {"time_zone", Str(payload, "time_zone")}};
    if (payload.contains("profile") && payload["profile"].is_object()) fields["name"] = Str(payload["profile"], "name");
    store_.SaveProfile(member, fields);
  }
  auto klass = ClassOf(type);
  if (!klass) return;
  if (type == "points.earned" && payload.value("points", int64_t{0}) == 0) return;

  const auto profile = store_.Profile(member);
  const Preferences prefs = PreferencesOf(profile);
  const std::string locale = prefs.locale;
  const Template tpl = TemplateFor(type, locale);
  const int64_t now = ToUnixMillis(clock_.Now());

  std::map<std::string, std::string> vars;
  auto name = profile.find("name");
  vars["name"] = name != profile.end() && !name->second.empty() ? name->second : DefaultName(locale);
  vars["member_id"] = member;
  if (payload.contains("points")) vars["points"] = std::to_string(payload["points"].get<int64_t>());
  if (payload.contains("balances") && payload["balances"].is_object()) {
    vars["balance"] = std::to_string(payload["balances"].value("available", int64_t{0}));
    vars["tier"] = payload["balances"].value("tier", "");
  }
  if (type == "member.enrolled") vars["tier"] = vars["tier"].empty() ? "member" : vars["tier"];
  if (type == "tier.changed") {
    vars["tier"] = Str(payload, "to");
    vars["previous_tier"] = Str(payload, "from");
  }
  const std::string expires = payload.contains("expires_at") ? Str(payload, "expires_at") : Str(payload, "ends_at");
  if (auto t = ParseRfc3339(expires)) vars["expires_at"] = LocalDate(prefs.time_zone, ToUnixMillis(*t));
  std::string offer_id;
  if (type == "offer.activated") {
    offer_id = Str(payload, "offer_id");
    const auto& content = payload.value("content", nlohmann::json::object());
    const std::string lang = locale.substr(0, 2);
    const nlohmann::json* text = content.contains(locale) ? &content[locale] : content.contains(lang) ? &content[lang]
                                 : content.contains("en") ? &content["en"] : nullptr;
    vars["offer_title"] = text ? Str(*text, "title") : offer_id;
  }
  const std::string subject = Render(tpl.subject, vars), body = Render(tpl.body, vars);

  const bool marketing = *klass == MessageClass::kMarketing;
  const int64_t defer_until = marketing ? QuietHoursEnd(prefs, now).value_or(0) : 0;  // 0: not deferred
  std::vector<NewDelivery> deliveries;
  std::vector<std::string> due_now;
  for (const char* channel : kChannels) {
    const std::string ch = channel;
    const ChannelPreference& cp = ch == "inbox" ? prefs.inbox : ch == "email" ? prefs.email : ch == "sms" ? prefs.sms : prefs.push;
    if (!cp.enabled) continue;
    const std::string id = "ntf_" + Sha256Hex(e.at("event_id").get<std::string>() + ":" + ch).substr(0, 24);
    nlohmann::json record = {{"member_id", member},       {"channel", ch},
                             {"class", marketing ? "marketing" : "transactional"},
                             {"event_id", e.at("event_id")}, {"event_type", type},
                             {"offer_id", offer_id},      {"locale", locale},
                             {"to", cp.address},          {"subject", subject},
                             {"body", body},              {"correlation_id", Str(e, "correlation_id")},
                             {"created_ms", now},         {"event_time", Str(e, "occurred_at")}};
    NewDelivery d;
    d.id = id;
    d.record = record.dump();
    if (defer_until != 0) {
      d.state = "deferred";
      d.due_ms = defer_until;
      d.event = Event("notification.deferred", record, id, {{"deliver_at", FormatRfc3339(FromUnixMillis(defer_until))},
                                                             {"reason", "quiet_hours"}});
    } else if (ch == "inbox" && !marketing) {
      // Transactional inbox messages need no further check: delivered in the creating step.
      d.state = "sent";
      d.due_ms = now;
      d.inbox_item = InboxItem(id, record, now).dump();
      d.event = Event("notification.sent", record, id, {{"attempts", 1}});
    } else {
      d.state = "pending";
      d.due_ms = now;
      if (ch == "inbox") due_now.push_back(id);
    }
    deliveries.push_back(std::move(d));
  }
  if (deliveries.empty()) return;
  store_.CreateDeliveries(member, offer_id, deliveries);
  // The inbox needs no provider: deliver at once from here (low latency); providers are the
  // dispatcher's, which is woken now.
  if (!due_now.empty()) {
    for (const auto& d : store_.Claim(MemberBucket(member), now, 0, options_.lease.count(), due_now)) Process(d);
  }
  const auto delivered_now = std::count_if(deliveries.begin(), deliveries.end(), [](const NewDelivery& d) { return !d.inbox_item.empty(); });
  if (deliveries.size() > due_now.size() + static_cast<size_t>(delivered_now)) {
    std::lock_guard lock(wake_mu_);
    wake_pending_ = true;
    wake_.notify_all();
  }
}

void NotificationsApp::Process(const ClaimedDelivery& d) {
  const nlohmann::json rec = nlohmann::json::parse(d.record);
  const std::string member = rec["member_id"], channel = rec["channel"];
  const int64_t now = ToUnixMillis(clock_.Now());
  auto finish = [&](const std::string& outcome, const std::string& reason, int64_t next = 0, const std::string& inbox = "") {
    DeliveryOutcome o;
    o.outcome = outcome;
    o.reason = reason;
    o.next_due_ms = next;
    o.inbox_item = inbox;
    o.created_ms = rec.value("created_ms", now);
    if (outcome == "sent") o.event = Event("notification.sent", rec, d.id, {{"attempts", d.attempts + 1}});
    if (outcome == "failed" || outcome == "unknown" || outcome == "dropped") {
      o.event = Event("notification.failed", rec, d.id, {{"reason", reason}, {"outcome", outcome}, {"attempts", d.attempts + 1}});
    }
    if (outcome == "deferred") {
      o.event = Event("notification.deferred", rec, d.id, {{"deliver_at", FormatRfc3339(FromUnixMillis(next))}, {"reason", reason}});
    }
    store_.Complete(member, d.id, o);
    metrics_.GetCounter("tessera_notifications_deliveries_total", "Delivery outcomes by channel",
                        {{"channel", channel}, {"outcome", outcome}})
        .Inc();
  };
  if (d.previous_state == "sending" && channel != "inbox") {
    // A dispatcher died while sending: the provider may or may not have it. Never resend blindly.
    finish("unknown", "dispatcher stopped while sending; outcome unknown");
    return;
  }
  if (rec["class"] == "marketing") {
    const Preferences prefs = PreferencesOf(store_.Profile(member));
    if (!prefs.marketing_opt_in) return finish("dropped", "marketing_not_opted_in");
    if (!rec["offer_id"].get<std::string>().empty() && store_.CampaignEnded(rec["offer_id"])) {
      return finish("dropped", "offer_ended");
    }
    if (auto end = QuietHoursEnd(prefs, now)) return finish("deferred", "quiet_hours", *end);
    const std::string day = LocalDate(prefs.time_zone, now);
    if (!store_.CountMarketing(member, day, rec["event_id"], options_.marketing_daily_cap)) {
      return finish("dropped", "daily_marketing_cap");
    }
  }
  if (channel == "inbox") return finish("sent", "", 0, InboxItem(d.id, rec, now).dump());
  nlohmann::json message = {{"delivery_id", d.id},        {"channel", channel},
                            {"to", rec["to"]},            {"locale", rec["locale"]},
                            {"event_type", rec["event_type"]}, {"member_id", member},
                            {"event_id", rec["event_id"]}};
  if (channel == "email") {
    message["subject"] = TruncateUtf8(rec["subject"].get<std::string>(), 100);
    message["body"] = rec["body"];
  } else if (channel == "sms") {
    message["body"] = TruncateUtf8(rec["body"].get<std::string>(), 160);
  } else {
    message["title"] = TruncateUtf8(rec["subject"].get<std::string>(), 50);
    message["body"] = TruncateUtf8(rec["body"].get<std::string>(), 120);
  }
  if (!store_.MarkSending(member, d.id)) return;  // cancelled or taken meanwhile
  const SendResult r = provider_.Send(channel, d.id, message.dump());
  if (r.status == SendStatus::kSent) return finish("sent", "");
  if (r.status == SendStatus::kUnknown) return finish("unknown", r.detail);
  if (r.status == SendStatus::kRetry && d.attempts + 1 < options_.max_attempts) {
    return finish("retry", r.detail, now + Backoff(d.attempts + 1));
  }
  // Last attempt, or refused for good: park it on the dead-letter topic with the reason.
  nlohmann::json dead = {{"error", r.detail}, {"delivery_id", d.id}, {"attempts", d.attempts + 1}, {"message", message},
                         {"failed_at", FormatRfc3339(clock_.Now())}};
  auto done = std::make_shared<std::promise<std::string>>();
  auto fut = done->get_future();
  dlq_.Publish(DlqTopicFor(topics::kNotifications), member, dead.dump(), [done](const std::string& err) { done->set_value(err); });
  if (fut.wait_for(std::chrono::seconds(10)) != std::future_status::ready || !fut.get().empty()) {
    throw UnavailableError("could not dead-letter notification " + d.id);  // stays 'sending': retried after the lease
  }
  finish("failed", r.detail);
}

int NotificationsApp::DispatchDue(int bucket) {
  auto claimed = store_.Claim(bucket, ToUnixMillis(clock_.Now()), 50, options_.lease.count());
  for (const auto& d : claimed) {
    try {
      Process(d);
    } catch (const UnavailableError& e) {
      logger_.Warn("delivery postponed", {{"delivery_id", d.id}, {"error", e.what()}});
    } catch (const std::exception& e) {
      // A delivery this build cannot handle (an unreadable record, say) must not hold up the
      // rest of the claim: it stays claimed, is tried again failure_retry later, and is logged
      // and counted each time.
      logger_.Error("delivery could not be processed; it is tried again later",
                    {{"delivery_id", d.id}, {"error", e.what()}, {"retry_ms", options_.failure_retry.count()}});
      metrics_.GetCounter("tessera_notifications_delivery_errors_total",
                          "Claimed deliveries whose processing failed (each tried again later)")
          .Inc();
      try {
        store_.PostponeDue(bucket, d.id, ToUnixMillis(clock_.Now()) + options_.failure_retry.count());
      } catch (const std::exception&) {  // Redis away: the claim's lease brings it back instead
      }
    }
  }
  return static_cast<int>(claimed.size());
}

void NotificationsApp::RunDispatcher(std::stop_token stop) {
  // A pass asks which buckets have a delivery due (one pipelined round trip of 64 plain reads)
  // and visits only those, from one drawn at random. It
  // locks a bucket only while it claims and sends there, so replicas running passes at the same
  // time take different buckets and share the sending. (Claims are atomic per delivery whatever
  // the lock; it keeps replicas from contending for the same deliveries.)
  std::minstd_rand pick(std::random_device{}());
  while (!stop.stop_requested()) {
    int work = 0;
    try {
      const std::vector<int> due = store_.DueBuckets(ToUnixMillis(clock_.Now()));
      const size_t first = due.empty() ? 0 : pick() % due.size();
      for (size_t k = 0; k < due.size() && !stop.stop_requested(); ++k) {
        const int b = due[(first + k) % due.size()];
        HeldLock lock(store_.TryLock(b, options_.owner, options_.bucket_lease.count()),
                      [&] { store_.Unlock(b, options_.owner); });
        if (lock.held()) work += DispatchDue(b);
      }
    } catch (const std::exception& e) {
      logger_.Warn("dispatcher pass failed", {{"error", e.what()}});
    }
    if (work > 0) continue;
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, stop, std::chrono::milliseconds(100), [&] { return wake_pending_; });
    wake_pending_ = false;
  }
}

HttpResponse NotificationsApp::GetPreferences(const std::string& member_id) {
  const auto profile = store_.Profile(member_id);
  nlohmann::json j = PreferencesOf(profile).ToJson();
  j["member_id"] = member_id;
  j["saved"] = profile.count("prefs") > 0;
  return HttpResponse::Json(200, j);
}

HttpResponse NotificationsApp::PutPreferences(const std::string& member_id, const nlohmann::json& body) {
  const Preferences p = ParsePreferences(body);
  store_.SavePreferences(member_id, p.ToJson().dump());
  nlohmann::json j = p.ToJson();
  j["member_id"] = member_id;
  j["saved"] = true;
  return HttpResponse::Json(200, j);
}

HttpResponse NotificationsApp::GetTemplate(const std::string& event_type, const std::string& locale) {
  RequireLocale(locale, "/path/locale");
  if (!MessageEventTypes().count(event_type)) {
    return HttpResponse::FromProblem(Problem::Make(404, "template_not_found", "no messages are sent for " + event_type));
  }
  auto override_json = store_.TemplateOverride(event_type, locale);
  const Template t = TemplateFor(event_type, locale);
  return HttpResponse::Json(200, {{"event_type", event_type}, {"locale", locale}, {"subject", t.subject}, {"body", t.body},
                                  {"customized", override_json.has_value()},
                                  {"class", *ClassOf(event_type) == MessageClass::kMarketing ? "marketing" : "transactional"}});
}

HttpResponse NotificationsApp::PutTemplate(const std::string& event_type, const std::string& locale, const nlohmann::json& body) {
  if (!MessageEventTypes().count(event_type)) {
    throw ProblemError(Problem::Validation("/path/event_type", event_type + " sends no messages"));
  }
  RequireLocale(locale, "/path/locale");
  JsonObjectReader r(body, {"subject", "body"});
  const std::string subject = r.RequiredString("subject", 1, 300), text = r.RequiredString("body", 1, 4000);
  for (const auto& [field, value] : {std::pair{"/subject", subject}, std::pair{"/body", text}}) {
    if (auto bad = UnknownPlaceholder(value)) {
      std::string known;
      for (const auto& p : Placeholders()) known += (known.empty() ? "" : ", ") + p;
      throw ProblemError(Problem::Validation(field, "unknown placeholder {{" + *bad + "}} (known: " + known + ")"));
    }
  }
  store_.SaveTemplate(event_type, locale, nlohmann::json({{"subject", subject}, {"body", text}}).dump());
  {
    std::lock_guard lock(templates_mu_);
    template_cache_.clear();
  }
  return GetTemplate(event_type, locale);
}

HttpResponse NotificationsApp::Inbox(const std::string& member_id, bool unread_only, int64_t offset, int limit) {
  nlohmann::json items = nlohmann::json::array();
  int64_t pos = offset;
  std::optional<int64_t> next;
  while (static_cast<int>(items.size()) < limit) {
    auto page = store_.Inbox(member_id, pos, 50);
    for (const auto& text : page) {
      ++pos;
      auto item = nlohmann::json::parse(text);
      if (unread_only && !item["read_at"].is_null()) continue;
      items.push_back(std::move(item));
      if (static_cast<int>(items.size()) == limit) break;
    }
    if (page.size() < 50) break;
  }
  if (static_cast<int>(items.size()) == limit && !store_.Inbox(member_id, pos, 1).empty()) next = pos;
  nlohmann::json body = {{"member_id", member_id}, {"notifications", items}};
  body["next_cursor"] = next ? nlohmann::json(MakeCursor("off", *next)) : nlohmann::json(nullptr);
  return HttpResponse::Json(200, body);
}

HttpResponse NotificationsApp::MarkRead(const std::string& member_id, const std::string& notification_id) {
  auto item = store_.MarkRead(member_id, notification_id, FormatRfc3339(clock_.Now()));
  if (!item) return HttpResponse::FromProblem(Problem::Make(404, "notification_not_found", "no notification " + notification_id));
  return HttpResponse::Text(200, nlohmann::json::parse(*item).dump(), "application/json");
}

}  // namespace tessera::notifications
