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

struct HttpServer::CompiledRoute {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;
  RouteOptions options;
  HttpHandler handler;

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
    server_->in_flight_++;
    HttpRequest request;
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

    HttpResponse response = server_->Handle(request);

    writer.headers().remove<Http::Header::Connection>();
    auto connection = request.Header("connection");
    const bool close = (connection && Lower(*connection) == "close") ||
                       (req.version() == Http::Version::Http10 &&
                        !(connection && Lower(*connection) == "keep-alive"));
    writer.headers().add<Http::Header::Connection>(close ? Http::ConnectionControl::Close
                                                         : Http::ConnectionControl::KeepAlive);
    writer.headers().add(std::make_shared<DynamicHeader>("X-Request-Id", request.request_id));
    for (const auto& [name, value] : response.headers) {
      writer.headers().add(std::make_shared<DynamicHeader>(name, value));
    }
    const Http::Mime::MediaType& mime = ParsedMediaType(response.content_type);
    if (req.method() == Http::Method::Head) {
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
    } else {
      writer.send(static_cast<Http::Code>(response.status), response.body, mime);
    }
    server_->in_flight_--;
  }

 private:
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

HttpResponse HttpServer::Handle(HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  auto rid = request.Header("x-request-id");
  request.request_id = rid && ValidRequestId(*rid) ? *rid : HexEncode(RandomBytes(12));
  const CompiledRoute* matched = nullptr;
  HttpResponse response;
  try {
    response = Dispatch(request, &matched);
  } catch (const ProblemError& e) {
    response = HttpResponse::FromProblem(e.problem());
  } catch (const UnavailableError& e) {
    logger_.Log(LogLevel::kWarn, "dependency unavailable", {{"error", e.what()}, {"route", request.route}},
                request.request_id);
    response = HttpResponse::FromProblem(Problem::Make(
        503, codes::kServiceUnavailable, "a backing service is unavailable; nothing was changed, retry later"));
    response.headers.emplace_back("Retry-After", "1");
  } catch (const std::exception& e) {
    logger_.Log(LogLevel::kError, "request failed", {{"error", e.what()}, {"route", request.route}},
                request.request_id);
    response = HttpResponse::FromProblem(Problem::Make(500, codes::kInternal, "internal error"));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Record(matched ? matched->pattern : "unmatched", request.method, response.status, seconds);
  return response;
}

HttpResponse HttpServer::Dispatch(HttpRequest& request, const CompiledRoute** matched) {
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
    *matched = r.get();
    request.route = r->pattern;
    request.path_params = std::move(params);
    if (!r->options.is_public) {
      auto auth = auth_.Authenticate(request.Header("authorization").value_or(""));
      if (auto* p = std::get_if<Problem>(&auth)) {
        HttpResponse resp = HttpResponse::FromProblem(*p);
        resp.headers.emplace_back("WWW-Authenticate", "Bearer");
        return resp;
      }
      request.principal = std::get<Principal>(std::move(auth));
      std::optional<std::string_view> member;
      if (!r->options.member_param.empty()) member = request.Param(r->options.member_param);
      if (auto denied = Authorize(request.principal, r->options.roles, member)) {
        throw ProblemError(*denied);
      }
    }
    return r->handler(request);
  }
  if (!allowed.empty()) {
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    HttpResponse resp = HttpResponse::FromProblem(Problem::Make(
        405, codes::kMethodNotAllowed, request.method + " is not allowed on " + request.path + " (allowed: " + allow + ")"));
    resp.headers.emplace_back("Allow", allow);
    return resp;
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
