#include "templates.h"

#include <vector>

namespace tessera::notifications {

namespace {
using Table = std::map<std::string, std::map<std::string, Template>>;  // event -> locale -> template

const Table& Defaults() {
  static const Table* t = new Table{
      {"member.enrolled",
       {{"en", {"Welcome to Tessera Rewards, {{name}}", "Hi {{name}}, welcome aboard! You are a {{tier}} member. Earn points every time you shop — online, in the app or in store."}},
        {"ja", {"{{name}}様、Tessera Rewardsへようこそ", "{{name}}様、ご入会ありがとうございます。会員ランクは{{tier}}です。オンライン・アプリ・店舗のどこでお買い物をしてもポイントが貯まります。"}},
        {"ko", {"{{name}}님, Tessera Rewards에 오신 것을 환영합니다", "{{name}}님, 가입해 주셔서 감사합니다. 현재 등급은 {{tier}}입니다. 온라인, 앱, 매장 어디서 쇼핑하셔도 포인트가 적립됩니다."}},
        {"zh", {"{{name}}，欢迎加入 Tessera Rewards", "{{name}}，您好！感谢您的加入，您当前的会员等级为{{tier}}。无论在网店、App 还是门店购物，都能累积积分。"}},
        {"th", {"ยินดีต้อนรับสู่ Tessera Rewards คุณ{{name}}", "สวัสดีค่ะ คุณ{{name}} ขอบคุณที่สมัครสมาชิก ระดับสมาชิกของคุณคือ {{tier}} ช้อปที่ไหนก็สะสมคะแนนได้ ทั้งออนไลน์ ในแอป และที่ร้าน"}}}},
      {"points.earned",
       {{"en", {"You earned {{points}} points", "Thanks for your purchase, {{name}}. {{points}} points have been added to your account. Available balance: {{balance}} points."}},
        {"ja", {"{{points}}ポイントを獲得しました", "{{name}}様、お買い上げありがとうございます。{{points}}ポイントが加算されました。ご利用可能なポイントは{{balance}}ポイントです。"}},
        {"ko", {"{{points}} 포인트가 적립되었습니다", "{{name}}님, 구매해 주셔서 감사합니다. {{points}} 포인트가 적립되었습니다. 사용 가능한 포인트: {{balance}}점"}},
        {"zh", {"您获得了 {{points}} 积分", "{{name}}，感谢您的购买！{{points}} 积分已存入您的账户，当前可用积分为 {{balance}}。"}},
        {"th", {"คุณได้รับ {{points}} คะแนน", "ขอบคุณที่ช้อปกับเรา คุณ{{name}} เราได้เพิ่ม {{points}} คะแนนเข้าบัญชีของคุณแล้ว คะแนนที่ใช้ได้: {{balance}} คะแนน"}}}},
      {"points.redeemed",
       {{"en", {"You redeemed {{points}} points", "{{name}}, you redeemed {{points}} points. Available balance: {{balance}} points."}},
        {"ja", {"{{points}}ポイントを利用しました", "{{name}}様、{{points}}ポイントをご利用いただきました。残りのご利用可能ポイントは{{balance}}ポイントです。"}},
        {"ko", {"{{points}} 포인트를 사용하셨습니다", "{{name}}님, {{points}} 포인트를 사용하셨습니다. 남은 사용 가능 포인트: {{balance}}점"}},
        {"zh", {"您已使用 {{points}} 积分", "{{name}}，您已成功使用 {{points}} 积分，当前可用积分为 {{balance}}。"}},
        {"th", {"คุณใช้ไป {{points}} คะแนน", "คุณ{{name}} ได้ใช้ {{points}} คะแนนเรียบร้อยแล้ว คะแนนคงเหลือที่ใช้ได้: {{balance}} คะแนน"}}}},
      {"hold.captured",
       {{"en", {"Your points were applied: {{points}} points", "{{name}}, {{points}} points were applied to your order. Available balance: {{balance}} points."}},
        {"ja", {"{{points}}ポイントをお支払いに充当しました", "{{name}}様、ご注文に{{points}}ポイントを充当しました。残りのご利用可能ポイントは{{balance}}ポイントです。"}},
        {"ko", {"{{points}} 포인트가 결제에 사용되었습니다", "{{name}}님, 주문에 {{points}} 포인트가 사용되었습니다. 남은 사용 가능 포인트: {{balance}}점"}},
        {"zh", {"{{points}} 积分已用于支付", "{{name}}，您的订单已使用 {{points}} 积分抵扣，当前可用积分为 {{balance}}。"}},
        {"th", {"ใช้ {{points}} คะแนนกับคำสั่งซื้อแล้ว", "คุณ{{name}} เราได้นำ {{points}} คะแนนไปใช้กับคำสั่งซื้อของคุณแล้ว คะแนนคงเหลือที่ใช้ได้: {{balance}} คะแนน"}}}},
      {"points.reversed",
       {{"en", {"Your points balance was updated", "{{name}}, your points changed by {{points}} because of a refund or a cancelled redemption. Available balance: {{balance}} points."}},
        {"ja", {"ポイント残高を更新しました", "{{name}}様、返品またはご利用の取り消しにより、ポイントが{{points}}ポイント変動しました。ご利用可能なポイントは{{balance}}ポイントです。"}},
        {"ko", {"포인트 잔액이 변경되었습니다", "{{name}}님, 환불 또는 사용 취소로 포인트가 {{points}}점 변경되었습니다. 사용 가능 포인트: {{balance}}점"}},
        {"zh", {"您的积分余额已更新", "{{name}}，由于退款或取消兑换，您的积分变动了 {{points}}。当前可用积分为 {{balance}}。"}},
        {"th", {"อัปเดตยอดคะแนนของคุณแล้ว", "คุณ{{name}} คะแนนของคุณเปลี่ยนแปลง {{points}} คะแนน เนื่องจากการคืนสินค้าหรือการยกเลิกการแลก คะแนนที่ใช้ได้: {{balance}} คะแนน"}}}},
      {"points.adjusted",
       {{"en", {"We adjusted your points", "{{name}}, our team adjusted your account by {{points}} points. Available balance: {{balance}} points."}},
        {"ja", {"ポイントを調整しました", "{{name}}様、担当者がお客様のポイントを{{points}}ポイント調整いたしました。ご利用可能なポイントは{{balance}}ポイントです。"}},
        {"ko", {"포인트가 조정되었습니다", "{{name}}님, 담당자가 고객님의 포인트를 {{points}}점 조정했습니다. 사용 가능 포인트: {{balance}}점"}},
        {"zh", {"您的积分已调整", "{{name}}，我们的客服已为您的账户调整 {{points}} 积分，当前可用积分为 {{balance}}。"}},
        {"th", {"เราได้ปรับคะแนนของคุณแล้ว", "คุณ{{name}} ทีมงานของเราได้ปรับคะแนนในบัญชีของคุณ {{points}} คะแนน คะแนนที่ใช้ได้: {{balance}} คะแนน"}}}},
      {"tier.changed",
       {{"en", {"You are now a {{tier}} member", "{{name}}, your membership is now {{tier}}. Thank you for shopping with us."}},
        {"ja", {"会員ランクが{{tier}}になりました", "{{name}}様、会員ランクが{{tier}}に変わりました。いつもご利用いただきありがとうございます。"}},
        {"ko", {"회원 등급이 {{tier}}(으)로 변경되었습니다", "{{name}}님, 회원 등급이 {{tier}}(으)로 변경되었습니다. 늘 이용해 주셔서 감사합니다."}},
        {"zh", {"您的会员等级已变为{{tier}}", "{{name}}，您的会员等级已变为{{tier}}。感谢您一直以来的支持。"}},
        {"th", {"ระดับสมาชิกของคุณคือ {{tier}} แล้ว", "คุณ{{name}} ระดับสมาชิกของคุณเปลี่ยนเป็น {{tier}} แล้ว ขอบคุณที่ช้อปกับเราเสมอมา"}}}},
      {"points.expiring",
       {{"en", {"{{points}} points expire on {{expires_at}}", "{{name}}, {{points}} of your points expire on {{expires_at}}. Use them before then."}},
        {"ja", {"{{points}}ポイントが{{expires_at}}に失効します", "{{name}}様、{{points}}ポイントの有効期限は{{expires_at}}です。お早めにご利用ください。"}},
        {"ko", {"{{points}} 포인트가 {{expires_at}}에 소멸됩니다", "{{name}}님, {{points}} 포인트가 {{expires_at}}에 소멸될 예정입니다. 소멸 전에 사용해 주세요."}},
        {"zh", {"{{points}} 积分将于 {{expires_at}} 过期", "{{name}}，您有 {{points}} 积分将于 {{expires_at}} 过期，请尽快使用。"}},
        {"th", {"{{points}} คะแนนจะหมดอายุวันที่ {{expires_at}}", "คุณ{{name}} คะแนนของคุณ {{points}} คะแนนจะหมดอายุในวันที่ {{expires_at}} อย่าลืมใช้ก่อนหมดอายุนะคะ"}}}},
      {"offer.activated",
       {{"en", {"Your offer is ready: {{offer_title}}", "{{name}}, you clipped \"{{offer_title}}\". It is now on your account until {{expires_at}}."}},
        {"ja", {"クーポンを獲得しました：{{offer_title}}", "{{name}}様、「{{offer_title}}」を獲得しました。{{expires_at}}までご利用いただけます。"}},
        {"ko", {"쿠폰이 준비되었습니다: {{offer_title}}", "{{name}}님, '{{offer_title}}' 쿠폰을 받으셨습니다. {{expires_at}}까지 사용하실 수 있습니다."}},
        {"zh", {"优惠已领取：{{offer_title}}", "{{name}}，您已领取“{{offer_title}}”，有效期至 {{expires_at}}。"}},
        {"th", {"ข้อเสนอของคุณพร้อมแล้ว: {{offer_title}}", "คุณ{{name}} ได้รับข้อเสนอ \"{{offer_title}}\" แล้ว ใช้ได้ถึงวันที่ {{expires_at}}"}}}},
  };
  return *t;
}
}  // namespace

std::optional<MessageClass> ClassOf(const std::string& event_type) {
  if (event_type == "offer.activated") return MessageClass::kMarketing;
  if (MessageEventTypes().count(event_type)) return MessageClass::kTransactional;
  return std::nullopt;
}

const std::set<std::string>& MessageEventTypes() {
  static const auto* s = [] {
    auto* set = new std::set<std::string>();
    for (const auto& [type, _] : Defaults()) set->insert(type);
    return set;
  }();
  return *s;
}

const std::set<std::string>& SupportedLocales() {
  static const auto* s = new std::set<std::string>{"en", "ja", "ko", "zh", "th"};
  return *s;
}

const std::set<std::string>& Placeholders() {
  static const auto* s = new std::set<std::string>{"name",  "member_id", "points",      "balance",
                                                   "tier",  "previous_tier", "offer_title", "expires_at"};
  return *s;
}

std::optional<Template> DefaultTemplate(const std::string& event_type, const std::string& locale) {
  auto it = Defaults().find(event_type);
  if (it == Defaults().end()) return std::nullopt;
  const auto& by_locale = it->second;
  if (auto l = by_locale.find(locale); l != by_locale.end()) return l->second;
  const std::string lang = locale.substr(0, locale.find_first_of("-_"));
  if (auto l = by_locale.find(lang); l != by_locale.end()) return l->second;
  return by_locale.at("en");
}

std::string Render(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(text.size() + 32);
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find("{{", i);
    if (open == std::string_view::npos) break;
    const size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    std::string name(text.substr(open + 2, close - open - 2));
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (auto v = vars.find(name); v != vars.end()) out.append(v->second);
    i = close + 2;
  }
  out.append(text.substr(i));
  return out;
}

