// quantize_gguf: re-encoding the stories260K model and writer-made files, with the types,
// metadata, fallbacks and numerical closeness of the result checked against the input.
#include "engine/quantize.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "engine/gguf.h"
#include "engine/gguf_writer.h"
#include "engine/quant.h"

namespace ward::engine {
namespace {

const std::string kStories = std::string(WARD_SHARED_DATA) + "/models/stories260K.gguf";

class QuantizeGguf : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("ward_quantize_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

    std::filesystem::path dir_;
};

std::vector<float> decode(const GgufTensor& t) {
    std::vector<float> out(static_cast<size_t>(t.n_elements));
    dequantize_row(t.type, t.data, out.data(), t.n_elements);
    return out;
}

// RMS of (a - b) relative to the RMS of a.
double relative_rms(const std::vector<float>& a, const std::vector<float>& b) {
    double err = 0, ref = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        err += (a[i] - b[i]) * double(a[i] - b[i]);
        ref += a[i] * double(a[i]);
    }
    return ref > 0 ? std::sqrt(err / ref) : std::sqrt(err);
}

// Checks that every tensor of `out` has the shape of its `in` counterpart, the expected type,
// and values within `tolerance` (relative RMS). Returns the number of matrices at `target`.
int check_tensors(const GgufFile& in, const GgufFile& out, TensorType target, double tolerance) {
    EXPECT_EQ(out.tensors().size(), in.tensors().size());
    int n_target = 0;
    for (const GgufTensor& t : in.tensors()) {
        const GgufTensor* q = out.find_tensor(t.name);
        if (!q) {
            ADD_FAILURE() << "missing tensor " << t.name;
            continue;
        }
        EXPECT_EQ(q->shape_string(), t.shape_string()) << t.name;
        if (t.n_dims == 1) {
            EXPECT_EQ(q->type, TensorType::kF32) << t.name;
        } else if (t.ne[0] % tensor_type_info(target).block_size == 0) {
            EXPECT_EQ(q->type, target) << t.name;
            ++n_target;
        } else {
            EXPECT_NE(q->type, target) << t.name;
        }
        const double rms = relative_rms(decode(t), decode(*q));
        EXPECT_LT(rms, tolerance) << t.name << " as " << tensor_type_name(q->type);
    }
    return n_target;
}

TEST_F(QuantizeGguf, StoriesToQ8_0) {
    const std::string out_path = path("stories.q8_0.gguf");
    QuantizeStats stats;
    Status s = quantize_gguf(kStories, out_path, TensorType::kQ8_0, &stats);
    ASSERT_TRUE(s.ok()) << s.to_string();
    auto in = GgufFile::open(kStories);
    auto out = GgufFile::open(out_path);
    ASSERT_TRUE(in && out) << out.error().to_string();
    // Q8_0 of N(0, s) weights: ~0.5% relative RMS (quant_test); allow 1%.
    const int n_q8 = check_tensors(**in, **out, TensorType::kQ8_0, 0.01);
    EXPECT_GT(n_q8, 0);
    EXPECT_EQ(stats.n_tensors, static_cast<int64_t>((*in)->tensors().size()));
    EXPECT_EQ(stats.n_quantized, n_q8);
    EXPECT_EQ(stats.n_quantized + stats.n_fallback + stats.n_f32 + stats.n_copied, stats.n_tensors);
    EXPECT_EQ(static_cast<int64_t>(stats.fallbacks.size()), stats.n_fallback);
    // ffn_down's rows of 172 weights do not fit 32-blocks: F16.
    EXPECT_EQ(stats.n_fallback, 5);
    EXPECT_EQ(stats.fallbacks[0],
              "blk.0.ffn_down.weight [172, 64]: F16 (row length 172 is not a multiple of 32)");
    EXPECT_EQ((*out)->find_tensor("blk.0.ffn_down.weight")->type, TensorType::kF16);
    // Metadata: everything copied, the file type set, the quantization version added.
    EXPECT_EQ(*(*out)->get_int("general.file_type"), 7);
    EXPECT_EQ(*(*out)->get_int("general.quantization_version"), 2);
    for (const auto& [key, value] : (*in)->metadata()) {
        if (key == "general.file_type") continue;
        const GgufValue* copied = (*out)->find(key);
        ASSERT_NE(copied, nullptr) << key;
        EXPECT_EQ(copied->type, value.type) << key;
        EXPECT_EQ(copied->items.size(), value.items.size()) << key;
    }
    EXPECT_EQ(*(*out)->get_string_array("tokenizer.ggml.tokens"),
              *(*in)->get_string_array("tokenizer.ggml.tokens"));
    EXPECT_LT((*out)->file_size(), (*in)->file_size());
}

TEST_F(QuantizeGguf, StoriesToF16) {
    const std::string out_path = path("stories.f16.gguf");
    QuantizeStats stats;
    ASSERT_TRUE(quantize_gguf(kStories, out_path, TensorType::kF16, &stats).ok());
    auto in = GgufFile::open(kStories);
    auto out = GgufFile::open(out_path);
    ASSERT_TRUE(in && out);
    // Half precision keeps ~11 significant bits: relative RMS ~2e-4.
    const int n_f16 = check_tensors(**in, **out, TensorType::kF16, 5e-4);
    EXPECT_EQ(n_f16, stats.n_quantized);
    EXPECT_EQ(stats.n_fallback, 0);  // every row length fits a block of 1
    EXPECT_EQ(*(*out)->get_int("general.file_type"), 1);
    EXPECT_FALSE((*out)->has("general.quantization_version"));
}

TEST_F(QuantizeGguf, StoriesToQ4_KFallsBackWhereRowsAreShort) {
    // stories260K's rows have 64 weights (172 in ffn_down), less than a K-quant super-block:
    // the matrices fall back to Q8_0 (or F16 where 32 does not divide the row), and say so.
    const std::string out_path = path("stories.q4_k.gguf");
    QuantizeStats stats;
    ASSERT_TRUE(quantize_gguf(kStories, out_path, TensorType::kQ4_K, &stats).ok());
    auto out = GgufFile::open(out_path);
    ASSERT_TRUE(out);
    EXPECT_EQ(stats.n_quantized, 0);
    EXPECT_GT(stats.n_fallback, 0);
    ASSERT_FALSE(stats.fallbacks.empty());
    EXPECT_NE(stats.fallbacks[0].find(": Q8_0 (row length 64 is not a multiple of 256)"),
              std::string::npos)
        << stats.fallbacks[0];
    for (const GgufTensor& t : (*out)->tensors()) {
        const TensorType want = t.n_dims < 2     ? TensorType::kF32
                                : t.ne[0] == 172 ? TensorType::kF16
                                                 : TensorType::kQ8_0;
        EXPECT_EQ(t.type, want) << t.name;
    }
    EXPECT_EQ(*(*out)->get_int("general.file_type"), 15);
}

// A writer-made model with rows of several lengths and types.
std::string make_model(const std::string& path) {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0.f, 0.02f);
    auto random = [&](size_t n) {
        std::vector<float> v(n);
        for (float& x : v) x = dist(rng);
        return v;
    };
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_u32("general.file_type", 0);
    w.set_u32("general.alignment", 64);
    EXPECT_TRUE(w.add_tensor("big.weight", TensorType::kF32, {512, 8}, random(4096)).ok());
    EXPECT_TRUE(w.add_tensor("q8_rows.weight", TensorType::kF16, {96, 4}, random(384)).ok());
    EXPECT_TRUE(w.add_tensor("f16_rows.weight", TensorType::kF32, {48, 2}, random(96)).ok());
    EXPECT_TRUE(w.add_tensor("odd_rows.weight", TensorType::kBF16, {7, 3}, random(21)).ok());
    EXPECT_TRUE(w.add_tensor("norm.weight", TensorType::kF16, {512}, random(512)).ok());
    EXPECT_TRUE(w.add_tensor("experts.weight", TensorType::kF32, {256, 2, 2}, random(1024)).ok());
    std::vector<uint8_t> ids(4 * 6);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<uint8_t>(i);
    EXPECT_TRUE(w.add_tensor_raw("ids", TensorType::kI32, {6}, ids).ok());
    EXPECT_TRUE(w.write(path).ok());
    return path;
}

