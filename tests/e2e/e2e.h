// The whole stack for end-to-end tests: redis-server (AOF), the development broker, the provider
// sink and the three service binaries, plus helpers to read topics and validate contracts.
#pragma once

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tessera/auth.h"
#include "tessera/clock.h"
#include "tessera/crypto.h"
#include "tessera/events.h"
#include "tessera/kafka.h"
#include "testing.h"

namespace tessera::e2e {

using namespace tessera::testing;
using json = nlohmann::json;
using Headers = std::map<std::string, std::string>;

inline Headers As(const std::string& role, const std::string& key = "") {
  Headers h = AuthHeader(role);
  if (!key.empty()) h["Idempotency-Key"] = key;
  return h;
}

// An HTTP client that records every answer (service, method, path, status, body) so the test
// can validate all of them against the OpenAPI documents.
class RecordingClient {
 public:
  RecordingClient(std::string service, const std::string& base, std::vector<json>& log)
      : service_(std::move(service)), client_(base), log_(log) {}
  HttpResult Request(const std::string& method, const std::string& path, const std::string& body = "", const Headers& headers = {}) {
    HttpResult r = client_.Request(method, path, body, headers);
    json parsed = r.Json();
    if (!parsed.is_discarded() && r.status != 0) {
      log_.push_back({{"service", service_}, {"method", method}, {"path", path.substr(0, path.find('?'))},
                      {"status", r.status}, {"body", parsed}});
    }
    return r;
  }
  HttpResult Get(const std::string& path, const Headers& headers = {}) { return Request("GET", path, "", headers); }

 private:
  std::string service_;
  HttpClient client_;
  std::vector<json>& log_;
};

class Stack {
 public:
  Stack() : logger_("e2e", LogLevel::kError, log_, clock_) {
    sink_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{BuildDir() + "/tools/provider-sink/tessera-provider-sink", "--dir", dir_.path(), "--port", "0",
                                 "--port-file", dir_.path() + "/sink-port"},
        std::map<std::string, std::string>{}, dir_.path() + "/sink.log");
    WaitFor([&] { return std::ifstream(dir_.path() + "/sink-port").good(); }, std::chrono::seconds(10));
    std::string port;
    std::ifstream(dir_.path() + "/sink-port") >> port;
    json program = json::parse(std::ifstream(SourceDir() + "/config/program.json"));
    program["pending_days"] = 0;
    std::ofstream(dir_.path() + "/program.json") << program.dump();
    env_ = ServiceEnv(redis, broker, 0);
    env_["TESSERA_PROGRAM_FILE"] = dir_.path() + "/program.json";
    env_["TESSERA_PROVIDER_URL"] = "http://127.0.0.1:" + port;
    for (const char* name : {"rewards", "offers", "notifications"}) Start(name);
    producer = std::make_unique<KafkaProducer>(KafkaProducerOptions{broker.brokers()}, logger_, metrics_);
  }
  void Start(const std::string& name) { services[name] = std::make_unique<ServiceProcess>(name, env_); }
  RecordingClient Client(const std::string& name) { return RecordingClient(name, services.at(name)->BaseUrl(), responses); }
  std::string Jwt(const std::string& member) {
    const auto now = clock_.Now();
    return "Bearer " + MakeAppJwt(kDevJwtSecret, member, now, now + std::chrono::hours(1));
  }
  // A POS publishing to tessera.purchases.v1.
  void Publish(const std::string& type, const std::string& member, const json& payload) {
    EventEnvelope e;
    e.event_id = NewUuid();
    e.type = type;
    e.occurred_at = FormatRfc3339(clock_.Now());
    e.member_id = member;
    e.channel = "store";
    e.source = "pos-store-12";
    e.correlation_id = "pos-" + e.event_id;
    e.payload = payload;
    producer->Publish(topics::kPurchases, member, e.ToJson().dump(), [](const std::string&) {});
    producer->Flush(std::chrono::seconds(10));
  }
  // Every event on the four topics, deduplicated by event_id.
  std::vector<json> Events(size_t at_least = 1) {
    std::map<std::string, json> by_id;
    for (const char* t : {topics::kPurchases, topics::kLedger, topics::kOffers, topics::kNotifications}) {
      for (const auto& m : ReadTopic(broker.brokers(), t, t == std::string(topics::kLedger) ? at_least : 0, std::chrono::seconds(15))) {
        auto e = json::parse(m.value);
        by_id[e["event_id"]] = e;
      }
    }
    std::vector<json> out;
    for (auto& [id, e] : by_id) out.push_back(std::move(e));
    return out;
  }
  // Runs tools/validate_contracts.py on `lines`; returns its exit status and output.
  std::pair<int, std::string> Validate(const std::string& mode, const std::vector<json>& lines) {
    const std::string file = dir_.path() + "/" + mode + ".jsonl", out = dir_.path() + "/" + mode + ".out";
    {
      std::ofstream f(file);
      for (const auto& l : lines) f << l.dump() << "\n";
    }
    const int rc = std::system(("/usr/bin/python3 " + SourceDir() + "/tools/validate_contracts.py " + mode + " " + file + " > " + out + " 2>&1").c_str());
    std::stringstream ss;
    ss << std::ifstream(out).rdbuf();
    return {WEXITSTATUS(rc), ss.str()};
  }
  std::vector<json> responses;  // every answer of every RecordingClient
  std::vector<json> Sent(const std::string& channel) {
    std::vector<json> out;
    std::ifstream in(dir_.path() + "/" + channel + ".jsonl");
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }

  RedisServer redis;
  DevBroker broker;
  std::map<std::string, std::unique_ptr<ServiceProcess>> services;
  std::unique_ptr<KafkaProducer> producer;

 private:
  SystemClock clock_;
  std::ostringstream log_;
  Logger logger_;
  MetricsRegistry metrics_;
  TempDir dir_;
  std::unique_ptr<ChildProcess> sink_;
  std::map<std::string, std::string> env_;
};

}  // namespace tessera::e2e
