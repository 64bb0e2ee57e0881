// Identifier rules shared by every service (SPEC §3).
#pragma once

#include <string_view>

namespace tessera {

// Member, order, campaign and store ids: 1–64 chars of [A-Za-z0-9_.:-].
bool IsValidId(std::string_view id);

// Idempotency-Key: 1–128 printable ASCII characters (0x21–0x7E plus space inside).
bool IsValidIdempotencyKey(std::string_view key);

// A locale tag as requests carry it ("en", "ja-JP", "zh_Hant_TW"): 2–16 characters of
// [A-Za-z0-9_-], starting with a letter. Loose on purpose (no registry lookup): it keeps
// arbitrary bytes out of keys, templates and answers, and unknown tags fall back to "en".
bool IsValidLocale(std::string_view locale);

}  // namespace tessera
