// NameThisThread: the name a thread shows in `top -H` and perf, cut at the kernel's 15 bytes.
#include "tessera/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <atomic>
#include <string>
#include <thread>

namespace tessera {
namespace {

std::string NameOf(std::thread& t) {
  char buf[16] = {};
  pthread_getname_np(t.native_handle(), buf, sizeof buf);
  return buf;
}

TEST(ThreadName, NamesTheCallingThread) {
  std::string seen;
  std::thread t([&] {
    NameThisThread("redis-pipeline");
    char buf[16] = {};
    pthread_getname_np(pthread_self(), buf, sizeof buf);
    seen = buf;
  });
  t.join();
  EXPECT_EQ(seen, "redis-pipeline");
}

TEST(ThreadName, ALongNameIsCutAtFifteenBytesInsteadOfRefused) {
  std::atomic<bool> named{false}, done{false};
  std::thread t([&] {
    NameThisThread("listing-invalidations");
    named = true;
    while (!done) std::this_thread::yield();
  });
  while (!named) std::this_thread::yield();
  EXPECT_EQ(NameOf(t), "listing-invalid");
  done = true;
  t.join();
}

}  // namespace
}  // namespace tessera
