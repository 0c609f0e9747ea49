// GGUF writer → reader round trips: every metadata value type (nested arrays included), tensors
// of several types, alignment, in-place replacement of keys, copying values between files, and
// the writer's own argument errors.
#include "engine/gguf_writer.h"

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "common/mapped_file.h"
#include "engine/quant.h"

namespace ward::engine {
namespace {

std::shared_ptr<const GgufFile> parse_ok(const std::vector<uint8_t>& bytes) {
    auto f = GgufFile::parse(bytes);
    EXPECT_TRUE(f) << f.error().to_string();
    return f ? *f : nullptr;
}

GgufValue scalar(GgufValueType type, int64_t i, uint64_t u = 0, double f = 0) {
    GgufValue v;
    v.type = type;
    v.i = i;
    v.u = u;
    v.f = f;
    return v;
}

GgufValue array_of(GgufValueType element_type, std::vector<GgufValue> items) {
    GgufValue v;
    v.type = GgufValueType::kArray;
    v.array_type = element_type;
    v.items = std::move(items);
    return v;
}

std::vector<float> ramp(size_t n, float scale) {
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = scale * std::sin(0.37f * static_cast<float>(i) + 0.1f);
    return v;
}

// Structural equality of two metadata values as the reader reports them.
void expect_same_value(const GgufValue& a, const GgufValue& b, const std::string& where) {
    ASSERT_EQ(a.type, b.type) << where;
    switch (a.type) {
        case GgufValueType::kString:
            EXPECT_EQ(a.str, b.str) << where;
            break;
        case GgufValueType::kArray:
            ASSERT_EQ(a.array_type, b.array_type) << where;
            ASSERT_EQ(a.items.size(), b.items.size()) << where;
            for (size_t k = 0; k < a.items.size(); ++k) {
                expect_same_value(a.items[k], b.items[k], where + "[" + std::to_string(k) + "]");
            }
            break;
        default:
            EXPECT_EQ(a.u, b.u) << where;
            EXPECT_EQ(a.i, b.i) << where;
            EXPECT_EQ(a.f, b.f) << where;
    }
}

TEST(GgufWriter, EveryMetadataTypeRoundTrips) {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_u32("t.u32", 4000000000u);
    w.set_i32("t.i32", -123456);
    w.set_u64("t.u64", 0xfedcba9876543210ull);
    w.set_f32("t.f32", 0.15625f);
    w.set_bool("t.true", true);
    w.set_bool("t.false", false);
    w.set_string("t.empty_string", "");
    w.set_string("t.utf8", "caf\xc3\xa9 \xe2\x9c\x93");
    w.set_string_array("t.strings", {"a", "", "\xc4\x80", "longer string"});
    w.set_f32_array("t.floats", {1.5f, -2.25f, 1e-20f});
    w.set_i32_array("t.ints", {-1, 0, 2147483647});
    w.set_i32_array("t.empty_ints", {});
    w.set_value("t.u8", scalar(GgufValueType::kUint8, 200, 200));
    w.set_value("t.i8", scalar(GgufValueType::kInt8, -100));
    w.set_value("t.u16", scalar(GgufValueType::kUint16, 65535, 65535));
    w.set_value("t.i16", scalar(GgufValueType::kInt16, -32768));
    w.set_value("t.i64", scalar(GgufValueType::kInt64, INT64_MIN));
    w.set_value("t.f64", scalar(GgufValueType::kFloat64, 0, 0, 3.141592653589793));
    // [[1, 2], [], [3]] of int16 and [["x"], ["y", "z"]]: nested arrays.
    w.set_value("t.nested_ints",
                array_of(GgufValueType::kArray,
                         {array_of(GgufValueType::kInt16, {scalar(GgufValueType::kInt16, 1),
                                                           scalar(GgufValueType::kInt16, 2)}),
                          array_of(GgufValueType::kInt16, {}),
                          array_of(GgufValueType::kInt16, {scalar(GgufValueType::kInt16, 3)})}));
    GgufValue x, y, z;
    x.type = y.type = z.type = GgufValueType::kString;
    x.str = "x";
    y.str = "y";
    z.str = "z";
    w.set_value("t.nested_strings",
                array_of(GgufValueType::kArray, {array_of(GgufValueType::kString, {x}),
                                                 array_of(GgufValueType::kString, {y, z})}));
    // Three levels deep.
    w.set_value("t.deep", array_of(GgufValueType::kArray,
                                   {array_of(GgufValueType::kArray,
                                             {array_of(GgufValueType::kUint64,
                                                       {scalar(GgufValueType::kUint64, 7, 7)})})}));

    auto bytes = w.to_bytes();
    auto f = parse_ok(bytes);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), 32u);
    EXPECT_EQ(f->metadata().size(), 22u);
    EXPECT_EQ(f->metadata()[0].first, "general.architecture");  // insertion order kept
    EXPECT_EQ(*f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->find("t.u32")->type, GgufValueType::kUint32);
    EXPECT_EQ(*f->get_int("t.u32"), 4000000000);
    EXPECT_EQ(*f->get_int("t.i32"), -123456);
    EXPECT_EQ(f->find("t.u64")->u, 0xfedcba9876543210ull);
    EXPECT_EQ(f->find("t.f32")->type, GgufValueType::kFloat32);
    EXPECT_EQ(*f->get_float("t.f32"), 0.15625);
    EXPECT_TRUE(*f->get_bool("t.true"));
    EXPECT_FALSE(*f->get_bool("t.false"));
    EXPECT_EQ(*f->get_string("t.empty_string"), "");
    EXPECT_EQ(*f->get_string("t.utf8"), "caf\xc3\xa9 \xe2\x9c\x93");
    auto strings = *f->get_string_array("t.strings");
    ASSERT_EQ(strings.size(), 4u);
    EXPECT_EQ(strings[2], "\xc4\x80");
    EXPECT_EQ(strings[3], "longer string");
    EXPECT_EQ(*f->get_float_array("t.floats"), (std::vector<float>{1.5f, -2.25f, 1e-20f}));
    EXPECT_EQ(*f->get_int_array("t.ints"), (std::vector<int64_t>{-1, 0, 2147483647}));
    EXPECT_TRUE(f->get_int_array("t.empty_ints")->empty());
    EXPECT_EQ(f->find("t.u8")->type, GgufValueType::kUint8);
    EXPECT_EQ(*f->get_int("t.u8"), 200);
    EXPECT_EQ(f->find("t.i8")->type, GgufValueType::kInt8);
    EXPECT_EQ(*f->get_int("t.i8"), -100);
    EXPECT_EQ(*f->get_int("t.u16"), 65535);
    EXPECT_EQ(*f->get_int("t.i16"), -32768);
    EXPECT_EQ(*f->get_int("t.i64"), INT64_MIN);
    EXPECT_EQ(f->find("t.f64")->type, GgufValueType::kFloat64);
    EXPECT_EQ(*f->get_float("t.f64"), 3.141592653589793);

