// The delivery rules with a real redis-server, a manual clock and recording fakes for the
// provider and the dead-letter topic: exactly once per (event, channel), quiet hours in the
// member's time zone, opt-in, daily cap, locale fallback, cancellation on redemption, the
// re-check of deferred offers, retries with back-off and the dead-letter topic.
#include <gtest/gtest.h>

#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "notification_store.h"
#include "notifications_app.h"
#include "tessera/crypto.h"
#include "tessera/keys.h"
#include "testing.h"

namespace tessera::notifications {
namespace {

using json = nlohmann::json;

class RecordingProvider final : public Provider {
 public:
  SendResult Send(const std::string& channel, const std::string& id, const std::string& body) override {
    std::this_thread::sleep_for(delay);  // a real provider call takes time
    std::lock_guard lock(mu);
    attempts[id]++;
    if (fail_first > 0 && attempts[id] <= fail_first) return {SendStatus::kRetry, "provider answered 503"};
    if (always_fail) return {SendStatus::kRetry, "provider answered 503"};
    if (unknown) return {SendStatus::kUnknown, "no answer after sending"};
    sent.push_back({channel, json::parse(body)});
    return {SendStatus::kSent, "ok"};
  }
  std::mutex mu;
  std::map<std::string, int> attempts;
  std::vector<std::pair<std::string, json>> sent;
  size_t Sent() {
    std::lock_guard lock(mu);
    return sent.size();
  }
  int fail_first = 0;
  bool always_fail = false, unknown = false;
  std::chrono::milliseconds delay{0};
};

class RecordingPublisher final : public EventPublisher {
 public:
  void Publish(const std::string& topic, const std::string&, const std::string& value, DeliveryCallback cb) override {
    messages.push_back({topic, json::parse(value)});
    cb("");
  }
  bool Flush(std::chrono::milliseconds) override { return true; }
  std::vector<std::pair<std::string, json>> messages;
};

class RulesTest : public ::testing::Test {
 protected:
  RulesTest()
      : clock_(FromUnixMillis(ToUnixMillis(*ParseRfc3339("2026-11-22T03:00:00Z")))),  // noon in Tokyo
        logger_("test", LogLevel::kError, log_, clock_) {
    RedisOptions o;
    o.url = ParseRedisUrl(redis_.Url());
    pool_ = std::make_unique<RedisPool>(o);
    store_ = std::make_unique<NotificationStore>(*pool_);
    NotifyOptions no;
    no.marketing_daily_cap = 2;
    no.max_attempts = 4;
    no.retry_base = std::chrono::milliseconds(1000);
    app_ = std::make_unique<NotificationsApp>(*store_, provider_, dlq_, clock_, logger_, metrics_, no);
  }

  json Event(const std::string& type, const std::string& member, json payload) {
    return {{"event_id", NewUuid()}, {"type", type}, {"schema_version", 1}, {"occurred_at", FormatRfc3339(clock_.Now())},
            {"member_id", member}, {"member_seq", 1}, {"channel", "web"}, {"source", "test"},
            {"correlation_id", "c-1"}, {"causation_id", ""}, {"payload", payload}};
  }
  void Enroll(const std::string& member, const std::string& locale, const std::string& tz, const std::string& name) {
    app_->HandleEvent(Event("member.enrolled", member, {{"locale", locale}, {"time_zone", tz}, {"profile", {{"name", name}}},
                                                         {"balances", {{"available", 0}, {"tier", "member"}}}}));
  }
  void Prefs(const std::string& member, const json& p) { ASSERT_EQ(app_->PutPreferences(member, p).status, 200); }
  json Inbox(const std::string& member) { return json::parse(app_->Inbox(member, false, 0, 100).body)["notifications"]; }
  int DispatchAll() {
    int n = 0;
    for (int b = 0; b < kBucketCount; ++b) n += app_->DispatchDue(b);
    return n;
  }
  json Earned(int points) { return {{"points", points}, {"balances", {{"available", 5000}, {"tier", "gold"}}}}; }
  json Activated(const std::string& offer) {
    return {{"offer_id", offer}, {"campaign_id", offer}, {"ends_at", "2027-01-31T00:00:00Z"},
            {"content", {{"en", {{"title", "Double points"}}}, {"ja", {{"title", "ポイント2倍"}}}}}};
  }
  std::vector<json> Outbox() {
    std::vector<json> out;
    for (const auto& s : OutboxStreams("notifications")) {
      for (const auto& e : pool_->Command({"XRANGE", s, "-", "+"}).elements) {
        out.push_back(json::parse(e.elements[1].elements[5].AsString()));
        // Every event is keyed by its member, so a member's events stay in one partition, in order.
        EXPECT_EQ(e.elements[1].elements[3].AsString(), out.back()["member_id"]) << out.back().dump();
      }
    }
    return out;
  }

