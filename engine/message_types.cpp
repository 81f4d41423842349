#include "engine/message_types.hpp"

#include <caf/all.hpp>

#include "actors/messages/admin.hpp"
#include "actors/messages/api.hpp"
#include "actors/messages/call.hpp"
#include "actors/messages/directory.hpp"
#include "actors/messages/registration.hpp"
#include "actors/messages/security.hpp"
#include "actors/messages/shell.hpp"
#include "actors/messages/trunk.hpp"
#include "actors/messages/media.hpp"
#include "actors/messages/mwi.hpp"
#include "actors/messages/voicemail.hpp"
#include "engine/cluster_messages.hpp"
#include "engine/etcd_command.hpp"
#include "engine/leg_command.hpp"
#include "engine/metrics.hpp"

namespace pbx {

void add_message_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<digest_credentials>("digest_credentials");
  cfg.add_message_type<http_request>("http_request");
  cfg.add_message_type<http_response>("http_response");
  cfg.add_message_type<contact_entry>("contact_entry");
  cfg.add_message_type<flow_info>("flow_info");
  cfg.add_message_type<register_request>("register_request");
  cfg.add_message_type<register_batch>("register_batch");
  cfg.add_message_type<listed_contact>("listed_contact");
  cfg.add_message_type<sip_reply>("sip_reply");
  cfg.add_message_type<shell_opened>("shell_opened");
  cfg.add_message_type<shell_line>("shell_line");
  cfg.add_message_type<shell_closed>("shell_closed");
  cfg.add_message_type<admin_reply>("admin_reply");
  cfg.add_message_type<admin_principal>("admin_principal");
  // Admin requests the router hands to a tenant's owner, on another node in a cluster.
  cfg.add_message_type<tenant_query>("tenant_query");
  cfg.add_message_type<extension_query>("extension_query");
  cfg.add_message_type<extension_import>("extension_import");
  cfg.add_message_type<registrations_query>("registrations_query");
  cfg.add_message_type<cdr_query>("cdr_query");
  cfg.add_message_type<calls_query>("calls_query");
  cfg.add_message_type<hangup_cmd>("hangup_cmd");
  cfg.add_message_type<stats_query>("stats_query");
  cfg.add_message_type<audit_query>("audit_query");
  cfg.add_message_type<admin_password_set>("admin_password_set");
  cfg.add_message_type<web_login_query>("web_login_query");
  cfg.add_message_type<web_credentials>("web_credentials");
  cfg.add_message_type<login_check>("login_check");
  cfg.add_message_type<login_result>("login_result");
  cfg.add_message_type<token_revoke>("token_revoke");
  cfg.add_message_type<trunk_status_query>("trunk_status_query");
  cfg.add_message_type<cluster_status_query>("cluster_status_query");
  cfg.add_message_type<etcd_response>("etcd_response");
  cfg.add_message_type<binding_replica>("binding_replica");
  cfg.add_message_type<binding_snapshot>("binding_snapshot");
  cfg.add_message_type<std::vector<storage::binding_record>>("binding_records");
  cfg.add_message_type<tenant_add>("tenant_add");
  cfg.add_message_type<tenant_set>("tenant_set");
  cfg.add_message_type<tenant_del>("tenant_del");
  cfg.add_message_type<extension_cmd>("extension_cmd");
  cfg.add_message_type<passivate_request>("passivate_request");
  cfg.add_message_type<passivate_ok>("passivate_ok");
  cfg.add_message_type<activate_extension>("activate_extension");
  cfg.add_message_type<write_done>("write_done");
  cfg.add_message_type<binding_write_failed>("binding_write_fail");
  cfg.add_message_type<storage::binding_record>("binding_record");
  cfg.add_message_type<call_offer>("call_offer");
  cfg.add_message_type<callee_query>("callee_query");
  cfg.add_message_type<call_target>("call_target");
  cfg.add_message_type<std::vector<call_target>>("call_targets");
  cfg.add_message_type<callee_targets>("callee_targets");
  cfg.add_message_type<leg_event>("leg_event");
  cfg.add_message_type<leg_command>("leg_command");
  cfg.add_message_type<trunk_command>("trunk_command");
  cfg.add_message_type<trunk_event>("trunk_event");
  cfg.add_message_type<trunk_seize>("trunk_seize");
  cfg.add_message_type<trunk_grant>("trunk_grant");
  cfg.add_message_type<trunk_release>("trunk_release");
  cfg.add_message_type<trunk_call>("trunk_call");
  cfg.add_message_type<outbound_query>("outbound_query");
  cfg.add_message_type<outbound_step>("outbound_step");
  cfg.add_message_type<std::vector<outbound_step>>("outbound_steps");
  cfg.add_message_type<outbound_plan>("outbound_plan");
  cfg.add_message_type<media_command>("media_command");
  cfg.add_message_type<media_event>("media_event");
  cfg.add_message_type<subscribe_request>("subscribe_request");
  cfg.add_message_type<mwi_command>("mwi_command");
  cfg.add_message_type<mwi_ended>("mwi_ended");
  cfg.add_message_type<voicemail_message>("voicemail_message");
  cfg.add_message_type<std::vector<voicemail_message>>("voicemail_messages");
  cfg.add_message_type<mailbox_query>("mailbox_query");
  cfg.add_message_type<mailbox_info>("mailbox_info");
  cfg.add_message_type<mailbox_deposit>("mailbox_deposit");
  cfg.add_message_type<mailbox_change>("mailbox_change");
  cfg.add_message_type<mailbox_result>("mailbox_result");
  cfg.add_message_type<voicemail_done>("voicemail_done");
  cfg.add_message_type<device_result>("device_result");
  cfg.add_message_type<std::vector<device_result>>("device_results");
  cfg.add_message_type<ring_progress>("ring_progress");
  cfg.add_message_type<ring_answered>("ring_answered");
  cfg.add_message_type<ring_failed>("ring_failed");
  cfg.add_message_type<route_step>("route_step");
  cfg.add_message_type<line_state>("line_state");
  cfg.add_message_type<rules_cmd>("rules_cmd");
  cfg.add_message_type<trunk_cmd>("trunk_cmd");
  cfg.add_message_type<inbound_cmd>("inbound_cmd");
  cfg.add_message_type<outbound_cmd>("outbound_cmd");
  cfg.add_message_type<voicemail_cmd>("voicemail_cmd");
  cfg.add_message_type<auth_service>("auth_service");
  cfg.add_message_type<auth_failure>("auth_failure");
  cfg.add_message_type<auth_success>("auth_success");
  cfg.add_message_type<rate_exceeded>("rate_exceeded");
  cfg.add_message_type<ua_blocked>("ua_blocked");
  cfg.add_message_type<security_cmd>("security_cmd");
  cfg.add_message_type<field_list>("field_list");
  cfg.add_message_type<std::vector<field_list>>("field_lists");
  cfg.add_message_type<metrics::mailbox_probe>("mailbox_probe");
}

} // namespace pbx
