#include "tessera/auth.h"

#include <gtest/gtest.h>

#include <set>

#include "tessera/crypto.h"

namespace tessera {
namespace {

constexpr const char* kSecret = "dev-jwt-secret";

class AuthTest : public ::testing::Test {
 protected:
  AuthTest()
      : clock_(FromUnixMillis(1795329804000)),
        auth_({{"pos-1", Sha256Hex("pos-token"), RoleSet{Role::kPos}},
               {"ops-1", Sha256Hex("ops-token"), RoleSet{Role::kOps}}},
              kSecret, clock_) {}

  std::variant<Principal, Problem> Auth(const std::string& header) { return auth_.Authenticate(header); }
  ManualClock clock_;
  Authenticator auth_;
};

TEST_F(AuthTest, ApiKeyResolvesToItsNameAndRoles) {
  auto r = Auth("Bearer pos-token");
  ASSERT_TRUE(std::holds_alternative<Principal>(r));
  const auto& p = std::get<Principal>(r);
  EXPECT_EQ(p.name, "pos-1");
  EXPECT_TRUE(p.roles.Has(Role::kPos));
  EXPECT_FALSE(p.roles.Has(Role::kOps));
}

TEST(Authenticator, ThousandsOfKeysEachResolveToTheirOwnNameAndTwinDigestsAreRefused) {
  ManualClock clock(FromUnixMillis(1795329804000));
  std::vector<ApiKey> keys;
  for (int i = 0; i < 5000; ++i) {
    keys.push_back({"store-" + std::to_string(i), Sha256Hex("pos-token-" + std::to_string(i)),
                    RoleSet{i % 2 == 0 ? Role::kPos : Role::kAgent}});
  }
  Authenticator auth(keys, kSecret, clock);
  for (int i : {0, 1, 2499, 4999}) {
    auto r = auth.Authenticate("Bearer pos-token-" + std::to_string(i));
    ASSERT_TRUE(std::holds_alternative<Principal>(r)) << i;
    EXPECT_EQ(std::get<Principal>(r).name, "store-" + std::to_string(i));
    EXPECT_EQ(std::get<Principal>(r).roles.Has(Role::kPos), i % 2 == 0);
  }
  auto unknown = auth.Authenticate("Bearer pos-token-5000");
  ASSERT_TRUE(std::holds_alternative<Problem>(unknown));
  EXPECT_EQ(std::get<Problem>(unknown).status, 401);

  keys.push_back({"copy-of-store-7", Sha256Hex("pos-token-7"), RoleSet{Role::kAdmin}});
  try {
    Authenticator twin(keys, kSecret, clock);
    ADD_FAILURE() << "two keys with one digest were accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'copy-of-store-7'"), std::string::npos) << e.what();
  }
}

TEST_F(AuthTest, MissingOrUnknownTokenIs401) {
  for (const char* h : {"", "Bearer", "Bearer ", "Basic abc", "Bearer nope", "bearer pos-tokenx"}) {
    auto r = Auth(h);
    ASSERT_TRUE(std::holds_alternative<Problem>(r)) << h;
    EXPECT_EQ(std::get<Problem>(r).status, 401);
    EXPECT_EQ(std::get<Problem>(r).code, "unauthorized");
  }
}

TEST_F(AuthTest, AppJwtCarriesTheMember) {
  std::string jwt = MakeAppJwt(kSecret, "m-42", clock_.Now(), clock_.Now() + std::chrono::hours(1));
  auto r = Auth("Bearer " + jwt);
  ASSERT_TRUE(std::holds_alternative<Principal>(r));
  EXPECT_EQ(*std::get<Principal>(r).member_id, "m-42");
  EXPECT_TRUE(std::get<Principal>(r).roles.Has(Role::kApp));
}

TEST_F(AuthTest, ExpiredJwtIsRefused) {
  std::string jwt = MakeAppJwt(kSecret, "m-42", clock_.Now(), clock_.Now() + std::chrono::minutes(5));
  clock_.Advance(std::chrono::minutes(6));
  auto r = Auth("Bearer " + jwt);
  ASSERT_TRUE(std::holds_alternative<Problem>(r));
  EXPECT_NE(std::get<Problem>(r).detail.find("expired"), std::string::npos);
}

