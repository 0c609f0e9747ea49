// Throughput of the engine's weight kernels, per tensor type, through the public API only
// (dequantize_row, quantize_row, matmul): the kernels behind them may change freely.
//
//   dequantize_row/<TYPE>            every row of a [2048 x 2048] weight tensor, one at a time,
//                                    into an L1-sized float buffer
//   matmul/<TYPE>/tokens:<N>         y: [N, 2048] = x: [N, 2048] · Wᵀ, single thread;
//                                    N = 1 is the decode shape, N = 32 a prompt batch
//   matmul_2threads/<TYPE>/tokens:<N> the same on a WorkerTeam of 2 (the caller and one worker),
//                                    as a session with n_threads = 2 runs it
//
// bytes_per_second counts the weight bytes read (the tensor's size in its GGUF encoding), so
// decode rows compare directly with the machine's memory bandwidth; items_per_second counts
// weights (dequantize_row) or tokens (matmul). Wall time is measured (UseRealTime) so the
// threaded variant is comparable. Run the release build; machines here are shared, so compare
// ratios measured in one run (docs/development.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf.h"
#include "engine/ops.h"
#include "engine/parallel.h"
#include "engine/quant.h"
#include "engine/tensor_type.h"

namespace {

using ward::engine::GgufTensor;
using ward::engine::TensorType;
using ward::engine::WorkerTeam;

constexpr int64_t kNIn = 2048;   // weights per row (ne[0])
constexpr int64_t kNOut = 2048;  // rows (ne[1])
constexpr size_t kAlignment = 64;

const TensorType kTypes[] = {
    TensorType::kF32,  TensorType::kF16,  TensorType::kBF16, TensorType::kQ8_0, TensorType::kQ4_0,
    TensorType::kQ4_1, TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ2_K, TensorType::kQ3_K,
    TensorType::kQ4_K, TensorType::kQ5_K, TensorType::kQ6_K,
};

std::vector<float> random_floats(int64_t n, uint32_t seed, float stddev) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, stddev);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = dist(rng);
    return v;
}

// A [kNIn x kNOut] weight tensor of one type, quantized from Gaussian weights into a buffer
// aligned like a tensor in a mapped GGUF file, and a GgufTensor viewing it.
struct Weights {
    std::vector<uint8_t> storage;
    GgufTensor tensor;
};

// Built once per type and kept for the whole run (quantizing 4M weights is not what is timed).
const Weights& weights_of(TensorType type) {
    static std::map<TensorType, Weights> cache;
    auto it = cache.find(type);
    if (it != cache.end()) return it->second;

    const auto info = ward::engine::tensor_type_info(type);
    const int64_t bytes_per_row = ward::engine::row_bytes(info, kNIn);
    const int64_t n_bytes = bytes_per_row * kNOut;
    Weights& w = cache[type];
    w.storage.resize(static_cast<size_t>(n_bytes) + kAlignment);
    uint8_t* base = w.storage.data();
    base += (kAlignment - reinterpret_cast<uintptr_t>(base) % kAlignment) % kAlignment;

    const std::vector<float> values = random_floats(kNIn * kNOut, 42, 0.02f);
    for (int64_t row = 0; row < kNOut; ++row) {
        ward::Status s = ward::engine::quantize_row(type, values.data() + row * kNIn,
                                                    base + row * bytes_per_row, kNIn);
        if (!s.ok()) {
            std::fprintf(stderr, "engine_bench: quantize_row %.*s: %s\n",
                         static_cast<int>(info.name.size()), info.name.data(), s.message().c_str());
            std::abort();
        }
    }

    GgufTensor& t = w.tensor;
    t.name = "bench.weight";
    t.type = type;
    t.n_dims = 2;
    t.ne = {kNIn, kNOut, 1, 1};
    t.n_bytes = static_cast<uint64_t>(n_bytes);
    t.n_elements = kNIn * kNOut;
    t.data = base;
    return w;
}

void bm_dequantize_row(benchmark::State& state, TensorType type) {
    const GgufTensor& w = weights_of(type).tensor;
    const int64_t bytes_per_row = static_cast<int64_t>(w.n_bytes) / kNOut;
    std::vector<float> row(static_cast<size_t>(kNIn));
    for (auto _ : state) {
        for (int64_t r = 0; r < kNOut; ++r) {
            ward::engine::dequantize_row(type, w.data + r * bytes_per_row, row.data(), kNIn);
            benchmark::DoNotOptimize(row.data());
        }
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(w.n_bytes));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * w.n_elements);
}

void bm_matmul(benchmark::State& state, TensorType type, int n_tokens, WorkerTeam* team) {
    const GgufTensor& w = weights_of(type).tensor;
    const std::vector<float> x = random_floats(n_tokens * kNIn, 7, 1.0f);
    std::vector<float> y(static_cast<size_t>(n_tokens * kNOut));
    ward::engine::Workspace ws;
    ws.team = team;
    for (auto _ : state) {
        ward::engine::matmul(w, x.data(), n_tokens, y.data(), ws);
        benchmark::DoNotOptimize(y.data());
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                            static_cast<int64_t>(w.n_bytes));
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n_tokens);
}

}  // namespace

int main(int argc, char** argv) {
    // The calling thread and one worker, as a Session with n_threads = 2 runs.
    WorkerTeam team(2);
    for (TensorType type : kTypes) {
        const std::string name(ward::engine::tensor_type_name(type));
        benchmark::RegisterBenchmark(("dequantize_row/" + name).c_str(), bm_dequantize_row, type)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
        for (int n_tokens : {1, 4, 16, 32}) {
            const std::string shape = "/tokens:" + std::to_string(n_tokens);
            benchmark::RegisterBenchmark(("matmul/" + name + shape).c_str(), bm_matmul, type,
                                         n_tokens, static_cast<WorkerTeam*>(nullptr))
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
            benchmark::RegisterBenchmark(("matmul_2threads/" + name + shape).c_str(), bm_matmul,
                                         type, n_tokens, &team)
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime();
        }
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