    const GgufValue* nested = f->find("t.nested_ints");
    ASSERT_NE(nested, nullptr);
    ASSERT_EQ(nested->array_type, GgufValueType::kArray);
    ASSERT_EQ(nested->items.size(), 3u);
    EXPECT_EQ(nested->items[0].array_type, GgufValueType::kInt16);
    ASSERT_EQ(nested->items[0].items.size(), 2u);
    EXPECT_EQ(nested->items[0].items[1].i, 2);
    EXPECT_TRUE(nested->items[1].items.empty());
    EXPECT_EQ(nested->items[2].items[0].i, 3);
    const GgufValue* nested_strings = f->find("t.nested_strings");
    ASSERT_EQ(nested_strings->items.size(), 2u);
    EXPECT_EQ(nested_strings->items[1].items[1].str, "z");
    const GgufValue* deep = f->find("t.deep");
    EXPECT_EQ(deep->items[0].items[0].items[0].u, 7u);
    EXPECT_EQ(deep->items[0].items[0].array_type, GgufValueType::kUint64);
}

TEST(GgufWriter, SetValueCopiesEveryValueOfAnotherFile) {
    // Copy all metadata of a file into a new writer; the result reads back identically.
    GgufWriter w;
    w.set_string("general.architecture", "qwen2");
    w.set_f32_array("t.floats", {0.5f, 2.0f});
    w.set_value("t.nested",
                array_of(GgufValueType::kArray,
                         {array_of(GgufValueType::kInt8, {scalar(GgufValueType::kInt8, -5),
                                                          scalar(GgufValueType::kInt8, 6)})}));
    w.set_value("t.f64", scalar(GgufValueType::kFloat64, 0, 0, -1e300));
    w.set_value("t.u64", scalar(GgufValueType::kUint64, 0, UINT64_MAX, 0));
    auto original_bytes = w.to_bytes();
    auto original = parse_ok(original_bytes);
    ASSERT_TRUE(original);

    GgufWriter copy;
    for (const auto& [key, value] : original->metadata()) copy.set_value(key, value);
    auto copied_bytes = copy.to_bytes();
    EXPECT_EQ(copied_bytes, original_bytes);  // byte-identical
    auto copied = parse_ok(copied_bytes);
    ASSERT_EQ(copied->metadata().size(), original->metadata().size());
    for (size_t k = 0; k < original->metadata().size(); ++k) {
        EXPECT_EQ(copied->metadata()[k].first, original->metadata()[k].first);
        expect_same_value(copied->metadata()[k].second, original->metadata()[k].second,
                          std::string(original->metadata()[k].first));
    }
}

