// tessera-devtoken: prints an HS256 app token for a member, for development and tests.
//   tessera-devtoken <member_id> [ttl_seconds]   (secret from TESSERA_JWT_SECRET, default
//   the development secret "dev-jwt-secret")
#include <cstdlib>
#include <iostream>
#include <string>

#include "tessera/auth.h"
#include "tessera/ids.h"

int main(int argc, char** argv) {
  if (argc < 2 || !tessera::IsValidId(argv[1])) {
    std::cerr << "usage: tessera-devtoken <member_id> [ttl_seconds]\n";
    return 2;
  }
  const char* secret = std::getenv("TESSERA_JWT_SECRET");
  const long ttl = argc > 2 ? std::atol(argv[2]) : 24 * 3600;
  if (ttl <= 0) {
    std::cerr << "tessera-devtoken: ttl_seconds must be positive\n";
    return 2;
  }
  tessera::SystemClock clock;
  const auto now = clock.Now();
  std::cout << tessera::MakeAppJwt(secret ? secret : "dev-jwt-secret", argv[1], now,
                                   now + std::chrono::seconds(ttl))
            << "\n";
  return 0;
}
