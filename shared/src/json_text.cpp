#include "tessera/json_text.h"

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

namespace tessera {

namespace {
// Which bytes a JSON string must escape, looked up rather than compared: a quarter fewer
// instructions for the short strings events and states are made of (callgrind, session 30).
constexpr std::array<bool, 256> kEscaped = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = c < 0x20 || c == '"' || c == '\\';
  return t;
}();
bool NeedsEscape(unsigned char c) { return kEscaped[c]; }
}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size() && !NeedsEscape(static_cast<unsigned char>(s[i]))) ++i;
  if (i == s.size()) {  // the common case: nothing to escape, one copy
    out.reserve(out.size() + s.size() + 2);
    out.push_back('"');
    out.append(s.data(), s.size());
    out.push_back('"');
    return;
  }
  out.reserve(out.size() + s.size() + 8);
  out.push_back('"');
  size_t run = 0;  // start of the characters not yet appended; they need no escape
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!NeedsEscape(c)) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

void AppendJsonStrings(std::string& out, const std::vector<std::string>& items) {
  out.push_back('[');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out.push_back(',');
    AppendJsonString(out, items[i]);
  }
  out.push_back(']');
}

namespace {
template <typename Int>
void AppendInt(std::string& out, Int v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, static_cast<size_t>(end - buf));
}
}  // namespace

void AppendJson(std::string& out, const nlohmann::json& value) {
  using Type = nlohmann::json::value_t;
  switch (value.type()) {
    case Type::null: out.append("null"); return;
    case Type::boolean: out.append(value.get_ref<const bool&>() ? "true" : "false"); return;
    case Type::number_integer: AppendInt(out, value.get_ref<const nlohmann::json::number_integer_t&>()); return;
    case Type::number_unsigned: AppendInt(out, value.get_ref<const nlohmann::json::number_unsigned_t&>()); return;
    case Type::string: AppendJsonString(out, value.get_ref<const std::string&>()); return;
    case Type::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, v] : value.get_ref<const nlohmann::json::object_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, k);
        out.push_back(':');
        AppendJson(out, v);
      }
      out.push_back('}');
      return;
    }
    case Type::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& v : value.get_ref<const nlohmann::json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJson(out, v);
      }
      out.push_back(']');
      return;
    }
    default:  // floating point, binary, discarded: as nlohmann writes them
      out.append(value.dump());
  }
}

std::string JsonText(const nlohmann::json& value) {
  std::string out;
  AppendJson(out, value);
  return out;
}

void AppendJsonInt(std::string& out, int64_t v) { AppendInt(out, v); }

JsonMembers MembersOf(const nlohmann::json& object) {
  JsonMembers members;
  if (!object.is_object()) return members;
  members.reserve(object.size());
  for (const auto& [k, v] : object.get_ref<const nlohmann::json::object_t&>()) members.emplace_back(k, JsonText(v));
  return members;
}

void AppendJsonObject(std::string& out, const JsonMembers& a, const JsonMembers& b) {
  out.push_back('{');
  auto ia = a.begin(), ib = b.begin();
  bool first = true;
  while (ia != a.end() || ib != b.end()) {
    const bool from_a = ib == b.end() || (ia != a.end() && ia->first < ib->first);
    const auto& [key, value] = from_a ? *ia++ : *ib++;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, key);
    out.push_back(':');
    out += value;
  }
  out.push_back('}');
}

RenderedJson::RenderedJson(const nlohmann::json& value) : text_(JsonText(value)) {}

}  // namespace tessera
