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

// Weights stream from memory once per token, too fast for the hardware prefetcher to stay
// ahead of on its own: every kernel asks for the bytes this far ahead of the block it is
// multiplying (measured on the 1.1B Q4_0 shape: decode 11.5 → 24.9 tokens/s on 2 threads;
// 1 KiB and 4 KiB were slower than 2 KiB).
constexpr int kPrefetchAhead = 2048;

// Prefetches the `n_bytes` (a multiple of 64 or less) that start kPrefetchAhead past p.
static inline void prefetch_weights(const uint8_t* p, int n_bytes = 64) {
    for (int off = 0; off < n_bytes; off += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchAhead + off, _MM_HINT_T0);
    }
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
