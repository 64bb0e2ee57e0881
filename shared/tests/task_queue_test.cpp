#include "tessera/task_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <stdexcept>

namespace tessera {
namespace {

TEST(TaskQueue, RunsEveryPostedTaskOnItsThreadsBeforeItIsDestroyed) {
  std::atomic<int> ran{0};
  std::mutex mu;
  std::set<std::thread::id> threads;
  {
    TaskQueue queue(3);
    for (int i = 0; i < 1000; ++i) {
      queue.Post([&] {
        {
          std::lock_guard<std::mutex> lock(mu);
          threads.insert(std::this_thread::get_id());
        }
        if (++ran % 100 == 0) throw std::runtime_error("a failing task must not stop the queue");
      });
    }
  }
  EXPECT_EQ(ran.load(), 1000);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  EXPECT_LE(threads.size(), 3u);
}

}  // namespace
}  // namespace tessera
