// The shared HTTP server over real sockets: auth (401/403, app-token member scope), body limit
// (413), routing problems (404/405), error mapping, request ids, keep-alive, HEAD, metrics and
// a graceful drain that lets an in-flight request finish; asynchronous routes answered from
// another thread, with the same error mapping, a 500 for a lost request, and the same drain;
// pipelining, unreadable input (problem+json 400/413/431), Expect: 100-continue and timeouts.
#include "tessera/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>
#include <thread>

#include "testing.h"

namespace tessera {
namespace {

using testing::AuthHeader;
using testing::HttpClient;

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest()
      : logger_("tessera-test", LogLevel::kError, log_, clock_),
        auth_(Authenticator::FromFile(testing::SourceDir() + "/config/dev/api-keys.json", testing::kDevJwtSecret,
                                      clock_)) {
    HttpServerOptions o;
    o.service = "test";
    o.threads = 4;
    o.drain_timeout = std::chrono::seconds(5);
    server_ = std::make_unique<HttpServer>(o, auth_, metrics_, logger_);
    server_->Route("GET", "/v1/members/{id}/secret", {RoleSet{Role::kPos, Role::kApp}, false, "id"},
                   [](const HttpRequest& r) { return HttpResponse::Json(200, {{"member", r.Param("id")}}); });
    server_->Route("POST", "/v1/echo", {RoleSet{Role::kPos}}, [](const HttpRequest& r) {
      auto body = ParseJsonObject(r.body);
      return HttpResponse::Json(201, {{"bytes", r.body.size()}, {"principal", r.principal.name}});
    });
    server_->Route("GET", "/v1/headers", {.is_public = true}, [](const HttpRequest& r) {
      return HttpResponse::Json(200, r.headers);
    });
    server_->Route("GET", "/v1/slow", {.is_public = true}, [this](const HttpRequest&) {
      slow_entered_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      return HttpResponse::Json(200, {{"slow", true}});
    });
    server_->Route("GET", "/v1/down", {.is_public = true}, [](const HttpRequest&) -> HttpResponse {
      throw UnavailableError("redis: connection refused");
    });
    server_->Route("GET", "/v1/bug", {.is_public = true}, [](const HttpRequest&) -> HttpResponse {
      throw std::logic_error("boom");
    });
    // Asynchronous routes answered later from the fixture's own thread, as a Redis reply would.
    server_->RouteAsync("POST", "/v1/async/{id}", {RoleSet{Role::kPos}, false, "id"},
                        [this](const HttpRequest& r, HttpResponder responder) {
                          if (r.Param("id") == "throw") throw ProblemError(Problem::Validation("/path/id", "bad id"));
                          // "quick-..." ids are answered at once (still from the other thread)
                          const auto delay = std::chrono::milliseconds(r.Param("id").rfind("quick-", 0) == 0 ? 0 : 300);
                          Later(delay, [r = &r, responder] {
                            if (r->Param("id") == "down") {
                              return responder.Fail(std::make_exception_ptr(UnavailableError("redis: gone")));
                            }
                            if (r->Param("id") == "lost") return;  // the last responder goes away unanswered
                            if (r->Param("id") == "big") return responder.Send(HttpResponse::Text(200, BigBody(), "text/plain"));
                            responder.Send(HttpResponse::Json(201, {{"id", r->Param("id")}, {"body", r->body}}));
                            responder.Send(HttpResponse::Json(500, {{"second", "answer is ignored"}}));
                          });
                        });
    server_->Start();
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }

  ~HttpServerTest() override {
    server_->Shutdown();
    if (later_.joinable()) later_.join();
  }

  // Runs `task` `delay` from now on another thread (one at a time).
  void Later(std::chrono::milliseconds delay, std::function<void()> task) {
    if (later_.joinable()) later_.join();
    later_entered_ = true;
    later_ = std::thread([delay, task = std::move(task)] {
      std::this_thread::sleep_for(delay);
      task();
    });
  }

  // 6 MiB of numbered lines: any lost, repeated or reordered byte shows.
  static const std::string& BigBody() {
    static const std::string body = [] {
      std::string b;
      for (int i = 0; b.size() < 6u * 1024 * 1024; ++i) b += "line " + std::to_string(i) + "\n";
      return b;
    }();
    return body;
  }

  // tessera_http_answers_total{outcome="..."} as /metrics shows it (the answer that shows it is
  // counted after it is written).
  double Answers(const std::string& outcome) { return Series("tessera_http_answers_total{outcome=\"" + outcome + "\"}"); }
  double Series(const std::string& name) {
    const std::string m = HttpClient(base_).Get("/metrics").body;
    const std::string series = name + " ";
    const size_t at = m.find(series);
    return at == std::string::npos ? -1 : std::stod(m.substr(at + series.size()));
  }

