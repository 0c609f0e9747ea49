// The generation loop: evaluate a prompt, then sample and evaluate one token at a time until
// an end-of-generation token, a stop string or the token limit. Text is streamed in pieces that
// never split a UTF-8 character and never show the beginning of a stop string that later
// completes.
//
// The per-token part (end-of-generation tokens, the token limit, UTF-8-safe decoding, stop
// strings) is a TokenStream, so that a scheduler that batches many generations and samples
// them itself (llm/local_backend) streams text exactly as generate() does.
//
// Thread safety: generate() uses one Session; see Session. A TokenStream belongs to one
// generation and is used by one thread at a time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/sampler.h"
#include "engine/session.h"
#include "engine/tokenizer.h"

namespace ward::engine {

enum class FinishReason { kStop, kLength, kCancelled };
std::string_view finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled"

struct Grammar;
class TokenTrie;

struct GenerateOptions {
    int max_tokens = 256;  // generated tokens at most; <= 0: until the context is full
    SamplingParams sampling;
    std::vector<std::string> stop;  // stop strings (not included in the output)
    bool ignore_eos = false;
    // Constrained decoding (grammar.h): only tokens the grammar allows are sampled, and the
    // generation ends (kStop) once the value is complete. Running out of max_tokens or context
    // first ends it as kLength with an incomplete value: the caller must treat kLength as "not
    // valid". Not with ignore_eos. token_trie: the model's, built when null (costly: share it).
    std::shared_ptr<const Grammar> grammar;
    std::shared_ptr<const TokenTrie> token_trie;
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

// What one sampled token released.
struct StreamStep {
    // Text that may now be shown: complete UTF-8 characters, none of which can still turn out
    // to begin a stop string. Valid until the next call on the stream. May be empty.
    std::string_view text;
    // The stream has ended (result().finish says why); push() must not be called again.
    bool done = false;
};

// Turns sampled tokens into streamed text, one token at a time. Ends (with all held-back text
// released) on an end-of-generation token (unless ignore_eos) -> kStop, a completed stop string
// (the text ends where it starts) -> kStop, max_tokens generated tokens -> kLength, or a token
// the caller marks `last` (the context is full) -> kLength. cancel() ends it without releasing
// held-back text. The concatenation of every released text is exactly result().text.
// Holds a reference to the tokenizer, which must outlive it.
class TokenStream {
  public:
    // starts_document: nothing was printed before the generated text (the prompt was BOS
    // alone), so its first leading space is not text (see StreamDecoder).
    TokenStream(const Tokenizer& tokenizer, const GenerateOptions& options,
                bool starts_document = false);

    // Feeds the token just sampled. `last`: no token can follow it (the context is full).
    // REQUIRES: !done().
    StreamStep push(const Sampled& sampled, bool last = false);
    // Ends the stream as kCancelled; result().text is cut to what was released. No-op once
    // done().
    void cancel();

    bool done() const { return done_; }
    // Text, tokens and samples so far; finish is meaningful once done().
    const GenerateResult& result() const { return result_; }
    GenerateResult take_result() { return std::move(result_); }

  private:
    StreamStep release(size_t upto, bool done);
    StreamStep end(FinishReason reason);  // flushes the decoder and releases everything

    const Tokenizer& tokenizer_;
    int max_tokens_;
    bool ignore_eos_;
    std::vector<std::string> stops_;  // the non-empty stop strings
    StreamDecoder decoder_;
    GenerateResult result_;
    size_t released_ = 0;  // bytes of result_.text already released
    bool done_ = false;
};

// Called with each new piece of text and the token that completed it; returning false cancels.
using TokenCallback = std::function<bool(std::string_view piece, const Sampled& token)>;

// Evaluates `prompt` (appended to whatever the session holds) and generates. Errors: those of
// Session::eval (a prompt that does not fit the context is kResourceExhausted); with a grammar,
// kInvalidArgument for ignore_eos, kFailedPrecondition when no token can continue the value.
Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt,
                                const GenerateOptions& options, const TokenCallback& on_token = {});

}  // namespace ward::engine
