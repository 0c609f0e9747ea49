// CDS Hooks 2.0 (https://cds-hooks.hl7.org): the pieces of Ward's patient-view service that do
// not touch HTTP, so that the server's routes stay thin and every rule here is tested.
//
//   GET  {base}/cds-services                 -> discovery()
//   POST {base}/cds-services/{id}            -> parse_hook_request(), record_from_prefetch()
//                                               (or the patient store), assist::summarize(),
//                                               summary_cards() / no_data_response()
//   POST {base}/cds-services/{id}/feedback   -> parse_feedback()
//
// Only the patient-view hook is implemented and offered (service "ward-patient-summary"). The
// card is an AI draft: indicator "info", or "warning" when the summary cites ids that are not
// in the record, was cut short, or cites nothing; its detail lists the cited items and says
// that the text is AI-generated and must be reviewed. It carries no suggestions. When Ward
// has no data for the patient the response is an empty cards array, as the specification
// prescribes for "no decision support" (docs/cds-hooks.md).
//
// Errors are kInvalidArgument naming the JSON path of the field ("context.patientId: required
// for patient-view"); the request body's size is limited by the server before parsing. Nothing
// here logs. CdsHookRequest holds the client's FHIR access token and PHI (prefetched
// resources, feedback comments): never log them; log hookInstance, ids and counts.
//
// Thread safety: pure functions; summary_cards() draws random card ids (thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "assist/summary.h"
#include "common/status.h"
#include "interop/fhir.h"
#include "interop/record.h"

namespace ward::server {

inline constexpr std::string_view kPatientViewHook = "patient-view";
inline constexpr std::string_view kSummaryServiceId = "ward-patient-summary";
// The summary line of a card is kept below this many bytes (the specification: "<140 chars").
inline constexpr size_t kMaxCardSummaryBytes = 140;

struct CdsServiceConfig {
    std::string id = std::string(kSummaryServiceId);
    std::string title = "Ward patient summary (AI draft)";
    std::string description =
        "A short summary of the patient's record written by a locally hosted language model, "
        "each statement citing the record items it rests on. A draft for the clinician to "
        "review, not a recommendation.";
    std::string usage_requirements =
        "Prefetch of the patient, active conditions, active medication requests, allergies "
        "and recent observations, or the patient's data already ingested into Ward.";
};

// The discovery response: {"services": [the patient-view summary service]} with its prefetch
// templates (patient, conditions, medications, allergies, observations).
nlohmann::json discovery(const CdsServiceConfig& config);

struct FhirAuthorization {
    std::string access_token;  // secret: never log
    std::string token_type;    // "Bearer"
    int64_t expires_in = 0;    // seconds
    std::string scope;
    std::string subject;  // the OAuth client id of this service at the client
};

struct CdsHookRequest {
    std::string hook;           // "patient-view", "order-sign", ...
    std::string hook_instance;  // the client's id of this call
    std::string fhir_server;    // "" when absent
    std::optional<FhirAuthorization> fhir_authorization;
    // The context fields every hook in the specification that has them defines this way;
    // "" when absent (patient-view requires userId and patientId).
    std::string
        user_id;  // "Practitioner/123", "PractitionerRole/..", "Patient/..", "RelatedPerson/.."
    std::string patient_id;
    std::string encounter_id;
    nlohmann::json context = nlohmann::json::object();  // the whole context object
    // Prefetch key -> a FHIR resource (often a searchset Bundle) or null ("no data", which the
    // specification distinguishes from a key that is absent: "not prefetched").
    std::map<std::string, nlohmann::json> prefetch;
    nlohmann::json extension;  // null when absent
};

// Parses and validates a hook call. Errors (kInvalidArgument): not JSON ("cds-hooks: invalid
// JSON at byte N"), nested deeper than 64 levels, not an object, and each field by its path:
// hook, hookInstance (required strings), fhirServer (an http(s) URL; required with
// fhirAuthorization), fhirAuthorization.{access_token, token_type "Bearer", expires_in,
// scope, subject}, context (required object), context.userId (a typed reference),
// context.patientId and context.userId (required for patient-view), context.encounterId
// (string), prefetch (object of resources or null), extension (object).
Result<CdsHookRequest> parse_hook_request(std::string_view body);

// The patient's record from the prefetched resources (every non-null prefetch value, read
// together so references between them resolve). Resources interop does not read are counted in
// `report`, as are resources with errors (left out). Errors: kNotFound when the prefetch holds
// nothing about context.patientId (the caller then tries the patient store);
// kInvalidArgument when it holds data about another patient (never mixed in: fail closed).
Result<interop::PatientRecord> record_from_prefetch(const CdsHookRequest& request,
                                                    interop::ReadReport* report = nullptr);

struct CdsCardOptions {
    std::string source_url;   // absolute URL about Ward at this site; omitted when empty
    std::string source_icon;  // absolute URL of a 100x100 PNG; omitted when empty
    // A link to the FHIR write-back or review page; omitted when empty.
    std::string review_url;
};

// The service response for a summary: {"cards": [one card]} (see the header comment).
nlohmann::json summary_cards(const assist::Summary& summary, const CdsCardOptions& options);

// The response when Ward has no data about the patient: {"cards": []}.
nlohmann::json no_data_response();

// What needs the clinician's attention in a summary (empty: nothing): invented citations,
// generation cut short, no citations at all, empty text. Each entry is one sentence.
std::vector<std::string> summary_concerns(const assist::Summary& summary);

// "AI draft summary for <name>: 4 active problems, 3 medications, 2 allergies; review before
// use", under kMaxCardSummaryBytes (the name is shortened at a UTF-8 boundary first).
std::string card_summary_line(const assist::Summary& summary);

struct CdsFeedbackItem {
    std::string card;                               // the card's uuid
    std::string outcome;                            // "accepted" | "overridden"
    std::vector<std::string> accepted_suggestions;  // suggestion uuids (accepted)
    std::optional<interop::Coding> override_reason;
    std::string user_comment;  // free text from the clinician: may hold PHI, never log
    std::string outcome_timestamp;
};

struct CdsFeedback {
    std::vector<CdsFeedbackItem> items;
};

// Parses a feedback POST: {"feedback": [{card, outcome, acceptedSuggestions (required for
// accepted), overrideReason {reason: Coding, userComment}, outcomeTimestamp}]}. Errors:
// kInvalidArgument naming the path ("feedback[2].outcome: expected accepted or overridden").
Result<CdsFeedback> parse_feedback(std::string_view body);

}  // namespace ward::server
