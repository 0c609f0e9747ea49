// Fuzzes the FHIR reader (JSON, Bundles, NDJSON): any bytes must give records and a report of
// errors, never a crash, hang or out-of-bounds read.
#include <cstdint>
#include <string_view>

#include "interop/fhir.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto json = ward::interop::read_fhir_json(text);
    for (const auto& p : json.patients) (void)p.item_count();
    (void)json.report.status();
    auto ndjson = ward::interop::read_fhir_ndjson(text);
    (void)ndjson.report.status();
    return 0;
}
