// Names the calling thread, so that `top -H`, `ps -L -o comm`, `perf report --sort comm` and
// `perf sched timehist` show what each of a service's threads is for (bench/README.md, session 29:
// profiles of a redemption were read by thread role). Linux keeps the first 15 bytes of a name;
// a longer one is cut there. Failure (never expected on Linux) leaves the old name: a name is a
// diagnostic, never a reason to stop a thread.
#pragma once

#include <string_view>

namespace tessera {

void NameThisThread(std::string_view name);

}  // namespace tessera
