#include "engine/tensor_type.h"

#include <array>
#include <cctype>
#include <string>

namespace ward::engine {
namespace {

using T = TensorType;
// Layouts as defined by ggml (ggml-common.h block structs). Types marked unsupported are
// listed so their files can still be read, and their use gets a clear error.
constexpr std::array<TensorTypeInfo, 32> kTypes = {{
    {T::kF32, "F32", 1, 4, true},
    {T::kF16, "F16", 1, 2, true},
    {T::kQ4_0, "Q4_0", 32, 18, true},
    {T::kQ4_1, "Q4_1", 32, 20, true},
    {T::kQ5_0, "Q5_0", 32, 22, true},
    {T::kQ5_1, "Q5_1", 32, 24, true},
    {T::kQ8_0, "Q8_0", 32, 34, true},
    {T::kQ8_1, "Q8_1", 32, 36, false},
    {T::kQ2_K, "Q2_K", 256, 84, true},
    {T::kQ3_K, "Q3_K", 256, 110, true},
    {T::kQ4_K, "Q4_K", 256, 144, true},
    {T::kQ5_K, "Q5_K", 256, 176, true},
    {T::kQ6_K, "Q6_K", 256, 210, true},
    {T::kQ8_K, "Q8_K", 256, 292, false},
    {T::kIQ2_XXS, "IQ2_XXS", 256, 66, false},
    {T::kIQ2_XS, "IQ2_XS", 256, 74, false},
    {T::kIQ3_XXS, "IQ3_XXS", 256, 98, false},
    {T::kIQ1_S, "IQ1_S", 256, 50, false},
    {T::kIQ4_NL, "IQ4_NL", 32, 18, false},
    {T::kIQ3_S, "IQ3_S", 256, 110, false},
    {T::kIQ2_S, "IQ2_S", 256, 82, false},
    {T::kIQ4_XS, "IQ4_XS", 256, 136, false},
    {T::kI8, "I8", 1, 1, false},
    {T::kI16, "I16", 1, 2, false},
    {T::kI32, "I32", 1, 4, false},
    {T::kI64, "I64", 1, 8, false},
    {T::kF64, "F64", 1, 8, false},
    {T::kIQ1_M, "IQ1_M", 256, 56, false},
    {T::kBF16, "BF16", 1, 2, true},
    {T::kTQ1_0, "TQ1_0", 256, 54, false},
    {T::kTQ2_0, "TQ2_0", 256, 66, false},
    {T::kMXFP4, "MXFP4", 32, 17, false},
}};

}  // namespace

std::optional<TensorTypeInfo> tensor_type_info(uint32_t type_id) {
    for (const auto& t : kTypes) {
        if (static_cast<uint32_t>(t.type) == type_id) return t;
    }
    return std::nullopt;
}

TensorTypeInfo tensor_type_info(TensorType type) {
    auto info = tensor_type_info(static_cast<uint32_t>(type));
    WARD_CHECK(info.has_value());
    return *info;
}

std::string_view tensor_type_name(TensorType type) {
    return tensor_type_info(type).name;
}

Result<TensorType> parse_tensor_type(std::string_view name) {
    std::string upper(name);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string known;
    for (const auto& t : kTypes) {
        if (t.name == upper) return t.type;
        if (t.supported) known += (known.empty() ? "" : ", ") + std::string(t.name);
    }
    return invalid_argument("unknown tensor type \"{}\" (supported: {})", name, known);
}

}  // namespace ward::engine
