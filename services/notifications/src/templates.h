// Message templates (SPEC §6): {subject, body} per event type and locale with {{placeholders}}.
// Defaults ship for en, ja, ko, zh and th; a missing locale falls back to the language, then en.
// Rendering is pure; the same event renders the same words on every channel.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace tessera::notifications {

struct Template {
  std::string subject, body;
};

// Event types that produce messages, and whether they are transactional (receipts: never
// deferred or capped) or marketing (opt-in, daily cap, quiet hours).
enum class MessageClass { kTransactional, kMarketing };
std::optional<MessageClass> ClassOf(const std::string& event_type);
const std::set<std::string>& MessageEventTypes();
const std::set<std::string>& SupportedLocales();  // en ja ko zh th
const std::set<std::string>& Placeholders();       // names allowed in {{...}}

// The shipped default, with locale fallback ("ja-JP" -> "ja" -> "en"). nullopt for an event
// type that has no messages.
std::optional<Template> DefaultTemplate(const std::string& event_type, const std::string& locale);

// Replaces every {{name}} with vars[name] ("" when absent). Unbalanced braces are kept as text.
std::string Render(std::string_view text, const std::map<std::string, std::string>& vars);

// Checks that every {{...}} names a known placeholder; returns the first unknown one.
std::optional<std::string> UnknownPlaceholder(std::string_view text);

// Cuts `text` to at most `max_chars` Unicode code points (never inside a multi-byte sequence),
// ending with "…" when cut. Invalid UTF-8 bytes are replaced by U+FFFD first.
std::string TruncateUtf8(std::string_view text, size_t max_chars);
size_t Utf8Length(std::string_view text);

}  // namespace tessera::notifications
