# cmake -DINPUT=<file> -DOUTPUT=<header> -DSYMBOL=<name> -P EmbedText.cmake
# Writes a header defining `inline constexpr std::string_view tessera::embedded::<SYMBOL>`
# holding the file's text, so Lua scripts stay readable .lua files in the tree.
file(READ "${INPUT}" content)
set(delim "tessera_embed")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT}. Do not edit.\n#pragma once\n#include <string_view>\n"
  "namespace tessera::embedded {\ninline constexpr std::string_view ${SYMBOL} = R\"${delim}(${content})${delim}\";\n}\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
