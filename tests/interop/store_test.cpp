#include "interop/store.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "interop/hl7.h"
#include "interop/writeback.h"
#include "test_util.h"

namespace ward::interop {
namespace {

TEST(Store, IngestsMergesDedupesAndRoundTrips) {
    auto store = PatientStore::open(":memory:");
    ASSERT_TRUE(store) << store.error().to_string();
    std::string file = testing::synthea(testing::kSyntheaPatients[0]);
    for (int i = 0; i < 2; ++i) {  // the same bundle twice: nothing doubles
        auto r = read_fhir_file(file);
        ASSERT_TRUE(r);
        ASSERT_TRUE(store->put(std::move(*r), file).ok());
    }
    auto list = store->list();
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].name, "Bibi254 Schowalter414");
    EXPECT_EQ((*list)[0].birth_date, "2009-04-29");
    auto rec = store->get("475d72ca-91c7-7211-97e3-f000af33fc04");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->encounters.size(), 13u);
    EXPECT_EQ(rec->observations.size(), 16u);
    EXPECT_EQ((*list)[0].n_items, rec->item_count());
    // By identifier (the SSN listed on the Patient).
    auto by_ssn = store->get("999-97-5872");
    ASSERT_TRUE(by_ssn);
    EXPECT_EQ(by_ssn->id, rec->id);
    EXPECT_EQ(store->get("nobody").error().code(), StatusCode::kNotFound);
    auto name = store->directory_name("Practitioner/2add1d28-5ee2-3a4c-a6da-f976b9b28081");
    ASSERT_TRUE(name);
    EXPECT_EQ(*name, "Dr. Cordell41 Ferry570");

    // JSON round trip is lossless.
    std::string json = record_to_json(*rec);
    auto back = record_from_json(json);
    ASSERT_TRUE(back);
    EXPECT_EQ(record_to_json(*back), json);
    EXPECT_EQ(record_from_json("{bad").error().code(), StatusCode::kDataLoss);

    ASSERT_TRUE(store->log_ingest({file, "ab", 94, 66, 0, ""}).ok());
    auto log = store->ingest_log();
    ASSERT_TRUE(log);
    EXPECT_EQ(log->size(), 1u);
}

TEST(Store, HL7UpdatesJoinTheSamePatient) {
    auto store = PatientStore::open(":memory:");
    ASSERT_TRUE(store);
    std::string a01 =
        "MSH|^~\\&|A|B|C|D|20200101||ADT^A01|1|P|2.5\rPID|1||77^^^H^MR||Doe^Jo||19600101|F\r"
        "PV1|1|I|W1|||||||MED\rAL1|1|DA|PCN^Penicillin^L|SV|Hives~Wheeze\r";
    std::string oru =
        "MSH|^~\\&|A|B|C|D|20200102||ORU^R01|2|P|2.5\rPID|1||77^^^H^MR\r"
        "OBR|1|||BMP^Basic "
        "panel^L|||20200102\rOBX|1|NM|2160-0^Creatinine^LN||1.4|mg/dL|0.6-1.2|H|||F\r";
    ReadResult r1 = read_hl7(a01);
    ReadResult r2 = read_hl7(oru);
    ASSERT_TRUE(r1.report.ok() && r2.report.ok())
        << r1.report.status().to_string() << r2.report.status().to_string();
    ASSERT_TRUE(store->put(std::move(r1.patients)).ok());
    ASSERT_TRUE(store->put(std::move(r2.patients)).ok());
    auto rec = store->get("77");
    ASSERT_TRUE(rec);
    EXPECT_EQ(rec->demographics.family_name, "Doe");
    ASSERT_EQ(rec->allergies.size(), 1u);
    EXPECT_EQ(rec->allergies[0].criticality, "high");
    EXPECT_EQ(rec->allergies[0].reactions[0].manifestations,
              (std::vector<std::string>{"Hives", "Wheeze"}));
    ASSERT_EQ(rec->observations.size(), 1u);
    EXPECT_TRUE(rec->observations[0].abnormal());
}

TEST(Writeback, DocumentReferenceWithProvenance) {
    GeneratedDocument doc;
    doc.patient_id = "p1";
    doc.text = "Summary: stable.\n";
    doc.title = "AI-generated patient summary";
    doc.created = "2026-11-27T19:00:00Z";
    doc.model_name = "stories260K";
    doc.model_sha256 = std::string(64, 'a');
    doc.task = "general summary";
    doc.cited = {{Source::Kind::kFhir, "Condition/c1", "", ""},
                 {Source::Kind::kHl7, "MSG1", "OBX[2]", ""}};
    auto out = make_document_bundle(doc);
    ASSERT_TRUE(out) << out.error().to_string();
    auto j = nlohmann::json::parse(*out);
    EXPECT_EQ(j["type"], "transaction");
    const auto& dr = j["entry"][0]["resource"];
    EXPECT_EQ(dr["resourceType"], "DocumentReference");
    EXPECT_EQ(dr["subject"]["reference"], "Patient/p1");
    EXPECT_EQ(dr["docStatus"], "preliminary");
    EXPECT_EQ(dr["meta"]["security"][0]["code"], "AIAST");
    auto text = decode_base64(dr["content"][0]["attachment"]["data"].get<std::string>());
    ASSERT_TRUE(text);
    EXPECT_EQ(*text, doc.text);
    const auto& prov = j["entry"][1]["resource"];
    EXPECT_EQ(prov["resourceType"], "Provenance");
    EXPECT_EQ(prov["target"][0]["reference"], j["entry"][0]["fullUrl"]);
    EXPECT_EQ(prov["agent"][0]["who"]["display"], "stories260K");
    EXPECT_EQ(prov["agent"][0]["who"]["identifier"]["value"], doc.model_sha256);
    EXPECT_EQ(prov["entity"][0]["what"]["reference"], "Condition/c1");
    EXPECT_EQ(prov["entity"][1]["what"]["display"], "hl7:MSG1/OBX[2]");
    // Deterministic, and the bundle reads back through our own reader.
    EXPECT_EQ(*make_document_bundle(doc), *out);
    ReadResult back = read_fhir_json(*out);
    EXPECT_TRUE(back.report.ok()) << back.report.status().to_string();
    ASSERT_EQ(back.patients.size(), 1u);
    EXPECT_EQ(back.patients[0].notes.at(0).text, doc.text);
    EXPECT_EQ(back.report.unknown_types.at("Provenance"), 1u);

    doc.model_sha256 = "xyz";
    EXPECT_EQ(make_document_bundle(doc).error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ward::interop
