// Every matrix-product kernel on every path this CPU can run, for every tensor type, against a
// double-precision product computed here from the decoded weights. Where the path rounds
// activations to 8 bits, the test rounds the same input with its own code (amax/127 blocks,
// round half to even): inputs are identical, so the results must agree to float precision.
// Shapes cover K-quant super-blocks, token counts that leave partial tiles, odd row counts and
// both one thread and a team of two.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/cpu.h"
#include "engine/ops.h"
#include "engine/quant.h"

namespace ward::engine {
namespace {

struct KernelCase {
    KernelPath path;
    TensorType type;
};

std::vector<KernelCase> kernel_cases() {
    std::vector<KernelCase> out;
    const TensorType types[] = {TensorType::kF32,  TensorType::kF16,  TensorType::kBF16,
                                TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                                TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ2_K,
                                TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                                TensorType::kQ6_K};
    for (KernelPath p : {KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
        if (!kernel_path_supported(p)) continue;
        for (TensorType t : types) out.push_back({p, t});
    }
    return out;
}

void PrintTo(const KernelCase& c, std::ostream* os) {
    *os << kernel_path_name(c.path) << "_" << tensor_type_name(c.type);
}

std::vector<double> rounded(const float* x, int64_t n) {
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t b = 0; b < n; b += 32) {
        float amax = 0;
        for (int64_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
        const float d = amax / 127.0f;
        const float inv = d > 0 ? 1.0f / d : 0.0f;
        for (int64_t i = b; i < b + 32; ++i) out[i] = double(d) * std::nearbyint(x[i] * inv);
    }
    return out;
}

class Kernels : public ::testing::TestWithParam<KernelCase> {};

TEST_P(Kernels, MatchDoublePrecisionProduct) {
    const KernelCase c = GetParam();
    const KernelPath saved_path = active_kernel_path();
    ASSERT_TRUE(set_kernel_path(c.path).ok());
    const auto info = tensor_type_info(c.type);
    std::mt19937 rng(17);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    WorkerTeam team(2);
    // 96 = three blocks of 32: an odd count, for the kernels that take blocks in pairs.
    std::vector<int64_t> widths = {256, 512};
    if (info.block_size <= 32) widths.insert(widths.begin(), 96);
    for (int64_t n_in : widths) {
        const int64_t n_out = 37;
        std::vector<float> wf(static_cast<size_t>(n_in * n_out));
        for (float& v : wf) v = normal(rng);
        const int64_t rb = row_bytes(info, n_in);
        std::vector<uint8_t> wq(static_cast<size_t>(rb * n_out));
        for (int64_t r = 0; r < n_out; ++r) {
            ASSERT_TRUE(quantize_row(c.type, wf.data() + r * n_in, wq.data() + r * rb, n_in).ok());
        }
        // The weights as the kernels see them.
        std::vector<float> wd(wf.size());
        for (int64_t r = 0; r < n_out; ++r) {
            dequantize_row(c.type, wq.data() + r * rb, wd.data() + r * n_in, n_in);
        }
        GgufTensor w;
        w.name = "w";
        w.type = c.type;
        w.n_dims = 2;
        w.ne = {n_in, n_out, 1, 1};
        w.n_elements = n_in * n_out;
        w.n_bytes = wq.size();
        w.data = wq.data();
        const bool quantized = matmul_quantizes_activations(c.type, n_in);
        for (int n_tokens : {1, 3, 5, 8}) {
            std::vector<float> x(static_cast<size_t>(n_in * n_tokens));
            for (float& v : x) v = normal(rng) * 2.0f;
            for (WorkerTeam* t : {static_cast<WorkerTeam*>(nullptr), &team}) {
                Workspace ws;
                ws.team = t;
                std::vector<float> y(static_cast<size_t>(n_out * n_tokens), -1.0f);
                matmul(w, x.data(), n_tokens, y.data(), ws);
                for (int tok = 0; tok < n_tokens; ++tok) {
                    const float* xt = x.data() + tok * n_in;
                    std::vector<double> xr =
                        quantized ? rounded(xt, n_in) : std::vector<double>(xt, xt + n_in);
                    for (int64_t r = 0; r < n_out; ++r) {
                        double want = 0, scale = 0;
                        for (int64_t i = 0; i < n_in; ++i) {
                            want += double(wd[r * n_in + i]) * xr[i];
                            scale += std::fabs(double(wd[r * n_in + i]) * xr[i]);
                        }
                        ASSERT_NEAR(y[tok * n_out + r], want, 2e-6 * scale + 1e-6)
                            << "n_in " << n_in << " tokens " << n_tokens << " token " << tok
                            << " row " << r << (t ? " (team of 2)" : "");
                    }
                }
            }
        }
    }
    ASSERT_TRUE(set_kernel_path(saved_path).ok());
}

INSTANTIATE_TEST_SUITE_P(AllPathsAndTypes, Kernels, ::testing::ValuesIn(kernel_cases()),
                         [](const auto& param_info) {
                             return std::string(kernel_path_name(param_info.param.path)) + "_" +
                                    std::string(tensor_type_name(param_info.param.type));
                         });

TEST(KernelPaths, NamesAndSupport) {
    EXPECT_TRUE(kernel_path_supported(KernelPath::kPortable));
    EXPECT_EQ(*parse_kernel_path("avx2"), KernelPath::kAvx2);
    EXPECT_FALSE(parse_kernel_path("sse9"));
    EXPECT_TRUE(kernel_path_supported(best_kernel_path()));
}

}  // namespace
}  // namespace ward::engine
