#include "audit/audit.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <ostream>

#include <nlohmann/json.hpp>

#include "audit/fhir_export.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/mapped_file.h"

namespace ward::audit {
namespace {

constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS audit_log ("
    " seq INTEGER PRIMARY KEY,"
    " record TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL)";

bool is_hex_digest(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

Status check_digest_field(std::string_view name, std::string_view value) {
    if (value.empty() || is_hex_digest(value)) return ok_status();
    return invalid_argument("audit: {} must be 64 lower-case hex digits or empty (got {} chars)",
                            name, value.size());
}

// The patient key arrives hashed; refuse anything that could be a readable identifier with
// spaces or control characters in it, so a caller's mistake does not store PHI.
Status check_patient_key(std::string_view value) {
    if (value.size() > 128) {
        return invalid_argument("audit: patient_key_hash is {} chars (at most 128)", value.size());
    }
    for (char c : value) {
        if (c <= ' ' || c > '~') {
            return invalid_argument(
                "audit: patient_key_hash must be a hash (printable ASCII without spaces)");
        }
    }
    return ok_status();
}

template <typename T>
Status get_field(const nlohmann::json& j, const char* key, T& out) {
    auto it = j.find(key);
    if (it == j.end()) return data_loss("audit: record JSON has no \"{}\"", key);
    try {
        out = it->get<T>();
    } catch (const nlohmann::json::exception&) {
        return data_loss("audit: record JSON field \"{}\" has the wrong type", key);
    }
    return ok_status();
}

// A read-only view of the log through its own connection, so long reads do not hold the
// append mutex.
Result<Database> open_reader(const std::string& path) {
    if (!std::filesystem::exists(path)) return not_found("audit: no log at {}", path);
    return Database::open(path);
}

}  // namespace

std::string canonical_json(int64_t seq, const AuditRecord& r) {
    nlohmann::ordered_json j;
    j["seq"] = seq;
    j["time"] = r.time;
    j["principal_id"] = r.principal_id;
    j["role"] = r.role;
    j["route"] = r.route;
    j["patient_key_hash"] = r.patient_key_hash;
    j["model"] = r.model;
    j["model_sha256"] = r.model_sha256;
    j["policy_version"] = r.policy_version;
    j["knowledge_version"] = r.knowledge_version;
    j["prompt_sha256"] = r.prompt_sha256;
    j["output_sha256"] = r.output_sha256;
    j["safety_flags"] = r.safety_flags;
    j["http_status"] = r.http_status;
    j["latency_ms"] = r.latency_ms;
    j["request_id"] = r.request_id;
    // Invalid UTF-8 becomes U+FFFD: deterministic, so the hash stays reproducible.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<AuditRecord> parse_record_json(std::string_view json, int64_t* seq) {
    nlohmann::json j = nlohmann::json::parse(json, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return data_loss("audit: record is not a JSON object");
    AuditRecord r;
    int64_t s = 0;
    WARD_TRY(get_field(j, "seq", s));
    WARD_TRY(get_field(j, "time", r.time));
    WARD_TRY(get_field(j, "principal_id", r.principal_id));
    WARD_TRY(get_field(j, "role", r.role));
    WARD_TRY(get_field(j, "route", r.route));
    WARD_TRY(get_field(j, "patient_key_hash", r.patient_key_hash));
    WARD_TRY(get_field(j, "model", r.model));
    WARD_TRY(get_field(j, "model_sha256", r.model_sha256));
    WARD_TRY(get_field(j, "policy_version", r.policy_version));
    WARD_TRY(get_field(j, "knowledge_version", r.knowledge_version));
    WARD_TRY(get_field(j, "prompt_sha256", r.prompt_sha256));
    WARD_TRY(get_field(j, "output_sha256", r.output_sha256));
    WARD_TRY(get_field(j, "safety_flags", r.safety_flags));
    WARD_TRY(get_field(j, "http_status", r.http_status));
    WARD_TRY(get_field(j, "latency_ms", r.latency_ms));
    WARD_TRY(get_field(j, "request_id", r.request_id));
    if (seq) *seq = s;
    return r;
}

std::string chain_hash(std::string_view prev_hash, std::string_view canonical) {
    crypto::Sha256 h;
    h.update(crypto::as_bytes(prev_hash));
    h.update(crypto::as_bytes(canonical));
    crypto::Sha256Digest d = h.finish();
    return crypto::to_hex(d);
}

std::string rfc3339_now() {
    auto now = std::chrono::system_clock::now();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count() % 1000));
    return buf;
}

std::string format_head(const AuditHead& head) {
    return fmt::format("{} {}\n", head.seq, head.hash);
}

Result<AuditHead> parse_head(std::string_view text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    size_t space = text.find(' ');
    if (space == std::string_view::npos || space == 0) {
        return data_loss("audit: head is not \"<seq> <hash>\"");
    }
    AuditHead head;
    head.seq = 0;
    for (char c : text.substr(0, space)) {
        if (c < '0' || c > '9' || head.seq > (INT64_MAX - 9) / 10) {
            return data_loss("audit: head seq \"{}\" is not a number", text.substr(0, space));
        }
        head.seq = head.seq * 10 + (c - '0');
    }
    head.hash = std::string(text.substr(space + 1));
    if (!is_hex_digest(head.hash)) return data_loss("audit: head hash is not 64 hex digits");
    return head;
}

std::string default_audit_path() {
    const char* dir = std::getenv("WARD_DATA_DIR");
    std::string base = dir && *dir ? dir : "ward-data";
    return (std::filesystem::path(base) / "audit.db").string();
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& path) {
    if (path.empty() || path == ":memory:" || path.starts_with("file:")) {
        return invalid_argument("audit: the log must be a file path (got \"{}\")", path);
    }
    WARD_ASSIGN_OR_RETURN(Database db, Database::open(path));
    // Every commit reaches the disk before append() returns: an audit record that a power cut
    // can take back is not much of a record.
    WARD_TRY(db.exec("PRAGMA synchronous=FULL"));
    WARD_TRY(db.exec(kSchema));
    std::unique_ptr<AuditLog> log(new AuditLog(path, std::move(db)));
    WARD_ASSIGN_OR_RETURN(AuditHead head, log->head());
    // A new log starts with a head of seq 0. A missing head for a non-empty log is left
    // missing: recreating it here would hide a deletion of the newest records; verify()
    // reports it.
    std::error_code ec;
    if (head.seq == 0 && !std::filesystem::exists(log->head_path(), ec)) {
        WARD_TRY(write_file_atomic(log->head_path(), format_head(head)));
    }
    return log;
}

Result<AuditHead> AuditLog::head() const {
    std::lock_guard lock(mutex_);
    WARD_ASSIGN_OR_RETURN(Statement st,
                          db_.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
    WARD_ASSIGN_OR_RETURN(bool row, st.step());
    AuditHead head;
    if (row) {
        head.seq = st.column_int(0);
        head.hash = st.column_text(1);
    }
    return head;
}

Result<AuditRecordId> AuditLog::append(const AuditRecord& input) {
    WARD_TRY(check_digest_field("model_sha256", input.model_sha256));
    WARD_TRY(check_digest_field("prompt_sha256", input.prompt_sha256));
    WARD_TRY(check_digest_field("output_sha256", input.output_sha256));
    WARD_TRY(check_patient_key(input.patient_key_hash));
    AuditRecord record = input;
    if (record.time.empty()) record.time = rfc3339_now();

    // Group commit: the first caller to find no write in progress becomes the writer and
    // stores every record queued so far in one transaction (one fsync for the lot); the others
    // wait for their result. Under load this turns N fsyncs into one.
    Result<AuditRecordId> result = internal_error("audit: append was not written");
    PendingAppend pending{&record, &result};
    std::unique_lock lock(queue_mutex_);
    queue_.push_back(&pending);
    while (!pending.done) {
        if (writing_) {
            written_.wait(lock);
            continue;
        }
        writing_ = true;
        std::vector<PendingAppend*> batch;
        batch.swap(queue_);
        lock.unlock();
        write_batch(batch);
        lock.lock();
        for (PendingAppend* p : batch) p->done = true;
        writing_ = false;
        written_.notify_all();
    }
    return result;
}

void AuditLog::write_batch(const std::vector<PendingAppend*>& batch) {
    std::lock_guard lock(mutex_);
    std::vector<AuditRecordId> ids;
    ids.reserve(batch.size());
    Status s = db_.transaction([&]() -> Status {
        // Read the tail inside the write transaction: correct even if another connection
        // appended since the last batch.
        WARD_ASSIGN_OR_RETURN(
            Statement last,
            db_.prepare("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
        WARD_ASSIGN_OR_RETURN(bool row, last.step());
        int64_t seq = row ? last.column_int(0) : 0;
        std::string prev_hash = row ? last.column_text(1) : std::string(kGenesisHash);
        WARD_ASSIGN_OR_RETURN(
            Statement ins,
            db_.prepare("INSERT INTO audit_log (seq, record, prev_hash, hash) VALUES (?,?,?,?)"));
        for (const PendingAppend* p : batch) {
            AuditRecordId id;
            id.seq = ++seq;
            std::string canonical = canonical_json(id.seq, *p->record);
            id.hash = chain_hash(prev_hash, canonical);
            ins.reset();
            ins.bind(1, id.seq).bind(2, canonical).bind(3, prev_hash).bind(4, id.hash);
            WARD_TRY(ins.run());
            prev_hash = id.hash;
            ids.push_back(std::move(id));
        }
        return ok_status();
    });
    if (!s.ok()) {
        for (PendingAppend* p : batch) *p->result = s.with_context("audit: append");
        return;
    }
    const AuditRecordId& newest = ids.back();
    Status head_status = write_file_atomic(head_path(), format_head({newest.seq, newest.hash}));
    if (!head_status.ok()) {
        logger("audit")->error("audit: records to {} stored but the head was not written: {}",
                               newest.seq, head_status.message());
    }
    for (size_t i = 0; i < batch.size(); ++i) {
        if (head_status.ok()) {
            *batch[i]->result = std::move(ids[i]);
        } else {
            *batch[i]->result =
                head_status.with_context(fmt::format("audit: record {} stored, head", ids[i].seq));
        }
    }
}

Result<VerifyReport> AuditLog::verify() const {
    WARD_ASSIGN_OR_RETURN(Database reader, open_reader(path_));
    WARD_ASSIGN_OR_RETURN(
        Statement st,
        reader.prepare("SELECT seq, record, prev_hash, hash FROM audit_log ORDER BY seq"));

    // Read the sidecar and take the read snapshot under the append mutex, so both describe the
    // same moment for appends from this process.
    std::optional<AuditHead> sidecar;
    std::string sidecar_problem;
    bool row = false;
    {
        std::lock_guard lock(mutex_);
        auto text = read_file(head_path());
        if (!text) {
            sidecar_problem = fmt::format(
                "head file {} is missing or unreadable: deletion of the newest "
                "records cannot be ruled out",
                head_path());
        } else if (auto h = parse_head(*text); !h) {
            sidecar_problem = fmt::format("head file {}: {}", head_path(), h.error().message());
        } else {
            sidecar = *h;
        }
        WARD_ASSIGN_OR_RETURN(row, st.step());
    }

    VerifyReport report;
    auto fail = [&](int64_t seq, std::string problem) -> Result<VerifyReport> {
        report.ok = false;
        report.first_bad_seq = seq;
        report.problem = std::move(problem);
        return report;
    };
    std::string prev_hash(kGenesisHash);
    std::optional<std::string> hash_at_sidecar_seq;
    if (sidecar && sidecar->seq == 0) hash_at_sidecar_seq = std::string(kGenesisHash);
    int64_t expected = 1;
    for (; row; ++expected) {
        int64_t seq = st.column_int(0);
        std::string json = st.column_text(1);
        std::string stored_prev = st.column_text(2);
        std::string stored_hash = st.column_text(3);
        if (seq != expected) {
            int64_t n = seq - expected;
            if (n == 1)
                return fail(expected, fmt::format("record {} is missing (deleted)", expected));
            return fail(expected,
                        fmt::format("records {} to {} are missing (deleted)", expected, seq - 1));
        }
        if (stored_prev != prev_hash) {
            return fail(seq, fmt::format("record {}: prev_hash does not match record {} "
                                         "(edited or reordered)",
                                         seq, seq - 1));
        }
        if (chain_hash(stored_prev, json) != stored_hash) {
            return fail(seq, fmt::format("record {}: hash mismatch (edited)", seq));
        }
        int64_t json_seq = 0;
        auto parsed = parse_record_json(json, &json_seq);
        if (!parsed) return fail(seq, fmt::format("record {}: {}", seq, parsed.error().message()));
        if (json_seq != seq) {
            return fail(seq, fmt::format("record {}: its JSON says seq {} (moved)", seq, json_seq));
        }
        prev_hash = stored_hash;
        report.records = seq;
        report.head = {seq, stored_hash};
        if (sidecar && sidecar->seq == seq) hash_at_sidecar_seq = stored_hash;
        WARD_ASSIGN_OR_RETURN(row, st.step());
    }

    const int64_t last = report.head.seq;
    if (!sidecar) {
        report.ok = false;
        report.problem = sidecar_problem;
        return report;
    }
    if (sidecar->seq > last) {
        int64_t n = sidecar->seq - last;
        return fail(last + 1,
                    fmt::format("the last {} record{} missing (head says {}, log ends at {})", n,
                                n == 1 ? " is" : "s are", sidecar->seq, last));
    }
    if (hash_at_sidecar_seq != sidecar->hash) {
        return fail(sidecar->seq,
                    fmt::format("record {}: hash differs from the head file (the log was "
                                "rewritten from this record or earlier)",
                                sidecar->seq));
    }
    if (sidecar->seq < last) {
        return fail(sidecar->seq + 1,
                    fmt::format("records {} to {} are not covered by the head (head says {}): "
                                "written outside Ward, or the head write failed",
                                sidecar->seq + 1, last, sidecar->seq));
    }
    report.ok = true;
    return report;
}

Status AuditLog::for_each(const std::function<Status(const StoredRecord&)>& fn) const {
    WARD_ASSIGN_OR_RETURN(Database reader, open_reader(path_));
    WARD_ASSIGN_OR_RETURN(
        Statement st,
        reader.prepare("SELECT seq, record, prev_hash, hash FROM audit_log ORDER BY seq"));
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return ok_status();
        StoredRecord stored;
        stored.seq = st.column_int(0);
        auto parsed = parse_record_json(st.column_text(1));
        if (!parsed) return parsed.error().with_context(fmt::format("record {}", stored.seq));
        stored.record = std::move(parsed).value();
        stored.prev_hash = st.column_text(2);
        stored.hash = st.column_text(3);
        WARD_TRY(fn(stored));
    }
}

Status AuditLog::export_fhir(std::ostream& out) const {
    return for_each([&](const StoredRecord& stored) -> Status {
        out << to_fhir_audit_event(stored).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace)
            << '\n';
        if (!out) return internal_error("audit: export: write failed at record {}", stored.seq);
        return ok_status();
    });
}

}  // namespace ward::audit
