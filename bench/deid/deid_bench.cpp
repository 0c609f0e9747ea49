// Throughput of de-identification on the synthetic corpus (tests/deid/data/corpus.jsonl), one
// thread: bytes per second as reported by Google Benchmark (MB/s per core).
#include <benchmark/benchmark.h>

#include "common/mapped_file.h"
#include "deid/deid.h"
#include "deid/eval.h"

namespace {

const std::vector<ward::deid::GoldDoc>& notes() {
    static const auto docs = [] {
        std::string path = std::string(WARD_SOURCE_DIR) + "/tests/deid/data/corpus.jsonl";
        return ward::deid::load_gold_jsonl(ward::read_file(path).value(), path).value();
    }();
    return docs;
}

const ward::deid::Deidentifier& deid() {
    static const auto d = [] {
        ward::deid::DeidentifierOptions o;
        o.secret.assign(32, 0x5a);
        return std::move(ward::deid::Deidentifier::create(o)).value();
    }();
    return *d;
}

void run(benchmark::State& state, ward::deid::Mode mode, bool detect_only) {
    size_t bytes = 0;
    for (auto _ : state) {
        for (size_t i = 0; i < notes().size(); ++i) {
            const auto& n = notes()[i];
            if (detect_only) {
                auto r = deid().detect(n.text);
                benchmark::DoNotOptimize(r);
            } else {
                auto r = deid().deidentify(n.text, mode, n.id.substr(0, 8));
                benchmark::DoNotOptimize(r);
            }
            bytes += n.text.size();
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["notes/s"] = benchmark::Counter(
        static_cast<double>(notes().size() * state.iterations()), benchmark::Counter::kIsRate);
}

void BM_DeidDetect(benchmark::State& s) {
    run(s, ward::deid::Mode::kRedact, true);
}
void BM_DeidRedact(benchmark::State& s) {
    run(s, ward::deid::Mode::kRedact, false);
}
void BM_DeidSurrogate(benchmark::State& s) {
    run(s, ward::deid::Mode::kSurrogate, false);
}

// One large text: the corpus concatenated, as one request.
void BM_DeidSurrogateOneMegabyte(benchmark::State& state) {
    std::string big;
    for (const auto& n : notes()) {
        if (big.size() > (1u << 20)) break;
        big += n.text;
        big += "\n\n";
    }
    for (auto _ : state) {
        auto r = deid().deidentify(big, ward::deid::Mode::kSurrogate, "one-patient");
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(big.size() * state.iterations()));
}

BENCHMARK(BM_DeidDetect)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeidRedact)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeidSurrogate)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeidSurrogateOneMegabyte)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
