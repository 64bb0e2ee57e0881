#include "tessera/task_queue.h"

#include <limits>

#include "tessera/thread_name.h"

namespace tessera {

TaskQueue::TaskQueue(int threads) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("task-queue");
      Work();
    });
  }
}

TaskQueue::~TaskQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void TaskQueue::Post(std::function<void()> task) {
  TryPost(std::move(task), std::numeric_limits<size_t>::max());  // never refuses
}

bool TaskQueue::TryPost(std::function<void()>&& task, size_t max_waiting) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (tasks_.size() >= max_waiting) return false;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void TaskQueue::Work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    try {
      task();
    } catch (...) {
    }
  }
}

}  // namespace tessera
