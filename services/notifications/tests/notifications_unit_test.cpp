// Templates in five languages, UTF-8-safe cutting, preferences validation and quiet hours in the
// member's time zone.
#include <gtest/gtest.h>

#include "preferences.h"
#include "templates.h"
#include "tessera/clock.h"
#include "tessera/errors.h"

namespace tessera::notifications {
namespace {

std::map<std::string, std::string> Vars() {
  return {{"name", "Yuki"}, {"member_id", "m-1"}, {"points", "1200"}, {"balance", "3400"}, {"tier", "gold"},
          {"previous_tier", "silver"}, {"offer_title", "Double points"}, {"expires_at", "2027-01-31"}};
}

TEST(Templates, EveryDefaultRendersInAllFiveLanguagesWithPlaceholdersFilled) {
  for (const auto& type : MessageEventTypes()) {
    for (const auto& locale : SupportedLocales()) {
      auto t = DefaultTemplate(type, locale);
      ASSERT_TRUE(t) << type << " " << locale;
      EXPECT_FALSE(UnknownPlaceholder(t->subject)) << type << " " << locale;
      EXPECT_FALSE(UnknownPlaceholder(t->body)) << type << " " << locale;
      const std::string subject = Render(t->subject, Vars()), body = Render(t->body, Vars());
      EXPECT_EQ(subject.find("{{"), std::string::npos) << subject;
      EXPECT_EQ(body.find("{{"), std::string::npos) << body;
      EXPECT_FALSE(subject.empty());
      EXPECT_GT(Utf8Length(body), 10u);
      if (locale != "en") {
        EXPECT_NE(t->body, DefaultTemplate(type, "en")->body) << type << " is translated into " << locale;
      }
    }
  }
  EXPECT_EQ(Render(DefaultTemplate("points.earned", "ja")->subject, Vars()), "1200ポイントを獲得しました");
  EXPECT_EQ(Render(DefaultTemplate("points.earned", "en")->subject, Vars()), "You earned 1200 points");
  EXPECT_NE(DefaultTemplate("points.earned", "ko")->body, DefaultTemplate("points.earned", "en")->body);
}

TEST(Templates, LocaleFallsBackToTheLanguageThenEnglish) {
  EXPECT_EQ(DefaultTemplate("tier.changed", "ja-JP")->subject, DefaultTemplate("tier.changed", "ja")->subject);
  EXPECT_EQ(DefaultTemplate("tier.changed", "pt-BR")->subject, DefaultTemplate("tier.changed", "en")->subject);
  EXPECT_FALSE(DefaultTemplate("points.held", "en"));
  EXPECT_EQ(ClassOf("offer.activated"), MessageClass::kMarketing);
  EXPECT_EQ(ClassOf("points.redeemed"), MessageClass::kTransactional);
  EXPECT_FALSE(ClassOf("hold.released"));
}

TEST(Templates, RenderingAndValidation) {
  EXPECT_EQ(Render("Hi {{ name }}, {{points}} pts{{missing}}.", {{"name", "A"}, {"points", "5"}}), "Hi A, 5 pts.");
  EXPECT_EQ(Render("unbalanced {{name", {{"name", "A"}}), "unbalanced {{name");
  EXPECT_EQ(UnknownPlaceholder("{{name}} {{nmae}}"), "nmae");
  EXPECT_FALSE(UnknownPlaceholder("{{name}} and {{ tier }}"));
}

TEST(Utf8, CutsOnCharacterBoundariesOnly) {
  const std::string ja = "由紀様、ご入会ありがとうございます";  // 3-byte characters
  const std::string cut = TruncateUtf8(ja, 5);
  EXPECT_EQ(cut, "由紀様、…");
  EXPECT_EQ(Utf8Length(cut), 5u);
  const std::string th = "สวัสดีค่ะ คุณสมชาย";
  for (size_t n = 1; n < 20; ++n) {
    const std::string t = TruncateUtf8(th, n);
    EXPECT_LE(Utf8Length(t), n);
    // Valid UTF-8 throughout: re-cutting it changes nothing.
    EXPECT_EQ(TruncateUtf8(t, 100), t);
  }
  EXPECT_EQ(TruncateUtf8("abc", 3), "abc");
  EXPECT_EQ(TruncateUtf8("a\xff" "b", 10), "a\xEF\xBF\xBD" "b") << "invalid bytes become U+FFFD";
  EXPECT_EQ(TruncateUtf8("\xE7\x94", 10), "\xEF\xBF\xBD\xEF\xBF\xBD") << "a cut-off sequence is not passed on";
}

std::string Field(const nlohmann::json& body) {
  try {
    ParsePreferences(body);
  } catch (const ProblemError& e) {
    return e.problem().field;
  }
  return "accepted";
}

TEST(Preferences, Validation) {
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"time_zone":"Asia/Tokyo","quiet_hours":{"start":"22:00","end":"08:00"}})")), "accepted");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"time_zone":"Mars/Olympus"})")), "/time_zone");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"quiet_hours":{"start":"24:00","end":"08:00"}})")), "/quiet_hours/start");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"quiet_hours":{"start":"22:00","end":"8am"}})")), "/quiet_hours/end");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"channels":{"email":{"address":"not-an-email","enabled":true}}})")), "/channels/email/address");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"channels":{"sms":{"phone":"090-1234-5678"}}})")), "/channels/sms/phone");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"channels":{"push":{"enabled":true}}})")), "/channels/push/token");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"channels":{"fax":{}}})")), "/channels/fax");
  EXPECT_EQ(Field(nlohmann::json::parse(R"({"marketing_opt_in":"yes"})")), "/marketing_opt_in");
  auto p = ParsePreferences(nlohmann::json::parse(
      R"({"locale":"th","channels":{"sms":{"phone":"+66812345678"},"email":{"address":"a@b.co","enabled":false}}})"));
  EXPECT_TRUE(p.sms.enabled) << "a channel with an address is enabled unless told otherwise";
  EXPECT_FALSE(p.email.enabled);
  EXPECT_TRUE(p.inbox.enabled);
  EXPECT_EQ(ParsePreferences(p.ToJson()).ToJson(), p.ToJson()) << "stored preferences read back";
  auto d = Preferences::Defaults("ja", "Nowhere/City");
  EXPECT_EQ(d.time_zone, "UTC");
  EXPECT_FALSE(d.marketing_opt_in);
  EXPECT_FALSE(d.email.enabled);
}

