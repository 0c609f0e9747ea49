#include "server/cds_hooks.h"

#include <cstdlib>
#include <functional>
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/mapped_file.h"
#include "interop/fhir.h"

namespace ward::server {
namespace {

// "xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx", lower-case hex.
bool is_uuid_v4(const std::string& s) {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return s[14] == '4' && std::string_view("89ab").find(s[19]) != std::string_view::npos;
}

// The names inside "{{...}}" of a prefetch template.
std::vector<std::string> template_tokens(const std::string& t) {
    std::vector<std::string> out;
    for (size_t at = t.find("{{"); at != std::string::npos; at = t.find("{{", at)) {
        const size_t end = t.find("}}", at + 2);
        if (end == std::string::npos) break;
        out.push_back(t.substr(at + 2, end - at - 2));
        at = end + 2;
    }
    return out;
}

using nlohmann::json;

std::string shared_data() {
    const char* env = std::getenv("WARD_SHARED_DATA");
    return env && *env ? env : WARD_SHARED_DATA;
}

std::string cds_file(const std::string& name) {
    auto text = ward::read_file(shared_data() + "/cds-hooks/" + name);
    EXPECT_TRUE(text) << name << ": " << text.error().to_string();
    return text ? *text : std::string();
}

// The spec's patient-view example request (strict JSON): fhirAuthorization, context with
// encounterId, a prefetched Patient.
json patient_view_example() {
    return json::parse(cds_file("specification_current_01.json"));
}

void expect_error(const json& body, std::string_view message) {
    auto r = parse_hook_request(body.dump());
    ASSERT_FALSE(r) << "accepted: " << body.dump();
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.error().message(), message);
}

// Strict-JSON files of /work/shared/data/cds-hooks (INDEX.txt says "valid") that are whole hook
// requests. The other valid files are fragments (a prefetch, a card, a discovery response) or
// responses; the _nonstrict files hold comments or "..." and are not JSON, except the two
// patient-view context fragments, read in ContextFragmentsOfEveryHook.
TEST(CdsHooksRequest, EveryStrictExampleRequestParses) {
    struct Case {
        const char* file;
        const char* hook;
        const char* patient;
    };
    const Case cases[] = {
        {"specification_current_01.json", "patient-view", "1288992"},
        {"examples_00.json", "order-sign", "1288992"},
        {"examples_02.json", "order-select", "MRI-59879846"},
    };
    for (const auto& c : cases) {
        auto r = parse_hook_request(cds_file(c.file));
        ASSERT_TRUE(r) << c.file << ": " << r.error().to_string();
        EXPECT_EQ(r->hook, c.hook) << c.file;
        EXPECT_EQ(r->patient_id, c.patient) << c.file;
        EXPECT_EQ(r->hook_instance, "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea") << c.file;
        EXPECT_FALSE(r->fhir_server.empty()) << c.file;
    }
    auto pv = parse_hook_request(cds_file("specification_current_01.json"));
    ASSERT_TRUE(pv);
    EXPECT_EQ(pv->user_id, "Practitioner/example");
    EXPECT_EQ(pv->encounter_id, "89284");
    ASSERT_TRUE(pv->fhir_authorization.has_value());
    EXPECT_EQ(pv->fhir_authorization->token_type, "Bearer");
    EXPECT_EQ(pv->fhir_authorization->expires_in, 300);
    EXPECT_EQ(pv->fhir_authorization->subject, "cds-service4");
    ASSERT_EQ(pv->prefetch.count("patientToGreet"), 1u);
    EXPECT_EQ(pv->prefetch.at("patientToGreet")["id"], "1288992");

    // The specification's extension example is a patient-view call without a patientId (the
    // example shows only the extension); patient-view requires it, so it is refused.
    auto ext = parse_hook_request(cds_file("specification_current_22.json"));
    ASSERT_FALSE(ext);
    EXPECT_EQ(ext.error().message(), "context.patientId: required for patient-view");
}

// The hooks/*.md context examples: each strict file is a {"context": ...} object of its hook;
// the patient-view ones are bare `"context": {...}` members (nonstrict), read wrapped in braces.
TEST(CdsHooksRequest, ContextFragmentsOfEveryHook) {
    const std::pair<const char*, const char*> files[] = {
        {"hooks_allergyintolerance-create_00.json", "allergyintolerance-create"},
        {"hooks_allergyintolerance-create_01.json", "allergyintolerance-create"},
        {"hooks_allergyintolerance-create_02.json", "allergyintolerance-create"},
        {"hooks_medication-prescribe_00.json", "medication-prescribe"},
        {"hooks_medication-prescribe_01.json", "medication-prescribe"},
        {"hooks_medication-refill_00.json", "medication-refill"},
        {"hooks_medication-refill_01.json", "medication-refill"},
        {"hooks_order-review_00.json", "order-review"},
        {"hooks_order-select_00.json", "order-select"},
        {"hooks_order-select_01.json", "order-select"},
        {"hooks_order-sign_00.json", "order-sign"},
        {"hooks_order-sign_01.json", "order-sign"},
        {"hooks_problem-list-item-create_00.json", "problem-list-item-create"},
        {"hooks_problem-list-item-create_01.json", "problem-list-item-create"},
        {"hooks_problem-list-item-create_02.json", "problem-list-item-create"},
        {"hooks_patient-view_00_nonstrict.json", "patient-view"},
        {"hooks_patient-view_01_nonstrict.json", "patient-view"},
    };
    for (const auto& [file, hook] : files) {
        std::string text = cds_file(file);
        bool fragment = std::string_view(file).find("_nonstrict") != std::string_view::npos;
        json doc = json::parse(fragment ? "{" + text + "}" : text);
        json body = {{"hook", hook},
                     {"hookInstance", "0d6b3a56-2f0e-4b8e-9d62-5f1c7a3e8b90"},
                     {"context", doc["context"]}};
        auto r = parse_hook_request(body.dump());
        ASSERT_TRUE(r) << file << ": " << r.error().to_string();
        EXPECT_EQ(r->patient_id, "1288992") << file;
        EXPECT_FALSE(r->user_id.empty()) << file;
        EXPECT_TRUE(r->context.is_object());
    }
}

TEST(CdsHooksRequest, MissingRequiredFieldsNameTheirPath) {
    json base = patient_view_example();
    ASSERT_TRUE(parse_hook_request(base.dump()));

    const std::pair<json::json_pointer, const char*> required[] = {
        {json::json_pointer("/hook"), "hook: required"},
        {json::json_pointer("/hookInstance"), "hookInstance: required"},
        {json::json_pointer("/context"), "context: required"},
        {json::json_pointer("/context/userId"), "context.userId: required for patient-view"},
        {json::json_pointer("/context/patientId"), "context.patientId: required for patient-view"},
        {json::json_pointer("/fhirServer"), "fhirServer: required when fhirAuthorization is given"},
        {json::json_pointer("/fhirAuthorization/access_token"),
         "fhirAuthorization.access_token: required"},
        {json::json_pointer("/fhirAuthorization/token_type"),
         "fhirAuthorization.token_type: required"},
        {json::json_pointer("/fhirAuthorization/expires_in"),
         "fhirAuthorization.expires_in: required"},
        {json::json_pointer("/fhirAuthorization/scope"), "fhirAuthorization.scope: required"},
        {json::json_pointer("/fhirAuthorization/subject"), "fhirAuthorization.subject: required"},
    };
    for (const auto& [pointer, message] : required) {
        json body = base;
        body[pointer.parent_pointer()].erase(pointer.back());
        expect_error(body, message);
    }
    // Optional fields may go.
    for (const char* optional : {"prefetch", "fhirAuthorization"}) {
        json body = base;
        body.erase(optional);
        EXPECT_TRUE(parse_hook_request(body.dump())) << optional;
    }
    json no_encounter = base;
    no_encounter["context"].erase("encounterId");
    EXPECT_TRUE(parse_hook_request(no_encounter.dump()));
    // Other hooks do not require a patient.
    json other = base;
    other["hook"] = "order-sign";
    other["context"].erase("patientId");
    EXPECT_TRUE(parse_hook_request(other.dump()));
}

TEST(CdsHooksRequest, WrongValuesNameTheirPath) {
    json base = patient_view_example();
    auto with = [&](const char* pointer, json value) {
        json body = base;
        body[json::json_pointer(pointer)] = std::move(value);
        return body;
    };
    expect_error(with("/hook", 7), "hook: expected a string, got number");
    expect_error(with("/hookInstance", ""), "hookInstance: must not be empty");
    expect_error(with("/fhirServer", "ftp://x"), "fhirServer: not an http(s) URL");
    expect_error(with("/fhirAuthorization/token_type", "bearer"),
                 "fhirAuthorization.token_type: expected \"Bearer\"");
    expect_error(with("/fhirAuthorization/expires_in", "300"),
                 "fhirAuthorization.expires_in: expected an integer, got string");
    expect_error(with("/fhirAuthorization/expires_in", -5),
                 "fhirAuthorization.expires_in: out of range");
    expect_error(with("/fhirAuthorization", "token"),
                 "fhirAuthorization: expected an object, got string");
    expect_error(with("/context", json::array()), "context: expected an object, got array");
    expect_error(with("/context/userId", "Device/12"),
                 "context.userId: expected a reference to a Practitioner, PractitionerRole, "
                 "Patient or RelatedPerson (\"Practitioner/123\")");
    expect_error(with("/context/patientId", "a b"),
                 "context.patientId: not a FHIR id (letters, digits, '-', '.'; at most 64)");
    expect_error(with("/context/encounterId", json::object()),
                 "context.encounterId: expected a string, got object");
    expect_error(with("/prefetch/patientToGreet", "Patient/1"),
                 "prefetch.patientToGreet: expected a FHIR resource or null, got string");
    expect_error(with("/prefetch", json::array()), "prefetch: expected an object, got array");
    expect_error(with("/extension", 1), "extension: expected an object, got number");
    // null prefetch values mean "no data" and are fine.
    EXPECT_TRUE(parse_hook_request(with("/prefetch/conditions", nullptr).dump()));

    auto bad = parse_hook_request(R"({"hook": "patient-view", "hookInstance": })");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(bad.error().message().rfind("cds-hooks: invalid JSON at byte 42", 0), 0u)
        << bad.error().message();
    auto array = parse_hook_request("[]");
    ASSERT_FALSE(array);
    EXPECT_EQ(array.error().message(), "cds-hooks: the hook request is not a JSON object");
    auto deep = parse_hook_request(std::string(100000, '['));
    ASSERT_FALSE(deep);
    EXPECT_NE(deep.error().message().find("nested deeper than 64"), std::string::npos);
}

TEST(CdsHooksPrefetch, SpecExampleGivesThePatient) {
    auto r = parse_hook_request(cds_file("specification_current_01.json"));
    ASSERT_TRUE(r);
    auto record = record_from_prefetch(*r);
    ASSERT_TRUE(record) << record.error().to_string();
    EXPECT_EQ(record->id, "1288992");
    EXPECT_EQ(record->demographics.gender, "male");
    EXPECT_EQ(record->demographics.birth_date, "1925-12-23");
}

const std::string kLetaBundle =
    "/fhir/synthea/Leta870_Kihn564_5a67c244-3dae-770c-1a41-85790f73b1b1.json";

// A patient-view call for a Synthea patient whose bundle is split the way a client answers the
// discovery's prefetch templates: the Patient, a searchset Bundle per resource type, and a null
// key. Synthea links entries by urn:uuid fullUrls; a FHIR server's search results use "Type/id"
// references and absolute fullUrls, so they are rewritten that way.
json synthea_patient_view(const std::string& patient_id) {
    json bundle = json::parse(*ward::read_file(shared_data() + kLetaBundle));
    std::map<std::string, std::string> relative;
    for (auto& e : bundle["entry"]) {
        std::string ref = e["resource"]["resourceType"].get<std::string>() + "/" +
                          e["resource"]["id"].get<std::string>();
        relative[e["fullUrl"]] = ref;
        e["fullUrl"] = "https://ehr.example.org/fhir/" + ref;
    }
    std::function<void(json&)> rewrite = [&](json& v) {
        if (v.is_object()) {
            auto it = v.find("reference");
            if (it != v.end() && it->is_string() && relative.count(*it)) *it = relative[*it];
            for (auto& [key, child] : v.items()) rewrite(child);
        } else if (v.is_array()) {
            for (auto& child : v) rewrite(child);
        }
    };
    rewrite(bundle);
    std::map<std::string, json> by_type;
    json patient;
    for (const auto& e : bundle["entry"]) {
        std::string type = e["resource"]["resourceType"];
        if (type == "Patient") {
            patient = e["resource"];
            continue;
        }
        json& set = by_type[type];
        if (set.is_null())
            set = {{"resourceType", "Bundle"}, {"type", "searchset"}, {"entry", json::array()}};
        set["entry"].push_back(e);
    }
    json body = {{"hook", "patient-view"},
                 {"hookInstance", "1b0f6e2c-8d7a-4c3b-a1e9-6f5d4c3b2a10"},
                 {"context", {{"userId", "Practitioner/1"}, {"patientId", patient_id}}},
                 {"prefetch", {{"patient", patient}, {"allergies", nullptr}}}};
    for (auto& [type, set] : by_type) body["prefetch"][type] = set;
    return body;
}

// The prefetched searchsets give the same record as the bundle read whole.
TEST(CdsHooksPrefetch, SearchsetsOfASyntheaPatient) {
    auto whole = interop::read_fhir_file(shared_data() + kLetaBundle);
    ASSERT_TRUE(whole);
    ASSERT_EQ(whole->patients.size(), 1u);
    const interop::PatientRecord& expected = whole->patients[0];

    auto request = parse_hook_request(synthea_patient_view(expected.id).dump());
    ASSERT_TRUE(request) << request.error().to_string();
    interop::ReadReport report;
    auto record = record_from_prefetch(*request, &report);
    ASSERT_TRUE(record) << record.error().to_string();
    EXPECT_TRUE(report.ok()) << report.status().to_string();
    EXPECT_EQ(record->id, expected.id);
    EXPECT_EQ(record->problems.size(), expected.problems.size());
    EXPECT_EQ(record->medications.size(), expected.medications.size());
    EXPECT_EQ(record->observations.size(), expected.observations.size());
    EXPECT_EQ(record->encounters.size(), expected.encounters.size());
    EXPECT_EQ(record->item_count(), expected.item_count());
}

TEST(CdsHooksPrefetch, NothingUsableOrAnotherPatient) {
    json base = patient_view_example();
    json nulls = base;
    nulls["prefetch"] = {{"patientToGreet", nullptr}};
    auto r = parse_hook_request(nulls.dump());
    ASSERT_TRUE(r);
    auto none = record_from_prefetch(*r);
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code(), StatusCode::kNotFound);

