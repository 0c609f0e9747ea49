#include "interop/fhir.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include <sodium.h>

#include "common/mapped_file.h"
#include "interop/json.h"

namespace ward::interop {

using json::Node;
using json::Type;

size_t ReadReport::n_unknown() const {
    size_t n = 0;
    for (const auto& [type, count] : unknown_types) n += count;
    return n;
}

Status ReadReport::status() const {
    if (errors.empty()) return Status();
    std::string msg = errors.front().to_string();
    if (errors.size() > 1) msg += fmt::format(" (and {} more errors)", errors.size() - 1);
    return Status(StatusCode::kInvalidArgument, std::move(msg));
}

void ReadReport::merge(ReadReport&& other) {
    n_resources += other.n_resources;
    n_read += other.n_read;
    n_skipped += other.n_skipped;
    for (const auto& [t, n] : other.unknown_types) unknown_types[t] += n;
    for (auto& e : other.errors) errors.push_back(std::move(e));
}

Result<std::string> decode_base64(std::string_view text) {
    std::string out(text.size() / 4 * 3 + 3, '\0');
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), " \t\r\n", &len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != text.data() + text.size()) {
        size_t at = end ? static_cast<size_t>(end - text.data()) : 0;
        return invalid_argument("not valid base64 (at character {})", at);
    }
    out.resize(len);
    return out;
}

