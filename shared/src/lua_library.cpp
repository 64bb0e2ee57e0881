#include "tessera/lua_library.h"

#include "tessera_lib_lua.h"

namespace tessera {

std::string_view TesseraLuaLibrary() { return embedded::kTesseraLibLua; }

LuaScript MakeScript(std::string name, std::string_view body) {
  std::string source(TesseraLuaLibrary());
  source.push_back('\n');
  source.append(body);
  return LuaScript(std::move(name), std::move(source));
}

}  // namespace tessera
