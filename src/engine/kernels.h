// Matrix-product kernels behind ops.h's matmul, one set per kernel path (cpu.h). Internal to
// the engine.
//
// Quantized weights are multiplied against activations quantized once per product to 8-bit
// blocks of 32 (BlockQ8), so the inner loops are integer multiply-accumulates with one float
// scale per block; float weights (F16, BF16, F32) use float activations and FMA.
//
// A kernel computes y[t * y_stride + r] = dot(W[r], x[t]) for rows r in [r0, r1) and tokens t
// in [t0, t0 + nt) (nt <= kMaxTile), decoding each weight block once for all nt tokens.
#pragma once

#include <cstdint>

#include "engine/tensor_type.h"

namespace ward::engine::kernels {

constexpr int kMaxTile = 4;  // tokens per kernel call

// One block of 32 activations quantized to int8: x[i] ≈ d * q[i].
struct BlockQ8 {
    float d = 0;
    float s = 0;                   // d * Σq (for the formats with an offset or a minimum)
    int16_t half_sum[2] = {0, 0};  // Σq of each half of 16 (for Q6_K's 16-wide scales)
    int8_t q[32] = {};
};

using QuantizeQ8Fn = void (*)(const float* x, BlockQ8* out, int64_t n);
using MatmulQ8Fn = void (*)(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1,
                            const BlockQ8* x, int64_t blocks_per_token, int t0, int nt, float* y,
                            int64_t y_stride);
using MatmulF32Fn = void (*)(const uint8_t* w, int64_t row_bytes, int64_t n_in, int64_t r0,
                             int64_t r1, const float* x, int t0, int nt, float* y,
                             int64_t y_stride);
using DotF32Fn = float (*)(const float* a, const float* b, int64_t n);
// Attention over an F16 KV cache (halves as IEEE binary16 bits): Σ a[i]·b[i]; y[i] += a·x[i];
// and float → half, round to nearest even.
using DotF16Fn = float (*)(const uint16_t* a, const float* b, int64_t n);
using AxpyF16Fn = void (*)(float a, const uint16_t* x, float* y, int64_t n);
using ToF16Fn = void (*)(const float* x, uint16_t* out, int64_t n);
// Reads n bytes (a multiple of 64) as fast as the path can stream them; returns a checksum so
// the reads cannot be optimised away. The bandwidth probe of `ward bench` uses it.
using StreamReadFn = uint64_t (*)(const uint8_t* p, int64_t n);

struct KernelSet {
    QuantizeQ8Fn quantize_q8 = nullptr;
    MatmulQ8Fn q8[40] = {};    // by ggml type id; null: no integer kernel for the type
    MatmulF32Fn f32[40] = {};  // by ggml type id; null: decode rows and use `dot`
    DotF32Fn dot = nullptr;
    DotF16Fn dot_f16 = nullptr;
    AxpyF16Fn axpy_f16 = nullptr;
    ToF16Fn to_f16 = nullptr;
    StreamReadFn stream_read = nullptr;
};

// The kernels of the active path (cpu.h).
const KernelSet& active_kernels();

// The kernels of each path; a path's table is only used when the CPU supports it.
const KernelSet& portable_kernels();
const KernelSet& avx2_kernels();
const KernelSet& avx512_kernels();

}  // namespace ward::engine::kernels