  void ExpectProblem(const testing::HttpResult& r, long status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.headers.at("content-type"), "application/problem+json");
    auto j = r.Json();
    EXPECT_EQ(j["status"], status);
    EXPECT_EQ(j["code"], code);
    EXPECT_TRUE(j.contains("type") && j.contains("title") && j.contains("detail")) << r.body;
  }

  SystemClock clock_;
  std::ostringstream log_;
  Logger logger_;
  MetricsRegistry metrics_;
  Authenticator auth_;
  std::atomic<bool> slow_entered_{false};
  std::atomic<bool> later_entered_{false};
  std::thread later_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
};

TEST_F(HttpServerTest, MissingOrBadTokenIs401ProblemJson) {
  HttpClient c(base_);
  auto r = c.Get("/v1/members/m-1/secret");
  ExpectProblem(r, 401, "unauthorized");
  EXPECT_EQ(r.headers.at("www-authenticate"), "Bearer");
  ExpectProblem(c.Get("/v1/members/m-1/secret", {{"Authorization", "Bearer not-a-key"}}), 401, "unauthorized");
}

TEST_F(HttpServerTest, WrongRoleIs403) {
  HttpClient c(base_);
  ExpectProblem(c.Get("/v1/members/m-1/secret", AuthHeader("storefront")), 403, "forbidden");
  EXPECT_EQ(c.Get("/v1/members/m-1/secret", AuthHeader("pos")).status, 200);
  EXPECT_EQ(c.Get("/v1/members/m-1/secret", AuthHeader("admin")).status, 200);
}

TEST_F(HttpServerTest, AppJwtActsOnlyOnItsOwnMember) {
  HttpClient c(base_);
  const std::string jwt = MakeAppJwt(testing::kDevJwtSecret, "m-1", clock_.Now(), clock_.Now() + std::chrono::hours(1));
  auto own = c.Get("/v1/members/m-1/secret", {{"Authorization", "Bearer " + jwt}});
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(own.Json()["member"], "m-1");
  ExpectProblem(c.Get("/v1/members/m-2/secret", {{"Authorization", "Bearer " + jwt}}), 403, "forbidden");
  const std::string expired = MakeAppJwt(testing::kDevJwtSecret, "m-1", clock_.Now() - std::chrono::hours(2),
                                         clock_.Now() - std::chrono::hours(1));
  ExpectProblem(c.Get("/v1/members/m-1/secret", {{"Authorization", "Bearer " + expired}}), 401, "unauthorized");
}

TEST_F(HttpServerTest, OversizeBodiesAre413AndNeverReachTheHandler) {
  HttpClient c(base_);
  const std::string big = "{\"pad\":\"" + std::string(70 * 1024, 'x') + "\"}";
  ExpectProblem(c.Request("POST", "/v1/echo", big, AuthHeader("pos")), 413, "payload_too_large");
  // Far beyond the limit: 413 as soon as the length is read (or the connection closes while the
  // client still sends), and the server keeps serving.
  auto huge = c.Request("POST", "/v1/echo", std::string(3 * 1024 * 1024, 'x'), AuthHeader("pos"));
  EXPECT_TRUE(huge.status == 413 || huge.status == 0) << huge.status;
  HttpClient fresh(base_);
  EXPECT_EQ(fresh.Request("POST", "/v1/echo", R"({"a":1})", AuthHeader("pos")).status, 201);
}

TEST_F(HttpServerTest, RoutingProblems) {
  HttpClient c(base_);
  ExpectProblem(c.Get("/v1/nothing-here"), 404, "not_found");
  auto r = c.Request("DELETE", "/v1/echo", "", AuthHeader("pos"));
  ExpectProblem(r, 405, "method_not_allowed");
  EXPECT_EQ(r.headers.at("allow"), "POST");
  ExpectProblem(c.Request("POST", "/v1/echo", "{not json", AuthHeader("pos")), 400, "malformed_json");
}

TEST_F(HttpServerTest, DependencyFailuresAre503AndBugsAre500) {
  HttpClient c(base_);
  auto down = c.Get("/v1/down");
  ExpectProblem(down, 503, "service_unavailable");
  EXPECT_EQ(down.headers.at("retry-after"), "1");
  ExpectProblem(c.Get("/v1/bug"), 500, "internal_error");
  EXPECT_EQ(c.Get("/healthz").status, 200);
}

TEST_F(HttpServerTest, RequestIdIsEchoedOrGeneratedAndConnectionKeptAlive) {
  HttpClient c(base_);
  auto given = c.Get("/healthz", {{"X-Request-Id", "req-123"}});
  EXPECT_EQ(given.headers.at("x-request-id"), "req-123");
  auto generated = c.Get("/healthz");
  EXPECT_EQ(generated.headers.at("x-request-id").size(), 24u);
  EXPECT_EQ(generated.headers.at("connection"), "Keep-Alive");
  auto close = c.Get("/healthz", {{"Connection", "close"}});
  EXPECT_EQ(close.headers.at("connection"), "Close");
}