TEST_F(QuantizeGguf, ChoosesTheNearestTypeThatFits) {
    const std::string in_path = make_model(path("model.gguf"));
    const std::string out_path = path("model.q4_k.gguf");
    QuantizeStats stats;
    ASSERT_TRUE(quantize_gguf(in_path, out_path, TensorType::kQ4_K, &stats).ok());
    auto in = GgufFile::open(in_path);
    auto out = GgufFile::open(out_path);
    ASSERT_TRUE(in && out) << out.error().to_string();
    auto type_of = [&](const char* name) { return (*out)->find_tensor(name)->type; };
    EXPECT_EQ(type_of("big.weight"), TensorType::kQ4_K);
    EXPECT_EQ(type_of("experts.weight"), TensorType::kQ4_K);  // 3-D counts as a matrix
    EXPECT_EQ(type_of("q8_rows.weight"), TensorType::kQ8_0);  // 96 = 3 * 32
    EXPECT_EQ(type_of("f16_rows.weight"), TensorType::kF16);  // 48: no 32-block fits
    EXPECT_EQ(type_of("odd_rows.weight"), TensorType::kF16);
    EXPECT_EQ(type_of("norm.weight"), TensorType::kF32);  // 1-D: F32 even from F16
    EXPECT_EQ(type_of("ids"), TensorType::kI32);          // cannot decode: copied
    const GgufTensor* ids = (*out)->find_tensor("ids");
    EXPECT_EQ(ids->data[5], 5);
    EXPECT_EQ(stats.n_tensors, 7);
    EXPECT_EQ(stats.n_quantized, 2);
    EXPECT_EQ(stats.n_fallback, 3);
    EXPECT_EQ(stats.n_f32, 1);
    EXPECT_EQ(stats.n_copied, 1);
    ASSERT_EQ(stats.fallbacks.size(), 3u);
    EXPECT_EQ(stats.fallbacks[0],
              "q8_rows.weight [96, 4]: Q8_0 (row length 96 is not a multiple of 256)");
    EXPECT_EQ(stats.fallbacks[1],
              "f16_rows.weight [48, 2]: F16 (row length 48 is not a multiple of 256)");
    // The alignment and file type: kept, and replaced in place.
    EXPECT_EQ((*out)->alignment(), 64u);
    EXPECT_EQ((*out)->metadata()[1].first, "general.file_type");
    EXPECT_EQ(*(*out)->get_int("general.file_type"), 15);
    // Values stay close to the originals.
    for (const char* name : {"big.weight", "experts.weight", "q8_rows.weight", "norm.weight"}) {
        const double rms =
            relative_rms(decode(*(*in)->find_tensor(name)), decode(*(*out)->find_tensor(name)));
        EXPECT_LT(rms, 0.08) << name;
    }
}