    // A prefetch about someone else is refused, never mixed into this patient's summary.
    json other = base;
    other["prefetch"]["patientToGreet"]["id"] = "999";
    r = parse_hook_request(other.dump());
    ASSERT_TRUE(r);
    auto refused = record_from_prefetch(*r);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(refused.error().message(),
              "prefetch: holds data about patient 999, not context.patientId 1288992");

    // CDS Hooks 1.0 style {"response", "resource"} wrappers are unwrapped; a DSTU2
    // MedicationOrder is not read (counted as an unknown type), so no record results.
    auto order = parse_hook_request(cds_file("examples_00.json"));
    ASSERT_TRUE(order);
    interop::ReadReport report;
    auto old = record_from_prefetch(*order, &report);
    ASSERT_FALSE(old);
    EXPECT_EQ(old.error().code(), StatusCode::kNotFound);
    EXPECT_EQ(report.unknown_types.count("MedicationOrder"), 1u);
}

bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80           ? 1
                   : (c >> 5) == 0x6  ? 2
                   : (c >> 4) == 0xE  ? 3
                   : (c >> 3) == 0x1E ? 4
                                      : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

assist::Summary sample_summary() {
    assist::Summary s;
    s.patient_id = "p1";
    s.patient_name = "Ada Testperson";
    s.text = "Hypertension since 2015 [P1]. On lisinopril [M1]. Allergies not documented.";
    s.citations = {
        {"P1", "Hypertension", {{interop::Source::Kind::kFhir, "Condition/c1", "", ""}}},
        {"M1",
         "Lisinopril 10 MG",
         {{interop::Source::Kind::kFhir, "MedicationRequest/m1", "", ""}}},
    };
    s.context_sha256 = std::string(64, 'c');
    s.n_included = 12;
    s.n_omitted = 3;
    s.reference_date = "2026-11-27";
    s.counts = {4, 3, 2};
    s.model.name = "med-8b-q4";
    s.model.file_sha256 = std::string(64, 'e');
    s.generation.finish = llm::Finish::kStop;
    return s;
}

