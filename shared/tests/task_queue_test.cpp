#include "tessera/task_queue.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
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

TEST(TaskQueue, TryPostRefusesWhenTheGivenNumberOfTasksAlreadyWait) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  {
    TaskQueue queue(1);
    // The only thread is busy until released; what is posted after waits.
    std::function<void()> blocker = [&] {
      started.set_value();
      released.wait();
      ++ran;
    };
    ASSERT_TRUE(queue.TryPost(std::move(blocker), 2));
    started.get_future().wait();
    for (int i = 0; i < 2; ++i) {
      std::function<void()> task = [&] { ++ran; };
      EXPECT_TRUE(queue.TryPost(std::move(task), 2)) << i;
    }
    std::function<void()> refused = [&] { ran += 100; };
    EXPECT_FALSE(queue.TryPost(std::move(refused), 2));
    ASSERT_TRUE(refused) << "a refused task stays with the caller";
    refused();  // the caller runs it itself
    release.set_value();
  }
  EXPECT_EQ(ran.load(), 103);
}

}  // namespace
}  // namespace tessera
