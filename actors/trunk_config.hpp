#pragma once
// The shell fields of trunks, inbound and outbound rules and a tenant's E.164
// settings (spec section 15), with their validation. Pure: the tenant actor
// checks what needs its other records (trunk names, rules in use). Errors start
// with the field as the shell names it, so the admin layer can blame it.

#include <string>
#include <string_view>
#include <vector>

#include "actors/messages/admin.hpp"
#include "storage/trunk_records.hpp"

namespace pbx::trunk_config {

/// A trunk's or a rule's name: 1-32 letters, digits, '-' and '_'.
bool valid_name(std::string_view name);

/// An IPv4 or IPv6 literal.
bool is_ip_literal(std::string_view text);

/// yes|no (true|false, 1|0 too).
bool parse_yes_no(std::string_view text, bool& out);

/// Applies `trunk add`/`trunk set` fields to `rec` (each value checked on its
/// own); on error `rec` is unchanged. check_trunk() judges the whole record.
std::string apply_trunk_fields(storage::trunk_record& rec, const field_list& fields);

/// The whole trunk: what its auth mode needs (REGISTER_AUTH: host, username,
/// password; ACCEPT_REGISTER: username, password; IP_AUTH: an IP host or source_ips).
std::string check_trunk(const storage::trunk_record& rec);

/// `trunk show`: every field, the password as *** (or empty when none).
field_list describe_trunk(const storage::trunk_record& rec);

/// Spec 15.1: pools of one provider must not overlap. Empty, or the conflict
/// naming the other trunk, when `rec`'s DID pool overlaps the pool of a trunk
/// in `all` (any tenant, itself excepted) with the same host (case-insensitive).
std::string pool_conflict(const storage::trunk_record& rec,
                          const std::vector<storage::trunk_record>& all);

/// `inbound add` fields: trunk, did, cid, office, outside, holiday. outside and
/// holiday default to office's destination. The caller validates against the
/// trunk with check_inbound().
std::string apply_inbound_fields(storage::inbound_rule_record& rec, const field_list& fields);

/// inbound_rule::validate with its record field names turned into the shell's.
std::string check_inbound(const storage::inbound_rule_record& rec,
                          const storage::trunk_record& trunk);

field_list describe_inbound(const storage::inbound_rule_record& rec);

/// `outbound add|set` fields: priority, prefix, length, callers, strategy,
/// outside_hours=allow|deny, holidays=allow|deny, route=TRUNK[:STRIP[:PREPEND[:CALLER_ID]]]
/// (repeated: the routes in order; any route= replaces every route).
std::string apply_outbound_fields(storage::outbound_rule_record& rec, const field_list& fields);

/// outbound_rule::validate with the shell's field names.
std::string check_outbound(const storage::outbound_rule_record& rec);

field_list describe_outbound(const storage::outbound_rule_record& rec);

/// A route as `route=` writes it, trailing empty parts left out.
std::string format_route(const storage::outbound_route& r);

/// A tenant field of the trunk domain (e164, international_code, country_code,
/// area_code, national_code, e164_remove_symbols, e164_remove_same_country,
/// e164_remove_duplicate_area, max_trunk_calls). `known` says whether `key` is one.
std::string apply_tenant_trunk_field(storage::e164_record& e164, std::uint32_t& max_trunk_calls,
                                     const std::string& key, const std::string& value,
                                     bool& known);

/// e164::validate with the shell's field names.
std::string check_e164(const storage::e164_record& e164);

/// The fields `tenant show` adds.
field_list describe_tenant_trunk_fields(const storage::e164_record& e164,
                                        std::uint32_t max_trunk_calls);

/// Extension fields `outbound_caller_id=TRUNK:NUMBER[,TRUNK:NUMBER...]` (TRUNK:
/// alone removes that trunk's) applied to `ids`.
std::string apply_outbound_caller_ids(std::vector<storage::outbound_caller_id>& ids,
                                      std::string_view value);

/// "gw1:5551000,gw2:5552000".
std::string format_outbound_caller_ids(const std::vector<storage::outbound_caller_id>& ids);

} // namespace pbx::trunk_config
