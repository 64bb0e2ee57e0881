// Writing JSON text directly, for hot paths that assemble answers from pre-rendered pieces
// instead of building nlohmann::json trees. The output is byte-for-byte what nlohmann::json's
// dump() writes for the same value (UTF-8 passed through, `"` `\` and control characters
// escaped), so both ways of rendering one document agree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera {

// Appends `s` as a JSON string literal (with the quotes).
void AppendJsonString(std::string& out, std::string_view s);
// Appends a JSON array of strings.
void AppendJsonStrings(std::string& out, const std::vector<std::string>& items);

}  // namespace tessera