// The card fields the specification requires, with their types and allowed values.
void expect_valid_card(const json& card) {
    ASSERT_TRUE(card.is_object());
    ASSERT_TRUE(card.contains("summary") && card["summary"].is_string());
    std::string summary = card["summary"];
    EXPECT_FALSE(summary.empty());
    EXPECT_LT(summary.size(), kMaxCardSummaryBytes) << summary;
    EXPECT_TRUE(valid_utf8(summary)) << summary;
    ASSERT_TRUE(card.contains("indicator"));
    std::set<std::string> indicators = {"info", "warning", "critical"};
    EXPECT_TRUE(indicators.contains(card["indicator"].get<std::string>()));
    ASSERT_TRUE(card.contains("source") && card["source"].is_object());
    ASSERT_TRUE(card["source"]["label"].is_string());
    EXPECT_FALSE(card["source"]["label"].get<std::string>().empty());
    const json& topic = card["source"]["topic"];
    EXPECT_TRUE(topic["system"].is_string() && topic["code"].is_string());
    ASSERT_TRUE(card["uuid"].is_string());
    EXPECT_TRUE(is_uuid_v4(card["uuid"].get<std::string>())) << card["uuid"];
    ASSERT_TRUE(card["detail"].is_string());
    EXPECT_TRUE(valid_utf8(card["detail"].get<std::string>()));
    EXPECT_FALSE(card.contains("suggestions"));
    EXPECT_FALSE(card.contains("selectionBehavior"));
    for (const auto& reason : card["overrideReasons"]) {
        EXPECT_TRUE(reason["display"].is_string()) << "the spec requires a display per reason";
    }
}

