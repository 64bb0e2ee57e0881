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
// `head` + member_id + ":" + kind; `head` already holds the member's bucket tag.
std::string MemberKeyAfter(std::string head, std::string_view member_id, std::string_view kind) {
  head.append(member_id);
  head.push_back(':');
  head.append(kind);
  return head;
}
}  // namespace

std::string MemberKey(std::string_view member_id, std::string_view kind) {
  return MemberKeyAfter("tessera:" + BucketTag(MemberBucket(member_id)) + ":m:", member_id, kind);
}

std::string CachedMemberKey(std::string_view member_id, std::string_view kind) {
  // The space comes first so that one BCAST prefix covers it: Redis compares every changed key
  // with every prefix of every tracking client (measured: with 64 per-bucket prefixes a
  // redemption's Redis CPU read 58-71 µs, with one 43-46). The hash tag still decides the slot.
  return MemberKeyAfter("tessera:mc:" + BucketTag(MemberBucket(member_id)) + ":", member_id, kind);
}

std::vector<std::string> CachedMemberKeyPrefixes() { return {"tessera:mc:"}; }

std::string MemberOfCachedKey(std::string_view key) {
  // tessera:mc:{bNN}:<member_id>:<kind>; member ids may hold ':', kinds do not.
  constexpr std::string_view kHead = "tessera:mc:{b";
  if (key.substr(0, kHead.size()) != kHead) return "";
  const size_t tag_end = key.find("}:", kHead.size());
  const size_t last = key.rfind(':');
  if (tag_end == std::string_view::npos || last == std::string_view::npos || last <= tag_end + 2) return "";
  return std::string(key.substr(tag_end + 2, last - tag_end - 2));
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
