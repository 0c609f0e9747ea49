#include "interop/fhir.h"

#include <gtest/gtest.h>

#include "interop/json.h"
#include "test_util.h"

namespace ward::interop {
namespace {

using testing::slurp;
using testing::synthea;

const Observation* find_obs(const PatientRecord& r, std::string_view id) {
    for (const auto& o : r.observations) {
        if (o.sources[0].id == id) return &o;
    }
    return nullptr;
}

struct BundleCase {
    const char* file;
    const char* patient_id;
    const char* birth_date;
    const char* gender;
    const char* family;
    size_t n_encounters, n_immunizations, n_conditions;
    const char* observation_id;
    double temperature;  // the first body temperature, Cel
    const char* condition_id;
    const char* condition_code;
    const char* condition_status;
    size_t n_entries;
};

const BundleCase kCases[] = {
    {"Bibi254_Schowalter414_475d72ca-91c7-7211-97e3-f000af33fc04.json",
     "475d72ca-91c7-7211-97e3-f000af33fc04", "2009-04-29", "female", "Schowalter414", 13, 18, 9,
     "Observation/492fca20-2597-36b4-9da2-724a179c3bd0", 40.894,
     "Condition/832563a1-14a3-e2a0-537c-78a351f9070a", "49727002", "resolved", 94},
    {"Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json",
     "d4519c92-d241-b2b2-7360-291d60be699e", "2006-02-22", "female", "Rath779", 11, 19, 4,
     "Observation/c15ff59b-500c-2ac1-64d1-ae8d5b692f2c", 38.699,
     "Condition/652be592-d305-9f5c-486c-1a304a87f923", "49727002", "resolved", 84},
    {"Denisha680_Keeling57_6a93e0ad-9bd0-6d85-34a7-015186f7880a.json",
     "6a93e0ad-9bd0-6d85-34a7-015186f7880a", "2011-12-12", "female", "Keeling57", 18, 35, 5,
     "Observation/761239b3-5cee-b756-ad90-24d1c4018589", 37.978,
     "Condition/a6772efa-7fd5-1d69-8075-3b3c2a842610", "248595008", "resolved", 122},
    {"Hipolito984_Schulist381_6b9c211c-2c38-3955-43a0-4d285c714fab.json",
     "6b9c211c-2c38-3955-43a0-4d285c714fab", "2009-05-02", "male", "Schulist381", 13, 18, 5,
     "Observation/0a99c0a7-e273-dd87-fd9d-bfe7464a7fbd", 39.654,
     "Condition/c60f611f-b403-5384-1e65-a5f9715aafa2", "84229001", "resolved", 90},
    {"Les282_Bernier607_4f1ad84a-f8a2-2de6-343d-007efe781585.json",
     "4f1ad84a-f8a2-2de6-343d-007efe781585", "2017-05-13", "male", "Bernier607", 13, 26, 6,
     "Observation/2500224d-c262-37c6-6fd4-045c2a50769c", 41.573,
     "Condition/50bd02e0-c194-3310-3ba3-66de94154de8", "49727002", "resolved", 99},
    {"Leta870_Kihn564_5a67c244-3dae-770c-1a41-85790f73b1b1.json",
     "5a67c244-3dae-770c-1a41-85790f73b1b1", "2010-03-30", "female", "Kihn564", 16, 25, 3,
     "Observation/26e8ff73-2e1c-399a-2923-5790eff6d2a4", 40.912,
     "Condition/0ae5c026-ce32-cf42-80ce-f31780c1e58f", "49727002", "active", 102},
};

class SyntheaBundle : public ::testing::TestWithParam<BundleCase> {};

TEST_P(SyntheaBundle, ReadsWithZeroErrorsAndExactValues) {
    const BundleCase& c = GetParam();
    auto result = read_fhir_file(synthea(c.file));
    ASSERT_TRUE(result) << result.error().to_string();
    const ReadReport& rep = result->report;
    EXPECT_TRUE(rep.ok()) << rep.status().to_string();
    EXPECT_EQ(rep.n_resources, c.n_entries);
    EXPECT_EQ(rep.n_skipped, 0u);
    // Claims, ExplanationOfBenefits and CareTeams are kept and counted, not read.
    EXPECT_EQ(rep.n_read + rep.n_unknown(), c.n_entries);
    EXPECT_EQ(rep.unknown_types.at("Claim"), c.n_encounters);
    EXPECT_EQ(result->other_resources.size(), rep.n_unknown());
    ASSERT_EQ(result->patients.size(), 1u);
    const PatientRecord& p = result->patients[0];
    EXPECT_EQ(p.id, c.patient_id);
    EXPECT_EQ(p.demographics.birth_date, c.birth_date);
    EXPECT_EQ(p.demographics.gender, c.gender);
    EXPECT_EQ(p.demographics.family_name, c.family);
    EXPECT_EQ(p.encounters.size(), c.n_encounters);
    EXPECT_EQ(p.immunizations.size(), c.n_immunizations);
    EXPECT_EQ(p.problems.size(), c.n_conditions);
    EXPECT_EQ(p.observations.size(), 16u);
    EXPECT_EQ(p.procedures.size(), 1u);
    EXPECT_EQ(p.reports.size(), 2u);

    const Observation* o = find_obs(p, c.observation_id);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->code.find(kLoinc)->code, "8310-5");
    EXPECT_EQ(o->value.kind, ObservationValue::Kind::kQuantity);
    EXPECT_DOUBLE_EQ(*o->value.number, c.temperature);
    EXPECT_EQ(o->value.unit, "Cel");
    EXPECT_EQ(o->category, "vital-signs");

