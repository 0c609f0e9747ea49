#include "engine/ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "engine/cpu.h"
#include "engine/kernels.h"
#include "engine/quant.h"

namespace ward::engine {

void get_row(const GgufTensor& w, int64_t row, float* out) {
    const int64_t n = w.ne[0];
    const int64_t stride = row_bytes(tensor_type_info(w.type), n);
    dequantize_row(w.type, w.data + row * stride, out, n);
}

namespace kernels {
const KernelSet& active_kernels() {
    switch (active_kernel_path()) {
        case KernelPath::kAvx512:
            return avx512_kernels();
        case KernelPath::kAvx2:
            return avx2_kernels();
        case KernelPath::kPortable:
            break;
    }
    return portable_kernels();
}
}  // namespace kernels

namespace {

using kernels::active_kernels;

// Rows [r0, r1) for every token by decoding each weight row once and taking float dot
// products: the portable path, and the fallback for types without a kernel.
void matmul_decoded(const GgufTensor& w, const float* x, int n_tokens, float* y, int64_t r0,
                    int64_t r1, kernels::DotF32Fn dot) {
    thread_local std::vector<float> scratch;
    const int64_t n_in = w.ne[0];
    const int64_t n_out = w.n_rows();
    const int64_t stride = row_bytes(tensor_type_info(w.type), n_in);
    scratch.resize(static_cast<size_t>(n_in));
    for (int64_t j = r0; j < r1; ++j) {
        const float* row;
        if (w.type == TensorType::kF32) {
            row = reinterpret_cast<const float*>(w.data + j * stride);
        } else {
            dequantize_row(w.type, w.data + j * stride, scratch.data(), n_in);
            row = scratch.data();
        }
        for (int t = 0; t < n_tokens; ++t) y[t * n_out + j] = dot(row, x + t * n_in, n_in);
    }
}

// Walks rows [r0, r1) in chunks that stay in cache, and tokens in tiles of kMaxTile, so each
// weight block is decoded once per tile of tokens.
template <typename Kernel>
void tiled(int64_t r0, int64_t r1, int n_tokens, Kernel&& kernel) {
    constexpr int64_t kRowChunk = 64;
    for (int64_t c = r0; c < r1; c += kRowChunk) {
        const int64_t c1 = std::min(r1, c + kRowChunk);
        for (int t = 0; t < n_tokens; t += kernels::kMaxTile) {
            kernel(c, c1, t, std::min(kernels::kMaxTile, n_tokens - t));
        }
    }
}

// Below this many multiply-adds a product runs on the calling thread: waking the team would
// cost more than it saves.
constexpr int64_t kMinParallelWork = 1 << 16;

void run_on(Workspace& ws, int64_t work, const std::function<void(int, int)>& fn) {
    if (ws.team && work >= kMinParallelWork) {
        ws.team->run(fn);
    } else {
        fn(0, 1);
    }
}

}  // namespace

bool matmul_quantizes_activations(TensorType type, int64_t n_in) {
    return active_kernels().q8[static_cast<int>(type)] != nullptr && n_in % 32 == 0;
}

void matmul(const GgufTensor& w, const float* x, int n_tokens, float* y, Workspace& ws) {
    const kernels::KernelSet& k = active_kernels();
    const int64_t n_in = w.ne[0];
    const int64_t n_out = w.n_rows();
    const int64_t stride = row_bytes(tensor_type_info(w.type), n_in);
    const int type_id = static_cast<int>(w.type);
    const int64_t work = n_in * n_out * n_tokens;
    if (kernels::MatmulQ8Fn q8 = k.q8[type_id]; q8 && n_in % 32 == 0) {
        // Quantize the activations once; every row then reuses them.
        const int64_t nb = n_in / 32;
        ws.xq.resize(static_cast<size_t>(n_tokens * nb) * sizeof(kernels::BlockQ8));
        auto* xq = reinterpret_cast<kernels::BlockQ8*>(ws.xq.data());
        run_on(ws, work, [&](int ith, int nth) {
            int64_t t0, t1;
            split_range(n_tokens, ith, nth, t0, t1);
            for (int64_t t = t0; t < t1; ++t) k.quantize_q8(x + t * n_in, xq + t * nb, n_in);
        });
        run_on(ws, work, [&](int ith, int nth) {
            int64_t r0, r1;
            split_range(n_out, ith, nth, r0, r1);
            tiled(r0, r1, n_tokens, [&](int64_t c0, int64_t c1, int t, int nt) {
                q8(w.data, stride, c0, c1, xq, nb, t, nt, y, n_out);
            });
        });
        return;
    }
    if (kernels::MatmulF32Fn f = k.f32[type_id]) {
        run_on(ws, work, [&](int ith, int nth) {
            int64_t r0, r1;
            split_range(n_out, ith, nth, r0, r1);
            tiled(r0, r1, n_tokens, [&](int64_t c0, int64_t c1, int t, int nt) {
                f(w.data, stride, n_in, c0, c1, x, t, nt, y, n_out);
            });
        });
        return;
    }
    run_on(ws, work, [&](int ith, int nth) {
        int64_t r0, r1;
        split_range(n_out, ith, nth, r0, r1);
        matmul_decoded(w, x, n_tokens, y, r0, r1, k.dot);
    });
}

void rms_norm(const float* x, const float* weight, float* out, int n, float eps) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
    const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
    if (weight) {
        for (int i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
    } else {
        for (int i = 0; i < n; ++i) out[i] = x[i] * scale;
    }
}

void layer_norm(const float* x, const float* weight, const float* bias, float* out, int n,
                float eps) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += x[i];
    const float mean = static_cast<float>(sum / n);
    double var = 0;
    for (int i = 0; i < n; ++i) {
        const double d = static_cast<double>(x[i]) - mean;
        var += d * d;
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(var / n) + eps);
    for (int i = 0; i < n; ++i) {
        float y = (x[i] - mean) * scale;
        if (weight) y *= weight[i];
        if (bias) y += bias[i];
        out[i] = y;
    }
}

void rope(float* head, int dims, int pos, float base, float freq_scale, const float* freq_factors,
          bool neox) {
    const int half = dims / 2;
    for (int i = 0; i < half; ++i) {
        // theta_i = pos · base^(-2i/dims), scaled linearly and divided by the llama3 factors.
        float theta = static_cast<float>(pos) * freq_scale *
                      std::pow(base, -2.0f * static_cast<float>(i) / static_cast<float>(dims));
        if (freq_factors) theta /= freq_factors[i];
        const float c = std::cos(theta), s = std::sin(theta);
        float* a = neox ? head + i : head + 2 * i;
        float* b = neox ? head + i + half : head + 2 * i + 1;
        const float x0 = *a, x1 = *b;
        *a = x0 * c - x1 * s;
        *b = x0 * s + x1 * c;
    }
}

void softmax(float* x, int n) {
    float max = x[0];
    for (int i = 1; i < n; ++i) max = std::max(max, x[i]);
    float sum = 0;
    for (int i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max);
        sum += x[i];
    }
    const float inv = 1.0f / sum;
    for (int i = 0; i < n; ++i) x[i] *= inv;
}

float silu(float x) {
    return x / (1.0f + std::exp(-x));
}

float gelu_tanh(float x) {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
}

float gelu_erf(float x) {
    constexpr float kInvSqrt2 = 0.70710678118654752f;
    return 0.5f * x * (1.0f + std::erf(x * kInvSqrt2));
}

}  // namespace ward::engine
