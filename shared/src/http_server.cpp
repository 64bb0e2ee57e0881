#include "tessera/http_server.h"

#include <http_parser.h>
#include <pistache/http_defs.h>
#include <pistache/listener.h>
#include <pistache/peer.h>
#include <pistache/tcp.h>
#include <fcntl.h>
#include <linux/tcp.h>  // tcp_info.tcpi_bytes_acked (glibc's netinet/tcp.h lacks it)
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "tessera/crypto.h"
#include "tessera/thread_name.h"

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

// The client's X-Request-Id when it is a usable one (1-128 printable ASCII), else a fresh id.
std::string RequestIdFor(const HttpRequest& request) {
  auto rid = request.Header("x-request-id");
  return rid && ValidRequestId(*rid) ? *rid : HexEncode(RandomBytes(12));
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

// The bytes of an answer: status line, headers and, unless the request was a HEAD, the content.
// A HEAD answer carries the GET's Content-Length and no content (RFC 9110 §9.3.2); 1xx, 204 and
// 304 answers carry neither.
std::string RenderAnswer(const HttpResponse& response, const std::string& request_id, bool close, bool head) {
  char digits[24];
  std::string out;
  size_t extra = 0;
  for (const auto& [name, value] : response.headers) extra += name.size() + value.size() + 4;
  out.reserve(128 + request_id.size() + response.content_type.size() + extra + response.body.size());
  out.append("HTTP/1.1 ");
  out.append(digits, std::to_chars(digits, digits + sizeof digits, response.status).ptr);
  out.push_back(' ');
  out.append(Pistache::Http::codeString(static_cast<Pistache::Http::Code>(response.status)));
  out.append(close ? "\r\nConnection: Close" : "\r\nConnection: Keep-Alive");
  out.append("\r\nX-Request-Id: ").append(request_id);
  for (const auto& [name, value] : response.headers) out.append("\r\n").append(name).append(": ").append(value);
  const bool content = response.status >= 200 && response.status != 204 && response.status != 304;
  if (content) {
    out.append("\r\nContent-Type: ").append(response.content_type);
    out.append("\r\nContent-Length: ");
    out.append(digits, std::to_chars(digits, digits + sizeof digits, response.body.size()).ptr);
  }
  out.append("\r\n\r\n");
  if (content && !head) out.append(response.body);
  return out;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One client connection as the server writes it, from any thread: the reactor's (an answer given
// while the request is read) or another (an asynchronous route's answer, e.g. from the Redis
// pipeline's thread).
//
// Contract:
// - Answers leave in the order their requests arrived (Issue() numbers them), whichever thread
//   gives them and in whatever order: an answer whose predecessors are not out yet waits here and
//   is written by the thread that writes the last of them. So a client may pipeline requests.
// - The descriptor is a dup() of Pistache's, taken when the connection opens and closed with the
//   last owner (the reactor's connection state and each request in flight). Pistache closes its
//   own descriptor when the connection ends and the number may then be reused for a new
//   connection; this one still names the old socket, so an answer can never reach another client.
// - An answer goes straight to the socket. What the socket does not take at once (a slow reader)
//   goes to Pistache's queue for the connection, and every later answer joins that queue behind
//   it until the queue is empty again, so bytes never interleave.
// - After an answer that closes the connection, the server's side is shut (FIN) once its bytes
//   are out; answers after it are dropped.
class ConnectionSocket : public std::enable_shared_from_this<ConnectionSocket> {
 public:
  // How an answer left, counted in `outcomes` (in this order) as soon as it is known.
  enum class Outcome { kWhole, kPartial, kBehindQueue, kClosed };
  using Outcomes = std::array<Counter*, 4>;
  using Done = std::function<void()>;

  ConnectionSocket(int fd, std::weak_ptr<Pistache::Tcp::Peer> peer, const Outcomes& outcomes)
      : fd_(fd), peer_(std::move(peer)), outcomes_(outcomes) {}
  ConnectionSocket(const ConnectionSocket&) = delete;
  ConnectionSocket& operator=(const ConnectionSocket&) = delete;
  ~ConnectionSocket() { ::close(fd_); }

  // Reactor thread: the number of the request just read, which its answer must give to Answer().
  uint64_t Issue() {
    unanswered_.fetch_add(1);
    reading_since_ms_.store(0);
    return issued_++;
  }
  // Reactor thread: the first bytes of a request have arrived.
  void Reading() { reading_since_ms_.store(SteadyMs()); }
  // Requests read whose answers are not yet on the wire (being handled, waiting for an earlier
  // answer, or in Pistache's queue).
  int Unanswered() const { return unanswered_.load(); }

  // Answers request `seq` with `wire` (from any thread); `done` runs once the bytes are on the
  // wire or cannot be, outside any lock.
  void Answer(uint64_t seq, std::string wire, bool close_after, Done done) {
    std::vector<Done> finished;
    std::vector<std::pair<Pistache::Async::Promise<ssize_t>, uint64_t>> queued;
    {
      std::lock_guard lock(mu_);
      waiting_.emplace(seq, Pending{std::move(wire), close_after, std::move(done)});
      while (!waiting_.empty() && waiting_.begin()->first == next_) {
        auto node = waiting_.extract(waiting_.begin());
        ++next_;
        WriteLocked(node.mapped(), finished, queued);
      }
    }
    // A promise already settled runs its callback here, and that takes the lock.
    for (auto& [promise, id] : queued) {
      auto settled = [self = shared_from_this(), id = id] { self->Settled(id); };
      promise.then([settled](ssize_t) { settled(); }, [settled](std::exception_ptr) { settled(); });
    }
    for (auto& then : finished) {
      Answered();
      then();
    }
  }

  // Sends `bytes` (an interim 100 Continue) only if every earlier answer is out and nothing
  // waits in Pistache's queue; otherwise the client sends its body after its own wait.
  void SendInterim(std::string_view bytes) {
    std::lock_guard lock(mu_);
    if (closed_ || !queued_.empty() || next_ != issued_) return;
    (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }

  // For the timeout sweep (one thread): kIdle when the connection has waited longer than
  // `idle_ms` for a request, kRequest longer than `request_ms` for the rest of one, kWrite when
  // answers wait in Pistache's queue and the client has taken none of their bytes for longer
  // than `request_ms` (it does not read what it asked for). Otherwise a connection with a
  // request in flight never times out: its answer is the handler's to give.
  enum class Expiry { kNone, kIdle, kRequest, kWrite };
  Expiry Expired(int64_t now_ms, int64_t idle_ms, int64_t request_ms) {
    if (shut_.load()) return Expiry::kNone;
    if (int64_t writing = write_progress_ms_.load(); writing != 0) {
      const uint64_t acked = BytesAcked();
      if (acked != swept_acked_) {  // the client took bytes since the last sweep
        swept_acked_ = acked;
        write_progress_ms_.compare_exchange_strong(writing, now_ms);  // unless the queue moved meanwhile
      } else if (now_ms - writing > request_ms) {
        return Expiry::kWrite;
      }
    }
    if (unanswered_.load() > 0) return Expiry::kNone;
    const int64_t reading = reading_since_ms_.load();
    if (reading != 0) return now_ms - reading > request_ms ? Expiry::kRequest : Expiry::kNone;
    return now_ms - idle_since_ms_.load() > idle_ms ? Expiry::kIdle : Expiry::kNone;
  }
  // Reactor thread, when Pistache drops the connection: Pistache 0.0.5 discards its write queue
  // without settling the queued answers' promises, so they are finished here (each once:
  // `queued_` holds what is not yet finished).
  void Gone() {
    std::vector<Done> dropped;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      for (auto& [id, done] : queued_) dropped.push_back(std::move(done));
      queued_.clear();
      write_progress_ms_.store(0);
    }
    for (auto& done : dropped) {
      Answered();
      done();
    }
  }

  // Ends the connection both ways; Pistache sees the end on its next read and closes its side.
  void Shut() {
    shut_.store(true);
    ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  struct Pending {
    std::string wire;
    bool close_after;
    Done done;
  };

  void WriteLocked(Pending& p, std::vector<Done>& finished,
                   std::vector<std::pair<Pistache::Async::Promise<ssize_t>, uint64_t>>& queued) {
    auto out = [&](Outcome outcome) {
      outcomes_[static_cast<size_t>(outcome)]->Inc();
      finished.push_back(std::move(p.done));
    };
    if (closed_) return out(Outcome::kClosed);
    closed_ = p.close_after;
    size_t sent = 0;
    const bool behind_queue = !queued_.empty();
    if (!behind_queue) {
      while (sent < p.wire.size()) {
        const ssize_t n = ::send(fd_, p.wire.data() + sent, p.wire.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
          sent += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
          closed_ = true;  // reset or shut: Pistache sees the hang-up on its next read
          return out(Outcome::kClosed);
        } else {
          break;  // the socket's buffer is full
        }
      }
      if (sent == p.wire.size()) {
        if (p.close_after) ::shutdown(fd_, SHUT_WR);
        return out(Outcome::kWhole);
      }
    }
    auto peer = peer_.lock();
    if (!peer) {
      closed_ = true;
      return out(Outcome::kClosed);
    }
    outcomes_[static_cast<size_t>(behind_queue ? Outcome::kBehindQueue : Outcome::kPartial)]->Inc();
    if (queued_.empty()) write_progress_ms_.store(SteadyMs());
    shut_when_flushed_ = shut_when_flushed_ || p.close_after;
    const size_t rest = p.wire.size() - sent;
    auto promise = peer->send(Pistache::RawBuffer(sent == 0 ? std::move(p.wire) : p.wire.substr(sent), rest));
    const uint64_t id = next_queued_id_++;
    queued_.emplace(id, std::move(p.done));
    queued.emplace_back(std::move(promise), id);
  }

  // Bytes of this connection the client's TCP has acknowledged (it acknowledges only what its
  // receive buffer has room for, so the count stops while the client reads nothing).
  uint64_t BytesAcked() const {
    tcp_info info{};
    socklen_t size = sizeof info;
    if (::getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return 0;
    return info.tcpi_bytes_acked;
  }

  void Answered() {
    idle_since_ms_.store(SteadyMs());
    unanswered_.fetch_sub(1);
  }
  // Queued answer `id` left (or failed): finishes it, unless Gone() already did.
  void Settled(uint64_t id) {
    Done done;
    {
      std::lock_guard lock(mu_);
      auto it = queued_.find(id);
      if (it == queued_.end()) return;
      done = std::move(it->second);
      queued_.erase(it);
      if (!queued_.empty()) {
        write_progress_ms_.store(SteadyMs());  // one left: the client reads
      } else {
        write_progress_ms_.store(0);
        if (shut_when_flushed_) ::shutdown(fd_, SHUT_WR);
      }
    }
    Answered();
    done();
  }

  const int fd_;
  const std::weak_ptr<Pistache::Tcp::Peer> peer_;
  const Outcomes outcomes_;
  uint64_t issued_ = 0;  // reactor thread only
  std::atomic<int> unanswered_{0};
  std::atomic<int64_t> reading_since_ms_{0};  // 0: not inside a request
  std::atomic<int64_t> idle_since_ms_{SteadyMs()};
  // 0: nothing in Pistache's queue; else when the queue or the client's acknowledgements last moved
  std::atomic<int64_t> write_progress_ms_{0};
  uint64_t swept_acked_ = 0;  // the sweep's only: BytesAcked() at its last look
  std::atomic<bool> shut_{false};
  std::mutex mu_;
  uint64_t next_ = 0;                   // the next answer to write
  std::map<uint64_t, Pending> waiting_;  // answers given before their predecessors
  // Answers in Pistache's queue, not yet finished: their `done`s, by queue number.
  std::map<uint64_t, Done> queued_;
  uint64_t next_queued_id_ = 0;
  bool closed_ = false;                 // an answer closed the connection, or the socket failed
  bool shut_when_flushed_ = false;
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

// Every open connection, for the timeout sweep: a thread that shuts connections idle longer than
// the idle timeout, slower than the request timeout to send a whole request, or to read the
// answers queued for it.
class HttpServer::Connections {
 public:
  // Starts the sweep; the destructor stops it. `server` must outlive this.
  explicit Connections(HttpServer& server) : server_(server) {
    const char* help =
        "Connections the server closed for a timeout: idle (no request for TESSERA_HTTP_IDLE_TIMEOUT_MS), "
        "request (a request not whole after TESSERA_HTTP_REQUEST_TIMEOUT_MS) or write (answers not read by the "
        "client for TESSERA_HTTP_REQUEST_TIMEOUT_MS)";
    const char* kinds[] = {"idle", "request", "write"};  // in Expiry's order, after kNone
    for (size_t i = 0; i < timed_out_.size(); ++i) {
      timed_out_[i] = &server.metrics_.GetCounter("tessera_http_connections_timed_out_total", help, {{"timeout", kinds[i]}});
    }
    sweeper_ = std::thread([this] {
      NameThisThread("http-timeouts");
      Sweep();
    });
  }
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;
  ~Connections() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    sweeper_.join();
  }

  void Add(const std::shared_ptr<ConnectionSocket>& socket) {
    std::lock_guard lock(mu_);
    open_[socket.get()] = socket;
  }
  void Remove(ConnectionSocket* socket) {
    std::lock_guard lock(mu_);
    open_.erase(socket);
  }

 private:
  void Sweep() {
    const int64_t idle = server_.options_.idle_timeout.count();
    const int64_t request = server_.options_.request_timeout.count();
    const auto tick = std::chrono::milliseconds(std::clamp<int64_t>(std::min(idle, request) / 4, 10, 1000));
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, tick, [this] { return stop_; })) {
      const int64_t now = SteadyMs();
      for (auto& [raw, weak] : open_) {
        auto socket = weak.lock();
        if (!socket) continue;
        const auto expiry = socket->Expired(now, idle, request);
        if (expiry == ConnectionSocket::Expiry::kNone) continue;
        socket->Shut();
        timed_out_[static_cast<size_t>(expiry) - 1]->Inc();
      }
    }
  }

  HttpServer& server_;
  std::array<Counter*, 3> timed_out_{};  // in Expiry's order, after kNone
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::unordered_map<ConnectionSocket*, std::weak_ptr<ConnectionSocket>> open_;
  std::thread sweeper_;
};

// Reads requests off Pistache's TCP connections with http_parser and hands each to Run(). One
// clone per reactor thread; a connection stays on one reactor, so its state here is touched by
// that thread only. Answers go through the connection's ConnectionSocket, from any thread.
class HttpServer::Adapter final : public Pistache::Tcp::Handler {
 public:
  PROTOTYPE_OF(Pistache::Tcp::Handler, Adapter)
  explicit Adapter(HttpServer* server) : server_(server) {}
  Adapter(const Adapter& other) : Pistache::Tcp::Handler(), server_(other.server_) {}

  // Pipelined requests of one connection whose answers are not yet on the wire, at most: the
  // next is refused with 429 and the connection closes. Bounds what a client that sends without
  // reading makes the server hold (Pistache reads whatever arrives).
  static constexpr int kMaxUnanswered = 128;

  void onConnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    // Pistache's reactor threads carry the process's name; this one serves connections from now on.
    thread_local const bool named = (NameThisThread("http-io"), true);
    (void)named;
    const int fd = ::fcntl(peer->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {  // out of descriptors: refuse the connection rather than serve it half
      server_->logger_.Warn("connection refused: no descriptor for it", {{"errno", errno}});
      ::shutdown(peer->fd(), SHUT_RDWR);
      return;
    }
    auto connection = std::make_unique<Connection>();
    connection->server = server_;
    connection->socket = std::make_shared<ConnectionSocket>(fd, peer, server_->answers_);
    http_parser_init(&connection->parser, HTTP_REQUEST);
    connection->parser.data = connection.get();
    server_->connections_->Add(connection->socket);
    connections_[peer.get()] = std::move(connection);
  }

  void onDisconnection(const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    auto it = connections_.find(peer.get());
    if (it == connections_.end()) return;
    server_->connections_->Remove(it->second->socket.get());
    it->second->socket->Gone();
    connections_.erase(it);
  }

  void onInput(const char* buffer, size_t length, const std::shared_ptr<Pistache::Tcp::Peer>& peer) override {
    auto it = connections_.find(peer.get());
    if (it == connections_.end()) return;  // refused in onConnection
    Connection& c = *it->second;
    if (c.stopped) return;  // the last request this connection gets an answer for has been read
    http_parser_execute(&c.parser, &Settings(), buffer, length);
    if (c.stopped) return;
    if (c.rejection) return Reject(c, *c.rejection);
    const auto error = HTTP_PARSER_ERRNO(&c.parser);
    if (error == HPE_HEADER_OVERFLOW) {
      return Reject(c, Problem::Make(431, codes::kRequestHeadersTooLarge,
                                     "the request line and headers exceed " + std::to_string(HTTP_MAX_HEADER_SIZE) +
                                         " bytes"));
    }
    if (error != HPE_OK) {
      return Reject(c, Problem::Make(400, codes::kMalformedRequest,
                                     std::string("the request is not valid HTTP/1.1: ") +
                                         http_errno_description(error)));
    }
  }

 private:
  // A connection's reading state (reactor thread only).
  struct Connection {
    HttpServer* server = nullptr;
    http_parser parser{};
    std::shared_ptr<ConnectionSocket> socket;
    HttpRequest request;  // the request being read
    std::string url, field, value;
    bool in_value = false;
    std::optional<Problem> rejection;  // set by a callback that stopped the parser
    bool stopped = false;              // nothing more is read from the connection
  };

  static Connection& Of(http_parser* p) { return *static_cast<Connection*>(p->data); }

  // Files the header just read. A list-valued header sent twice is joined with ", " (RFC 9110
  // 5.3); a second value of a header that must appear once (`kSingletons`) makes the request
  // ambiguous — a proxy may have acted on the other one — so it is refused (false, `rejection`).
  static bool EndHeader(Connection& c) {
    if (c.field.empty()) return true;
    std::string name = Lower(std::move(c.field));
    c.field.clear();
    c.in_value = false;
    std::string value = std::move(c.value);
    c.value.clear();
    auto [it, added] = c.request.headers.try_emplace(std::move(name), std::move(value));
    if (added) return true;  // try_emplace leaves `value` alone otherwise
    static constexpr std::array<std::string_view, 7> kSingletons = {
        "authorization", "content-type", "expect", "host", "idempotency-key", "if-match", "x-request-id"};
    if (std::find(kSingletons.begin(), kSingletons.end(), it->first) != kSingletons.end()) {
      c.rejection = Problem::Make(400, codes::kMalformedRequest, "the " + it->first + " header appears more than once");
      return false;
    }
    it->second += ", " + value;
    return true;
  }

  // Splits the request target into path and decoded query parameters. An absolute-form target
  // (`http://host/path`) is reduced to its path.
  static void ParseTarget(const std::string& url, HttpRequest& request) {
    size_t begin = 0;
    if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0) {
      begin = url.find('/', url.find("//") + 2);
      if (begin == std::string::npos) begin = url.size();
    }
    const size_t fragment = std::min(url.find('#', begin), url.size());
    const size_t query = std::min(url.find('?', begin), fragment);
    request.path = begin < query ? url.substr(begin, query - begin) : "/";
    size_t at = query + 1;
    while (at < fragment) {
      size_t end = std::min(url.find('&', at), fragment);
      const std::string pair = url.substr(at, end - at);
      if (!pair.empty()) {
        const size_t eq = pair.find('=');
        request.query[PercentDecode(pair.substr(0, eq))] = eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1));
      }
      at = end + 1;
    }
  }

  static const http_parser_settings& Settings() {
    static const http_parser_settings settings = [] {
      http_parser_settings s{};
      s.on_message_begin = [](http_parser* p) {
        Connection& c = Of(p);
        c.request = HttpRequest{};
        c.url.clear();
        c.field.clear();
        c.value.clear();
        c.in_value = false;
        c.socket->Reading();
        return 0;
      };
      s.on_url = [](http_parser* p, const char* at, size_t n) {
        Of(p).url.append(at, n);
        return 0;
      };
      s.on_header_field = [](http_parser* p, const char* at, size_t n) {
        Connection& c = Of(p);
        if (c.in_value && !EndHeader(c)) return -1;
        c.field.append(at, n);
        return 0;
      };
      s.on_header_value = [](http_parser* p, const char* at, size_t n) {
        Connection& c = Of(p);
        c.in_value = true;
        c.value.append(at, n);
        return 0;
      };
      s.on_headers_complete = [](http_parser* p) {
        Connection& c = Of(p);
        if (!EndHeader(c)) return -1;
        c.request.method = http_method_str(static_cast<http_method>(p->method));
        ParseTarget(c.url, c.request);
        if (c.socket->Unanswered() >= kMaxUnanswered) {  // a client that sends without reading
          c.rejection = Problem::Make(429, codes::kTooManyPipelinedRequests,
                                      std::to_string(kMaxUnanswered) +
                                          " requests of this connection await their answers; read them before "
                                          "sending more");
          return -1;
        }
        const int64_t limit = c.server->options_.max_body_bytes;
        if (p->content_length != ULLONG_MAX && p->content_length > static_cast<uint64_t>(limit)) {
          c.rejection = TooLarge(limit);
          return -1;
        }
        if (auto expect = c.request.headers.find("expect");
            expect != c.request.headers.end() && Lower(expect->second) == "100-continue") {
          c.socket->SendInterim("HTTP/1.1 100 Continue\r\n\r\n");
        }
        return 0;
      };
      s.on_body = [](http_parser* p, const char* at, size_t n) {
        Connection& c = Of(p);
        const int64_t limit = c.server->options_.max_body_bytes;
        if (static_cast<int64_t>(c.request.body.size() + n) > limit) {  // chunked, beyond the limit
          c.rejection = TooLarge(limit);
          return -1;
        }
        c.request.body.append(at, n);
        return 0;
      };
      s.on_message_complete = [](http_parser* p) {
        Connection& c = Of(p);
        // A protocol upgrade (or CONNECT) is answered as a plain request; what follows it is not
        // HTTP, so the connection closes after the answer.
        const bool close = !http_should_keep_alive(p) || p->upgrade;
        Dispatch(c, close);
        if (!close) return 0;
        c.stopped = true;  // the answer closes the connection: what follows is not read
        return -1;
      };
      return s;
    }();
    return settings;
  }

  static Problem TooLarge(int64_t limit) {
    return Problem::Make(413, codes::kPayloadTooLarge, "the request body exceeds " + std::to_string(limit) + " bytes");
  }

  // Hands the request just read to the server; its answer goes out in its turn.
  static void Dispatch(Connection& c, bool close) {
    HttpServer* server = c.server;
    auto exchange = std::make_shared<HttpResponder::Exchange>(server);
    exchange->request = std::move(c.request);
    exchange->finish = Finisher(c, close);
    server->Run(std::move(exchange));
  }

  // Answers a request that cannot be read with `problem`, then closes the connection: where the
  // next request would start is unknown.
  void Reject(Connection& c, const Problem& problem) {
    c.stopped = true;
    auto exchange = std::make_shared<HttpResponder::Exchange>(server_);
    exchange->request = std::move(c.request);
    exchange->request.request_id = RequestIdFor(exchange->request);  // as much of it as was read
    exchange->finish = Finisher(c, true);
    exchange->answered = true;
    server_->in_flight_++;
    server_->logger_.Log(LogLevel::kDebug, "request refused", {{"status", problem.status}, {"detail", problem.detail}},
                         exchange->request.request_id);
    server_->Complete(*exchange, HttpResponse::FromProblem(problem));
  }

  static decltype(HttpResponder::Exchange::finish) Finisher(Connection& c, bool close) {
    return [socket = c.socket, seq = c.socket->Issue(), close](const HttpRequest& request, HttpResponse& response,
                                                               std::function<void()> written) {
      const bool head = request.method == "HEAD";
      socket->Answer(seq, RenderAnswer(response, request.request_id, close, head), close, std::move(written));
    };
  }

  HttpServer* server_;
  std::unordered_map<Pistache::Tcp::Peer*, std::unique_ptr<Connection>> connections_;
};

