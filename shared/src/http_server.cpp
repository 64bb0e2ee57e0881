#include "tessera/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <ostream>
#include <thread>
#include <unordered_map>

#include "tessera/crypto.h"

namespace tessera {

namespace {
std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// ASCII lower case (header names and the Connection value are ASCII tokens); std::tolower
// goes through the locale for every character.
std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

bool ValidRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}

// The parsed form of a response content type. A service answers with a handful of them, so
// each thread parses each once.
const Pistache::Http::Mime::MediaType& ParsedMediaType(const std::string& content_type) {
  thread_local std::unordered_map<std::string, Pistache::Http::Mime::MediaType> parsed;
  auto it = parsed.find(content_type);
  if (it == parsed.end()) {
    it = parsed.emplace(content_type, Pistache::Http::Mime::MediaType::fromString(content_type)).first;
  }
  return it->second;
}

// A response header with a run-time name. Pistache drops headers added with addRaw(), so every
// custom header is written through this typed class instead.
class DynamicHeader final : public Pistache::Http::Header::Header {
 public:
  DynamicHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& os) const override { os << value_; }
  void parse(const std::string& data) override { value_ = data; }
  // Debian's Pistache is built with SAFE_HEADER_CAST: headers carry a name hash.
  uint64_t hash() const override { return Pistache::Http::Header::detail::hash(name_.c_str()); }

 private:
  std::string name_, value_;
};

// True on a reactor thread while Pistache runs our handler for a request it read: an answer
// given then is written through Pistache's queue like any other; one given later, from another
// thread, is written by ConnectionSocket.
thread_local bool t_in_reactor = false;

// The bytes of a keep-alive HTTP/1.1 answer with content (not for HEAD, 1xx, 204 or 304), with
// the headers Pistache's own answers carry.
std::string RenderKeepAliveAnswer(const HttpResponse& response, const std::string& request_id) {
  char digits[24];
  std::string out;
  size_t extra = 0;
  for (const auto& [name, value] : response.headers) extra += name.size() + value.size() + 4;
  out.reserve(128 + request_id.size() + response.content_type.size() + extra + response.body.size());
  out.append("HTTP/1.1 ");
  out.append(digits, std::to_chars(digits, digits + sizeof digits, response.status).ptr);
  out.push_back(' ');
  out.append(Pistache::Http::codeString(static_cast<Pistache::Http::Code>(response.status)));
  out.append("\r\nConnection: Keep-Alive\r\nX-Request-Id: ").append(request_id);
  for (const auto& [name, value] : response.headers) out.append("\r\n").append(name).append(": ").append(value);
  out.append("\r\nContent-Type: ").append(response.content_type);
  out.append("\r\nContent-Length: ");
  out.append(digits, std::to_chars(digits, digits + sizeof digits, response.body.size()).ptr);
  out.append("\r\n\r\n").append(response.body);
  return out;
}