TEST_F(AuthTest, JwtSignedWithAnotherSecretOrTamperedIsRefused) {
  std::string other = MakeAppJwt("another-secret", "m-42", clock_.Now(), clock_.Now() + std::chrono::hours(1));
  EXPECT_TRUE(std::holds_alternative<Problem>(Auth("Bearer " + other)));

  std::string jwt = MakeAppJwt(kSecret, "m-42", clock_.Now(), clock_.Now() + std::chrono::hours(1));
  // Swap the payload for one naming another member, keep the signature.
  const size_t d1 = jwt.find('.'), d2 = jwt.find('.', d1 + 1);
  std::string forged_payload = Base64UrlEncode(R"({"sub":"m-43","exp":9999999999})");
  std::string forged = jwt.substr(0, d1 + 1) + forged_payload + jwt.substr(d2);
  EXPECT_TRUE(std::holds_alternative<Problem>(Auth("Bearer " + forged)));
}

TEST_F(AuthTest, AlgNoneIsRefused) {
  std::string header = Base64UrlEncode(R"({"alg":"none"})");
  std::string payload = Base64UrlEncode(R"({"sub":"m-1","exp":9999999999})");
  EXPECT_TRUE(std::holds_alternative<Problem>(Auth("Bearer " + header + "." + payload + ".")));
}

TEST(Authorize, RolesAndMemberScope) {
  Principal pos{"pos", RoleSet{Role::kPos}, std::nullopt};
  Principal app{"app:m-1", RoleSet{Role::kApp}, std::string("m-1")};
  Principal admin{"admin", RoleSet{Role::kAdmin}, std::nullopt};
  const RoleSet redeemers{Role::kPos, Role::kApp};
  EXPECT_FALSE(Authorize(pos, redeemers, std::string_view("m-9")).has_value());
  EXPECT_FALSE(Authorize(app, redeemers, std::string_view("m-1")).has_value());
  auto other = Authorize(app, redeemers, std::string_view("m-2"));
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->status, 403);
  EXPECT_EQ(other->code, "forbidden");
  EXPECT_EQ(Authorize(pos, RoleSet{Role::kOps}, std::nullopt)->status, 403);
  EXPECT_FALSE(Authorize(admin, RoleSet{Role::kOps}, std::nullopt).has_value());
}

TEST(ApiKeys, FileIsValidated) {
  EXPECT_THROW(ParseApiKeys("not json", "f"), ConfigError);
  EXPECT_THROW(ParseApiKeys(R"({"keys":[{"name":"a","sha256":"xyz","roles":["pos"]}]})", "f"), ConfigError);
  const std::string hash(64, 'a');
  EXPECT_THROW(ParseApiKeys(R"({"keys":[{"name":"a","sha256":")" + hash + R"(","roles":["wizard"]}]})", "f"),
               ConfigError);
  EXPECT_THROW(ParseApiKeys(R"({"keys":[{"name":"a","sha256":")" + hash + R"(","roles":["app"]}]})", "f"),
               ConfigError);
  auto keys = ParseApiKeys(R"({"keys":[{"name":"a","sha256":")" + hash + R"(","roles":["pos","agent"]}]})", "f");
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_TRUE(keys[0].roles.Has(Role::kAgent));
}

TEST(Crypto, KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 4231 test case 2.
  EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(*Base64UrlDecode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64UrlDecode("a*b").has_value());
  const std::string u = NewUuid();
  EXPECT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(NewUuid(), u);
  // RFC 4122 version 5: the DNS namespace's well-known example (as Python's uuid.uuid5 gives it).
  EXPECT_EQ(NameUuid(ParseUuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "www.example.com"),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2");
  EXPECT_THROW(ParseUuid("not-a-uuid"), std::invalid_argument);
  EXPECT_THROW(ParseUuid("6ba7b810-9dad-11d1-80b4-00c04fd430cz"), std::invalid_argument);
  EXPECT_EQ(Base32Encode(""), "");
  EXPECT_EQ(Base32Encode(std::string(5, '\xff')), "zzzzzzzz");
  EXPECT_EQ(Base32Encode("foobar"), "csqpyrk1e8");  // RFC 4648's MZXW6YTBOI in Crockford's alphabet
  EXPECT_EQ(Base32Encode(RandomBytes(10)).size(), 16u);
}

TEST(Crypto, HmacKeepsPerKeyStateApartAndRandomBlocksNeverRepeat) {
  // HmacSha256 keeps a keyed template per thread: switching keys back and forth must not mix
  // them (RFC 4231 test cases 1 and 2).
  const std::string key1(20, '\x0b');
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(HexEncode(HmacSha256(key1, "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(HexEncode(HmacSha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  // RandomBytes serves small requests from a per-thread block: across several refills no
  // 16-byte value comes back twice, and large requests bypass the block.
  std::set<std::string> seen;
  for (int i = 0; i < 2000; ++i) EXPECT_TRUE(seen.insert(RandomBytes(16)).second);
  EXPECT_EQ(RandomBytes(5000).size(), 5000u);
  EXPECT_NE(RandomBytes(5000), RandomBytes(5000));
}

}  // namespace
}  // namespace tessera
