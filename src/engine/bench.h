// `ward bench`: prompt-processing and decode speed of a model on this machine, measured next to
// the machine's memory read bandwidth, so that decode speed can be judged against its bound:
// decode reads every weight once per token, so tokens/s <= bandwidth / bytes per token.
//
// Thread safety: run one benchmark at a time; it uses every thread it is given.
#pragma once

#include <string>

#include "common/status.h"
#include "engine/model.h"

namespace ward::engine {

struct BenchOptions {
    int n_prompt = 512;  // prompt tokens (0: skip prompt processing)
    int n_gen = 128;     // generated tokens (0: skip decode)
    int n_threads = 0;   // 0: all hardware threads
    int reps = 3;
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
};

// Measures the read bandwidth of this machine with `n_threads` threads streaming a buffer much
// larger than the caches; the best of several passes, in GB/s (1e9 bytes).
double measure_read_bandwidth(int n_threads);

// Runs the benchmark: random prompt tokens, then single-token decode steps, `reps` times each.
// Errors: those of Session (a prompt plus generation longer than the model's context).
Result<BenchResult> run_bench(std::shared_ptr<const Model> model, const BenchOptions& options);

}  // namespace ward::engine
