// Delivery providers for e-mail, SMS and push. The contract (docs/notifications.md): the
// adapter POSTs JSON to <provider URL>/<channel> with header Idempotency-Key: <delivery id>;
// 2xx = sent, 429/5xx or no connection = retry later, other 4xx = failed for good, and a
// timeout after the request was sent = outcome unknown (recorded, never blindly resent).
#pragma once

#include <chrono>
#include <string>

namespace tessera::notifications {

enum class SendStatus { kSent, kRetry, kFailed, kUnknown };

struct SendResult {
  SendStatus status;
  std::string detail;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // Blocking; thread-safe.
  virtual SendResult Send(const std::string& channel, const std::string& delivery_id, const std::string& json) = 0;
};

class HttpProvider final : public Provider {
 public:
  HttpProvider(std::string base_url, std::chrono::milliseconds timeout);
  SendResult Send(const std::string& channel, const std::string& delivery_id, const std::string& json) override;

 private:
  std::string base_url_;
  std::chrono::milliseconds timeout_;
};

}  // namespace tessera::notifications
