#include "tessera/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace tessera {
namespace {

TEST(Metrics, RendersPrometheusTextFormat) {
  MetricsRegistry m;
  m.GetCounter("req_total", "Requests", {{"route", "/v1/x"}, {"status", "200"}}).Inc(3);
  m.GetGauge("depth", "Depth").Set(7);
  auto& h = m.GetHistogram("lat_seconds", "Latency", {{"route", "/v1/x"}}, {0.01, 0.1});
  h.Observe(0.005);
  h.Observe(0.05);
  h.Observe(5);
  const std::string text = m.Render();
  EXPECT_NE(text.find("# TYPE req_total counter\nreq_total{route=\"/v1/x\",status=\"200\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE depth gauge\ndepth 7\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/v1/x\",le=\"0.01\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/v1/x\",le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/v1/x\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count{route=\"/v1/x\"} 3\n"), std::string::npos);
}

TEST(Metrics, CountsExactlyUnderConcurrency) {
  MetricsRegistry m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) m.GetCounter("c", "C", {{"k", "v"}}).Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.GetCounter("c", "C", {{"k", "v"}}).Value(), 80000);
}

TEST(Metrics, CollectorsRunBeforeRendering) {
  MetricsRegistry m;
  int depth = 41;
  m.AddCollector([&] { m.GetGauge("outbox_depth", "D").Set(++depth); });
  EXPECT_NE(m.Render().find("outbox_depth 42"), std::string::npos);
}

}  // namespace
}  // namespace tessera
