#include "interop/ingest.h"

#include "interop/hl7.h"

namespace ward::interop {

DataFormat detect_format(std::string_view hint, std::string_view text) {
    if (hint.ends_with(".hl7") || hint.ends_with(".txt") || hint.find("hl7-v2") != hint.npos) {
        return DataFormat::kHl7;
    }
    size_t i = 0;
    while (i < text.size() &&
           (text[i] == '\x0b' || text[i] == ' ' || text[i] == '\n' || text[i] == '\r')) {
        ++i;
    }
    std::string_view head = text.substr(i, 3);
    if (head == "MSH" || head == "FHS" || head == "BHS") return DataFormat::kHl7;
    if (hint.ends_with(".ndjson") || hint.ends_with(".jsonl") || hint.find("ndjson") != hint.npos) {
        return DataFormat::kFhirNdjson;
    }
    return DataFormat::kFhirJson;
}

ReadResult read_clinical_data(std::string_view text, std::string_view origin,
                              std::string_view hint) {
    FhirReadOptions o;
    o.origin = std::string(origin);
    switch (detect_format(hint, text)) {
        case DataFormat::kHl7:
            return read_hl7(text, origin);
        case DataFormat::kFhirNdjson:
            return read_fhir_ndjson(text, o);
        case DataFormat::kFhirJson:
            break;
    }
    return read_fhir_json(text, o);
}

}  // namespace ward::interop