    bool found = false;
    for (const auto& pr : p.problems) {
        if (pr.sources[0].id != c.condition_id) continue;
        found = true;
        EXPECT_EQ(pr.code.find(kSnomed)->code, c.condition_code);
        EXPECT_EQ(pr.clinical_status, c.condition_status);
    }
    EXPECT_TRUE(found);

    // Blood pressure arrives as components.
    bool bp = false;
    for (const auto& ob : p.observations) {
        if (ob.code.find(kLoinc) && ob.code.find(kLoinc)->code == "85354-9") {
            bp = true;
            ASSERT_EQ(ob.components.size(), 2u);
            EXPECT_EQ(ob.components[0].code.find(kLoinc)->code, "8462-4");
            EXPECT_EQ(ob.components[0].value.unit, "mm[Hg]");
            EXPECT_TRUE(ob.components[0].value.number.has_value());
        }
    }
    EXPECT_TRUE(bp);
    // Practitioners and organisations give names to references.
    EXPECT_EQ(result->directory.names.size(), 4u);
    for (const auto& e : p.encounters) EXPECT_FALSE(e.provider.empty());
}

INSTANTIATE_TEST_SUITE_P(Shared, SyntheaBundle, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<BundleCase>& param) {
                             std::string name = param.param.file;
                             return name.substr(0, name.find('_'));
                         });

TEST(FhirShared, DirectoryBundles) {
    auto hosp = read_fhir_file(synthea("hospitalInformation1603148702656.json"));
    ASSERT_TRUE(hosp);
    EXPECT_TRUE(hosp->report.ok()) << hosp->report.status().to_string();
    EXPECT_EQ(hosp->report.n_read, 17u);
    EXPECT_EQ(hosp->directory.names.size(), 17u);
    EXPECT_TRUE(hosp->patients.empty());
    auto prac = read_fhir_file(synthea("practitionerInformation1603148702656.json"));
    ASSERT_TRUE(prac);
    EXPECT_TRUE(prac->report.ok()) << prac->report.status().to_string();
    EXPECT_EQ(prac->directory.names.size(), 17u);
    EXPECT_EQ(prac->directory.names.at("Practitioner/8d782c6e-9fe8-397c-8c90-3a0b673ea432"),
              "Dr. Janette321 Fisher429");
}

TEST(FhirShared, ValuesOfEveryKindInTheData) {
    auto r = read_fhir_file(synthea(kCases[0].file));
    ASSERT_TRUE(r);
    const PatientRecord& p = r->patients[0];
    size_t concepts = 0;
    for (const auto& o : p.observations) {
        if (o.value.kind == ObservationValue::Kind::kConcept) {
            ++concepts;
            EXPECT_FALSE(o.value.concept_value.find(kSnomed) == nullptr);
        }
    }
    EXPECT_EQ(concepts, 10u);  // the respiratory pathogen panel
}

// ---- malformed input: each has its clear error, and what was read before it is kept ----------

std::string entry(const std::string& resource, const std::string& full_url) {
    return R"({"fullUrl":")" + full_url + R"(","resource":)" + resource + "}";
}
const std::string kPatient =
    R"({"resourceType":"Patient","id":"p1","birthDate":"1970-01-02","gender":"male"})";
