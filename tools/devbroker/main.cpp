// tessera-devbroker: a development Kafka broker on librdkafka's mock cluster.
//
// It keeps messages in memory, for development and tests only. It creates the Tessera topics
// (SPEC §7, and their dead-letter topics) with 6 partitions, serves the Kafka protocol on
// loopback at random ports (the mock cannot pin them), writes the bootstrap address atomically
// to the file named by --bootstrap-file and prints it. SIGTERM/SIGINT stop it cleanly;
// SIGUSR1 takes every broker down and SIGUSR2 brings them back (fault injection).
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "tessera/events.h"

namespace {

struct Args {
  std::string bootstrap_file;
  int brokers = 1;
  int partitions = 6;
};

void Usage() {
  std::cerr << "usage: tessera-devbroker --bootstrap-file PATH [--brokers N] [--partitions N]\n";
}

bool ParseArgs(int argc, char** argv, Args& out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--bootstrap-file") {
      const char* v = next();
      if (!v) return false;
      out.bootstrap_file = v;
    } else if (a == "--brokers" || a == "--partitions") {
      const char* v = next();
      if (!v) return false;
      int n = std::atoi(v);
      if (n < 1 || n > 64) return false;
      (a == "--brokers" ? out.brokers : out.partitions) = n;
    } else {
      return false;
    }
  }
  return !out.bootstrap_file.empty();
}

bool WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return false;
    f << text << "\n";
    if (!f.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct MockDeleter {
  void operator()(rd_kafka_mock_cluster_t* mc) const { rd_kafka_mock_cluster_destroy(mc); }
};

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, args)) {
    Usage();
    return 2;
  }
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  std::unique_ptr<rd_kafka_t, KafkaDeleter> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err));
  if (!rk) {
    std::cerr << "tessera-devbroker: " << err << "\n";
    return 1;
  }
  // Declared after rk so it is destroyed first, as the mock cluster requires.
  std::unique_ptr<rd_kafka_mock_cluster_t, MockDeleter> cluster(rd_kafka_mock_cluster_new(rk.get(), args.brokers));
  if (!cluster) {
    std::cerr << "tessera-devbroker: cannot create the mock cluster\n";
    return 1;
  }
  for (const std::string& topic : tessera::AllTopics()) {
    if (rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster.get(), topic.c_str(), args.partitions, 1)) {
      std::cerr << "tessera-devbroker: cannot create " << topic << ": " << rd_kafka_err2str(e) << "\n";
      return 1;
    }
  }
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(cluster.get());
  if (!WriteAtomically(args.bootstrap_file, bootstraps)) {
    std::cerr << "tessera-devbroker: cannot write " << args.bootstrap_file << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  std::cout << "tessera-devbroker: serving Kafka on " << bootstraps << " (" << args.brokers << " broker(s), "
            << args.partitions << " partitions per topic; in memory, development only)" << std::endl;

  while (true) {
    int sig = 0;
    sigwait(&signals, &sig);
    if (sig == SIGUSR1 || sig == SIGUSR2) {
      for (int id = 1; id <= args.brokers; ++id) {
        if (sig == SIGUSR1) rd_kafka_mock_broker_set_down(cluster.get(), id);
        else rd_kafka_mock_broker_set_up(cluster.get(), id);
      }
      std::cout << "tessera-devbroker: brokers " << (sig == SIGUSR1 ? "down" : "up") << std::endl;
      continue;
    }
    break;
  }
  std::cout << "tessera-devbroker: stopping" << std::endl;
  cluster.reset();
  rk.reset();
  std::remove(args.bootstrap_file.c_str());
  return 0;
}
