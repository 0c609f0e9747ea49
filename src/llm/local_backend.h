// LocalBackend: the Backend that runs a GGUF model in this process with continuous batching.
// The model is memory-mapped once; `slots` Sessions over it share one WorkerTeam. Requests wait
// in a FIFO; one scheduler thread admits them into free slots and, at every step, advances all
// active slots in ONE BatchEvaluator call: each slot contributes either its next prompt chunk
// (prefill, at most `batch` prompt tokens per step in total, so decoding slots are not starved)
// or the one token it sampled last (decode). Every request has its own Sampler and TokenStream
// (engine/generate.h), so its text is exactly what engine::generate() gives for the same prompt
// and sampling parameters.
//
// Prefix cache: a slot keeps its KV cache when its request ends. A new request takes the free
// slot whose history shares the longest prefix with its prompt, or copies a longer prefix from
// any other slot (Session::copy_prefix), and evaluates only the rest (Usage::cached_prompt_tokens).
//
// Chat: messages are rendered with the model's chat template (or the operator's override). The
// template's own markers become control tokens; message contents are always encoded as plain
// text, so a user who types "<|im_end|>" or "</s>" cannot forge a turn (encode_chat_prompt).
//
// Pieces are handed to the thread that called generate(), which invokes the PieceCallback: a
// slow client never blocks the scheduler, and a callback returning false frees the slot at the
// next step.
//
// Embeddings: a GGUF of architecture bert is an embedding model (info().embedding): it has no
// slots and no scheduler, generate() refuses it, and embed() runs the engine's Encoder on the
// calling thread (concurrent calls take turns on the shared worker team, see engine/encoder.h).
// A generator's embed() is refused (Backend::embed).
//
// Thread safety: every public method may be called from any number of threads at once (the
// Backend contract). The destructor stops the scheduler and fails the requests still waiting or
// running with kUnavailable "shutting down"; threads blocked in generate() may outlive it (after
// queueing, generate() touches only its own request), but no call may start during it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "engine/chat_template.h"
#include "engine/model.h"
#include "engine/tokenizer.h"
#include "llm/backend.h"

namespace ward::engine {
class BatchEvaluator;
class Encoder;
class Session;
class WorkerTeam;
}  // namespace ward::engine

namespace ward::llm {

namespace internal {
class ControlTexts;  // the control-token texts of a vocabulary (local_backend.cpp)
}

struct LocalBackendOptions {
    std::string name;           // the registry name, reported in info() and Generation::model
    std::string path;           // the GGUF file
    int slots = 4;              // requests generating at once
    int context = 2048;         // tokens per slot (capped at the model's training context)
    int threads = 0;            // worker threads of the forward pass; 0: the hardware's
    int batch = 256;            // prompt tokens evaluated per scheduler step, over all slots
    std::string chat_template;  // a family name (engine/chat_template.h); empty: the GGUF's
};

// Renders `messages` with `family` and tokenises the result so that only the template's own
// markers can become control (or unknown) tokens: control-token texts inside message contents
// are encoded as plain text. For contents free of such texts the ids equal
// tokenizer.encode(rendered, add_bos, /*parse_special=*/true). BOS is added when the tokenizer
// adds one by default and the template does not write it. Never fails.
std::vector<int32_t> encode_chat_prompt(const engine::Tokenizer& tokenizer,
                                        engine::ChatTemplateFamily family,
                                        std::span<const ChatMessage> messages);

class LocalBackend : public Backend {
  public:
    // Loads the model and starts the scheduler. Errors: the model's (see engine::Model::load);
    // kInvalidArgument for slots outside [1, 256], context < 2, batch < 1, threads < 0, an
    // unknown chat template name, or a GGUF chat template of no known family (the message lists
    // the names to choose from).
    static Result<std::unique_ptr<LocalBackend>> create(const LocalBackendOptions& options);

    // Only create() can make the key: construction goes through it.
    class Key {
        friend class LocalBackend;
        Key() = default;
    };
    explicit LocalBackend(Key);
    ~LocalBackend() override;
    LocalBackend(const LocalBackend&) = delete;
    LocalBackend& operator=(const LocalBackend&) = delete;

