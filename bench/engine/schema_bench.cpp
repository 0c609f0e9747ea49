// What JSON-Schema-constrained decoding costs (engine/grammar.h, engine/json_schema.h).
//
//   schema_mask/<vocab>/<state>   one GrammarMatcher::mask() (the trie walk over the whole
//                                 vocabulary) at a state: inside a free string (nearly every
//                                 token allowed: the worst case), at an array's first item, and
//                                 inside a number. vocab: stories260K (SentencePiece, 512) and
//                                 Llama 3 (byte-level BPE, 128256).
//   schema_allows/<vocab>         one GrammarMatcher::allows() of one token (the fast path:
//                                 the sampler's own choice, checked alone).
//   schema_overhead/<vocab>/<schema>  the whole per-token cost of the grammar with random
//                                 logits (a random-weight model's case: the sampler's own
//                                 choice is usually refused, so most steps build the mask):
//                                 sample_constrained() + accept(), restarting the value when
//                                 it completes; the sampler's own work is included. vocab also
//                                 1.1B: the 32000-token vocabulary of the model below.
//                                 schema "none": the sampler alone, the baseline to subtract.
//   schema_decode/<model>/<mode>  generated tokens per second (items_per_second) of generate()
//                                 at temperature 1, prompt evaluation excluded (manual time =
//                                 GenerateResult::generate_seconds). mode "free": no schema,
//                                 ignore_eos, as many tokens as the schema runs give on average;
//                                 "story": an object with one 300-character string;
//                                 "meds": eight {drug, dose_mg, route} objects (numbers, enums,
//                                 short strings: many forced structural tokens).
//                                 model: stories260K (trained), and a random-weight Llama of
//                                 1.1B parameters in Q4_0 (TinyLlama's shape, vocabulary 32000:
//                                 make_random_model's default spec, as `ward model make` writes
//                                 it) at $WARD_SCHEMA_BENCH_MODEL, written there first when the
//                                 file does not exist (skipped when the variable is unset).
//
// Run the release build; machines here are shared, so compare ratios measured in one run.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "engine/gguf.h"
#include "engine/grammar.h"
#include "engine/json_schema.h"
#include "engine/model.h"
#include "engine/model_maker.h"
#include "engine/session.h"
#include "engine/tokenizer.h"

namespace {

using namespace ward::engine;

const std::string kData = WARD_SHARED_DATA;

constexpr const char* kStorySchema =
    R"({"type":"object","properties":{"story":{"type":"string","minLength":300,
        "maxLength":300}},"required":["story"]})";
constexpr const char* kMedsSchema =
    R"({"type":"array","items":{"type":"object","properties":{
        "drug":{"type":"string","minLength":1,"maxLength":12},"dose_mg":{"type":"number"},
        "route":{"enum":["oral","iv","im","sc"]}},"required":["drug","dose_mg","route"]},
        "minItems":8,"maxItems":8})";

std::shared_ptr<const Tokenizer> tokenizer(const std::string& path) {
    static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
    auto& t = cache[path];
    if (!t) {
        auto file = GgufFile::open(path);
        if (!file) return nullptr;
        auto tok = Tokenizer::from_gguf(**file);
        if (tok) t = *tok;
    }
    return t;
}

std::string vocab_path(int which) {
    return which == 0 ? kData + "/models/stories260K.gguf"
                      : kData + "/tokenizers/vocab-llama3-bpe.gguf";
}

void schema_mask(benchmark::State& state, int which, const char* schema, const char* prefix) {
    auto tok = tokenizer(vocab_path(which));
    auto grammar = compile_json_schema(std::string_view(schema));
    if (!tok || !grammar) {
        state.SkipWithError("cannot load the vocabulary or compile the schema");
        return;
    }
    auto trie = TokenTrie::build(*tok);
    GrammarMatcher matcher(*grammar, trie);
    if (!matcher.accept_bytes(prefix).ok()) {
        state.SkipWithError("the grammar refuses the prefix");
        return;
    }
    std::vector<uint8_t> allowed;
    size_t n = 0;
    for (auto _ : state) {
        n = matcher.mask(&allowed, static_cast<size_t>(tok->n_vocab()));
        benchmark::DoNotOptimize(allowed.data());
    }
    state.counters["allowed"] = static_cast<double>(n);
    state.counters["vocab"] = tok->n_vocab();
}

