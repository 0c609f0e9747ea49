// Small helpers shared by the SIMD kernel files. Everything here has internal linkage
// (`static inline`): each kernel file compiles its own copy with its own instruction-set flags,
// so the linker can never hand an AVX-512 build of a helper to the AVX2 path.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace ward::engine::kernels {

// An fp16 scale stored in a block. REQUIRES: compiled with F16C.
static inline float load_fp16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline __m256i load256(const void* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// K-quant 6-bit scale and min of sub-block j (0..7), unpacked from the 12 packed bytes of
// Q4_K and Q5_K super-blocks.
static inline void scale_min_k4(int j, const uint8_t* s, int& sc, int& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
        m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

}  // namespace ward::engine::kernels
