#include "engine/gguf.h"

#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace ward::engine {

namespace {
constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;
constexpr int kMaxDims = 4;
// Smallest encodings, used to reject counts the remaining bytes cannot possibly hold.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;                  // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // empty name, 1 dim, type, offset
}  // namespace

std::string_view gguf_value_type_name(GgufValueType type) {
    switch (type) {
        case GgufValueType::kUint8:
            return "uint8";
        case GgufValueType::kInt8:
            return "int8";
        case GgufValueType::kUint16:
            return "uint16";
        case GgufValueType::kInt16:
            return "int16";
        case GgufValueType::kUint32:
            return "uint32";
        case GgufValueType::kInt32:
            return "int32";
        case GgufValueType::kFloat32:
            return "float32";
        case GgufValueType::kBool:
            return "bool";
        case GgufValueType::kString:
            return "string";
        case GgufValueType::kArray:
            return "array";
        case GgufValueType::kUint64:
            return "uint64";
        case GgufValueType::kInt64:
            return "int64";
        case GgufValueType::kFloat64:
            return "float64";
    }
    return "unknown";
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufValueType::kUint8:
        case GgufValueType::kInt8:
        case GgufValueType::kUint16:
        case GgufValueType::kInt16:
        case GgufValueType::kUint32:
        case GgufValueType::kInt32:
        case GgufValueType::kUint64:
        case GgufValueType::kInt64:
            return true;
        default:
            return false;
    }
}
bool GgufValue::is_float() const {
    return type == GgufValueType::kFloat32 || type == GgufValueType::kFloat64;
}

std::string GgufTensor::shape_string() const {
    std::string s = "[";
    for (int d = 0; d < n_dims; ++d) s += (d ? ", " : "") + std::to_string(ne[d]);
    return s + "]";
}

// Reads the file front to back with a bounds-checked cursor. Every read names what it reads
// so that a failure says which field was cut short.
class GgufParser {
  public:
    explicit GgufParser(GgufFile& f) : f_(f), data_(f.bytes_) {}

    Status parse() {
        uint32_t magic = 0;
        WARD_TRY(read_pod(magic, "magic"));
        if (magic != kMagic) {
            return fail("not a GGUF file: bad magic 0x{:08x} (expected \"GGUF\")", magic);
        }
        WARD_TRY(read_pod(f_.version_, "version"));
        if (f_.version_ == 1) return fail("GGUF version 1 is not supported (only 2 and 3)");
        if (f_.version_ != 2 && f_.version_ != 3) {
            if ((f_.version_ & 0xffff) == 0) {
                return fail(
                    "GGUF version {} looks big-endian; only little-endian files are "
                    "supported",
                    f_.version_);
            }
            return fail("unsupported GGUF version {} (supported: 2, 3)", f_.version_);
        }
        uint64_t n_tensors = 0, n_kv = 0;
        WARD_TRY(read_pod(n_tensors, "tensor count"));
        WARD_TRY(read_pod(n_kv, "metadata count"));
        if (n_kv > remaining() / kMinKvBytes) {
            return fail("metadata count {} cannot fit in the {} bytes left", n_kv, remaining());
        }
        f_.kv_.reserve(n_kv);
        for (uint64_t k = 0; k < n_kv; ++k) WARD_TRY(read_kv(k));
        WARD_TRY(read_alignment());

        if (n_tensors > remaining() / kMinTensorInfoBytes) {
            return fail("tensor count {} cannot fit in the {} bytes left", n_tensors, remaining());
        }
        f_.tensors_.reserve(n_tensors);
        for (uint64_t t = 0; t < n_tensors; ++t) WARD_TRY(read_tensor_info(t));

        // The data section starts at the next multiple of the alignment.
        uint64_t a = f_.alignment_;
        uint64_t data_start = (pos_ + a - 1) / a * a;
        if (n_tensors > 0 && data_start > data_.size()) {
            return fail("data section at {} starts past the end of the file (size {})", data_start,
                        data_.size());
        }
        f_.data_offset_ = data_start;
        for (auto& t : f_.tensors_) WARD_TRY(place_tensor(t, data_start));
        return ok_status();
    }

  private:
    template <typename... Args>
    Status fail(fmt::format_string<Args...> format, Args&&... args) {
        return invalid_argument("gguf: {}", fmt::format(format, std::forward<Args>(args)...));
    }

