#pragma once
// What the node says, as lists of prompt names (actors/prompts/prompts.txt)
// to play one after another: numbers, digits, message counts and dates are
// spoken by concatenating short prompts. Pure code: no CAF, no libre.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pbx {

/// The names of whole prompts, so callers never spell them.
namespace prompt {
inline constexpr const char* beep = "beep";
// Leaving a message: person_at_extension, say_digits(number), not_available, beep.
inline constexpr const char* person_at_extension = "vm-person-at-extension";
inline constexpr const char* not_available = "vm-not-available";
inline constexpr const char* record_message = "vm-record-message";
inline constexpr const char* mailbox_full = "vm-mailbox-full";
inline constexpr const char* goodbye = "vm-goodbye";
// Listening: log in.
inline constexpr const char* enter_mailbox = "vm-enter-mailbox";
inline constexpr const char* enter_pin = "vm-enter-pin";
inline constexpr const char* wrong_pin = "vm-wrong-pin";
inline constexpr const char* invalid_option = "vm-invalid-option";
// Main menu (one option each: 1 new, 2 saved, 0 settings).
inline constexpr const char* opt_new = "vm-opt-new";
inline constexpr const char* opt_saved = "vm-opt-saved";
inline constexpr const char* opt_settings = "vm-opt-settings";
// One message: message, say_number(i), say_received(...), then its options
// (1 replay, 2 save, 3 delete, 4 next, 5 call back).
inline constexpr const char* message = "vm-message";
inline constexpr const char* opt_replay = "vm-opt-replay";
inline constexpr const char* opt_save = "vm-opt-save";
inline constexpr const char* opt_delete = "vm-opt-delete";
inline constexpr const char* opt_next = "vm-opt-next";
inline constexpr const char* opt_callback = "vm-opt-callback";
inline constexpr const char* message_saved = "vm-message-saved";
inline constexpr const char* message_deleted = "vm-message-deleted";
inline constexpr const char* end_of_messages = "vm-end-of-messages";
// Settings (1 greeting, 2 PIN, * back).
inline constexpr const char* opt_greeting = "vm-opt-greeting";
inline constexpr const char* opt_pin = "vm-opt-pin";
inline constexpr const char* opt_back = "vm-opt-back";
inline constexpr const char* record_greeting = "vm-record-greeting";
inline constexpr const char* greeting_saved = "vm-greeting-saved";
inline constexpr const char* enter_new_pin = "vm-enter-new-pin";
inline constexpr const char* pin_changed = "vm-pin-changed";
inline constexpr const char* pin_invalid = "vm-pin-invalid"; // 4-10 digits, no 111, no 123

/// Every constant above (tests check each one has a WAV).
inline constexpr const char* all[] = {
  beep, person_at_extension, not_available, record_message, mailbox_full, goodbye,
  enter_mailbox, enter_pin, wrong_pin, invalid_option, opt_new, opt_saved, opt_settings,
  message, opt_replay, opt_save, opt_delete, opt_next, opt_callback, message_saved,
  message_deleted, end_of_messages, opt_greeting, opt_pin, opt_back, record_greeting,
  greeting_saved, enter_new_pin, pin_changed, pin_invalid,
};
} // namespace prompt

/// Any number, in American English words: 42 -> num-42; 123 -> num-1,
/// hundred, num-23; 2005 -> num-2, thousand, num-5; 61 -> num-60, num-1.
std::vector<std::string> say_number(unsigned n);

/// One prompt per character: 0-9 -> digit-N, '*' -> digit-star, '#' ->
/// digit-pound; anything else is skipped.
std::vector<std::string> say_digits(std::string_view digits);

/// "You have 2 new messages and 1 saved message"; a zero count is left out;
/// both zero: "You have no messages".
std::vector<std::string> say_message_counts(unsigned new_count, unsigned saved_count);

enum class time_readout { h12, h24, off };

/// "12h", "24h", "off" (mailbox_info::time_readout); anything else: nullopt.
std::optional<time_readout> parse_time_readout(std::string_view text);

/// "received Monday June 3rd at 3 05 p.m." in zone `tz` (IANA; empty or
/// unknown: UTC). 12h: hour 1-12, minute 0 is "o'clock", then am/pm; 24h:
/// hour 0-23, minute 0 is "hundred" (15 hundred). Minutes 1-9 are "oh N".
/// off: nothing at all.
std::vector<std::string> say_received(std::int64_t unix_seconds, const std::string& tz,
                                      time_readout readout);

/// The file to play for `name`: tenant_dir/NAME.wav when that file exists
/// (a tenant's replacement), else system_dir/NAME.wav. An empty tenant_dir
/// means no replacements.
std::string prompt_path(const std::string& system_dir, const std::string& tenant_dir,
                        const std::string& name);

/// Where a tenant's replacements live: DATA/prompts/DOMAIN.
std::string tenant_prompt_dir(const std::string& data_dir, const std::string& domain);

} // namespace pbx
