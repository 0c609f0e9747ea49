#include "engine/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ward::engine {

// ---------------------------------------------------------------------------------------------
// Half precision

float fp16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exponent = (h >> 10) & 0x1f;
    const uint32_t mantissa = h & 0x3ff;
    uint32_t bits = 0;
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in float.
        float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);  // inf, or NaN keeping its payload
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f = 0;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
}

uint16_t f32_to_fp16(float f) {
    uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof(bits));
    const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000);
    const uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude > 0x7f800000u) {
        // NaN: keep the top payload bits and force the quiet bit so it never becomes inf.
        return static_cast<uint16_t>(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
    }
    // 65520 is halfway between the largest half (65504) and 2^16; ties go to even, i.e. inf.
    if (magnitude >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00);
    if (magnitude < 0x38800000u) {
        // Below the smallest normal half (2^-14): a subnormal in units of 2^-24. 2^-25 and
        // below round to zero (2^-25 itself is a tie that goes to the even zero).
        if (magnitude <= 0x33000000u) return sign;
        const uint32_t exponent = magnitude >> 23;  // 102..112 here
        const uint32_t mantissa = (magnitude & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - exponent;  // 14..24
        uint32_t q = mantissa >> shift;
        const uint32_t rest = mantissa & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rest > half || (rest == half && (q & 1))) ++q;  // may carry into the exponent
        return static_cast<uint16_t>(sign | q);
    }
    // Normal: rebias the exponent, keep 10 mantissa bits, round the dropped 13 to even. A carry
    // out of the mantissa correctly bumps the exponent.
    uint32_t h = ((magnitude >> 13) - ((127 - 15) << 10));
    const uint32_t rest = magnitude & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
}

float bf16_to_f32(uint16_t h) {
    const uint32_t bits = static_cast<uint32_t>(h) << 16;
    float f = 0;
    std::memcpy(&f, &bits, sizeof(f));
    return f;
}

uint16_t f32_to_bf16(float f) {
    uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof(bits));
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<uint16_t>((bits >> 16) | 0x40);  // NaN, made quiet
    }
    bits += 0x7fff + ((bits >> 16) & 1);  // round to nearest even; overflow becomes inf
    return static_cast<uint16_t>(bits >> 16);
}

namespace {

// ---------------------------------------------------------------------------------------------
// Block layouts, as in ggml-common.h. Halves (d, m, dmin) are IEEE binary16, little-endian.
// Blocks are copied out of (and into) the byte stream with memcpy, so the row needs no
// particular alignment.

struct BlockQ4_0 {
    uint16_t d;
    uint8_t qs[16];  // element j in the low nibble of qs[j], element j + 16 in the high one
};
struct BlockQ4_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qs[16];
};
struct BlockQ5_0 {
    uint16_t d;
    uint8_t qh[4];  // bit j of this u32 is the fifth bit of element j
    uint8_t qs[16];
};
struct BlockQ5_1 {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[16];
};
struct BlockQ8_0 {
    uint16_t d;
    int8_t qs[32];
};
struct BlockQ2_K {
    uint8_t scales[16];  // per 16 weights: low nibble scale, high nibble min
    uint8_t qs[64];      // 2-bit quants
    uint16_t d;
    uint16_t dmin;
};
struct BlockQ3_K {
    uint8_t hmask[32];   // third bit of each quant
    uint8_t qs[64];      // low 2 bits
    uint8_t scales[12];  // 16 6-bit scales, biased by 32
    uint16_t d;
};
struct BlockQ4_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];  // 8 6-bit scales and 8 6-bit mins
    uint8_t qs[128];
};
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
};
struct BlockQ6_K {
    uint8_t ql[128];  // low 4 bits
    uint8_t qh[64];   // high 2 bits
    int8_t scales[16];
    uint16_t d;
};
static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

template <typename Block>
Block load_block(const uint8_t* src, int64_t index) {
    Block b;
    std::memcpy(&b, src + index * static_cast<int64_t>(sizeof(Block)), sizeof(Block));
    return b;
}

template <typename Block>
void store_block(uint8_t* dst, int64_t index, const Block& b) {
    std::memcpy(dst + index * static_cast<int64_t>(sizeof(Block)), &b, sizeof(Block));
}