    uint64_t remaining() const { return data_.size() - pos_; }

    template <typename T>
    Status read_pod(T& out, std::string_view what) {
        if (remaining() < sizeof(T)) {
            return fail("file truncated at byte {} while reading {} ({} bytes needed, {} left)",
                        pos_, what, sizeof(T), remaining());
        }
        std::memcpy(&out, data_.data() + pos_, sizeof(T));
        pos_ += sizeof(T);
        return ok_status();
    }

    Status read_string(std::string_view& out, std::string_view what) {
        uint64_t len = 0;
        WARD_TRY(read_pod(len, what));
        if (len > remaining()) {
            return fail("{} at byte {} has length {} but only {} bytes are left", what, pos_ - 8,
                        len, remaining());
        }
        out = std::string_view(reinterpret_cast<const char*>(data_.data() + pos_), len);
        pos_ += len;
        return ok_status();
    }

    static uint64_t min_value_bytes(GgufValueType t) {
        switch (t) {
            case GgufValueType::kUint8:
            case GgufValueType::kInt8:
            case GgufValueType::kBool:
                return 1;
            case GgufValueType::kUint16:
            case GgufValueType::kInt16:
                return 2;
            case GgufValueType::kUint32:
            case GgufValueType::kInt32:
            case GgufValueType::kFloat32:
                return 4;
            case GgufValueType::kString:
                return 8;
            case GgufValueType::kArray:
                return 12;
            default:
                return 8;
        }
    }

    Status read_value(GgufValue& v, GgufValueType type, const std::string& what, int depth) {
        v.type = type;
        switch (type) {
            case GgufValueType::kUint8:
                return read_unsigned<uint8_t>(v, what);
            case GgufValueType::kUint16:
                return read_unsigned<uint16_t>(v, what);
            case GgufValueType::kUint32:
                return read_unsigned<uint32_t>(v, what);
            case GgufValueType::kUint64:
                return read_unsigned<uint64_t>(v, what);
            case GgufValueType::kInt8:
                return read_signed<int8_t>(v, what);
            case GgufValueType::kInt16:
                return read_signed<int16_t>(v, what);
            case GgufValueType::kInt32:
                return read_signed<int32_t>(v, what);
            case GgufValueType::kInt64:
                return read_signed<int64_t>(v, what);
            case GgufValueType::kFloat32: {
                float x = 0;
                WARD_TRY(read_pod(x, what));
                v.f = x;
                return ok_status();
            }
            case GgufValueType::kFloat64:
                return read_pod(v.f, what);
            case GgufValueType::kBool: {
                uint8_t b = 0;
                WARD_TRY(read_pod(b, what));
                if (b > 1) return fail("{} is a bool with invalid value {}", what, b);
                v.u = b;
                v.i = b;
                return ok_status();
            }
            case GgufValueType::kString:
                return read_string(v.str, what);
            case GgufValueType::kArray: {
                if (depth >= kMaxArrayDepth) {
                    return fail("{} nests arrays deeper than {}", what, kMaxArrayDepth);
                }
                uint32_t elem_type = 0;
                uint64_t count = 0;
                WARD_TRY(read_pod(elem_type, what + " element type"));
                if (elem_type > static_cast<uint32_t>(GgufValueType::kFloat64)) {
                    return fail("{} has unknown element type {}", what, elem_type);
                }
                v.array_type = static_cast<GgufValueType>(elem_type);
                WARD_TRY(read_pod(count, what + " length"));
                if (count > remaining() / min_value_bytes(v.array_type)) {
                    return fail("{} claims {} elements but only {} bytes are left", what, count,
                                remaining());
                }
                v.items.resize(count);
                for (uint64_t j = 0; j < count; ++j) {
                    WARD_TRY(read_value(v.items[j], v.array_type,
                                        what + "[" + std::to_string(j) + "]", depth + 1));
                }
                return ok_status();
            }
        }
        return fail("{} has unknown value type {}", what, static_cast<uint32_t>(type));
    }

    template <typename T>
    Status read_unsigned(GgufValue& v, const std::string& what) {
        T x = 0;
        WARD_TRY(read_pod(x, what));
        v.u = x;
        v.i = x <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
                  ? static_cast<int64_t>(x)
                  : 0;
        v.f = static_cast<double>(x);
        return ok_status();
    }
    template <typename T>
    Status read_signed(GgufValue& v, const std::string& what) {
        T x = 0;
        WARD_TRY(read_pod(x, what));
        v.i = x;
        v.u = x >= 0 ? static_cast<uint64_t>(x) : 0;
        v.f = static_cast<double>(x);
        return ok_status();
    }