TEST(CdsHooksCards, SummaryCardHasTheRequiredFields) {
    assist::Summary s = sample_summary();
    json response = summary_cards(s, {});
    ASSERT_TRUE(response["cards"].is_array());
    ASSERT_EQ(response["cards"].size(), 1u);
    const json& card = response["cards"][0];
    expect_valid_card(card);
    EXPECT_EQ(card["indicator"], "info");
    EXPECT_EQ(card["summary"],
              "AI draft summary for Ada Testperson: 4 active problems, 3 medications, 2 allergies "
              "\xE2\x80\x94 review before use");
    EXPECT_EQ(card["source"]["label"], "Ward (model med-8b-q4)");
    EXPECT_FALSE(card["source"].contains("url"));
    std::string detail = card["detail"];
    EXPECT_NE(detail.find("AI-generated draft: review before use"), std::string::npos);
    EXPECT_NE(detail.find(s.text), std::string::npos);
    EXPECT_NE(detail.find("- [P1] Hypertension (Condition/c1)"), std::string::npos);
    EXPECT_NE(detail.find("- [M1] Lisinopril 10 MG (MedicationRequest/m1)"), std::string::npos);
    EXPECT_NE(detail.find("3 left out for length"), std::string::npos);
    EXPECT_EQ(detail.find("Attention"), std::string::npos);
    // A fresh uuid per card.
    EXPECT_NE(summary_cards(s, {})["cards"][0]["uuid"], card["uuid"]);

    CdsCardOptions o;
    o.source_url = "https://ward.hospital.example/about";
    o.review_url = "https://ward.hospital.example/review/1";
    json linked = summary_cards(s, o)["cards"][0];
    EXPECT_EQ(linked["source"]["url"], o.source_url);
    ASSERT_EQ(linked["links"].size(), 1u);
    EXPECT_EQ(linked["links"][0]["type"], "absolute");
}

