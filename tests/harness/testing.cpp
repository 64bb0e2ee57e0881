#include "testing.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace tessera::testing {

std::string BuildDir() { return TESSERA_BUILD_DIR; }
std::string SourceDir() { return TESSERA_SOURCE_DIR; }

double MetricValue(const std::string& exposition, const std::string& name) {
  const std::string line_start = name + " ";
  size_t at = exposition.rfind(line_start, 0) == 0 ? 0 : std::string::npos;
  if (at == std::string::npos) {
    at = exposition.find("\n" + line_start);
    if (at == std::string::npos) return -1;
    ++at;
  }
  return std::stod(exposition.substr(at + line_start.size()));
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    throw std::runtime_error("FreePort: bind failed");
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds every) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "tessera-test-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> env,
                           std::string log_file)
    : log_file_(std::move(log_file)) {
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // Child: unblock signals the parent may have blocked, redirect output, exec.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_UNBLOCK, &all, nullptr);
    FILE* f = std::fopen(log_file_.c_str(), "a");
    if (f) {
      dup2(fileno(f), 1);
      dup2(fileno(f), 2);
    }
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::perror("exec");
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool ChildProcess::Running() {
  if (status_) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return false;
}

void ChildProcess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  WaitFor([&] { return !Running(); }, timeout, std::chrono::milliseconds(5));
  return status_;
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_file_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RedisServer::RedisServer(bool append_only) : port_(FreePort()), append_only_(append_only) { Start(); }

RedisServer::~RedisServer() {
  if (process_) process_->Signal(SIGKILL);
}

std::string RedisServer::Url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
std::string RedisServer::SocketUrl() const { return "unix://" + dir_.path() + "/redis.sock?db=0"; }

void RedisServer::Start() {
  std::vector<std::string> argv = {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                                   "--unixsocket", dir_.path() + "/redis.sock", "--unixsocketperm", "700",
                                   "--dir", dir_.path(), "--save", "", "--daemonize", "no",
                                   "--protected-mode", "no", "--appendonly", append_only_ ? "yes" : "no",
                                   "--appendfsync", "always"};
  process_ = std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{}, dir_.path() + "/redis.log");
  const bool up = WaitFor(
      [&] {
        if (!process_->Running()) return false;
        try {
          return Cli({"PING"}) == "PONG";
        } catch (const std::exception&) {
          return false;
        }
      },
      std::chrono::seconds(20));
  if (!up) throw std::runtime_error("redis-server did not start: " + process_->Log());
}

void RedisServer::Kill() {
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(10));
}

void RedisServer::Stop() {
  process_->Signal(SIGTERM);
  if (!process_->Wait(std::chrono::seconds(20))) Kill();
}

std::string RedisServer::Cli(const std::vector<std::string>& args) const {
  timeval tv{2, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port_, tv);
  if (!c || c->err) {
    if (c) redisFree(c);
    throw std::runtime_error("cannot connect to redis");
  }
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  std::string out;
  if (!r) {
    redisFree(c);
    throw std::runtime_error("redis command failed");
  }
  if (r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
  else if (r->type == REDIS_REPLY_NIL) out = "";
  else if (r->type == REDIS_REPLY_ARRAY) out = std::to_string(r->elements);
  else out.assign(r->str, r->len);
  freeReplyObject(r);
  redisFree(c);
  return out;
}

long long RedisServer::CommandCalls(const std::string& command) const {
  const std::string stats = Cli({"INFO", "commandstats"});
  const std::string tag = "cmdstat_" + command + ":calls=";
  const auto at = stats.find(tag);
  return at == std::string::npos ? 0 : std::stoll(stats.substr(at + tag.size()));
}

DevBroker::DevBroker() {
  const std::string file = dir_.path() + "/bootstrap";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{BuildDir() + "/tools/devbroker/tessera-devbroker", "--bootstrap-file", file},
      std::map<std::string, std::string>{}, dir_.path() + "/devbroker.log");
  const bool up = WaitFor([&] { return std::filesystem::exists(file) || !process_->Running(); },
                          std::chrono::seconds(20));
  if (!up || !process_->Running()) throw std::runtime_error("devbroker did not start: " + process_->Log());
  std::ifstream in(file);
  std::getline(in, brokers_);
}

DevBroker::~DevBroker() {
  process_->Signal(SIGTERM);
  process_->Wait(std::chrono::seconds(10));
}

void DevBroker::Down() { process_->Signal(SIGUSR1); }
void DevBroker::Up() { process_->Signal(SIGUSR2); }

