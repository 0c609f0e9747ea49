// GGUF writer (version 3): metadata of every value type, tensors given as floats (quantized on
// the way) or as raw blocks, aligned to `general.alignment` (32 unless set). Used by the
// quantizer, by `ward model make`, and by tests that build their own model files.
//
// Thread safety: one writer per thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/gguf.h"
#include "engine/tensor_type.h"

namespace ward::engine {

class GgufWriter {
  public:
    // Metadata, kept in insertion order; setting a key again replaces its value in place.
    void set_u32(std::string_view key, uint32_t v);
    void set_i32(std::string_view key, int32_t v);
    void set_u64(std::string_view key, uint64_t v);
    void set_f32(std::string_view key, float v);
    void set_bool(std::string_view key, bool v);
    void set_string(std::string_view key, std::string_view v);
    void set_string_array(std::string_view key, const std::vector<std::string>& v);
    void set_f32_array(std::string_view key, const std::vector<float>& v);
    void set_i32_array(std::string_view key, const std::vector<int32_t>& v);
    // Copies a value read from another file (any type, nested arrays included).
    void set_value(std::string_view key, const GgufValue& v);

    // Adds a tensor from floats, quantized to `type`. `ne` is innermost first (ne[0] = row
    // length). Errors: kInvalidArgument for a duplicate name, a size mismatch, or a type that
    // cannot be written.
    Status add_tensor(std::string_view name, TensorType type, std::vector<int64_t> ne,
                      std::span<const float> values);
    // Adds a tensor from already-encoded blocks. Errors: as above, and a byte count that does
    // not match the shape.
    Status add_tensor_raw(std::string_view name, TensorType type, std::vector<int64_t> ne,
                          std::span<const uint8_t> bytes);

    // The whole file.
    std::vector<uint8_t> to_bytes() const;
    // Writes the file atomically (temporary + rename). Errors: kInternal on I/O failure.
    Status write(const std::string& path) const;

  private:
    struct Tensor {
        std::string name;
        TensorType type;
        std::vector<int64_t> ne;
        std::vector<uint8_t> data;
    };
    struct Kv {
        std::string key;
        std::vector<uint8_t> encoded;  // value type + value, as written to the file
    };
    void set_encoded(std::string_view key, std::vector<uint8_t> encoded);
    std::vector<Kv> kv_;
    std::vector<Tensor> tensors_;
};

}  // namespace ward::engine