    Status read_kv(uint64_t index) {
        std::string_view key;
        WARD_TRY(read_string(key, fmt::format("metadata key #{}", index)));
        std::string what = fmt::format("metadata '{}'", key);
        uint32_t type = 0;
        WARD_TRY(read_pod(type, what + " value type"));
        if (type > static_cast<uint32_t>(GgufValueType::kFloat64)) {
            return fail("{} has unknown value type {}", what, type);
        }
        GgufValue v;
        WARD_TRY(read_value(v, static_cast<GgufValueType>(type), what, 0));
        if (f_.kv_index_.count(key)) return fail("duplicate metadata key '{}'", key);
        f_.kv_index_.emplace(key, f_.kv_.size());
        f_.kv_.emplace_back(key, std::move(v));
        return ok_status();
    }

    Status read_alignment() {
        const GgufValue* a = f_.find("general.alignment");
        if (!a) return ok_status();
        if (a->type != GgufValueType::kUint32) {
            return fail("general.alignment must be uint32, not {}", gguf_value_type_name(a->type));
        }
        if (a->u == 0 || (a->u & (a->u - 1)) != 0) {
            return fail("general.alignment {} is not a power of two", a->u);
        }
        f_.alignment_ = a->u;
        return ok_status();
    }

    Status read_tensor_info(uint64_t index) {
        GgufTensor t;
        WARD_TRY(read_string(t.name, fmt::format("tensor #{} name", index)));
        std::string what = fmt::format("tensor '{}'", t.name);
        uint32_t n_dims = 0;
        WARD_TRY(read_pod(n_dims, what + " dimension count"));
        if (n_dims < 1 || n_dims > kMaxDims) {
            return fail("{} has {} dimensions (must be 1 to {})", what, n_dims, kMaxDims);
        }
        t.n_dims = static_cast<int>(n_dims);
        // Every dimension is positive and the product stays far from overflow.
        constexpr int64_t kMaxElements = int64_t{1} << 50;
        int64_t n = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            uint64_t dim = 0;
            WARD_TRY(read_pod(dim, fmt::format("{} dimension {}", what, d)));
            if (dim == 0 || dim > static_cast<uint64_t>(kMaxElements) ||
                n > kMaxElements / static_cast<int64_t>(dim)) {
                return fail("{} has an absurd dimension {} = {}", what, d, dim);
            }
            t.ne[d] = static_cast<int64_t>(dim);
            n *= t.ne[d];
        }
        t.n_elements = n;
        uint32_t type_id = 0;
        WARD_TRY(read_pod(type_id, what + " type"));
        auto info = tensor_type_info(type_id);
        if (!info) return fail("{} has unknown tensor type id {}", what, type_id);
        t.type = info->type;
        if (t.ne[0] % info->block_size != 0) {
            return fail(
                "{} of type {} has a row length {} that is not a multiple of its block "
                "size {}",
                what, info->name, t.ne[0], info->block_size);
        }
        t.n_bytes = static_cast<uint64_t>(n / info->block_size * info->type_size);
        WARD_TRY(read_pod(t.offset, what + " offset"));
        if (t.offset % f_.alignment_ != 0) {
            return fail("{} offset {} is not a multiple of the alignment {}", what, t.offset,
                        f_.alignment_);
        }
        if (f_.tensor_index_.count(t.name)) return fail("duplicate tensor name '{}'", t.name);
        f_.tensor_index_.emplace(t.name, f_.tensors_.size());
        f_.tensors_.push_back(t);
        return ok_status();
    }

    Status place_tensor(GgufTensor& t, uint64_t data_start) {
        uint64_t size = data_.size();
        if (t.offset > size - data_start || t.n_bytes > size - data_start - t.offset) {
            return fail(
                "tensor '{}': {} bytes of data at offset {} run past the end of the file "
                "(data section at {}, file size {})",
                t.name, t.n_bytes, t.offset, data_start, size);
        }
        t.data = data_.data() + data_start + t.offset;
        return ok_status();
    }

    GgufFile& f_;
    std::span<const uint8_t> data_;
    uint64_t pos_ = 0;
};

