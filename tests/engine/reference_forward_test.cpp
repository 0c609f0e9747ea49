// The engine's logits against the plain reference forward pass (support/reference_forward.h)
// for every architecture and every tensor type, on model files the test writes itself.
//
// Every kernel path this CPU can run is forced in turn (portable, avx2, avx512). Where a path's
// integer kernels round activations to 8 bits, the reference rounds them the same way (its
// own code), so the comparison stays tight.
//
// Tolerance, as the largest logit difference over the largest logit magnitude (at least 1):
// - 1e-3 where activations stay float: both sides use the same decoded weights, so only the
//   summation order differs (the engine sums in float, the reference in double);
// - 3e-2 where they are rounded to 8 bits: a difference in the last float bit sometimes rounds
//   an activation to the neighbouring step (1/127 of its block's largest value), and a few such
//   flips move logits by up to about 1%. The kernels themselves are checked exactly, on
//   identical inputs, in kernels_test.cpp; any real error in the forward pass (a wrong RoPE
//   pair, window or norm) moves logits by tens of percent.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/cpu.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/session.h"
#include "support/reference_forward.h"
#include "support/tiny_model.h"

namespace ward::engine {
namespace {

using testing::TinyModelSpec;

constexpr double kFloatTolerance = 1e-3;
constexpr double kQuantizedTolerance = 3e-2;

struct Case {
    std::string name;
    TinyModelSpec spec;
};

std::vector<Case> model_cases() {
    std::vector<Case> cases;
    const TensorType types[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                                TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ2_K,
                                TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                                TensorType::kQ6_K};
    for (const char* arch : {"llama", "qwen2", "gemma3"}) {
        for (TensorType type : types) {
            TinyModelSpec s;
            s.arch = arch;
            s.type = type;
            if (s.arch == "gemma3") {
                s.n_layer = 6;  // five sliding-window layers and one global
                s.sliding_window = 5;
                s.tied_output = true;
            }
            cases.push_back({std::string(arch) + "_" + std::string(tensor_type_name(type)), s});
        }
    }
    TinyModelSpec llama3;
    llama3.rope_freqs = true;
    cases.push_back({"llama_rope_freqs", llama3});
    TinyModelSpec linear;
    linear.rope_linear_factor = 4.0f;
    cases.push_back({"llama_rope_linear", linear});
    TinyModelSpec mha;
    mha.n_head_kv = mha.n_head;
    mha.tied_output = true;
    cases.push_back({"llama_mha_tied", mha});
    return cases;
}

// Restores the kernel path after each test.
class KernelPathGuard {
  public:
    explicit KernelPathGuard(KernelPath path) : saved_(active_kernel_path()) {
        EXPECT_TRUE(set_kernel_path(path).ok());
    }
    ~KernelPathGuard() { (void)set_kernel_path(saved_); }

  private:
    KernelPath saved_;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name;
}

class ReferenceForward : public ::testing::TestWithParam<Case> {};

// Logits of the engine for `tokens` run as generation runs them: a batched prompt of 8, then
// single-token steps, on a team of 2 threads.
std::vector<std::vector<float>> engine_logits(const std::string& path,
                                              const std::vector<int32_t>& tokens) {
    std::vector<std::vector<float>> got;
    auto model = Model::load(path);
    EXPECT_TRUE(model) << model.error().to_string();
    if (!model) return got;
    SessionOptions options;
    options.n_ctx = 32;
    options.n_threads = 2;
    auto session = Session::create(*model, options);
    EXPECT_TRUE(session);
    std::vector<float> batch_logits;
    EXPECT_TRUE((*session)->eval_all(std::span(tokens).first(8), batch_logits).ok());
    const size_t n_vocab = (*model)->hparams().n_vocab;
    for (size_t t = 0; t < 8; ++t) {
        got.emplace_back(batch_logits.begin() + t * n_vocab,
                         batch_logits.begin() + (t + 1) * n_vocab);
    }
    for (size_t t = 8; t < tokens.size(); ++t) {
        auto l = (*session)->eval(std::span(tokens).subspan(t, 1));
        EXPECT_TRUE(l);
        if (!l) break;
        got.emplace_back(l->begin(), l->end());
    }
    return got;
}

// Each model case on every kernel path this CPU supports. The reference is computed once per
// way of treating activations (float, or rounded to 8 bits) and shared by the paths.
TEST_P(ReferenceForward, EngineMatchesReferenceOnEveryPath) {
    const Case& c = GetParam();
    std::string path = testing::temp_path(c.name + ".gguf");
    ASSERT_TRUE(testing::write_tiny_model(c.spec, path).ok());
    const std::vector<int32_t> tokens = {1, 259, 260, 5, 261, 262, 77, 263, 264, 265, 266, 270};
    std::map<bool, std::vector<std::vector<float>>> references;

    for (KernelPath kp : {KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
        if (!kernel_path_supported(kp)) continue;
        SCOPED_TRACE(std::string("kernel path ") + std::string(kernel_path_name(kp)));
        KernelPathGuard guard(kp);
        const bool quantized = matmul_quantizes_activations(c.spec.type, c.spec.n_embd);
        const double tolerance = quantized ? kQuantizedTolerance : kFloatTolerance;
        if (!references.count(quantized)) {
            auto ref = testing::reference_logits(path, tokens, quantized);
            ASSERT_TRUE(ref) << ref.error().to_string();
            references[quantized] = std::move(*ref);
        }
        const auto& ref = references[quantized];
        const auto got = engine_logits(path, tokens);
        ASSERT_EQ(got.size(), tokens.size());
        double max_ref = 1, max_diff = 0;
        for (size_t t = 0; t < tokens.size(); ++t) {
            ASSERT_EQ(got[t].size(), ref[t].size());
            for (size_t v = 0; v < got[t].size(); ++v) {
                max_ref = std::max(max_ref, std::fabs(double(ref[t][v])));
                max_diff = std::max(max_diff, std::fabs(double(got[t][v]) - ref[t][v]));
            }
        }
        EXPECT_LT(max_diff / max_ref, tolerance)
            << "max |logit| " << max_ref << ", max diff " << max_diff;
    }
    std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(AllArchsAndTypes, ReferenceForward, ::testing::ValuesIn(model_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace ward::engine
