// Plain records persisted by pbx::storage::store.
//
// Wire format rule: each serialize() writes the version-1 fields first; a later
// version appends its new fields at the end, guarded by `if (version >= N)`, so
// records written by older code still load (the new fields keep their defaults).
// Never reorder, remove or retype an existing field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <cereal/types/vector.hpp>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>

#include "storage/rule_records.hpp"
#include "storage/trunk_records.hpp"

namespace pbx::storage {

struct tenant_record {
  std::string domain;
  std::string name;
  std::string timezone = "UTC";
  tenant_rules_record rules;  // version 2
  bool allow_weak_passwords = false;  // version 3: short SIP passwords, or the number
  // version 4: voicemail (PortSIP's system number, min_seconds, retain_days)
  std::string voicemail_number = "777";
  std::uint32_t voicemail_max_seconds = 180;
  std::uint32_t voicemail_min_seconds = 1;
  std::uint32_t voicemail_silence_seconds = 5;
  std::uint32_t voicemail_retain_days = 30;  // 0: kept until deleted
  // version 5: trunks
  e164_record e164;
  std::uint32_t max_trunk_calls = 0;  // concurrent calls over all its trunks, 0: no limit

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, name, timezone);
    if (version >= 2)
      ar(rules);
    if (version >= 3)
      ar(allow_weak_passwords);
    if (version >= 4)
      ar(voicemail_number, voicemail_max_seconds, voicemail_min_seconds,
         voicemail_silence_seconds, voicemail_retain_days);
    if (version >= 5)
      ar(e164, max_trunk_calls);
    // version >= 6: append new fields here.
  }
};

struct extension_record {
  std::string domain, number;  // key
  std::string web_user, web_password_hash, display_name, email;
  std::string role = "user";  // user|admin
  // Digest HA1 = MD5(number:domain:password), hex (version 5). The password
  // itself is not kept: the Users page sets it, never shows it.
  std::string sip_ha1;
  std::string sip_password;   // read from records before version 5 only (then migrated)
  bool enabled = true;
  std::string mobile_phone, work_phone, home_phone, address, department;
  std::string voicemail_pin;
  std::uint32_t no_answer_timeout = 60;
  std::int64_t created_at = 0;  // unix seconds
  forwarding_record forwarding;  // version 2
  // version 3: the mailbox's settings
  bool pin_auth = true;
  std::string time_readout = "12h";  // 12h|24h|off
  std::uint32_t max_messages = 100;
  bool mwi_unsolicited = false;
  std::string greeting;  // relative to the data dir; empty: the system prompt
  // version 4: calls out through trunks
  std::vector<outbound_caller_id> outbound_caller_ids;  // per trunk
  bool anonymous_outbound = false;  // every outbound call anonymous (From, Privacy: id)

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, number, web_user, web_password_hash, display_name, email, role);
    if (version >= 5)
      ar(sip_ha1);
    else
      ar(sip_password);
    ar(enabled, mobile_phone, work_phone, home_phone, address,
       department, voicemail_pin, no_answer_timeout, created_at);
    if (version >= 2) {
      ar(forwarding);
    } else {  // loading a v1 record: its timeout becomes the no-answer rules'
      forwarding.rules[static_cast<std::size_t>(forward_slot::available_no_answer)].timeout =
        no_answer_timeout;
      forwarding.rules[static_cast<std::size_t>(forward_slot::busy_no_answer)].timeout =
        no_answer_timeout;
    }
    if (version >= 3)
      ar(pin_auth, time_readout, max_messages, mwi_unsolicited, greeting);
    if (version >= 4)
      ar(outbound_caller_ids, anonymous_outbound);
    // version >= 6: append new fields here.
  }
};

// What digest and the registrar need of an extension (table `auth`, schema
// 3), beside its record: a REGISTER or INVITE reads these few bytes, not the
// whole record, so a registered phone keeps ~50 bytes of the map resident,
// not its record's ~1 KB. Written with the record, in the same batch.
struct auth_record {
  std::string ha1;  // as extension_record::sip_ha1
  bool enabled = true;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(ha1, enabled);
    (void)version;
  }
};

// An extension record's auth record.
inline auth_record auth_of(const extension_record& r) { return auth_record{r.sip_ha1, r.enabled}; }

