// The tensor element types of GGUF files (the ggml type ids) and their block layout: how many
// weights one block holds and how many bytes it takes. The layout table covers every type id a
// GGUF file may carry, so any file can be parsed and measured; which types the engine can
// compute with is a separate question (`supported`).
//
// Thread safety: constant data.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/status.h"

namespace ward::engine {

// Values are the ggml type ids stored in GGUF tensor infos.
enum class TensorType : uint32_t {
    kF32 = 0,
    kF16 = 1,
    kQ4_0 = 2,
    kQ4_1 = 3,
    kQ5_0 = 6,
    kQ5_1 = 7,
    kQ8_0 = 8,
    kQ8_1 = 9,
    kQ2_K = 10,
    kQ3_K = 11,
    kQ4_K = 12,
    kQ5_K = 13,
    kQ6_K = 14,
    kQ8_K = 15,
    kIQ2_XXS = 16,
    kIQ2_XS = 17,
    kIQ3_XXS = 18,
    kIQ1_S = 19,
    kIQ4_NL = 20,
    kIQ3_S = 21,
    kIQ2_S = 22,
    kIQ4_XS = 23,
    kI8 = 24,
    kI16 = 25,
    kI32 = 26,
    kI64 = 27,
    kF64 = 28,
    kIQ1_M = 29,
    kBF16 = 30,
    kTQ1_0 = 34,
    kTQ2_0 = 35,
    kMXFP4 = 39,
};

struct TensorTypeInfo {
    TensorType type;
    std::string_view name;  // "Q4_K", as ggml names it
    int64_t block_size;     // weights per block
    int64_t type_size;      // bytes per block
    bool supported;         // the engine can dequantize and compute with it
};

// The layout of a type id, or nullopt for an id no GGUF writer uses.
std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id);
TensorTypeInfo tensor_type_info(TensorType type);  // REQUIRES: a listed enumerator
std::string_view tensor_type_name(TensorType type);
// "q4_k" or "Q4_K" → kQ4_K. Errors: kInvalidArgument listing the known names.
Result<TensorType> parse_tensor_type(std::string_view name);

// Bytes of a row of `n` weights. REQUIRES: n is a multiple of the block size.
inline int64_t row_bytes(const TensorTypeInfo& info, int64_t n) {
    return n / info.block_size * info.type_size;
}

// Block sizes shared by the formats.
constexpr int kQK = 32;    // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1
constexpr int kQKK = 256;  // K-quants super-block

}  // namespace ward::engine
