#pragma once
// The Users-page fields of an extension as the shell and CSV import name them
// (PortSIP's names), with their validation.

#include <string>
#include <string_view>

#include "actors/messages/shell.hpp"
#include "storage/records.hpp"

namespace pbx {

/// The field the admin shell session sends instead of `password`: it runs
/// the slow KDF on its own thread, not on the scheduler that serves SIP.
constexpr const char* hashed_password_field = "\x01password_hash";

/// An error for a `password` in `fields` too weak to store, else empty.
std::string check_password_fields(const field_list& fields);

/// Replaces every `password` in `fields` by its hash under
/// hashed_password_field (slow: the password hasher's thread calls it).
void hash_password_fields(field_list& fields);

/// True when `fields` holds a `password` to hash.
bool has_password_field(const field_list& fields);

/// True for an extension number: 3 to 64 digits.
bool valid_extension_number(std::string_view number);

/// A number the outbound rules may take: digits with at most a leading '+', up to 32.
bool phone_number(std::string_view number);

/// Applies `fields` to `rec`; returns an error and leaves `rec` unchanged on bad input.
/// `creating` allows extension_number (which must equal rec.number) and requires
/// extension_password once all fields are applied. Unless `allow_weak`, an
/// extension_password must have 8 characters and differ from the number
/// (scanners try the number first).
std::string apply_extension_fields(storage::extension_record& rec,
                                   const field_list& fields, bool creating,
                                   bool allow_weak = false);

/// The fields `extension show` prints: never a password.
field_list describe_extension(const storage::extension_record& rec);

/// The settings `extension copy` carries over (no credentials, no identity).
void copy_extension_settings(const storage::extension_record& from,
                             storage::extension_record& to);

} // namespace pbx
