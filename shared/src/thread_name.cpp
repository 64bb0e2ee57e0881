#include "tessera/thread_name.h"

#include <pthread.h>

#include <algorithm>
#include <array>

namespace tessera {

void NameThisThread(std::string_view name) {
  std::array<char, 16> buf{};  // the kernel's limit (TASK_COMM_LEN), NUL included
  const size_t n = std::min(name.size(), buf.size() - 1);
  std::copy_n(name.data(), n, buf.data());
  pthread_setname_np(pthread_self(), buf.data());
}

}  // namespace tessera
