#include <gtest/gtest.h>

#include "tessera/events.h"
#include "tessera/ids.h"
#include "tessera/keys.h"

namespace tessera {
namespace {

TEST(KeyLayout, MemberKeysShareTheBucketHashTag) {
  // Test vectors: FNV-1a 32 of the member id, mod 64 (docs/redis-keys.md).
  EXPECT_EQ(Fnv1a32(""), 2166136261u);
  EXPECT_EQ(Fnv1a32("a"), 0xe40c292cu);
  EXPECT_EQ(MemberBucket("m-1001"), static_cast<int>(Fnv1a32("m-1001") % 64));
  const std::string account = MemberKey("m-1001", "account");
  const std::string tag = BucketTag(MemberBucket("m-1001"));
  EXPECT_EQ(account, "tessera:" + tag + ":m:m-1001:account");
  EXPECT_NE(OutboxStream(tag, "rewards").find(tag), std::string::npos);
  EXPECT_EQ(OutboxStreams("rewards").size(), static_cast<size_t>(kBucketCount + 1));
  EXPECT_EQ(BucketTag(7), "{b07}");
  EXPECT_EQ(BucketTag(0), "{b00}");
  EXPECT_EQ(BucketTag(10), "{b10}");
  EXPECT_EQ(BucketTag(kBucketCount - 1), "{b63}");
  EXPECT_EQ(MemberKey("m-1001", "account"), "tessera:{b" + std::to_string(MemberBucket("m-1001") / 10) +
                                                std::to_string(MemberBucket("m-1001") % 10) + "}:m:m-1001:account");
}

TEST(KeyLayout, CachedMemberKeysAreCoveredByOnePrefixPerBucketAndNameTheirMember) {
  const std::string key = CachedMemberKey("store:12.A_b", "offers");
  EXPECT_EQ(key, "tessera:mc:" + BucketTag(MemberBucket("store:12.A_b")) + ":store:12.A_b:offers");
  EXPECT_EQ(MemberOfCachedKey(key), "store:12.A_b");
  EXPECT_EQ(MemberOfCachedKey(CachedMemberKey("m-1", "features")), "m-1");
  const auto prefixes = CachedMemberKeyPrefixes();
  int covering = 0;
  for (const auto& p : prefixes) covering += key.rfind(p, 0) == 0;
  EXPECT_EQ(covering, 1);  // disjoint: Redis refuses overlapping BCAST prefixes
  // Keys that are not cached member keys name no member (and are never broadcast).
  EXPECT_EQ(MemberOfCachedKey(MemberKey("m-1", "offers")), "");
  EXPECT_EQ(MemberOfCachedKey("tessera:mc:{b01}:"), "");
  EXPECT_EQ(MemberOfCachedKey("other"), "");
  for (const auto& p : prefixes) EXPECT_EQ(MemberKey("m-1", "state").rfind(p, 0), std::string::npos);
}

TEST(KeyLayout, BucketsSpreadMembers) {
  std::vector<int> counts(kBucketCount);
  for (int i = 0; i < 64000; ++i) counts[MemberBucket("m-" + std::to_string(i))]++;
  for (int c : counts) {
    EXPECT_GT(c, 800);
    EXPECT_LT(c, 1200);
  }
}

TEST(Ids, SpecRules) {
  EXPECT_TRUE(IsValidId("m-1001"));
  EXPECT_TRUE(IsValidId("store:12.A_b"));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidId("a b"));
  EXPECT_FALSE(IsValidId("a/b"));
  EXPECT_TRUE(IsValidIdempotencyKey("order-1 retry"));
  EXPECT_FALSE(IsValidIdempotencyKey(""));
  EXPECT_FALSE(IsValidIdempotencyKey(std::string(129, 'k')));
  EXPECT_FALSE(IsValidIdempotencyKey("tab\tkey"));
}

TEST(Ids, LocaleTags) {
  for (const char* ok : {"en", "ja-JP", "zh_Hant_TW", "es-419", "sr-Latn-RS"}) EXPECT_TRUE(IsValidLocale(ok)) << ok;
  for (const char* bad : {"", "e", "12", "-en", "en US", "en/US", "<b>", "\xe9\xe9", "abcdefghijklmnopq"}) {
    EXPECT_FALSE(IsValidLocale(bad)) << bad;
  }
}

TEST(Events, DeadLetterTopicNames) {
  EXPECT_EQ(DlqTopicFor("tessera.ledger.v1"), "tessera.ledger.dlq.v1");
  EXPECT_EQ(DlqTopicFor("tessera.purchases.v1"), "tessera.purchases.dlq.v1");
  EXPECT_EQ(AllTopics().size(), 8u);
}

EventEnvelope SampleEnvelope() {
  EventEnvelope e;
  e.event_id = "0b0f9c3e-4a57-4c0e-9d0a-1f2e3d4c5b6a";
  e.type = "points.earned";
  e.occurred_at = "2026-11-22T06:43:24.000Z";
  e.member_id = "m-1";
  e.member_seq = 7;
  e.channel = "store";
  e.source = "tessera-rewards";
  e.payload = {{"points", 120}};
  return e;
}

TEST(Events, EnvelopeRoundTripsAndValidates) {
  const EventEnvelope e = SampleEnvelope();
  std::string err;
  auto back = EventEnvelope::FromJson(e.ToJson(), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(back->member_seq, 7);
  EXPECT_EQ(back->payload["points"], 120);
  EXPECT_FALSE(EventEnvelope::FromJson(nlohmann::json::parse(R"({"type":"x"})"), &err));
  EXPECT_NE(err.find("event_id"), std::string::npos);
  // Each member the schema constrains, broken alone, is named.
  const std::vector<std::pair<nlohmann::json, std::string>> broken = {
      {{{"event_id", "ev-1"}}, "event_id"},
      {{{"event_id", "0b0f9c3e-4a57-4c0e-9d0a-1f2e3d4c5b6z"}}, "event_id"},
      {{{"type", "Points Earned"}}, "type"},
      {{{"occurred_at", "yesterday"}}, "occurred_at"},
      {{{"member_id", "m 1"}}, "member_id"},
      {{{"member_id", 42}}, "member_id"},
      {{{"member_seq", 0}}, "member_seq"},
      {{{"member_seq", "7"}}, "member_seq"},
      {{{"schema_version", 0}}, "schema_version"},
  };
  for (const auto& [patch, field] : broken) {
    nlohmann::json j = e.ToJson();
    j.update(patch);
    err.clear();
    EXPECT_FALSE(EventEnvelope::FromJson(j, &err)) << patch.dump();
    EXPECT_NE(err.find(field), std::string::npos) << err;
  }
  nlohmann::json upper = e.ToJson();
  upper["event_id"] = "0B0F9C3E-4A57-4C0E-9D0A-1F2E3D4C5B6A";
  EXPECT_TRUE(EventEnvelope::FromJson(upper, &err)) << err;
}

TEST(Events, DumpWritesWhatToJsonWrites) {
  EventEnvelope e = SampleEnvelope();
  e.member_id = "m-\"1\"";
  e.correlation_id = "req\n1";
  e.causation_id = "req-1";
  e.payload = {{"points", 120}, {"note", "ü \\ tab\t"}};
  EXPECT_EQ(e.Dump(), e.ToJson().dump());
  e.member_id.reset();  // campaign events: member_id null, no member_seq
  e.member_seq.reset();
  e.schema_version = 2;
  EXPECT_EQ(e.Dump(), e.ToJson().dump());
}

TEST(Events, DumpWithPayloadWritesTheGivenPayloadInPlace) {
  EventEnvelope e = SampleEnvelope();
  e.payload = {{"ignored", true}};
  const nlohmann::json payload = {{"points", -5}, {"redemption_id", "rdm_1"}};
  const std::string text = e.DumpWithPayload(payload.dump());
  e.payload = payload;
  EXPECT_EQ(text, e.Dump());
}

}  // namespace
}  // namespace tessera
