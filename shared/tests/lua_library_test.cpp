#include "tessera/lua_library.h"

#include <gtest/gtest.h>

#include <iterator>
#include <string>

namespace tessera {
namespace {

bool Defines(const std::string& source, const std::string& helper) {
  return source.find("local function " + helper + "(") != std::string::npos;
}

TEST(LuaLibrary, AScriptCarriesOnlyTheHelpersItCalls) {
  const std::string body = "tessera_outbox_append(KEYS[1], 't', 'k', ARGV[1])\nreturn 1";
  const std::string source = ScriptSource(body);
  EXPECT_TRUE(Defines(source, "tessera_outbox_append"));
  EXPECT_FALSE(Defines(source, "tessera_idem_lookup"));
  EXPECT_FALSE(Defines(source, "tessera_idem_check"));
  EXPECT_FALSE(Defines(source, "tessera_idem_store"));
  EXPECT_EQ(source.substr(source.size() - body.size()), body) << "the body comes last";
}

TEST(LuaLibrary, AHelperBringsTheHelpersItCallsAboveIt) {
  const std::string source = ScriptSource("if tessera_idem_check(KEYS[1], ARGV[1]) then return 0 end\nreturn 1");
  ASSERT_TRUE(Defines(source, "tessera_idem_check"));
  ASSERT_TRUE(Defines(source, "tessera_idem_lookup")) << "tessera_idem_check calls it";
  ASSERT_TRUE(Defines(source, "tessera_idem_read")) << "tessera_idem_lookup calls it";
  EXPECT_LT(source.find("local function tessera_idem_read("), source.find("local function tessera_idem_lookup("));
  EXPECT_LT(source.find("local function tessera_idem_lookup("), source.find("local function tessera_idem_check("))
      << "defined before its caller, as Lua's local functions need";
  EXPECT_FALSE(Defines(source, "tessera_idem_store"));
  EXPECT_FALSE(Defines(source, "tessera_outbox_append"));
}

TEST(LuaLibrary, ANameInsideALongerNameIsNotACall) {
  const std::string source = ScriptSource("local my_tessera_idem_store_count = 1\nreturn tessera_idem_store_x");
  EXPECT_FALSE(Defines(source, "tessera_idem_store"));
  EXPECT_EQ(ScriptSource("return 1"), "return 1") << "a script that uses no helper is its body alone";
}

TEST(LuaLibrary, EveryHelperOfTheLibraryIsFound) {
  const char* helpers[] = {"tessera_outbox_append", "tessera_idem_read", "tessera_idem_lookup", "tessera_idem_check",
                           "tessera_idem_store"};
  std::string body;
  for (const char* helper : helpers) body += std::string(helper) + "(1)\n";
  const std::string source = ScriptSource(body);
  for (const char* helper : helpers) {
    EXPECT_TRUE(Defines(source, helper)) << helper;
  }
  const std::string lib(TesseraLuaLibrary());
  size_t defined = 0;
  for (size_t at = lib.find("local function "); at != std::string::npos; at = lib.find("local function ", at + 1)) ++defined;
  EXPECT_EQ(defined, std::size(helpers)) << "a helper added to the library: list it above";
}

}  // namespace
}  // namespace tessera
