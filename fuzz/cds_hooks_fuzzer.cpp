// Fuzzes the CDS Hooks request and feedback parsers (server/cds_hooks.h) and, for requests that
// parse, reading their prefetch into a record: any bytes must give a value or an error, never a
// crash, hang or out-of-bounds read.
#include <cstdint>
#include <string_view>

#include "server/cds_hooks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto request = ward::server::parse_hook_request(text);
    if (request && !request->patient_id.empty()) {
        auto record = ward::server::record_from_prefetch(*request);
        if (record) (void)record->item_count();
    }
    auto feedback = ward::server::parse_feedback(text);
    if (feedback) (void)feedback->items.size();
    return 0;
}