TEST(CdsHooksCards, SummaryLineStaysUnder140BytesWithALongMultibyteName) {
    assist::Summary s = sample_summary();
    s.counts = {1234, 567, 89};
    s.patient_name.clear();
    for (int i = 0; i < 20; ++i) s.patient_name += "Zoë Ångström-Łukasiewicz 山田 ";
    std::string line = card_summary_line(s);
    EXPECT_LT(line.size(), kMaxCardSummaryBytes);
    EXPECT_TRUE(valid_utf8(line)) << line;
    EXPECT_EQ(line.rfind("AI draft summary for Zoë", 0), 0u) << line;
    EXPECT_NE(line.find("1234 active problems, 567 medications, 89 allergies"), std::string::npos);
    EXPECT_NE(line.find("review before use"), std::string::npos) << line;
    // Every cut position of a name of 4-byte characters stays valid UTF-8.
    for (size_t n = 0; n < 60; ++n) {
        s.patient_name = std::string(n, 'x');
        for (int i = 0; i < 40; ++i) s.patient_name += "\xF0\x9F\x98\x80";
        std::string cut = card_summary_line(s);
        EXPECT_LT(cut.size(), kMaxCardSummaryBytes);
        EXPECT_TRUE(valid_utf8(cut)) << n;
    }
    s.patient_name.clear();
    s.counts = {1, 1, 1};
    EXPECT_EQ(card_summary_line(s),
              "AI draft summary: 1 active problem, 1 medication, 1 allergy \xE2\x80\x94 review "
              "before use");
}

