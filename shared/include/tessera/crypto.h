// Small cryptographic helpers over OpenSSL. All functions are thread-safe.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <optional>

namespace tessera {

// SHA-256 of `data` into `out` (32 bytes).
void Sha256(std::string_view data, unsigned char out[32]);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string HmacSha256(std::string_view key, std::string_view data);
// Constant-time equality (time depends only on the lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// Unpadded base64url (RFC 4648 §5).
std::string Base64UrlEncode(std::string_view data);
// Accepts padded or unpadded base64url; nullopt on any invalid character.
std::optional<std::string> Base64UrlDecode(std::string_view text);
std::string HexEncode(std::string_view data);
// Crockford base32 (lower case, no padding; the last group zero-filled): 5 bits a character, so
// ids are a fifth shorter than hex and still easy to read out (no i, l, o or u).
std::string Base32Encode(std::string_view data);
// `n` bytes from OpenSSL's CSPRNG. Throws std::runtime_error if it fails.
std::string RandomBytes(size_t n);
// RFC 4122 version-4 UUID, lower case, from the CSPRNG.
std::string NewUuid();
// A UUID's 16 bytes.
using Uuid = std::array<unsigned char, 16>;
// The bytes of a UUID in text form (hyphens optional). Throws std::invalid_argument otherwise.
Uuid ParseUuid(std::string_view text);
// RFC 4122 version-5 (name-based, SHA-1) UUID of `name` in the namespace `namespace_id`: the
// same name always gives the same id. Parse the namespace once (ParseUuid), not per id.
std::string NameUuid(const Uuid& namespace_id, std::string_view name);

}  // namespace tessera
