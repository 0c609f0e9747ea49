// The audit trail: one append-only, hash-chained record per request (who, when, which route,
// which patient by hashed key, which model file, which policy and knowledge versions, hashes of
// prompt and output, safety flags, status, latency). Records live in SQLite (audit.db), one row
// each: seq (1, 2, 3, ... without gaps), the record as canonical JSON, prev_hash, and
// hash = SHA-256(prev_hash || canonical JSON), with 64 zeros as the genesis prev_hash.
//
// Deleting, editing or reordering rows breaks the chain, which verify() finds. Deleting the
// newest rows cannot be seen from the chain alone, so every append also writes the head (seq and
// hash of the newest record) to the sidecar file "<db>.head", and verify() compares the log
// with it. Someone who can write both files can still rewrite everything: ship the head
// (`ward audit head`) to a separate system to close that gap (docs/audit.md).
//
// Thread safety: an AuditLog is safe to share between threads. Appends are serialised on one
// connection (BEGIN IMMEDIATE transactions, WAL journal, synchronous=FULL) with group commit:
// appends that arrive while a write is in progress are stored together in the next
// transaction, in arrival order. verify() and the exports read through their own connection
// and do not block appends. One process should
// append to a given log at a time (the head sidecar is written by the appending process).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"

namespace ward::audit {

// 64 hex zeros: the prev_hash of record 1.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// One interaction. Hashes are lower-case hex SHA-256; none of the fields may carry PHI (the
// patient key arrives already hashed, prompts and outputs only as hashes).
struct AuditRecord {
    std::string time;               // UTC, RFC 3339 with milliseconds; append() fills it when empty
    std::string principal_id;       // the API key id or JWT issuer/subject of the caller
    std::string role;               // "clinician", "researcher", "service", "admin"
    std::string route;              // "METHOD /path" for HTTP ("POST /v1/chat/completions")
    std::string patient_key_hash;   // hashed patient key, or empty when no patient
    std::string model;              // model name as configured
    std::string model_sha256;       // SHA-256 of the model file (empty for remote backends)
    std::string policy_version;     // version of the privacy/safety policy applied
    std::string knowledge_version;  // knowledge base version used, or empty
    std::string prompt_sha256;
    std::string output_sha256;
    std::vector<std::string> safety_flags;  // e.g. "crisis", "phi_leak_blocked"
    int http_status = 0;
    int64_t latency_ms = 0;
    std::string request_id;
};

// The canonical JSON of a record with its seq: fixed key order, compact, UTF-8. This exact
// byte string is what the chain hashes, so its format must never change for existing logs.
std::string canonical_json(int64_t seq, const AuditRecord& record);
// Parses canonical JSON back (seq is returned through `seq` when not null). Errors:
// kDataLoss naming the missing or mistyped field.
Result<AuditRecord> parse_record_json(std::string_view json, int64_t* seq = nullptr);
// SHA-256(prev_hash || canonical_json) as lower-case hex.
std::string chain_hash(std::string_view prev_hash, std::string_view canonical);
// Now, UTC, RFC 3339 with milliseconds: "2026-11-27T22:15:35.123Z".
std::string rfc3339_now();

struct AuditRecordId {
    int64_t seq = 0;
    std::string hash;
};

// The newest record of a log: seq 0 and the genesis hash for an empty log.
struct AuditHead {
    int64_t seq = 0;
    std::string hash{kGenesisHash};
};
// "17 <hash>": the text of the head sidecar and of `ward audit head`.
std::string format_head(const AuditHead& head);
// Errors: kDataLoss when the text is not "<seq> <64 hex>".
Result<AuditHead> parse_head(std::string_view text);

struct VerifyReport {
    bool ok = false;
    int64_t records = 0;                   // records read in seq order before stopping
    std::optional<int64_t> first_bad_seq;  // the first record found missing, edited or extra
    std::string problem;                   // one line, empty when ok
    AuditHead head;                        // the newest record read
};

// One stored row, as export and inspection tools see it.
struct StoredRecord {
    int64_t seq = 0;
    AuditRecord record;
    std::string prev_hash;
    std::string hash;
};

class AuditLog {
  public:
    // Opens or creates the log at `path` (a file; the head sidecar is path + ".head"). A new,
    // empty log gets a head of seq 0. Errors: SQLite errors (kInternal, kDataLoss for a file
    // that is not a database); kInvalidArgument for ":memory:" or an empty path.
    static Result<std::unique_ptr<AuditLog>> open(const std::string& path);

    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Appends one record (filling `time` when empty) and rewrites the head sidecar; returns once
    // the record is committed to disk.
    // Returns the new record's seq and hash. Errors: kInvalidArgument for a malformed hash
    // field; SQLite errors; kInternal when the head cannot be written (the record is stored,
    // and verify() will report the stale head until the next successful append).
    Result<AuditRecordId> append(const AuditRecord& record);

    // Recomputes every hash in seq order and compares the end of the log with the head
    // sidecar. A failed check is a report with ok == false, not an error; errors are for
    // logs that cannot be read at all.
    Result<VerifyReport> verify() const;

    // The newest record as stored in the database (not the sidecar).
    Result<AuditHead> head() const;

    // Calls `fn` for every record in seq order, stopping at the first error it returns.
    Status for_each(const std::function<Status(const StoredRecord&)>& fn) const;

    // Writes one FHIR R4 AuditEvent per record, one JSON object per line (NDJSON).
    Status export_fhir(std::ostream& out) const;

    const std::string& path() const { return path_; }
    std::string head_path() const { return path_ + ".head"; }

  private:
    struct PendingAppend {
        const AuditRecord* record;
        Result<AuditRecordId>* result;
        bool done = false;
    };

    AuditLog(std::string path, Database db) : path_(std::move(path)), db_(std::move(db)) {}
    // Stores `batch` in one transaction, then writes the head once; sets every result.
    void write_batch(const std::vector<PendingAppend*>& batch);

    std::string path_;
    mutable std::mutex mutex_;  // guards db_ and the head sidecar
    mutable Database db_;
    std::mutex queue_mutex_;  // guards queue_ and writing_
    std::condition_variable written_;
    std::vector<PendingAppend*> queue_;
    bool writing_ = false;
};

// The default log: $WARD_DATA_DIR/audit.db, else ward-data/audit.db.
std::string default_audit_path();

}  // namespace ward::audit
