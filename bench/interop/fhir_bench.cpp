// FHIR reading speed (bytes of JSON per second, one core): the Synthea bundles of the shared
// data, whole; the same as Bulk NDJSON; the bare JSON parse; and nlohmann::json's DOM parse
// of the same bytes for comparison. Run: interop_bench --benchmark_filter=Fhir
#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "common/mapped_file.h"
#include "interop/fhir.h"
#include "interop/json.h"

namespace {

const char* const kBundles[] = {
    "Bibi254_Schowalter414_475d72ca-91c7-7211-97e3-f000af33fc04.json",
    "Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json",
    "Denisha680_Keeling57_6a93e0ad-9bd0-6d85-34a7-015186f7880a.json",
    "Hipolito984_Schulist381_6b9c211c-2c38-3955-43a0-4d285c714fab.json",
    "Les282_Bernier607_4f1ad84a-f8a2-2de6-343d-007efe781585.json",
    "Leta870_Kihn564_5a67c244-3dae-770c-1a41-85790f73b1b1.json",
};

const std::vector<std::string>& bundles() {
    static const std::vector<std::string> texts = [] {
        std::vector<std::string> out;
        for (const char* f : kBundles) {
            auto r = ward::read_file(std::string(WARD_SHARED_DATA) + "/fhir/synthea/" + f);
            if (r) out.push_back(std::move(*r));
        }
        return out;
    }();
    return texts;
}

// Every resource of every bundle, one per line (Bulk Data NDJSON).
const std::string& ndjson() {
    static const std::string text = [] {
        std::string out;
        for (const auto& b : bundles()) {
            auto j = nlohmann::json::parse(b);
            for (const auto& e : j["entry"]) out += e["resource"].dump() + "\n";
        }
        return out;
    }();
    return text;
}

size_t total_bytes() {
    size_t n = 0;
    for (const auto& b : bundles()) n += b.size();
    return n;
}

void BM_FhirReadBundles(benchmark::State& state) {
    size_t resources = 0;
    for (auto _ : state) {
        for (const auto& b : bundles()) {
            auto r = ward::interop::read_fhir_json(b);
            resources += r.report.n_resources;
            benchmark::DoNotOptimize(r);
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total_bytes()));
    state.counters["resources/s"] =
        benchmark::Counter(static_cast<double>(resources), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FhirReadBundles)->Unit(benchmark::kMillisecond);

void BM_FhirReadNdjson(benchmark::State& state) {
    const std::string& text = ndjson();
    for (auto _ : state) {
        auto r = ward::interop::read_fhir_ndjson(text);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_FhirReadNdjson)->Unit(benchmark::kMillisecond);

void BM_FhirJsonParseOnly(benchmark::State& state) {
    for (auto _ : state) {
        for (const auto& b : bundles()) {
            auto d = ward::interop::json::Document::parse(b);
            benchmark::DoNotOptimize(d);
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total_bytes()));
}
BENCHMARK(BM_FhirJsonParseOnly)->Unit(benchmark::kMillisecond);

void BM_FhirNlohmannDomParse(benchmark::State& state) {
    for (auto _ : state) {
        for (const auto& b : bundles()) {
            auto j = nlohmann::json::parse(b);
            benchmark::DoNotOptimize(j);
        }
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total_bytes()));
}
BENCHMARK(BM_FhirNlohmannDomParse)->Unit(benchmark::kMillisecond);

}  // namespace
