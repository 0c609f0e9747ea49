#include "engine/quantize.h"

#include <algorithm>
#include <mutex>
#include <string_view>

#include "common/log.h"
#include "common/thread_pool.h"
#include "engine/gguf.h"
#include "engine/gguf_writer.h"
#include "engine/quant.h"

namespace ward::engine {

namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's current block layouts

// The types a matrix may be written as, best first: the target, then the fallbacks.
std::vector<TensorType> candidate_types(TensorType target) {
    std::vector<TensorType> types = {target};
    const int64_t block = tensor_type_info(target).block_size;
    if (block > tensor_type_info(TensorType::kQ8_0).block_size) types.push_back(TensorType::kQ8_0);
    if (block > 1) types.push_back(TensorType::kF16);
    if (target != TensorType::kF32) types.push_back(TensorType::kF32);
    return types;
}

std::string writable_type_names() {
    std::string names;
    for (uint32_t id = 0; id < 64; ++id) {
        auto info = tensor_type_info(id);
        if (!info || !can_quantize(info->type)) continue;
        names += (names.empty() ? "" : ", ") + std::string(info->name);
    }
    return names;
}

// Decodes `t` row by row and re-encodes it as `type`, chunks of rows spread over `pool`.
Result<std::vector<uint8_t>> reencode(const GgufTensor& t, TensorType type, ThreadPool& pool) {
    const TensorTypeInfo in_info = tensor_type_info(t.type);
    const TensorTypeInfo out_info = tensor_type_info(type);
    const int64_t n_per_row = t.ne[0];
    const int64_t n_rows = t.n_rows();
    const int64_t in_row_bytes = row_bytes(in_info, n_per_row);
    const int64_t out_row_bytes = row_bytes(out_info, n_per_row);
    std::vector<uint8_t> out(static_cast<size_t>(out_row_bytes * n_rows));
    // About 64K weights per chunk: enough work to amortise scheduling, and enough chunks to
    // balance a large matrix over many threads.
    const int64_t rows_per_chunk = std::max<int64_t>(1, 65536 / n_per_row);
    const int64_t n_chunks = (n_rows + rows_per_chunk - 1) / rows_per_chunk;
    std::mutex mutex;
    Status first_error;
    pool.parallel_for(static_cast<size_t>(n_chunks), [&](size_t chunk) {
        std::vector<float> row(static_cast<size_t>(n_per_row));  // [ne0]
        const int64_t begin = static_cast<int64_t>(chunk) * rows_per_chunk;
        const int64_t end = std::min(n_rows, begin + rows_per_chunk);
        for (int64_t r = begin; r < end; ++r) {
            dequantize_row(t.type, t.data + r * in_row_bytes, row.data(), n_per_row);
            Status s = quantize_row(type, row.data(), out.data() + r * out_row_bytes, n_per_row);
            if (!s.ok()) {
                std::lock_guard<std::mutex> lock(mutex);
                if (first_error.ok()) first_error = s;
                return;
            }
        }
    });
    if (!first_error.ok()) {
        return first_error.with_context(fmt::format("quantize: tensor '{}'", t.name));
    }
    return out;
}

}  // namespace

Result<uint32_t> gguf_file_type(TensorType type) {
    switch (type) {
        case TensorType::kF32:
            return 0u;
        case TensorType::kF16:
            return 1u;
        case TensorType::kQ4_0:
            return 2u;
        case TensorType::kQ4_1:
            return 3u;
        case TensorType::kQ8_0:
            return 7u;
        case TensorType::kQ5_0:
            return 8u;
        case TensorType::kQ5_1:
            return 9u;
        case TensorType::kQ2_K:
            return 10u;
        case TensorType::kQ3_K:
            return 12u;  // Q3_K_M
        case TensorType::kQ4_K:
            return 15u;  // Q4_K_M
        case TensorType::kQ5_K:
            return 17u;  // Q5_K_M
        case TensorType::kQ6_K:
            return 18u;
        case TensorType::kBF16:
            return 32u;
        default:
            break;
    }
    auto info = tensor_type_info(static_cast<uint32_t>(type));
    return invalid_argument("no GGUF file type for tensor type {}",
                            info ? info->name : std::string_view("(unknown id)"));
}

Status quantize_gguf(const std::string& in_path, const std::string& out_path, TensorType type,
                     QuantizeStats* stats) {
    if (!can_quantize(type)) {
        auto info = tensor_type_info(static_cast<uint32_t>(type));
        return invalid_argument("quantize: cannot write tensor type {} (can write: {})",
                                info ? info->name : std::string_view("(unknown id)"),
                                writable_type_names());
    }
    WARD_ASSIGN_OR_RETURN(const uint32_t file_type, gguf_file_type(type));
    WARD_ASSIGN_OR_RETURN(std::shared_ptr<const GgufFile> in, GgufFile::open(in_path));

    QuantizeStats local;
    QuantizeStats& st = stats ? *stats : local;
    st = QuantizeStats{};
    st.n_tensors = static_cast<int64_t>(in->tensors().size());

    GgufWriter w;
    for (const auto& [key, value] : in->metadata()) w.set_value(key, value);
    w.set_u32("general.file_type", file_type);
    const bool quantized = tensor_type_info(type).block_size > 1;
    if (quantized) w.set_u32("general.quantization_version", kQuantizationVersion);

    const std::vector<TensorType> candidates = candidate_types(type);
    ThreadPool pool;
    for (const GgufTensor& t : in->tensors()) {
        const std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
        if (!tensor_type_info(t.type).supported) {
            // Nothing to decode it with: keep the bytes as they are.
            WARD_TRY(w.add_tensor_raw(t.name, t.type, ne, {t.data, t.n_bytes}));
            ++st.n_copied;
            continue;
        }
        TensorType out_type = TensorType::kF32;
        if (t.n_dims >= 2) {
            for (TensorType c : candidates) {
                if (t.ne[0] % tensor_type_info(c).block_size == 0) {
                    out_type = c;
                    break;
                }
            }
        }
        if (out_type == t.type) {
            WARD_TRY(w.add_tensor_raw(t.name, t.type, ne, {t.data, t.n_bytes}));
        } else {
            WARD_ASSIGN_OR_RETURN(std::vector<uint8_t> data, reencode(t, out_type, pool));
            WARD_TRY(w.add_tensor_raw(t.name, out_type, ne, data));
        }
        if (t.n_dims < 2) {
            ++st.n_f32;
        } else if (out_type == type) {
            ++st.n_quantized;
        } else {
            ++st.n_fallback;
            st.fallbacks.push_back(fmt::format("{} {}: {} (row length {} is not a multiple of {})",
                                               t.name, t.shape_string(), tensor_type_name(out_type),
                                               t.ne[0], tensor_type_info(type).block_size));
            logger("engine")->warn("quantize: {}", st.fallbacks.back());
        }
    }
    WARD_TRY(w.write(out_path));
    logger("engine")->info(
        "quantize: {} tensors to {}: {} as {}, {} fallbacks, {} 1-D as F32, {} copied unchanged",
        st.n_tensors, out_path, st.n_quantized, tensor_type_name(type), st.n_fallback, st.n_f32,
        st.n_copied);
    return ok_status();
}

}  // namespace ward::engine
