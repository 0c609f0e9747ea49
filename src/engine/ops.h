// The numeric building blocks of the forward pass, on float32 activations. Weight matrices
// stay in their GGUF encoding and are decoded row by row inside the products.
//
// Conventions: a weight tensor W has ne = [n_in, n_out] (ggml order), so row j of W holds the
// n_in weights of output j, and y[t][j] = dot(W[j], x[t]).
//
// Thread safety: functions are reentrant; those taking a ThreadPool split work across it.
#pragma once

#include <cstdint>

#include "common/thread_pool.h"
#include "engine/gguf.h"

namespace ward::engine {

// y: [n_tokens, n_out] = x: [n_tokens, n_in] · Wᵀ. `pool` may be null (single thread).
void matmul(const GgufTensor& w, const float* x, int n_tokens, float* y, ThreadPool* pool);

// Row `row` of a weight tensor, decoded into out: [ne[0]].
void get_row(const GgufTensor& w, int64_t row, float* out);

// out = x / sqrt(mean(x²) + eps) * weight (weight may be null: no scaling). n elements.
void rms_norm(const float* x, const float* weight, float* out, int n, float eps);

// Rotates one head in place. dims: leading dimensions rotated; freq_factors may be null.
void rope(float* head, int dims, int pos, float base, float freq_scale, const float* freq_factors,
          bool neox);

// In-place softmax over n values.
void softmax(float* x, int n);

float silu(float x);
float gelu_tanh(float x);

}  // namespace ward::engine
