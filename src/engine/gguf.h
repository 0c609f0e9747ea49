// GGUF reader (format versions 2 and 3): the metadata key-value pairs, the tensor directory and
// the tensor data, read from a memory-mapped file without copying weights.
//
// Every count, length, offset and size in the file is checked against the file before use, so
// a truncated, corrupt or hostile file gets a kInvalidArgument error that names the field and
// the byte offset ("gguf: tensor 'blk.0.attn_q.weight': data [.., ..) runs past the end of the
// file (size ..)"), never a crash or an out-of-bounds read.
//
// Layout (all little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count;
// metadata pairs (string key, u32 value type, value); tensor infos (string name, u32 n_dims,
// u64 dims[n_dims], u32 ggml type, u64 offset relative to the data section); padding to
// `general.alignment` (default 32); the data section. Strings are u64 length + bytes.
//
// Thread safety: a GgufFile is immutable after open(); share it freely between threads.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mapped_file.h"
#include "common/status.h"
#include "engine/tensor_type.h"

namespace ward::engine {

// Metadata value types, as numbered by GGUF.
enum class GgufValueType : uint32_t {
    kUint8 = 0,
    kInt8 = 1,
    kUint16 = 2,
    kInt16 = 3,
    kUint32 = 4,
    kInt32 = 5,
    kFloat32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kUint64 = 10,
    kInt64 = 11,
    kFloat64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType type);

// One metadata value. Scalars are widened into `u`/`i`/`f`; strings view the file's bytes
// (valid while the GgufFile lives); arrays hold their items (possibly arrays themselves).
struct GgufValue {
    GgufValueType type = GgufValueType::kUint8;
    uint64_t u = 0;  // unsigned integers and bool
    int64_t i = 0;   // signed integers (also set for unsigned ones that fit)
    double f = 0;    // floats (also set for integers)
    std::string_view str;
    GgufValueType array_type = GgufValueType::kUint8;  // element type when type == kArray
    std::vector<GgufValue> items;

    bool is_integer() const;
    bool is_float() const;
};

struct GgufTensor {
    std::string_view name;
    TensorType type = TensorType::kF32;
    int n_dims = 0;
    // Dimensions, innermost first as in ggml: ne[0] is the row length. Unused ones are 1.
    std::array<int64_t, 4> ne = {1, 1, 1, 1};
    uint64_t offset = 0;   // relative to the data section
    uint64_t n_bytes = 0;  // size of the data
    int64_t n_elements = 0;
    const uint8_t* data = nullptr;  // into the mapped file

    int64_t n_rows() const { return n_elements / ne[0]; }
    // "[2048, 32000]"
    std::string shape_string() const;
};

class GgufFile {
  public:
    // Maps and parses a file. Errors: those of MappedFile::open, and kInvalidArgument for a
    // malformed file, naming the field.
    static Result<std::shared_ptr<const GgufFile>> open(const std::string& path);
    // Parses bytes that outlive the returned file (used by tests and the fuzzer).
    static Result<std::shared_ptr<const GgufFile>> parse(std::span<const uint8_t> bytes);

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    size_t file_size() const { return bytes_.size(); }
    std::span<const uint8_t> bytes() const { return bytes_; }
    const std::string& path() const { return path_; }

    // Metadata in file order.
    const std::vector<std::pair<std::string_view, GgufValue>>& metadata() const { return kv_; }
    const GgufValue* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed metadata access. Errors: kNotFound when absent, kInvalidArgument naming the key
    // when the stored type does not fit. Integer getters accept any integer type whose value
    // fits; get_float accepts floats and integers.
    Result<std::string_view> get_string(std::string_view key) const;
    Result<int64_t> get_int(std::string_view key) const;
    Result<uint32_t> get_u32(std::string_view key) const;
    Result<double> get_float(std::string_view key) const;
    Result<bool> get_bool(std::string_view key) const;
    Result<std::vector<std::string_view>> get_string_array(std::string_view key) const;
    Result<std::vector<float>> get_float_array(std::string_view key) const;
    Result<std::vector<int64_t>> get_int_array(std::string_view key) const;
    // Same, with a fallback when the key is absent (a present key of the wrong type is still
    // an error).
    Result<int64_t> get_int_or(std::string_view key, int64_t fallback) const;
    Result<double> get_float_or(std::string_view key, double fallback) const;
    Result<bool> get_bool_or(std::string_view key, bool fallback) const;

    const std::vector<GgufTensor>& tensors() const { return tensors_; }
    const GgufTensor* find_tensor(std::string_view name) const;

  private:
    friend class GgufParser;
    MappedFile file_;
    std::span<const uint8_t> bytes_;
    std::string path_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<std::pair<std::string_view, GgufValue>> kv_;
    std::unordered_map<std::string_view, size_t> kv_index_;
    std::vector<GgufTensor> tensors_;
    std::unordered_map<std::string_view, size_t> tensor_index_;
};

}  // namespace ward::engine
