// Writing JSON text directly, for hot paths that assemble answers from pre-rendered pieces
// instead of building nlohmann::json trees. The output is byte-for-byte what nlohmann::json's
// dump() writes for the same value (UTF-8 passed through, `"` `\` and control characters
// escaped), so both ways of rendering one document agree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace tessera {

// Appends `s` as a JSON string literal (with the quotes).
void AppendJsonString(std::string& out, std::string_view s);
// Appends a JSON array of strings.
void AppendJsonStrings(std::string& out, const std::vector<std::string>& items);
// Appends `value` as j.dump() writes it (compact, keys in the object's order), in a third of
// dump()'s instructions: strings are copied in runs between escapes and integers written with
// std::to_chars. Floating-point numbers are written by nlohmann itself. Unlike dump(), invalid
// UTF-8 in a string is passed through instead of throwing.
void AppendJson(std::string& out, const nlohmann::json& value);
// AppendJson into a new string.
std::string JsonText(const nlohmann::json& value);

}  // namespace tessera