TEST(GgufWriter, CopiesTheWholeStoriesModelMetadata) {
    auto model = GgufFile::open(std::string(WARD_SHARED_DATA) + "/models/stories260K.gguf");
    ASSERT_TRUE(model) << model.error().to_string();
    GgufWriter w;
    for (const auto& [key, value] : (*model)->metadata()) w.set_value(key, value);
    const auto bytes = w.to_bytes();  // the parsed file views these bytes
    auto f = parse_ok(bytes);
    ASSERT_TRUE(f);
    ASSERT_EQ(f->metadata().size(), (*model)->metadata().size());
    for (size_t k = 0; k < f->metadata().size(); ++k) {
        expect_same_value(f->metadata()[k].second, (*model)->metadata()[k].second,
                          std::string(f->metadata()[k].first));
    }
}

TEST(GgufWriter, SettingAKeyAgainReplacesItInPlace) {
    GgufWriter w;
    w.set_u32("a", 1);
    w.set_string("b", "first");
    w.set_u32("c", 3);
    w.set_string("b", "second");
    w.set_f32("a", 2.5f);             // a different type is fine too
    const auto bytes = w.to_bytes();  // the parsed file views these bytes
    auto f = parse_ok(bytes);
    ASSERT_EQ(f->metadata().size(), 3u);
    EXPECT_EQ(f->metadata()[0].first, "a");
    EXPECT_EQ(f->metadata()[1].first, "b");
    EXPECT_EQ(*f->get_float("a"), 2.5);
    EXPECT_EQ(*f->get_string("b"), "second");
}

TEST(GgufWriter, TensorsRoundTrip) {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    // F32 [4, 3]: exact.
    auto f32 = ramp(12, 1.0f);
    ASSERT_TRUE(w.add_tensor("f32", TensorType::kF32, {4, 3}, f32).ok());
    // F16 [32]: within half precision.
    auto f16 = ramp(32, 3.0f);
    ASSERT_TRUE(w.add_tensor("f16", TensorType::kF16, {32}, f16).ok());
    // Q8_0 [64, 2, 1, 2]: four dims.
    auto q8 = ramp(256, 0.5f);
    ASSERT_TRUE(w.add_tensor("q8", TensorType::kQ8_0, {64, 2, 1, 2}, q8).ok());
    // Q4_K [256, 2].
    auto q4k = ramp(512, 2.0f);
    ASSERT_TRUE(w.add_tensor("q4k", TensorType::kQ4_K, {256, 2}, q4k).ok());
    // Raw bytes are written as given.
    std::vector<uint8_t> raw(210);
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(i * 7);
    ASSERT_TRUE(w.add_tensor_raw("raw_q6k", TensorType::kQ6_K, {256}, raw).ok());

    auto bytes = w.to_bytes();
    auto f = parse_ok(bytes);
    ASSERT_TRUE(f);
    ASSERT_EQ(f->tensors().size(), 5u);
    EXPECT_EQ(f->data_offset() % 32, 0u);
    EXPECT_EQ(bytes.size() % 32, 0u);
    for (const GgufTensor& t : f->tensors()) {
        EXPECT_EQ(t.offset % 32, 0u) << t.name;
    }
    // Tensors follow one another, each at the next aligned offset.
    EXPECT_EQ(f->tensors()[0].offset, 0u);
    EXPECT_EQ(f->tensors()[1].offset, 64u);   // 48 bytes of F32, padded to 64
    EXPECT_EQ(f->tensors()[2].offset, 128u);  // 64 bytes of F16
    EXPECT_EQ(f->tensors()[3].offset, 128u + 288u);
    EXPECT_EQ(f->tensors()[4].offset, 128u + 288u + 288u);

    const GgufTensor* t = f->find_tensor("f32");
    EXPECT_EQ(t->type, TensorType::kF32);
    EXPECT_EQ(t->shape_string(), "[4, 3]");
    std::vector<float> out(12);
    dequantize_row(t->type, t->data, out.data(), 12);
    EXPECT_EQ(out, f32);

    t = f->find_tensor("f16");
    EXPECT_EQ(t->type, TensorType::kF16);
    out.resize(32);
    dequantize_row(t->type, t->data, out.data(), 32);
    for (size_t i = 0; i < 32; ++i) EXPECT_NEAR(out[i], f16[i], 3.0 / 1024) << i;

    t = f->find_tensor("q8");
    EXPECT_EQ(t->type, TensorType::kQ8_0);
    EXPECT_EQ(t->n_dims, 4);
    EXPECT_EQ(t->shape_string(), "[64, 2, 1, 2]");
    EXPECT_EQ(t->n_bytes, 8u * 34u);
    out.resize(256);
    dequantize_row(t->type, t->data, out.data(), 256);
    for (size_t i = 0; i < 256; ++i) EXPECT_NEAR(out[i], q8[i], 0.5 / 127) << i;

    t = f->find_tensor("q4k");
    EXPECT_EQ(t->type, TensorType::kQ4_K);
    out.resize(512);
    dequantize_row(t->type, t->data, out.data(), 512);
    for (size_t i = 0; i < 512; ++i) EXPECT_NEAR(out[i], q4k[i], 4.0 / 15) << i;

    t = f->find_tensor("raw_q6k");
    EXPECT_EQ(t->type, TensorType::kQ6_K);
    EXPECT_EQ(std::vector<uint8_t>(t->data, t->data + t->n_bytes), raw);
}

