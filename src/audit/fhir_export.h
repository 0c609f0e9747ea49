// FHIR R4 export of the audit trail: each stored record becomes one AuditEvent resource
// (http://hl7.org/fhir/R4/auditevent.html), written one per line as NDJSON for bulk loading
// into a FHIR server or a SIEM. The mapping:
//   type      rest (audit-event-type) for HTTP routes, DICOM 110100 Application Activity else
//   subtype   the route (system urn:ward:route)
//   action    R for GET/HEAD, C for PUT, D for DELETE, E (execute) otherwise
//   recorded  the record's time;  outcome 0 (< 400), 4 (4xx), 8 (5xx or none)
//   agent     the principal (who.identifier), requestor true, role as text
//   source    observer "Ward"
//   entity    the hashed patient key (what.identifier), the model with its file hash, and the
//             request with the prompt/output hashes, versions and safety flags as details
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "audit/audit.h"

namespace ward::audit {

// The AuditEvent of one stored record; its id is "ward-audit-<seq>".
nlohmann::json to_fhir_audit_event(const StoredRecord& stored);

// The AuditEvent.action code for a route ("POST /v1/chat/completions" -> "E").
std::string_view fhir_action(std::string_view route);
// The AuditEvent.outcome code for an HTTP status: "0", "4" or "8".
std::string_view fhir_outcome(int http_status);

}  // namespace ward::audit
