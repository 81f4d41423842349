// Records of the trunk domain: SIP trunks, inbound and outbound rules, and the
// tenant's E.164 settings. Field names follow PortSIP's (spec section 15).
// Same wire rule as records.hpp: new fields are appended under a version check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>

namespace pbx::storage {

// A SIP trunk of a tenant (key: domain sep name).
struct trunk_record {
  std::string domain, name;
  std::string auth_mode = "REGISTER_AUTH";  // REGISTER_AUTH | ACCEPT_REGISTER | IP_AUTH
  std::string host;                          // the provider: IP or name
  std::uint16_t port = 5060;
  std::string transport = "udp";             // udp | tcp
  std::string outbound_proxy;                // host[:port]; empty: send to host:port
  std::string username, auth_username, password;  // auth_username empty: username
  std::uint32_t register_interval = 600;     // REGISTER_AUTH: Expires asked for (s)
  bool keep_alive = true;                    // OPTIONS every keep_alive_interval
  std::uint32_t keep_alive_interval = 360;
  std::vector<std::string> source_ips;       // IP_AUTH: more addresses calls come from
  std::string did_pool;                      // "1000-2000" | "101; 203; 300-450"
  std::uint32_t max_calls = 0;               // concurrent calls, 0: no limit
  bool did_in_request_uri = false;           // inbound DID is the Request-URI user, not To
  bool diversion = false;                    // forwarded calls carry Diversion (RFC 5806)
  bool keep_caller_id = true;                // forwarded calls keep the original caller ID
  std::string caller_id;                     // the trunk's default outbound caller ID
  bool enabled = true;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, name, auth_mode, host, port, transport, outbound_proxy, username,
       auth_username, password, register_interval, keep_alive, keep_alive_interval,
       source_ips, did_pool, max_calls, did_in_request_uri, diversion, keep_caller_id,
       caller_id, enabled);
    (void)version;  // version >= 2: append new fields here.
  }
};

// Where an inbound rule sends a call at one time of day.
struct inbound_destination {
  // extension: ring `value` (its own forwarding rules apply; "0": the dialled DID);
  // voicemail: the mailbox `value`; hangup; number: `value` out through the
  // outbound rules; range: extensions "FIRST-LAST" mapped 1:1 by offset in the DID range.
  std::string kind = "hangup";
  std::string value;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(kind, value);
    (void)version;
  }
};

// An inbound rule (key: domain sep name).
struct inbound_rule_record {
  std::string domain, name;
  std::string trunk;            // exactly one trunk
  std::string did_numbers;      // one DID or a range, inside the trunk's pool
  std::string cid_number_mask;  // optional: "0044**********", "1000-2000", "1;2;3"
  inbound_destination office, outside, holiday;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, name, trunk, did_numbers, cid_number_mask, office, outside, holiday);
    (void)version;
  }
};

// One trunk route of an outbound rule.
struct outbound_route {
  std::string trunk;
  std::uint32_t strip_digits = 0;  // 0-9, from the left of the dialled number
  std::string prepend;
  std::string outbound_caller_id;  // empty: the extension's or the trunk's

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(trunk, strip_digits, prepend, outbound_caller_id);
    (void)version;
  }
};

// An outbound rule (key: domain sep name).
struct outbound_rule_record {
  std::string domain, name;
  std::uint32_t priority = 1000;  // lower wins
  std::string number_prefix;      // "00;123;88"; empty: any
  std::string number_length;      // "8;10;12"; empty: any
  std::string number_mask;        // caller extensions "101-110;199"; empty: any
  std::string routing_strategy = "PRIORITIZED";  // PRIORITIZED | RANDOMLY
  bool disable_outside_hours = false;  // the tenant's office hours
  bool disable_on_holidays = false;    // the tenant's holidays
  std::vector<outbound_route> routes;  // 1-6

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, name, priority, number_prefix, number_length, number_mask, routing_strategy,
       disable_outside_hours, disable_on_holidays, routes);
    (void)version;
  }
};

// A tenant's E.164 settings (spec 15.4), kept in tenant_record.
struct e164_record {
  bool enabled = false;
  std::string international_code = "00";  // "011": +44... goes out as 01144...
  std::string country_code;                // "1", "44"
  std::string area_code;                   // "20"
  std::string national_code = "0";         // trunk prefix of national numbers
  bool remove_symbols = false;             // ( ) space - removed
  bool remove_same_country = true;         // +44... in the UK goes out national
  bool remove_duplicate_area = true;       // a number in the own area goes out local

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(enabled, international_code, country_code, area_code, national_code, remove_symbols,
       remove_same_country, remove_duplicate_area);
    (void)version;
  }
};

// An extension's outbound caller ID on one trunk (the Users page field).
struct outbound_caller_id {
  std::string trunk, caller_id;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(trunk, caller_id);
    (void)version;
  }
};

}  // namespace pbx::storage

CEREAL_CLASS_VERSION(pbx::storage::trunk_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::inbound_destination, 1)
CEREAL_CLASS_VERSION(pbx::storage::inbound_rule_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::outbound_route, 1)
CEREAL_CLASS_VERSION(pbx::storage::outbound_rule_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::e164_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::outbound_caller_id, 1)
