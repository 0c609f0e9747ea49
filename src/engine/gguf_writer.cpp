#include "engine/gguf_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/quant.h"

namespace ward::engine {

namespace {

constexpr uint32_t kVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr size_t kMaxDims = 4;

template <typename T>
void append_pod(std::vector<uint8_t>& out, T v) {
    uint8_t bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));  // the file is little-endian, as is every host we build on
    out.insert(out.end(), bytes, bytes + sizeof(T));
}

void append_string(std::vector<uint8_t>& out, std::string_view s) {
    append_pod<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}

// The value without its type tag: scalars at their width, strings as u64 length + bytes,
// arrays as u32 element type + u64 count + the items (each again without a tag).
// `type` is passed separately because array items take their type from the array.
void append_value_body(std::vector<uint8_t>& out, GgufValueType type, const GgufValue& v) {
    switch (type) {
        case GgufValueType::kUint8:
            return append_pod<uint8_t>(out, static_cast<uint8_t>(v.u));
        case GgufValueType::kInt8:
            return append_pod<int8_t>(out, static_cast<int8_t>(v.i));
        case GgufValueType::kUint16:
            return append_pod<uint16_t>(out, static_cast<uint16_t>(v.u));
        case GgufValueType::kInt16:
            return append_pod<int16_t>(out, static_cast<int16_t>(v.i));
        case GgufValueType::kUint32:
            return append_pod<uint32_t>(out, static_cast<uint32_t>(v.u));
        case GgufValueType::kInt32:
            return append_pod<int32_t>(out, static_cast<int32_t>(v.i));
        case GgufValueType::kUint64:
            return append_pod<uint64_t>(out, v.u);
        case GgufValueType::kInt64:
            return append_pod<int64_t>(out, v.i);
        case GgufValueType::kFloat32:
            return append_pod<float>(out, static_cast<float>(v.f));
        case GgufValueType::kFloat64:
            return append_pod<double>(out, v.f);
        case GgufValueType::kBool:
            return append_pod<uint8_t>(out, v.u != 0 ? 1 : 0);
        case GgufValueType::kString:
            return append_string(out, v.str);
        case GgufValueType::kArray:
            append_pod<uint32_t>(out, static_cast<uint32_t>(v.array_type));
            append_pod<uint64_t>(out, v.items.size());
            for (const GgufValue& item : v.items) append_value_body(out, v.array_type, item);
            return;
    }
}

std::vector<uint8_t> encode_tagged(GgufValueType type, const std::vector<uint8_t>& body) {
    std::vector<uint8_t> out;
    out.reserve(4 + body.size());
    append_pod<uint32_t>(out, static_cast<uint32_t>(type));
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

template <typename T>
std::vector<uint8_t> encode_scalar(GgufValueType type, T v) {
    std::vector<uint8_t> body;
    append_pod<T>(body, v);
    return encode_tagged(type, body);
}

uint64_t align_up(uint64_t x, uint64_t a) {
    return (x + a - 1) / a * a;
}

}  // namespace

void GgufWriter::set_encoded(std::string_view key, std::vector<uint8_t> encoded) {
    for (Kv& kv : kv_) {
        if (kv.key == key) {
            kv.encoded = std::move(encoded);
            return;
        }
    }
    kv_.push_back({std::string(key), std::move(encoded)});
}

void GgufWriter::set_u32(std::string_view key, uint32_t v) {
    set_encoded(key, encode_scalar(GgufValueType::kUint32, v));
}
void GgufWriter::set_i32(std::string_view key, int32_t v) {
    set_encoded(key, encode_scalar(GgufValueType::kInt32, v));
}
void GgufWriter::set_u64(std::string_view key, uint64_t v) {
    set_encoded(key, encode_scalar(GgufValueType::kUint64, v));
}
void GgufWriter::set_f32(std::string_view key, float v) {
    set_encoded(key, encode_scalar(GgufValueType::kFloat32, v));
}
void GgufWriter::set_bool(std::string_view key, bool v) {
    set_encoded(key, encode_scalar<uint8_t>(GgufValueType::kBool, v ? 1 : 0));
}
void GgufWriter::set_string(std::string_view key, std::string_view v) {
    std::vector<uint8_t> body;
    append_string(body, v);
    set_encoded(key, encode_tagged(GgufValueType::kString, body));
}
void GgufWriter::set_string_array(std::string_view key, const std::vector<std::string>& v) {
    std::vector<uint8_t> body;
    append_pod<uint32_t>(body, static_cast<uint32_t>(GgufValueType::kString));
    append_pod<uint64_t>(body, v.size());
    for (const std::string& s : v) append_string(body, s);
    set_encoded(key, encode_tagged(GgufValueType::kArray, body));
}
void GgufWriter::set_f32_array(std::string_view key, const std::vector<float>& v) {
    std::vector<uint8_t> body;
    append_pod<uint32_t>(body, static_cast<uint32_t>(GgufValueType::kFloat32));
    append_pod<uint64_t>(body, v.size());
    for (float x : v) append_pod<float>(body, x);
    set_encoded(key, encode_tagged(GgufValueType::kArray, body));
}
void GgufWriter::set_i32_array(std::string_view key, const std::vector<int32_t>& v) {
    std::vector<uint8_t> body;
    append_pod<uint32_t>(body, static_cast<uint32_t>(GgufValueType::kInt32));
    append_pod<uint64_t>(body, v.size());
    for (int32_t x : v) append_pod<int32_t>(body, x);
    set_encoded(key, encode_tagged(GgufValueType::kArray, body));
}
void GgufWriter::set_value(std::string_view key, const GgufValue& v) {
    std::vector<uint8_t> body;
    append_value_body(body, v.type, v);
    set_encoded(key, encode_tagged(v.type, body));
}

