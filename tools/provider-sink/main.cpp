// tessera-provider-sink: a development stand-in for the e-mail, SMS and push providers.
// It accepts the provider POSTs of tessera-notifications (POST /email, /sms, /push) and appends
// each body as one line to <dir>/<channel>.jsonl, so a developer can read every message the
// stack would have sent. Development and tests only.
//
//   tessera-provider-sink --dir run/sent [--port 8090] [--port-file F] [--fail-first N] [--always-fail]
//
// --fail-first N answers 503 to the first N attempts of each delivery (by Idempotency-Key);
// --always-fail answers 503 to everything. A repeated Idempotency-Key that was already accepted
// is answered 200 and not written again.
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "tessera/auth.h"
#include "tessera/http_server.h"

namespace {
struct Args {
  std::string dir, port_file;
  int port = 8090;
  int fail_first = 0;
  bool always_fail = false;
};

bool Parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (k == "--always-fail") {
      a.always_fail = true;
    } else if ((k == "--dir" || k == "--port" || k == "--port-file" || k == "--fail-first") && (v = next())) {
      if (k == "--dir") a.dir = v;
      if (k == "--port") a.port = std::atoi(v);
      if (k == "--port-file") a.port_file = v;
      if (k == "--fail-first") a.fail_first = std::atoi(v);
    } else {
      return false;
    }
  }
  return !a.dir.empty() && a.port >= 0 && a.port < 65536;
}
}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!Parse(argc, argv, args)) {
    std::cerr << "usage: tessera-provider-sink --dir DIR [--port 8090] [--port-file F] [--fail-first N] [--always-fail]\n";
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  tessera::SystemClock clock;
  tessera::Logger logger("tessera-provider-sink", tessera::LogLevel::kWarn, std::cerr, clock);
  tessera::MetricsRegistry metrics;
  tessera::Authenticator auth({}, "unused", clock);
  tessera::HttpServerOptions o;
  o.service = "provider-sink";
  o.port = args.port;
  o.threads = 2;
  tessera::HttpServer server(o, auth, metrics, logger);
  std::mutex mu;
  std::map<std::string, int> attempts;
  std::set<std::string> accepted;
  for (const std::string channel : {"email", "sms", "push"}) {
    server.Route("POST", "/" + channel, {.is_public = true}, [&, channel](const tessera::HttpRequest& req) {
      const std::string key = req.Header("idempotency-key").value_or("");
      std::lock_guard lock(mu);
      const int n = ++attempts[key];
      if (args.always_fail || n <= args.fail_first) {
        return tessera::HttpResponse::Json(503, {{"status", "unavailable"}, {"attempt", n}});
      }
      if (!key.empty() && !accepted.insert(key).second) {
        return tessera::HttpResponse::Json(200, {{"status", "duplicate"}});
      }
      std::ofstream out(args.dir + "/" + channel + ".jsonl", std::ios::app);
      out << req.body << "\n";
      return tessera::HttpResponse::Json(200, {{"status", "accepted"}});
    });
  }
  server.Start();
  if (!args.port_file.empty()) {
    std::ofstream(args.port_file + ".tmp") << server.port() << "\n";
    std::rename((args.port_file + ".tmp").c_str(), args.port_file.c_str());
  }
  std::cout << "tessera-provider-sink: listening on 127.0.0.1:" << server.port() << ", writing " << args.dir << "/<channel>.jsonl"
            << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  server.Shutdown();
  return 0;
}
