// The patient store: PatientRecords kept in SQLite (common/sqlite.h), one row per patient with
// the record as JSON, an identifier index so that data arriving under another identifier of a
// known patient (an HL7 MRN listed on the FHIR Patient) joins the same record, the directory
// of practitioner and organisation names, the resources kept but not interpreted, and a log of
// every ingestion (file, SHA-256, counts, first error).
//
// Thread safety: one PatientStore per thread (it owns one SQLite connection); several
// processes may share the file (WAL, busy timeout).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"
#include "interop/fhir.h"
#include "interop/record.h"

namespace ward::interop {

// The record as JSON (the store's format; stable field names) and back.
std::string record_to_json(const PatientRecord& record);
// Errors: kDataLoss when the text is not a record.
Result<PatientRecord> record_from_json(std::string_view text);

struct PatientSummary {
    std::string id;
    std::string name;
    std::string gender;
    std::string birth_date;
    size_t n_items = 0;
    std::string updated;  // UTC, ISO 8601
};

struct IngestLogEntry {
    std::string origin;  // file path or "mllp:<peer>"
    std::string sha256;  // of the bytes read
    size_t n_resources = 0, n_read = 0, n_errors = 0;
    std::string first_error;
};

class PatientStore {
  public:
    // Opens or creates the store at `path` (":memory:" for tests). Errors from SQLite.
    static Result<PatientStore> open(const std::string& path);

    // Merges each record into the stored one of the same patient (same id, or sharing an
    // identifier), deduplicating, in one transaction: all or nothing.
    Status put(std::vector<PatientRecord> records);
    // Everything a read produced: its records, directory names and other resources.
    Status put(ReadResult&& result, std::string_view origin);
    // kNotFound when there is no such patient (by id or by an identifier value).
    Result<PatientRecord> get(std::string_view id_or_identifier);
    // All patients, ordered by id.
    Result<std::vector<PatientSummary>> list();
    Result<std::string> directory_name(std::string_view ref);
    Status log_ingest(const IngestLogEntry& entry);
    Result<std::vector<IngestLogEntry>> ingest_log();

  private:
    explicit PatientStore(Database db) : db_(std::move(db)) {}
    Status put_one(PatientRecord&& record);
    Result<std::optional<std::string>> resolve(std::string_view id_or_identifier);
    Database db_;
};

}  // namespace ward::interop