Status GgufWriter::add_tensor(std::string_view name, TensorType type, std::vector<int64_t> ne,
                              std::span<const float> values) {
    if (!can_quantize(type)) {
        auto info = tensor_type_info(static_cast<uint32_t>(type));
        return invalid_argument("gguf writer: tensor '{}': cannot write type {}", name,
                                info ? info->name : std::string_view("(unknown id)"));
    }
    const TensorTypeInfo info = tensor_type_info(type);
    int64_t n_elements = 1;
    for (int64_t d : ne) n_elements *= d > 0 ? d : 0;
    if (ne.empty() || ne.size() > kMaxDims || n_elements <= 0) {
        return invalid_argument("gguf writer: tensor '{}' needs 1 to {} positive dimensions", name,
                                kMaxDims);
    }
    if (ne[0] % info.block_size != 0) {
        return invalid_argument(
            "gguf writer: tensor '{}': row length {} is not a multiple of the {} block size {}",
            name, ne[0], info.name, info.block_size);
    }
    if (static_cast<int64_t>(values.size()) != n_elements) {
        return invalid_argument("gguf writer: tensor '{}': shape holds {} values but {} were given",
                                name, n_elements, values.size());
    }
    const int64_t n_rows = n_elements / ne[0];
    const int64_t bytes_per_row = row_bytes(info, ne[0]);
    std::vector<uint8_t> data(static_cast<size_t>(n_rows * bytes_per_row));
    for (int64_t r = 0; r < n_rows; ++r) {
        WARD_TRY(
            quantize_row(type, values.data() + r * ne[0], data.data() + r * bytes_per_row, ne[0]));
    }
    return add_tensor_raw(name, type, std::move(ne), data);
}

Status GgufWriter::add_tensor_raw(std::string_view name, TensorType type, std::vector<int64_t> ne,
                                  std::span<const uint8_t> bytes) {
    auto info = tensor_type_info(static_cast<uint32_t>(type));
    if (!info) {
        return invalid_argument("gguf writer: tensor '{}': unknown type id {}", name,
                                static_cast<uint32_t>(type));
    }
    for (const Tensor& t : tensors_) {
        if (t.name == name) return invalid_argument("gguf writer: duplicate tensor '{}'", name);
    }
    if (ne.empty() || ne.size() > kMaxDims) {
        return invalid_argument("gguf writer: tensor '{}' has {} dimensions (must be 1 to {})",
                                name, ne.size(), kMaxDims);
    }
    int64_t n_elements = 1;
    for (int64_t d : ne) {
        if (d <= 0 || n_elements > (int64_t{1} << 50) / d) {
            return invalid_argument("gguf writer: tensor '{}' has a bad dimension {}", name, d);
        }
        n_elements *= d;
    }
    if (ne[0] % info->block_size != 0) {
        return invalid_argument(
            "gguf writer: tensor '{}': row length {} is not a multiple of the {} block size {}",
            name, ne[0], info->name, info->block_size);
    }
    const int64_t expected = row_bytes(*info, ne[0]) * (n_elements / ne[0]);
    if (static_cast<int64_t>(bytes.size()) != expected) {
        return invalid_argument("gguf writer: tensor '{}': {} of shape {} needs {} bytes, got {}",
                                name, info->name, fmt::format("[{}]", fmt::join(ne, ", ")),
                                expected, bytes.size());
    }
    tensors_.push_back(
        {std::string(name), type, std::move(ne), std::vector<uint8_t>(bytes.begin(), bytes.end())});
    return ok_status();
}