uint32_t load_u32(const uint8_t* p) {
    return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
           static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

void store_u32(uint8_t* p, uint32_t v) {
    for (int k = 0; k < 4; ++k) p[k] = static_cast<uint8_t>(v >> (8 * k));
}

// Q4_K / Q5_K: scale and min of sub-block j (0..7), 6 bits each, packed into 12 bytes. Bytes
// 0..3 hold scales 0..3 and bytes 4..7 mins 0..3 in their low 6 bits; sub-blocks 4..7 keep
// their low 4 bits in the nibbles of bytes 8..11 and their top 2 bits in the top bits of
// bytes 0..7.
void unpack_scale_min_k4(int j, const uint8_t* packed, int& scale, int& min) {
    if (j < 4) {
        scale = packed[j] & 63;
        min = packed[j + 4] & 63;
    } else {
        scale = (packed[j + 4] & 0xf) | ((packed[j - 4] >> 6) << 4);
        min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

void pack_scale_min_k4(int j, int scale, int min, uint8_t* packed) {
    if (j < 4) {
        packed[j] = static_cast<uint8_t>((packed[j] & 0xc0) | scale);
        packed[j + 4] = static_cast<uint8_t>((packed[j + 4] & 0xc0) | min);
    } else {
        packed[j + 4] = static_cast<uint8_t>((scale & 0xf) | ((min & 0xf) << 4));
        packed[j - 4] = static_cast<uint8_t>(packed[j - 4] | ((scale >> 4) << 6));
        packed[j] = static_cast<uint8_t>(packed[j] | ((min >> 4) << 6));
    }
}

// Q3_K: the 6-bit scale of sub-block j (0..15), unbiased to -32..31. Low 4 bits: the low
// nibble of byte j (j < 8) or the high nibble of byte j - 8; top 2 bits: bits 2*(j/4) of byte
// 8 + j%4.
int unpack_scale_q3_k(int j, const uint8_t* packed) {
    int low = j < 8 ? packed[j] & 0xf : packed[j - 8] >> 4;
    int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

void pack_scale_q3_k(int j, int biased_scale, uint8_t* packed) {
    if (j < 8) {
        packed[j] = static_cast<uint8_t>(packed[j] | (biased_scale & 0xf));
    } else {
        packed[j - 8] = static_cast<uint8_t>(packed[j - 8] | ((biased_scale & 0xf) << 4));
    }
    packed[8 + j % 4] =
        static_cast<uint8_t>(packed[8 + j % 4] | ((biased_scale >> 4) << (2 * (j / 4))));
}

// ---------------------------------------------------------------------------------------------
// Dequantization. Float operations follow ggml's order so that results match it bit for bit.

void dequantize_q4_0(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ4_0>(src, i);
        const float d = fp16_to_f32(b.d);
        float* y = dst + i * kQK;
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>((b.qs[j] & 0xf) - 8) * d;
            y[j + 16] = static_cast<float>((b.qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_q4_1(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ4_1>(src, i);
        const float d = fp16_to_f32(b.d);
        const float m = fp16_to_f32(b.m);
        float* y = dst + i * kQK;
        for (int j = 0; j < 16; ++j) {
            y[j] = static_cast<float>(b.qs[j] & 0xf) * d + m;
            y[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_q5_0(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ5_0>(src, i);
        const float d = fp16_to_f32(b.d);
        const uint32_t qh = load_u32(b.qh);
        float* y = dst + i * kQK;
        for (int j = 0; j < 16; ++j) {
            const int q0 = (b.qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
            const int q1 = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
            y[j] = static_cast<float>(q0 - 16) * d;
            y[j + 16] = static_cast<float>(q1 - 16) * d;
        }
    }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ5_1>(src, i);
        const float d = fp16_to_f32(b.d);
        const float m = fp16_to_f32(b.m);
        const uint32_t qh = load_u32(b.qh);
        float* y = dst + i * kQK;
        for (int j = 0; j < 16; ++j) {
            const int q0 = (b.qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1) << 4);
            const int q1 = (b.qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
            y[j] = static_cast<float>(q0) * d + m;
            y[j + 16] = static_cast<float>(q1) * d + m;
        }
    }
}

void dequantize_q8_0(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ8_0>(src, i);
        const float d = fp16_to_f32(b.d);
        float* y = dst + i * kQK;
        for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(b.qs[j]) * d;
    }
}

// Q2_K, 256 weights: weight e uses scales[e / 16] and the 2 bits at shift 2 * ((e % 128) / 32)
// of qs[32 * (e / 128) + e % 32]. value = d * scale * q - dmin * min.
void dequantize_q2_k(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ2_K>(src, i);
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        float* y = dst + i * kQKK;
        for (int e = 0; e < kQKK; ++e) {
            const uint8_t sc = b.scales[e / 16];
            const float dl = d * static_cast<float>(sc & 0xf);
            const float ml = dmin * static_cast<float>(sc >> 4);
            const int shift = 2 * ((e % 128) / 32);
            const int q = (b.qs[32 * (e / 128) + e % 32] >> shift) & 3;
            y[e] = dl * static_cast<float>(q) - ml;
        }
    }
}

// Q3_K: as Q2_K for the low 2 bits; bit e / 32 of hmask[e % 32] is the third bit, and a clear
// bit means "subtract 4". value = d * (scale - 32) * (q - 4 * !hbit).
void dequantize_q3_k(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ3_K>(src, i);
        const float d = fp16_to_f32(b.d);
        float dl[16];  // per 16 weights
        for (int j = 0; j < 16; ++j) dl[j] = d * static_cast<float>(unpack_scale_q3_k(j, b.scales));
        float* y = dst + i * kQKK;
        for (int e = 0; e < kQKK; ++e) {
            const int shift = 2 * ((e % 128) / 32);
            const int low = (b.qs[32 * (e / 128) + e % 32] >> shift) & 3;
            const bool high = (b.hmask[e % 32] >> (e / 32)) & 1;
            y[e] = dl[e / 16] * static_cast<float>(low - (high ? 0 : 4));
        }
    }
}

// Q4_K: 8 sub-blocks of 32. Sub-blocks 2c and 2c + 1 share qs[32c .. 32c + 31], low and high
// nibbles. value = d * scale * q - dmin * min.
void dequantize_q4_k(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ4_K>(src, i);
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        float* y = dst + i * kQKK;
        for (int c = 0; c < 4; ++c) {
            int sc = 0, m = 0;
            unpack_scale_min_k4(2 * c, b.scales, sc, m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            unpack_scale_min_k4(2 * c + 1, b.scales, sc, m);
            const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
            const uint8_t* q = b.qs + 32 * c;
            for (int l = 0; l < 32; ++l) y[64 * c + l] = d1 * static_cast<float>(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; ++l)
                y[64 * c + 32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

// Q5_K: Q4_K plus a fifth bit: bit 2c (low nibbles) or 2c + 1 (high nibbles) of qh[l].
void dequantize_q5_k(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ5_K>(src, i);
        const float d = fp16_to_f32(b.d);
        const float dmin = fp16_to_f32(b.dmin);
        float* y = dst + i * kQKK;
        for (int c = 0; c < 4; ++c) {
            int sc = 0, m = 0;
            unpack_scale_min_k4(2 * c, b.scales, sc, m);
            const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(m);
            unpack_scale_min_k4(2 * c + 1, b.scales, sc, m);
            const float d2 = d * static_cast<float>(sc), m2 = dmin * static_cast<float>(m);
            const uint8_t* q = b.qs + 32 * c;
            for (int l = 0; l < 32; ++l) {
                const int hi = (b.qh[l] >> (2 * c)) & 1;
                y[64 * c + l] = d1 * static_cast<float>((q[l] & 0xf) + 16 * hi) - m1;
            }
            for (int l = 0; l < 32; ++l) {
                const int hi = (b.qh[l] >> (2 * c + 1)) & 1;
                y[64 * c + 32 + l] = d2 * static_cast<float>((q[l] >> 4) + 16 * hi) - m2;
            }
        }
    }
}

// Q6_K: two halves of 128. In half h, for l < 32: ql[64h + l] holds weights l (low nibble) and
// l + 64 (high); ql[64h + 32 + l] weights l + 32 and l + 96; qh[32h + l] their top 2 bits at
// shifts 0, 4, 2, 6 respectively. Scale of weight e: scales[e / 16]. value = d * scale * (q - 32).
void dequantize_q6_k(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i) {
        const auto b = load_block<BlockQ6_K>(src, i);
        const float d = fp16_to_f32(b.d);
        float* y = dst + i * kQKK;
        for (int h = 0; h < 2; ++h) {
            const uint8_t* ql = b.ql + 64 * h;
            const uint8_t* qh = b.qh + 32 * h;
            const int8_t* sc = b.scales + 8 * h;
            float* yh = y + 128 * h;
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                yh[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
                yh[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
                yh[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
                yh[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
            }
        }
    }
}

}  // namespace

void dequantize_row(TensorType type, const void* src, float* dst, int64_t n) {
    const TensorTypeInfo info = tensor_type_info(type);
    WARD_CHECK(info.supported && n % info.block_size == 0);
    const auto* bytes = static_cast<const uint8_t*>(src);
    const int64_t n_blocks = n / info.block_size;
    switch (type) {
        case TensorType::kF32:
            std::memcpy(dst, bytes, static_cast<size_t>(n) * sizeof(float));
            return;
        case TensorType::kF16:
            for (int64_t j = 0; j < n; ++j) {
                uint16_t h = 0;
                std::memcpy(&h, bytes + 2 * j, 2);
                dst[j] = fp16_to_f32(h);
            }
            return;
        case TensorType::kBF16:
            for (int64_t j = 0; j < n; ++j) {
                uint16_t h = 0;
                std::memcpy(&h, bytes + 2 * j, 2);
                dst[j] = bf16_to_f32(h);
            }
            return;
        case TensorType::kQ4_0:
            return dequantize_q4_0(bytes, dst, n_blocks);
        case TensorType::kQ4_1:
            return dequantize_q4_1(bytes, dst, n_blocks);
        case TensorType::kQ5_0:
            return dequantize_q5_0(bytes, dst, n_blocks);
        case TensorType::kQ5_1:
            return dequantize_q5_1(bytes, dst, n_blocks);
        case TensorType::kQ8_0:
            return dequantize_q8_0(bytes, dst, n_blocks);
        case TensorType::kQ2_K:
            return dequantize_q2_k(bytes, dst, n_blocks);
        case TensorType::kQ3_K:
            return dequantize_q3_k(bytes, dst, n_blocks);
        case TensorType::kQ4_K:
            return dequantize_q4_k(bytes, dst, n_blocks);
        case TensorType::kQ5_K:
            return dequantize_q5_k(bytes, dst, n_blocks);
        case TensorType::kQ6_K:
            return dequantize_q6_k(bytes, dst, n_blocks);
        default:
            WARD_CHECK(false && "dequantize_row: type marked supported but not handled");
    }
}

namespace {

// ---------------------------------------------------------------------------------------------
// Quantization: reference quantizers in the manner of ggml's `_ref` ones (no importance
// matrix). Every level is clamped, so any finite input gives a valid block.

// Round to nearest (ties to even, as ggml's nearest_int), saturating far outside int range and
// mapping NaN to 0 so that hostile inputs cannot cause an undefined conversion.
int nearest_int(float v) {
    if (!(std::fabs(v) < 1e9f)) return std::isnan(v) ? 0 : (v > 0 ? 1000000000 : -1000000000);
    return static_cast<int>(std::lrintf(v));
}

// Truncation toward zero, clamped to [lo, hi] (NaN → lo).
int truncate_clamped(float v, int lo, int hi) {
    if (!(v >= static_cast<float>(lo))) return lo;
    if (v >= static_cast<float>(hi)) return hi;
    return static_cast<int>(v);
}

int clamp_int(int v, int lo, int hi) {
    return std::max(lo, std::min(hi, v));
}

// Fits x[i] ≈ scale * L[i] - min_out with L[i] in [0, nmax], scale >= 0 and min_out >= 0 (the
// offset is never positive, so zero stays representable), minimising the weighted squared (or
// absolute, `use_mad`) error. After the plain min/max fit it tries nstep + 1 alternative
// scales (nmax + rmin + rdelta * k) / (max - min) and solves the weighted least-squares
// scale and offset for each resulting L. Returns the scale. REQUIRES: n <= 32.
float fit_scale_and_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out,
                        float rmin, float rdelta, int nstep, bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = 0, sum_x = 0;
    for (int i = 0; i < n; ++i) {
        min = std::min(min, x[i]);
        max = std::max(max, x[i]);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (!(max > min)) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        *min_out = -min;
        return 0.f;
    }
    auto error_of = [&](float scale, float offset, const uint8_t* levels) {
        float err = 0;
        for (int i = 0; i < n; ++i) {
            float diff = scale * static_cast<float>(levels[i]) + offset - x[i];
            err += w[i] * (use_mad ? std::fabs(diff) : diff * diff);
        }
        return err;
    };
    float iscale = static_cast<float>(nmax) / (max - min);
    float scale = 1 / iscale;
    for (int i = 0; i < n; ++i) {
        L[i] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax));
    }
    float best_error = error_of(scale, min, L);
    uint8_t trial[32];
    for (int k = 0; k <= nstep; ++k) {
        iscale = (rmin + rdelta * static_cast<float>(k) + static_cast<float>(nmax)) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
            trial[i] = static_cast<uint8_t>(l);
            sum_l += w[i] * static_cast<float>(l);
            sum_l2 += w[i] * static_cast<float>(l * l);
            sum_xl += w[i] * static_cast<float>(l) * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        const float err = error_of(this_scale, this_min, trial);
        if (err < best_error) {
            std::memcpy(L, trial, static_cast<size_t>(n));
            best_error = err;
            scale = this_scale;
            min = this_min;
        }
    }
    *min_out = -min;
    return scale;
}

// Fits x[i] ≈ scale * (L[i] - nmax) with L[i] in [0, 2 * nmax - 1], weighting each error by
// x[i]^2 (large weights matter most). The value of largest magnitude is mapped to -nmax, which
// uses the wider side of the asymmetric range; 18 nearby scales are tried and the one with the
// best least-squares fit wins. The returned scale may be negative.
float fit_symmetric_scale(int n, int nmax, const float* x, uint8_t* L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    }
    if (!(amax >= 1e-15f)) {
        for (int i = 0; i < n; ++i) L[i] = 0;
        return 0.f;
    }
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(nmax);
    float best_scale = 0, best = -1;
    for (int k = 0; k <= 18; ++k) {
        // k = 0 is the plain fit; then offsets -0.9 .. +0.9 around nmax.
        const float offset = k == 0 ? 0.f : 0.1f * static_cast<float>(k <= 9 ? k - 10 : k - 9);
        const float iscale = -(static_cast<float>(nmax) + offset) / max;
        float sum_lx = 0, sum_l2 = 0;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            sum_lx += w * x[i] * static_cast<float>(l);
            sum_l2 += w * static_cast<float>(l * l);
        }
        if (!(sum_l2 > 0)) continue;
        // The least-squares error for these levels is sum(w x^2) - sum_lx^2 / sum_l2.
        if (best < 0 || sum_lx * sum_lx > best * sum_l2) {
            best_scale = sum_lx / sum_l2;
            best = best_scale * sum_lx;
            for (int i = 0; i < n; ++i) {
                L[i] = static_cast<uint8_t>(clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1) +
                                            nmax);
            }
        }
    }
    return best_scale;
}

void quantize_q4_0(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQK) {
        float amax = 0, max = 0;
        for (int j = 0; j < kQK; ++j) {
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        // The extreme value maps to level 0 (-8); the other side reaches +7.
        const float d = max / -8;
        const float id = d != 0 ? 1 / d : 0;
        BlockQ4_0 b{};
        b.d = f32_to_fp16(d);
        for (int j = 0; j < 16; ++j) {
            const int q0 = truncate_clamped(x[j] * id + 8.5f, 0, 15);
            const int q1 = truncate_clamped(x[j + 16] * id + 8.5f, 0, 15);
            b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
        store_block(dst, i, b);
    }
}

void quantize_q4_1(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQK) {
        float min = x[0], max = x[0];
        for (int j = 1; j < kQK; ++j) {
            min = std::min(min, x[j]);
            max = std::max(max, x[j]);
        }
        const float d = (max - min) / 15;
        const float id = d != 0 ? 1 / d : 0;
        BlockQ4_1 b{};
        b.d = f32_to_fp16(d);
        b.m = f32_to_fp16(min);
        for (int j = 0; j < 16; ++j) {
            const int q0 = truncate_clamped((x[j] - min) * id + 0.5f, 0, 15);
            const int q1 = truncate_clamped((x[j + 16] - min) * id + 0.5f, 0, 15);
            b.qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
        }
        store_block(dst, i, b);
    }
}

void quantize_q5_0(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQK) {
        float amax = 0, max = 0;
        for (int j = 0; j < kQK; ++j) {
            if (std::fabs(x[j]) > amax) {
                amax = std::fabs(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d != 0 ? 1 / d : 0;
        BlockQ5_0 b{};
        b.d = f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const int q0 = truncate_clamped(x[j] * id + 16.5f, 0, 31);
            const int q1 = truncate_clamped(x[j + 16] * id + 16.5f, 0, 31);
            b.qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
            qh |= static_cast<uint32_t>(q0 >> 4) << j;
            qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
        }
        store_u32(b.qh, qh);
        store_block(dst, i, b);
    }
}

void quantize_q5_1(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQK) {
        float min = x[0], max = x[0];
        for (int j = 1; j < kQK; ++j) {
            min = std::min(min, x[j]);
            max = std::max(max, x[j]);
        }
        const float d = (max - min) / 31;
        const float id = d != 0 ? 1 / d : 0;
        BlockQ5_1 b{};
        b.d = f32_to_fp16(d);
        b.m = f32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < 16; ++j) {
            const int q0 = truncate_clamped((x[j] - min) * id + 0.5f, 0, 31);
            const int q1 = truncate_clamped((x[j + 16] - min) * id + 0.5f, 0, 31);
            b.qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
            qh |= static_cast<uint32_t>(q0 >> 4) << j;
            qh |= static_cast<uint32_t>(q1 >> 4) << (j + 16);
        }
        store_u32(b.qh, qh);
        store_block(dst, i, b);
    }
}

void quantize_q8_0(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQK) {
        float amax = 0;
        for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127;
        const float id = d != 0 ? 1 / d : 0;
        BlockQ8_0 b{};
        b.d = f32_to_fp16(d);
        for (int j = 0; j < kQK; ++j) {
            // Half away from zero, as ggml's roundf.
            const float v = x[j] * id;
            const int q =
                std::isnan(v) ? 0 : static_cast<int>(std::round(std::clamp(v, -127.f, 127.f)));
            b.qs[j] = static_cast<int8_t>(q);
        }
        store_block(dst, i, b);
    }
}

// Packs 256 2-bit levels the way Q2_K and Q3_K store them (see dequantize_q2_k).
void pack_2bit_levels(const uint8_t* L, uint8_t* qs) {
    for (int half = 0; half < 2; ++half) {
        const uint8_t* l = L + 128 * half;
        for (int j = 0; j < 32; ++j) {
            qs[32 * half + j] =
                static_cast<uint8_t>(l[j] | (l[j + 32] << 2) | (l[j + 64] << 4) | (l[j + 96] << 6));
        }
    }
}

void quantize_q2_k(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQKK) {
        uint8_t L[kQKK];
        float scales[16], mins[16], weights[16];
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; ++j) {
            for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
            scales[j] = fit_scale_and_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f,
                                          0.1f, 15, true);
            max_scale = std::max(max_scale, scales[j]);
            max_min = std::max(max_min, mins[j]);
        }
        // Scales and mins as 4-bit multiples of d and dmin.
        BlockQ2_K b{};
        const float inv_scale = max_scale > 0 ? 15 / max_scale : 0;
        const float inv_min = max_min > 0 ? 15 / max_min : 0;
        for (int j = 0; j < 16; ++j) {
            const int ls = clamp_int(nearest_int(inv_scale * scales[j]), 0, 15);
            const int lm = clamp_int(nearest_int(inv_min * mins[j]), 0, 15);
            b.scales[j] = static_cast<uint8_t>(ls | (lm << 4));
        }
        b.d = f32_to_fp16(max_scale / 15);
        b.dmin = f32_to_fp16(max_min / 15);
        // Requantize against the scales as stored.
        const float d = fp16_to_f32(b.d), dmin = fp16_to_f32(b.dmin);
        for (int j = 0; j < 16; ++j) {
            const float dl = d * static_cast<float>(b.scales[j] & 0xf);
            if (dl == 0) continue;
            const float ml = dmin * static_cast<float>(b.scales[j] >> 4);
            for (int l = 0; l < 16; ++l) {
                L[16 * j + l] =
                    static_cast<uint8_t>(clamp_int(nearest_int((x[16 * j + l] + ml) / dl), 0, 3));
            }
        }
        pack_2bit_levels(L, b.qs);
        store_block(dst, i, b);
    }
}

