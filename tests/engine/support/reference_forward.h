// A plain, slow reference forward pass for the engine's tests, written separately from the
// engine's math: float/double loops straight from the architectures' definitions, the whole
// sequence at once with a causal mask. It shares only the GGUF reader and the row decoding
// (dequantize_row, itself checked against hand-computed blocks in quant_test.cpp) with the
// engine, so any difference in norms, RoPE, attention, GQA, sliding windows, biases, gating or
// batching shows up as a logit mismatch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ward::engine::testing {

// Logits for every position of `tokens`: [tokens.size()][n_vocab]. With
// `quantize_activations`, every product with a matrix first rounds its input to 8-bit blocks
// of 32 (scale amax/127, round half to even), as the engine's integer kernels do; the
// rounding is written here independently of the engine's.
Result<std::vector<std::vector<float>>> reference_logits(const std::string& model_path,
                                                         const std::vector<int32_t>& tokens,
                                                         bool quantize_activations = false);

}  // namespace ward::engine::testing
