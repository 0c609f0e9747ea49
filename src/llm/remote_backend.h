// RemoteBackend: a Backend served by another inference server over the OpenAI protocol (vLLM,
// TGI, llama.cpp server, Ollama, another Ward). Each generate() POSTs one streaming request to
// {base_url}/v1/chat/completions (messages) or {base_url}/v1/completions (prompt), reads the
// Server-Sent Events as they arrive and hands each piece of text to the caller's callback.
//
// Failures before the first piece is delivered (connection errors, HTTP 429 and 5xx, a stream
// that ends early) are retried with exponential backoff and jitter, honouring Retry-After up to
// a cap; after the first piece nothing is retried, since the caller has already seen text.
// Other 4xx answers are the caller's fault and become kInvalidArgument with the upstream's own
// message. Errors name the upstream by its registry name and URL; the API key never appears in
// an error or a log line, and logs carry counts, timings and status codes, never text.
//
// Cancellation (the callback returning false, Request::cancelled, the deadline) closes the
// connection, which tells the upstream to stop generating. A watchdog thread per request polls
// the flag and the deadline every 20 ms, so a silent upstream (a long prompt being read) is
// cancelled too.
//
// Embedding models (`embedding = true` in the configuration) answer embed() with one POST to
// {base_url}/v1/embeddings instead, retried by the same rules.
//
// Thread safety: every method may be called from any number of threads at once; each
// generate() and embed() uses its own connection.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "llm/backend.h"

namespace ward::llm {

struct RemoteBackendOptions {
    std::string name;            // the registry name, used in errors and logs
    std::string base_url;        // http[s]://host[:port][/prefix]; a trailing "/v1" is accepted
    std::string upstream_model;  // the model name sent upstream; default: name
    std::string api_key;         // sent as "Authorization: Bearer"; never logged or in an error
    std::string description;     // shown in /v1/models; default: "remote model M at URL"
    double connect_timeout_s = 5;
    double read_timeout_s = 120;    // the longest silence between two bytes of the answer
    int retries = 3;                // further attempts after the first
    double backoff_s = 0.5;         // first retry delay; doubles each time, with +-50% jitter
    double max_retry_after_s = 30;  // the longest wait between attempts, Retry-After too
    int context = 0;                // tokens, when the operator knows it; 0: unknown
    bool probe_at_create = true;    // GET /v1/models in create() (tests may skip it)
    // An embedding model: embed() POSTs to /v1/embeddings and generate() is refused.
    bool embedding = false;
};

// The parts of a base URL, as checked by parse_base_url().
struct BaseUrl {
    std::string scheme_host_port;  // "https://host:8443", what httplib's Client takes
    std::string path_prefix;       // "" or "/prefix" without a trailing slash or "/v1"
};

// Splits and checks "http[s]://host[:port][/prefix]". Errors: kInvalidArgument naming what is
// wrong ("not an http(s) URL", "has no host", "port ... is not a number in 1..65535",
// credentials in the URL, a query or fragment).
Result<BaseUrl> parse_base_url(std::string_view url);

class RemoteBackend : public Backend {
  public:
    // Checks the options and, when probe_at_create is set, asks the upstream for its models
    // (within the connect timeout). An upstream that does not answer is not an error: the
    // backend starts not ready() and probes again on later ready() calls (at most every 5
    // seconds) or becomes ready with its first successful generation. Errors:
    // kInvalidArgument (empty name, a bad base_url, a negative timeout or retry count).
    static Result<std::unique_ptr<RemoteBackend>> create(RemoteBackendOptions options);

    const ModelInfo& info() const override { return info_; }
    // Errors: kInvalidArgument (no messages and no prompt, or both; more than 4 stop strings;
    // top_logprobs outside 0..20; the upstream answered 4xx other than 429, with its message),
    // kUnavailable ("upstream NAME (URL) ..." once the retries are spent, or when the stream
    // breaks after pieces were delivered, a malformed answer or an event over 1 MiB),
    // kDeadlineExceeded (the
    // deadline passed before the first piece).
    // Usage comes from the upstream's final chunk; when it sends none, it is estimated with
    // count_tokens. A cancelled request returns its text so far with Finish::kCancelled.
    Result<Generation> generate(const Request& request, const PieceCallback& on_piece) override;
    // Embedding models (options.embedding): POSTs {"model": upstream_model, "input": [...],
    // "encoding_format": "float"} to {base_url}/v1/embeddings and returns data[i].embedding in
    // input order (by each item's `index`) with usage.prompt_tokens (estimated with
    // count_tokens when absent). Retries as generate() does: connection errors, 429 and 5xx,
    // with backoff and Retry-After. Errors: kInvalidArgument (no inputs, more than 2048, the
    // upstream answered another 4xx, with its message); kUnavailable (retries spent; an answer
    // that is not JSON of the embeddings shape, or has a vector count other than the inputs',
    // naming what is wrong). Other models: Backend::embed's refusal.
    Result<Embeddings> embed(const EmbeddingRequest& request) override;
    // An upper-bound estimate without the upstream's tokenizer: one token per 3 bytes, rounded
    // up (BPE vocabularies average 3.5-4.5 bytes per English token and rarely go below 3 for
    // clinical text; below 3 only for unusual scripts and long digit runs).
    size_t count_tokens(std::string_view text) const override;
    bool ready() const override;
    int active() const override { return active_.load(); }
    int waiting() const override { return 0; }  // no slots here: the upstream queues

  private:
    struct Attempt;
    struct StreamState;
    RemoteBackend(RemoteBackendOptions options, BaseUrl url);
    // GET /v1/models; true when it answered 200.
    bool probe() const;
    // One HTTP exchange; see the .cpp for how it classifies failures.
    Attempt attempt(const Request& request, const std::string& path, const std::string& body,
                    const PieceCallback& on_piece, StreamState& state) const;
    std::string redact(std::string text) const;

    RemoteBackendOptions options_;
    BaseUrl url_;
    ModelInfo info_;
    mutable std::atomic<bool> ready_{false};
    mutable std::atomic<int> active_{0};
    mutable std::mutex probe_mutex_;                              // one probe at a time
    mutable std::chrono::steady_clock::time_point last_probe_{};  // guarded by probe_mutex_
    mutable int probe_failures_ = 0;                              // guarded by probe_mutex_
};

}  // namespace ward::llm
