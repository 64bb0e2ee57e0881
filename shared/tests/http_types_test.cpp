#include "tessera/http_types.h"
#include "tessera/json_text.h"

#include <gtest/gtest.h>

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
}  // namespace
}  // namespace tessera
