// The numeric building blocks of the forward pass, on float32 activations. Weight matrices
// stay in their GGUF encoding; the matrix product dispatches to the kernels of the active path
// (cpu.h): integer kernels against 8-bit activations for quantized types, FMA kernels for float
// types, and row decoding plus a float dot product for the rest and for the portable path.
//
// Conventions: a weight tensor W has ne = [n_in, n_out] (ggml order), so row j of W holds the
// n_in weights of output j, and y[t][j] = dot(W[j], x[t]).
//
// Thread safety: functions are reentrant; a Workspace belongs to one thread of control.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/gguf.h"
#include "engine/parallel.h"

namespace ward::engine {

// Buffers and threads a matrix product may use; owned by a Session, reused across calls.
struct Workspace {
    WorkerTeam* team = nullptr;  // null: the calling thread alone
    std::vector<uint8_t> xq;     // activations quantized to 8 bits
};

// y: [n_tokens, n_out] = x: [n_tokens, n_in] · Wᵀ.
void matmul(const GgufTensor& w, const float* x, int n_tokens, float* y, Workspace& ws);

// True when matmul on the active kernel path quantizes the activations to 8-bit blocks of 32
// (amax/127 scale, round to nearest even) before multiplying weights of this type: the integer
// kernels do, the float kernels and the portable path do not.
bool matmul_quantizes_activations(TensorType type, int64_t n_in);

// Row `row` of a weight tensor, decoded into out: [ne[0]].
void get_row(const GgufTensor& w, int64_t row, float* out);

// out = x / sqrt(mean(x²) + eps) * weight (weight may be null: no scaling). n elements.
void rms_norm(const float* x, const float* weight, float* out, int n, float eps);

// LayerNorm: out = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias (population variance;
// weight and bias may be null). n elements; out may alias x.
void layer_norm(const float* x, const float* weight, const float* bias, float* out, int n,
                float eps);

// Rotates one head in place. dims: leading dimensions rotated; freq_factors may be null.
void rope(float* head, int dims, int pos, float base, float freq_scale, const float* freq_factors,
          bool neox);

// In-place softmax over n values.
void softmax(float* x, int n);

float silu(float x);
float gelu_tanh(float x);
// The exact GELU, x·Φ(x) = x/2·(1 + erf(x/√2)), as BERT defines it.
float gelu_erf(float x);

}  // namespace ward::engine
