#include "tessera/lua_library.h"

#include <cctype>
#include <map>
#include <mutex>
#include <vector>

#include "tessera_lib_lua.h"

namespace tessera {

std::string_view TesseraLuaLibrary() { return embedded::kTesseraLibLua; }

namespace {
// One paragraph of the library (text between blank lines), and the helper it defines, if any.
struct Paragraph {
  std::string_view text;
  std::string_view helper;  // empty: the header comment
};

std::vector<Paragraph> Paragraphs(std::string_view lib) {
  static constexpr std::string_view kDefine = "local function ";
  std::vector<Paragraph> out;
  while (!lib.empty()) {
    const size_t end = lib.find("\n\n");
    std::string_view text = lib.substr(0, end);
    lib = end == std::string_view::npos ? std::string_view() : lib.substr(end + 2);
    if (text.find_first_not_of('\n') == std::string_view::npos) continue;
    Paragraph p{text, {}};
    if (const size_t at = text.find(kDefine); at != std::string_view::npos) {
      const size_t from = at + kDefine.size();
      p.helper = text.substr(from, text.find('(', from) - from);
    }
    out.push_back(p);
  }
  return out;
}

// Whether `text` uses `name` as a whole identifier.
bool Uses(std::string_view text, std::string_view name) {
  const auto ident = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = text.find(name); at != std::string_view::npos; at = text.find(name, at + 1)) {
    const size_t after = at + name.size();
    if ((at == 0 || !ident(text[at - 1])) && (after == text.size() || !ident(text[after]))) return true;
  }
  return false;
}
}  // namespace

std::string ScriptSource(std::string_view body) {
  const std::vector<Paragraph> lib = Paragraphs(TesseraLuaLibrary());
  // A helper is kept when the body or a kept helper after it uses it (helpers only call helpers
  // defined above them), so walk the library from its end.
  std::vector<bool> keep(lib.size(), false);
  for (size_t i = lib.size(); i-- > 0;) {
    if (lib[i].helper.empty()) continue;
    keep[i] = Uses(body, lib[i].helper);
    for (size_t j = i + 1; j < lib.size() && !keep[i]; ++j) keep[i] = keep[j] && Uses(lib[j].text, lib[i].helper);
  }
  std::string source;
  for (size_t i = 0; i < lib.size(); ++i) {
    if (!keep[i]) continue;
    source.append(lib[i].text);
    source.append("\n\n");
  }
  source.append(body);
  return source;
}

LuaScript MakeScript(std::string name, std::string_view body) {
  return LuaScript(std::move(name), ScriptSource(body));
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
