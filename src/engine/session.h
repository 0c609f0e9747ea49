// A Session is one conversation's state over a shared Model: the KV cache, the current
// position and the scratch buffers of the forward pass. Prompts are processed in batches
// (every weight row decoded once per batch), then tokens one at a time.
//
// Thread safety: a Session is used by one thread at a time; many Sessions may share a Model
// and run concurrently. The forward pass itself spreads work over the session's worker team.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/parallel.h"

namespace ward::engine {

struct SessionOptions {
    int n_ctx = 0;      // context length in tokens; 0: min(the model's training context, 4096)
    int n_threads = 0;  // 0: the machine's hardware threads
    int n_batch = 256;  // prompt tokens per forward batch
    // A worker team to share between sessions; when null the session makes its own of
    // n_threads (the calling thread counts as one).
    std::shared_ptr<WorkerTeam> team;
};

class Session {
  public:
    // Errors: kInvalidArgument for a context length outside [1, 1<<20].
    static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model,
                                                   SessionOptions options = {});

    // Appends `tokens` at the current position and returns the logits of the last one
    // ([n_vocab], valid until the next call). Errors (nothing is changed on error):
    // kInvalidArgument for an empty input or an id outside the vocabulary; kResourceExhausted
    // when n_past() + tokens.size() exceeds n_ctx() ("N tokens do not fit: ...").
    Result<std::span<const float>> eval(std::span<const int32_t> tokens);
    // Same, but writes the logits of every token to `logits` ([tokens.size(), n_vocab]).
    Status eval_all(std::span<const int32_t> tokens, std::vector<float>& logits);

    int n_past() const { return n_past_; }
    int n_ctx() const { return n_ctx_; }
    const Model& model() const { return *model_; }
    std::span<const int32_t> history() const { return history_; }
    // The worker team this session's own eval() runs on.
    const std::shared_ptr<WorkerTeam>& team() const { return team_; }
    // Forgets everything after the first n tokens (n <= n_past()); the cache keeps the prefix.
    void truncate(int n);
    void reset() { truncate(0); }
    // Makes this session the first n tokens of `from` (their KV rows and history are copied;
    // n_past() becomes n), e.g. to reuse a shared system prompt. Errors (nothing is changed on
    // error): kInvalidArgument when `from` runs another model or n is outside
    // [0, from.n_past()]; kResourceExhausted when n > n_ctx().
    Status copy_prefix(const Session& from, int n);

  private:
    Session() = default;
    Status check(std::span<const int32_t> tokens) const;
    // Runs one batch; writes logits of the last token, or of all tokens when `all`.
    void forward(std::span<const int32_t> tokens, bool all, float* logits_out);

    std::shared_ptr<const Model> model_;
    std::shared_ptr<WorkerTeam> team_;
    Workspace ws_;
    int n_ctx_ = 0;
    int n_batch_ = 0;
    int n_past_ = 0;
    std::vector<int32_t> history_;
    // KV cache per layer: [n_ctx, n_head_kv * head_dim] and [n_ctx, n_head_kv * head_dim_v].
    std::vector<std::vector<float>> k_cache_, v_cache_;
    // Scratch, sized for one batch.
    std::vector<float> x_, xn_, q_, k_, v_, att_, o_, gate_, up_, logits_;
    std::vector<float> rope_freqs_;
};

}  // namespace ward::engine