struct binding_record {
  std::string domain, number, contact;  // key: contact is the full Contact URI string
  std::string call_id;
  std::uint32_t cseq = 0;
  std::int64_t expires_at = 0;  // unix seconds (absolute)
  std::int64_t registered_at = 0;
  std::string received_ip;
  std::uint16_t received_port = 0;
  std::string transport;   // udp|tcp
  std::string user_agent;
  std::string params;      // contact params kept verbatim (q, +sip.instance...)
  // The node whose SIP stack took the REGISTER: requests to the phone leave
  // there (its NAT binding, its TCP connection). 0: this node (version 1).
  std::uint16_t via_node = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, number, contact, call_id, cseq, expires_at, registered_at,
       received_ip, received_port, transport, user_agent, params);
    if (version >= 2)
      ar(via_node);
    // version >= 3: append new fields here.
  }
};

// One device tried for a call.
struct cdr_device {
  std::string contact;
  std::uint16_t code = 0;  // its final status (200 answered, 487 cancelled, ...)

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(contact, code);
    (void)version;
  }
};

// One call, written when it ends.
struct cdr_record {
  std::string domain, call_id;  // key: domain sep start (ms, 20 digits) sep call_id
  std::string caller, callee;
  std::int64_t start_ms = 0, ring_ms = 0, answer_ms = 0, end_ms = 0;  // 0: not reached
  std::string status;      // answered|noanswer|fail
  std::uint16_t sip_code = 0;
  std::string end_reason;  // caller hangup, callee hangup, cancel, busy, not registered, ...
  std::vector<cdr_device> devices;
  std::string reroute_reason;          // version 2: FORWARDING_... of the last reroute
  std::vector<std::string> forwarded;  // version 2: the extensions reached, in order
  std::string answered_by;   // version 3: "voicemail" when the media plane took the call
  std::string voicemail_id;  // version 3: the message it left
  // version 4: trunks
  std::string direction = "internal";  // internal | inbound | outbound
  std::string trunk;          // the trunk the call came in on or went out through
  std::string did;            // inbound: the DID dialled
  std::string digits_sent;    // outbound: the number sent to the trunk
  std::string caller_id_used; // outbound: the caller ID sent
  std::string outbound_rule;  // outbound: the rule that matched
  std::vector<std::string> route_steps;  // each route tried: "TRUNK DIGITS CODE"

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, call_id, caller, callee, start_ms, ring_ms, answer_ms, end_ms, status,
       sip_code, end_reason, devices);
    if (version >= 2)
      ar(reroute_reason, forwarded);
    if (version >= 3)
      ar(answered_by, voicemail_id);
    if (version >= 4)
      ar(direction, trunk, did, digits_sent, caller_id_used, outbound_rule, route_steps);
  }
};

// One change made through the admin layer (key: domain sep time (ms, 20
// digits) sep seq; system-wide changes under the domain "").
struct audit_record {
  std::int64_t time_ms = 0;
  std::uint64_t seq = 0;  // orders changes within one millisecond
  std::string who;        // admin | NUMBER@DOMAIN
  std::string via;        // shell IP | api IP
  std::string domain;
  std::string what;       // the operation and its fields, passwords as ***

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const) {
    ar(time_ms, seq, who, via, domain, what);
  }
};

// A source banned by the security actor (key: "ban/" + ip).
struct ban_record {
  std::string ip;
  std::int64_t until = 0;    // unix seconds
  std::int64_t since = 0;
  std::string reason;        // auth_failures | packet_rate | unauth_rate | admin

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(ip, until, since, reason);
    (void)version;
  }
};

// An allow-list entry (key: "allow/" + canonical CIDR): never banned.
struct allow_record {
  std::string cidr;
  std::int64_t since = 0;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(cidr, since);
    (void)version;
  }
};

// One voicemail message (key: domain sep number sep id). Its WAV is made
// durable before this record is committed.
struct voicemail_record {
  std::string domain, number, id;  // number: the mailbox; id: BOOT-N
  std::string caller, caller_name, called;
  std::int64_t time = 0;  // unix seconds
  std::uint32_t duration_ms = 0;
  bool read = false;
  std::string file;  // relative to the data dir: voicemail/DOMAIN/NUMBER/ID.wav

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const version) {
    ar(domain, number, id, caller, caller_name, called, time, duration_ms, read, file);
    (void)version;
  }
};

}  // namespace pbx::storage

CEREAL_CLASS_VERSION(pbx::storage::audit_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::auth_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::ban_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::allow_record, 1)
CEREAL_CLASS_VERSION(pbx::storage::cdr_device, 1)
CEREAL_CLASS_VERSION(pbx::storage::cdr_record, 4)
CEREAL_CLASS_VERSION(pbx::storage::tenant_record, 5)
CEREAL_CLASS_VERSION(pbx::storage::extension_record, 5)
CEREAL_CLASS_VERSION(pbx::storage::binding_record, 2)
CEREAL_CLASS_VERSION(pbx::storage::voicemail_record, 1)
