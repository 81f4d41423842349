#pragma once
// A tenant's E.164 processing (spec 15.4) of numbers going out to a trunk and
// coming in from one. Pure functions.

#include <string>
#include <string_view>

#include "storage/trunk_records.hpp"

namespace pbx::e164 {

/// "" or "FIELD: reason" (codes are digits, up to 4 for country, 6 for the others).
std::string validate(const storage::e164_record& cfg);

/// A dialled number on its way to a trunk. Disabled: unchanged. Enabled:
/// remove "( ) space -" when remove_symbols; then "+CC..." becomes, in order:
///  - CC is the tenant's country and remove_same_country: national form
///    (national_code + rest), and when remove_duplicate_area and rest starts with
///    the tenant's area code: the local number (rest without the area code);
///  - otherwise international_code + CC + rest.
/// A number without '+' is sent as dialled.
std::string outgoing(const storage::e164_record& cfg, std::string_view number);

/// A caller number from a trunk, to E.164 when enabled: international_code
/// + digits -> "+" digits; national_code + digits -> "+" country + digits;
/// anything else unchanged ('+' numbers and short numbers too).
std::string incoming(const storage::e164_record& cfg, std::string_view number);

} // namespace pbx::e164
