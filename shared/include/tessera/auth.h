// Authentication and authorization (SPEC §3).
//
// A bearer token is either an API key — stored only as its SHA-256 hash, with a name and roles,
// in a JSON file — or an HS256 JWT for the `app` role whose `sub` is the member it may act on.
// An API key is found by its token's SHA-256 in a hash map, so the lookup's timing reveals nothing
// of the token itself; JWT signatures are compared in constant time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "tessera/clock.h"
#include "tessera/errors.h"

namespace tessera {

enum class Role : uint8_t { kStorefront, kApp, kPos, kAgent, kOps, kService, kAdmin };
std::optional<Role> ParseRole(std::string_view name);
const char* RoleName(Role role);

// A small set of roles (bit mask).
class RoleSet {
 public:
  RoleSet() = default;
  RoleSet(std::initializer_list<Role> roles) {
    for (Role r : roles) Add(r);
  }
  void Add(Role r) { bits_ |= Bit(r); }
  bool Has(Role r) const { return (bits_ & Bit(r)) != 0; }
  bool Intersects(RoleSet o) const { return (bits_ & o.bits_) != 0; }
  bool Empty() const { return bits_ == 0; }

 private:
  static uint32_t Bit(Role r) { return 1u << static_cast<uint32_t>(r); }
  uint32_t bits_ = 0;
};

// Who is calling. `member_id` is set only for app tokens (the JWT's `sub`).
struct Principal {
  std::string name;
  RoleSet roles;
  std::optional<std::string> member_id;
};

struct ApiKey {
  std::string name;
  std::string sha256_hex;  // of the token
  RoleSet roles;
};

// Parses {"keys":[{"name","sha256","roles":[...]}]}. Throws ConfigError naming the bad entry.
std::vector<ApiKey> ParseApiKeys(const std::string& json_text, const std::string& origin);

class Authenticator {
 public:
  // `clock` must outlive the authenticator. `jwt_secret` must not be empty. Two keys with the same
  // digest are a ConfigError (the token would resolve to either).
  Authenticator(std::vector<ApiKey> keys, std::string jwt_secret, const Clock& clock);
  // Reads the key file; throws ConfigError if it is missing or invalid.
  static Authenticator FromFile(const std::string& path, std::string jwt_secret, const Clock& clock);

  // `authorization` is the raw Authorization header (may be empty). A 401 problem on failure.
  std::variant<Principal, Problem> Authenticate(std::string_view authorization) const;

 private:
  std::optional<Principal> FromJwt(std::string_view token, std::string& why) const;
  // Keys by the hex SHA-256 of their token: one lookup per request whatever the number of keys
  // (a POS key per store makes thousands). Hashing first means the lookup's timing depends only
  // on the token's digest, never on how many characters of a real token a caller guessed.
  std::unordered_map<std::string, ApiKey> keys_;
  std::string jwt_secret_;
  const Clock& clock_;
};

// nullopt when `principal` may call a route open to `allowed`; otherwise a 403 problem.
// `admin` and `service` may call every route. An app principal may act only on its own member:
// when the route names a member (`path_member`), it must equal the token's `sub`.
std::optional<Problem> Authorize(const Principal& principal, RoleSet allowed,
                                 std::optional<std::string_view> path_member);

// An HS256 JWT {"sub": member_id, "exp": exp, "iat": now, "role": "app"} (tests and dev tools).
std::string MakeAppJwt(std::string_view secret, std::string_view member_id, TimePoint issued,
                       TimePoint expires);

}  // namespace tessera
