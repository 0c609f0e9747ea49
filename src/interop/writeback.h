// Writing AI-generated text back to an EHR: a FHIR R4 transaction Bundle holding a
// DocumentReference (the text as a base64 text/plain attachment, docStatus preliminary, tagged
// AI-asserted) and a Provenance that targets it and names the model and its file's SHA-256 as
// the authoring agent, so that an EHR stores the text and shows where it came from.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "interop/record.h"

namespace ward::interop {

struct GeneratedDocument {
    std::string patient_id;     // the FHIR Patient id the text is about
    std::string text;           // the generated text (UTF-8)
    std::string title;          // "AI-generated patient summary"
    std::string created;        // FHIR instant, e.g. "2026-11-27T19:00:00Z"
    std::string model_name;     // "med42-8b-q4_k_m"
    std::string model_sha256;   // 64 hex digits: SHA-256 of the model file
    std::string task;           // "general summary", "oncology history", ...
    std::vector<Source> cited;  // sources the text was built from (Provenance.entity)
    std::string document_id;    // optional; derived from the content when empty
};

// The transaction Bundle as JSON (pretty printed, deterministic). Errors: kInvalidArgument for
// an empty patient id or text, a created time that is not a FHIR instant, or a model hash that
// is not 64 hex digits.
Result<std::string> make_document_bundle(const GeneratedDocument& doc);

}  // namespace ward::interop
