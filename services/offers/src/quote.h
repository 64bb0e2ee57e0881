// Quotes (SPEC §5): `decision_id` is a signed, self-contained quote of an offers answer, so a
// POS or app can redeem exactly what another channel was shown. Format:
//   "q1." + base64url(JSON payload) + "." + base64url(HMAC-SHA256(secret, "q1." + payload))
// payload = {"m": member, "c": [[campaign_id, version], ...], "w": feature watermark,
//            "iat": issued ms, "exp": expiry ms}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera::offers {

struct Quote {
  std::string member_id;
  std::vector<std::pair<std::string, int64_t>> campaigns;  // (campaign_id, version), ranked order
  std::string watermark;
  int64_t issued_ms = 0;
  int64_t expires_ms = 0;
  std::optional<int64_t> VersionOf(const std::string& campaign_id) const;
};

std::string SignQuote(const Quote& quote, const std::string& secret);
// nullopt when the token is malformed, tampered with, signed with another secret or expired;
// `why` says which.
std::optional<Quote> VerifyQuote(const std::string& token, const std::string& secret, int64_t now_ms, std::string* why);

}  // namespace tessera::offers