TEST(GgufWriter, HonoursGeneralAlignment) {
    GgufWriter w;
    w.set_u32("general.alignment", 64);
    ASSERT_TRUE(w.add_tensor("a", TensorType::kF32, {3}, ramp(3, 1.f)).ok());
    ASSERT_TRUE(w.add_tensor("b", TensorType::kF32, {5}, ramp(5, 1.f)).ok());
    auto bytes = w.to_bytes();
    auto f = parse_ok(bytes);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->alignment(), 64u);
    EXPECT_EQ(f->data_offset() % 64, 0u);
    EXPECT_EQ(f->tensors()[1].offset, 64u);
    EXPECT_EQ(bytes.size() % 64, 0u);
}

TEST(GgufWriter, FileWithoutTensors) {
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    auto bytes = w.to_bytes();
    auto f = parse_ok(bytes);
    ASSERT_TRUE(f);
    EXPECT_TRUE(f->tensors().empty());
    EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gpt2");
}

TEST(GgufWriter, WriteMatchesToBytesAndReplacesAtomically) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("ward_gguf_writer_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "model.gguf").string();
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    ASSERT_TRUE(w.add_tensor("w", TensorType::kQ8_0, {32, 3}, ramp(96, 1.f)).ok());
    ASSERT_TRUE(w.write(path).ok());
    auto written = read_file(path);
    ASSERT_TRUE(written);
    auto expected = w.to_bytes();
    EXPECT_EQ(std::vector<uint8_t>(written->begin(), written->end()), expected);
    auto f = GgufFile::open(path);
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_EQ((*f)->tensors().size(), 1u);
    // Overwriting leaves no temporary behind.
    ASSERT_TRUE(w.write(path).ok());
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                            std::filesystem::directory_iterator()),
              1);
    // An unwritable destination is an error, not a crash.
    Status s = w.write((dir / "no_such_dir" / "x.gguf").string());
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    std::filesystem::remove_all(dir);
}

TEST(GgufWriter, RejectsBadTensors) {
    GgufWriter w;
    ASSERT_TRUE(w.add_tensor("t", TensorType::kF32, {2}, ramp(2, 1.f)).ok());
    Status s = w.add_tensor("t", TensorType::kF32, {2}, ramp(2, 1.f));
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "gguf writer: duplicate tensor 't'");
    s = w.add_tensor("size", TensorType::kF32, {2, 2}, ramp(3, 1.f));
    EXPECT_EQ(s.message(), "gguf writer: tensor 'size': shape holds 4 values but 3 were given");
    s = w.add_tensor("blocks", TensorType::kQ4_K, {32}, ramp(32, 1.f));
    EXPECT_EQ(s.message(),
              "gguf writer: tensor 'blocks': row length 32 is not a multiple of the Q4_K block "
              "size 256");
    s = w.add_tensor("q8k", TensorType::kQ8_K, {256}, ramp(256, 1.f));
    EXPECT_EQ(s.message(), "gguf writer: tensor 'q8k': cannot write type Q8_K");
    s = w.add_tensor("dims", TensorType::kF32, {1, 1, 1, 1, 1}, ramp(1, 1.f));
    EXPECT_NE(s.message().find("tensor 'dims'"), std::string::npos) << s.message();
    s = w.add_tensor("zero", TensorType::kF32, {0}, {});
    EXPECT_NE(s.message().find("tensor 'zero'"), std::string::npos) << s.message();
    std::vector<uint8_t> raw(33);
    s = w.add_tensor_raw("raw", TensorType::kQ8_0, {32}, raw);
    EXPECT_EQ(s.message(), "gguf writer: tensor 'raw': Q8_0 of shape [32] needs 34 bytes, got 33");
    s = w.add_tensor_raw("unknown", static_cast<TensorType>(77), {32}, raw);
    EXPECT_EQ(s.message(), "gguf writer: tensor 'unknown': unknown type id 77");
    // Nothing of the failed calls was added.
    const auto bytes = w.to_bytes();  // the parsed file views these bytes
    auto f = parse_ok(bytes);
    EXPECT_EQ(f->tensors().size(), 1u);
}

}  // namespace
}  // namespace ward::engine
