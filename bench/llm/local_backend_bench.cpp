// Aggregate generation throughput of LocalBackend under concurrent requests: N client threads
// each ask for kTokens greedy tokens at once, through Backend::generate, on a backend of N
// slots. Reports generated tokens per second of wall time over all requests, prompts included
// (tokens/s), per request (tokens/s/stream), and the decoding alone (decode_tokens/s: tokens
// after each request's first, over the time from the last request's first piece to the end;
// all requests decode together then). Continuous batching should make the aggregate grow with
// N (every weight read once per step for all streams).
//
//   local_backend/streams:<N>
//
// The model is $WARD_BENCH_MODEL, else /tmp/models/llama1b-q4_0.gguf (the 1.1B Q4_0 shape the
// engine benchmarks use); the benchmark is skipped when neither exists. Threads: $WARD_THREADS
// (default: the hardware's). Run the release build; compare numbers from one run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "llm/local_backend.h"

namespace {

constexpr int kTokens = 32;       // generated per request
constexpr int kPromptWords = 16;  // a short prompt: this measures decoding

std::string model_path() {
    if (const char* env = std::getenv("WARD_BENCH_MODEL")) return env;
    return "/tmp/models/llama1b-q4_0.gguf";
}

int threads() {
    if (const char* env = std::getenv("WARD_THREADS")) return std::atoi(env);
    return 0;
}

void local_backend_streams(benchmark::State& state) {
    const int streams = static_cast<int>(state.range(0));
    if (!std::filesystem::exists(model_path())) {
        state.SkipWithError(("no model at " + model_path()).c_str());
        return;
    }
    ward::llm::LocalBackendOptions options;
    options.name = "bench";
    options.path = model_path();
    options.slots = streams;
    options.context = 128;
    options.threads = threads();
    options.batch = 256;
    auto backend = ward::llm::LocalBackend::create(options);
    if (!backend) {
        state.SkipWithError(backend.error().to_string().c_str());
        return;
    }
    using Clock = std::chrono::steady_clock;
    int64_t generated = 0;
    int64_t decoded = 0;
    double decode_seconds = 0;
    for (auto _ : state) {
        std::atomic<int64_t> tokens{0};
        std::atomic<bool> failed{false};
        std::mutex first_mutex;
        Clock::time_point last_first = Clock::time_point::min();
        std::vector<std::thread> clients;
        for (int i = 0; i < streams; ++i) {
            clients.emplace_back([&, i] {
                ward::llm::Request request;
                std::string prompt = "Request " + std::to_string(i) + ":";
                for (int w = 0; w < kPromptWords; ++w) prompt += " word";
                request.prompt = prompt;
                request.params.max_tokens = kTokens;
                request.params.temperature = 0.0f;
                bool first = true;
                auto g = (*backend)->generate(request, [&](const ward::llm::Piece&) {
                    if (first) {
                        first = false;
                        std::lock_guard lock(first_mutex);
                        last_first = std::max(last_first, Clock::now());
                    }
                    return true;
                });
                if (!g) {
                    failed = true;
                    return;
                }
                tokens += g->usage.completion_tokens;
            });
        }
        for (auto& c : clients) c.join();
        const auto end = Clock::now();
        if (failed) {
            state.SkipWithError("a request failed");
            return;
        }
        generated += tokens.load();
        if (last_first != Clock::time_point::min()) {  // some piece arrived
            decoded += tokens.load() - streams;
            decode_seconds += std::chrono::duration<double>(end - last_first).count();
        }
    }
    state.counters["tokens/s"] =
        benchmark::Counter(static_cast<double>(generated), benchmark::Counter::kIsRate);
    state.counters["tokens/s/stream"] =
        benchmark::Counter(static_cast<double>(generated) / streams, benchmark::Counter::kIsRate);
    state.counters["decode_tokens/s"] =
        decode_seconds > 0 ? static_cast<double>(decoded) / decode_seconds : 0.0;
}

BENCHMARK(local_backend_streams)
    ->ArgName("streams")
    ->Arg(1)
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(2);

}  // namespace

BENCHMARK_MAIN();
