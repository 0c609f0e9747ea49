// Conversion between float32 and the GGUF tensor types: half-precision helpers, row
// dequantization for every supported type and row quantization for the types Ward writes.
// Block layouts and formulas follow the GGUF/ggml definitions exactly (docs/engine.md).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "common/status.h"
#include "engine/tensor_type.h"

namespace ward::engine {

// IEEE half <-> float, round-to-nearest-even; and bfloat16 (upper half of a float32).
float fp16_to_f32(uint16_t h);
uint16_t f32_to_fp16(float f);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_bf16(float f);  // round-to-nearest-even, NaN kept quiet

// Dequantizes `n` consecutive weights starting at `src` (which points at the first block).
// REQUIRES: tensor_type_info(type).supported and n % block_size == 0.
void dequantize_row(TensorType type, const void* src, float* dst, int64_t n);

// True for the types quantize_row can write: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
bool can_quantize(TensorType type);

// Quantizes `n` floats into row_bytes(type, n) bytes at `dst`.
// Errors: kInvalidArgument when the type cannot be written or n is not a multiple of the block
// size.
Status quantize_row(TensorType type, const float* src, void* dst, int64_t n);

}  // namespace ward::engine
