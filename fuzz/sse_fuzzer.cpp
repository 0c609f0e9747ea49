// Fuzzes the Server-Sent Events reader with the bytes an upstream could send: any input must
// give events or a clear error, never a crash, hang or unbounded buffer; and the events must not
// depend on how the bytes were cut into chunks (all at once, byte by byte, or in the sizes the
// input's first byte chooses).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "llm/sse.h"

namespace {

struct Outcome {
    std::vector<ward::llm::SseEvent> events;
    ward::StatusCode code = ward::StatusCode::kOk;
};

Outcome read(std::string_view bytes, size_t chunk) {
    ward::llm::SseReader reader(4096);
    Outcome out;
    auto on_event = [&](const ward::llm::SseEvent& e) {
        out.events.push_back(e);
        return true;
    };
    for (size_t pos = 0; pos < bytes.size(); pos += chunk) {
        ward::Status s = reader.feed(bytes.substr(pos, chunk), on_event);
        if (!s.ok()) {
            out.code = s.code();
            break;
        }
    }
    return out;
}

bool same(const Outcome& a, const Outcome& b) {
    if (a.code != b.code || a.events.size() != b.events.size()) return false;
    for (size_t i = 0; i < a.events.size(); ++i) {
        if (a.events[i].data != b.events[i].data || a.events[i].type != b.events[i].type ||
            a.events[i].id != b.events[i].id) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    size_t chunk = 1 + data[0] % 64;
    std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
    Outcome whole = read(bytes, bytes.size() + 1);
    if (!same(whole, read(bytes, 1))) std::abort();
    if (!same(whole, read(bytes, chunk))) std::abort();
    return 0;
}
