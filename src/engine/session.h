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

class Session;

namespace detail {

// Internal to the engine (Session and BatchEvaluator): the one forward pass, over "rows" that
// each belong to a session. Matrix products run once over all rows; norms, RoPE and attention
// run per row at its own position against its own session's KV cache.
struct ForwardItem {
    Session* session = nullptr;       // distinct sessions of the same model
    std::span<const int32_t> tokens;  // appended at session->n_past(); checked by the caller
    bool all_logits = false;          // logits of every token, else of the last one only
};

// Scratch of the forward pass, grown to the largest batch seen and then reused.
struct ForwardScratch {
    Workspace ws;
    std::vector<float> x, xn, q, k, v, att, o, gate, up;  // [rows, width]
    std::vector<int> row_item, row_pos;                   // [rows]: owning item, position
    std::vector<int> out_rows;                            // rows whose logits are wanted
};

// Appends each item's tokens to its session and writes the wanted logits to logits_out in item
// order ([n_out, n_vocab]). REQUIRES: every item checked (ids in the vocabulary, fits the
// context), sessions distinct and of `model`.
void forward(const Model& model, std::span<const ForwardItem> items, ForwardScratch& scratch,
             float* logits_out);

}  // namespace detail

// How the KV cache stores keys and values: F16 halves its memory (the default; attention
// converts with F16C on x86), F32 keeps them exact.
enum class KvCacheType { kF16, kF32 };

struct SessionOptions {
    int n_ctx = 0;      // context length in tokens; 0: min(the model's training context, 4096)
    int n_threads = 0;  // 0: the machine's hardware threads
    int n_batch = 256;  // prompt tokens per forward batch
    // A worker team to share between sessions; when null the session makes its own of
    // n_threads (the calling thread counts as one).
    std::shared_ptr<WorkerTeam> team;
    KvCacheType kv_type = KvCacheType::kF16;
};

class Session {
  public:
    // Errors: kInvalidArgument for a context length outside [1, 1<<20] or an encoder model
    // (arch bert: use engine/encoder.h).
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
    KvCacheType kv_type() const { return kv_type_; }
    // Bytes of the KV cache (allocated at creation for the whole context).
    size_t kv_cache_bytes() const;
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

    // Checks that `tokens` can be appended, as eval() does first: errors as eval()'s.
    Status check(std::span<const int32_t> tokens) const;

  private:
    friend void detail::forward(const Model& model, std::span<const detail::ForwardItem> items,
                                detail::ForwardScratch& scratch, float* logits_out);
    Session() = default;

    std::shared_ptr<const Model> model_;
    std::shared_ptr<WorkerTeam> team_;
    int n_ctx_ = 0;
    KvCacheType kv_type_ = KvCacheType::kF16;
    int n_batch_ = 0;
    int n_past_ = 0;
    std::vector<int32_t> history_;
    // KV cache per layer: [n_ctx, n_head_kv * head_dim] and [n_ctx, n_head_kv * head_dim_v],
    // elements of kv_type_ (IEEE half bits or float), as raw bytes.
    std::vector<std::vector<uint8_t>> k_cache_, v_cache_;
    // Scratch of this session's own eval() (empty while only a BatchEvaluator drives it).
    detail::ForwardScratch scratch_;
    std::vector<float> logits_;
};

}  // namespace ward::engine