TEST(CdsHooksCards, WarningWhenSomethingNeedsAttention) {
    assist::Summary invented = sample_summary();
    invented.unsupported_ids = {"L9", "Z1"};
    json card = summary_cards(invented, {})["cards"][0];
    expect_valid_card(card);
    EXPECT_EQ(card["indicator"], "warning");
    EXPECT_NE(card["detail"].get<std::string>().find("(L9, Z1)"), std::string::npos);

    assist::Summary cut = sample_summary();
    cut.generation.finish = llm::Finish::kLength;
    EXPECT_EQ(summary_cards(cut, {})["cards"][0]["indicator"], "warning");
    EXPECT_EQ(summary_concerns(cut).size(), 1u);

    assist::Summary uncited = sample_summary();
    uncited.citations.clear();
    EXPECT_EQ(summary_cards(uncited, {})["cards"][0]["indicator"], "warning");

    assist::Summary empty = sample_summary();
    empty.text = " \n";
    empty.citations.clear();
    ASSERT_EQ(summary_concerns(empty).size(), 1u);
    EXPECT_EQ(summary_concerns(empty)[0], "The model returned no text.");

    EXPECT_TRUE(summary_concerns(sample_summary()).empty());
}

TEST(CdsHooksCards, ModelTextCannotInjectMarkup) {
    assist::Summary s = sample_summary();
    s.text =
        "Fine [P1]. <img src=x onerror=alert(1)> ![t](https://evil.example/p.png?d=1) "
        "[click](https://evil.example)";
    std::string detail = summary_cards(s, {})["cards"][0]["detail"];
    EXPECT_EQ(detail.find("<img"), std::string::npos);
    EXPECT_NE(detail.find("&lt;img"), std::string::npos);
    EXPECT_EQ(detail.find("](https://evil"), std::string::npos);
    EXPECT_NE(detail.find("\\![t]\\("), std::string::npos);
}

TEST(CdsHooksCards, NoDataIsAnEmptyCardsArray) {
    json r = no_data_response();
    ASSERT_TRUE(r["cards"].is_array());
    EXPECT_TRUE(r["cards"].empty());
}

// A Backend that answers with fixed text.
class ScriptedBackend : public llm::Backend {
  public:
    explicit ScriptedBackend(std::string text) : text_(std::move(text)) {
        info_.name = "scripted";
        info_.backend = "local";
        info_.file_sha256 = std::string(64, 'f');
        info_.context_length = 4096;
    }
    const llm::ModelInfo& info() const override { return info_; }
    Result<llm::Generation> generate(const llm::Request& request,
                                     const llm::PieceCallback&) override {
        llm::Generation g;
        g.text = text_;
        g.model = request.model;
        return g;
    }
    size_t count_tokens(std::string_view text) const override { return (text.size() + 3) / 4; }
    bool ready() const override { return true; }
    int active() const override { return 0; }
    int waiting() const override { return 0; }

