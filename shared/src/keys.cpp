#include "tessera/keys.h"

#include <cstdio>

#include "tessera/crypto.h"

namespace tessera {

uint32_t Fnv1a32(std::string_view data) {
  uint32_t h = 2166136261u;
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

int MemberBucket(std::string_view member_id) {
  return static_cast<int>(Fnv1a32(member_id) % kBucketCount);
}

std::string BucketTag(int bucket) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "{b%02d}", bucket);
  return buf;
}

std::string GlobalTag(std::string_view service) { return "{g:" + std::string(service) + "}"; }

namespace {
std::string KeyOfMember(std::string_view member_id, std::string_view space, std::string_view kind) {
  std::string k = "tessera:" + BucketTag(MemberBucket(member_id)) + ":";
  k.append(space);
  k.push_back(':');
  k.append(member_id);
  k.push_back(':');
  k.append(kind);
  return k;
}
}  // namespace

std::string MemberKey(std::string_view member_id, std::string_view kind) { return KeyOfMember(member_id, "m", kind); }

std::string CachedMemberKey(std::string_view member_id, std::string_view kind) {
  return KeyOfMember(member_id, "mc", kind);
}

std::vector<std::string> CachedMemberKeyPrefixes() {
  std::vector<std::string> out;
  out.reserve(kBucketCount);
  for (int b = 0; b < kBucketCount; ++b) out.push_back("tessera:" + BucketTag(b) + ":mc:");
  return out;
}

std::string MemberOfCachedKey(std::string_view key) {
  // tessera:{bNN}:mc:<member_id>:<kind>; member ids may hold ':', kinds do not.
  constexpr std::string_view kHead = "tessera:{b";
  if (key.substr(0, kHead.size()) != kHead) return "";
  const size_t space = key.find("}:mc:");
  const size_t last = key.rfind(':');
  if (space == std::string_view::npos || last == std::string_view::npos || last <= space + 5) return "";
  return std::string(key.substr(space + 5, last - space - 5));
}

std::string OutboxStream(std::string_view tag, std::string_view service) {
  return "tessera:" + std::string(tag) + ":outbox:" + std::string(service);
}

std::vector<std::string> OutboxStreams(std::string_view service) {
  std::vector<std::string> out;
  out.reserve(kBucketCount + 1);
  for (int b = 0; b < kBucketCount; ++b) out.push_back(OutboxStream(BucketTag(b), service));
  out.push_back(OutboxStream(GlobalTag(service), service));
  return out;
}

std::string IdempotencyKey(std::string_view tag, std::string_view scope, std::string_view key) {
  return "tessera:" + std::string(tag) + ":idem:" + std::string(scope) + ":" + Sha256Hex(key);
}

}  // namespace tessera
