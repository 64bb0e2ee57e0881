// What tessera-notifications does (SPEC §6), framework-free:
//  * HandleEvent: a ledger or offers event becomes one delivery per enabled channel, created
//    at most once (id from event_id + channel); marketing inside quiet hours is deferred to
//    their end (notification.deferred); offer.redeemed cancels pending messages about the offer.
//  * Process: a claimed delivery is re-checked (opt-in, offer ended, daily cap) and sent —
//    inbox atomically in Redis, e-mail/SMS/push through the provider with retries (exponential
//    back-off with jitter), then the dead-letter topic; each outcome is one event on
//    tessera.notifications.v1.
//  * Preferences, templates and the inbox for the HTTP API.
#pragma once

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>

#include "notification_store.h"
#include "preferences.h"
#include "provider.h"
#include "templates.h"
#include "tessera/clock.h"
#include "tessera/http_types.h"
#include "tessera/kafka.h"
#include "tessera/logging.h"
#include "tessera/metrics.h"

namespace tessera::notifications {

struct NotifyOptions {
  int marketing_daily_cap = 3;
  int max_attempts = 5;
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds lease{10000};         // a claimed delivery returns after this
  std::chrono::milliseconds bucket_lease{10000};  // a dispatcher's lock on a bucket lapses after this
  // A delivery the dispatcher cannot process (an unreadable record, say) is tried again after this.
  std::chrono::milliseconds failure_retry{std::chrono::minutes(10)};
  std::string owner = "notifications";
};

class NotificationsApp {
 public:
  NotificationsApp(NotificationStore& store, Provider& provider, EventPublisher& dlq, const Clock& clock,
                   Logger& logger, MetricsRegistry& metrics, NotifyOptions options);

  // Throws std::invalid_argument for an event it cannot read (the consumer dead-letters it).
  void HandleEvent(const nlohmann::json& envelope);
  // Claims and processes what is due in one bucket. Returns how many were processed.
  int DispatchDue(int bucket);
  // The dispatcher loop: every bucket, woken early when new deliveries are due now.
  void RunDispatcher(std::stop_token stop);

  HttpResponse GetPreferences(const std::string& member_id);
  HttpResponse PutPreferences(const std::string& member_id, const nlohmann::json& body);
  HttpResponse GetTemplate(const std::string& event_type, const std::string& locale);
  HttpResponse PutTemplate(const std::string& event_type, const std::string& locale, const nlohmann::json& body);
  HttpResponse Inbox(const std::string& member_id, bool unread_only, int64_t offset, int limit);
  HttpResponse MarkRead(const std::string& member_id, const std::string& notification_id);

 private:
  Preferences PreferencesOf(const std::map<std::string, std::string>& profile) const;
  Template TemplateFor(const std::string& event_type, const std::string& locale);
  // A template saved through the API for exactly this locale (cached for 5 s).
  std::optional<std::string> SavedTemplate(const std::string& event_type, const std::string& locale);
  void Process(const ClaimedDelivery& d);
  std::string Event(const std::string& type, const nlohmann::json& record, const std::string& id, nlohmann::json extra) const;
  int64_t Backoff(int attempt) const;
  nlohmann::json InboxItem(const std::string& id, const nlohmann::json& record, int64_t now_ms) const;

  NotificationStore& store_;
  Provider& provider_;
  EventPublisher& dlq_;
  const Clock& clock_;
  Logger& logger_;
  MetricsRegistry& metrics_;
  NotifyOptions options_;
  // Saved templates, cached for a few seconds (they change rarely; a local PUT clears the cache).
  std::mutex templates_mu_;
  std::map<std::string, std::pair<int64_t, std::optional<std::string>>> template_cache_;
  std::mutex wake_mu_;
  std::condition_variable_any wake_;
  bool wake_pending_ = false;
};

}  // namespace tessera::notifications
