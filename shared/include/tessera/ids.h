// Identifier rules shared by every service (SPEC §3).
#pragma once

#include <string_view>

namespace tessera {

// Member, order, campaign and store ids: 1–64 chars of [A-Za-z0-9_.:-].
bool IsValidId(std::string_view id);

// Idempotency-Key: 1–128 printable ASCII characters (0x21–0x7E plus space inside).
bool IsValidIdempotencyKey(std::string_view key);

}  // namespace tessera