std::string obs(const std::string& id, const std::string& value) {
    return R"({"resourceType":"Observation","id":")" + id +
           R"(","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2160-0","display":"Creatinine"}]},"subject":{"reference":"urn:uuid:p1"},"effectiveDateTime":"2020-01-01","valueQuantity":)" +
           value + "}";
}
std::string bundle(const std::vector<std::string>& entries) {
    std::string s = R"({"resourceType":"Bundle","type":"collection","entry":[)";
    for (size_t i = 0; i < entries.size(); ++i) s += (i ? "," : "") + entries[i];
    return s + "]}";
}

TEST(FhirErrors, WrongTypeNamesResourceAndPath) {
    std::vector<std::string> entries = {entry(kPatient, "urn:uuid:p1")};
    for (int i = 0; i < 12; ++i) {
        entries.push_back(entry(obs("o" + std::to_string(i),
                                    R"({"value":)" + std::to_string(i + 1) + R"(,"unit":"mg/dL"})"),
                                "urn:uuid:o" + std::to_string(i)));
    }
    entries[12] = entry(obs("bad", R"({"value":"1.5","unit":"mg/dL"})"), "urn:uuid:bad");
    std::string text = bundle(entries);
    ReadResult r = read_fhir_json(text);
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].to_string(),
              "Bundle.entry[12].resource.valueQuantity.value: expected a number, got a string "
              "(Observation/bad)");
    // Nothing else is lost: 11 good observations and the patient.
    ASSERT_EQ(r.patients.size(), 1u);
    EXPECT_EQ(r.patients[0].observations.size(), 11u);
    EXPECT_EQ(r.patients[0].demographics.birth_date, "1970-01-02");
    EXPECT_EQ(r.report.n_skipped, 1u);
    EXPECT_EQ(r.report.status().code(), StatusCode::kInvalidArgument);
}

TEST(FhirErrors, InvalidJsonKeepsCompleteEntries) {
    std::string text = bundle({entry(kPatient, "urn:uuid:p1"),
                               entry(obs("o1", R"({"value":1.5,"unit":"mg/dL"})"), "urn:uuid:o1"),
                               entry(obs("o2", R"({"value":1.6,"unit":"mg/dL"})"), "urn:uuid:o2")});
    std::string cut = text.substr(0, text.find("\"o2\"") + 30);  // truncated inside entry 2
    ReadResult r = read_fhir_json(cut);
    ASSERT_FALSE(r.report.ok());
    std::string msg = r.report.errors.back().to_string();
    EXPECT_NE(msg.find("invalid JSON at line 1 column"), std::string::npos) << msg;
    EXPECT_NE(msg.find("Bundle.entry[2]"), std::string::npos) << msg;
    ASSERT_EQ(r.patients.size(), 1u);
    EXPECT_EQ(r.patients[0].observations.size(), 1u);

    ReadResult garbage = read_fhir_json("{\"resourceType\": \"Patient\", \"id\": tru}");
    ASSERT_EQ(garbage.report.errors.size(), 1u);
    EXPECT_EQ(garbage.report.errors[0].to_string(),
              "fhir: invalid JSON at line 1 column 35: expected a value (in Patient)");
}

TEST(FhirErrors, MissingRequiredField) {
    std::string o = obs("o1", R"({"value":1.5})");
    o.replace(o.find(R"("status":"final",)"), 17, "");
    ReadResult r =
        read_fhir_json(bundle({entry(kPatient, "urn:uuid:p1"), entry(o, "urn:uuid:o1")}));
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].to_string(),
              "Bundle.entry[1].resource: missing required field \"status\" (Observation/o1)");
    EXPECT_EQ(r.patients.size(), 1u);
}

TEST(FhirErrors, DanglingReference) {
    std::string o = obs("o1", R"({"value":1.5})");
    ReadResult r = read_fhir_json(bundle({entry(o, "urn:uuid:o1")}));  // no patient entry
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].to_string(),
              "Bundle.entry[0].resource.subject.reference: dangling reference \"urn:uuid:p1\" "
              "(no entry has that fullUrl) (Observation/o1)");
}

