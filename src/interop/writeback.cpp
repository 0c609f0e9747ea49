#include "interop/writeback.h"

#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "interop/fhir.h"

namespace ward::interop {

Result<std::string> make_document_bundle(const GeneratedDocument& doc) {
    if (doc.patient_id.empty()) return invalid_argument("writeback: the patient id is empty");
    if (doc.text.empty()) return invalid_argument("writeback: the generated text is empty");
    if (!is_fhir_date(doc.created) || doc.created.size() < 20) {
        return invalid_argument("writeback: created \"{}\" is not a FHIR instant", doc.created);
    }
    bool hex = doc.model_sha256.size() == 64;
    for (char c : doc.model_sha256) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) hex = false;
    }
    if (!hex) {
        return invalid_argument("writeback: model hash \"{}\" is not 64 lowercase hex digits",
                                doc.model_sha256);
    }
    if (doc.model_name.empty()) return invalid_argument("writeback: the model name is empty");

    // Ids derived from the content (and patient) are UUID-shaped so urn:uuid fullUrls are valid.
    auto uuid_of = [](std::string_view seed) {
        std::string h = crypto::sha256_hex(seed);
        return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" +
               h.substr(16, 4) + "-" + h.substr(20, 12);
    };
    std::string seed = doc.patient_id + "\n" + doc.created + "\n" + doc.text;
    std::string id = doc.document_id.empty() ? uuid_of(seed) : doc.document_id;
    std::string prov_id = uuid_of("provenance\n" + seed);
    using nlohmann::json;
    json ai_tag = {{"system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"},
                   {"code", "AIAST"},
                   {"display", "Artificial Intelligence asserted"}};
    json document = {
        {"resourceType", "DocumentReference"},
        {"id", id},
        {"meta", {{"security", json::array({ai_tag})}}},
        {"status", "current"},
        {"docStatus", "preliminary"},
        {"type",
         {{"coding", json::array({{{"system", "http://loinc.org"},
                                   {"code", "11506-3"},
                                   {"display", "Progress note"}}})},
          {"text", doc.title.empty() ? "AI-generated note" : doc.title}}},
        {"subject", {{"reference", "Patient/" + doc.patient_id}}},
        {"date", doc.created},
        {"author", json::array({{{"display", doc.model_name + " (AI model)"}}})},
        {"description", doc.title.empty() ? "AI-generated note" : doc.title},
        {"content",
         json::array(
             {{{"attachment",
                {{"contentType", "text/plain; charset=utf-8"},
                 {"language", "en"},
                 {"data", encode_base64(doc.text)},
                 {"hash", encode_base64(std::string_view(
                              reinterpret_cast<const char*>(crypto::sha256(doc.text).data()), 32))},
                 {"size", doc.text.size()},
                 {"title", doc.title.empty() ? "AI-generated note" : doc.title},
                 {"creation", doc.created}}}}})},
    };
    json entities = json::array();
    for (const auto& s : doc.cited) {
        json what;
        if (s.kind == Source::Kind::kFhir) {
            what = {{"reference", s.id}};
        } else {
            what = {{"identifier", {{"system", "urn:hl7v2:message-control-id"}, {"value", s.id}}},
                    {"display", s.to_string()}};
        }
        entities.push_back({{"role", "source"}, {"what", what}});
    }
    json provenance = {
        {"resourceType", "Provenance"},
        {"id", prov_id},
        {"meta", {{"security", json::array({ai_tag})}}},
        {"target", json::array({{{"reference", "urn:uuid:" + id}}})},
        {"recorded", doc.created},
        {"activity",
         {{"coding",
           json::array({{{"system", "http://terminology.hl7.org/CodeSystem/v3-DataOperation"},
                         {"code", "CREATE"},
                         {"display", "create"}}})},
          {"text", doc.task.empty() ? "AI-generated text" : "AI-generated: " + doc.task}}},
        {"agent",
         json::array(
             {{{"type",
                {{"coding",
                  json::array(
                      {{{"system",
                         "http://terminology.hl7.org/CodeSystem/provenance-participant-type"},
                        {"code", "author"},
                        {"display", "Author"}}})}}},
               {"who",
                {{"identifier", {{"system", "urn:ward:model-sha256"}, {"value", doc.model_sha256}}},
                 {"display", doc.model_name}}}}})},
    };
    if (!entities.empty()) provenance["entity"] = entities;
    json bundle = {
        {"resourceType", "Bundle"},
        {"type", "transaction"},
        {"entry", json::array({{{"fullUrl", "urn:uuid:" + id},
                                {"resource", document},
                                {"request", {{"method", "POST"}, {"url", "DocumentReference"}}}},
                               {{"fullUrl", "urn:uuid:" + prov_id},
                                {"resource", provenance},
                                {"request", {{"method", "POST"}, {"url", "Provenance"}}}}})},
    };
    return bundle.dump(2);
}

}  // namespace ward::interop
