// The Backend interface: one chat or completion request in, a stream of text pieces out, with
// usage and a finish reason; or, for embedding models, texts in and vectors out. A LocalBackend
// runs the engine in this process (continuous batching over a fixed number of slots); a
// RemoteBackend speaks the OpenAI protocol to an inference server (vLLM, TGI, llama.cpp server,
// Ollama, another Ward). A Registry names the models of the TOML configuration and says which
// backend serves each.
//
// The server never sees the difference: it renders nothing and tokenises nothing itself.
//
// Thread safety: every Backend method may be called from any number of threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::llm {

struct ChatMessage {
    std::string role;  // "system", "user", "assistant"
    std::string content;
};

struct GenerationParams {
    int max_tokens = 256;              // <= 0: until the context is full
    std::optional<float> temperature;  // nullopt: the backend's default
    std::optional<float> top_p;
    std::optional<uint64_t> seed;
    std::vector<std::string> stop;  // at most 4, as in the OpenAI API
    int top_logprobs = 0;           // alternatives per token, 0..20
    bool logprobs = false;          // report the chosen token's log-probability
    float presence_penalty = 0;
    float frequency_penalty = 0;
    // Structured output: the text of a JSON Schema (engine/json_schema.h lists the subset;
    // "{}" or {"type":"object"} for plain JSON mode). Local models decode under it, so the
    // text always parses and validates unless the generation ends as "length"; remote ones
    // send it as OpenAI response_format and validate the answer (one retry).
    std::optional<std::string> json_schema;
};

// Why a generation ended: "stop" (end of generation token or stop string), "length"
// (max_tokens or the context), "cancelled" (the caller went away or the deadline passed).
enum class Finish { kStop, kLength, kCancelled };
std::string_view finish_name(Finish finish);

struct TopLogprob {
    std::string token;
    float logprob = 0;
};

// One piece of generated text. `text` never splits a UTF-8 character and never shows the
// beginning of a stop string that later completes.
struct Piece {
    std::string text;
    std::string token;  // the token's own text (for logprobs), may be empty for remote pieces
    float logprob = 0;  // of the chosen token, when logprobs were asked for
    std::vector<TopLogprob> top;
};

struct Usage {
    int prompt_tokens = 0;
    int completion_tokens = 0;
    int cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

struct Generation {
    std::string text;           // the whole generated text
    std::vector<Piece> pieces;  // one per token when logprobs were asked for, else empty
    Finish finish = Finish::kStop;
    Usage usage;
    std::string model;  // the model name that served it
    double queue_seconds = 0;
    double prompt_seconds = 0;
    double generate_seconds = 0;
};

// Called from the backend's thread with each piece; returning false cancels the request (its
// slot is freed before the next decoding step).
using PieceCallback = std::function<bool(const Piece& piece)>;

struct Request {
    std::string model;  // a name from the registry
    // Exactly one of these: chat messages (rendered by the model's chat template, the
    // content never parsed for control tokens), or a raw completion prompt.
    std::vector<ChatMessage> messages;
    std::optional<std::string> prompt;
    GenerationParams params;
    // When the request must be done; past it the backend stops and reports kCancelled.
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    // Set by the caller (another thread) to cancel; polled once per step.
    const std::atomic<bool>* cancelled = nullptr;
};

struct ModelInfo {
    std::string name;         // the registry name (what clients send as "model")
    std::string backend;      // "local" or "remote"
    std::string file_sha256;  // the GGUF file's SHA-256 (local); the upstream's model id (remote)
    std::string description;  // architecture, parameters, type; or the upstream URL
    int context_length = 0;   // tokens; 0 when unknown (remote)
    int64_t created = 0;      // unix seconds the model was loaded
    // An embedding model (POST /v1/embeddings) rather than a generator: a local GGUF of
    // architecture bert, or a remote model configured with `embedding = true`.
    bool embedding = false;
    int embedding_dim = 0;  // floats per vector; 0 when unknown (remote)
};

// A batch of texts to embed (the OpenAI embeddings request: one string or an array of them).
struct EmbeddingRequest {
    std::string model;  // a name from the registry
    std::vector<std::string> inputs;
};

struct Embeddings {
    std::vector<std::vector<float>> vectors;  // one per input, in input order
    int prompt_tokens = 0;                    // tokens of all inputs (the upstream's count)
    std::string model;                        // the model name that served it
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual const ModelInfo& info() const = 0;
    // Generates. Errors: kInvalidArgument (bad parameters, no messages), kResourceExhausted
    // (the prompt does not fit the context: "prompt of N tokens does not fit the context of
    // M with max_tokens K"), kUnavailable (a remote upstream that cannot be reached after the
    // retries), kDeadlineExceeded (deadline passed before the first token).
    virtual Result<Generation> generate(const Request& request, const PieceCallback& on_piece) = 0;
    // The checks generate() makes before it queues anything (parameters, rendering, the
    // prompt fitting the context), so that a caller can answer a bad request with an error
    // before it commits to a streamed response. Same errors as generate().
    virtual Status check(const Request& request) const {
        (void)request;
        return ok_status();
    }
    // Tokens `text` would take for this model (the real tokenizer locally; an upper-bound
    // estimate for remote models without one).
    virtual size_t count_tokens(std::string_view text) const = 0;
    // Embeds every input. The default, for models that do not embed: kInvalidArgument "model
    // 'X' does not produce embeddings". Embedding backends document their own errors.
    virtual Result<Embeddings> embed(const EmbeddingRequest& request) {
        (void)request;
        return invalid_argument("model '{}' does not produce embeddings", info().name);
    }
    // True once the model can serve (loaded, or the upstream answered).
    virtual bool ready() const = 0;
    // Requests generating or waiting for a slot right now.
    virtual int active() const = 0;
    virtual int waiting() const = 0;
};

}  // namespace ward::llm