  private:
    std::string text_;
    llm::ModelInfo info_;
};

// What the server's route does, end to end without HTTP: hook request -> prefetch -> record ->
// summary -> card.
TEST(CdsHooksPipeline, PrefetchToSummaryCard) {
    auto whole = interop::read_fhir_file(shared_data() + kLetaBundle);
    ASSERT_TRUE(whole);
    const std::string id = whole->patients.at(0).id;
    auto request = parse_hook_request(synthea_patient_view(id).dump());
    ASSERT_TRUE(request) << request.error().to_string();
    auto record = record_from_prefetch(*request);
    ASSERT_TRUE(record) << record.error().to_string();

    ScriptedBackend backend("Two active problems [P1][P2]. Medications not documented.");
    assist::SummaryOptions o;
    o.model = "scripted";
    o.reference_date = assist::latest_record_date(*record);
    auto summary = assist::summarize(*record, backend, o);
    ASSERT_TRUE(summary) << summary.error().to_string();
    ASSERT_EQ(summary->citations.size(), 2u);

    json card = summary_cards(*summary, {})["cards"][0];
    expect_valid_card(card);
    EXPECT_EQ(card["indicator"], "info");
    std::string detail = card["detail"];
    EXPECT_NE(detail.find("- [P1] " + summary->citations[0].label + " (Condition/"),
              std::string::npos)
        << detail;
    EXPECT_NE(card["summary"].get<std::string>().find("2 active problems"), std::string::npos);

    // The same call with an invented citation is a warning naming it.
    ScriptedBackend inventing("Two active problems [P1][P2]; on metformin [M4].");
    auto invented = assist::summarize(*record, inventing, o);
    ASSERT_TRUE(invented);
    json warning = summary_cards(*invented, {})["cards"][0];
    EXPECT_EQ(warning["indicator"], "warning");
    EXPECT_NE(warning["detail"].get<std::string>().find("(M4)"), std::string::npos);
}

TEST(CdsHooksDiscovery, RequiredFieldsAndPrefetchTemplates) {
    json d = discovery({});
    ASSERT_TRUE(d["services"].is_array());
    ASSERT_EQ(d["services"].size(), 1u);
    const json& s = d["services"][0];
    for (const char* field : {"hook", "id", "description", "title"}) {
        ASSERT_TRUE(s[field].is_string()) << field;
        EXPECT_FALSE(s[field].get<std::string>().empty()) << field;
    }
    EXPECT_EQ(s["hook"], "patient-view");
    EXPECT_EQ(s["id"], "ward-patient-summary");
    const json& p = s["prefetch"];
    for (const char* key : {"patient", "conditions", "medications", "allergies", "observations"}) {
        ASSERT_TRUE(p[key].is_string()) << key;
        EXPECT_NE(p[key].get<std::string>().find("{{context.patientId}}"), std::string::npos);
    }
    EXPECT_EQ(p["patient"], "Patient/{{context.patientId}}");
    EXPECT_EQ(p["conditions"], "Condition?patient={{context.patientId}}&clinical-status=active");
    EXPECT_EQ(p["medications"], "MedicationRequest?patient={{context.patientId}}&status=active");
    // Only root-level context fields are prefetch tokens; patient-view has no others we use.
    for (const auto& [key, value] : p.items()) {
        for (const std::string& token : template_tokens(value.get<std::string>())) {
            EXPECT_EQ(token, "context.patientId") << key;
        }
    }
    EXPECT_TRUE(s["usageRequirements"].is_string());

    CdsServiceConfig c;
    c.id = "summary-2";
    c.usage_requirements.clear();
    json d2 = discovery(c);
    EXPECT_EQ(d2["services"][0]["id"], "summary-2");
    EXPECT_FALSE(d2["services"][0].contains("usageRequirements"));
}