Result<std::shared_ptr<const GgufFile>> GgufFile::parse(std::span<const uint8_t> bytes) {
    auto f = std::make_shared<GgufFile>();
    f->bytes_ = bytes;
    GgufParser parser(*f);
    WARD_TRY(parser.parse());
    return std::shared_ptr<const GgufFile>(std::move(f));
}

Result<std::shared_ptr<const GgufFile>> GgufFile::open(const std::string& path) {
    WARD_ASSIGN_OR_RETURN(MappedFile mapped, MappedFile::open(path));
    auto f = std::make_shared<GgufFile>();
    f->file_ = std::move(mapped);
    f->bytes_ = f->file_.bytes();
    f->path_ = path;
    GgufParser parser(*f);
    Status s = parser.parse();
    if (!s.ok()) return s.with_context(path);
    return std::shared_ptr<const GgufFile>(std::move(f));
}

const GgufValue* GgufFile::find(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
Status wrong_type(std::string_view key, const GgufValue& v, std::string_view expected) {
    std::string got(gguf_value_type_name(v.type));
    if (v.type == GgufValueType::kArray)
        got += " of " + std::string(gguf_value_type_name(v.array_type));
    return invalid_argument("gguf: metadata '{}' must be {}, not {}", key, expected, got);
}
}  // namespace

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return not_found("gguf: metadata '{}' is missing", key);
    if (v->type != GgufValueType::kString) return wrong_type(key, *v, "a string");
    return v->str;
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return not_found("gguf: metadata '{}' is missing", key);
    if (!v->is_integer()) return wrong_type(key, *v, "an integer");
    if (v->type == GgufValueType::kUint64 &&
        v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return invalid_argument("gguf: metadata '{}' = {} is too large", key, v->u);
    }
    return v->i;
}

Result<uint32_t> GgufFile::get_u32(std::string_view key) const {
    WARD_ASSIGN_OR_RETURN(int64_t x, get_int(key));
    if (x < 0 || x > std::numeric_limits<uint32_t>::max()) {
        return invalid_argument("gguf: metadata '{}' = {} is out of range", key, x);
    }
    return static_cast<uint32_t>(x);
}

Result<double> GgufFile::get_float(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return not_found("gguf: metadata '{}' is missing", key);
    if (!v->is_float() && !v->is_integer()) return wrong_type(key, *v, "a number");
    return v->f;
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return not_found("gguf: metadata '{}' is missing", key);
    if (v->type != GgufValueType::kBool) return wrong_type(key, *v, "a bool");
    return v->u != 0;
}

Result<std::vector<std::string_view>> GgufFile::get_string_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return not_found("gguf: metadata '{}' is missing", key);
    if (v->type != GgufValueType::kArray || v->array_type != GgufValueType::kString) {
        return wrong_type(key, *v, "an array of strings");
    }
    std::vector<std::string_view> out;
    out.reserve(v->items.size());
    for (const auto& item : v->items) out.push_back(item.str);
    return out;
}

Result<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return not_found("gguf: metadata '{}' is missing", key);
    if (v->type != GgufValueType::kArray ||
        (v->array_type != GgufValueType::kFloat32 && v->array_type != GgufValueType::kFloat64)) {
        return wrong_type(key, *v, "an array of floats");
    }
    std::vector<float> out;
    out.reserve(v->items.size());
    for (const auto& item : v->items) out.push_back(static_cast<float>(item.f));
    return out;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (!v) return not_found("gguf: metadata '{}' is missing", key);
    GgufValue probe;
    probe.type = v->array_type;
    if (v->type != GgufValueType::kArray || !probe.is_integer()) {
        return wrong_type(key, *v, "an array of integers");
    }
    std::vector<int64_t> out;
    out.reserve(v->items.size());
    for (const auto& item : v->items) out.push_back(item.i);
    return out;
}

Result<int64_t> GgufFile::get_int_or(std::string_view key, int64_t fallback) const {
    return has(key) ? get_int(key) : Result<int64_t>(fallback);
}
Result<double> GgufFile::get_float_or(std::string_view key, double fallback) const {
    return has(key) ? get_float(key) : Result<double>(fallback);
}
Result<bool> GgufFile::get_bool_or(std::string_view key, bool fallback) const {
    return has(key) ? get_bool(key) : Result<bool>(fallback);
}

}  // namespace ward::engine
