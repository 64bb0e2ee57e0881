// Builds service scripts on the shared Lua library (shared/lua/tessera_lib.lua): the outbox
// append and the idempotency record helpers, so every script writes its event and its
// idempotency record in the same atomic step as its state change.
#pragma once

#include <string>
#include <string_view>

#include "tessera/redis.h"

namespace tessera {

// The library source (embedded at build time).
std::string_view TesseraLuaLibrary();

// A script whose source is the library followed by `body`.
LuaScript MakeScript(std::string name, std::string_view body);

// MakeScript(name, body), built once per name for the life of the process. Thread-safe; the
// reference stays valid. `body` must be the same for every call with one name.
const LuaScript& CachedScript(const std::string& name, std::string_view body);

}  // namespace tessera