std::optional<std::string> UnknownPlaceholder(std::string_view text) {
  size_t i = 0;
  while ((i = text.find("{{", i)) != std::string_view::npos) {
    const size_t close = text.find("}}", i + 2);
    if (close == std::string_view::npos) return std::string(text.substr(i));
    std::string name(text.substr(i + 2, close - i - 2));
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    while (!name.empty() && name.back() == ' ') name.pop_back();
    if (!Placeholders().count(name)) return name;
    i = close + 2;
  }
  return std::nullopt;
}

namespace {
// Splits into code points (byte ranges); invalid bytes become U+FFFD.
std::vector<std::string> CodePoints(std::string_view s) {
  std::vector<std::string> cps;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (!ok) {
      cps.emplace_back("\xEF\xBF\xBD");
      i += 1;
    } else {
      cps.emplace_back(s.substr(i, len));
      i += len;
    }
  }
  return cps;
}
}  // namespace

size_t Utf8Length(std::string_view text) { return CodePoints(text).size(); }

std::string TruncateUtf8(std::string_view text, size_t max_chars) {
  auto cps = CodePoints(text);
  std::string out;
  if (cps.size() <= max_chars) {
    for (const auto& cp : cps) out += cp;
    return out;
  }
  for (size_t i = 0; i + 1 < max_chars; ++i) out += cps[i];
  if (max_chars > 0) out += "\xE2\x80\xA6";  // …
  return out;
}

}  // namespace tessera::notifications
