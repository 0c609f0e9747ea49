// The generation loop: evaluate a prompt, then sample and evaluate one token at a time until
// an end-of-generation token, a stop string or the token limit. Text is streamed in pieces that
// never split a UTF-8 character and never show the beginning of a stop string that later
// completes.
//
// Thread safety: uses one Session; see Session.
#pragma once

#include <chrono>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/sampler.h"
#include "engine/session.h"

namespace ward::engine {

enum class FinishReason { kStop, kLength, kCancelled };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled"

struct GenerateOptions {
    int max_tokens = 256;  // generated tokens at most; <= 0: until the context is full
    SamplingParams sampling;
    std::vector<std::string> stop;  // stop strings (not included in the output)
    bool ignore_eos = false;
};

struct GenerateResult {
    std::string text;
    std::vector<int32_t> tokens;   // generated ids (the stop token excluded)
    std::vector<Sampled> samples;  // one per generated token, with log-probabilities
    FinishReason finish = FinishReason::kLength;
    int n_prompt = 0;
    double prompt_seconds = 0;
    double generate_seconds = 0;
};

// Called with each new piece of text and the token that completed it; returning false cancels.
using TokenCallback = std::function<bool(std::string_view piece, const Sampled& token)>;

// Evaluates `prompt` (appended to whatever the session holds) and generates. Errors: those of
// Session::eval (a prompt that does not fit the context is kResourceExhausted).
Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt,
                                const GenerateOptions& options, const TokenCallback& on_token = {});

}  // namespace ward::engine