// Q3_K and Q6_K: fits a symmetric scale to each of the 16 sub-blocks of 16 weights of a
// super-block (levels in L[256]) and returns the scale of largest magnitude, sign kept (0 when
// the block is all zero).
float fit_symmetric_sub_scales(const float* x, int nmax, uint8_t* L, float* scales) {
    float max_scale = 0, amax = 0;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fit_symmetric_scale(16, nmax, x + 16 * j, L + 16 * j);
        if (std::fabs(scales[j]) > amax) {
            amax = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    return max_scale;
}

// Levels of 16 weights against the sub-block scale as stored: round(x / dl) in [-nmax,
// nmax - 1], biased by nmax (so a zero scale gives the zero level nmax).
void requantize_symmetric(const float* x, float dl, int nmax, uint8_t* L) {
    for (int l = 0; l < 16; ++l) {
        L[l] =
            dl == 0
                ? static_cast<uint8_t>(nmax)
                : static_cast<uint8_t>(clamp_int(nearest_int(x[l] / dl), -nmax, nmax - 1) + nmax);
    }
}

void quantize_q3_k(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQKK) {
        uint8_t L[kQKK];
        float scales[16];
        const float max_scale = fit_symmetric_sub_scales(x, 4, L, scales);
        BlockQ3_K b{};
        if (max_scale != 0) {
            // 6-bit signed scales; the largest maps to -32.
            const float iscale = -32 / max_scale;
            for (int j = 0; j < 16; ++j) {
                const int l = clamp_int(nearest_int(iscale * scales[j]), -32, 31) + 32;
                pack_scale_q3_k(j, l, b.scales);
            }
            b.d = f32_to_fp16(1 / iscale);
        } else {
            b.d = f32_to_fp16(0.f);
        }
        const float d = fp16_to_f32(b.d);
        for (int j = 0; j < 16; ++j) {
            const float dl = d * static_cast<float>(unpack_scale_q3_k(j, b.scales));
            requantize_symmetric(x + 16 * j, dl, 4, L + 16 * j);
        }
        // Level 0..7: the third bit goes to hmask (bit e / 32 of byte e % 32), the rest to qs.
        for (int e = 0; e < kQKK; ++e) {
            if (L[e] > 3) {
                b.hmask[e % 32] = static_cast<uint8_t>(b.hmask[e % 32] | (1 << (e / 32)));
                L[e] = static_cast<uint8_t>(L[e] - 4);
            }
        }
        pack_2bit_levels(L, b.qs);
        store_block(dst, i, b);
    }
}