TEST(CdsHooksFeedback, ParsesTheSpecShapes) {
    auto accepted = parse_feedback(R"({"feedback": [{"card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
        "outcome": "accepted", "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
        "outcomeTimestamp": "2020-12-11T00:00:00Z"}]})");
    ASSERT_TRUE(accepted) << accepted.error().to_string();
    ASSERT_EQ(accepted->items.size(), 1u);
    EXPECT_EQ(accepted->items[0].outcome, "accepted");
    EXPECT_EQ(accepted->items[0].accepted_suggestions,
              std::vector<std::string>{"e56e1945-20b3-4393-8503-a1a20fd73152"});

    auto overridden = parse_feedback(R"({"feedback": [
        {"card": "9368d37b-283f-44a0-93ea-547cebab93ed", "outcome": "overridden",
         "overrideReason": {"reason": {"code": "d7ecf885",
             "system": "https://example.com/cds-hooks/override-reason-system"},
           "userComment": "A comment entered by the clinician."},
         "outcomeTimestamp": "2020-12-11T00:00:00Z"},
        {"card": "f6b95768-b1c8-40dc-8385-bf3504b82ffb", "outcome": "overridden",
         "outcomeTimestamp": "2020-12-11T00:00:00Z"}]})");
    ASSERT_TRUE(overridden) << overridden.error().to_string();
    ASSERT_EQ(overridden->items.size(), 2u);
    ASSERT_TRUE(overridden->items[0].override_reason.has_value());
    EXPECT_EQ(overridden->items[0].override_reason->code, "d7ecf885");
    EXPECT_EQ(overridden->items[0].user_comment, "A comment entered by the clinician.");
    EXPECT_FALSE(overridden->items[1].override_reason.has_value());
}

TEST(CdsHooksFeedback, ErrorsNameTheirPath) {
    auto error_of = [](std::string_view body) {
        auto r = parse_feedback(body);
        EXPECT_FALSE(r) << body;
        return r ? std::string() : r.error().message();
    };
    const std::string ok_item =
        R"({"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"})";
    EXPECT_EQ(error_of("{}"), "feedback: required");
    EXPECT_EQ(error_of(R"({"feedback": {}})"), "feedback: expected an array, got object");
    EXPECT_EQ(error_of(R"({"feedback": []})"), "feedback: must not be empty");
    EXPECT_EQ(error_of(R"({"feedback": [)" + ok_item + R"(, {"outcome": "accepted"}]})"),
              "feedback[1].card: required");
    EXPECT_EQ(error_of(R"({"feedback": [{"card": "c", "outcome": "rejected",
                         "outcomeTimestamp": "2020-12-11T00:00:00Z"}]})"),
              "feedback[0].outcome: expected accepted or overridden");
    EXPECT_EQ(error_of(R"({"feedback": [{"card": "c", "outcome": "accepted",
                         "outcomeTimestamp": "2020-12-11T00:00:00Z"}]})"),
              "feedback[0].acceptedSuggestions: required for accepted outcomes");
    EXPECT_EQ(error_of(R"({"feedback": [{"card": "c", "outcome": "accepted",
                         "acceptedSuggestions": [{"uuid": "x"}],
                         "outcomeTimestamp": "2020-12-11T00:00:00Z"}]})"),
              "feedback[0].acceptedSuggestions[0].id: required");
    EXPECT_EQ(error_of(R"({"feedback": [{"card": "c", "outcome": "overridden",
                         "outcomeTimestamp": "yesterday"}]})"),
              "feedback[0].outcomeTimestamp: not an ISO 8601 timestamp (2020-12-11T00:00:00Z)");
    EXPECT_EQ(error_of(R"({"feedback": [{"card": "c", "outcome": "overridden",
                         "overrideReason": {"reason": "no"},
                         "outcomeTimestamp": "2020-12-11T00:00:00Z"}]})"),
              "feedback[0].overrideReason.reason: expected a Coding, got string");
    EXPECT_EQ(error_of(R"({"feedback": [{"card": "c", "outcome": "overridden",
                         "outcomeTimestamp": "2020-12-11"}]})"),
              "feedback[0].outcomeTimestamp: not an ISO 8601 timestamp (2020-12-11T00:00:00Z)");
    EXPECT_EQ(error_of("{\"feedback\": [1, 2"),
              "cds-hooks: invalid JSON at byte 19: syntax "
              "error while parsing array - unexpected end of "
              "input; expected ']'");
}

}  // namespace
}  // namespace ward::server