std::string PercentDecode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (in[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// Runs `then` once Pistache's write promise settles, whether the bytes went out or not.
void WhenSettled(Pistache::Async::Promise<ssize_t>& promise, const std::function<void()>& then) {
  promise.then([then](ssize_t) { then(); }, [then](std::exception_ptr) { then(); });
}

// A connection's socket as the server writes it from a thread other than the connection's
// reactor: an asynchronous route's answer, given e.g. on the Redis pipeline's thread. Pistache's
// send would queue that answer for the reactor, which costs an eventfd wake-up, eventfd reads
// and two or three epoll_ctl calls per answer; here it is sent at once.
//
// Contract:
// - The descriptor is a dup() of Pistache's, taken on the reactor thread at the connection's
//   first request (Of) and closed with the last owner: the Peer keeps one in its data, and each
//   request in flight on the connection another. Pistache closes its own descriptor when the
//   connection ends and the number may then be reused for a new connection; this one still names
//   the old socket, so an answer can never reach another client. (Each connection of a server
//   with asynchronous routes therefore holds two descriptors; so does, until it closes, a
//   connection whose answer says Connection: close, which is shut through this descriptor.)
// - Bytes never interleave: an answer goes straight to the socket only while none of this
//   connection's answers waits in Pistache's queue. Otherwise it joins that queue, and so does
//   whatever part of a direct answer the socket did not take at once. Answers Pistache writes
//   on its own (its 400 for a malformed request, its 408 and 413) are not tracked: a client that
//   pipelines a request behind such an error can see the two answers' bytes mixed.
class ConnectionSocket : public std::enable_shared_from_this<ConnectionSocket> {
 public:
  enum class Outcome { kWhole, kPartial, kBehindQueue, kClosed };

  // The connection's socket, made at its first call. Reactor thread only (the Peer's data is
  // not locked). nullptr for TLS connections, or when dup() fails (the server then keeps to
  // Pistache's queue).
  static std::shared_ptr<ConnectionSocket> Of(Pistache::Tcp::Peer& peer) {
    static const std::string kKey = "tessera.connection_socket";
    if (auto existing = peer.tryGetData(kKey)) return std::static_pointer_cast<ConnectionSocket>(existing);
    if (peer.ssl() != nullptr) return nullptr;
    const int fd = ::fcntl(peer.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return nullptr;
    auto socket = std::make_shared<ConnectionSocket>(fd);
    peer.putData(kKey, socket);
    return socket;
  }

  explicit ConnectionSocket(int fd) : fd_(fd) {}
  ConnectionSocket(const ConnectionSocket&) = delete;
  ConnectionSocket& operator=(const ConnectionSocket&) = delete;
  ~ConnectionSocket() { ::close(fd_); }

  // Writes `wire`, from any thread; what goes to Pistache's queue goes through `peer` (nullptr:
  // the connection is gone, nothing is queued). `written` runs once the bytes are on the wire
  // or cannot be.
  Outcome Write(std::string wire, const std::shared_ptr<Pistache::Tcp::Peer>& peer, std::function<void()> written) {
    std::unique_lock lock(mu_);
    // The answer is done with (out, or nowhere to go): `written` runs outside the lock.
    auto done_with = [&](Outcome outcome) {
      lock.unlock();
      written();
      return outcome;
    };
    size_t sent = 0;
    const bool behind_queue = queued_ > 0;
    if (!behind_queue) {
      while (sent < wire.size()) {
        const ssize_t n = ::send(fd_, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          sent += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          return done_with(Outcome::kClosed);  // reset or shut: Pistache sees the hang-up on its next read
        } else {
          break;  // the socket's buffer is full
        }
      }
      if (sent == wire.size()) return done_with(Outcome::kWhole);
    }
    if (!peer) return done_with(Outcome::kClosed);
    // Queued under the lock, so that no later answer is written directly before these bytes.
    ++queued_;
    const size_t rest = wire.size() - sent;
    auto promise = peer->send(Pistache::RawBuffer(sent == 0 ? std::move(wire) : wire.substr(sent), rest));
    lock.unlock();  // a promise settled already runs its callback here, and that takes the lock
    WhenSettled(promise, [self = shared_from_this(), written] {
      self->Settled();
      written();
    });
    return behind_queue ? Outcome::kBehindQueue : Outcome::kPartial;
  }

  // Around an answer Pistache writes itself: Queued() before it is handed to Pistache, Settled()
  // once its promise settles. An answer whose end is not reported (HEAD's flushed stream) is
  // Queued() and never Settled(): the connection's later answers all take Pistache's queue.
  void Queued() {
    std::lock_guard lock(mu_);
    ++queued_;
  }
  void Settled() {
    std::lock_guard lock(mu_);
    --queued_;
  }
  // Ends the server's side of the connection (FIN) once an answer that said Connection: close is
  // out: Pistache 0.0.5 sends the header but leaves the connection open. The client then closes,
  // and Pistache with it.
  void ShutdownWrite() {
    std::lock_guard lock(mu_);
    ::shutdown(fd_, SHUT_WR);
  }

 private:
  std::mutex mu_;
  const int fd_;
  int queued_ = 0;  // this connection's answers in Pistache's queue, not yet written
};

}  // namespace

// One request from its arrival to its answer. `finish` writes the answer (to the socket, or to
// whoever waits for it); `answered` makes the first answer the only one.
struct HttpResponder::Exchange {
  explicit Exchange(HttpServer* s) : server(s) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  // The last reference gone unanswered: a handler lost its request. Answer 500 rather than
  // leave the client waiting and the drain counting it.
  ~Exchange() {
    if (answered.exchange(true)) return;
    server->logger_.Log(LogLevel::kError, "request dropped without an answer", {{"route", request.route}},
                        request.request_id);
    server->Complete(*this, HttpResponse::FromProblem(Problem::Make(500, codes::kInternal, "internal error")));
  }

  HttpServer* server;
  HttpRequest request;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  // Writes the answer, then calls `written` once it is on the wire (or cannot be written), so
  // that the drain does not stop the server under an answer still queued for a connection.
  // Set by the adapter before the exchange is run.
  std::function<void(const HttpRequest&, HttpResponse&, std::function<void()> written)> finish;
  std::atomic<bool> answered{false};
};

void HttpResponder::Send(HttpResponse response) const {
  if (exchange_->answered.exchange(true)) return;
  exchange_->server->Complete(*exchange_, std::move(response));
}

void HttpResponder::Fail(std::exception_ptr error) const {
  if (exchange_->answered.exchange(true)) return;
  HttpResponse response;
  try {
    response = exchange_->server->ResponseFor(error, exchange_->request);
  } catch (...) {  // even the error could not be rendered: answer without quoting anything
    response = HttpResponse::FromProblem(Problem::Make(500, codes::kInternal, "internal error"));
  }
  exchange_->server->Complete(*exchange_, std::move(response));
}

struct HttpServer::CompiledRoute {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;
  RouteOptions options;
  AsyncHttpHandler handler;

  bool Match(const std::vector<std::string>& parts, std::map<std::string, std::string>& params) const {
    if (parts.size() != segments.size()) return false;
    for (size_t i = 0; i < parts.size(); ++i) {
      const std::string& seg = segments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        if (parts[i].empty()) return false;
        params[seg.substr(1, seg.size() - 2)] = PercentDecode(parts[i]);
      } else if (seg != parts[i]) {
        return false;
      }
    }
    return true;
  }
};

class HttpServer::Adapter final : public Pistache::Http::Handler {
 public:
  HTTP_PROTOTYPE(Adapter)
  explicit Adapter(HttpServer* server) : server_(server) {}

  void onRequest(const Pistache::Http::Request& req, Pistache::Http::ResponseWriter writer) override {
    using namespace Pistache;
    struct InReactor {
      InReactor() { t_in_reactor = true; }
      ~InReactor() { t_in_reactor = false; }
    } in_reactor;
    auto exchange = std::make_shared<HttpResponder::Exchange>(server_);
    HttpRequest& request = exchange->request;
    request.method = Http::methodString(req.method());
    request.path = req.resource();
    for (auto it = req.query().parameters_begin(); it != req.query().parameters_end(); ++it) {
      request.query[PercentDecode(it->first)] = PercentDecode(it->second);
    }
    // Pistache 0.0.5 keeps every header it parsed in the raw list, the ones it also parses into
    // typed headers (Host, Content-Type, Authorization, ...) included: the raw list alone is the
    // request's headers, as the client sent them. (Writing the typed ones back to text as well
    // cost about 1 % of a redemption's instructions, only to be overwritten by the raw values.)
    for (const auto& [name, raw] : req.headers().rawList()) request.headers[Lower(name)] = raw.value();
    request.body = req.body();

    auto connection = request.Header("connection");
    const bool close = (connection && Lower(*connection) == "close") ||
                       (req.version() == Http::Version::Http10 &&
                        !(connection && Lower(*connection) == "keep-alive"));
    const bool head = req.method() == Http::Method::Head;
    // Answers given off the reactor thread can skip Pistache's queue (ConnectionSocket): only
    // servers with asynchronous routes give any, so only they keep a socket per connection from
    // its first request. A connection whose answer closes it needs one too, to close it.
    std::shared_ptr<ConnectionSocket> socket;
    if (server_->any_async_route_ || close) {
      if (auto peer = writer.peer()) socket = ConnectionSocket::Of(*peer);
    }
    const bool direct_ok = socket && !close && !head && req.version() == Http::Version::Http11;
    // Pistache queues what a writer sends to the connection's reactor, so the answer may be
    // written from whichever thread completes the request.
    exchange->finish = [writer = std::make_shared<Http::ResponseWriter>(std::move(writer)), close, head, direct_ok,
                        socket = std::move(socket), server = server_](const HttpRequest& request, HttpResponse& response,
                                                                       std::function<void()> written) {
      try {
        if (direct_ok && !t_in_reactor && response.status >= 200 && response.status != 204 && response.status != 304) {
          std::shared_ptr<Tcp::Peer> peer;
          try {
            peer = writer->peer();
          } catch (const std::exception&) {  // the client has gone; the socket says so
          }
          if (peer) peer->setIdle(true);  // as Pistache's send does: the connection awaits its next request
          const auto outcome = socket->Write(RenderKeepAliveAnswer(response, request.request_id), peer, written);
          server->direct_answers_[static_cast<size_t>(outcome)]->Inc();
          return;
        }
        Write(*writer, request, response, close, head, socket, written);
      } catch (const std::exception& e) {  // the client has gone: nobody to answer
        server->logger_.Log(LogLevel::kDebug, "answer not written", {{"error", e.what()}}, request.request_id);
        written();
      }
    };
    server_->Run(std::move(exchange));
  }

 private:
  // Writes through Pistache's queue. Calls `written` when Pistache has sent the answer or given
  // up on it; not at all if it throws. `socket` (may be null) learns what waits in the queue.
  static void Write(Pistache::Http::ResponseWriter& writer, const HttpRequest& request, HttpResponse& response,
                    bool close, bool head, const std::shared_ptr<ConnectionSocket>& socket,
                    const std::function<void()>& written) {
    using namespace Pistache;
    writer.headers().remove<Http::Header::Connection>();
    writer.headers().add<Http::Header::Connection>(close ? Http::ConnectionControl::Close
                                                         : Http::ConnectionControl::KeepAlive);
    writer.headers().add(std::make_shared<DynamicHeader>("X-Request-Id", request.request_id));
    for (const auto& [name, value] : response.headers) {
      writer.headers().add(std::make_shared<DynamicHeader>(name, value));
    }
    const Http::Mime::MediaType& mime = ParsedMediaType(response.content_type);
    if (socket) socket->Queued();
    if (head) {
      // A HEAD answer is the GET's status and headers without content. Pistache's send() writes
      // whatever body it is given with its length, and a body after a HEAD answer would be read
      // as the start of the next answer on the connection, while an empty one would claim
      // Content-Length: 0, which RFC 9110 §8.6 forbids. So the headers go out alone through a
      // response stream, flushed without its terminating chunk. Its Transfer-Encoding: chunked
      // is allowed in a HEAD answer (RFC 9112 §6.1) but there says the GET would be chunked,
      // which ours is not: a wrong hint about framing the client never reads, where a wrong
      // length or a stray body would misframe the connection. Nothing reports when the stream's
      // bytes are out, so `socket` is never told: the connection's answers keep to the queue
      // (and a HEAD request that asks to close leaves the closing to the client).
      writer.setMime(mime);
      auto stream = writer.stream(static_cast<Http::Code>(response.status));
      stream.flush();
      written();
    } else {
      // Pistache queues the bytes for the connection's reactor; the promise settles once they
      // are sent (or the connection failed).
      auto sent = writer.send(static_cast<Http::Code>(response.status), response.body, mime);
      WhenSettled(sent, [socket, close, written] {
        if (socket) {
          socket->Settled();
          if (close) socket->ShutdownWrite();
        }
        written();
      });
    }
  }

  HttpServer* server_;
};

HttpServer::HttpServer(HttpServerOptions options, const Authenticator& auth,
                       MetricsRegistry& metrics, Logger& logger)
    : options_(std::move(options)), auth_(auth), metrics_(metrics), logger_(logger) {
  // In ConnectionSocket::Outcome's order.
  const char* outcomes[] = {"whole", "partial", "behind_queue", "closed"};
  for (size_t i = 0; i < direct_answers_.size(); ++i) {
    direct_answers_[i] = &metrics_.GetCounter(
        "tessera_http_direct_answers_total",
        "Answers given off the reactor thread and written to the socket by that thread, by outcome: whole, partial "
        "(the rest went to Pistache's queue), behind_queue (queued behind an earlier answer), closed",
        {{"outcome", outcomes[i]}});
  }
  Route("GET", "/healthz", {.is_public = true}, [](const HttpRequest&) {
    return HttpResponse::Json(200, {{"status", "ok"}});
  });
  Route("GET", "/readyz", {.is_public = true}, [this](const HttpRequest&) {
    if (draining_.load()) {
      return HttpResponse::Json(503, {{"status", "draining"}});
    }
    if (readiness_) {
      if (auto why = readiness_()) return HttpResponse::Json(503, {{"status", "unavailable"}, {"reason", *why}});
    }
    return HttpResponse::Json(200, {{"status", "ready"}});
  });
  Route("GET", "/metrics", {.is_public = true}, [this](const HttpRequest&) {
    return HttpResponse::Text(200, metrics_.Render(), "text/plain; version=0.0.4");
  });
}

HttpServer::~HttpServer() { Shutdown(); }

void HttpServer::Route(const std::string& method, const std::string& pattern, RouteOptions options,
                       HttpHandler handler) {
  // What the handler throws reaches Run(), which answers it.
  AddRoute(method, pattern, std::move(options),
           [handler = std::move(handler)](const HttpRequest& request, HttpResponder responder) {
             responder.Send(handler(request));
           });
}

void HttpServer::RouteAsync(const std::string& method, const std::string& pattern, RouteOptions options,
                            AsyncHttpHandler handler) {
  any_async_route_ = true;
  AddRoute(method, pattern, std::move(options), std::move(handler));
}

void HttpServer::AddRoute(const std::string& method, const std::string& pattern, RouteOptions options,
                          AsyncHttpHandler handler) {
  auto r = std::make_unique<CompiledRoute>();
  r->method = method;
  r->pattern = pattern;
  r->segments = Split(pattern);
  r->options = std::move(options);
  r->handler = std::move(handler);
  routes_.push_back(std::move(r));
}

void HttpServer::SetReadinessCheck(std::function<std::optional<std::string>()> check) {
  readiness_ = std::move(check);
}

void HttpServer::Start() {
  using namespace Pistache;
  try {
    endpoint_ = std::make_unique<Http::Endpoint>(Address(Ipv4::any(), Port(static_cast<uint16_t>(options_.port))));
    auto opts = Http::Endpoint::options()
                    .threads(options_.threads)
                    .flags(Tcp::Options::ReuseAddr)
                    .maxRequestSize(static_cast<size_t>(options_.max_request_bytes))
                    .maxResponseSize(8 * 1024 * 1024);
    endpoint_->init(opts);
    endpoint_->setHandler(Http::make_handler<Adapter>(this));
    endpoint_->serveThreaded();
  } catch (const std::exception& e) {
    throw ConfigError("TESSERA_HTTP_PORT: cannot listen on port " + std::to_string(options_.port) + ": " + e.what());
  }
  logger_.Info("http server listening", {{"port", port()}, {"threads", options_.threads}});
}

uint16_t HttpServer::port() const { return endpoint_ ? static_cast<uint16_t>(endpoint_->getPort()) : 0; }

void HttpServer::Shutdown() {
  if (stopped_.exchange(true)) return;
  draining_ = true;
  if (!endpoint_) return;
  if (options_.drain_grace.count() > 0) std::this_thread::sleep_for(options_.drain_grace);
  const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (in_flight_.load() > 0) {
    logger_.Warn("drain timeout: stopping with requests in flight", {{"in_flight", in_flight_.load()}});
  }
  endpoint_->shutdown();
  logger_.Info("http server stopped");
}

void HttpServer::Run(std::shared_ptr<HttpResponder::Exchange> exchange) {
  in_flight_++;
  HttpRequest& request = exchange->request;
  auto rid = request.Header("x-request-id");
  request.request_id = rid && ValidRequestId(*rid) ? *rid : HexEncode(RandomBytes(12));
  const HttpResponder responder(std::move(exchange));
  try {
    Dispatch(request, responder);
  } catch (...) {
    responder.Fail(std::current_exception());
  }
}

void HttpServer::Complete(HttpResponder::Exchange& exchange, HttpResponse response) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange.start).count();
  const std::string& route = exchange.request.route;  // set by Dispatch once a route matches
  Record(route.empty() ? "unmatched" : route, exchange.request.method, response.status, seconds);
  exchange.finish(exchange.request, response, [this] { in_flight_--; });
}