// Q4_K and Q5_K share everything but the level count (15 or 31) and the bit packing.
// Fills L[256] with levels 0..nmax and sets the header fields d, dmin, scales.
void quantize_k_super_block(const float* x, int nmax, float rmin, int nstep, uint8_t* L,
                            uint16_t& d_out, uint16_t& dmin_out, uint8_t* packed_scales) {
    float scales[8], mins[8], weights[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
        scales[j] = fit_scale_and_min(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, 0.1f,
                                      nstep, false);
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0 ? 63 / max_scale : 0;
    const float inv_min = max_min > 0 ? 63 / max_min : 0;
    std::memset(packed_scales, 0, 12);
    for (int j = 0; j < 8; ++j) {
        const int ls = clamp_int(nearest_int(inv_scale * scales[j]), 0, 63);
        const int lm = clamp_int(nearest_int(inv_min * mins[j]), 0, 63);
        pack_scale_min_k4(j, ls, lm, packed_scales);
    }
    d_out = f32_to_fp16(max_scale / 63);
    dmin_out = f32_to_fp16(max_min / 63);
    const float d = fp16_to_f32(d_out), dmin = fp16_to_f32(dmin_out);
    for (int j = 0; j < 8; ++j) {
        int sc = 0, m = 0;
        unpack_scale_min_k4(j, packed_scales, sc, m);
        const float dl = d * static_cast<float>(sc);
        if (dl == 0) continue;
        const float ml = dmin * static_cast<float>(m);
        for (int l = 0; l < 32; ++l) {
            L[32 * j + l] =
                static_cast<uint8_t>(clamp_int(nearest_int((x[32 * j + l] + ml) / dl), 0, nmax));
        }
    }
}

void quantize_q4_k(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQKK) {
        uint8_t L[kQKK];
        BlockQ4_K b{};
        quantize_k_super_block(x, 15, -1.f, 20, L, b.d, b.dmin, b.scales);
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                b.qs[32 * c + l] = static_cast<uint8_t>(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
            }
        }
        store_block(dst, i, b);
    }
}

