// Choosing the next token from logits: greedy, or temperature sampling with top-k, top-p and
// min-p truncation, after repetition / presence / frequency penalties. A seed makes runs
// reproducible. Reports the log-probability of the chosen token and the top-N alternatives
// (log-softmax of the penalised logits, before temperature and truncation, as the OpenAI API
// reports them).
//
// Thread safety: a Sampler holds its random state; one per generation.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace ward::engine {

struct SamplingParams {
    float temperature = 0.8f;        // <= 0: greedy
    int top_k = 40;                  // <= 0: off
    float top_p = 0.95f;             // >= 1: off
    float min_p = 0.05f;             // <= 0: off
    float repeat_penalty = 1.0f;     // 1: off; divides positive logits, multiplies negative ones
    int repeat_last_n = 64;          // how many recent tokens the penalties look at
    float presence_penalty = 0.0f;   // subtracted once from every token seen
    float frequency_penalty = 0.0f;  // subtracted per occurrence
    uint64_t seed = 0;
    int n_logprobs = 0;  // top alternatives to report (0: none)
};

struct TokenLogprob {
    int32_t id = 0;
    float logprob = 0;
};

struct Sampled {
    int32_t id = 0;
    float logprob = 0;
    std::vector<TokenLogprob> top;  // best first, n_logprobs of them
};

class Sampler {
  public:
    explicit Sampler(SamplingParams params);
    // REQUIRES: logits is not empty. `history` is every token so far (prompt included).
    // `allowed` (empty: no mask; else one entry per logit, with at least one non-zero) limits
    // the choice to the tokens whose entry is non-zero: the others get probability zero before
    // truncation and sampling (constrained decoding, grammar.h).
    Sampled sample(std::span<const float> logits, std::span<const int32_t> history,
                   std::span<const uint8_t> allowed = {});
    const SamplingParams& params() const { return params_; }

  private:
    double uniform();  // [0, 1), the same sequence for the same seed on every platform

    SamplingParams params_;
    std::mt19937_64 rng_;
    std::vector<float> work_;
    std::vector<int32_t> ids_;
};

}  // namespace ward::engine
