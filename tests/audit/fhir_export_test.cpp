#include "audit/fhir_export.h"

#include <unistd.h>

#include <filesystem>
#include <sstream>

#include <gtest/gtest.h>

#include "common/crypto.h"

namespace ward::audit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

AuditRecord sample(int status, std::string route = "POST /v1/chat/completions") {
    AuditRecord r;
    r.time = "2026-11-27T22:15:35.123Z";
    r.principal_id = "abcd1234";
    r.role = "clinician";
    r.route = std::move(route);
    r.patient_key_hash = crypto::sha256_hex("patient-1");
    r.model = "med-7b";
    r.model_sha256 = crypto::sha256_hex("model");
    r.policy_version = "p1";
    r.knowledge_version = "kb-3";
    r.prompt_sha256 = crypto::sha256_hex("prompt");
    r.output_sha256 = crypto::sha256_hex("output");
    r.safety_flags = {"crisis", "dose_range"};
    r.http_status = status;
    r.latency_ms = 250;
    r.request_id = "req-1";
    return r;
}

// The R4 cardinalities that matter for a server to accept the resource.
void expect_valid_r4_audit_event(const json& e) {
    ASSERT_TRUE(e.is_object());
    EXPECT_EQ(e.at("resourceType"), "AuditEvent");
    // type: Coding 1..1
    ASSERT_TRUE(e.at("type").is_object());
    EXPECT_TRUE(e["type"].at("system").is_string());
    EXPECT_TRUE(e["type"].at("code").is_string());
    // recorded: instant 1..1, with a time zone
    ASSERT_TRUE(e.at("recorded").is_string());
    EXPECT_EQ(e["recorded"].get<std::string>().back(), 'Z');
    // action and outcome: codes from their required value sets
    std::string action = e.at("action");
    EXPECT_NE(std::string("CRUDE").find(action), std::string::npos);
    std::string outcome = e.at("outcome");
    EXPECT_TRUE(outcome == "0" || outcome == "4" || outcome == "8" || outcome == "12");
    // agent: 1..*, each with requestor 1..1
    ASSERT_TRUE(e.at("agent").is_array());
    ASSERT_FALSE(e["agent"].empty());
    for (const json& a : e["agent"]) EXPECT_TRUE(a.at("requestor").is_boolean());
    // source: 1..1 with observer 1..1
    ASSERT_TRUE(e.at("source").is_object());
    EXPECT_TRUE(e["source"].at("observer").is_object());
    // entity details: type and a value[x] each
    for (const json& ent : e.value("entity", json::array())) {
        for (const json& d : ent.value("detail", json::array())) {
            EXPECT_TRUE(d.at("type").is_string());
            EXPECT_TRUE(d.contains("valueString") || d.contains("valueBase64Binary"));
        }
    }
    // subtype: Coding 0..*
    if (e.contains("subtype")) {
        EXPECT_TRUE(e["subtype"].is_array());
    }
}

TEST(FhirExport, MapsOneRecord) {
    StoredRecord s{
        .seq = 7, .record = sample(200), .prev_hash = "", .hash = crypto::sha256_hex("h")};
    json e = to_fhir_audit_event(s);
    expect_valid_r4_audit_event(e);
    EXPECT_EQ(e["id"], "ward-audit-7");
    EXPECT_EQ(e["type"]["code"], "rest");
    EXPECT_EQ(e["subtype"][0]["code"], "POST /v1/chat/completions");
    EXPECT_EQ(e["action"], "E");
    EXPECT_EQ(e["outcome"], "0");
    EXPECT_EQ(e["recorded"], "2026-11-27T22:15:35.123Z");
    EXPECT_EQ(e["agent"][0]["who"]["identifier"]["value"], "abcd1234");
    EXPECT_EQ(e["agent"][0]["requestor"], true);
    EXPECT_EQ(e["agent"][0]["role"][0]["text"], "clinician");
    EXPECT_EQ(e["source"]["observer"]["display"], "Ward");
    ASSERT_EQ(e["entity"].size(), 3u);
    EXPECT_EQ(e["entity"][0]["what"]["identifier"]["value"], crypto::sha256_hex("patient-1"));
    EXPECT_EQ(e["entity"][1]["name"], "med-7b");
    EXPECT_EQ(e["entity"][1]["detail"][0]["valueString"], crypto::sha256_hex("model"));
    std::string details = e["entity"][2]["detail"].dump();
    EXPECT_NE(details.find(crypto::sha256_hex("prompt")), std::string::npos);
    EXPECT_NE(details.find(crypto::sha256_hex("output")), std::string::npos);
    EXPECT_NE(details.find("dose_range"), std::string::npos);
    EXPECT_NE(details.find("kb-3"), std::string::npos);
}

TEST(FhirExport, OutcomeAndActionCodes) {
    EXPECT_EQ(fhir_outcome(200), "0");
    EXPECT_EQ(fhir_outcome(302), "0");
    EXPECT_EQ(fhir_outcome(401), "4");
    EXPECT_EQ(fhir_outcome(429), "4");
    EXPECT_EQ(fhir_outcome(500), "8");
    EXPECT_EQ(fhir_outcome(0), "8");
    EXPECT_EQ(fhir_action("GET /fhir/Patient/1"), "R");
    EXPECT_EQ(fhir_action("PUT /fhir/DocumentReference/1"), "C");
    EXPECT_EQ(fhir_action("DELETE /v1/vault/x"), "D");
    EXPECT_EQ(fhir_action("POST /cds-services/summary"), "E");
    StoredRecord s{.seq = 1, .record = sample(503, "mllp ADT^A01"), .prev_hash = "", .hash = ""};
    json e = to_fhir_audit_event(s);
    expect_valid_r4_audit_event(e);
    EXPECT_EQ(e["type"]["code"], "110100");
    EXPECT_EQ(e["outcome"], "8");
}

TEST(FhirExport, NoPatientNoModelStillValid) {
    AuditRecord r = sample(404, "GET /v1/models");
    r.patient_key_hash.clear();
    r.model.clear();
    StoredRecord s{.seq = 2, .record = r, .prev_hash = "", .hash = ""};
    json e = to_fhir_audit_event(s);
    expect_valid_r4_audit_event(e);
    ASSERT_EQ(e["entity"].size(), 1u);
    EXPECT_EQ(e["outcome"], "4");
}

TEST(FhirExport, LogExportIsNdjsonThatParsesBack) {
    fs::path dir = fs::temp_directory_path() / ("ward-fhir-export-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto log = AuditLog::open((dir / "audit.db").string());
    ASSERT_TRUE(log.has_value()) << log.error().to_string();
    for (int status : {200, 400, 500}) ASSERT_TRUE((*log)->append(sample(status)).has_value());
    std::ostringstream out;
    ASSERT_TRUE((*log)->export_fhir(out).ok());
    std::istringstream in(out.str());
    std::string line;
    std::vector<std::string> outcomes;
    while (std::getline(in, line)) {
        json e = json::parse(line, nullptr, false);
        ASSERT_FALSE(e.is_discarded()) << line;
        expect_valid_r4_audit_event(e);
        outcomes.push_back(e["outcome"]);
    }
    EXPECT_EQ(outcomes, (std::vector<std::string>{"0", "4", "8"}));
    fs::remove_all(dir);
}

}  // namespace
}  // namespace ward::audit