TEST_F(QuantizeGguf, EveryWardTargetRoundTrips) {
    const std::string in_path = make_model(path("model.gguf"));
    auto in = GgufFile::open(in_path);
    ASSERT_TRUE(in);
    const std::vector<float> original = decode(*(*in)->find_tensor("big.weight"));
    // Relative RMS bounds from quant_test's Gaussian measurements, with headroom.
    const std::pair<TensorType, double> targets[] = {
        {TensorType::kF16, 5e-4},  {TensorType::kQ8_0, 0.006}, {TensorType::kQ4_0, 0.095},
        {TensorType::kQ4_K, 0.08}, {TensorType::kQ5_K, 0.04},  {TensorType::kQ6_K, 0.02},
        {TensorType::kBF16, 0.002}};
    for (const auto& [type, bound] : targets) {
        const std::string out_path = path(std::string(tensor_type_name(type)) + ".gguf");
        Status s = quantize_gguf(in_path, out_path, type);
        ASSERT_TRUE(s.ok()) << s.to_string();
        auto out = GgufFile::open(out_path);
        ASSERT_TRUE(out);
        const GgufTensor* t = (*out)->find_tensor("big.weight");
        EXPECT_EQ(t->type, type);
        EXPECT_LT(relative_rms(original, decode(*t)), bound) << tensor_type_name(type);
        EXPECT_EQ(*(*out)->get_int("general.file_type"), *gguf_file_type(type));
    }
}

TEST_F(QuantizeGguf, RequantizesInPlace) {
    const std::string p = make_model(path("model.gguf"));
    ASSERT_TRUE(quantize_gguf(p, p, TensorType::kQ8_0).ok());
    ASSERT_TRUE(quantize_gguf(p, p, TensorType::kQ4_0).ok());  // from Q8_0 to Q4_0
    auto out = GgufFile::open(p);
    ASSERT_TRUE(out);
    EXPECT_EQ((*out)->find_tensor("big.weight")->type, TensorType::kQ4_0);
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                            std::filesystem::directory_iterator()),
              1);  // no temporary left behind
}

TEST_F(QuantizeGguf, Errors) {
    Status s = quantize_gguf(path("missing.gguf"), path("out.gguf"), TensorType::kQ8_0);
    EXPECT_EQ(s.code(), StatusCode::kNotFound);
    s = quantize_gguf(kStories, path("out.gguf"), TensorType::kQ8_K);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("cannot write tensor type Q8_K (can write: F32, F16, Q4_0"),
              std::string::npos)
        << s.message();
    s = quantize_gguf(kStories, path("no/such/dir/out.gguf"), TensorType::kQ8_0);
    EXPECT_EQ(s.code(), StatusCode::kInternal);
    // A corrupt input names its problem.
    std::filesystem::path bad = path("bad.gguf");
    { std::ofstream(bad) << "GGUF"; }
    s = quantize_gguf(bad.string(), path("out.gguf"), TensorType::kQ8_0);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("while reading version"), std::string::npos) << s.message();
}

TEST(GgufFileType, LlamaCppNumbers) {
    EXPECT_EQ(*gguf_file_type(TensorType::kF32), 0u);
    EXPECT_EQ(*gguf_file_type(TensorType::kF16), 1u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ4_0), 2u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ4_1), 3u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ8_0), 7u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ5_0), 8u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ5_1), 9u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ2_K), 10u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ3_K), 12u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ4_K), 15u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ5_K), 17u);
    EXPECT_EQ(*gguf_file_type(TensorType::kQ6_K), 18u);
    EXPECT_EQ(*gguf_file_type(TensorType::kBF16), 32u);
    EXPECT_FALSE(gguf_file_type(TensorType::kIQ4_XS));
}

}  // namespace
}  // namespace ward::engine