HttpServer::HttpServer(HttpServerOptions options, const Authenticator& auth,
                       MetricsRegistry& metrics, Logger& logger)
    : options_(std::move(options)), auth_(auth), metrics_(metrics), logger_(logger) {
  // In ConnectionSocket::Outcome's order.
  const char* outcomes[] = {"whole", "partial", "behind_queue", "closed"};
  for (size_t i = 0; i < answers_.size(); ++i) {
    answers_[i] = &metrics_.GetCounter(
        "tessera_http_answers_total",
        "Answers written, by outcome: whole (the socket took it at once), partial (the rest went to Pistache's "
        "queue: a slow reader), behind_queue (queued behind an earlier answer of the connection), closed (the "
        "client had gone)",
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
    connections_ = std::make_unique<Connections>(*this);
    listener_ = std::make_unique<Tcp::Listener>(Address(Ipv4::any(), Port(static_cast<uint16_t>(options_.port))));
    listener_->init(static_cast<size_t>(options_.threads), Flags<Tcp::Options>(Tcp::Options::ReuseAddr) | Tcp::Options::NoDelay);
    listener_->setHandler(std::make_shared<Adapter>(this));
    listener_->bind();
    listener_->runThreaded();
  } catch (const std::exception& e) {
    throw ConfigError("TESSERA_HTTP_PORT: cannot listen on port " + std::to_string(options_.port) + ": " + e.what());
  }
  logger_.Info("http server listening", {{"port", port()}, {"threads", options_.threads}});
}

uint16_t HttpServer::port() const { return listener_ ? static_cast<uint16_t>(listener_->getPort()) : 0; }

void HttpServer::Shutdown() {
  if (stopped_.exchange(true)) return;
  draining_ = true;
  if (!listener_) return;
  if (options_.drain_grace.count() > 0) std::this_thread::sleep_for(options_.drain_grace);
  const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (in_flight_.load() > 0) {
    logger_.Warn("drain timeout: stopping with requests in flight", {{"in_flight", in_flight_.load()}});
  }
  listener_->shutdown();
  logger_.Info("http server stopped");
}

void HttpServer::Run(std::shared_ptr<HttpResponder::Exchange> exchange) {
  in_flight_++;
  HttpRequest& request = exchange->request;
  request.request_id = RequestIdFor(request);
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

// The body is within max_body_bytes: the Adapter refuses a larger one while it arrives.
void HttpServer::Dispatch(HttpRequest& request, const HttpResponder& responder) {
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