// One keep-alive connection over a plain socket, to see the exact bytes of each answer.
class RawConnection {
 public:
  // `receive_buffer` > 0 shrinks the socket's receive buffer (before connecting), so that a large
  // answer cannot be taken by the sockets at once while nobody reads.
  explicit RawConnection(uint16_t port, int receive_buffer = 0) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (receive_buffer > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  void Send(const std::string& raw) {
    EXPECT_EQ(send(fd_, raw.data(), raw.size(), MSG_NOSIGNAL), static_cast<ssize_t>(raw.size()));
  }
  // Sends `raw` and returns every byte answered until 200 ms pass without any, once the first
  // has come (within 5 s: a loaded machine may take longer than 200 ms to answer at all).
  std::string Exchange(const std::string& raw) {
    Send(raw);
    std::string out = std::move(buffered_);
    buffered_.clear();
    if (out.empty()) Fill(std::chrono::seconds(5));
    while (Fill(std::chrono::milliseconds(200))) {
    }
    out += std::move(buffered_);
    buffered_.clear();
    return out;
  }
  // The next answer: its head (status line and headers, with the blank line) and the
  // Content-Length bytes after it; empty when nothing whole arrives within 5 s.
  std::pair<std::string, std::string> Answer() {
    size_t end;
    while ((end = buffered_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(std::chrono::seconds(5))) return {};
    }
    std::string head = buffered_.substr(0, end + 4);
    size_t length = 0;
    if (auto at = head.find("\r\nContent-Length: "); at != std::string::npos) length = std::stoul(head.substr(at + 18));
    while (buffered_.size() < end + 4 + length) {
      if (!Fill(std::chrono::seconds(5))) return {};
    }
    std::string body = buffered_.substr(end + 4, length);
    buffered_.erase(0, end + 4 + length);
    return {head, body};
  }
  // Reads until `bytes` are buffered (or the server closes), at most 16 KiB per read with
  // `pause` after each: a client that reads steadily but slowly. Returns the bytes buffered.
  size_t ReadSlowly(size_t bytes, std::chrono::milliseconds pause) {
    while (buffered_.size() < bytes) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 5000) != 1) break;
      char buf[16384];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      buffered_.append(buf, static_cast<size_t>(n));
      std::this_thread::sleep_for(pause);
    }
    return buffered_.size();
  }
  // True when no byte arrives within `wait`.
  bool Quiet(std::chrono::milliseconds wait) { return buffered_.empty() && !Fill(wait); }
  // True when the server closes the connection (end of stream) within `wait`; bytes before it
  // are kept for Answer().
  bool ClosedWithin(std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      const Got got = Receive(left);
      if (got != Got::kBytes) return got == Got::kEnd;
    }
  }

 private:
  enum class Got { kBytes, kNothing, kEnd };
  // Waits up to `wait` for bytes and keeps them; kEnd when the server closed (or reset) the
  // connection.
  Got Receive(std::chrono::milliseconds wait) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(wait.count())) != 1) return Got::kNothing;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return Got::kEnd;
    buffered_.append(buf, static_cast<size_t>(n));
    return Got::kBytes;
  }
  bool Fill(std::chrono::milliseconds wait) { return Receive(wait) == Got::kBytes; }
  int fd_;
  std::string buffered_;
};

// A handler sees each header once, under its lower-cased name, with the value the client sent:
// well-known ones (Host, Content-Type, Authorization, Accept, User-Agent) as much as any other;
// a header sent twice, as one list.
TEST_F(HttpServerTest, HandlersSeeEveryHeaderAsTheClientSentIt) {
  RawConnection c(server_->port());
  c.Send("GET /v1/headers HTTP/1.1\r\nHost: example.test:8081\r\n"
         "Content-Type: application/json;  charset=UTF-8\r\nAuthorization: Bearer abc.def\r\n"
         "Accept: application/json, */*;q=0.5\r\nUser-Agent: pos/7.1 (store 12)\r\n"
         "Idempotency-Key: k-1\r\nX-Custom: a, b\r\nX-Custom: c\r\n\r\n");
  auto [head, body] = c.Answer();
  ASSERT_NE(head.find("HTTP/1.1 200"), std::string::npos) << head;
  const auto headers = nlohmann::json::parse(body);
  EXPECT_EQ(headers, (nlohmann::json{{"host", "example.test:8081"},
                                     {"content-type", "application/json;  charset=UTF-8"},
                                     {"authorization", "Bearer abc.def"},
                                     {"accept", "application/json, */*;q=0.5"},
                                     {"user-agent", "pos/7.1 (store 12)"},
                                     {"idempotency-key", "k-1"},
                                     {"x-custom", "a, b, c"}}))  // a list sent twice, joined
      << body;
}

