#include "quote.h"

#include <nlohmann/json.hpp>

#include "tessera/crypto.h"
#include "tessera/json_text.h"

namespace tessera::offers {

std::optional<int64_t> Quote::VersionOf(const std::string& campaign_id) const {
  for (const auto& [id, v] : campaigns) {
    if (id == campaign_id) return v;
  }
  return std::nullopt;
}

std::string SignQuote(const Quote& q, const std::string& secret) {
  // The payload is the JSON object {c, exp, iat, m, w}, written directly (it is signed on every
  // offers listing); the same bytes nlohmann::json would write (keys sorted).
  std::string payload = "{\"c\":[";
  for (size_t i = 0; i < q.campaigns.size(); ++i) {
    if (i) payload += ',';
    payload += '[';
    AppendJsonString(payload, q.campaigns[i].first);
    payload += ',' + std::to_string(q.campaigns[i].second) + ']';
  }
  payload += "],\"exp\":" + std::to_string(q.expires_ms) + ",\"iat\":" + std::to_string(q.issued_ms) + ",\"m\":";
  AppendJsonString(payload, q.member_id);
  payload += ",\"w\":";
  AppendJsonString(payload, q.watermark);
  payload += '}';
  const std::string signed_part = "q1." + Base64UrlEncode(payload);
  return signed_part + "." + Base64UrlEncode(HmacSha256(secret, signed_part));
}

std::optional<Quote> VerifyQuote(const std::string& token, const std::string& secret, int64_t now_ms, std::string* why) {
  auto fail = [&](const char* w) -> std::optional<Quote> {
    if (why) *why = w;
    return std::nullopt;
  };
  if (token.size() > 8192 || token.rfind("q1.", 0) != 0) return fail("not a Tessera quote");
  const size_t dot = token.rfind('.');
  if (dot <= 3) return fail("not a Tessera quote");
  auto sig = Base64UrlDecode(token.substr(dot + 1));
  if (!sig || !ConstantTimeEquals(*sig, HmacSha256(secret, token.substr(0, dot)))) return fail("signature does not match");
  auto text = Base64UrlDecode(token.substr(3, dot - 3));
  if (!text) return fail("not a Tessera quote");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("m") || !j["m"].is_string() || !j.contains("c") || !j["c"].is_array() ||
      !j.contains("exp") || !j["exp"].is_number_integer() || !j.contains("iat") || !j["iat"].is_number_integer()) {
    return fail("malformed quote");
  }
  Quote q;
  q.member_id = j["m"];
  q.watermark = j.value("w", "");
  q.issued_ms = j["iat"];
  q.expires_ms = j["exp"];
  for (const auto& e : j["c"]) {
    if (!e.is_array() || e.size() != 2 || !e[0].is_string() || !e[1].is_number_integer()) return fail("malformed quote");
    q.campaigns.emplace_back(e[0], e[1]);
  }
  if (now_ms >= q.expires_ms) return fail("quote expired");
  return q;
}

}  // namespace tessera::offers
