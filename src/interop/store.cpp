#include "interop/store.h"

#include <ctime>

#include <nlohmann/json.hpp>

#include "common/civil_date.h"

namespace nlohmann {
template <typename T>
struct adl_serializer<std::optional<T>> {
    static void to_json(json& j, const std::optional<T>& v) {
        if (v)
            j = *v;
        else
            j = nullptr;
    }
    static void from_json(const json& j, std::optional<T>& v) {
        if (j.is_null())
            v.reset();
        else
            v = j.get<T>();
    }
};
}  // namespace nlohmann

namespace ward::interop {

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Coding, system, code, display)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Concept, codings, text)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Source, kind, id, locator, origin)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Identifier, system, value)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Demographics, family_name, given_names, gender,
                                                birth_date, deceased, city, state, country,
                                                language, identifiers, sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Problem, code, clinical_status, verification_status,
                                                category, onset, abatement, recorded, sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Medication, kind, code, status, dosage, dose_value,
                                                dose_unit, start, end, sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Reaction, manifestations, severity)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Allergy, code, clinical_status, criticality,
                                                category, type, onset, reactions, sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ObservationValue, kind, number, high, comparator,
                                                unit, text, concept_value)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ReferenceRange, low, high, unit, text)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ObservationComponent, code, value, interpretation)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Observation, code, category, status, effective,
                                                value, components, reference_ranges, interpretation,
                                                notes, sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Procedure, code, status, performed, performed_end,
                                                sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Immunization, vaccine, status, date, sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Encounter, encounter_class, type, status, start,
                                                end, reason, provider, location, visit_id, sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Note, title, date, author, content_type, text,
                                                sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Report, code, status, date, conclusion, result_ids,
                                                sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(CarePlan, title, status, start, end, activities,
                                                sources)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PatientRecord, id, demographics, problems,
                                                medications, allergies, observations, procedures,
                                                immunizations, encounters, notes, reports,
                                                care_plans)

std::string record_to_json(const PatientRecord& record) {
    return nlohmann::json(record).dump();
}

