// The HTTP server every service runs: Pistache 0.0.5's TCP listener and reactors underneath,
// requests read with http-parser, both hidden from handlers (docs/architecture.md, "The HTTP
// server").
//
// One code path serves all routes: request id, body limit (413), routing (404/405 as
// problem+json), authentication and per-route roles (401/403), the handler, error mapping
// (ProblemError -> its problem, UnavailableError -> 503, anything else -> 500), response
// headers (keep-alive unless the client asks to close or speaks HTTP/1.0 without keep-alive;
// after an answer that says Connection: Close the server shuts its side), and per-route
// metrics. /healthz, /readyz and /metrics are built in. A HEAD request runs its GET route and
// answers the same status and headers, Content-Length included, with no content. Input that is
// not readable HTTP/1.1 gets a problem+json 400, 413 or 431 and its connection closes; so does a
// header that must appear once (Authorization, Content-Type, Expect, Host, Idempotency-Key,
// If-Match, X-Request-Id) sent twice. Other headers sent twice reach handlers joined with ", ".
// Pipelined requests are served and answered in order; a connection with 128 unanswered gets
// 429 for the next and closes. Connections idle longer than `idle_timeout`, slower than
// `request_timeout` to send a whole request, or that leave answers queued unread for
// `request_timeout`, are closed.
//
// A route is synchronous (Route: the handler returns the answer on the server's thread) or
// asynchronous (RouteAsync: the handler takes an HttpResponder and may answer later, from any
// thread, e.g. from a Redis reply; the server's thread is free meanwhile). Both go through the
// same pipeline; a request counts as in flight (for the drain) until its answer has been sent.
// Whichever thread gives an answer writes it to the socket, through a dup() of the connection's
// descriptor (so a number Pistache has closed and reused for another client never receives it),
// once every earlier answer of the connection is out; what the socket does not take at once
// goes to Pistache's write queue, and later answers follow it there. Each connection therefore
// holds two descriptors.
//
// Shutdown() drains: readiness fails at once, then the server waits for requests in flight to
// finish (up to the drain timeout) before stopping the listener, so no accepted request is cut.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/auth.h"
#include "tessera/http_types.h"
#include "tessera/logging.h"
#include "tessera/metrics.h"

namespace Pistache::Tcp {
class Listener;
}

namespace tessera {

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer;

// The answer to one request, given once from any thread. Copies share the request: the first
// Send or Fail answers it and later ones do nothing. When the last copy is gone unanswered the
// request is answered 500 (a handler that lost its request is a bug, but the client still gets
// an answer and the drain still ends).
class HttpResponder {
 public:
  void Send(HttpResponse response) const;
  // Answers as if the handler had thrown `error` (ProblemError -> its problem, UnavailableError
  // -> 503, anything else -> 500).
  void Fail(std::exception_ptr error) const;

 private:
  friend class HttpServer;
  struct Exchange;
  explicit HttpResponder(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  std::shared_ptr<Exchange> exchange_;
};

// `request` stays valid until the request is answered. An exception thrown by the handler itself
// is answered like a synchronous handler's.
using AsyncHttpHandler = std::function<void(const HttpRequest& request, HttpResponder responder)>;

struct RouteOptions {
  RoleSet roles;             // roles that may call (admin and service always may)
  bool is_public = false;    // no authentication at all
  std::string member_param;  // path parameter naming the member an app token must own
};

struct HttpServerOptions {
  std::string service;
  int port = 0;
  int threads = 4;
  // A larger body is refused with 413 while it arrives (from its Content-Length, or as a chunked
  // body grows past it) and the connection is closed.
  int64_t max_body_bytes = 64 * 1024;
  // A keep-alive connection with no request for this long is closed (nginx's keepalive_timeout).
  std::chrono::milliseconds idle_timeout{75000};
  // A request whose line, headers and body have not all arrived this long after its first byte
  // is dropped with its connection, and so is a connection whose queued answers have not moved
  // for this long (a slow or stalled client holds nothing for longer).
  std::chrono::milliseconds request_timeout{30000};
  std::chrono::milliseconds drain_timeout{10000};
  // After readiness fails and before draining starts, keep serving this long so load
  // balancers notice (Kubernetes: a few seconds). 0 locally.
  std::chrono::milliseconds drain_grace{0};
};

class HttpServer {
 public:
  // `auth`, `metrics` and `logger` must outlive the server.
  HttpServer(HttpServerOptions options, const Authenticator& auth, MetricsRegistry& metrics,
             Logger& logger);
  ~HttpServer();

  // Register before Start(). `pattern` segments in braces are parameters: /v1/members/{id}.
  void Route(const std::string& method, const std::string& pattern, RouteOptions options,
             HttpHandler handler);
  void RouteAsync(const std::string& method, const std::string& pattern, RouteOptions options,
                  AsyncHttpHandler handler);
  // Returns nullopt when ready, or why not. Called by /readyz.
  void SetReadinessCheck(std::function<std::optional<std::string>()> check);

  // Binds and serves on background threads. Throws ConfigError if the port cannot be bound.
  void Start();
  uint16_t port() const;
  // Graceful stop as described above. Idempotent.
  void Shutdown();
  bool draining() const { return draining_.load(); }

 private:
  struct CompiledRoute;
  class Adapter;
  class Connections;
  friend class HttpResponder;
  friend struct HttpResponder::Exchange;
  // Route and RouteAsync both register through this.
  void AddRoute(const std::string& method, const std::string& pattern, RouteOptions options,
                AsyncHttpHandler handler);
  // Runs the pipeline on `exchange`: its `finish` gets the answer, on this thread or on the one
  // that completes an asynchronous route.
  void Run(std::shared_ptr<HttpResponder::Exchange> exchange);
  void Dispatch(HttpRequest& request, const HttpResponder& responder);
  void Complete(HttpResponder::Exchange& exchange, HttpResponse response);
  HttpResponse ResponseFor(std::exception_ptr error, const HttpRequest& request);
  void Record(const std::string& route, const std::string& method, int status, double seconds);

  HttpServerOptions options_;
  const Authenticator& auth_;
  MetricsRegistry& metrics_;
  Logger& logger_;
  std::vector<std::unique_ptr<CompiledRoute>> routes_;
  std::function<std::optional<std::string>()> readiness_;
  std::array<Counter*, 4> answers_{};  // by ConnectionSocket::Outcome
  std::unique_ptr<Connections> connections_;  // before listener_: the reactors use it until they stop
  std::unique_ptr<Pistache::Tcp::Listener> listener_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stopped_{false};
  friend class Adapter;
};

}  // namespace tessera