std::string encode_base64(std::string_view bytes) {
    std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                      bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

namespace {

constexpr std::string_view kKnownTypes[] = {
    "Patient",           "Encounter",           "Condition",    "Observation",
    "MedicationRequest", "MedicationStatement", "Medication",   "AllergyIntolerance",
    "Procedure",         "DiagnosticReport",    "Immunization", "CarePlan",
    "DocumentReference", "Practitioner",        "Organization"};

bool known_type(std::string_view t) {
    for (auto k : kKnownTypes) {
        if (k == t) return true;
    }
    return false;
}

// Reads the resources of one document (or NDJSON file) into records.
class Reader {
  public:
    explicit Reader(const FhirReadOptions& options) : options_(options) {}

    // Registers a resource for reference resolution (first pass).
    void index(Node resource, std::string_view full_url) {
        std::string_view type = resource["resourceType"].text();
        std::string_view id = resource["id"].text();
        if (type.empty()) return;
        std::string local = id.empty() ? "" : std::string(type) + "/" + std::string(id);
        if (!full_url.empty()) {
            by_url_[std::string(full_url)] = local.empty() ? std::string(full_url) : local;
        }
        if (!local.empty()) {
            by_url_.emplace(local, local);
            if (type == "Medication") medications_[local] = resource;
            if (type == "Patient") patient_ids_.insert(std::string(id));
        }
    }

    // Reads one resource (second pass). `line` > 0 prefixes NDJSON errors.
    void read(Node resource, size_t line = 0) {
        line_ = line;
        ++report_.n_resources;
        if (!resource.is_object()) {
            return error(resource, fmt::format("expected a resource object, got {}",
                                               json::type_name(resource.type())));
        }
        Node rt = resource["resourceType"];
        if (!rt.is_string() || rt.text().empty()) {
            return error(rt ? rt : resource, "missing required field \"resourceType\"");
        }
        type_ = rt.text();
        Node id = resource["id"];
        if (id && !id.is_string()) return error(id, expected("a string", id));
        resource_ = std::string(type_) + "/" + (id ? std::string(id.text()) : std::string("?"));
        failed_ = false;
        if (type_ == "Bundle") {
            --report_.n_resources;
            return read_bundle(resource);
        }
        if (!known_type(type_)) {
            ++report_.unknown_types[std::string(type_)];
            std::string pid;
            Node subject = resource["subject"] ? resource["subject"] : resource["patient"];
            if (subject.is_object() && subject["reference"].is_string()) {
                pid = patient_key(resolve(subject["reference"].text()));
            }
            other_.push_back({std::string(type_), std::string(id.text()), pid});
            return;
        }
        read_known(resource);
        if (failed_) {
            ++report_.n_skipped;
        } else {
            ++report_.n_read;
        }
    }

    void read_bundle(Node bundle) {
        Node entries = bundle["entry"];
        if (!entries) return;
        if (!entries.is_array()) return error(entries, expected("an array", entries));
        std::vector<Node> list = entries.children();
        for (Node e : list) {
            if (!e.complete() || !e.is_object()) continue;
            Node r = e["resource"];
            if (r.is_object() && r.complete()) index(r, e["fullUrl"].text());
        }
        for (Node e : list) {
            if (!e.complete()) continue;  // cut off by a syntax error: reported already
            if (!e.is_object()) {
                error(e, expected("an object", e));
                continue;
            }
            Node r = e["resource"];
            if (!r) continue;  // e.g. a transaction-response entry
            read(r, line_);
        }
    }

    ReadResult finish() {
        ReadResult out;
        for (auto& [id, record] : records_) {
            record.dedupe();
            out.patients.push_back(std::move(record));
        }
        out.directory = std::move(directory_);
        out.other_resources = std::move(other_);
        out.report = std::move(report_);
        return out;
    }

    void add_error(std::string where, std::string message) {
        report_.errors.push_back({std::move(where), std::move(message)});
    }
    ReadReport& report() { return report_; }

  private:
    // ---- errors ---------------------------------------------------------------------------
    static std::string expected(std::string_view what, Node got) {
        return fmt::format("expected {}, got {}", what, json::type_name(got.type()));
    }
    void error(Node at, std::string message) {
        failed_ = true;
        std::string where = at.path();
        if (line_ > 0) where = fmt::format("line {}: {}", line_, where);
        if (!resource_.empty() && resource_.back() != '?') message += " (" + resource_ + ")";
        report_.errors.push_back({std::move(where), std::move(message)});
    }
    void missing(Node parent, std::string_view field) {
        error(parent, fmt::format("missing required field \"{}\"", field));
    }

    // ---- typed accessors: report wrong types and return an empty value -----------------------
    std::string str(Node parent, std::string_view key) {
        Node n = parent[key];
        if (!n) return "";
        if (!n.is_string()) {
            error(n, expected("a string", n));
            return "";
        }
        return std::string(n.text());
    }
    std::string required_str(Node parent, std::string_view key) {
        if (!parent[key]) missing(parent, key);
        return str(parent, key);
    }
    std::string date(Node parent, std::string_view key) {
        std::string s = str(parent, key);
        if (!s.empty() && !is_fhir_date(s)) {
            error(parent[key], fmt::format("\"{}\" is not a FHIR date", s));
            return "";
        }
        return s;
    }
    std::optional<double> number(Node n) {
        if (!n) return std::nullopt;
        if (!n.is_number()) {
            error(n, expected("a number", n));
            return std::nullopt;
        }
        auto v = n.number();
        if (!v) error(n, "number out of range");
        return v;
    }
    Node array(Node parent, std::string_view key) {
        Node n = parent[key];
        if (n && !n.is_array()) {
            error(n, expected("an array", n));
            return Node();
        }
        return n;
    }
    Node object(Node parent, std::string_view key) {
        Node n = parent[key];
        if (n && !n.is_object()) {
            error(n, expected("an object", n));
            return Node();
        }
        return n;
    }

    Coding coding(Node n) {
        Coding c;
        if (!n.is_object()) {
            error(n, expected("an object", n));
            return c;
        }
        c.system = str(n, "system");
        c.code = str(n, "code");
        c.display = str(n, "display");
        return c;
    }
    Concept concept_of(Node n) {
        Concept c;
        if (!n) return c;
        if (!n.is_object()) {
            error(n, expected("an object (CodeableConcept)", n));
            return c;
        }
        if (Node codings = array(n, "coding")) {
            for (Node x : codings.children()) c.codings.push_back(coding(x));
        }
        c.text = str(n, "text");
        return c;
    }
    Concept concept_field(Node parent, std::string_view key) { return concept_of(parent[key]); }
    // The first coding's code of a CodeableConcept (statuses such as clinicalStatus).
    std::string concept_code(Node parent, std::string_view key) {
        Concept c = concept_field(parent, key);
        return c.codings.empty() ? c.text : c.codings.front().code;
    }
    // The first coding's code of the first CodeableConcept of an array (category).
    std::string first_code(Node parent, std::string_view key) {
        Node a = array(parent, key);
        if (!a || a.size() == 0) return "";
        Concept c = concept_of(a.children().front());
        return c.codings.empty() ? c.text : c.codings.front().code;
    }

    // ---- references -------------------------------------------------------------------------
    // "Type/id" for a reference, "" when it does not resolve; reports dangling urn:uuid.
    std::string resolve(std::string_view ref) {
        if (ref.empty()) return "";
        auto it = by_url_.find(std::string(ref));
        if (it != by_url_.end()) return it->second;
        if (ref.starts_with("urn:uuid:") || ref.starts_with("urn:oid:")) return "";
        if (ref.starts_with("#")) return std::string(ref);
        if (size_t q = ref.find('?'); q != std::string_view::npos) return "";  // conditional
        // Relative "Type/id" or an absolute URL ending in Type/id[/_history/n].
        if (size_t h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
        size_t slash = ref.rfind('/');
        if (slash == std::string_view::npos || slash == 0) return "";
        size_t type_start = ref.rfind('/', slash - 1);
        type_start = type_start == std::string_view::npos ? 0 : type_start + 1;
        return std::string(ref.substr(type_start));
    }
    // Resolves a Reference object field; reports a dangling reference.
    std::string reference(Node parent, std::string_view key) {
        Node n = object(parent, key);
        if (!n) return "";
        std::string ref = str(n, "reference");
        if (ref.empty()) return "";
        std::string local = resolve(ref);
        if (local.empty() && (ref.starts_with("urn:") || ref.find('?') == std::string::npos)) {
            error(n["reference"], fmt::format("dangling reference \"{}\" (no entry has that "
                                              "fullUrl)",
                                              ref));
        }
        return local;
    }
    static std::string patient_key(std::string_view local) {
        if (!local.starts_with("Patient/")) return "";
        return std::string(local.substr(8));
    }
    // The patient a clinical resource belongs to, from `key` (subject or patient).
    PatientRecord* patient_for(Node resource, std::string_view key) {
        if (!resource[key]) {
            missing(resource, key);
            return nullptr;
        }
        std::string local = reference(resource, key);
        if (failed_) return nullptr;
        std::string pid = patient_key(local);
        if (pid.empty()) {
            error(resource[key], fmt::format("\"{}\" does not refer to a Patient",
                                             str(resource[key], "reference")));
            return nullptr;
        }
        return &record(pid);
    }
    PatientRecord& record(const std::string& pid) {
        auto [it, inserted] = records_.try_emplace(pid);
        if (inserted) it->second.id = pid;
        return it->second;
    }
    std::vector<Source> source() {
        Source s;
        s.kind = Source::Kind::kFhir;
        s.id = resource_;
        s.origin = options_.origin;
        return {s};
    }
    std::string name_of(const std::string& local) {
        auto it = directory_.names.find(local);
        return it == directory_.names.end() ? "" : it->second;
    }
    // The display of a reference, or the directory name of what it refers to.
    std::string reference_display(Node parent, std::string_view key) {
        Node n = parent[key];
        if (!n.is_object()) return "";
        std::string d = str(n, "display");
        if (!d.empty()) return d;
        return name_of(resolve(n["reference"].text()));
    }

    // ---- value[x] ---------------------------------------------------------------------------
    void quantity(Node q, ObservationValue& v) {
        if (!q.is_object()) return error(q, expected("an object (Quantity)", q));
        v.kind = ObservationValue::Kind::kQuantity;
        v.number = number(q["value"]);
        v.comparator = str(q, "comparator");
        v.unit = str(q, "unit");
        if (v.unit.empty()) v.unit = str(q, "code");
    }
    // Reads value[x] of `n` into v; returns false when there is none.
    bool value_x(Node n, ObservationValue& v) {
        using K = ObservationValue::Kind;
        if (Node q = n["valueQuantity"]) {
            quantity(q, v);
        } else if (Node c = n["valueCodeableConcept"]) {
            v.kind = K::kConcept;
            v.concept_value = concept_of(c);
            v.text = v.concept_value.label();
        } else if (Node s = n["valueString"]) {
            v.kind = K::kString;
            v.text = str(n, "valueString");
            (void)s;
        } else if (Node b = n["valueBoolean"]) {
            v.kind = K::kBoolean;
            if (!b.is_bool()) error(b, expected("a boolean", b));
            v.text = std::string(b.text());
        } else if (Node i = n["valueInteger"]) {
            v.kind = K::kQuantity;
            if (!i.integer())
                error(i, i.is_number() ? "expected an integer" : expected("an integer", i));
            v.number = i.number();
        } else if (Node r = n["valueRange"]) {
            v.kind = K::kRange;
            if (!r.is_object()) {
                error(r, expected("an object (Range)", r));
            } else {
                if (Node lo = object(r, "low"))
                    v.number = number(lo["value"]), v.unit = str(lo, "unit");
                if (Node hi = object(r, "high")) {
                    v.high = number(hi["value"]);
                    if (v.unit.empty()) v.unit = str(hi, "unit");
                }
            }
        } else if (Node ra = n["valueRatio"]) {
            v.kind = K::kRatio;
            if (!ra.is_object()) {
                error(ra, expected("an object (Ratio)", ra));
            } else {
                if (Node nu = object(ra, "numerator"))
                    v.number = number(nu["value"]), v.unit = str(nu, "unit");
                if (Node de = object(ra, "denominator")) v.high = number(de["value"]);
            }
        } else if (Node p = n["valuePeriod"]) {
            v.kind = K::kPeriod;
            if (!p.is_object()) {
                error(p, expected("an object (Period)", p));
            } else {
                v.text = date(p, "start") + ".." + date(p, "end");
            }
        } else if (n["valueDateTime"]) {
            v.kind = K::kDateTime;
            v.text = date(n, "valueDateTime");
        } else if (n["valueTime"]) {
            v.kind = K::kDateTime;
            v.text = str(n, "valueTime");
        } else if (Node sd = n["valueSampledData"]) {
            v.kind = K::kSampledData;
            v.text = "[sampled data]";
            if (!sd.is_object()) error(sd, expected("an object (SampledData)", sd));
        } else if (n["dataAbsentReason"]) {
            v.kind = K::kString;
            v.text = "absent: " + concept_field(n, "dataAbsentReason").label();
        } else {
            return false;
        }
        return true;
    }
    std::vector<std::string> interpretation(Node parent) {
        std::vector<std::string> out;
        if (Node a = array(parent, "interpretation")) {
            for (Node c : a.children()) {
                Concept k = concept_of(c);
                if (!k.codings.empty())
                    out.push_back(k.codings.front().code);
                else if (!k.text.empty())
                    out.push_back(k.text);
            }
        }
        return out;
    }
    std::string effective(Node r) {
        if (r["effectiveDateTime"]) return date(r, "effectiveDateTime");
        if (r["effectiveInstant"]) return date(r, "effectiveInstant");
        if (Node p = object(r, "effectivePeriod")) return date(p, "start");
        return "";
    }
    // Text of an Attachment: decoded base64 data for text content, a placeholder otherwise.
    std::string attachment_text(Node a, std::string& content_type) {
        if (!a.is_object()) {
            error(a, expected("an object (Attachment)", a));
            return "";
        }
        content_type = str(a, "contentType");
        Node data = a["data"];
        if (data) {
            if (!data.is_string()) {
                error(data, expected("a string (base64)", data));
                return "";
            }
            auto bytes = decode_base64(data.text());
            if (!bytes) {
                error(data, bytes.error().message());
                return "";
            }
            if (content_type.empty() || content_type.starts_with("text/") ||
                content_type.find("json") != std::string::npos ||
                content_type.find("xml") != std::string::npos) {
                return std::move(*bytes);
            }
            return fmt::format("[{} attachment, {} bytes]", content_type, bytes->size());
        }
        std::string url = str(a, "url");
        if (!url.empty()) return fmt::format("[attachment at {}]", url);
        return "";
    }

    // ---- resources ---------------------------------------------------------------------------
    void read_known(Node r) {
        if (type_ == "Patient") return read_patient(r);
        if (type_ == "Practitioner") return read_practitioner(r);
        if (type_ == "Organization") {
            std::string name = str(r, "name");
            if (!name.empty()) directory_.names[resource_] = name;
            return;
        }
        if (type_ == "Medication") {
            (void)concept_field(r, "code");  // type-checked; used through references
            return;
        }
        if (type_ == "Condition") return read_condition(r);
        if (type_ == "Observation") return read_observation(r);
        if (type_ == "Encounter") return read_encounter(r);
        if (type_ == "MedicationRequest" || type_ == "MedicationStatement") {
            return read_medication(r);
        }
        if (type_ == "AllergyIntolerance") return read_allergy(r);
        if (type_ == "Procedure") return read_procedure(r);
        if (type_ == "Immunization") return read_immunization(r);
        if (type_ == "DiagnosticReport") return read_report(r);
        if (type_ == "CarePlan") return read_care_plan(r);
        if (type_ == "DocumentReference") return read_document(r);
    }

    void read_patient(Node r) {
        std::string id = str(r, "id");
        if (id.empty()) return missing(r, "id");
        Demographics d;
        if (Node names = array(r, "name")) {
            Node chosen;
            for (Node n : names.children()) {
                if (!n.is_object()) {
                    error(n, expected("an object (HumanName)", n));
                    continue;
                }
                if (!chosen || n["use"].text() == "official") chosen = n;
                if (n["use"].text() == "official") break;
            }
            if (chosen) {
                d.family_name = str(chosen, "family");
                if (Node g = array(chosen, "given")) {
                    for (Node x : g.children()) {
                        if (!x.is_string())
                            error(x, expected("a string", x));
                        else
                            d.given_names.emplace_back(x.text());
                    }
                }
            }
        }
        d.gender = str(r, "gender");
        d.birth_date = date(r, "birthDate");
        if (r["deceasedDateTime"]) d.deceased = date(r, "deceasedDateTime");
        if (Node b = r["deceasedBoolean"]) {
            if (!b.is_bool())
                error(b, expected("a boolean", b));
            else if (b.boolean())
                d.deceased = "true";
        }
        if (Node addresses = array(r, "address"); addresses && addresses.size() > 0) {
            Node a = addresses.children().front();
            if (a.is_object()) {
                d.city = str(a, "city");
                d.state = str(a, "state");
                d.country = str(a, "country");
            }
        }
        if (Node comm = array(r, "communication"); comm && comm.size() > 0) {
            Node c = comm.children().front();
            if (c.is_object()) d.language = concept_field(c, "language").label();
        }
        if (Node ids = array(r, "identifier")) {
            for (Node i : ids.children()) {
                if (!i.is_object()) {
                    error(i, expected("an object (Identifier)", i));
                    continue;
                }
                d.identifiers.push_back({str(i, "system"), str(i, "value")});
            }
        }
        if (failed_) return;
        d.sources = source();
        PatientRecord& rec = record(id);
        PatientRecord incoming;
        incoming.demographics = std::move(d);
        rec.append(std::move(incoming));
    }

    void read_practitioner(Node r) {
        Node names = array(r, "name");
        if (!names || names.size() == 0) return;
        Node n = names.children().front();
        if (!n.is_object()) return error(n, expected("an object (HumanName)", n));
        std::string full;
        for (const char* part : {"prefix", "given"}) {
            if (Node a = array(n, part)) {
                for (Node x : a.children()) {
                    if (!x.is_string()) {
                        error(x, expected("a string", x));
                        continue;
                    }
                    if (!full.empty()) full += ' ';
                    full += x.text();
                }
            }
        }
        std::string family = str(n, "family");
        if (!family.empty()) full += (full.empty() ? "" : " ") + family;
        if (!failed_ && !full.empty()) directory_.names[resource_] = full;
    }

    void read_condition(Node r) {
        Problem p;
        p.code = concept_field(r, "code");
        p.clinical_status = concept_code(r, "clinicalStatus");
        p.verification_status = concept_code(r, "verificationStatus");
        p.category = first_code(r, "category");
        if (r["onsetDateTime"])
            p.onset = date(r, "onsetDateTime");
        else if (Node op = object(r, "onsetPeriod"))
            p.onset = date(op, "start");
        if (r["abatementDateTime"])
            p.abatement = date(r, "abatementDateTime");
        else if (Node ap = object(r, "abatementPeriod"))
            p.abatement = date(ap, "end");
        p.recorded = date(r, "recordedDate");
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        p.sources = source();
        rec->problems.push_back(std::move(p));
    }

    void read_observation(Node r) {
        Observation o;
        o.status = required_str(r, "status");
        if (!r["code"]) missing(r, "code");
        o.code = concept_field(r, "code");
        o.category = first_code(r, "category");
        o.effective = effective(r);
        if (o.effective.empty()) o.effective = date(r, "issued");
        value_x(r, o.value);
        if (Node comps = array(r, "component")) {
            for (Node c : comps.children()) {
                if (!c.is_object()) {
                    error(c, expected("an object", c));
                    continue;
                }
                ObservationComponent oc;
                if (!c["code"]) missing(c, "code");
                oc.code = concept_field(c, "code");
                value_x(c, oc.value);
                oc.interpretation = interpretation(c);
                o.components.push_back(std::move(oc));
            }
        }
        if (Node ranges = array(r, "referenceRange")) {
            for (Node x : ranges.children()) {
                if (!x.is_object()) {
                    error(x, expected("an object", x));
                    continue;
                }
                ReferenceRange rr;
                if (Node lo = object(x, "low"))
                    rr.low = number(lo["value"]), rr.unit = str(lo, "unit");
                if (Node hi = object(x, "high"))
                    rr.high = number(hi["value"]), rr.unit = str(hi, "unit");
                rr.text = str(x, "text");
                o.reference_ranges.push_back(std::move(rr));
            }
        }
        o.interpretation = interpretation(r);
        if (Node notes = array(r, "note")) {
            for (Node n : notes.children()) {
                if (n.is_object()) o.notes.push_back(str(n, "text"));
            }
        }
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        o.sources = source();
        rec->observations.push_back(std::move(o));
    }

    void read_encounter(Node r) {
        Encounter e;
        e.status = required_str(r, "status");
        Node cls = r["class"];
        if (!cls)
            missing(r, "class");
        else if (!cls.is_object())
            error(cls, expected("an object (Coding)", cls));
        else
            e.encounter_class = coding(cls).code;
        if (Node types = array(r, "type"); types && types.size() > 0) {
            e.type = concept_of(types.children().front());
        }
        if (Node p = object(r, "period")) {
            e.start = date(p, "start");
            e.end = date(p, "end");
        }
        if (Node reasons = array(r, "reasonCode"); reasons && reasons.size() > 0) {
            e.reason = concept_of(reasons.children().front()).label();
        }
        if (Node parts = array(r, "participant"); parts && parts.size() > 0) {
            Node p = parts.children().front();
            if (p.is_object()) e.provider = reference_display(p, "individual");
        }
        if (e.provider.empty()) e.provider = reference_display(r, "serviceProvider");
        if (Node locs = array(r, "location"); locs && locs.size() > 0) {
            Node l = locs.children().front();
            if (l.is_object()) e.location = reference_display(l, "location");
        }
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        e.sources = source();
        rec->encounters.push_back(std::move(e));
    }

    void read_medication(Node r) {
        Medication m;
        bool request = type_ == "MedicationRequest";
        m.kind = request ? Medication::Kind::kRequest : Medication::Kind::kStatement;
        m.status = required_str(r, "status");
        if (request) (void)required_str(r, "intent");
        if (r["medicationCodeableConcept"]) {
            m.code = concept_field(r, "medicationCodeableConcept");
        } else if (Node ref = object(r, "medicationReference")) {
            std::string target = str(ref, "reference");
            Node med;
            if (target.starts_with("#")) {
                if (Node contained = array(r, "contained")) {
                    for (Node c : contained.children()) {
                        if (c["resourceType"].text() == "Medication" &&
                            "#" + std::string(c["id"].text()) == target) {
                            med = c;
                        }
                    }
                }
            } else {
                std::string local = resolve(target);
                auto it = medications_.find(local);
                if (it != medications_.end()) med = it->second;
            }
            if (med) {
                m.code = concept_field(med, "code");
            } else if (!ref["display"].text().empty()) {
                m.code.text = str(ref, "display");
            } else {
                error(
                    ref["reference"] ? ref["reference"] : ref,
                    fmt::format("dangling reference \"{}\" (no Medication with that id)", target));
            }
        } else if (!failed_) {
            missing(r, "medication[x]");
        }
        if (Node dosages = array(r, request ? "dosageInstruction" : "dosage");
            dosages && dosages.size() > 0) {
            Node d = dosages.children().front();
            if (d.is_object()) {
                m.dosage = str(d, "text");
                if (Node dr = array(d, "doseAndRate"); dr && dr.size() > 0) {
                    Node x = dr.children().front();
                    if (Node q = object(x, "doseQuantity")) {
                        m.dose_value = number(q["value"]);
                        m.dose_unit = str(q, "unit");
                    }
                }
                if (m.dosage.empty()) {
                    if (Node t = object(d, "timing")) {
                        if (Node rep = object(t, "repeat")) {
                            auto freq = rep["frequency"].integer();
                            auto period = rep["period"].number();
                            std::string unit = str(rep, "periodUnit");
                            if (freq && period) {
                                m.dosage = fmt::format("{} times per {} {}", *freq, *period, unit);
                            }
                        }
                    }
                }
            }
        }
        if (request) {
            m.start = date(r, "authoredOn");
        } else if (r["effectiveDateTime"]) {
            m.start = date(r, "effectiveDateTime");
        } else if (Node p = object(r, "effectivePeriod")) {
            m.start = date(p, "start");
            m.end = date(p, "end");
        }
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        m.sources = source();
        rec->medications.push_back(std::move(m));
    }

    void read_allergy(Node r) {
        Allergy a;
        a.code = concept_field(r, "code");
        a.clinical_status = concept_code(r, "clinicalStatus");
        a.criticality = str(r, "criticality");
        a.type = str(r, "type");
        if (Node cats = array(r, "category"); cats && cats.size() > 0) {
            Node c = cats.children().front();
            if (c.is_string()) a.category = std::string(c.text());
        }
        if (r["onsetDateTime"]) a.onset = date(r, "onsetDateTime");
        if (Node reactions = array(r, "reaction")) {
            for (Node x : reactions.children()) {
                if (!x.is_object()) {
                    error(x, expected("an object", x));
                    continue;
                }
                Reaction re;
                if (Node ms = array(x, "manifestation")) {
                    for (Node m : ms.children()) re.manifestations.push_back(concept_of(m).label());
                }
                re.severity = str(x, "severity");
                a.reactions.push_back(std::move(re));
            }
        }
        PatientRecord* rec = patient_for(r, "patient");
        if (failed_ || !rec) return;
        a.sources = source();
        rec->allergies.push_back(std::move(a));
    }

    void read_procedure(Node r) {
        Procedure p;
        p.status = required_str(r, "status");
        p.code = concept_field(r, "code");
        if (r["performedDateTime"]) {
            p.performed = date(r, "performedDateTime");
        } else if (Node per = object(r, "performedPeriod")) {
            p.performed = date(per, "start");
            p.performed_end = date(per, "end");
        }
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        p.sources = source();
        rec->procedures.push_back(std::move(p));
    }

    void read_immunization(Node r) {
        Immunization i;
        i.status = required_str(r, "status");
        if (!r["vaccineCode"]) missing(r, "vaccineCode");
        i.vaccine = concept_field(r, "vaccineCode");
        if (r["occurrenceDateTime"]) {
            i.date = date(r, "occurrenceDateTime");
        } else if (r["occurrenceString"]) {
            i.date = str(r, "occurrenceString");
        } else {
            missing(r, "occurrence[x]");
        }
        PatientRecord* rec = patient_for(r, "patient");
        if (failed_ || !rec) return;
        i.sources = source();
        rec->immunizations.push_back(std::move(i));
    }

    void read_report(Node r) {
        Report rep;
        rep.status = required_str(r, "status");
        if (!r["code"]) missing(r, "code");
        rep.code = concept_field(r, "code");
        rep.date = effective(r);
        if (rep.date.empty()) rep.date = date(r, "issued");
        rep.conclusion = str(r, "conclusion");
        if (Node results = array(r, "result")) {
            for (Node x : results.children()) {
                if (!x.is_object()) {
                    error(x, expected("an object (Reference)", x));
                    continue;
                }
                std::string ref = str(x, "reference");
                std::string local = resolve(ref);
                if (local.empty() && ref.starts_with("urn:")) {
                    error(x["reference"], fmt::format("dangling reference \"{}\" (no entry has "
                                                      "that fullUrl)",
                                                      ref));
                }
                if (!local.empty()) rep.result_ids.push_back(local);
            }
        }
        std::vector<Note> notes;
        if (Node forms = array(r, "presentedForm")) {
            for (Node f : forms.children()) {
                Note n;
                n.text = attachment_text(f, n.content_type);
                n.title = rep.code.label();
                n.date = rep.date;
                if (!n.text.empty()) notes.push_back(std::move(n));
            }
        }
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        rep.sources = source();
        for (auto& n : notes) {
            n.sources = rep.sources;
            rec->notes.push_back(std::move(n));
        }
        rec->reports.push_back(std::move(rep));
    }

    void read_care_plan(Node r) {
        CarePlan c;
        c.status = required_str(r, "status");
        (void)required_str(r, "intent");
        if (Node cats = array(r, "category"); cats && cats.size() > 0) {
            c.title = concept_of(cats.children().front()).label();
        }
        if (c.title.empty()) c.title = str(r, "title");
        if (Node p = object(r, "period")) {
            c.start = date(p, "start");
            c.end = date(p, "end");
        }
        if (Node acts = array(r, "activity")) {
            for (Node a : acts.children()) {
                if (!a.is_object()) continue;
                if (Node d = object(a, "detail")) {
                    std::string label = concept_field(d, "code").label();
                    if (!label.empty()) c.activities.push_back(label);
                }
            }
        }
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        c.sources = source();
        rec->care_plans.push_back(std::move(c));
    }

    void read_document(Node r) {
        (void)required_str(r, "status");
        Node content = array(r, "content");
        if (!content || content.size() == 0) {
            if (!failed_) missing(r, "content");
            return;
        }
        std::string title = str(r, "description");
        if (title.empty()) title = concept_field(r, "type").label();
        std::string when = date(r, "date");
        std::string author;
        if (Node authors = array(r, "author"); authors && authors.size() > 0) {
            Node a = authors.children().front();
            if (a.is_object()) {
                author = str(a, "display");
                if (author.empty()) author = name_of(resolve(a["reference"].text()));
            }
        }
        std::vector<Note> notes;
        for (Node c : content.children()) {
            if (!c.is_object()) {
                error(c, expected("an object", c));
                continue;
            }
            Node att = c["attachment"];
            if (!att) {
                missing(c, "attachment");
                continue;
            }
            Note n;
            n.text = attachment_text(att, n.content_type);
            n.title = title.empty() ? str(att, "title") : title;
            n.date = when;
            n.author = author;
            notes.push_back(std::move(n));
        }
        PatientRecord* rec = patient_for(r, "subject");
        if (failed_ || !rec) return;
        for (auto& n : notes) {
            n.sources = source();
            rec->notes.push_back(std::move(n));
        }
    }

    const FhirReadOptions& options_;
    std::unordered_map<std::string, std::string> by_url_;  // fullUrl or Type/id → Type/id
    std::unordered_map<std::string, Node> medications_;
    std::set<std::string> patient_ids_;
    std::map<std::string, PatientRecord> records_;
    Directory directory_;
    std::vector<OtherResource> other_;
    ReadReport report_;
    std::string_view type_;
    std::string resource_;
    size_t line_ = 0;
    bool failed_ = false;
};

Status too_large(size_t size, size_t limit) {
    return resource_exhausted(
        "fhir: the document is {:.1f} MB, over the {:.1f} MB limit; export it as Bulk NDJSON "
        "or split the Bundle",
        static_cast<double>(size) / 1e6, static_cast<double>(limit) / 1e6);
}

}  // namespace

ReadResult read_fhir_json(std::string_view text, const FhirReadOptions& options) {
    Reader reader(options);
    if (text.size() > options.max_document_bytes) {
        Status s = too_large(text.size(), options.max_document_bytes);
        reader.add_error("", s.message());
        return reader.finish();
    }
    json::Document doc = json::Document::parse(text);
    Node root = doc.root();
    if (root) {
        // Index the root (a single resource) so that it can refer to itself.
        if (root.is_object() && root["resourceType"].text() != "Bundle" && root.complete()) {
            reader.index(root, {});
        }
        if (root.is_object() && (root.complete() || root["resourceType"].text() == "Bundle")) {
            reader.read(root);
        }
    }
    if (!doc.error().ok()) reader.add_error("", "fhir: " + doc.error().message());
    return reader.finish();
}

ReadResult read_fhir_ndjson(std::string_view text, const FhirReadOptions& options) {
    Reader reader(options);
    // Parse every line first so references between lines resolve.
    std::vector<std::pair<size_t, json::Document>> docs;
    size_t line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        if (nl == std::string_view::npos) nl = text.size();
        std::string_view line = text.substr(pos, nl - pos);
        pos = nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        if (line.size() > options.max_document_bytes) {
            reader.add_error(fmt::format("line {}", line_no),
                             too_large(line.size(), options.max_document_bytes).message());
            continue;
        }
        json::Document doc = json::Document::parse(line);
        if (!doc.error().ok()) {
            reader.add_error(fmt::format("line {}", line_no), "fhir: " + doc.error().message());
            ++reader.report().n_resources;
            ++reader.report().n_skipped;
            continue;
        }
        reader.index(doc.root(), {});
        docs.emplace_back(line_no, std::move(doc));
    }
    for (auto& [n, doc] : docs) reader.read(doc.root(), n);
    return reader.finish();
}

Result<ReadResult> read_fhir_file(const std::string& path, FhirReadOptions options) {
    WARD_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
    if (options.origin.empty()) options.origin = path;
    std::string_view text(reinterpret_cast<const char*>(file.data()), file.size());
    if (path.ends_with(".ndjson") || path.ends_with(".jsonl")) {
        return read_fhir_ndjson(text, options);
    }
    return read_fhir_json(text, options);
}

}  // namespace ward::interop
