// Knowledge store speed on a 100,000-chunk store synthesised from PubMedQA contexts and MedMCQA
// explanations (sentences recombined with a fixed seed, so every run builds the same store):
//   BM_Bm25Search   one PubMedQA question per iteration, k = 10; p50/p99 latency in counters,
//                   wall time and this thread's CPU time (targets: p50 < 5 ms, p99 < 30 ms).
//   BM_FusionSearch the same questions with a query vector too: BM25 and brute-force cosine over
//                   the 100,000 chunks' vectors (384 dimensions, pseudo-random: the timing is
//                   what counts, not the ranking), fused by reciprocal rank.
//   BM_Add          10,000 chunks (1,000 documents, chunks already made) into an empty store in
//                   one add(); bytes/s counts the documents' text (target >= 5 MB/s, FTS5
//                   indexing included).
// The store is built once per process in a temporary directory and deleted at exit; with
// WARD_KNOWLEDGE_BENCH_STORE=<path> it is built there (unless it holds one already) and kept,
// so later runs, and sqlite3, can use it.
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "common/crypto.h"
#include "knowledge/store.h"

namespace {

namespace fs = std::filesystem;
using ward::knowledge::Document;

constexpr size_t kStoreChunks = 100'000;
constexpr size_t kChunksPerDocument = 10;
constexpr size_t kSentencesPerChunk = 4;
constexpr size_t kAddDocuments = 1'000;

std::string shared_data() {
    const char* env = std::getenv("WARD_SHARED_DATA");
    return env ? env : WARD_SHARED_DATA;
}

// Splits text into sentences at ". ", "? " and "! " (good enough to recombine abstracts).
void split_sentences(const std::string& text, std::vector<std::string>& out) {
    size_t start = 0;
    for (size_t i = 0; i + 1 < text.size(); ++i) {
        if ((text[i] == '.' || text[i] == '?' || text[i] == '!') && text[i + 1] == ' ') {
            if (i + 1 - start > 20) out.push_back(text.substr(start, i + 1 - start));
            start = i + 2;
        }
    }
    if (text.size() - start > 20) out.push_back(text.substr(start));
}

struct Corpus {
    std::vector<std::string> sentences;
    std::vector<std::string> questions;
};

const Corpus& corpus() {
    static const Corpus c = [] {
        Corpus out;
        auto pubmedqa = nlohmann::json::parse(
            std::ifstream(shared_data() + "/medical-qa/pubmedqa/data/ori_pqal.json"));
        for (const auto& [pmid, record] : pubmedqa.items()) {
            out.questions.push_back(record.at("QUESTION").get<std::string>());
            for (const auto& p : record.at("CONTEXTS")) {
                split_sentences(p.get<std::string>(), out.sentences);
            }
        }
        std::ifstream medmcqa(shared_data() + "/medical-qa/mirage/rawdata/medmcqa/data/dev.json");
        for (std::string line; std::getline(medmcqa, line);) {
            auto record = nlohmann::json::parse(line);
            if (record.contains("exp") && record["exp"].is_string()) {
                split_sentences(record["exp"].get<std::string>(), out.sentences);
            }
        }
        if (out.sentences.empty() || out.questions.empty()) {
            fprintf(stderr, "knowledge_bench: no PubMedQA/MedMCQA data under %s\n",
                    shared_data().c_str());
            std::exit(1);
        }
        return out;
    }();
    return c;
}

// `n_documents` documents of kChunksPerDocument chunks, each chunk kSentencesPerChunk sentences
// drawn at random; `first` numbers them so separate calls give distinct doc_ids.
std::vector<Document> synthesise(size_t n_documents, size_t first, uint32_t seed) {
    const auto& sentences = corpus().sentences;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<size_t> pick(0, sentences.size() - 1);
    std::vector<Document> docs(n_documents);
    for (size_t d = 0; d < n_documents; ++d) {
        Document& doc = docs[d];
        doc.doc_id = "synthetic-" + std::to_string(first + d);
        doc.source = "bench";
        doc.title = "Synthetic document " + std::to_string(first + d);
        doc.format = "text";
        for (size_t c = 0; c < kChunksPerDocument; ++c) {
            std::string text;
            for (size_t s = 0; s < kSentencesPerChunk; ++s) {
                if (!text.empty()) text += ' ';
                text += sentences[pick(rng)];
            }
            if (!doc.content.empty()) doc.content += "\n\n";
            doc.content += text;
            doc.chunks.push_back({static_cast<int>(c), doc.title, std::move(text), 0});
            doc.chunks.back().tokens = static_cast<int>(doc.chunks.back().text.size() / 4);
        }
        doc.content_sha256 = ward::crypto::sha256_hex(doc.content);
    }
    return docs;
}

// Removed by main() after the benchmarks.
const fs::path& bench_dir() {
    static const fs::path dir = [] {
        fs::path d =
            fs::temp_directory_path() / ("ward-knowledge-bench-" + std::to_string(::getpid()));
        fs::remove_all(d);
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

ward::knowledge::Store& big_store() {
    static const auto store = [] {
        const char* kept = std::getenv("WARD_KNOWLEDGE_BENCH_STORE");
        std::string path = kept ? kept : (bench_dir() / "big.sqlite").string();
        auto s = ward::knowledge::Store::open(path);
        if (!s) {
            fprintf(stderr, "knowledge_bench: %s\n", s.error().to_string().c_str());
            std::exit(1);
        }
        if ((*s)->current_version().value_or(0) > 0) return *s;  // a kept store, built before
        const size_t n_documents = kStoreChunks / kChunksPerDocument;
        for (size_t first = 0; first < n_documents; first += 1000) {
            auto docs = synthesise(1000, first, static_cast<uint32_t>(42 + first));
            auto added = (*s)->add(docs, "bench");
            if (!added) {
                fprintf(stderr, "knowledge_bench: %s\n", added.error().to_string().c_str());
                std::exit(1);
            }
        }
        return *s;
    }();
    return *store;
}

// This thread's CPU time: on a shared machine, wall time also counts other processes' turns.
double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

void BM_Bm25Search(benchmark::State& state) {
    auto& store = big_store();
    const auto& questions = corpus().questions;
    std::vector<double> ms, cpu_ms;
    size_t i = 0;
    for (auto _ : state) {
        ward::knowledge::Query q;
        q.text = questions[i++ % questions.size()];
        q.k = 10;
        const double c0 = thread_cpu_ms();
        auto t0 = std::chrono::steady_clock::now();
        auto r = store.search(q);
        auto t1 = std::chrono::steady_clock::now();
        cpu_ms.push_back(thread_cpu_ms() - c0);
        if (!r) {
            state.SkipWithError(r.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(r->hits.data());
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    state.counters["p50_ms"] = percentile(ms, 0.50);
    state.counters["p99_ms"] = percentile(ms, 0.99);
    state.counters["p50_cpu_ms"] = percentile(cpu_ms, 0.50);
    state.counters["p99_cpu_ms"] = percentile(cpu_ms, 0.99);
    state.counters["max_ms"] = percentile(ms, 1.0);
    state.counters["chunks"] = static_cast<double>(kStoreChunks);
}
BENCHMARK(BM_Bm25Search)->Iterations(1000)->Unit(benchmark::kMillisecond);

constexpr size_t kDimensions = 384;
constexpr const char* kModel = "bench-random-384";

// A unit-free pseudo-random vector, the same for the same seed.
std::vector<float> random_vector(uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal;
    std::vector<float> v(kDimensions);
    for (float& x : v) x = normal(rng);
    return v;
}

// Gives every chunk of the big store a vector of kModel (once; a kept store keeps them).
void embed_big_store() {
    auto& store = big_store();
    while (true) {
        auto pending = store.pending_embeddings(kModel, 10'000);
        if (!pending) {
            fprintf(stderr, "knowledge_bench: %s\n", pending.error().to_string().c_str());
            std::exit(1);
        }
        if (pending->empty()) return;
        std::vector<std::pair<int64_t, std::vector<float>>> vectors;
        for (const auto& p : *pending) {
            vectors.emplace_back(p.chunk_id, random_vector(static_cast<uint64_t>(p.chunk_id)));
        }
        auto put = store.put_embeddings(kModel, vectors);
        if (!put.ok()) {
            fprintf(stderr, "knowledge_bench: %s\n", put.to_string().c_str());
            std::exit(1);
        }
    }
}

void BM_FusionSearch(benchmark::State& state) {
    auto& store = big_store();
    embed_big_store();
    const auto& questions = corpus().questions;
    {  // the first search builds the vector matrix: not part of the per-query figures
        ward::knowledge::Query warm;
        warm.text = questions[0];
        warm.embedding = random_vector(0);
        warm.embedding_model = kModel;
        if (!store.search(warm)) std::exit(1);
    }
    std::vector<double> ms, cpu_ms;
    size_t i = 0;
    for (auto _ : state) {
        ward::knowledge::Query q;
        q.text = questions[i % questions.size()];
        q.embedding = random_vector(1'000'000 + i++);
        q.embedding_model = kModel;
        q.k = 10;
        const double c0 = thread_cpu_ms();
        auto t0 = std::chrono::steady_clock::now();
        auto r = store.search(q);
        auto t1 = std::chrono::steady_clock::now();
        cpu_ms.push_back(thread_cpu_ms() - c0);
        if (!r || r->mode != "fusion") {
            state.SkipWithError(r ? "not fused" : r.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(r->hits.data());
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    }
    state.counters["p50_ms"] = percentile(ms, 0.50);
    state.counters["p99_ms"] = percentile(ms, 0.99);
    state.counters["p50_cpu_ms"] = percentile(cpu_ms, 0.50);
    state.counters["p99_cpu_ms"] = percentile(cpu_ms, 0.99);
}
BENCHMARK(BM_FusionSearch)->Iterations(1000)->Unit(benchmark::kMillisecond);

void BM_Add(benchmark::State& state) {
    static const auto docs = synthesise(kAddDocuments, 0, 7);
    int64_t bytes = 0;
    for (const auto& d : docs) bytes += static_cast<int64_t>(d.content.size());
    int run = 0;
    double cpu_ms = 0;
    for (auto _ : state) {
        state.PauseTiming();
        fs::path path = bench_dir() / ("add-" + std::to_string(run++) + ".sqlite");
        auto store = ward::knowledge::Store::open(path.string());
        if (!store) {
            state.SkipWithError(store.error().to_string().c_str());
            return;
        }
        state.ResumeTiming();
        const double c0 = thread_cpu_ms();
        auto added = (*store)->add(docs, "bench");
        cpu_ms += thread_cpu_ms() - c0;
        state.PauseTiming();
        if (!added) {
            state.SkipWithError(added.error().to_string().c_str());
            return;
        }
        store->reset();
        for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(path.string() + suffix);
        state.ResumeTiming();
    }
    // bytes_per_second is over wall time (fsync included); cpu_MB_per_s over this thread's CPU
    // time, which a busy shared machine does not inflate.
    state.SetBytesProcessed(bytes * state.iterations());
    state.counters["cpu_MB_per_s"] =
        static_cast<double>(bytes * state.iterations()) / 1e6 / (cpu_ms / 1e3);
    state.counters["chunks"] = static_cast<double>(kAddDocuments * kChunksPerDocument);
}
BENCHMARK(BM_Add)->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    fs::remove_all(bench_dir());
    return 0;
}