namespace {

// The alignment the file will use: general.alignment when it is a valid u32 (a power of two),
// else the default. An invalid value is still written as given (tests make bad files this way)
// but cannot drive the layout.
uint64_t alignment_of(const std::vector<uint8_t>* encoded) {
    if (!encoded || encoded->size() != 8) return kDefaultAlignment;
    uint32_t type = 0, value = 0;
    std::memcpy(&type, encoded->data(), 4);
    std::memcpy(&value, encoded->data() + 4, 4);
    if (type != static_cast<uint32_t>(GgufValueType::kUint32)) return kDefaultAlignment;
    if (value == 0 || (value & (value - 1)) != 0) return kDefaultAlignment;
    return value;
}

}  // namespace

namespace {

// Header, metadata pairs, tensor infos and the padding up to the data section, which starts
// right after. Sets `alignment` to the one the data section uses. (A template so that it can
// take the writer's private entry types without naming them.)
template <typename KvList, typename TensorList>
std::vector<uint8_t> encode_head(const KvList& kvs, const TensorList& tensors,
                                 uint64_t& alignment) {
    const std::vector<uint8_t>* alignment_kv = nullptr;
    for (const auto& kv : kvs) {
        if (kv.key == "general.alignment") alignment_kv = &kv.encoded;
    }
    alignment = alignment_of(alignment_kv);

    std::vector<uint8_t> out;
    out.insert(out.end(), {'G', 'G', 'U', 'F'});
    append_pod<uint32_t>(out, kVersion);
    append_pod<uint64_t>(out, tensors.size());
    append_pod<uint64_t>(out, kvs.size());
    for (const auto& kv : kvs) {
        append_string(out, kv.key);
        out.insert(out.end(), kv.encoded.begin(), kv.encoded.end());
    }
    // Each tensor starts at an aligned offset within the data section.
    uint64_t offset = 0;
    for (const auto& t : tensors) {
        append_string(out, t.name);
        append_pod<uint32_t>(out, static_cast<uint32_t>(t.ne.size()));
        for (int64_t d : t.ne) append_pod<uint64_t>(out, static_cast<uint64_t>(d));
        append_pod<uint32_t>(out, static_cast<uint32_t>(t.type));
        append_pod<uint64_t>(out, offset);
        offset = align_up(offset + t.data.size(), alignment);
    }
    out.resize(align_up(out.size(), alignment), 0);
    return out;
}

struct FileCloser {
    void operator()(FILE* f) const { std::fclose(f); }
};

}  // namespace

std::vector<uint8_t> GgufWriter::to_bytes() const {
    uint64_t alignment = kDefaultAlignment;
    std::vector<uint8_t> out = encode_head(kv_, tensors_, alignment);
    const size_t data_start = out.size();
    for (const Tensor& t : tensors_) {
        out.insert(out.end(), t.data.begin(), t.data.end());
        out.resize(data_start + align_up(out.size() - data_start, alignment), 0);
    }
    return out;
}

// Streams the file rather than building it in memory first, so that writing a requantized
// model does not need twice its size in RAM.
Status GgufWriter::write(const std::string& path) const {
    uint64_t alignment = kDefaultAlignment;
    const std::vector<uint8_t> head = encode_head(kv_, tensors_, alignment);
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    auto fail = [&](std::string_view what) {
        Status s =
            internal_error("gguf writer: cannot {} \"{}\": {}", what, tmp, std::strerror(errno));
        std::remove(tmp.c_str());
        return s;
    };
    {
        std::unique_ptr<FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
        if (!f)
            return internal_error("gguf writer: cannot create \"{}\": {}", tmp,
                                  std::strerror(errno));
        if (std::fwrite(head.data(), 1, head.size(), f.get()) != head.size()) return fail("write");
        const std::vector<uint8_t> zeros(alignment, 0);
        for (const Tensor& t : tensors_) {
            if (std::fwrite(t.data.data(), 1, t.data.size(), f.get()) != t.data.size()) {
                return fail("write");
            }
            const size_t pad = align_up(t.data.size(), alignment) - t.data.size();
            if (std::fwrite(zeros.data(), 1, pad, f.get()) != pad) return fail("write");
        }
        if (std::fflush(f.get()) != 0 || ::fsync(::fileno(f.get())) != 0) return fail("flush");
        FILE* raw = f.release();
        if (std::fclose(raw) != 0) return fail("close");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        Status s = internal_error("gguf writer: cannot rename \"{}\" to \"{}\": {}", tmp, path,
                                  std::strerror(errno));
        std::remove(tmp.c_str());
        return s;
    }
    return ok_status();
}

}  // namespace ward::engine
