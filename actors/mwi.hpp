#pragma once
// Message-waiting indication (RFC 3842) for one extension: its message-summary
// subscriptions, the body they are sent, and what to do when the counts of
// its mailbox change. The extension actor owns a `mwi::state` and delegates here.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

#include "actors/messages/mwi.hpp"
#include "storage/records.hpp"

namespace pbx {

struct node_context;
class sip_port;

/// A mailbox's messages: new (unread) and saved (read).
struct mwi_counts {
  std::uint32_t new_count = 0, saved_count = 0;
};

inline bool operator==(const mwi_counts& a, const mwi_counts& b) {
  return a.new_count == b.new_count && a.saved_count == b.saved_count;
}

namespace mwi {

/// sip:NUMBER@DOMAIN, the Message-Account of an extension's mailbox.
std::string account_uri(std::string_view number, std::string_view domain);

/// The application/simple-message-summary body (RFC 3842 section 5.2).
std::string body(const std::string& account_uri, mwi_counts c);

/// The extension's option to NOTIFY its registered devices without a
/// subscription (off by default). The one place that reads it.
bool unsolicited(const storage::extension_record& rec);

struct subscription {
  flow_info source;
  std::string user_agent;
};

struct state {
  std::map<std::uint64_t, subscription> subs; // live ones, by id (the SUBSCRIBE's txn)
  // The mailbox's counts when a SUBSCRIBE arrives; empty: 0/0.
  std::function<mwi_counts()> counts;
  std::optional<mwi_counts> last; // what was last sent

  mwi_counts current() const { return counts ? counts() : mwi_counts{}; }
};

/// A SUBSCRIBE to the extension `rec`'s mailbox: digest as for REGISTER (a
/// wrong password is reported to the security actor), then accepted with a
/// first NOTIFY of the current counts; `owner` (the extension) hears mwi_ended.
void on_subscribe(state& st, node_context* ctx, const storage::extension_record& rec,
                  const subscribe_request& req, const caf::actor& owner);

/// A SUBSCRIBE to a mailbox that does not exist: what a wrong password gets.
void on_unknown_mailbox(node_context* ctx, const std::string& domain,
                        const subscribe_request& req);

/// Records an accepted subscription and sends the accept command.
void accept(state& st, const subscribe_request& req, const std::string& account,
            const caf::actor& owner, sip_port& port);

/// net/ said subscription `e.sub` is over; false if it was not known.
bool ended(state& st, const mwi_ended& e);

/// The seam the mailbox calls after every change: a NOTIFY in every live
/// subscription and, when the extension's option is on, an unsolicited one to
/// each binding unexpired at `now`. Nothing is sent when the counts equal the last sent.
void counts_changed(state& st, mwi_counts c, const storage::extension_record& rec,
                    const std::vector<storage::binding_record>& bindings, std::int64_t now,
                    sip_port& port);

/// The same with the account and the option given (what the one above calls).
void counts_changed(state& st, mwi_counts c, const std::string& account, bool unsolicited,
                    const std::vector<storage::binding_record>& bindings, std::int64_t now,
                    sip_port& port);

/// Ends every subscription (the extension was deleted or disabled).
void end_all(state& st, sip_port& port);

} // namespace mwi
} // namespace pbx