TEST(FhirErrors, BadDateAndBadBase64) {
    std::string p = kPatient;
    p.replace(p.find("1970-01-02"), 10, "1970-13-02");
    std::string doc =
        R"({"resourceType":"DocumentReference","id":"d1","status":"current","subject":{"reference":"Patient/p1"},"content":[{"attachment":{"contentType":"text/plain","data":"@@@"}}]})";
    ReadResult r = read_fhir_json(bundle({entry(p, "urn:uuid:p1"), entry(doc, "urn:uuid:d1")}));
    ASSERT_EQ(r.report.errors.size(), 2u);
    EXPECT_EQ(r.report.errors[0].to_string(),
              "Bundle.entry[0].resource.birthDate: \"1970-13-02\" is not a FHIR date (Patient/p1)");
    EXPECT_EQ(r.report.errors[1].where, "Bundle.entry[1].resource.content[0].attachment.data");
    EXPECT_NE(r.report.errors[1].message.find("not valid base64"), std::string::npos);
}

TEST(FhirErrors, HundredMegabyteBundleIsRefusedClearly) {
    // A syntactically valid 100 MB bundle: one patient and enough observations.
    std::string text = R"({"resourceType":"Bundle","type":"collection","entry":[)" +
                       entry(kPatient, "urn:uuid:p1");
    std::string one = "," + entry(obs("x", R"({"value":1.5,"unit":"mg/dL"})"), "urn:uuid:x");
    text.reserve(size_t{101} << 20);
    while (text.size() < size_t{100} << 20) text += one;
    text += "]}";
    ReadResult r = read_fhir_json(text);
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_NE(r.report.errors[0].message.find("over the 67.1 MB limit; export it as Bulk NDJSON"),
              std::string::npos)
        << r.report.errors[0].message;
    EXPECT_EQ(r.report.status().code(), StatusCode::kInvalidArgument);
    // With the limit raised by the operator, it reads.
    FhirReadOptions big;
    big.max_document_bytes = size_t{200} << 20;
    ReadResult all = read_fhir_json(text, big);
    EXPECT_TRUE(all.report.ok()) << all.report.status().to_string();
    ASSERT_EQ(all.patients.size(), 1u);
    EXPECT_EQ(all.patients[0].observations.size(), 1u);  // identical copies deduplicated
    EXPECT_GT(all.patients[0].observations[0].sources.size(), 0u);
    EXPECT_GT(all.report.n_read, 300000u);
}

TEST(FhirNdjson, ReadsLinesAndReportsBadOnes) {
    std::string text =
        kPatient + "\n" +
        R"({"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"E11.9","display":"Type 2 diabetes"}]},"clinicalStatus":{"coding":[{"code":"active"}]}})" +
        "\n\n{not json}\n" +
        R"({"resourceType":"Claim","id":"x","patient":{"reference":"Patient/p1"}})" + "\n";
    ReadResult r = read_fhir_ndjson(text);
    ASSERT_EQ(r.report.errors.size(), 1u);
    EXPECT_EQ(r.report.errors[0].where, "line 4");
    EXPECT_EQ(r.report.n_read, 2u);
    EXPECT_EQ(r.report.unknown_types.at("Claim"), 1u);
    ASSERT_EQ(r.other_resources.size(), 1u);
    EXPECT_EQ(r.other_resources[0].patient_id, "p1");
    ASSERT_EQ(r.patients.size(), 1u);
    ASSERT_EQ(r.patients[0].problems.size(), 1u);
    EXPECT_EQ(r.patients[0].problems[0].code.find(kIcd10)->code, "E11.9");
    EXPECT_TRUE(r.patients[0].problems[0].active());
}

