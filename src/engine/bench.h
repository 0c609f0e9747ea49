// `ward bench`: prompt-processing and decode speed of a model on this machine, measured next to
// the machine's memory read bandwidth, so that decode speed can be judged against its bound:
// decode reads every weight once per token, so tokens/s <= bandwidth / bytes per token.
//
// Thread safety: run one benchmark at a time; it uses every thread it is given.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model.h"

namespace ward::engine {

struct BenchOptions {
    int n_prompt = 512;  // prompt tokens (0: skip prompt processing)
    int n_gen = 128;     // generated tokens (0: skip decode)
    int n_threads = 0;   // 0: all hardware threads
    int reps = 3;
    // Batched decode: for each count N, N sessions decode together through a BatchEvaluator,
    // one token each per step (n_gen steps), as a continuous-batching server runs them.
    // Empty: skip.
    std::vector<int> streams;
};

// Aggregate decode speed with `streams` sequences decoding together.
struct StreamsResult {
    int streams = 0;
    double tokens_per_s = 0, stddev = 0;  // all streams' tokens per second
    double speedup = 0;  // over one stream through the evaluator (the first count when no 1)
};

struct BenchResult {
    std::string model;
    int threads = 0;
    int n_prompt = 0, n_gen = 0, reps = 0;
    double pp_tokens_per_s = 0, pp_stddev = 0;
    double tg_tokens_per_s = 0, tg_stddev = 0;
    double bandwidth_gb_s = 0;
    double bytes_per_token = 0;
    double decode_bound_tokens_per_s = 0;
    double fraction_of_bound = 0;
    std::vector<StreamsResult> batched;  // one per BenchOptions::streams entry, in order
};

// Measures the read bandwidth of this machine with `n_threads` threads streaming a buffer much
// larger than the caches; the best of several passes, in GB/s (1e9 bytes).
double measure_read_bandwidth(int n_threads);

// Runs the benchmark: random prompt tokens, then single-token decode steps, `reps` times each,
// then batched decode for each stream count. Errors: those of Session and BatchEvaluator;
// kInvalidArgument for a stream count outside [1, 256].
Result<BenchResult> run_bench(std::shared_ptr<const Model> model, const BenchOptions& options);

}  // namespace ward::engine
