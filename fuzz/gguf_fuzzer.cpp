// Fuzzes the GGUF reader: any bytes give a parsed file or a clear error; on success every
// tensor's data lies inside the input and every metadata accessor is safe to call.
#include <cstdint>
#include <cstring>

#include "engine/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto f = ward::engine::GgufFile::parse({data, size});
    if (!f) return 0;
    for (const auto& t : (*f)->tensors()) {
        if (t.data < data || t.data + t.n_bytes > data + size) __builtin_trap();
        if (t.n_bytes > 0) {
            volatile uint8_t last = t.data[t.n_bytes - 1];
            (void)last;
        }
    }
    for (const auto& [key, value] : (*f)->metadata()) {
        (void)(*f)->get_string(key);
        (void)(*f)->get_int(key);
        (void)(*f)->get_float(key);
        (void)(*f)->get_string_array(key);
        (void)(*f)->get_int_array(key);
        (void)(*f)->get_float_array(key);
    }
    return 0;
}