    const ModelInfo& info() const override { return info_; }
    // Validates, queues and blocks until the request ends, calling on_piece (may be empty) on
    // this thread. Errors, before anything is queued: kInvalidArgument (no messages and no
    // prompt, or both; an unknown role; invalid UTF-8; temperature outside [0, 2]; top_p
    // outside (0, 1]; more than 4 stop strings; top_logprobs outside [0, 20]; penalties outside
    // [-2, 2]; chat without a chat template); kResourceExhausted ("prompt of N tokens does not
    // fit the context of M (max_tokens K)"). Later: kDeadlineExceeded when the deadline passes
    // before the first token, kUnavailable "shutting down", kInternal for an engine failure.
    // A deadline passing or a cancellation after the first token is a Generation with
    // Finish::kCancelled.
    Result<Generation> generate(const Request& request, const PieceCallback& on_piece) override;
    // What generate() checks before it queues: the same errors, nothing queued. An embedding
    // model refuses every request: kInvalidArgument "model 'X' is an embedding model; use
    // /v1/embeddings".
    Status check(const Request& request) const override;
    // Embedding models: one unit-length vector per input ([CLS] input [SEP] through the
    // encoder, pooled as the file says); prompt_tokens counts [CLS] and [SEP]. Errors:
    // kInvalidArgument (no inputs, more than kMaxEmbeddingInputs, invalid UTF-8 naming the
    // input); kResourceExhausted "input #i: input of N tokens is longer than the model's
    // context of M". Generators: Backend::embed's refusal.
    Result<Embeddings> embed(const EmbeddingRequest& request) override;
    static constexpr size_t kMaxEmbeddingInputs = 2048;  // as OpenAI's API
    size_t count_tokens(std::string_view text) const override;
    bool ready() const override { return true; }  // create() returns only a loaded model
    int active() const override { return n_active_.load(); }
    int waiting() const override { return n_waiting_.load(); }

    // The prompt ids generate() would evaluate for `request` (validation included).
    Result<std::vector<int32_t>> tokenize_request(const Request& request) const;
    int slots() const { return static_cast<int>(slots_.size()); }  // 0 for an embedding model
    int context() const { return context_; }  // an embedding model's: its longest input

  private:
    struct Job;
    struct Slot;

    Status validate(const Request& request) const;
    // Prompt tokens `session` already holds, at most all but the last prompt token.
    static size_t common_prefix(const engine::Session& session, std::span<const int32_t> prompt);
    // Scheduler-thread helpers.
    void scheduler_loop();
    void admit(Slot& slot, std::shared_ptr<Job> job);
    void step();  // one BatchEvaluator call over every active slot
    void finish_slot(Slot& slot, Finish finish);
    void fail_slot(Slot& slot, const Status& status);
    // Frees the slot; returns its job, which the caller then completes.
    std::shared_ptr<Job> release_slot(Slot& slot);

    std::shared_ptr<const engine::Model> model_;
    std::unique_ptr<engine::Encoder> encoder_;  // embedding models only
    std::optional<engine::ChatTemplateFamily> family_;
    std::unique_ptr<internal::ControlTexts> controls_;
    ModelInfo info_;
    int context_ = 0;
    int batch_ = 0;
    std::shared_ptr<engine::WorkerTeam> team_;
    std::unique_ptr<engine::BatchEvaluator> evaluator_;
    std::vector<std::unique_ptr<Slot>> slots_;  // touched by the scheduler thread only

    mutable std::mutex mutex_;  // guards queue_ and stopping_
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Job>> queue_;
    bool stopping_ = false;
    std::atomic<int> n_active_{0};
    std::atomic<int> n_waiting_{0};
    std::atomic<uint64_t> next_id_{1};
    uint64_t use_clock_ = 0;     // scheduler thread: orders slots by last use
    std::vector<float> logits_;  // scheduler thread: [items, n_vocab]
    std::thread scheduler_;
};

}  // namespace ward::llm