void schema_allows(benchmark::State& state, int which) {
    auto tok = tokenizer(vocab_path(which));
    auto grammar = compile_json_schema(std::string_view(kStorySchema));
    if (!tok || !grammar) {
        state.SkipWithError("cannot load the vocabulary or compile the schema");
        return;
    }
    GrammarMatcher matcher(*grammar, TokenTrie::build(*tok));
    if (!matcher.accept_bytes("{\"story\":\"Once").ok()) {
        state.SkipWithError("the grammar refuses the prefix");
        return;
    }
    const int32_t word = tok->encode(" upon", false).back();
    for (auto _ : state) benchmark::DoNotOptimize(matcher.allows(word));
}

std::shared_ptr<const Model> model_at(const std::string& path);

// which: 0 stories260K, 1 Llama 3 BPE, 2 the 1.1B model's vocabulary.
void schema_overhead(benchmark::State& state, int which, const char* schema) {
    std::shared_ptr<const Tokenizer> tok;
    if (which < 2) {
        tok = tokenizer(vocab_path(which));
    } else if (const char* env = std::getenv("WARD_SCHEMA_BENCH_MODEL")) {
        if (auto model = model_at(env))
            tok = std::shared_ptr<const Tokenizer>(model, &model->tokenizer());
    }
    auto grammar = compile_json_schema(std::string_view(schema ? schema : "{}"));
    if (!tok || !grammar) {
        state.SkipWithError("no vocabulary (set WARD_SCHEMA_BENCH_MODEL for 1.1B) or schema");
        return;
    }
    if (schema == nullptr) {
        Sampler sampler({.temperature = 1.0f, .seed = 1});
        std::vector<float> row(static_cast<size_t>(tok->n_vocab()));
        std::mt19937_64 rng(7);
        std::normal_distribution<float> normal(0, 3);
        for (float& l : row) l = normal(rng);
        for (auto _ : state) benchmark::DoNotOptimize(sampler.sample(row, {}).id);
        return;
    }
    auto trie = TokenTrie::build(*tok);
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal(0, 3);
    std::vector<std::vector<float>> logits(32,
                                           std::vector<float>(static_cast<size_t>(tok->n_vocab())));
    for (auto& row : logits) {
        for (float& l : row) l = normal(rng);
    }
    Sampler sampler({.temperature = 1.0f, .seed = 1});
    auto matcher = std::make_unique<GrammarMatcher>(*grammar, trie);
    size_t step = 0;
    for (auto _ : state) {
        auto s = sample_constrained(sampler, *matcher, logits[step++ % logits.size()], {});
        if (!s || !matcher->accept(s->id).ok()) {
            state.SkipWithError("constrained sampling failed");
            return;
        }
        if (tok->is_eog(s->id)) matcher = std::make_unique<GrammarMatcher>(*grammar, trie);
    }
}

std::shared_ptr<const Model> model_at(const std::string& path) {
    static std::map<std::string, std::shared_ptr<const Model>> cache;
    auto& m = cache[path];
    if (!m) {
        auto loaded = Model::load(path);
        if (loaded) m = *loaded;
    }
    return m;
}

