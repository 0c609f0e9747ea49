// Reading FHIR R4 JSON into PatientRecords: single resources, Bundles (collection, batch,
// transaction, searchset, ... with fullUrl and urn:uuid references resolved) and Bulk Data
// NDJSON (one resource per line).
//
// Reading never stops at the first problem. Each resource is read on its own; a resource with an
// error (wrong type, missing required field, dangling reference, bad date, bad base64) is left
// out and reported, and every other resource is kept. A syntax error keeps every Bundle entry
// (or NDJSON line) that was complete before it. Every error names the JSON path and the
// resource: `Bundle.entry[12].resource.valueQuantity.value: expected a number, got a string
// (Observation/abc)`. Resource types Ward does not read (Claim, CareTeam, ...) are kept in
// ReadResult::other_resources and counted, never an error.
//
// Thread safety: the functions are pure; call them from any thread.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "interop/record.h"

namespace ward::interop {

// One problem found while reading.
struct Issue {
    std::string where;    // JSON path ("Bundle.entry[3].resource.code") or "line 4" / "PID-7"
    std::string message;  // "expected a string, got a number (Observation/abc)"
    std::string to_string() const { return where.empty() ? message : where + ": " + message; }
};

struct ReadReport {
    size_t n_resources = 0;                       // resources (or HL7 messages) seen
    size_t n_read = 0;                            // read into a record or the directory
    size_t n_skipped = 0;                         // left out because of an error
    std::map<std::string, size_t> unknown_types;  // resource type → count (kept, not read)
    std::vector<Issue> errors;

    bool ok() const { return errors.empty(); }
    size_t n_unknown() const;
    // OK, or kInvalidArgument with the first error (and how many more there are).
    Status status() const;
    void merge(ReadReport&& other);
};

// Names of practitioners and organisations, for rendering references.
struct Directory {
    std::map<std::string, std::string> names;  // "Practitioner/abc" → "Dr. Jane Roe"
};

// A resource of a type Ward keeps but does not interpret.
struct OtherResource {
    std::string type;
    std::string id;
    std::string patient_id;  // "" when it names no patient
};

struct ReadResult {
    std::vector<PatientRecord> patients;  // sorted by id; each deduplicated
    Directory directory;
    std::vector<OtherResource> other_resources;
    ReadReport report;
};

struct FhirReadOptions {
    std::string origin;  // file or feed name, copied into every Source
    // Larger documents are refused with kResourceExhausted before parsing (memory safety:
    // the reader holds the document and its node index in memory). Bulk NDJSON has no total
    // limit, only this limit per line.
    size_t max_document_bytes = size_t{64} << 20;
};

// Reads one JSON document: a resource or a Bundle (entries' resources, recursively).
ReadResult read_fhir_json(std::string_view text, const FhirReadOptions& options = {});
// Reads Bulk Data NDJSON: one resource per line, blank lines ignored; errors say "line N".
// References between lines ("Patient/123") are resolved by id.
ReadResult read_fhir_ndjson(std::string_view text, const FhirReadOptions& options = {});
// Reads a file: NDJSON when its name ends in .ndjson (or .jsonl), JSON otherwise. Errors
// opening the file come back as the Status.
Result<ReadResult> read_fhir_file(const std::string& path, FhirReadOptions options = {});

// Decodes standard base64 (whitespace ignored). Errors: kInvalidArgument.
Result<std::string> decode_base64(std::string_view text);
std::string encode_base64(std::string_view bytes);

}  // namespace ward::interop
