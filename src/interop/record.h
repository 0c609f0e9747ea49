// PatientRecord: one patient's clinical data, whatever it was read from (FHIR R4 resources,
// Bulk NDJSON, HL7 v2 messages). Every item keeps where it came from (a Source: the FHIR
// resource "Type/id", or the HL7 message control id and segment) so that an answer built from
// it can cite it. Items read twice (the same resource ingested again, or the same lab result
// from an HL7 feed and a FHIR export) are merged by dedupe(), which keeps every source.
//
// Dates are kept as ISO 8601 text as received ("2020-03-06", "2020-03-06T20:20:23-08:00");
// HL7 timestamps are converted to the same form. date_key() gives the sortable "YYYY-MM-DD".
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ward::interop {

// Well-known code systems.
inline constexpr std::string_view kSnomed = "http://snomed.info/sct";
inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kRxNorm = "http://www.nlm.nih.gov/research/umls/rxnorm";
inline constexpr std::string_view kIcd10 = "http://hl7.org/fhir/sid/icd-10-cm";
inline constexpr std::string_view kCvx = "http://hl7.org/fhir/sid/cvx";

struct Coding {
    std::string system;  // a URI, or an HL7 v2 coding system name ("LN", "WinPath")
    std::string code;
    std::string display;
    bool operator==(const Coding&) const = default;
};

// A FHIR CodeableConcept (or an HL7 CE/CWE field).
struct Concept {
    std::vector<Coding> codings;
    std::string text;
    // The best human label: text, else the first display, else the first code.
    std::string label() const;
    // The first coding of `system`, or null.
    const Coding* find(std::string_view system) const;
    // "system|code" of the first coding ("" when none): the identity used for deduplication.
    std::string key() const;
    bool empty() const { return codings.empty() && text.empty(); }
    bool operator==(const Concept&) const = default;
};

// Where an item came from.
struct Source {
    enum class Kind : uint8_t { kFhir, kHl7 };
    Kind kind = Kind::kFhir;
    std::string id;       // FHIR "Observation/abc" or the HL7 message control id (MSH-10)
    std::string locator;  // HL7: the segment ("OBX[2]", 1-based among its kind); FHIR: ""
    std::string origin;   // the file or feed it was read from (may be empty)
    // "Observation/abc" or "hl7:1033017844/OBX[2]".
    std::string to_string() const;
    bool operator==(const Source&) const = default;
};

struct Identifier {
    std::string system;  // FHIR system URI or HL7 assigning authority / type ("SIMULATOR MRN/MRN")
    std::string value;
    bool operator==(const Identifier&) const = default;
};

struct Demographics {
    std::string family_name;
    std::vector<std::string> given_names;
    std::string gender;      // FHIR administrative gender: male | female | other | unknown
    std::string birth_date;  // YYYY-MM-DD
    std::string deceased;    // a date, "true", or ""
    std::string city, state, country;
    std::string language;
    std::vector<Identifier> identifiers;
    std::vector<Source> sources;
    std::string display_name() const;  // "Bibi254 Schowalter414"
};

struct Problem {
    Concept code;
    std::string clinical_status;  // active | recurrence | relapse | inactive | remission | resolved
    std::string verification_status;
    std::string category;  // problem-list-item | encounter-diagnosis | ...
    std::string onset, abatement, recorded;
    std::vector<Source> sources;
    bool active() const;
};

struct Medication {
    enum class Kind : uint8_t { kRequest, kStatement, kAdministration, kOrder };
    Kind kind = Kind::kRequest;
    Concept code;
    std::string status;  // active | completed | stopped | ...
    std::string dosage;  // free text "1 tablet by mouth twice daily"
    std::optional<double> dose_value;
    std::string dose_unit;
    std::string start, end;  // authoredOn/effective start, end
    std::vector<Source> sources;
    bool current() const;
};

struct Reaction {
    std::vector<std::string> manifestations;
    std::string severity;
};

struct Allergy {
    Concept code;
    std::string clinical_status;  // active | inactive | resolved
    std::string criticality;      // low | high | unable-to-assess
    std::string category;         // food | medication | environment | biologic
    std::string type;             // allergy | intolerance
    std::string onset;
    std::vector<Reaction> reactions;
    std::vector<Source> sources;
};

// The value of an observation or one of its components (FHIR value[x], HL7 OBX-5).
struct ObservationValue {
    enum class Kind : uint8_t {
        kNone,
        kQuantity,  // number + unit (also valueInteger, HL7 NM/SN)
        kConcept,   // valueCodeableConcept, HL7 CE/CWE
        kString,    // valueString, HL7 ST/TX/FT
        kBoolean,
        kRange,
        kRatio,
        kPeriod,
        kDateTime,  // valueDateTime, valueTime, HL7 DT/TM/TS
        kSampledData,
    };
    Kind kind = Kind::kNone;
    std::optional<double> number;  // quantity value, range low, ratio numerator
    std::optional<double> high;    // range high, ratio denominator
    std::string comparator;        // "<", "<=", ">=", ">"
    std::string unit;
    std::string text;  // string, boolean ("true"/"false"), date-time, concept label, period
    Concept concept_value;
    // A compact rendering: "140 mmHg", "Negative", "1.2-3.4 mg/L", "1/2".
    std::string to_string() const;
    bool operator==(const ObservationValue&) const = default;
};

struct ReferenceRange {
    std::optional<double> low, high;
    std::string unit;
    std::string text;
    bool operator==(const ReferenceRange&) const = default;
};

struct ObservationComponent {
    Concept code;
    ObservationValue value;
    std::vector<std::string> interpretation;  // codes such as "H", "L", "A", "N"
};

struct Observation {
    Concept code;
    std::string category;  // vital-signs | laboratory | survey | social-history | ...
    std::string status;
    std::string effective;  // effectiveDateTime / period start / HL7 OBX-14 or OBR-7
    ObservationValue value;
    std::vector<ObservationComponent> components;
    std::vector<ReferenceRange> reference_ranges;
    std::vector<std::string> interpretation;  // codes: H, L, HH, LL, A, AA, N, POS, NEG, ...
    std::vector<std::string> notes;
    std::vector<Source> sources;
    // True when an interpretation code flags it abnormal or the value lies outside a range.
    bool abnormal() const;
    bool vital() const { return category == "vital-signs"; }
};

struct Procedure {
    Concept code;
    std::string status;
    std::string performed;  // start (or the only date)
    std::string performed_end;
    std::vector<Source> sources;
};

struct Immunization {
    Concept vaccine;
    std::string status;
    std::string date;
    std::vector<Source> sources;
};

struct Encounter {
    std::string encounter_class;  // AMB | IMP | EMER | ... (HL7 PV1-2 mapped: I→IMP, O→AMB, E→EMER)
    Concept type;
    std::string status;
    std::string start, end;
    std::string reason;
    std::string provider;  // practitioner or organisation display name
    std::string location;
    std::string visit_id;  // HL7 PV1-19: ADT A03/A08 of the same visit update one encounter
    std::vector<Source> sources;
};

// A clinical note: a DocumentReference (attachments decoded), a DiagnosticReport's conclusion
// or presented form, an HL7 NTE or text result.
struct Note {
    std::string title;
    std::string date;
    std::string author;
    std::string content_type;
    std::string text;
    std::vector<Source> sources;
};

struct Report {
    Concept code;
    std::string status;
    std::string date;
    std::string conclusion;
    std::vector<std::string> result_ids;  // sources of its observations ("Observation/x")
    std::vector<Source> sources;
};

struct CarePlan {
    std::string title;
    std::string status;
    std::string start, end;
    std::vector<std::string> activities;
    std::vector<Source> sources;
};

struct PatientRecord {
    std::string id;  // the patient's key in the store: FHIR Patient.id or HL7 PID-3 id
    Demographics demographics;
    std::vector<Problem> problems;
    std::vector<Medication> medications;
    std::vector<Allergy> allergies;
    std::vector<Observation> observations;  // labs, vitals, surveys as time series
    std::vector<Procedure> procedures;
    std::vector<Immunization> immunizations;
    std::vector<Encounter> encounters;
    std::vector<Note> notes;
    std::vector<Report> reports;
    std::vector<CarePlan> care_plans;

    // Appends everything of `other` (same patient) and dedupes.
    void merge(PatientRecord&& other);
    // Appends everything of `other` (same patient) without deduplicating (call dedupe() once
    // after many appends).
    void append(PatientRecord&& other);
    // Merges items that are the same fact: same source id, or same code, date and value.
    // Keeps the first item and adds the others' sources to it. Deterministic: the result
    // depends only on the items' order.
    void dedupe();
    size_t item_count() const;
};

// "2020-03-06T20:20:23-08:00" → "2020-03-06"; "2020-03" → "2020-03"; "" → "".
std::string_view date_key(std::string_view date);
// Days since 1970-01-01 of a "YYYY[-MM[-DD]]..." date (missing month/day count as 1);
// nullopt when it does not start with a valid date.
std::optional<int64_t> days_from_date(std::string_view date);
// True when `date` is a FHIR date/dateTime/instant: YYYY, YYYY-MM, YYYY-MM-DD, or
// YYYY-MM-DDThh:mm[:ss[.fff]][Z|(+|-)hh:mm].
bool is_fhir_date(std::string_view date);

}  // namespace ward::interop
