// A plain, slow reference of the BERT encoder for the engine's tests, written apart from the
// engine's math: double-precision loops straight from BERT's definition (embeddings + learned
// positions + token type 0, LayerNorm, post-norm blocks with biases, exact erf GELU, pooling,
// L2 normalisation). It shares only the GGUF reader and the row decoding (dequantize_row,
// checked against hand-computed blocks in quant_test.cpp) with the engine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ward::engine::testing {

// The pooled, unit-length embedding of `tokens` (ids as given, [CLS] and [SEP] included).
// With `quantize_activations`, every product with a matrix first rounds its input to 8-bit
// blocks of 32 (scale amax/127, round half to even), as the engine's integer kernels do.
Result<std::vector<float>> reference_embedding(const std::string& model_path,
                                               const std::vector<int32_t>& tokens,
                                               bool quantize_activations = false);

}  // namespace ward::engine::testing