std::string AsyncPost(const std::string& id, const std::string& body = "{}") {
  return "POST /v1/async/" + id + " HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer dev-pos\r\n" +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

TEST_F(HttpServerTest, HeadAnswersHeadersOnlyAndTheConnectionStaysUsable) {
  RawConnection c(server_->port());
  // The HEAD answer: the GET's status, content type and length, then nothing.
  const std::string head = c.Exchange("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(head.rfind("HTTP/1.1 200", 0), 0u) << head;
  EXPECT_NE(head.find("Content-Type: application/json\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Length: 15\r\n"), std::string::npos) << head;
  ASSERT_GE(head.size(), 4u);
  EXPECT_EQ(head.find("\r\n\r\n"), head.size() - 4) << head;
  // The next answer on the connection starts clean and is whole.
  const std::string get = c.Exchange("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(get.rfind("HTTP/1.1 200", 0), 0u) << get;
  EXPECT_NE(get.find("Content-Length: 15\r\n"), std::string::npos) << get;
  ASSERT_GE(get.size(), 15u);
  EXPECT_EQ(get.substr(get.size() - 15), R"({"status":"ok"})") << get;
}

TEST_F(HttpServerTest, MetricsCountRequestsByRouteAndStatus) {
  HttpClient c(base_);
  c.Request("POST", "/v1/echo", R"({"a":1})", AuthHeader("pos"));
  c.Get("/v1/members/m-1/secret", AuthHeader("storefront"));
  auto m = c.Get("/metrics");
  EXPECT_EQ(m.status, 200);
  EXPECT_NE(m.body.find(R"(tessera_http_requests_total{route="/v1/echo",method="POST",status="201"} 1)"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find(R"(tessera_http_requests_total{route="/v1/members/{id}/secret",method="GET",status="403"} 1)"),
            std::string::npos);
  EXPECT_NE(m.body.find("tessera_http_request_duration_seconds_bucket{route=\"/v1/echo\""), std::string::npos);
}

TEST_F(HttpServerTest, ShutdownDrainsRequestsInFlight) {
  testing::HttpResult slow;
  std::thread client([&] {
    HttpClient c(base_);
    slow = c.Get("/v1/slow");
  });
  ASSERT_TRUE(testing::WaitFor([&] { return slow_entered_.load(); }, std::chrono::seconds(5)));
  const auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  client.join();
  EXPECT_EQ(slow.status, 200) << "an accepted request must be answered during shutdown";
  EXPECT_EQ(slow.Json()["slow"], true);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  EXPECT_TRUE(server_->draining());
}

TEST_F(HttpServerTest, AsyncRoutesAnswerFromAnotherThreadWithTheSameMappings) {
  HttpClient c(base_);
  auto ok = c.Request("POST", "/v1/async/a-1", R"({"x":1})", AuthHeader("pos"));
  EXPECT_EQ(ok.status, 201) << ok.body;
  EXPECT_EQ(ok.Json()["id"], "a-1");
  EXPECT_EQ(ok.Json()["body"], R"({"x":1})") << "the request stays valid until it is answered";
  EXPECT_EQ(ok.headers.at("connection"), "Keep-Alive");
  EXPECT_FALSE(ok.headers.at("x-request-id").empty());

  ExpectProblem(c.Request("POST", "/v1/async/a-1", "{}", AuthHeader("storefront")), 403, "forbidden");
  ExpectProblem(c.Request("POST", "/v1/async/throw", "{}", AuthHeader("pos")), 400, "validation_failed");
  auto down = c.Request("POST", "/v1/async/down", "{}", AuthHeader("pos"));
  ExpectProblem(down, 503, "service_unavailable");
  EXPECT_EQ(down.headers.at("retry-after"), "1");
  ExpectProblem(c.Request("POST", "/v1/async/lost", "{}", AuthHeader("pos")), 500, "internal_error");
  // The connection carried all of them, and the metrics count each once.
  auto m = c.Get("/metrics");
  EXPECT_NE(m.body.find(R"(tessera_http_requests_total{route="/v1/async/{id}",method="POST",status="201"} 1)"),
            std::string::npos) << m.body;
  EXPECT_NE(m.body.find(R"(tessera_http_requests_total{route="/v1/async/{id}",method="POST",status="500"} 1)"),
            std::string::npos) << m.body;
}

TEST_F(HttpServerTest, ShutdownDrainsAsyncRequestsInFlight) {
  testing::HttpResult pending;
  std::thread client([&] {
    HttpClient c(base_);
    pending = c.Request("POST", "/v1/async/a-2", "{}", AuthHeader("pos"));
  });
  ASSERT_TRUE(testing::WaitFor([&] { return later_entered_.load(); }, std::chrono::seconds(5)));
  server_->Shutdown();
  client.join();
  EXPECT_EQ(pending.status, 201) << "an accepted asynchronous request must be answered during shutdown";
  EXPECT_EQ(pending.Json()["id"], "a-2");
}

// An answer given off the reactor thread goes to the socket from that thread, with the headers
// and framing of any other answer.
TEST_F(HttpServerTest, AsyncAnswersAreWrittenWholeFromTheAnsweringThread) {
  RawConnection c(server_->port());
  c.Send(AsyncPost("d-1", R"({"x":1})"));
  auto [head, body] = c.Answer();
  EXPECT_EQ(head.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nConnection: Keep-Alive\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nX-Request-Id: "), std::string::npos) << head;
  EXPECT_EQ(body, R"({"body":"{\"x\":1}","id":"d-1"})");
  c.Send(AsyncPost("down"));
  auto [down_head, down_body] = c.Answer();
  EXPECT_EQ(down_head.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << down_head;
  EXPECT_NE(down_head.find("\r\nRetry-After: 1\r\n"), std::string::npos) << down_head;
  EXPECT_NE(down_head.find("\r\nContent-Type: application/problem+json\r\n"), std::string::npos) << down_head;
  EXPECT_NE(down_body.find(R"("code":"service_unavailable")"), std::string::npos) << down_body;
  // A synchronous answer on the same connection is written the same way, in turn.
  auto health = c.Exchange("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(health.substr(health.size() - 15), R"({"status":"ok"})") << health;
  EXPECT_TRUE(c.Quiet(std::chrono::milliseconds(100)));
  EXPECT_EQ(Answers("whole"), 3);
}

// 6 MiB to a client that reads nothing yet: the socket takes part of the answer and Pistache's
// queue the rest; the connection's next answer waits behind it, and every byte arrives in order.
TEST_F(HttpServerTest, AsyncAnswersToASlowReaderArriveWholeAndInOrder) {
  RawConnection c(server_->port(), 4096);
  c.Send(AsyncPost("big"));
  ASSERT_TRUE(testing::WaitFor([&] { return Answers("partial") == 1; }, std::chrono::seconds(5)));
  c.Send(AsyncPost("after-big"));
  ASSERT_TRUE(testing::WaitFor([&] { return Answers("behind_queue") == 1; }, std::chrono::seconds(5)));
  auto [head, body] = c.Answer();
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_NE(head.find("\r\nContent-Type: text/plain\r\n"), std::string::npos) << head;
  EXPECT_TRUE(body == BigBody()) << "the large answer arrived damaged: " << body.size() << " bytes";
  auto [head2, body2] = c.Answer();
  EXPECT_EQ(head2.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << head2;
  EXPECT_EQ(body2, R"({"body":"{}","id":"after-big"})");
  // Once the queue has drained, answers go straight to the socket again.
  const double whole = Answers("whole");
  c.Send(AsyncPost("again"));
  auto [head3, body3] = c.Answer();
  EXPECT_EQ(body3, R"({"body":"{}","id":"again"})") << head3;
  EXPECT_EQ(Answers("whole"), whole + 2);  // "again", and the answer that showed `whole`
}

// A client that pipelines requests without reading the answers cannot make the server hold
// them without bound: with 128 answers of the connection not yet on the wire, the next request
// gets 429 (in its turn, after the others) and the connection closes.
TEST_F(HttpServerTest, AClientThatPipelinesWithoutReadingIsCutOffAt128UnansweredRequests) {
  RawConnection c(server_->port(), 4096);
  c.Send(AsyncPost("big"));  // 6 MiB: the socket takes part, the rest waits in Pistache's queue
  ASSERT_TRUE(testing::WaitFor([&] { return Answers("partial") == 1; }, std::chrono::seconds(5)));
  std::string many;
  for (int i = 0; i < 200; ++i) many += "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: pipe-" + std::to_string(i) + "\r\n\r\n";
  c.Send(many);
  auto [head, body] = c.Answer();
  EXPECT_TRUE(body == BigBody()) << head;
  for (int i = 0; i < 127; ++i) {
    auto [h, b] = c.Answer();
    ASSERT_EQ(b, R"({"status":"ok"})") << "answer " << i << ": " << h;
    ASSERT_NE(h.find("X-Request-Id: pipe-" + std::to_string(i) + "\r\n"), std::string::npos) << h;
  }
  auto [refused_head, refused] = c.Answer();
  EXPECT_EQ(refused_head.rfind("HTTP/1.1 429 ", 0), 0u) << refused_head;
  EXPECT_NE(refused_head.find("Content-Type: application/problem+json"), std::string::npos) << refused_head;
  EXPECT_NE(refused_head.find("X-Request-Id: pipe-127\r\n"), std::string::npos) << refused_head;  // the client's id
  EXPECT_EQ(nlohmann::json::parse(refused)["code"], "too_many_pipelined_requests") << refused;
  EXPECT_TRUE(c.ClosedWithin(std::chrono::seconds(2)));
  EXPECT_EQ(HttpClient(base_).Get("/healthz").status, 200);
}

// The client leaves before its asynchronous answer is ready, and new connections arrive; the
// server's descriptor number of the old one is free for them to take. The answer must not reach
// any of them.
TEST_F(HttpServerTest, AnAnswerForAConnectionThatIsGoneReachesNobodyElse) {
  {
    RawConnection gone(server_->port());
    gone.Send(AsyncPost("gone"));
    ASSERT_TRUE(testing::WaitFor([&] { return later_entered_.load(); }, std::chrono::seconds(5)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // Pistache sees the hang-up and closes
  std::vector<std::unique_ptr<RawConnection>> next;
  for (int i = 0; i < 4; ++i) {
    next.push_back(std::make_unique<RawConnection>(server_->port()));
    auto health = next.back()->Exchange("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_EQ(health.substr(health.size() - 15), R"({"status":"ok"})") << health;
  }
  if (later_.joinable()) later_.join();  // the gone client's answer has been written (or dropped)
  for (auto& c : next) EXPECT_TRUE(c->Quiet(std::chrono::milliseconds(100))) << "another client got the answer";
}

// The server keeps a second descriptor of each connection (for answers given off its threads);
// when it closes a connection, the client must still see the close at once, not when that
// descriptor happens to go: after a Connection: close answer, after an HTTP/1.0 answer, and
// after an asynchronous answer to a request that asked to close.
TEST_F(HttpServerTest, ConnectionsTheServerClosesCloseAtOnce) {
  {
    RawConnection c(server_->port());
    c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(c.ClosedWithin(std::chrono::seconds(2))) << "Connection: close left the connection open";
    EXPECT_EQ(c.Answer().second, R"({"status":"ok"})");
  }
  {
    RawConnection c(server_->port());
    c.Send("GET /healthz HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(c.ClosedWithin(std::chrono::seconds(2))) << "an HTTP/1.0 answer left the connection open";
  }
  {
    RawConnection c(server_->port());
    c.Send(AsyncPost("k-1"));  // first a direct answer, so the connection has its second descriptor
    EXPECT_EQ(c.Answer().second, R"({"body":"{}","id":"k-1"})");
    c.Send("POST /v1/async/k-2 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer dev-pos\r\nConnection: close\r\n"
           "Content-Length: 2\r\n\r\n{}");
    EXPECT_TRUE(c.ClosedWithin(std::chrono::seconds(3))) << "an asynchronous Connection: close answer left it open";
    auto [head, body] = c.Answer();
    EXPECT_NE(head.find("Connection: Close"), std::string::npos) << head;
    EXPECT_EQ(body, R"({"body":"{}","id":"k-2"})");
  }
}

// The second descriptor goes with its connection: connections that come and go leave no
// descriptor behind (the server runs in this process, so its descriptors are ours to count).
TEST_F(HttpServerTest, ConnectionsThatComeAndGoLeaveNoDescriptorBehind) {
  auto open_descriptors = [] {
    return std::distance(std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator{});
  };
  {  // one of each kind first, so that lazily made descriptors (epoll, eventfds) exist already
    RawConnection c(server_->port());
    c.Send(AsyncPost("warm"));
    c.Answer();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto before = open_descriptors();
  for (int i = 0; i < 100; ++i) {
    RawConnection c(server_->port());
    c.Send(AsyncPost("quick-" + std::to_string(i)));
    ASSERT_EQ(c.Answer().second, R"({"body":"{}","id":"quick-)" + std::to_string(i) + R"("})");
  }
  EXPECT_TRUE(testing::WaitFor([&] { return open_descriptors() <= before + 2; }, std::chrono::seconds(5)))
      << open_descriptors() - before << " descriptors more than before 100 connections came and went";
  EXPECT_EQ(Answers("whole"), 101);
}

// Requests pipelined in one write are all served, and their answers leave in request order even
// when a later one is ready first: the slow asynchronous answer, then the synchronous one.
TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  RawConnection c(server_->port());
  c.Send(AsyncPost("first") + "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n" +
         "GET /v1/members/m-1/secret HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer dev-pos\r\n\r\n");
  auto [head1, body1] = c.Answer();
  EXPECT_EQ(head1.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << head1;
  EXPECT_EQ(body1, R"({"body":"{}","id":"first"})");
  auto [head2, body2] = c.Answer();
  EXPECT_EQ(body2, R"({"status":"ok"})") << head2;
  auto [head3, body3] = c.Answer();
  EXPECT_EQ(body3, R"({"member":"m-1"})") << head3;
  EXPECT_TRUE(c.Quiet(std::chrono::milliseconds(100)));
}

// What cannot be read as HTTP/1.1 gets a problem+json answer, not the parser's text or silence,
// and the connection closes after it (where a next request would start is unknown). The server
// goes on serving.
TEST_F(HttpServerTest, UnreadableRequestsGetAProblemAndTheirConnectionCloses) {
  struct Case {
    std::string raw;
    int status;
    std::string code;
  };
  const std::string post = "POST /v1/echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer dev-pos\r\n";
  const std::vector<Case> cases = {
      {post + "Content-Length: -1\r\n\r\n{}", 400, "malformed_request"},
      {post + "Content-Length: 99999999999999999999999\r\n\r\n{}", 400, "malformed_request"},
      {post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "malformed_request"},
      {"GET /healthz HTTP/1.1\r\nHost t\r\n\r\n", 400, "malformed_request"},
      {"BREW /healthz HTTP/1.1\r\n\r\n", 400, "malformed_request"},
      // a header that must appear once, twice: a proxy may have acted on the other value
      {post + "Authorization: Bearer dev-ops\r\nContent-Length: 2\r\n\r\n{}", 400, "malformed_request"},
      {post + "Idempotency-Key: a\r\nIdempotency-Key: b\r\nContent-Length: 2\r\n\r\n{}", 400, "malformed_request"},
      {"GET /healthz HTTP/1.1\r\nX-Big: " + std::string(100 * 1024, 'a') + "\r\n\r\n", 431, "request_headers_too_large"},
      {post + "Content-Length: 70000\r\n\r\n{", 413, "payload_too_large"},
      {post + "Transfer-Encoding: chunked\r\n\r\n10001\r\n" + std::string(0x10001, 'x') + "\r\n0\r\n\r\n", 413,
       "payload_too_large"},
  };
  for (const auto& k : cases) {
    RawConnection c(server_->port());
    c.Send(k.raw);
    auto [head, body] = c.Answer();
    const std::string label = k.raw.substr(0, 60);
    EXPECT_EQ(head.rfind("HTTP/1.1 " + std::to_string(k.status) + " ", 0), 0u) << label << "\n" << head;
    EXPECT_NE(head.find("\r\nContent-Type: application/problem+json\r\n"), std::string::npos) << label;
    EXPECT_NE(head.find("\r\nConnection: Close\r\n"), std::string::npos) << label;
    EXPECT_NE(body.find("\"code\":\"" + k.code + "\""), std::string::npos) << label << "\n" << body;
    EXPECT_TRUE(c.ClosedWithin(std::chrono::seconds(2))) << label;
  }
  // A refusal echoes the client's X-Request-Id when it was read before the refusal.
  RawConnection with_id(server_->port());
  with_id.Send(post + "X-Request-Id: too-big-1\r\nContent-Length: 70000\r\n\r\n{");
  auto [id_head, id_body] = with_id.Answer();
  EXPECT_EQ(id_head.rfind("HTTP/1.1 413 ", 0), 0u) << id_head;
  EXPECT_NE(id_head.find("\r\nX-Request-Id: too-big-1\r\n"), std::string::npos) << id_head;
  // A refusal after a HEAD answer on the same connection still carries its problem: the HEAD
  // request's lack of content is not carried over to the next answer.
  RawConnection after_head(server_->port());
  const std::string both =
      after_head.Exchange("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + post + "Content-Length: -1\r\n\r\n");
  const size_t refusal = both.find("\r\n\r\n") + 4;  // the HEAD answer is its head alone
  EXPECT_EQ(both.rfind("HTTP/1.1 200", 0), 0u) << both;
  EXPECT_EQ(both.find("HTTP/1.1 400 ", refusal), refusal) << both;
  EXPECT_NE(both.find(R"("code":"malformed_request")", refusal), std::string::npos) << both;
  // A chunked body within the limit is read whole.
  RawConnection ok(server_->port());
  ok.Send(post + "Transfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n");
  auto [head, body] = ok.Answer();
  EXPECT_EQ(head.rfind("HTTP/1.1 201", 0), 0u) << head;
  EXPECT_EQ(nlohmann::json::parse(body)["bytes"], 7) << body;
  // A protocol upgrade is answered as a plain request; what would follow is not HTTP, so the
  // connection closes after the answer.
  RawConnection upgrade(server_->port());
  upgrade.Send("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  auto [upgrade_head, upgrade_body] = upgrade.Answer();
  EXPECT_EQ(upgrade_body, R"({"status":"ok"})") << upgrade_head;
  EXPECT_NE(upgrade_head.find("\r\nConnection: Close\r\n"), std::string::npos) << upgrade_head;
  EXPECT_TRUE(upgrade.ClosedWithin(std::chrono::seconds(2)));
  EXPECT_EQ(HttpClient(base_).Get("/healthz").status, 200);
}

// A client that sends Expect: 100-continue is told to go on before it sends its body.
TEST_F(HttpServerTest, ExpectContinueIsAnsweredBeforeTheBody) {
  RawConnection c(server_->port());
  c.Send("POST /v1/echo HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer dev-pos\r\nExpect: 100-continue\r\n"
         "Content-Length: 7\r\n\r\n");
  auto [interim, none] = c.Answer();
  EXPECT_EQ(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  c.Send(R"({"a":1})");
  auto [head, body] = c.Answer();
  EXPECT_EQ(head.rfind("HTTP/1.1 201", 0), 0u) << head;
}

// A server of each test's own with 300 ms timeouts (and a 3 s drain), for the timeout sweep.
class HttpServerTimeouts : public ::testing::Test {
 protected:
  HttpServerOptions Options() const {
    HttpServerOptions o;
    o.service = "test";
    o.threads = 2;
    o.idle_timeout = std::chrono::milliseconds(300);
    o.request_timeout = std::chrono::milliseconds(300);
    o.drain_timeout = std::chrono::seconds(3);
    return o;
  }
  // tessera_http_connections_timed_out_total{timeout=kind}; -1 when absent.
  double TimedOut(const std::string& kind) {
    const std::string m = metrics_.Render();
    const std::string series = "tessera_http_connections_timed_out_total{timeout=\"" + kind + "\"} ";
    const size_t at = m.find(series);
    return at == std::string::npos ? -1 : std::stod(m.substr(at + series.size()));
  }

  SystemClock clock_;
  std::ostringstream log_;
  Logger logger_{"tessera-test", LogLevel::kWarn, log_, clock_};
  MetricsRegistry metrics_;
  const Authenticator auth_ =
      Authenticator::FromFile(testing::SourceDir() + "/config/dev/api-keys.json", testing::kDevJwtSecret, clock_);
};

// Connections do not stay open for ever: one with no request for the idle timeout, and one that
// sends part of a request and stalls (slowloris), are closed; one whose request a handler is
// still working on is not.
TEST_F(HttpServerTimeouts, IdleAndStalledConnectionsAreClosedButNotOnesAwaitingAnAnswer) {
  HttpServer server(Options(), auth_, metrics_, logger_);
  server.Route("GET", "/v1/slow", {.is_public = true}, [](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    return HttpResponse::Json(200, {{"slow", true}});
  });
  server.Start();
  RawConnection idle(server.port());
  RawConnection stalled(server.port());
  stalled.Send("GET /healthz HTTP/1.1\r\nHost:");
  RawConnection busy(server.port());
  busy.Send("GET /v1/slow HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_TRUE(idle.ClosedWithin(std::chrono::seconds(3)));
  EXPECT_TRUE(stalled.ClosedWithin(std::chrono::seconds(3)));
  auto [head, body] = busy.Answer();
  EXPECT_EQ(body, R"({"slow":true})") << head;
  EXPECT_GE(TimedOut("idle"), 1);  // `busy` may have idled out too by now
  EXPECT_EQ(TimedOut("request"), 1);
  server.Shutdown();
}

// A client that asks for an answer and then reads none of it holds the server's queued bytes
// only for the request timeout: when it has taken none of them for that long, the connection is
// closed, and its answer no longer counts as in flight.
TEST_F(HttpServerTimeouts, AConnectionWhoseAnswersAreNotReadIsClosed) {
  HttpServerOptions o = Options();
  o.idle_timeout = std::chrono::seconds(75);  // only the write timeout may close `stalled`
  HttpServer server(o, auth_, metrics_, logger_);
  const std::string big(16u * 1024 * 1024, 'x');
  server.Route("GET", "/v1/big", {.is_public = true}, [&big](const HttpRequest&) {
    return HttpResponse::Text(200, big, "text/plain");
  });
  server.Route("GET", "/v1/small", {.is_public = true}, [&big](const HttpRequest&) {
    return HttpResponse::Text(200, big.substr(0, 1024 * 1024), "text/plain");
  });
  server.Start();
  RawConnection stalled(server.port(), 4096);
  stalled.Send("GET /v1/big HTTP/1.1\r\nHost: t\r\n\r\n");
  // A client that reads the same answer steadily, but so slowly that it takes several times the
  // timeout in all, is not cut off: the timeout counts from the last bytes it took.
  RawConnection slow(server.port(), 32768);
  slow.Send("GET /v1/small HTTP/1.1\r\nHost: t\r\n\r\n");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_GE(slow.ReadSlowly(1024 * 1024, std::chrono::milliseconds(10)), 1024u * 1024);
  EXPECT_GT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(600));
  auto [head, body] = slow.Answer();
  EXPECT_EQ(body.size(), 1024u * 1024) << head;
  EXPECT_TRUE(stalled.ClosedWithin(std::chrono::seconds(3)));  // it read nothing all along
  EXPECT_EQ(TimedOut("write"), 1);
  EXPECT_EQ(HttpClient("http://127.0.0.1:" + std::to_string(server.port())).Get("/healthz").status, 200);
  // The closed connection's queued answer counts as finished: the drain does not wait for it.
  server.Shutdown();
  EXPECT_EQ(log_.str().find("drain timeout"), std::string::npos) << log_.str();
}

}  // namespace
}  // namespace tessera
