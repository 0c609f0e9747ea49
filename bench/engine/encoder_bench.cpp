// Embeddings per second of the BERT encoder (engine/encoder.h) at the shape of bge-small-en
// v1.5 (width 384, 12 layers, 12 heads, FFN 1536, vocabulary 30522, 512 positions) with random
// weights written by make_random_model, so nothing is downloaded:
//
//   embed/<TYPE>/inputs:<N>   N inputs of 128 tokens each ([CLS] + 126 words + [SEP]) per
//                             embed_tokens call on a WorkerTeam of 2; N = 1 is one query, N = 8
//                             a batch of passages evaluated together (their matrix products
//                             share each weight row)
//
// items_per_second counts embeddings. Wall time (UseRealTime), release build; the machines here
// are shared, so compare figures measured in one run (docs/development.md).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/encoder.h"
#include "engine/model.h"
#include "engine/model_maker.h"

namespace {

using ward::engine::Encoder;
using ward::engine::TensorType;

constexpr int kTokens = 128;

std::string model_path(TensorType type) {
    return (std::filesystem::temp_directory_path() /
            ("ward_encoder_bench_" + std::to_string(::getpid()) + "_" +
             std::to_string(static_cast<int>(type)) + ".gguf"))
        .string();
}

// One encoder per type, made on first use; the files are deleted at exit.
const Encoder* encoder_for(TensorType type) {
    static std::map<TensorType, std::unique_ptr<Encoder>> encoders;
    static struct Cleanup {
        std::vector<std::string> paths;
        ~Cleanup() {
            for (const auto& p : paths) std::remove(p.c_str());
        }
    } cleanup;
    auto it = encoders.find(type);
    if (it != encoders.end()) return it->second.get();
    ward::engine::RandomModelSpec s;
    s.arch = "bert";
    s.type = type;
    s.n_embd = 384;
    s.n_layer = 12;
    s.n_head = 12;
    s.n_head_kv = 12;
    s.n_ff = 1536;
    s.n_vocab = 30522;
    s.n_ctx = 512;
    s.pooling = 2;  // bge pools the [CLS] row
    const std::string path = model_path(type);
    cleanup.paths.push_back(path);
    if (auto st = ward::engine::make_random_model(s, path); !st.ok()) {
        std::fprintf(stderr, "encoder_bench: %s\n", st.to_string().c_str());
        return nullptr;
    }
    auto model = ward::engine::Model::load(path);
    if (!model) return nullptr;
    ward::engine::EncoderOptions options;
    options.n_threads = 2;
    auto encoder = Encoder::create(*model, options);
    if (!encoder) return nullptr;
    return (encoders[type] = std::move(*encoder)).get();
}

void BM_Embed(benchmark::State& state, TensorType type) {
    const Encoder* encoder = encoder_for(type);
    if (!encoder) {
        state.SkipWithError("could not make the model");
        return;
    }
    const int n_inputs = static_cast<int>(state.range(0));
    const auto& tok = encoder->model().tokenizer();
    std::mt19937 rng(7);
    std::uniform_int_distribution<int32_t> word(5, tok.n_vocab() - 1);
    std::vector<std::vector<int32_t>> inputs(static_cast<size_t>(n_inputs));
    for (auto& ids : inputs) {
        ids.push_back(tok.cls());
        for (int i = 0; i < kTokens - 2; ++i) ids.push_back(word(rng));
        ids.push_back(tok.sep());
    }
    for (auto _ : state) {
        auto out = encoder->embed_tokens(inputs);
        if (!out) {
            state.SkipWithError(out.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(out->data());
    }
    state.SetItemsProcessed(state.iterations() * n_inputs);
    state.counters["tokens_per_input"] = kTokens;
}

BENCHMARK_CAPTURE(BM_Embed, F16, TensorType::kF16)
    ->ArgName("inputs")
    ->Arg(1)
    ->Arg(8)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Embed, Q8_0, TensorType::kQ8_0)
    ->ArgName("inputs")
    ->Arg(1)
    ->Arg(8)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
