#include "tessera/redis_tracking.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace tessera {

namespace {
struct ReplyDeleter {
  void operator()(void* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

ReplyPtr Call(redisContext* ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  ReplyPtr r(static_cast<redisReply*>(redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data())));
  if (!r) throw UnavailableError(std::string("redis: ") + args[0] + " failed: " + ctx->errstr);
  if (r->type == REDIS_REPLY_ERROR) throw DependencyError("redis: " + args[0] + " refused: " + std::string(r->str, r->len));
  return r;
}

// ["message", "__redis__:invalidate", keys | nil]
bool IsInvalidation(const redisReply* r) {
  return r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[0]->type == REDIS_REPLY_STRING &&
         std::string_view(r->element[0]->str, r->element[0]->len) == "message";
}
}  // namespace

RedisInvalidations::RedisInvalidations(RedisOptions options, std::vector<std::string> prefixes, Handlers handlers,
                                       Logger& logger)
    : options_(std::move(options)), prefixes_(std::move(prefixes)), handlers_(std::move(handlers)), logger_(logger) {}

RedisInvalidations::~RedisInvalidations() = default;

void RedisInvalidations::Connect() {
  RedisContextPtr ctx = ConnectRedis(options_);
  const long long id = Call(ctx.get(), {"CLIENT", "ID"})->integer;
  std::vector<std::string> tracking = {"CLIENT", "TRACKING", "on", "REDIRECT", std::to_string(id), "BCAST"};
  for (const auto& p : prefixes_) {
    tracking.push_back("PREFIX");
    tracking.push_back(p);
  }
  Call(ctx.get(), tracking);
  Call(ctx.get(), {"SUBSCRIBE", "__redis__:invalidate"});
  std::lock_guard lock(mu_);
  ctx_ = std::move(ctx);
  fd_.store(ctx_->fd);
  ++connections_;
  handlers_.all();  // whatever changed while there was no subscription
  live_.store(true, std::memory_order_release);
  logger_.Info("redis invalidations subscribed", {{"client_id", id}, {"prefixes", prefixes_.size()}});
  DrainLocked();  // anything that arrived with the SUBSCRIBE answer
}

void RedisInvalidations::CloseLocked() {
  live_.store(false, std::memory_order_release);
  fd_.store(-1);
  ctx_.reset();
  handlers_.all();
}

void RedisInvalidations::LoseLocked(const std::string& why) {
  CloseLocked();
  logger_.Warn("redis invalidations lost; in-memory copies dropped until resubscribed", {{"reason", why}});
}

void RedisInvalidations::DrainLocked() {
  if (!ctx_) return;
  draining_.fetch_add(1);  // odd: bytes may have left the socket and not been applied yet
  char buf[16384];
  while (ctx_) {
    // What the reader already holds first (a burst is parsed one chunk at a time).
    void* raw = nullptr;
    while (redisReaderGetReply(ctx_->reader, &raw) == REDIS_OK && raw != nullptr) {
      ReplyPtr reply(static_cast<redisReply*>(raw));
      raw = nullptr;
      if (!IsInvalidation(reply.get())) continue;
      const redisReply* keys = reply->element[2];
      if (keys->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < keys->elements; ++i) {
          if (keys->element[i]->type == REDIS_REPLY_STRING) {
            handlers_.key(std::string_view(keys->element[i]->str, keys->element[i]->len));
          }
        }
      } else {
        handlers_.all();  // FLUSHALL / FLUSHDB, or a tracking table overflow
      }
    }
    if (ctx_->reader->err) {
      LoseLocked(std::string("protocol error: ") + ctx_->reader->errstr);
      break;
    }
    const ssize_t n = ::recv(ctx_->fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      redisReaderFeed(ctx_->reader, buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    LoseLocked(n == 0 ? "connection closed by redis" : std::string("read: ") + std::strerror(errno));
  }
  draining_.fetch_add(1);
}

bool RedisInvalidations::Sync() {
  if (!live_.load(std::memory_order_acquire)) return false;
  pollfd p{fd_.load(), POLLIN, 0};
  const bool pending = ::poll(&p, 1, 0) > 0;
  // Read `draining_` after the poll: bytes another thread took off the socket before it are
  // either applied (even) or still being applied (odd: wait for it on the mutex).
  if (pending || (draining_.load() & 1)) {
    std::lock_guard lock(mu_);
    if (pending) DrainLocked();
  }
  return live_.load(std::memory_order_acquire);
}

void RedisInvalidations::Run(std::stop_token stop) {
  auto backoff = std::chrono::milliseconds(50);
  bool warned = false;
  while (!stop.stop_requested()) {
    if (!live_.load()) {
      try {
        Connect();
        backoff = std::chrono::milliseconds(50);
        warned = false;
      } catch (const std::exception& e) {
        if (!warned) logger_.Warn("redis invalidations: cannot subscribe; retrying", {{"error", e.what()}});
        warned = true;
        for (auto slept = std::chrono::milliseconds(0); slept < backoff && !stop.stop_requested();
             slept += std::chrono::milliseconds(20)) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      }
      continue;
    }
    pollfd p{fd_.load(), POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      std::lock_guard lock(mu_);
      DrainLocked();
    }
  }
  std::lock_guard lock(mu_);
  if (ctx_) CloseLocked();
}

}  // namespace tessera
