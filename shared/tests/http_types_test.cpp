#include "tessera/http_types.h"
#include "tessera/json_text.h"

#include <gtest/gtest.h>

#include <limits>

namespace tessera {
namespace {

Problem Catch(const std::function<void()>& f) {
  try {
    f();
  } catch (const ProblemError& e) {
    return e.problem();
  }
  ADD_FAILURE() << "no problem raised";
  return {};
}

TEST(ParseJsonObject, MalformedBodiesAre400) {
  EXPECT_EQ(Catch([] { ParseJsonObject("{"); }).code, "malformed_json");
  EXPECT_EQ(Catch([] { ParseJsonObject("[1]"); }).code, "malformed_json");
  EXPECT_EQ(Catch([] { ParseJsonObject(""); }).status, 400);
  EXPECT_EQ(ParseJsonObject(R"({"a":1})")["a"], 1);
}

TEST(JsonObjectReader, RejectsUnknownFieldsNamingThem) {
  auto body = ParseJsonObject(R"({"points":5,"pionts":6})");
  Problem p = Catch([&] { JsonObjectReader r(body, {"points"}); });
  EXPECT_EQ(p.code, "validation_failed");
  EXPECT_EQ(p.field, "/pionts");
}

TEST(JsonObjectReader, TypesAndRanges) {
  auto body = ParseJsonObject(
      R"({"points":"5","big":1e300,"neg":-1,"huge":18446744073709551615,"id":"bad id!","ok":"m-1","ch":"web"})");
  JsonObjectReader r(body, {"points", "big", "neg", "huge", "id", "ok", "ch", "missing"});
  EXPECT_EQ(Catch([&] { r.RequiredInt("points", 1, 100); }).field, "/points");
  EXPECT_EQ(Catch([&] { r.RequiredInt("big", 1, 100); }).field, "/big");
  EXPECT_EQ(Catch([&] { r.RequiredInt("neg", 1, 100); }).detail, "neg must be between 1 and 100");
  EXPECT_EQ(Catch([&] { r.RequiredInt("huge", 1, 100); }).field, "/huge");
  EXPECT_EQ(Catch([&] { r.RequiredId("id"); }).field, "/id");
  EXPECT_EQ(Catch([&] { r.RequiredString("missing"); }).detail, "missing is required");
  EXPECT_EQ(Catch([&] { r.RequiredEnum("ok", {"web", "app"}); }).field, "/ok");
  EXPECT_EQ(r.RequiredId("ok"), "m-1");
  EXPECT_EQ(r.RequiredEnum("ch", {"web", "app", "store"}), "web");
  EXPECT_FALSE(r.OptionalInt("missing", 0, 1).has_value());
}

TEST(Problem, RendersRfc9457Members) {
  auto j = Problem::Make(409, "insufficient_points", "available 5, requested 10").ToJson();
  EXPECT_EQ(j["type"], "https://tessera.dev/problems/insufficient_points");
  EXPECT_EQ(j["title"], "Conflict");
  EXPECT_EQ(j["status"], 409);
  EXPECT_EQ(j["detail"], "available 5, requested 10");
  EXPECT_EQ(j["code"], "insufficient_points");
}

TEST(Problem, QuotesBytesThatAreNotUtf8AsReplacementCharacters) {
  // A detail quoting a percent-decoded path segment ("%E9") must still render.
  const std::string body = Problem::NotFound("no template for \xe9").Body();
  EXPECT_EQ(nlohmann::json::parse(body)["detail"], "no template for \xef\xbf\xbd");
}

}  // namespace
}  // namespace tessera

namespace tessera {
namespace {
TEST(JsonText, WritesWhatNlohmannWrites) {
  const std::vector<std::string> samples = {"", "plain", "quote \" and \\ backslash", "tab\tnew\nline\r",
                                            std::string("nul\0bell\x07", 9), "\x1f unit", "utf-8: 日本語 ü"};
  for (const auto& s : samples) {
    std::string out;
    AppendJsonString(out, s);
    EXPECT_EQ(out, nlohmann::json(s).dump()) << s;
  }
  std::string arr;
  AppendJsonStrings(arr, samples);
  EXPECT_EQ(arr, nlohmann::json(samples).dump());
}

// Events, ledger records and idempotent answers are written with AppendJson and read back, or
// compared, as nlohmann writes them: the two must agree byte for byte.
TEST(JsonText, WritesWholeDocumentsAsDumpDoes) {
  const std::vector<nlohmann::json> samples = {
      nullptr,
      true,
      false,
      0,
      -1,
      std::numeric_limits<int64_t>::min(),
      std::numeric_limits<int64_t>::max(),
      std::numeric_limits<uint64_t>::max(),
      1.5,
      -0.25,
      1e300,
      "text with \"quotes\", \\ and \u0001",
      nlohmann::json::array(),
      nlohmann::json::object(),
      nlohmann::json::parse(R"({"balances":{"available":999999,"held":0,"lifetime":1000000,"pending":0,)"
                            R"("qualifying":1000000,"tier":"gold"},"member_id":"m-1","member_seq":4,"points":1,)"
                            R"("redemption_id":"rdm_zd4p2vk69etrpkc0","status":"completed",)"
                            R"("nested":[[],[{}],[1,-2,3.5,null,true,"x"]],"unicode":"日本語 ü","z":{"a":{"b":[]}}})"),
  };
  for (const auto& j : samples) {
    EXPECT_EQ(JsonText(j), j.dump()) << j.dump();
    std::string appended = "prefix:";
    AppendJson(appended, j);
    EXPECT_EQ(appended, "prefix:" + j.dump());
  }
}

TEST(JsonText, IntegersAndStringsAloneAreWrittenAsDumpDoes) {
  for (const int64_t v : {int64_t{0}, int64_t{-7}, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    std::string out = "x";
    AppendJsonInt(out, v);
    EXPECT_EQ(out, "x" + nlohmann::json(v).dump());
  }
  EXPECT_EQ(JsonString("a \"b\"\n"), nlohmann::json("a \"b\"\n").dump());
}

// A ledger event's payload is the change's own members merged with the balances and entry id
// the commit adds: the result must be the object nlohmann would write, keys in order.
TEST(JsonText, MergedMembersAreOneObjectWithKeysInOrder) {
  const nlohmann::json own = {{"allocations", {1, 2}}, {"direction", "up"}, {"zeta", nullptr}, {"points", 5}};
  const nlohmann::json added = {{"balances", {{"available", 1}}}, {"entry_id", "m-1:4"}};
  std::string out;
  AppendJsonObject(out, MembersOf(own), MembersOf(added));
  nlohmann::json both = own;
  both.update(added);
  EXPECT_EQ(out, both.dump());
  out.clear();
  AppendJsonObject(out, {}, MembersOf(added));  // either side may be empty
  EXPECT_EQ(out, added.dump());
  out.clear();
  AppendJsonObject(out, MembersOf(nlohmann::json::object()));
  EXPECT_EQ(out, "{}");
  EXPECT_TRUE(MembersOf(nlohmann::json::array({1})).empty());  // not an object: no members
  EXPECT_EQ(RenderedJson(own).text(), own.dump());
}
}  // namespace
}  // namespace tessera
