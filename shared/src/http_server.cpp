#include "tessera/http_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>

#include <algorithm>
#include <sstream>
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
  exchange_->server->Complete(*exchange_, exchange_->server->ResponseFor(error, exchange_->request));
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
    auto exchange = std::make_shared<HttpResponder::Exchange>(server_);
    HttpRequest& request = exchange->request;
    request.method = Http::methodString(req.method());
    request.path = req.resource();
    for (auto it = req.query().parameters_begin(); it != req.query().parameters_end(); ++it) {
      request.query[PercentDecode(it->first)] = PercentDecode(it->second);
    }
    // One stream per thread for the typed headers' text: a fresh ostringstream per header
    // (its locale and buffer) cost more than the copy itself.
    thread_local std::ostringstream os;
    for (const auto& h : req.headers().list()) {
      os.str(std::string());
      os.clear();
      h->write(os);
      request.headers[Lower(h->name())] = os.str();
    }
    for (const auto& [name, raw] : req.headers().rawList()) request.headers[Lower(name)] = raw.value();
    request.body = req.body();

    auto connection = request.Header("connection");
    const bool close = (connection && Lower(*connection) == "close") ||
                       (req.version() == Http::Version::Http10 &&
                        !(connection && Lower(*connection) == "keep-alive"));
    const bool head = req.method() == Http::Method::Head;
    // Pistache queues what a writer sends to the connection's reactor, so the answer may be
    // written from whichever thread completes the request.
    exchange->finish = [writer = std::make_shared<Http::ResponseWriter>(std::move(writer)), close, head,
                        logger = &server_->logger_](const HttpRequest& request, HttpResponse& response,
                                                    std::function<void()> written) {
      try {
        Write(*writer, request, response, close, head, written);
      } catch (const std::exception& e) {  // the client has gone: nobody to answer
        logger->Log(LogLevel::kDebug, "answer not written", {{"error", e.what()}}, request.request_id);
        written();
      }
    };
    server_->Run(std::move(exchange));
  }

 private:
  // Calls `written` when Pistache has sent the answer or given up on it; not at all if it throws.
  static void Write(Pistache::Http::ResponseWriter& writer, const HttpRequest& request, HttpResponse& response,
                    bool close, bool head, const std::function<void()>& written) {
    using namespace Pistache;
    writer.headers().remove<Http::Header::Connection>();
    writer.headers().add<Http::Header::Connection>(close ? Http::ConnectionControl::Close
                                                         : Http::ConnectionControl::KeepAlive);
    writer.headers().add(std::make_shared<DynamicHeader>("X-Request-Id", request.request_id));
    for (const auto& [name, value] : response.headers) {
      writer.headers().add(std::make_shared<DynamicHeader>(name, value));
    }
    const Http::Mime::MediaType& mime = ParsedMediaType(response.content_type);
    if (head) {
      // A HEAD answer is the GET's status and headers without content. Pistache's send() writes
      // whatever body it is given with its length, and a body after a HEAD answer would be read
      // as the start of the next answer on the connection, while an empty one would claim
      // Content-Length: 0, which RFC 9110 §8.6 forbids. So the headers go out alone through a
      // response stream, flushed without its terminating chunk. Its Transfer-Encoding: chunked
      // is allowed in a HEAD answer (RFC 9112 §6.1) but there says the GET would be chunked,
      // which ours is not: a wrong hint about framing the client never reads, where a wrong
      // length or a stray body would misframe the connection.
      writer.setMime(mime);
      auto stream = writer.stream(static_cast<Http::Code>(response.status));
      stream.flush();
      written();
    } else {
      // Pistache queues the bytes for the connection's reactor; the promise settles once they
      // are sent (or the connection failed).
      writer.send(static_cast<Http::Code>(response.status), response.body, mime)
          .then([written](ssize_t) { written(); }, [written](std::exception_ptr) { written(); });
    }
  }

  HttpServer* server_;
};

HttpServer::HttpServer(HttpServerOptions options, const Authenticator& auth,
                       MetricsRegistry& metrics, Logger& logger)
    : options_(std::move(options)), auth_(auth), metrics_(metrics), logger_(logger) {
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
  RouteAsync(method, pattern, std::move(options),
             [handler = std::move(handler)](const HttpRequest& request, HttpResponder responder) {
               responder.Send(handler(request));
             });
}

void HttpServer::RouteAsync(const std::string& method, const std::string& pattern, RouteOptions options,
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
