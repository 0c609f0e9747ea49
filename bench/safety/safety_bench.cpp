// Throughput of the crisis rail on one thread: messages per second over the labelled
// development set (tests/safety/data/crisis_messages.tsv, short portal-style messages), and
// bytes per second on one long message (a pasted note).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/mapped_file.h"
#include "safety/crisis.h"

namespace {

const std::vector<std::string>& messages() {
    static const auto out = [] {
        std::string path = std::string(WARD_SOURCE_DIR) + "/tests/safety/data/crisis_messages.tsv";
        std::string content = ward::read_file(path).value();
        std::vector<std::string> msgs;
        size_t i = 0;
        while (i < content.size()) {
            size_t e = content.find('\n', i);
            if (e == std::string::npos) e = content.size();
            std::string row = content.substr(i, e - i);
            i = e + 1;
            size_t t = row.find('\t', row.find('\t') + 1);
            if (t != std::string::npos) msgs.push_back(row.substr(t + 1));
        }
        return msgs;
    }();
    return out;
}

const ward::safety::CrisisDetector& detector() {
    static const auto d = ward::safety::CrisisDetector::create({}).value();
    return d;
}

void BM_CrisisCheckPortalMessages(benchmark::State& state) {
    size_t bytes = 0, fired = 0;
    for (auto _ : state) {
        for (const auto& m : messages()) {
            auto r = detector().check(m);
            fired += r.fired;
            bytes += m.size();
            benchmark::DoNotOptimize(r);
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["messages/s"] = benchmark::Counter(
        static_cast<double>(messages().size() * state.iterations()), benchmark::Counter::kIsRate);
    benchmark::DoNotOptimize(fired);
}
BENCHMARK(BM_CrisisCheckPortalMessages)->Unit(benchmark::kMillisecond);

// Every message of the set joined into one text of about 30 KB.
void BM_CrisisCheckLongText(benchmark::State& state) {
    std::string big;
    for (const auto& m : messages()) big += m + "\n";
    for (auto _ : state) {
        auto r = detector().check(big);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(big.size() * state.iterations()));
}
BENCHMARK(BM_CrisisCheckLongText)->Unit(benchmark::kMillisecond);

void BM_CrisisCreate(benchmark::State& state) {
    for (auto _ : state) {
        auto d = ward::safety::CrisisDetector::create({});
        benchmark::DoNotOptimize(d);
    }
}
BENCHMARK(BM_CrisisCreate)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
