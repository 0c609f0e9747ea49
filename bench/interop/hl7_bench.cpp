// HL7 v2 reading speed (bytes per second, one core): a feed of the shared simhospital messages
// repeated (ADT^A01 and ORU^R01), parsed and mapped into records; and parse-only.
// Run: interop_bench --benchmark_filter=Hl7
#include <benchmark/benchmark.h>

#include "common/mapped_file.h"
#include "interop/hl7.h"

namespace {

const std::vector<std::string>& messages() {
    static const std::vector<std::string> out = [] {
        std::vector<std::string> m;
        for (const char* f : {"simhospital-1.hl7", "simhospital-2.hl7", "simhospital-4.hl7"}) {
            auto r = ward::read_file(std::string(WARD_SHARED_DATA) + "/hl7v2/" + f);
            if (r) m.push_back(std::move(*r));
        }
        return m;
    }();
    return out;
}

// ~1 MB of messages, one after another (as in a captured feed).
const std::string& feed() {
    static const std::string text = [] {
        std::string s;
        while (s.size() < (size_t{1} << 20)) {
            for (const auto& m : messages()) s += m + "\r";
        }
        return s;
    }();
    return text;
}

void BM_Hl7ReadFeed(benchmark::State& state) {
    const std::string& text = feed();
    for (auto _ : state) {
        auto r = ward::interop::read_hl7(text);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_Hl7ReadFeed)->Unit(benchmark::kMillisecond);

void BM_Hl7ReadMessage(benchmark::State& state) {
    size_t bytes = 0;
    for (auto _ : state) {
        for (const auto& m : messages()) {
            auto msg = ward::interop::Hl7Message::parse(m);
            auto r = ward::interop::read_hl7_message(*msg);
            benchmark::DoNotOptimize(r);
            bytes += m.size();
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Hl7ReadMessage);

void BM_Hl7ParseOnly(benchmark::State& state) {
    size_t bytes = 0;
    for (auto _ : state) {
        for (const auto& m : messages()) {
            auto msg = ward::interop::Hl7Message::parse(m);
            benchmark::DoNotOptimize(msg);
            bytes += m.size();
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Hl7ParseOnly);

}  // namespace