Result<PatientRecord> record_from_json(std::string_view text) {
    try {
        return nlohmann::json::parse(text).get<PatientRecord>();
    } catch (const std::exception& e) {
        return data_loss("store: stored record is not readable: {}", e.what());
    }
}

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS patients (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL DEFAULT '',
  gender TEXT NOT NULL DEFAULT '',
  birth_date TEXT NOT NULL DEFAULT '',
  n_items INTEGER NOT NULL DEFAULT 0,
  record TEXT NOT NULL,
  updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identifiers (
  system TEXT NOT NULL,
  value TEXT NOT NULL,
  patient_id TEXT NOT NULL REFERENCES patients(id),
  PRIMARY KEY (system, value)
);
CREATE INDEX IF NOT EXISTS identifiers_value ON identifiers(value);
CREATE TABLE IF NOT EXISTS directory (ref TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS other_resources (
  type TEXT NOT NULL, id TEXT NOT NULL, patient_id TEXT NOT NULL, origin TEXT NOT NULL,
  PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS ingests (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  origin TEXT NOT NULL, sha256 TEXT NOT NULL, at TEXT NOT NULL,
  n_resources INTEGER NOT NULL, n_read INTEGER NOT NULL, n_errors INTEGER NOT NULL,
  first_error TEXT NOT NULL
);
)sql";

std::string now_utc() {
    return utc_now();
}

}  // namespace

Result<PatientStore> PatientStore::open(const std::string& path) {
    WARD_ASSIGN_OR_RETURN(Database db, Database::open(path));
    WARD_TRY(db.exec(kSchema));
    return PatientStore(std::move(db));
}

Result<std::optional<std::string>> PatientStore::resolve(std::string_view key) {
    WARD_ASSIGN_OR_RETURN(Statement by_id, db_.prepare("SELECT id FROM patients WHERE id = ?"));
    by_id.bind(1, key);
    WARD_ASSIGN_OR_RETURN(bool row, by_id.step());
    if (row) return std::optional<std::string>(by_id.column_text(0));
    WARD_ASSIGN_OR_RETURN(Statement by_value,
                          db_.prepare("SELECT patient_id FROM identifiers WHERE value = ? "
                                      "ORDER BY system LIMIT 1"));
    by_value.bind(1, key);
    WARD_ASSIGN_OR_RETURN(row, by_value.step());
    if (row) return std::optional<std::string>(by_value.column_text(0));
    return std::optional<std::string>();
}

Status PatientStore::put_one(PatientRecord&& record) {
    if (record.id.empty()) return invalid_argument("store: a record without a patient id");
    // The stored patient: same id, else one sharing an identifier (system and value).
    std::string target = record.id;
    {
        WARD_ASSIGN_OR_RETURN(auto by_id, resolve(record.id));
        bool found = by_id.has_value() && *by_id == record.id;
        if (!found) {
            WARD_ASSIGN_OR_RETURN(Statement q, db_.prepare("SELECT patient_id FROM identifiers "
                                                           "WHERE system = ? AND value = ?"));
            for (const auto& i : record.demographics.identifiers) {
                q.reset();
                q.bind(1, i.system).bind(2, i.value);
                WARD_ASSIGN_OR_RETURN(bool row, q.step());
                if (row) {
                    target = q.column_text(0);
                    break;
                }
            }
        }
    }
    PatientRecord merged;
    WARD_ASSIGN_OR_RETURN(Statement get, db_.prepare("SELECT record FROM patients WHERE id = ?"));
    get.bind(1, target);
    WARD_ASSIGN_OR_RETURN(bool exists, get.step());
    if (exists) {
        WARD_ASSIGN_OR_RETURN(merged, record_from_json(get.column_text(0)));
        merged.merge(std::move(record));
    } else {
        merged = std::move(record);
        merged.id = target;
        merged.dedupe();
    }
    WARD_ASSIGN_OR_RETURN(
        Statement up,
        db_.prepare("INSERT INTO patients (id, name, gender, birth_date, n_items, record, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                    "name = excluded.name, gender = excluded.gender, "
                    "birth_date = excluded.birth_date, n_items = excluded.n_items, "
                    "record = excluded.record, updated = excluded.updated"));
    up.bind(1, merged.id)
        .bind(2, merged.demographics.display_name())
        .bind(3, merged.demographics.gender)
        .bind(4, merged.demographics.birth_date)
        .bind(5, static_cast<int64_t>(merged.item_count()))
        .bind(6, record_to_json(merged))
        .bind(7, now_utc());
    WARD_TRY(up.run());
    WARD_ASSIGN_OR_RETURN(Statement ids,
                          db_.prepare("INSERT OR IGNORE INTO identifiers "
                                      "(system, value, patient_id) VALUES (?, ?, ?)"));
    for (const auto& i : merged.demographics.identifiers) {
        if (i.value.empty()) continue;
        ids.reset();
        ids.bind(1, i.system).bind(2, i.value).bind(3, merged.id);
        WARD_TRY(ids.run());
    }
    return Status();
}

Status PatientStore::put(std::vector<PatientRecord> records) {
    return db_.transaction([&]() -> Status {
        for (auto& r : records) WARD_TRY(put_one(std::move(r)));
        return Status();
    });
}

Status PatientStore::put(ReadResult&& result, std::string_view origin) {
    return db_.transaction([&]() -> Status {
        for (auto& r : result.patients) WARD_TRY(put_one(std::move(r)));
        WARD_ASSIGN_OR_RETURN(Statement dir, db_.prepare("INSERT OR REPLACE INTO directory "
                                                         "(ref, name) VALUES (?, ?)"));
        for (const auto& [ref, name] : result.directory.names) {
            dir.reset();
            dir.bind(1, ref).bind(2, name);
            WARD_TRY(dir.run());
        }
        WARD_ASSIGN_OR_RETURN(Statement other,
                              db_.prepare("INSERT OR REPLACE INTO other_resources "
                                          "(type, id, patient_id, origin) VALUES (?, ?, ?, ?)"));
        for (const auto& o : result.other_resources) {
            other.reset();
            other.bind(1, o.type).bind(2, o.id).bind(3, o.patient_id).bind(4, origin);
            WARD_TRY(other.run());
        }
        return Status();
    });
}

Result<PatientRecord> PatientStore::get(std::string_view key) {
    WARD_ASSIGN_OR_RETURN(auto id, resolve(key));
    if (!id) return not_found("store: no patient \"{}\"", key);
    WARD_ASSIGN_OR_RETURN(Statement get, db_.prepare("SELECT record FROM patients WHERE id = ?"));
    get.bind(1, *id);
    WARD_ASSIGN_OR_RETURN(bool row, get.step());
    if (!row) return not_found("store: no patient \"{}\"", key);
    return record_from_json(get.column_text(0));
}

Result<std::vector<PatientSummary>> PatientStore::list() {
    WARD_ASSIGN_OR_RETURN(Statement q, db_.prepare("SELECT id, name, gender, birth_date, n_items, "
                                                   "updated FROM patients ORDER BY id"));
    std::vector<PatientSummary> out;
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) break;
        out.push_back({q.column_text(0), q.column_text(1), q.column_text(2), q.column_text(3),
                       static_cast<size_t>(q.column_int(4)), q.column_text(5)});
    }
    return out;
}

Result<std::string> PatientStore::directory_name(std::string_view ref) {
    WARD_ASSIGN_OR_RETURN(Statement q, db_.prepare("SELECT name FROM directory WHERE ref = ?"));
    q.bind(1, ref);
    WARD_ASSIGN_OR_RETURN(bool row, q.step());
    if (!row) return not_found("store: no directory entry \"{}\"", ref);
    return q.column_text(0);
}

Status PatientStore::log_ingest(const IngestLogEntry& e) {
    WARD_ASSIGN_OR_RETURN(Statement q,
                          db_.prepare("INSERT INTO ingests (origin, sha256, at, n_resources, "
                                      "n_read, n_errors, first_error) VALUES (?,?,?,?,?,?,?)"));
    q.bind(1, e.origin)
        .bind(2, e.sha256)
        .bind(3, now_utc())
        .bind(4, static_cast<int64_t>(e.n_resources))
        .bind(5, static_cast<int64_t>(e.n_read))
        .bind(6, static_cast<int64_t>(e.n_errors))
        .bind(7, e.first_error);
    return q.run();
}

Result<std::vector<IngestLogEntry>> PatientStore::ingest_log() {
    WARD_ASSIGN_OR_RETURN(Statement q,
                          db_.prepare("SELECT origin, sha256, n_resources, n_read, n_errors, "
                                      "first_error FROM ingests ORDER BY seq"));
    std::vector<IngestLogEntry> out;
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) break;
        out.push_back({q.column_text(0), q.column_text(1), static_cast<size_t>(q.column_int(2)),
                       static_cast<size_t>(q.column_int(3)), static_cast<size_t>(q.column_int(4)),
                       q.column_text(5)});
    }
    return out;
}

}  // namespace ward::interop