  testing::RedisServer redis_;
  ManualClock clock_;
  std::ostringstream log_;
  Logger logger_;
  MetricsRegistry metrics_;
  RecordingProvider provider_;
  RecordingPublisher dlq_;
  std::unique_ptr<RedisPool> pool_;
  std::unique_ptr<NotificationStore> store_;
  std::unique_ptr<NotificationsApp> app_;
};

TEST_F(RulesTest, WelcomeAndReceiptInTheMembersLocaleOncePerChannelEvenWhenRedelivered) {
  Enroll("m-1", "ja", "Asia/Tokyo", "由紀");
  Prefs("m-1", {{"locale", "ja"}, {"time_zone", "Asia/Tokyo"}, {"channels", {{"email", {{"address", "yuki@example.jp"}}}}}});
  const json earned = Event("points.earned", "m-1", Earned(1200));
  app_->HandleEvent(earned);
  app_->HandleEvent(earned);  // Kafka redelivered it
  DispatchAll();
  app_->HandleEvent(earned);
  DispatchAll();
  auto inbox = Inbox("m-1");
  ASSERT_EQ(inbox.size(), 2u);
  EXPECT_EQ(inbox[0]["subject"], "1200ポイントを獲得しました");
  EXPECT_EQ(inbox[1]["subject"], "由紀様、Tessera Rewardsへようこそ");
  ASSERT_EQ(provider_.sent.size(), 1u) << "one e-mail for the receipt (the welcome came before e-mail was set)";
  EXPECT_EQ(provider_.sent[0].second["subject"], "1200ポイントを獲得しました") << "the same words on every channel";
  EXPECT_EQ(provider_.sent[0].second["body"], inbox[0]["body"]);
  int sent_events = 0;
  for (const auto& e : Outbox()) sent_events += e["type"] == "notification.sent";
  EXPECT_EQ(sent_events, 3);
}

TEST_F(RulesTest, TokyoQuietHoursDeferMarketingTo0800ButNotReceipts) {
  Enroll("m-1", "en", "Asia/Tokyo", "Yuki");
  Prefs("m-1", {{"time_zone", "Asia/Tokyo"}, {"quiet_hours", {{"start", "22:00"}, {"end", "08:00"}}}, {"marketing_opt_in", true}});
  clock_.Set(*ParseRfc3339("2026-11-22T14:30:00Z"));  // 23:30 in Tokyo
  app_->HandleEvent(Event("offer.activated", "m-1", Activated("c-1")));
  app_->HandleEvent(Event("points.earned", "m-1", Earned(50)));
  DispatchAll();
  auto inbox = Inbox("m-1");
  ASSERT_EQ(inbox.size(), 2u) << "welcome and receipt at once; the offer waits";
  EXPECT_EQ(inbox[0]["event_type"], "points.earned");
  bool deferred = false;
  for (const auto& e : Outbox()) {
    if (e["type"] == "notification.deferred") {
      deferred = true;
      EXPECT_EQ(e["payload"]["deliver_at"], "2026-11-22T23:00:00.000Z");  // 08:00 Tokyo
    }
  }
  EXPECT_TRUE(deferred);
  clock_.Set(*ParseRfc3339("2026-11-22T22:59:00Z"));  // 07:59
  DispatchAll();
  EXPECT_EQ(Inbox("m-1").size(), 2u);
  clock_.Set(*ParseRfc3339("2026-11-22T23:00:00Z"));  // 08:00
  DispatchAll();
  DispatchAll();
  inbox = Inbox("m-1");
  ASSERT_EQ(inbox.size(), 3u) << "sent once";
  EXPECT_EQ(inbox[0]["subject"], "Your offer is ready: Double points");
}

TEST_F(RulesTest, AnIdleDispatcherOnlyReadsAndStillSendsWhatFallsDue) {
  Enroll("m-1", "en", "Asia/Tokyo", "Yuki");
  Prefs("m-1", {{"time_zone", "Asia/Tokyo"}, {"quiet_hours", {{"start", "22:00"}, {"end", "08:00"}}}, {"marketing_opt_in", true}});
  clock_.Set(*ParseRfc3339("2026-11-22T14:30:00Z"));  // 23:30 in Tokyo: the offer waits for 08:00
  app_->HandleEvent(Event("offer.activated", "m-1", Activated("c-1")));
  DispatchAll();
  ASSERT_EQ(Inbox("m-1").size(), 1u) << "the welcome only";
  redis_.Cli({"CONFIG", "RESETSTAT"});
  std::jthread dispatcher([this](std::stop_token st) { app_->RunDispatcher(st); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // About 15 passes; before, each one ran 64 lease scripts and 64 claim scripts.
  EXPECT_EQ(redis_.CommandCalls("evalsha"), 0) << "no lock taken where nothing is due";
  EXPECT_EQ(redis_.CommandCalls("zrangebyscore"), 0) << "no claim where nothing is due";
  EXPECT_GE(redis_.CommandCalls("zrange"), kBucketCount) << "it did look";
  clock_.Set(*ParseRfc3339("2026-11-22T23:00:00Z"));  // 08:00 in Tokyo
  json inbox;
  for (int i = 0; i < 100 && (inbox = Inbox("m-1")).size() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(inbox.size(), 2u) << "the running dispatcher sends the offer once it is due";
  EXPECT_EQ(inbox[0]["subject"], "Your offer is ready: Double points");
}

TEST_F(RulesTest, TwoRunningDispatchersShareTheSendingAndSendEachMessageOnce) {
  constexpr int kMembers = 120;
  for (int i = 0; i < kMembers; ++i) {
    const std::string m = "m-" + std::to_string(i);
    Enroll(m, "en", "UTC", "Alex");
    Prefs(m, {{"channels", {{"sms", {{"phone", "+1415555" + std::to_string(1000 + i)}}}}}});
  }
  RecordingProvider provider_b;
  NotifyOptions ob;
  ob.owner = "replica-b";
  NotificationsApp app_b(*store_, provider_b, dlq_, clock_, logger_, metrics_, ob);
  provider_.delay = provider_b.delay = std::chrono::milliseconds(5);
  {
    // Replica a runs first, as the longest-running replica of a deployment does.
    std::jthread a([this](std::stop_token st) { app_->RunDispatcher(st); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::jthread b([&app_b](std::stop_token st) { app_b.RunDispatcher(st); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    for (int i = 0; i < kMembers; ++i) app_->HandleEvent(Event("points.redeemed", "m-" + std::to_string(i), Earned(200)));
    ASSERT_TRUE(testing::WaitFor([&] { return provider_.Sent() + provider_b.Sent() >= kMembers; }, std::chrono::seconds(30)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // anything sent twice would show now
  }
  std::set<std::string> ids;
  for (auto* p : {&provider_, &provider_b}) {
    for (const auto& [id, n] : p->attempts) {
      EXPECT_EQ(n, 1) << id;
      EXPECT_TRUE(ids.insert(id).second) << id << " sent by both replicas";
    }
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kMembers));
  // Both replicas sent: a replica locks a bucket only while it sends there.
  std::cout << "[ share    ] " << kMembers << " messages: replica a sent " << provider_.Sent() << ", replica b "
            << provider_b.Sent() << std::endl;
  EXPECT_GE(provider_.Sent(), kMembers / 5u);
  EXPECT_GE(provider_b.Sent(), kMembers / 5u);
}

TEST_F(RulesTest, MarketingNeedsOptInAndRespectsTheDailyCap) {
  Enroll("m-1", "en", "UTC", "Alex");
  app_->HandleEvent(Event("offer.activated", "m-1", Activated("c-0")));
  DispatchAll();
  EXPECT_EQ(Inbox("m-1").size(), 1u) << "no opt-in: the offer message is dropped";
  Prefs("m-1", {{"marketing_opt_in", true}});
  for (int i = 1; i <= 3; ++i) app_->HandleEvent(Event("offer.activated", "m-1", Activated("c-" + std::to_string(i))));
  DispatchAll();
  EXPECT_EQ(Inbox("m-1").size(), 3u) << "welcome + 2 offers: the cap is 2 a day";
  for (int i = 0; i < 3; ++i) app_->HandleEvent(Event("points.earned", "m-1", Earned(10 + i)));
  DispatchAll();
  EXPECT_EQ(Inbox("m-1").size(), 6u) << "receipts are never capped";
  clock_.Advance(std::chrono::hours(24));
  app_->HandleEvent(Event("offer.activated", "m-1", Activated("c-9")));
  DispatchAll();
  EXPECT_EQ(Inbox("m-1").size(), 7u) << "a new day";
  std::set<std::string> reasons;
  for (const auto& e : Outbox()) {
    if (e["type"] == "notification.failed") reasons.insert(e["payload"]["reason"].get<std::string>());
  }
  EXPECT_EQ(reasons, (std::set<std::string>{"marketing_not_opted_in", "daily_marketing_cap"}));
}

TEST_F(RulesTest, LocaleFallsBackToEnglishAndTemplatesCanBeCustomised) {
  Enroll("m-1", "pt-BR", "UTC", "Ana");
  EXPECT_EQ(Inbox("m-1")[0]["subject"], "Welcome to Tessera Rewards, Ana");
  ASSERT_EQ(app_->PutTemplate("points.earned", "pt", {{"subject", "Você ganhou {{points}} pontos"}, {"body", "Olá {{name}}!"}}).status, 200);
  app_->HandleEvent(Event("points.earned", "m-1", Earned(30)));
  EXPECT_EQ(Inbox("m-1")[0]["subject"], "Você ganhou 30 pontos");
}

TEST_F(RulesTest, RedeemingAnOfferCancelsItsPendingMessagesAndEndedOffersAreDroppedOnRecheck) {
  Enroll("m-1", "en", "Asia/Tokyo", "Yuki");
  Prefs("m-1", {{"time_zone", "Asia/Tokyo"}, {"quiet_hours", {{"start", "22:00"}, {"end", "08:00"}}}, {"marketing_opt_in", true}});
  clock_.Set(*ParseRfc3339("2026-11-22T14:30:00Z"));
  app_->HandleEvent(Event("offer.activated", "m-1", Activated("c-redeemed")));
  app_->HandleEvent(Event("offer.activated", "m-1", Activated("c-ended")));
  app_->HandleEvent(Event("offer.redeemed", "m-1", {{"offer_id", "c-redeemed"}, {"campaign_id", "c-redeemed"}}));
  app_->HandleEvent(json{{"event_id", NewUuid()}, {"type", "campaign.ended"}, {"occurred_at", FormatRfc3339(clock_.Now())},
                         {"member_id", nullptr}, {"payload", {{"campaign_id", "c-ended"}}}});
  clock_.Set(*ParseRfc3339("2026-11-22T23:00:00Z"));
  DispatchAll();
  auto inbox = Inbox("m-1");
  ASSERT_EQ(inbox.size(), 1u) << "only the welcome";
  bool dropped_ended = false;
  for (const auto& e : Outbox()) {
    if (e["type"] == "notification.failed" && e["payload"]["reason"] == "offer_ended") dropped_ended = true;
  }
  EXPECT_TRUE(dropped_ended);
}

TEST_F(RulesTest, AProviderThatFailsThreeTimesThenSucceedsDeliversOnce) {
  Enroll("m-1", "en", "UTC", "Alex");
  Prefs("m-1", {{"channels", {{"sms", {{"phone", "+14155550123"}}}}}});
  provider_.fail_first = 3;
  app_->HandleEvent(Event("points.redeemed", "m-1", Earned(200)));
  for (int i = 0; i < 6; ++i) {
    DispatchAll();
    clock_.Advance(std::chrono::seconds(10));  // past any back-off (1 s, 2 s, 4 s ± 50 %)
  }
  ASSERT_EQ(provider_.sent.size(), 1u);
  EXPECT_EQ(provider_.sent[0].first, "sms");
  EXPECT_EQ(provider_.attempts.begin()->second, 4);
  EXPECT_TRUE(dlq_.messages.empty());
}

TEST_F(RulesTest, AProviderThatAlwaysFailsEndsOnTheDeadLetterTopicWithTheReason) {
  Enroll("m-1", "en", "UTC", "Alex");
  Prefs("m-1", {{"channels", {{"email", {{"address", "alex@example.com"}}}}}});
  provider_.always_fail = true;
  app_->HandleEvent(Event("points.redeemed", "m-1", Earned(200)));
  for (int i = 0; i < 8; ++i) {
    DispatchAll();
    clock_.Advance(std::chrono::seconds(20));
  }
  ASSERT_EQ(dlq_.messages.size(), 1u);
  EXPECT_EQ(dlq_.messages[0].first, "tessera.notifications.dlq.v1");
  EXPECT_EQ(dlq_.messages[0].second["error"], "provider answered 503");
  EXPECT_EQ(dlq_.messages[0].second["attempts"], 4);
  EXPECT_EQ(provider_.attempts.begin()->second, 4) << "max attempts, then no more";
}

TEST_F(RulesTest, ADeliveryThatCannotBeReadDoesNotHoldUpTheOthers) {
  Enroll("m-1", "en", "UTC", "Alex");
  Prefs("m-1", {{"channels", {{"sms", {{"phone", "+14155550123"}}}, {"email", {{"address", "alex@example.com"}}}}}});
  DispatchAll();  // the welcome messages
  const size_t sent_before = provider_.Sent();
  app_->HandleEvent(Event("points.redeemed", "m-1", Earned(200)));
  // The deliveries now due, in the order a claim takes them; the first one's record is damaged.
  const std::string due = "tessera:" + BucketTag(MemberBucket("m-1")) + ":notif:due";
  const auto ids = pool_->Command({"ZRANGEBYSCORE", due, "-inf", "+inf"}).elements;
  ASSERT_GE(ids.size(), 2u);
  const std::string poison = ids[0].AsString();
  pool_->Command({"HSET", NotificationStore::DeliveryPrefix("m-1") + poison, "r", "{not json"});
  DispatchAll();
  const auto left = pool_->Command({"ZRANGE", due, "0", "-1"}).elements;
  ASSERT_EQ(left.size(), 1u) << "every other delivery of the claim was done with";
  EXPECT_EQ(left[0].AsString(), poison);
  EXPECT_EQ(provider_.Sent(), sent_before + ids.size() - 1);
  EXPECT_EQ(metrics_.GetCounter("tessera_notifications_delivery_errors_total", "").Value(), 1);
  EXPECT_NE(log_.str().find(poison), std::string::npos) << log_.str();
  clock_.Advance(std::chrono::seconds(11));  // past the claim's lease
  DispatchAll();
  EXPECT_EQ(metrics_.GetCounter("tessera_notifications_delivery_errors_total", "").Value(), 1)
      << "not tried again at every lease";
  clock_.Advance(std::chrono::minutes(10));
  DispatchAll();
  EXPECT_EQ(metrics_.GetCounter("tessera_notifications_delivery_errors_total", "").Value(), 2)
      << "tried again after failure_retry";
}

TEST_F(RulesTest, AnUnknownOutcomeIsRecordedAndNotResent) {
  Enroll("m-1", "en", "UTC", "Alex");
  Prefs("m-1", {{"channels", {{"email", {{"address", "alex@example.com"}}}}}});
  provider_.unknown = true;
  app_->HandleEvent(Event("points.redeemed", "m-1", Earned(200)));
  for (int i = 0; i < 4; ++i) {
    DispatchAll();
    clock_.Advance(std::chrono::minutes(2));
  }
  EXPECT_EQ(provider_.attempts.begin()->second, 1);
  bool recorded = false;
  for (const auto& e : Outbox()) recorded |= e["type"] == "notification.failed" && e["payload"]["outcome"] == "unknown";
  EXPECT_TRUE(recorded);
}

}  // namespace
}  // namespace tessera::notifications
