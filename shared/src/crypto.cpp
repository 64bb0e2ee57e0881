#include "tessera/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace tessera {

std::string HexEncode(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(data.size() * 2, '\0');  // sized once: push_back per digit cost 4x the work
  char* p = out.data();
  for (unsigned char c : data) {
    *p++ = kHex[c >> 4];
    *p++ = kHex[c & 0xF];
  }
  return out;
}

std::string Base32Encode(std::string_view data) {
  static constexpr char kCrockford[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::string out;
  out.reserve((data.size() * 8 + 4) / 5);
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : data) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kCrockford[(buffer >> bits) & 0x1F]);
    }
  }
  if (bits > 0) out.push_back(kCrockford[(buffer << (5 - bits)) & 0x1F]);
  return out;
}

// OpenSSL 3's one-shot SHA256() and HMAC() look the algorithm up on every call
// (EVP_MD_fetch: a lock and a hash-table search), which profiles showed as the larger part of
// their cost on hot paths; fetch once and reuse.
namespace {
// Callers keep the result in a function-local static (a failed fetch throws, so it is retried).
const EVP_MD* FetchMd(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (md == nullptr) throw std::runtime_error(std::string("OpenSSL: ") + name + " unavailable");
  return md;
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* md = FetchMd("SHA256");
  return md;
}

const EVP_MD* Sha1Md() {
  static const EVP_MD* md = FetchMd("SHA1");
  return md;
}

// An HMAC-SHA256 context initialised with `key`, kept per thread: each MAC copies it
// (EVP_MAC_CTX_dup) instead of fetching the algorithms and hashing the key again.
class HmacTemplate {
 public:
  ~HmacTemplate() { EVP_MAC_CTX_free(ctx_); }
  EVP_MAC_CTX* For(std::string_view key) {
    if (ctx_ != nullptr && key == key_) return ctx_;
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) throw std::runtime_error("OpenSSL: HMAC unavailable");
    EVP_MAC_CTX_free(ctx_);
    ctx_ = EVP_MAC_CTX_new(mac);
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0), OSSL_PARAM_construct_end()};
    if (ctx_ == nullptr ||
        EVP_MAC_init(ctx_, reinterpret_cast<const unsigned char*>(key.data()), key.size(), params) != 1) {
      EVP_MAC_CTX_free(ctx_);
      ctx_ = nullptr;
      throw std::runtime_error("HMAC-SHA256 init failed");
    }
    key_.assign(key);
    return ctx_;
  }

 private:
  std::string key_;
  EVP_MAC_CTX* ctx_ = nullptr;
};
}  // namespace

namespace {
// One digest context per thread and algorithm (`Slot`), re-initialised each call: EVP_Digest
// allocates and frees one per call, a quarter of the cost of hashing a short input (the
// listing hashes one per holdout campaign, every ledger change derives an event id).
template <int Slot>
void Digest(const EVP_MD* md, std::string_view data, unsigned char* out, unsigned int size, const char* what) {
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned int len = 0;
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), out, &len) != 1 ||
      len != size) {
    throw std::runtime_error(std::string(what) + " failed");
  }
}
}  // namespace

void Sha256(std::string_view data, unsigned char out[32]) { Digest<256>(Sha256Md(), data, out, 32, "SHA-256"); }

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[32];
  Sha256(data, digest);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  thread_local HmacTemplate keyed;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed.For(key));
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  const bool ok = ctx != nullptr &&
                  EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1 &&
                  EVP_MAC_final(ctx, out, &len, sizeof out) == 1;
  EVP_MAC_CTX_free(ctx);
  if (!ok) throw std::runtime_error("HMAC-SHA256 failed");
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64UrlEncode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  while (i + 3 <= data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
    i += 3;
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

// Small requests (ids: 10-16 bytes, several per request) are served from a per-thread block
// drawn from the CSPRNG 4 KiB at a time: RAND_bytes per id was 3 % of a redemption's CPU.
// Fork safety is not a concern (the services do not fork); the bytes are still OpenSSL's.
std::string RandomBytes(size_t n) {
  struct Block {
    unsigned char bytes[4096];
    size_t used = sizeof bytes;
  };
  thread_local Block block;
  std::string out(n, '\0');
  if (n > sizeof block.bytes / 4) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    return out;
  }
  if (block.used + n > sizeof block.bytes) {
    if (RAND_bytes(block.bytes, static_cast<int>(sizeof block.bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
    block.used = 0;
  }
  std::memcpy(out.data(), block.bytes + block.used, n);
  OPENSSL_cleanse(block.bytes + block.used, n);  // each byte is handed out once
  block.used += n;
  return out;
}

namespace {
// 16 bytes as the RFC 4122 text form, with the given version in the high nibble of byte 6 and
// the RFC 4122 variant in byte 8.
std::string FormatUuid(std::string b, int version) {
  b[6] = static_cast<char>((b[6] & 0x0F) | (version << 4));
  b[8] = static_cast<char>((b[8] & 0x3F) | 0x80);
  std::string hex = HexEncode(b);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}
}  // namespace

std::string NewUuid() { return FormatUuid(RandomBytes(16), 4); }

Uuid ParseUuid(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c == '-') continue;
    if (!std::isxdigit(static_cast<unsigned char>(c))) throw std::invalid_argument("not a UUID: " + std::string(text));
    hex += c;
  }
  if (hex.size() != 32) throw std::invalid_argument("not a UUID: " + std::string(text));
  Uuid id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<unsigned char>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  return id;
}

std::string NameUuid(const Uuid& namespace_id, std::string_view name) {
  std::string data(reinterpret_cast<const char*>(namespace_id.data()), namespace_id.size());
  data.append(name);
  unsigned char digest[20];
  Digest<1>(Sha1Md(), data, digest, sizeof digest, "SHA-1");
  return FormatUuid(std::string(reinterpret_cast<const char*>(digest), 16), 5);
}

}  // namespace tessera
