#pragma once
// The value types of the admin layer's record fields, one table for every
// front end: the shell prints text, the API types JSON values by it (and
// rejects a JSON value of the wrong type), docs/api.yaml describes the same.
// No CAF here: the fuzz targets build it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "actors/messages/admin.hpp"

namespace pbx::admin_schema {

enum class field_kind { text, integer, boolean };

/// The kind of field `name` in a record of `resource` (tenant, extension,
/// registration, call, cdr, status, forwarding, hours, holiday, exception,
/// feature_code, explain, voicemail, stats, audit); text when unknown.
field_kind kind_of(std::string_view resource, std::string_view name);

/// Milliseconds since 1970 as ISO 8601 in UTC with milliseconds; 0: "".
std::string iso_time_ms(std::int64_t ms);

/// The field an error reason blames ("timeout must be 5-600 seconds" ->
/// "timeout", "unknown field 'x'" -> "x"); empty when it names none.
std::string blamed_field(std::string_view reason);

} // namespace pbx::admin_schema
