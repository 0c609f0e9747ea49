// The portable path: plain C++ that any x86-64 (or other) CPU runs. Quantized weights are
// decoded row by row and multiplied in float (ops.cpp), so this path is also the numerical
// baseline the faster paths are compared with.
#include <cmath>
#include <cstring>

#include "engine/kernels.h"
#include "engine/quant.h"

namespace ward::engine::kernels {
namespace {

void quantize_q8_portable(const float* x, BlockQ8* out, int64_t n) {
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* xb = x + b * 32;
        float amax = 0;
        for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(xb[i]));
        const float d = amax / 127.0f;
        const float id = d > 0 ? 1.0f / d : 0.0f;
        int sum[2] = {0, 0};
        for (int i = 0; i < 32; ++i) {
            const int q = static_cast<int>(std::nearbyint(xb[i] * id));
            out[b].q[i] = static_cast<int8_t>(q);
            sum[i / 16] += q;
        }
        out[b].d = d;
        out[b].s = d * static_cast<float>(sum[0] + sum[1]);
        out[b].half_sum[0] = static_cast<int16_t>(sum[0]);
        out[b].half_sum[1] = static_cast<int16_t>(sum[1]);
    }
}

float dot_portable(const float* a, const float* b, int64_t n) {
    // Four accumulators let the compiler vectorise without reassociating one sum.
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; ++i) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

float dot_f16_portable(const uint16_t* a, const float* b, int64_t n) {
    float s = 0;
    for (int64_t i = 0; i < n; ++i) s += fp16_to_f32(a[i]) * b[i];
    return s;
}

void axpy_f16_portable(float a, const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * fp16_to_f32(x[i]);
}

void to_f16_portable(const float* x, uint16_t* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = f32_to_fp16(x[i]);
}

uint64_t stream_read_portable(const uint8_t* p, int64_t n) {
    uint64_t s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i + 64 <= n; i += 64) {
        for (int k = 0; k < 8; ++k) {
            uint64_t v;
            std::memcpy(&v, p + i + 8 * k, 8);
            s[k] += v;
        }
    }
    return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

}  // namespace

const KernelSet& portable_kernels() {
    static const KernelSet set = [] {
        KernelSet k;
        k.quantize_q8 = quantize_q8_portable;
        k.dot = dot_portable;
        k.dot_f16 = dot_f16_portable;
        k.axpy_f16 = axpy_f16_portable;
        k.to_f16 = to_f16_portable;
        k.stream_read = stream_read_portable;
        return k;
    }();
    return set;
}

}  // namespace ward::engine::kernels
