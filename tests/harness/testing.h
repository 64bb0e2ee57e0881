// Test harness: real redis-server and tessera-devbroker processes on free ports in temp dirs,
// service binaries, an HTTP client and a topic reader. Everything is RAII: a fixture that goes
// out of scope leaves no process and no directory behind.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tessera::testing {

// Paths of the build and source trees (set by CMake).
std::string BuildDir();
std::string SourceDir();

// A port that was free a moment ago on 127.0.0.1.
int FreePort();

// Polls `pred` every `every` until it is true or `timeout` passes. Returns the last result.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout,
             std::chrono::milliseconds every = std::chrono::milliseconds(20));

// The value of an unlabelled sample `name` in a Prometheus text exposition (/metrics), or -1
// when there is none.
double MetricValue(const std::string& exposition, const std::string& name);

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process; SIGKILLed and reaped on destruction if still running.
class ChildProcess {
 public:
  // stdout and stderr go to `log_file`. `env` is added to the current environment.
  ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> env, std::string log_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Signal(int sig);
  // Waits for exit; returns the exit status (128+signal if killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
  std::string log_file_;
};

// A real redis-server on a free port and on a Unix socket, with its data (and AOF, fsync
// always) in a temp dir.
class RedisServer {
 public:
  explicit RedisServer(bool append_only = true);
  ~RedisServer();
  int port() const { return port_; }
  std::string Url() const;
  std::string SocketUrl() const;  // the same server as unix:///<dir>/redis.sock?db=0
  void Start();          // (re)starts on the same port and data dir, waits for PING
  void Kill();           // SIGKILL, no shutdown save
  void Stop();           // SIGTERM and wait
  void Restart() { Stop(); Start(); }
  // Runs a command through redis-cli semantics (for assertions): returns the reply as text.
  std::string Cli(const std::vector<std::string>& args) const;
  // Calls of `command` (lower case, e.g. "evalsha") since start or the last CONFIG RESETSTAT,
  // the calls scripts make included (INFO commandstats).
  long long CommandCalls(const std::string& command) const;

 private:
  TempDir dir_;
  int port_;
  bool append_only_;
  std::unique_ptr<ChildProcess> process_;
};

// tessera-devbroker on random ports; brokers() is its bootstrap address.
class DevBroker {
 public:
  DevBroker();
  ~DevBroker();
  const std::string& brokers() const { return brokers_; }
  void Down();  // SIGUSR1: every broker unreachable
  void Up();    // SIGUSR2
  ChildProcess& process() { return *process_; }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  std::string brokers_;
};

struct HttpResult {
  long status = 0;  // 0 when the request could not be made
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
  nlohmann::json Json() const;
};

// Blocking HTTP/1.1 client over libcurl with a keep-alive connection. Not thread-safe: use one
// per thread.
class HttpClient {
 public:
  explicit HttpClient(std::string base_url);
  ~HttpClient();
  HttpResult Request(const std::string& method, const std::string& path, const std::string& body = "",
                     const std::map<std::string, std::string>& headers = {});
  HttpResult Get(const std::string& path, const std::map<std::string, std::string>& headers = {}) {
    return Request("GET", path, "", headers);
  }

 private:
  std::string base_;
  void* curl_;
};

struct TopicMessage {
  int partition;
  int64_t offset;
  std::string key;
  std::string value;
};

// Reads a topic from the beginning of every partition (no consumer group).
std::vector<TopicMessage> ReadTopic(const std::string& brokers, const std::string& topic,
                                    size_t at_least, std::chrono::milliseconds timeout);

// Environment for a service binary against the given Redis and broker, on `port`, with the
// development keys from config/dev.
std::map<std::string, std::string> ServiceEnv(const RedisServer& redis, const DevBroker& broker, int port);

// A service binary (tessera-<name>) started on a free port; waits for /healthz.
class ServiceProcess {
 public:
  ServiceProcess(const std::string& name, std::map<std::string, std::string> env);
  ~ServiceProcess();
  int port() const { return port_; }
  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
  ChildProcess& process() { return *process_; }

 private:
  TempDir dir_;
  int port_;
  std::unique_ptr<ChildProcess> process_;
};

inline constexpr const char* kDevJwtSecret = "dev-jwt-secret";
// "Bearer dev-<role>"
std::map<std::string, std::string> AuthHeader(const std::string& role);

}  // namespace tessera::testing
