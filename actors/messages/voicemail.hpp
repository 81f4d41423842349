#pragma once
// Messages of the voicemail domain. The extension actor owns its mailbox:
// every change (a new message, read, delete, greeting, PIN) goes through it,
// so it alone decides when the message-waiting state changes (MWI).

#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

namespace pbx {

/// One stored message, as the mailbox lists it.
struct voicemail_message {
  std::string id;                 // unique across restarts (like CDR ids)
  std::string caller, caller_name, called;
  std::int64_t time = 0;          // unix seconds
  std::uint32_t duration_ms = 0;
  bool read = false;
  std::string file;               // absolute path of the WAV
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, voicemail_message& x) {
  return f(caf::meta::type_name("voicemail_message"), x.id, x.caller, x.caller_name, x.called,
           x.time, x.duration_ms, x.read, x.file);
}

/// Voicemail actor -> extension: what it needs before it answers. Answered
/// with mailbox_info (code 404: no such extension).
struct mailbox_query {
  std::string number;
  bool with_messages = false; // listening: the messages too (new first, then saved)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_query& x) {
  return f(caf::meta::type_name("mailbox_query"), x.number, x.with_messages);
}

struct mailbox_info {
  std::uint16_t code = 200;
  std::string number, display_name;
  std::string timezone;            // the extension's (else the tenant's) IANA zone
  std::string time_readout = "12h"; // 12h | 24h | off
  bool pin_auth = true;
  std::string pin;                 // the voicemail PIN (checked by the voicemail actor)
  std::string greeting;            // absolute path of a recorded greeting, empty: system prompt
  std::uint32_t max_messages = 100;
  std::uint32_t new_count = 0, saved_count = 0;
  std::uint32_t max_seconds = 180, min_seconds = 1, silence_seconds = 5; // the tenant's
  std::string prompts;             // the prompt folder for this tenant (absolute)
  std::string spool;               // where a recording is written before it is committed
  std::vector<voicemail_message> messages; // with_messages
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_info& x) {
  return f(caf::meta::type_name("mailbox_info"), x.code, x.number, x.display_name, x.timezone,
           x.time_readout, x.pin_auth, x.pin, x.greeting, x.max_messages, x.new_count,
           x.saved_count, x.max_seconds, x.min_seconds, x.silence_seconds, x.prompts, x.spool,
           x.messages);
}

/// Voicemail actor -> extension: a recording to keep. The extension fsyncs
/// the file and renames it into the mailbox, then commits its record (in that
/// order: a crash never leaves a record without audio), and answers
/// mailbox_result with the message id (code 507 when the box is full, 500 on
/// a failed write; the temporary file is removed then).
struct mailbox_deposit {
  std::string number;
  std::string temp_file;          // absolute, under mailbox_info::spool
  std::string caller, caller_name, called;
  std::int64_t time = 0;
  std::uint32_t duration_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_deposit& x) {
  return f(caf::meta::type_name("mailbox_deposit"), x.number, x.temp_file, x.caller,
           x.caller_name, x.called, x.time, x.duration_ms);
}

/// A change to one mailbox, from the voicemail menu or the shell.
struct mailbox_change {
  enum class op : std::uint8_t {
    mark_read,     // id
    remove,        // id: record and file
    set_greeting,  // temp_file (committed like a deposit), empty: back to the system prompt
    set_pin,       // value
  };
  op what = op::mark_read;
  std::string number;
  std::string id;
  std::string temp_file;
  std::string value;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_change& x) {
  return f(caf::meta::type_name("mailbox_change"), x.what, x.number, x.id, x.temp_file,
           x.value);
}

/// The answer to mailbox_deposit and mailbox_change.
struct mailbox_result {
  std::uint16_t code = 200;
  std::string id;     // deposit: the new message's id
  std::string error;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, mailbox_result& x) {
  return f(caf::meta::type_name("mailbox_result"), x.code, x.id, x.error);
}

/// Voicemail actor -> call actor, when it is done: the message left (empty:
/// none), for the CDR; `outcome` is recorded | discarded | full | listened |
/// no mailbox | failed | call back. `hang_up`: the caller is still there (the
/// call sends BYE); `answered`: the leg was answered (else the call rejects
/// it); `call_back`: the call goes on to this number (key 5 on a message).
struct voicemail_done {
  std::string message_id;
  std::string outcome;
  bool hang_up = false;
  bool answered = false;
  std::string call_back; // listening: the caller asked to call this number back
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, voicemail_done& x) {
  return f(caf::meta::type_name("voicemail_done"), x.message_id, x.outcome, x.hang_up,
           x.answered, x.call_back);
}

} // namespace pbx