// mode 0: free (max_tokens tokens, ignore_eos); 1: story schema; 2: meds schema.
void schema_decode(benchmark::State& state, bool big, int mode) {
    std::string path = kData + "/models/stories260K.gguf";
    if (big) {
        const char* env = std::getenv("WARD_SCHEMA_BENCH_MODEL");
        if (env == nullptr) {
            state.SkipWithError("set WARD_SCHEMA_BENCH_MODEL to a 1.1B model (ward model make)");
            return;
        }
        path = env;
        if (!std::filesystem::exists(path) && !make_random_model(RandomModelSpec{}, path).ok()) {
            state.SkipWithError("cannot write the 1.1B model");
            return;
        }
    }
    auto model = model_at(path);
    if (!model) {
        state.SkipWithError("cannot load the model");
        return;
    }
    std::shared_ptr<const Grammar> grammar;
    if (mode > 0) {
        auto g = compile_json_schema(std::string_view(mode == 1 ? kStorySchema : kMedsSchema));
        if (!g) {
            state.SkipWithError("cannot compile the schema");
            return;
        }
        grammar = *g;
    }
    auto trie = TokenTrie::build(model->tokenizer());
    const auto prompt = model->tokenizer().encode("Write the record as JSON:", true);
    const int max_tokens = big ? 24 : 160;
    uint64_t seed = 1;
    int64_t tokens = 0;
    for (auto _ : state) {
        auto session = Session::create(model, {.n_ctx = big ? 256 : 512, .n_threads = 2});
        GenerateOptions o;
        o.max_tokens = max_tokens;
        o.sampling.temperature = 1.0f;
        o.sampling.seed = seed++;
        o.grammar = grammar;
        o.token_trie = trie;
        o.ignore_eos = mode == 0;
        auto r = generate(**session, prompt, o);
        if (!r) {
            state.SkipWithError(r.error().to_string().c_str());
            return;
        }
        tokens += static_cast<int64_t>(r->tokens.size());
        state.SetIterationTime(r->generate_seconds);
    }
    state.SetItemsProcessed(tokens);
}

}  // namespace

BENCHMARK_CAPTURE(schema_mask, stories260K / in_string, 0, kStorySchema, "{\"story\":\"Once");
BENCHMARK_CAPTURE(schema_mask, stories260K / array_start, 0, kMedsSchema, "[");
BENCHMARK_CAPTURE(schema_mask, stories260K / in_number, 0, kMedsSchema,
                  "[{\"drug\":\"a\",\"dose_mg\":1");
BENCHMARK_CAPTURE(schema_mask, llama3 / in_string, 1, kStorySchema, "{\"story\":\"Once");
BENCHMARK_CAPTURE(schema_mask, llama3 / array_start, 1, kMedsSchema, "[");
BENCHMARK_CAPTURE(schema_mask, llama3 / in_number, 1, kMedsSchema,
                  "[{\"drug\":\"a\",\"dose_mg\":1");
BENCHMARK_CAPTURE(schema_allows, stories260K, 0);
BENCHMARK_CAPTURE(schema_allows, llama3, 1);
BENCHMARK_CAPTURE(schema_overhead, stories260K / none, 0, nullptr);
BENCHMARK_CAPTURE(schema_overhead, llama3 / none, 1, nullptr);
BENCHMARK_CAPTURE(schema_overhead, 1.1B / none, 2, nullptr);
BENCHMARK_CAPTURE(schema_overhead, stories260K / story, 0, kStorySchema);
BENCHMARK_CAPTURE(schema_overhead, stories260K / meds, 0, kMedsSchema);
BENCHMARK_CAPTURE(schema_overhead, llama3 / story, 1, kStorySchema);
BENCHMARK_CAPTURE(schema_overhead, llama3 / meds, 1, kMedsSchema);
BENCHMARK_CAPTURE(schema_overhead, 1.1B / story, 2, kStorySchema);
BENCHMARK_CAPTURE(schema_overhead, 1.1B / meds, 2, kMedsSchema);
BENCHMARK_CAPTURE(schema_decode, stories260K / free, false, 0)->UseManualTime()->Iterations(20);
BENCHMARK_CAPTURE(schema_decode, stories260K / story, false, 1)->UseManualTime()->Iterations(20);
BENCHMARK_CAPTURE(schema_decode, stories260K / meds, false, 2)->UseManualTime()->Iterations(20);
BENCHMARK_CAPTURE(schema_decode, 1.1B_Q4_0 / free, true, 0)->UseManualTime()->Iterations(3);
BENCHMARK_CAPTURE(schema_decode, 1.1B_Q4_0 / story, true, 1)->UseManualTime()->Iterations(3);
BENCHMARK_CAPTURE(schema_decode, 1.1B_Q4_0 / meds, true, 2)->UseManualTime()->Iterations(3);
BENCHMARK_MAIN();
