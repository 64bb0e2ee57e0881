// Hostile input against the whole stack: tools/fuzz_http.py breaks one thing at a time in valid
// requests to every route (field types and values, bytes that are not UTF-8 in paths, broken
// JSON, headers, queries, methods) and fails on any 5xx other than 503, any 4xx that is not
// problem+json, or a dropped connection. Afterwards every service is still running, and the
// member the fuzzer wrote to still balances.
#include <gtest/gtest.h>

#include "e2e.h"

namespace tessera::e2e {
namespace {

TEST(HostileInput, NoRequestCrashesAServiceOrAnswersAnythingButAProblemOr2xx) {
  Stack stack;
  auto rewards = stack.Client("rewards");
  // A member to act on, so that the mutated requests reach the domain code too.
  ASSERT_EQ(rewards.Request("POST", "/v1/members", R"({"member_id":"fz-1","channel":"web"})", As("pos")).status, 201);
  const std::string out = ::testing::TempDir() + "/fuzz_http.out";
  for (int seed : {1, 2, 3}) {
    const std::string cmd = "/usr/bin/python3 " + SourceDir() + "/tools/fuzz_http.py --seed " + std::to_string(seed) +
                            " --requests 3000 --rewards " + stack.services.at("rewards")->BaseUrl() + " --offers " +
                            stack.services.at("offers")->BaseUrl() + " --notifications " +
                            stack.services.at("notifications")->BaseUrl() + " > " + out + " 2>&1";
    const int rc = std::system(cmd.c_str());
    std::stringstream report;
    report << std::ifstream(out).rdbuf();
    EXPECT_EQ(WEXITSTATUS(rc), 0) << report.str();
  }
  for (const auto& [name, service] : stack.services) EXPECT_TRUE(service->process().Running()) << name;
  auto audit = rewards.Get("/v1/members/fz-1/audit", As("agent"));
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.Json()["consistent"], true) << audit.body;
}

}  // namespace
}  // namespace tessera::e2e