void quantize_q5_k(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQKK) {
        uint8_t L[kQKK];
        BlockQ5_K b{};
        quantize_k_super_block(x, 31, -0.5f, 15, L, b.d, b.dmin, b.scales);
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 32; ++l) {
                const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                b.qs[32 * c + l] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
                b.qh[l] = static_cast<uint8_t>(b.qh[l] | ((lo >> 4) << (2 * c)) |
                                               ((hi >> 4) << (2 * c + 1)));
            }
        }
        store_block(dst, i, b);
    }
}

void quantize_q6_k(const float* x, uint8_t* dst, int64_t n_blocks) {
    for (int64_t i = 0; i < n_blocks; ++i, x += kQKK) {
        uint8_t L[kQKK];
        float scales[16];
        const float max_scale = fit_symmetric_sub_scales(x, 32, L, scales);
        BlockQ6_K b{};
        if (std::fabs(max_scale) < 1e-15f) {
            store_block(dst, i, b);  // all zero
            continue;
        }
        // 8-bit signed scales; the largest maps to -128.
        const float iscale = -128 / max_scale;
        b.d = f32_to_fp16(1 / iscale);
        for (int j = 0; j < 16; ++j) {
            b.scales[j] =
                static_cast<int8_t>(clamp_int(nearest_int(iscale * scales[j]), -128, 127));
        }
        const float d = fp16_to_f32(b.d);
        for (int j = 0; j < 16; ++j) {
            requantize_symmetric(x + 16 * j, d * static_cast<float>(b.scales[j]), 32, L + 16 * j);
        }
        for (int h = 0; h < 2; ++h) {
            const uint8_t* lh = L + 128 * h;
            for (int l = 0; l < 32; ++l) {
                b.ql[64 * h + l] = static_cast<uint8_t>((lh[l] & 0xf) | ((lh[l + 64] & 0xf) << 4));
                b.ql[64 * h + l + 32] =
                    static_cast<uint8_t>((lh[l + 32] & 0xf) | ((lh[l + 96] & 0xf) << 4));
                b.qh[32 * h + l] =
                    static_cast<uint8_t>((lh[l] >> 4) | ((lh[l + 32] >> 4) << 2) |
                                         ((lh[l + 64] >> 4) << 4) | ((lh[l + 96] >> 4) << 6));
            }
        }
        store_block(dst, i, b);
    }
}

}  // namespace

