// A lock held for a scope, for the per-bucket locks replicas take in Redis (a sweep bucket, a
// dispatcher bucket): built from whether the lock was taken and how to give it up, it gives it
// up when the scope ends, however it ends. Giving up is best effort and never throws: a lock left
// behind (Redis away) lapses by itself with its lease.
#pragma once

#include <functional>
#include <utility>

namespace tessera {

class HeldLock {
 public:
  HeldLock(bool held, std::function<void()> release) : held_(held), release_(std::move(release)) {}
  ~HeldLock() {
    if (!held_) return;
    try {
      release_();
    } catch (...) {
    }
  }
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;
  bool held() const { return held_; }

 private:
  bool held_;
  std::function<void()> release_;
};

}  // namespace tessera
