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

// The helpers of the library that `body` uses (and those they use), in the library's order,
// followed by `body`. Each helper is a closure Redis makes again at every call of the script
// (about 800 instructions), so a script carries only the ones it calls.
std::string ScriptSource(std::string_view body);

// A script whose source is ScriptSource(body).
LuaScript MakeScript(std::string name, std::string_view body);

// MakeScript(name, body), built once per name for the life of the process. Thread-safe; the
// reference stays valid. `body` must be the same for every call with one name.
const LuaScript& CachedScript(const std::string& name, std::string_view body);

}  // namespace tessera
