#include "tessera/auth.h"

#include <strings.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/crypto.h"
#include "tessera/ids.h"

namespace tessera {

namespace {
constexpr const char* kRoleNames[] = {"storefront", "app", "pos", "agent", "ops", "service", "admin"};
}

std::optional<Role> ParseRole(std::string_view name) {
  for (size_t i = 0; i < std::size(kRoleNames); ++i) {
    if (name == kRoleNames[i]) return static_cast<Role>(i);
  }
  return std::nullopt;
}

const char* RoleName(Role role) { return kRoleNames[static_cast<size_t>(role)]; }

std::vector<ApiKey> ParseApiKeys(const std::string& json_text, const std::string& origin) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(origin + ": not valid JSON: " + e.what());
  }
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) {
    throw ConfigError(origin + ": expected an object with a \"keys\" array");
  }
  std::vector<ApiKey> keys;
  size_t i = 0;
  for (const auto& k : doc["keys"]) {
    const std::string where = origin + ": keys[" + std::to_string(i++) + "]";
    if (!k.is_object() || !k.contains("name") || !k["name"].is_string() || !k.contains("sha256") ||
        !k["sha256"].is_string() || !k.contains("roles") || !k["roles"].is_array()) {
      throw ConfigError(where + ": needs string \"name\", string \"sha256\" and array \"roles\"");
    }
    ApiKey key;
    key.name = k["name"].get<std::string>();
    key.sha256_hex = k["sha256"].get<std::string>();
    if (key.sha256_hex.size() != 64 ||
        key.sha256_hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
      throw ConfigError(where + ".sha256: must be 64 lower-case hex characters");
    }
    for (const auto& r : k["roles"]) {
      auto role = r.is_string() ? ParseRole(r.get<std::string>()) : std::nullopt;
      if (!role) throw ConfigError(where + ".roles: unknown role " + r.dump());
      if (*role == Role::kApp) {
        throw ConfigError(where + ".roles: the app role is granted by member JWTs, not API keys");
      }
      key.roles.Add(*role);
    }
    if (key.roles.Empty()) throw ConfigError(where + ".roles: at least one role is required");
    keys.push_back(std::move(key));
  }
  return keys;
}

Authenticator::Authenticator(std::vector<ApiKey> keys, std::string jwt_secret, const Clock& clock)
    : jwt_secret_(std::move(jwt_secret)), clock_(clock) {
  if (jwt_secret_.empty()) throw ConfigError("TESSERA_JWT_SECRET: must not be empty");
  keys_.reserve(keys.size());
  for (auto& key : keys) {
    // try_emplace moves `key` only when it inserts, so a refused key still has its name.
    if (!keys_.try_emplace(key.sha256_hex, std::move(key)).second) {
      throw ConfigError("API key '" + key.name + "': its sha256 is another key's too");
    }
  }
}

Authenticator Authenticator::FromFile(const std::string& path, std::string jwt_secret,
                                      const Clock& clock) {
  std::ifstream in(path);
  if (!in) throw ConfigError("TESSERA_API_KEYS_FILE: cannot read '" + path + "'");
  std::stringstream ss;
  ss << in.rdbuf();
  return Authenticator(ParseApiKeys(ss.str(), path), std::move(jwt_secret), clock);
}

std::variant<Principal, Problem> Authenticator::Authenticate(std::string_view authorization) const {
  auto unauthorized = [](std::string detail) {
    Problem p = Problem::Make(401, codes::kUnauthorized, std::move(detail));
    return p;
  };
  constexpr std::string_view kBearer = "Bearer ";
  if (authorization.size() <= kBearer.size() ||
      strncasecmp(authorization.data(), kBearer.data(), kBearer.size()) != 0) {
    return unauthorized("an 'Authorization: Bearer <token>' header is required");
  }
  std::string_view token = authorization.substr(kBearer.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty()) return unauthorized("the bearer token is empty");

  if (std::count(token.begin(), token.end(), '.') == 2) {
    std::string why;
    if (auto p = FromJwt(token, why)) return *p;
    return unauthorized("invalid token: " + why);
  }
  const auto match = keys_.find(Sha256Hex(token));
  if (match == keys_.end()) return unauthorized("unknown API key");
  return Principal{match->second.name, match->second.roles, std::nullopt};
}

std::optional<Principal> Authenticator::FromJwt(std::string_view token, std::string& why) const {
  const size_t d1 = token.find('.');
  const size_t d2 = token.find('.', d1 + 1);
  const std::string_view header_b64 = token.substr(0, d1);
  const std::string_view payload_b64 = token.substr(d1 + 1, d2 - d1 - 1);
  const std::string_view sig_b64 = token.substr(d2 + 1);
  auto header_text = Base64UrlDecode(header_b64);
  auto payload_text = Base64UrlDecode(payload_b64);
  auto sig = Base64UrlDecode(sig_b64);
  if (!header_text || !payload_text || !sig) {
    why = "not base64url";
    return std::nullopt;
  }
  const std::string expected = HmacSha256(jwt_secret_, token.substr(0, d2));
  if (!ConstantTimeEquals(*sig, expected)) {
    why = "bad signature";
    return std::nullopt;
  }
  nlohmann::json header = nlohmann::json::parse(*header_text, nullptr, false);
  nlohmann::json payload = nlohmann::json::parse(*payload_text, nullptr, false);
  if (!header.is_object() || header.value("alg", "") != "HS256") {
    why = "alg must be HS256";
    return std::nullopt;
  }
  if (!payload.is_object() || !payload.contains("sub") || !payload["sub"].is_string() ||
      !IsValidId(payload["sub"].get<std::string>())) {
    why = "sub must be a member id";
    return std::nullopt;
  }
  if (!payload.contains("exp") || !payload["exp"].is_number()) {
    why = "exp is required";
    return std::nullopt;
  }
  const double exp = payload["exp"].get<double>();
  const double now_s = static_cast<double>(ToUnixMillis(clock_.Now())) / 1000.0;
  if (exp <= now_s) {
    why = "token expired";
    return std::nullopt;
  }
  if (payload.contains("nbf") && payload["nbf"].is_number() && payload["nbf"].get<double>() > now_s + 60) {
    why = "token not yet valid";
    return std::nullopt;
  }
  Principal p;
  p.member_id = payload["sub"].get<std::string>();
  p.name = "app:" + *p.member_id;
  p.roles.Add(Role::kApp);
  return p;
}

std::optional<Problem> Authorize(const Principal& principal, RoleSet allowed,
                                 std::optional<std::string_view> path_member) {
  if (principal.roles.Has(Role::kAdmin) || principal.roles.Has(Role::kService)) return std::nullopt;
  if (!principal.roles.Intersects(allowed)) {
    return Problem::Make(403, codes::kForbidden, "'" + principal.name + "' lacks a role this route requires");
  }
  if (principal.member_id && path_member && *path_member != *principal.member_id) {
    return Problem::Make(403, codes::kForbidden, "an app token may act only on its own member");
  }
  return std::nullopt;
}

std::string MakeAppJwt(std::string_view secret, std::string_view member_id, TimePoint issued,
                       TimePoint expires) {
  const nlohmann::json header = {{"alg", "HS256"}, {"typ", "JWT"}};
  const nlohmann::json payload = {{"sub", member_id},
                                  {"role", "app"},
                                  {"iat", ToUnixMillis(issued) / 1000},
                                  {"exp", ToUnixMillis(expires) / 1000}};
  std::string signing = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(payload.dump());
  return signing + "." + Base64UrlEncode(HmacSha256(secret, signing));
}

}  // namespace tessera
