#include "provider.h"

#include <curl/curl.h>

#include <memory>

namespace tessera::notifications {

namespace {
size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }
struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
}  // namespace

HttpProvider::HttpProvider(std::string base_url, std::chrono::milliseconds timeout)
    : base_url_(std::move(base_url)), timeout_(timeout) {
  static CurlGlobal init;
  while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
}

SendResult HttpProvider::Send(const std::string& channel, const std::string& delivery_id, const std::string& json) {
  // One easy handle per thread, reused (keeps the connection to the provider alive).
  thread_local std::unique_ptr<CURL, void (*)(CURL*)> handle(curl_easy_init(), curl_easy_cleanup);
  CURL* c = handle.get();
  curl_easy_reset(c);
  const std::string url = base_url_ + "/" + channel;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, ("Idempotency-Key: " + delivery_id).c_str());
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, json.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(json.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min<int64_t>(timeout_.count(), 1000)));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_off_t uploaded = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &uploaded);
  curl_slist_free_all(headers);
  if (rc == CURLE_OK) {
    if (status >= 200 && status < 300) return {SendStatus::kSent, "provider answered " + std::to_string(status)};
    if (status == 429 || status >= 500) return {SendStatus::kRetry, "provider answered " + std::to_string(status)};
    return {SendStatus::kFailed, "provider refused with " + std::to_string(status)};
  }
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST || uploaded == 0) {
    return {SendStatus::kRetry, std::string("not sent: ") + curl_easy_strerror(rc)};
  }
  // The request left; whether the provider acted on it is unknown.
  return {SendStatus::kUnknown, std::string("no answer after sending: ") + curl_easy_strerror(rc)};
}

}  // namespace tessera::notifications
