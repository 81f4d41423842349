#pragma once
// The mailbox an extension actor owns: its messages (LMDB records, WAV files
// under DATA/voicemail/DOMAIN/NUMBER), greeting, PIN and limits. The
// extension actor calls these handlers; every change ends in
// on_mailbox_changed, the one place that learns of new/read/deleted messages.

#include <string>
#include <string_view>

#include <caf/fwd.hpp>

#include "actors/messages/shell.hpp"
#include "actors/messages/voicemail.hpp"

namespace pbx {

struct extension_state;
struct node_context;

namespace mailbox {

using self_ptr = caf::stateful_actor<extension_state>*;

/// "" or why `pin` is not a voicemail PIN: 4-10 digits, no digit three times
/// in a row (111), no three ascending digits (012, 789).
std::string check_pin(std::string_view pin);

/// "" or why `path` is not an 8 kHz mono 16-bit PCM WAV file.
std::string check_wav(const std::string& path);

/// Paths relative to the data dir.
std::string folder(std::string_view domain, std::string_view number);
std::string message_file(std::string_view domain, std::string_view number, std::string_view id);
std::string greeting_file(std::string_view domain, std::string_view number);

/// Where recordings are written before a deposit commits them.
std::string spool_dir(const node_context& ctx);

mailbox_info query(self_ptr self, const mailbox_query& q);
caf::result<mailbox_result> deposit(self_ptr self, mailbox_deposit& d);
caf::result<mailbox_result> change(self_ptr self, mailbox_change& c);
caf::result<admin_reply> command(self_ptr self, voicemail_cmd& c);

/// Called after every committed change of the mailbox (`what`: deposit,
/// read, remove, greeting, pin). The seam MWI plugs into.
void on_mailbox_changed(self_ptr self, const char* what);

} // namespace mailbox
} // namespace pbx