bool can_quantize(TensorType type) {
    switch (type) {
        case TensorType::kF32:
        case TensorType::kF16:
        case TensorType::kBF16:
        case TensorType::kQ8_0:
        case TensorType::kQ4_0:
        case TensorType::kQ4_1:
        case TensorType::kQ5_0:
        case TensorType::kQ5_1:
        case TensorType::kQ2_K:
        case TensorType::kQ3_K:
        case TensorType::kQ4_K:
        case TensorType::kQ5_K:
        case TensorType::kQ6_K:
            return true;
        default:
            return false;
    }
}

Status quantize_row(TensorType type, const float* src, void* dst, int64_t n) {
    if (!can_quantize(type)) {
        return invalid_argument("cannot quantize to tensor type {}",
                                tensor_type_info(static_cast<uint32_t>(type))
                                    ? tensor_type_name(type)
                                    : std::string_view("(unknown id)"));
    }
    const TensorTypeInfo info = tensor_type_info(type);
    if (n < 0 || n % info.block_size != 0) {
        return invalid_argument(
            "cannot quantize {} values to {}: not a multiple of its block size {}", n, info.name,
            info.block_size);
    }
    auto* out = static_cast<uint8_t*>(dst);
    const int64_t n_blocks = n / info.block_size;
    switch (type) {
        case TensorType::kF32:
            std::memcpy(out, src, static_cast<size_t>(n) * sizeof(float));
            break;
        case TensorType::kF16:
            for (int64_t j = 0; j < n; ++j) {
                const uint16_t h = f32_to_fp16(src[j]);
                std::memcpy(out + 2 * j, &h, 2);
            }
            break;
        case TensorType::kBF16:
            for (int64_t j = 0; j < n; ++j) {
                const uint16_t h = f32_to_bf16(src[j]);
                std::memcpy(out + 2 * j, &h, 2);
            }
            break;
        case TensorType::kQ4_0:
            quantize_q4_0(src, out, n_blocks);
            break;
        case TensorType::kQ4_1:
            quantize_q4_1(src, out, n_blocks);
            break;
        case TensorType::kQ5_0:
            quantize_q5_0(src, out, n_blocks);
            break;
        case TensorType::kQ5_1:
            quantize_q5_1(src, out, n_blocks);
            break;
        case TensorType::kQ8_0:
            quantize_q8_0(src, out, n_blocks);
            break;
        case TensorType::kQ2_K:
            quantize_q2_k(src, out, n_blocks);
            break;
        case TensorType::kQ3_K:
            quantize_q3_k(src, out, n_blocks);
            break;
        case TensorType::kQ4_K:
            quantize_q4_k(src, out, n_blocks);
            break;
        case TensorType::kQ5_K:
            quantize_q5_k(src, out, n_blocks);
            break;
        case TensorType::kQ6_K:
            quantize_q6_k(src, out, n_blocks);
            break;
        default:
            break;
    }
    return ok_status();
}

}  // namespace ward::engine
