// Re-encoding a GGUF model to another tensor type (`ward quantize IN OUT TYPE`): every metadata
// pair is copied, weight matrices (tensors of 2 or more dimensions) are decoded to floats and
// re-encoded as the target type, and 1-D tensors (norms, biases) are stored as F32. A matrix
// whose row length is not a multiple of the target's block size falls back to the nearest type
// that fits (Q8_0, then F16, then F32); tensors of types the engine cannot decode are copied
// unchanged.
//
// Thread safety: independent calls may run concurrently on different output files. Each call
// re-encodes rows on its own pool of one thread per core, and holds the whole output in memory
// until it is written (about the size of the output file).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/tensor_type.h"

namespace ward::engine {

// What quantize_gguf did, tensor by tensor.
struct QuantizeStats {
    int64_t n_tensors = 0;    // in the input
    int64_t n_quantized = 0;  // written as the target type
    int64_t n_fallback = 0;   // matrices written as a fallback type (see `fallbacks`)
    int64_t n_f32 = 0;        // 1-D tensors written as F32
    int64_t n_copied = 0;     // tensors of types the engine cannot decode, copied as they were
    // One line per fallback: "blk.0.ffn_down.weight [11008, 4096]: Q8_0 (row length 11008 is
    // not a multiple of 256)".
    std::vector<std::string> fallbacks;
};

// The `general.file_type` value (llama.cpp's LLAMA_FTYPE numbering) of a file whose matrices
// are mostly `type`: F32 0, F16 1, Q4_0 2, Q4_1 3, Q8_0 7, Q5_0 8, Q5_1 9, Q2_K 10, Q3_K 12
// (Q3_K_M), Q4_K 15 (Q4_K_M), Q5_K 17 (Q5_K_M), Q6_K 18, BF16 32.
// Errors: kInvalidArgument for a type without a file-type number.
Result<uint32_t> gguf_file_type(TensorType type);

// Reads the GGUF file `in_path` and writes `out_path` (atomically; it may equal `in_path`) with
// its matrices re-encoded as `type`. `general.file_type` is set to match, and
// `general.quantization_version` to 2 for quantized targets. Fallbacks are counted in `stats`
// (when given) and logged as warnings on the "ward.engine" logger.
// Errors: those of GgufFile::open; kInvalidArgument when `type` cannot be written (the message
// lists the types that can); kInvalidArgument naming the tensor when one cannot be re-encoded;
// kInternal when the output cannot be written.
Status quantize_gguf(const std::string& in_path, const std::string& out_path, TensorType type,
                     QuantizeStats* stats = nullptr);

}  // namespace ward::engine
