// Fuzzes the HL7 v2 parser, the mapping into records and ACK generation: any bytes must give a
// message or a clear error, never a crash, hang or out-of-bounds read.
#include <cstdint>
#include <string_view>

#include "interop/hl7.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace ward::interop;
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto msg = Hl7Message::parse(text);
    AckInfo info;
    if (msg) {
        ReadResult r = read_hl7_message(*msg);
        if (!r.report.ok()) info = {AckCode::kError, r.report.errors[0].message, "207"};
        for (const auto& seg : msg->segments()) {
            for (size_t f = 1; f < seg.fields.size(); ++f) (void)msg->value(seg.fields[f], 2, 1, 2);
        }
    } else {
        info = {AckCode::kReject, msg.error().message(), "102"};
    }
    (void)make_ack(msg ? &*msg : nullptr, text, info, "20200101000000", "1");
    (void)read_hl7(text);
    return 0;
}
