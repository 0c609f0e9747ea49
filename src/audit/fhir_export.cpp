#include "audit/fhir_export.h"

namespace ward::audit {
namespace {

using json = nlohmann::json;

constexpr const char* kRouteSystem = "urn:ward:route";
constexpr const char* kPrincipalSystem = "urn:ward:principal";
constexpr const char* kPatientKeySystem = "urn:ward:patient-key-hash";
constexpr const char* kModelSystem = "urn:ward:model";
constexpr const char* kRequestSystem = "urn:ward:request-id";
constexpr const char* kEntityTypeSystem = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
constexpr const char* kObjectRoleSystem = "http://terminology.hl7.org/CodeSystem/object-role";

std::string_view method_of(std::string_view route) {
    size_t space = route.find(' ');
    return space == std::string_view::npos ? std::string_view() : route.substr(0, space);
}

bool is_http_method(std::string_view m) {
    for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
        if (m == known) return true;
    }
    return false;
}

json detail(std::string_view type, const std::string& value) {
    return {{"type", type}, {"valueString", value}};
}

}  // namespace

std::string_view fhir_action(std::string_view route) {
    std::string_view m = method_of(route);
    if (m == "GET" || m == "HEAD") return "R";
    if (m == "PUT") return "C";
    if (m == "DELETE") return "D";
    return "E";
}

std::string_view fhir_outcome(int http_status) {
    if (http_status >= 100 && http_status < 400) return "0";
    if (http_status >= 400 && http_status < 500) return "4";
    return "8";  // 5xx, or no response at all
}

json to_fhir_audit_event(const StoredRecord& stored) {
    const AuditRecord& r = stored.record;
    json event = {{"resourceType", "AuditEvent"},
                  {"id", "ward-audit-" + std::to_string(stored.seq)}};
    if (is_http_method(method_of(r.route))) {
        event["type"] = {{"system", "http://terminology.hl7.org/CodeSystem/audit-event-type"},
                         {"code", "rest"},
                         {"display", "RESTful Operation"}};
    } else {
        event["type"] = {{"system", "http://dicom.nema.org/resources/ontology/DCM"},
                         {"code", "110100"},
                         {"display", "Application Activity"}};
    }
    event["subtype"] = json::array({{{"system", kRouteSystem}, {"code", r.route}}});
    event["action"] = fhir_action(r.route);
    event["recorded"] = r.time;
    event["outcome"] = fhir_outcome(r.http_status);
    event["outcomeDesc"] = "HTTP " + std::to_string(r.http_status);

    json agent = {
        {"who", {{"identifier", {{"system", kPrincipalSystem}, {"value", r.principal_id}}}}},
        {"requestor", true}};
    if (!r.role.empty()) agent["role"] = json::array({{{"text", r.role}}});
    event["agent"] = json::array({agent});
    event["source"] = {{"site", "Ward"}, {"observer", {{"display", "Ward"}}}};

    json entities = json::array();
    if (!r.patient_key_hash.empty()) {
        entities.push_back(
            {{"what",
              {{"identifier", {{"system", kPatientKeySystem}, {"value", r.patient_key_hash}}}}},
             {"type", {{"system", kEntityTypeSystem}, {"code", "1"}, {"display", "Person"}}},
             {"role", {{"system", kObjectRoleSystem}, {"code", "1"}, {"display", "Patient"}}}});
    }
    if (!r.model.empty()) {
        json model = {
            {"what", {{"identifier", {{"system", kModelSystem}, {"value", r.model}}}}},
            {"type", {{"system", kEntityTypeSystem}, {"code", "2"}, {"display", "System Object"}}},
            {"name", r.model}};
        if (!r.model_sha256.empty()) {
            model["detail"] = json::array({detail("model_sha256", r.model_sha256)});
        }
        entities.push_back(model);
    }
    json request_details = json::array();
    auto add = [&](std::string_view type, const std::string& value) {
        if (!value.empty()) request_details.push_back(detail(type, value));
    };
    add("prompt_sha256", r.prompt_sha256);
    add("output_sha256", r.output_sha256);
    add("policy_version", r.policy_version);
    add("knowledge_version", r.knowledge_version);
    for (const std::string& flag : r.safety_flags) add("safety_flag", flag);
    add("latency_ms", std::to_string(r.latency_ms));
    add("audit_seq", std::to_string(stored.seq));
    add("audit_hash", stored.hash);
    json request = {
        {"type", {{"system", kEntityTypeSystem}, {"code", "2"}, {"display", "System Object"}}},
        {"detail", request_details}};
    if (!r.request_id.empty()) {
        request["what"] = {{"identifier", {{"system", kRequestSystem}, {"value", r.request_id}}}};
    }
    entities.push_back(request);
    event["entity"] = entities;
    return event;
}

}  // namespace ward::audit
