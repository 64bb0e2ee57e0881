#include "tessera/lua_library.h"

#include <map>
#include <mutex>

#include "tessera_lib_lua.h"

namespace tessera {

std::string_view TesseraLuaLibrary() { return embedded::kTesseraLibLua; }

LuaScript MakeScript(std::string name, std::string_view body) {
  std::string source(TesseraLuaLibrary());
  source.push_back('\n');
  source.append(body);
  return LuaScript(std::move(name), std::move(source));
}

const LuaScript& CachedScript(const std::string& name, std::string_view body) {
  static std::mutex mu;
  static auto* scripts = new std::map<std::string, LuaScript>();  // never destroyed: used until exit
  std::lock_guard lock(mu);
  auto it = scripts->find(name);
  if (it == scripts->end()) it = scripts->emplace(name, MakeScript(name, body)).first;
  return it->second;
}

}  // namespace tessera