nlohmann::json HttpResult::Json() const {
  return nlohmann::json::parse(body, nullptr, false);
}

namespace {
size_t WriteBody(char* ptr, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * n);
  return size * n;
}
size_t WriteHeader(char* ptr, size_t size, size_t n, void* user) {
  std::string line(ptr, size * n);
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(user))[name] = value;
  }
  return size * n;
}
struct CurlInit {
  CurlInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};
}  // namespace

HttpClient::HttpClient(std::string base_url) : base_(std::move(base_url)) {
  static CurlInit init;
  curl_ = curl_easy_init();
}

HttpClient::~HttpClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResult HttpClient::Request(const std::string& method, const std::string& path, const std::string& body,
                               const std::map<std::string, std::string>& headers) {
  CURL* c = static_cast<CURL*>(curl_);
  HttpResult result;
  std::string url = base_ + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c, CURLOPT_NOBODY, method == "HEAD" ? 1L : 0L);
  if (method == "GET" || method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method == "GET" ? nullptr : method.c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_slist* list = nullptr;
  bool has_ct = false;
  for (const auto& [k, v] : headers) {
    list = curl_slist_append(list, (k + ": " + v).c_str());
    has_ct = has_ct || k == "Content-Type";
  }
  if (!has_ct && method != "GET") list = curl_slist_append(list, "Content-Type: application/json");
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &result.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  }
  curl_slist_free_all(list);
  return result;
}

std::vector<TopicMessage> ReadTopic(const std::string& brokers, const std::string& topic, size_t at_least,
                                    std::chrono::milliseconds timeout) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", "tessera-test-reader", err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) throw std::runtime_error(err);
  std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> owner(rk, [](rd_kafka_t* k) {
    rd_kafka_consumer_close(k);
    rd_kafka_destroy(k);
  });
  rd_kafka_poll_set_consumer(rk);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  int partitions = 0;
  if (rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
    partitions = md->topics[0].partition_cnt;
  }
  if (md) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(t);
  if (partitions == 0) throw std::runtime_error("topic " + topic + " has no partitions");
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<TopicMessage> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 50);
    if (!m) {
      // Once enough arrived, stop after a short quiet period (late duplicates included).
      if (out.size() >= at_least && std::chrono::steady_clock::now() - quiet_since > std::chrono::milliseconds(300)) break;
      continue;
    }
    if (!m->err) {
      TopicMessage tm;
      tm.partition = m->partition;
      tm.offset = m->offset;
      if (m->key) tm.key.assign(static_cast<const char*>(m->key), m->key_len);
      if (m->payload) tm.value.assign(static_cast<const char*>(m->payload), m->len);
      out.push_back(std::move(tm));
      quiet_since = std::chrono::steady_clock::now();
    }
    rd_kafka_message_destroy(m);
  }
  return out;
}

std::map<std::string, std::string> ServiceEnv(const RedisServer& redis, const DevBroker& broker, int port) {
  return {{"TESSERA_REDIS_URL", redis.Url()},
          {"TESSERA_KAFKA_BROKERS", broker.brokers()},
          {"TESSERA_HTTP_PORT", std::to_string(port)},
          {"TESSERA_HTTP_THREADS", "4"},
          {"TESSERA_API_KEYS_FILE", SourceDir() + "/config/dev/api-keys.json"},
          {"TESSERA_JWT_SECRET", kDevJwtSecret},
          {"TESSERA_QUOTE_SECRET", "dev-quote-secret"},
          {"TESSERA_PROGRAM_FILE", SourceDir() + "/config/program.json"},
          {"TESSERA_LOG_LEVEL", "info"}};
}

ServiceProcess::ServiceProcess(const std::string& name, std::map<std::string, std::string> env) {
  port_ = FreePort();
  env["TESSERA_HTTP_PORT"] = std::to_string(port_);
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{BuildDir() + "/services/" + name + "/tessera-" + name}, env,
      dir_.path() + "/service.log");
  HttpClient client(BaseUrl());
  const bool up = WaitFor([&] { return !process_->Running() || client.Get("/healthz").status == 200; },
                          std::chrono::seconds(20));
  if (!up || !process_->Running()) throw std::runtime_error("tessera-" + name + " did not start: " + process_->Log());
}

ServiceProcess::~ServiceProcess() {
  process_->Signal(SIGTERM);
  if (!process_->Wait(std::chrono::seconds(20))) process_->Signal(SIGKILL);
}

std::map<std::string, std::string> AuthHeader(const std::string& role) {
  return {{"Authorization", "Bearer dev-" + role}};
}

}  // namespace tessera::testing
