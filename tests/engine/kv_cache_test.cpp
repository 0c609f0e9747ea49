// The F16 KV cache: the attention helpers of every kernel path against exact products, the
// memory it saves, and sessions over F16 and F32 caches agreeing (the reference-forward tests
// already hold the default F16 cache to the float tolerance of 1e-3).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/batch.h"
#include "engine/cpu.h"
#include "engine/kernels.h"
#include "engine/model.h"
#include "engine/quant.h"
#include "engine/session.h"
#include "support/tiny_model.h"

namespace ward::engine {
namespace {

std::vector<KernelPath> supported_paths() {
    std::vector<KernelPath> out;
    for (KernelPath p : {KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
        if (kernel_path_supported(p)) out.push_back(p);
    }
    return out;
}

const kernels::KernelSet& kernels_of(KernelPath path) {
    switch (path) {
        case KernelPath::kAvx512:
            return kernels::avx512_kernels();
        case KernelPath::kAvx2:
            return kernels::avx2_kernels();
        case KernelPath::kPortable:
            break;
    }
    return kernels::portable_kernels();
}

TEST(KvCache, F16HelpersMatchExactProductsOnEveryPath) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    // 67: whole vectors of 8 and a tail.
    constexpr int kN = 67;
    std::vector<float> x(kN), b(kN);
    for (auto& v : x) v = normal(rng);
    for (auto& v : b) v = normal(rng);
    std::vector<uint16_t> want_half(kN);
    for (int i = 0; i < kN; ++i) want_half[i] = f32_to_fp16(x[i]);
    double want_dot = 0;
    for (int i = 0; i < kN; ++i) want_dot += double(fp16_to_f32(want_half[i])) * b[i];

    for (KernelPath path : supported_paths()) {
        SCOPED_TRACE(std::string(kernel_path_name(path)));
        const kernels::KernelSet& k = kernels_of(path);
        std::vector<uint16_t> half(kN);
        k.to_f16(x.data(), half.data(), kN);
        EXPECT_EQ(half, want_half);  // round to nearest even, bit for bit
        EXPECT_NEAR(k.dot_f16(half.data(), b.data(), kN), want_dot, 1e-4 * kN * 4);
        std::vector<float> y = b;
        k.axpy_f16(0.75f, half.data(), y.data(), kN);
        for (int i = 0; i < kN; ++i) {
            EXPECT_NEAR(y[i], b[i] + 0.75 * fp16_to_f32(half[i]), 1e-5 * (1 + std::fabs(y[i])))
                << i;
        }
    }
}

class KvCacheModel : public ::testing::Test {
  protected:
    void SetUp() override {
        testing::TinyModelSpec spec;
        spec.n_ctx = 64;
        path_ = testing::temp_path("kv_cache_model.gguf");
        ASSERT_TRUE(testing::write_tiny_model(spec, path_).ok());
        auto m = Model::load(path_);
        ASSERT_TRUE(m) << m.error().to_string();
        model_ = *m;
    }
    void TearDown() override { std::remove(path_.c_str()); }

    std::unique_ptr<Session> session(KvCacheType type) {
        auto s = Session::create(model_, {.n_ctx = 64, .n_threads = 1, .kv_type = type});
        EXPECT_TRUE(s);
        return std::move(*s);
    }

    std::string path_;
    std::shared_ptr<const Model> model_;
};

TEST_F(KvCacheModel, F16HalvesTheCache) {
    auto f16 = session(KvCacheType::kF16);
    auto f32 = session(KvCacheType::kF32);
    EXPECT_EQ(f16->kv_type(), KvCacheType::kF16);
    const HParams& hp = model_->hparams();
    const size_t f32_bytes =
        2u * hp.n_layer * 64u * size_t(hp.n_head_kv) * size_t(hp.head_dim) * sizeof(float);
    EXPECT_EQ(f32->kv_cache_bytes(), f32_bytes);
    EXPECT_EQ(f16->kv_cache_bytes(), f32_bytes / 2);
    // The default is F16.
    auto def = Session::create(model_, {.n_ctx = 64});
    ASSERT_TRUE(def);
    EXPECT_EQ((*def)->kv_type(), KvCacheType::kF16);
}

// F16 storage rounds keys and values (so the logits differ, a little); an F16 and an F32
// session side by side in one batch each match themselves alone.
TEST_F(KvCacheModel, F16AndF32SessionsAgreeAndMixInOneBatch) {
    const std::vector<int32_t> prompt = {1, 259, 260, 5, 261, 262, 77, 263, 264, 265};
    auto f16 = session(KvCacheType::kF16);
    auto f32 = session(KvCacheType::kF32);
    auto a = f16->eval(prompt);
    ASSERT_TRUE(a);
    const std::vector<float> l16(a->begin(), a->end());
    auto b = f32->eval(prompt);
    ASSERT_TRUE(b);
    const std::vector<float> l32(b->begin(), b->end());
    double max_ref = 1, max_diff = 0;
    for (size_t i = 0; i < l16.size(); ++i) {
        max_ref = std::max(max_ref, std::fabs(double(l32[i])));
        max_diff = std::max(max_diff, std::fabs(double(l16[i]) - l32[i]));
    }
    EXPECT_GT(max_diff, 0.0) << "the F16 cache should round";
    EXPECT_LT(max_diff / max_ref, 1e-3);

    auto team = std::make_shared<WorkerTeam>(2);
    BatchEvaluator evaluator(model_, team);
    auto m16 = session(KvCacheType::kF16);
    auto m32 = session(KvCacheType::kF32);
    const BatchItem items[] = {{m16.get(), prompt}, {m32.get(), prompt}};
    std::vector<float> logits;
    ASSERT_TRUE(evaluator.eval(items, logits).ok());
    const size_t n_vocab = l16.size();
    for (size_t i = 0; i < n_vocab; ++i) {
        EXPECT_NEAR(logits[i], l16[i], 1e-4 * max_ref) << i;
        EXPECT_NEAR(logits[n_vocab + i], l32[i], 1e-4 * max_ref) << i;
    }

    // copy_prefix needs caches of the same type.
    auto other = session(KvCacheType::kF32);
    EXPECT_EQ(other->copy_prefix(*f16, 4).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(other->n_past(), 0);
    EXPECT_TRUE(other->copy_prefix(*f32, 4).ok());
}

}  // namespace
}  // namespace ward::engine
