// Writing JSON text directly, for hot paths that assemble answers from pre-rendered pieces
// instead of building nlohmann::json trees. The output is byte-for-byte what nlohmann::json's
// dump() writes for the same value (UTF-8 passed through, `"` `\` and control characters
// escaped), so both ways of rendering one document agree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessera {

// Appends `s` as a JSON string literal (with the quotes).
void AppendJsonString(std::string& out, std::string_view s);
// Appends `v` as JSON (and nlohmann::json's dump()) writes an integer.
void AppendJsonInt(std::string& out, int64_t v);
// `s` as a JSON string literal (with the quotes).
std::string JsonString(std::string_view s);
// Appends a JSON array of strings.
void AppendJsonStrings(std::string& out, const std::vector<std::string>& items);
// Appends `value` as j.dump() writes it (compact, keys in the object's order), in a third of
// dump()'s instructions: strings are copied in runs between escapes and integers written with
// std::to_chars. Floating-point numbers are written by nlohmann itself. Unlike dump(), invalid
// UTF-8 in a string is passed through instead of throwing.
void AppendJson(std::string& out, const nlohmann::json& value);
// AppendJson into a new string.
std::string JsonText(const nlohmann::json& value);

// A JSON object's members with each value already written as JSON text: keys distinct and
// ascending, as nlohmann::json holds (and dump() writes) them.
using JsonMembers = std::vector<std::pair<std::string, std::string>>;
// The members of `object` (a JSON object; anything else has none), values written by AppendJson.
JsonMembers MembersOf(const nlohmann::json& object);
// Appends the object holding the members of `a` and of `b` (no key in both), keys ascending:
// byte for byte what dump() writes for that object.
void AppendJsonObject(std::string& out, const JsonMembers& a, const JsonMembers& b = {});

// One complete JSON value already written as text, kept apart from other strings by its type.
// Hot paths write their answers directly (AppendJsonString, AppendJsonInt); others hand over a
// tree, which is written here, once.
class RenderedJson {
 public:
  // `text` must be one well-formed JSON value; nothing checks it.
  explicit RenderedJson(std::string text) : text_(std::move(text)) {}
  RenderedJson(const nlohmann::json& value);  // NOLINT(google-explicit-constructor): JsonText(value)
  const std::string& text() const& { return text_; }
  std::string text() && { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace tessera
