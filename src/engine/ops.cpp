#include "engine/ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/quant.h"

namespace ward::engine {

void get_row(const GgufTensor& w, int64_t row, float* out) {
    const int64_t n = w.ne[0];
    const int64_t stride = row_bytes(tensor_type_info(w.type), n);
    dequantize_row(w.type, w.data + row * stride, out, n);
}

namespace {

float dot(const float* a, const float* b, int64_t n) {
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

// Rows [begin, end) of y = x · Wᵀ; each weight row is decoded once and used for every token.
void matmul_rows(const GgufTensor& w, const float* x, int n_tokens, float* y, int64_t begin,
                 int64_t end, std::vector<float>& scratch) {
    const int64_t n_in = w.ne[0];
    const int64_t n_out = w.ne[1] * w.ne[2] * w.ne[3];
    const int64_t stride = row_bytes(tensor_type_info(w.type), n_in);
    scratch.resize(static_cast<size_t>(n_in));
    for (int64_t j = begin; j < end; ++j) {
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

}  // namespace

void matmul(const GgufTensor& w, const float* x, int n_tokens, float* y, ThreadPool* pool) {
    const int64_t n_out = w.ne[1] * w.ne[2] * w.ne[3];
    const size_t n_threads = pool ? pool->size() + 1 : 1;
    if (n_threads == 1 || n_out < 64) {
        std::vector<float> scratch;
        matmul_rows(w, x, n_tokens, y, 0, n_out, scratch);
        return;
    }
    const size_t n_chunks = n_threads * 4;
    const int64_t chunk =
        (n_out + static_cast<int64_t>(n_chunks) - 1) / static_cast<int64_t>(n_chunks);
    pool->parallel_for(n_chunks, [&](size_t c) {
        thread_local std::vector<float> scratch;
        int64_t begin = static_cast<int64_t>(c) * chunk;
        int64_t end = std::min(n_out, begin + chunk);
        if (begin < end) matmul_rows(w, x, n_tokens, y, begin, end, scratch);
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

}  // namespace ward::engine