TEST(FhirTypes, MedicationsAllergiesNotesAndValues) {
    std::string note = encode_base64("Patient reports chest pain.\nNo fever.");
    std::string text = bundle({
        entry(kPatient, "urn:uuid:p1"),
        entry(
            R"({"resourceType":"Medication","id":"m1","code":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"860975","display":"metformin 500 MG"}]}})",
            "urn:uuid:m1"),
        entry(
            R"({"resourceType":"MedicationRequest","id":"r1","status":"active","intent":"order","medicationReference":{"reference":"urn:uuid:m1"},"subject":{"reference":"urn:uuid:p1"},"authoredOn":"2020-01-01","dosageInstruction":[{"text":"500 mg twice daily","doseAndRate":[{"doseQuantity":{"value":500,"unit":"mg"}}]}]})",
            "urn:uuid:r1"),
        entry(
            R"({"resourceType":"MedicationStatement","id":"s1","status":"active","contained":[{"resourceType":"Medication","id":"med","code":{"text":"aspirin 81 mg"}}],"medicationReference":{"reference":"#med"},"subject":{"reference":"urn:uuid:p1"}})",
            "urn:uuid:s1"),
        entry(
            R"({"resourceType":"AllergyIntolerance","id":"a1","patient":{"reference":"urn:uuid:p1"},"code":{"text":"Penicillin"},"criticality":"high","reaction":[{"manifestation":[{"text":"Hives"}],"severity":"moderate"}]})",
            "urn:uuid:a1"),
        entry(
            R"({"resourceType":"DocumentReference","id":"d1","status":"current","subject":{"reference":"urn:uuid:p1"},"date":"2020-02-02T10:00:00Z","description":"Discharge note","content":[{"attachment":{"contentType":"text/plain","data":")" +
                note + R"("}}]})",
            "urn:uuid:d1"),
        entry(
            R"({"resourceType":"Observation","id":"o1","status":"final","code":{"text":"Pain"},"subject":{"reference":"urn:uuid:p1"},"valueRange":{"low":{"value":1},"high":{"value":3,"unit":"score"}},"interpretation":[{"coding":[{"code":"H"}]}],"referenceRange":[{"high":{"value":2}}]})",
            "urn:uuid:o1"),
        entry(
            R"({"resourceType":"Observation","id":"o2","status":"final","code":{"text":"Smoker"},"subject":{"reference":"urn:uuid:p1"},"valueBoolean":false})",
            "urn:uuid:o2"),
        entry(
            R"({"resourceType":"Observation","id":"o3","status":"final","code":{"text":"Count"},"subject":{"reference":"urn:uuid:p1"},"valueInteger":7})",
            "urn:uuid:o3"),
        entry(
            R"({"resourceType":"Observation","id":"o4","status":"final","code":{"text":"Remark"},"subject":{"reference":"urn:uuid:p1"},"valueString":"a\"b\u00e9"})",
            "urn:uuid:o4"),
    });
    ReadResult r = read_fhir_json(text);
    ASSERT_TRUE(r.report.ok()) << r.report.status().to_string();
    const PatientRecord& p = r.patients.at(0);
    ASSERT_EQ(p.medications.size(), 2u);
    EXPECT_EQ(p.medications[0].code.find(kRxNorm)->code, "860975");
    EXPECT_EQ(*p.medications[0].dose_value, 500);
    EXPECT_EQ(p.medications[0].dosage, "500 mg twice daily");
    EXPECT_EQ(p.medications[1].code.label(), "aspirin 81 mg");
    ASSERT_EQ(p.allergies.size(), 1u);
    EXPECT_EQ(p.allergies[0].reactions.at(0).manifestations.at(0), "Hives");
    ASSERT_EQ(p.notes.size(), 1u);
    EXPECT_EQ(p.notes[0].text, "Patient reports chest pain.\nNo fever.");
    EXPECT_EQ(p.notes[0].title, "Discharge note");
    ASSERT_EQ(p.observations.size(), 4u);
    EXPECT_EQ(p.observations[0].value.to_string(), "1-3 score");
    EXPECT_TRUE(p.observations[0].abnormal());
    EXPECT_EQ(p.observations[1].value.to_string(), "false");
    EXPECT_EQ(p.observations[2].value.to_string(), "7");
    EXPECT_EQ(p.observations[3].value.text, "a\"b\xc3\xa9");
}

TEST(Json, PathsAndPartialDocuments) {
    std::string text = R"({"resourceType":"Bundle","entry":[{"a":[1,2,{"b":"x"}]}]})";
    json::Document doc = json::Document::parse(text);
    ASSERT_TRUE(doc.error().ok());
    json::Node b = doc.root()["entry"].children()[0]["a"].children()[2]["b"];
    EXPECT_EQ(b.text(), "x");
    EXPECT_EQ(b.path(), "Bundle.entry[0].a[2].b");
    for (const char* bad : {"", "[1,]", "{\"a\" 1}", "\"\\x\"", "01", "[1] 2", "\"a\x01\""}) {
        EXPECT_FALSE(json::Document::parse(bad).error().ok()) << bad;
    }
    std::string deep(1000, '[');
    EXPECT_NE(json::Document::parse(deep).error().message().find("nesting too deep"),
              std::string::npos);
}

}  // namespace
}  // namespace ward::interop
