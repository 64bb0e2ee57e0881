// A fixed set of threads running posted tasks, for work that may block (a Redis round trip on
// the pool) and must not run on a thread that others wait on, such as RedisPipeline's.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tessera {

class TaskQueue {
 public:
  explicit TaskQueue(int threads);
  // Runs every task already posted, then joins the threads.
  ~TaskQueue();
  TaskQueue(const TaskQueue&) = delete;
  TaskQueue& operator=(const TaskQueue&) = delete;

  // Tasks run in posting order across the threads; what a task throws is dropped (a task
  // reports its own failures).
  void Post(std::function<void()> task);
  // Posts `task` unless `max_waiting` tasks already wait for a thread; then returns false and
  // leaves `task` with the caller, who runs it itself: that caller does nothing else meanwhile,
  // which is what bounds the queue.
  bool TryPost(std::function<void()>&& task, size_t max_waiting);

 private:
  void Work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tessera
