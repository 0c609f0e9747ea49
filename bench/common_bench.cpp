// Throughput of the common helpers on the hot paths of other parts: hashing model files and
// audit records, keyed pseudonyms, vault sealing.
#include <benchmark/benchmark.h>

#include "common/crypto.h"

namespace {

void BM_Sha256(benchmark::State& state) {
    std::string data(static_cast<size_t>(state.range(0)), 'x');
    for (auto _ : state) benchmark::DoNotOptimize(ward::crypto::sha256(data));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Sha256)->Arg(64)->Arg(1 << 20);

void BM_HmacSha256(benchmark::State& state) {
    auto key = ward::crypto::random_bytes(32);
    for (auto _ : state) benchmark::DoNotOptimize(ward::crypto::hmac_sha256(key, "Smith, John"));
}
BENCHMARK(BM_HmacSha256);

void BM_Seal(benchmark::State& state) {
    auto key = ward::crypto::random_bytes(32);
    for (auto _ : state) {
        benchmark::DoNotOptimize(ward::crypto::seal(key, ward::crypto::as_bytes("Smith, John")));
    }
}
BENCHMARK(BM_Seal);

}  // namespace

BENCHMARK_MAIN();
