#pragma once
// The admin actor: the one entry of the typed admin layer
// (actors/messages/admin.hpp). Every front end (shell, REST API) sends it
// (admin_principal, REQUEST); it checks the principal's role, hands the
// request to the actor that owns the data (router -> tenant -> extension, the
// call actors, the hasher) and writes each successful change to the audit log.

#include <cstdint>

#include <caf/fwd.hpp>

#include "actors/messages/admin.hpp"
#include "actors/write_tracker.hpp"
#include "engine/context.hpp"

namespace pbx {

struct admin_state {
  static inline const char* name = "admin";
  node_context* ctx = nullptr;
  write_tracker writes;
  std::uint64_t audit_seq = 0;
};

caf::behavior admin_actor(caf::stateful_actor<admin_state>* self, node_context* ctx);

namespace admin_access {

/// Empty when `who` may do `req` (possibly narrowed: a tenant admin's
/// `calls` gets its domain), else the forbidden reply.
std::string check(const admin_principal& who, tenant_query& req);
std::string check(const admin_principal& who, const tenant_add& req);
std::string check(const admin_principal& who, const tenant_set& req);
std::string check(const admin_principal& who, const tenant_del& req);
std::string check(const admin_principal& who, const extension_cmd& req);
std::string check(const admin_principal& who, const extension_import& req);
std::string check(const admin_principal& who, const extension_query& req);
std::string check(const admin_principal& who, const rules_cmd& req);
std::string check(const admin_principal& who, const voicemail_cmd& req);
std::string check(const admin_principal& who, const trunk_cmd& req);
std::string check(const admin_principal& who, const inbound_cmd& req);
std::string check(const admin_principal& who, const outbound_cmd& req);
std::string check(const admin_principal& who, const registrations_query& req);
std::string check(const admin_principal& who, cdr_query& req);
std::string check(const admin_principal& who, calls_query& req);
std::string check(const admin_principal& who, hangup_cmd& req);
std::string check(const admin_principal& who, const stats_query& req);
std::string check(const admin_principal& who, const cluster_status_query& req);
std::string check(const admin_principal& who, const admin_password_set& req);
std::string check(const admin_principal& who, audit_query& req);
std::string check(const admin_principal& who, token_revoke& req);
std::string check(const admin_principal& who, const trunk_status_query& req);

} // namespace admin_access

} // namespace pbx