HttpResponse HttpServer::ResponseFor(std::exception_ptr error, const HttpRequest& request) {
  try {
    std::rethrow_exception(error);
  } catch (const ProblemError& e) {
    return HttpResponse::FromProblem(e.problem());
  } catch (const UnavailableError& e) {
    logger_.Log(LogLevel::kWarn, "dependency unavailable", {{"error", e.what()}, {"route", request.route}},
                request.request_id);
    HttpResponse response = HttpResponse::FromProblem(Problem::Make(
        503, codes::kServiceUnavailable,
        "a backing service is unavailable; retry later. A change may or may not have been applied (a route that "
        "takes an Idempotency-Key applies a retry with the same key at most once)"));
    response.headers.emplace_back("Retry-After", "1");
    return response;
  } catch (const std::exception& e) {
    logger_.Log(LogLevel::kError, "request failed", {{"error", e.what()}, {"route", request.route}},
                request.request_id);
  } catch (...) {
    logger_.Log(LogLevel::kError, "request failed", {{"route", request.route}}, request.request_id);
  }
  return HttpResponse::FromProblem(Problem::Make(500, codes::kInternal, "internal error"));
}

void HttpServer::Dispatch(HttpRequest& request, const HttpResponder& responder) {
  if (static_cast<int64_t>(request.body.size()) > options_.max_body_bytes) {
    throw ProblemError(Problem::Make(413, codes::kPayloadTooLarge,
                                     "the request body exceeds " + std::to_string(options_.max_body_bytes) + " bytes"));
  }
  const auto parts = Split(request.path.empty() ? "/" : request.path);
  std::vector<std::string> allowed;
  for (const auto& r : routes_) {
    std::map<std::string, std::string> params;
    if (!r->Match(parts, params)) continue;
    if (r->method != request.method && !(request.method == "HEAD" && r->method == "GET")) {
      allowed.push_back(r->method);
      continue;
    }
    request.route = r->pattern;
    request.path_params = std::move(params);
    if (!r->options.is_public) {
      auto auth = auth_.Authenticate(request.Header("authorization").value_or(""));
      if (auto* p = std::get_if<Problem>(&auth)) {
        HttpResponse resp = HttpResponse::FromProblem(*p);
        resp.headers.emplace_back("WWW-Authenticate", "Bearer");
        return responder.Send(std::move(resp));
      }
      request.principal = std::get<Principal>(std::move(auth));
      std::optional<std::string_view> member;
      if (!r->options.member_param.empty()) member = request.Param(r->options.member_param);
      if (auto denied = Authorize(request.principal, r->options.roles, member)) {
        throw ProblemError(*denied);
      }
    }
    return r->handler(request, responder);
  }
  if (!allowed.empty()) {
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    HttpResponse resp = HttpResponse::FromProblem(Problem::Make(
        405, codes::kMethodNotAllowed, request.method + " is not allowed on " + request.path + " (allowed: " + allow + ")"));
    resp.headers.emplace_back("Allow", allow);
    return responder.Send(std::move(resp));
  }
  throw ProblemError(Problem::NotFound("no route for " + request.method + " " + request.path));
}

void HttpServer::Record(const std::string& route, const std::string& method, int status, double seconds) {
  // Each worker thread keeps the metric handles it has used, so the hot path takes no lock.
  struct Handles {
    Counter* requests;
    Histogram* latency;
  };
  thread_local std::unordered_map<std::string, Handles> cache;
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(&metrics_));
  key.append("|").append(route).append("|").append(method).append("|").append(std::to_string(status));
  auto it = cache.find(key);
  if (it == cache.end()) {
    Handles h{&metrics_.GetCounter("tessera_http_requests_total", "HTTP requests by route, method and status",
                                   {{"route", route}, {"method", method}, {"status", std::to_string(status)}}),
              &metrics_.GetHistogram("tessera_http_request_duration_seconds", "HTTP request latency by route",
                                     {{"route", route}, {"method", method}})};
    it = cache.emplace(std::move(key), h).first;
  }
  it->second.requests->Inc();
  it->second.latency->Observe(seconds);
}

}  // namespace tessera