int64_t Ms(const char* rfc3339) { return ToUnixMillis(*ParseRfc3339(rfc3339)); }

TEST(QuietHours, DeferToTheEndInTheMembersTimeZone) {
  Preferences p;
  p.time_zone = "Asia/Tokyo";
  p.quiet_hours = {{22 * 60, 8 * 60}};
  // 23:30 in Tokyo (14:30 UTC) -> 08:00 Tokyo next morning (23:00 UTC).
  EXPECT_EQ(QuietHoursEnd(p, Ms("2026-11-22T14:30:00Z")), Ms("2026-11-22T23:00:00Z"));
  // 07:00 in Tokyo -> 08:00 the same morning.
  EXPECT_EQ(QuietHoursEnd(p, Ms("2026-11-22T22:00:00Z")), Ms("2026-11-22T23:00:00Z"));
  EXPECT_FALSE(QuietHoursEnd(p, Ms("2026-11-22T03:00:00Z")));  // noon in Tokyo
  EXPECT_FALSE(QuietHoursEnd(p, Ms("2026-11-22T23:00:00Z")));  // 08:00 sharp: quiet hours are over
  p.time_zone = "America/New_York";
  p.quiet_hours = {{13 * 60, 14 * 60}};
  EXPECT_EQ(QuietHoursEnd(p, Ms("2026-07-01T17:30:00Z")), Ms("2026-07-01T18:00:00Z"));  // EDT
  EXPECT_EQ(LocalDate("Asia/Tokyo", Ms("2026-11-22T15:30:00Z")), "2026-11-23");
  EXPECT_EQ(LocalDate("UTC", Ms("2026-11-22T15:30:00Z")), "2026-11-22");
}

}  // namespace
}  // namespace tessera::notifications
