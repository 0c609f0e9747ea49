// Batched evaluation for continuous batching: several Sessions over the same Model advance in
// one forward pass. The rows (tokens) of all items form one activation matrix, so every weight
// is read from memory once per call for all of them; norms, RoPE and attention run per row at
// the row's own position against its own session's KV cache (causal within an item). A server
// decodes one token for every active request per step, plus chunks of newly admitted prompts,
// in a single call.
//
// Thread safety: one thread at a time per BatchEvaluator; the items' sessions must not be used
// by other threads during a call. The evaluator's worker team must not run anything else
// concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/session.h"

namespace ward::engine {

struct BatchItem {
    Session* session;                 // distinct sessions over the same Model
    std::span<const int32_t> tokens;  // appended at session->n_past(); not empty
};

// Evaluates several sessions in one forward pass: rows of all items form one activation
// matrix, so every weight is read once per call for all of them; attention is per item over
// its own KV cache at its own positions. Thread safety: one thread at a time per evaluator;
// the items' sessions must not be used by other threads during the call.
class BatchEvaluator {
  public:
    // team: the worker team the forward pass runs on (shared with nothing else running
    // concurrently; null: the calling thread alone). max_rows: most rows (sum of tokens) per
    // call (values below 1 count as 1).
    BatchEvaluator(std::shared_ptr<const Model> model, std::shared_ptr<WorkerTeam> team,
                   int max_rows = 512);
    BatchEvaluator(const BatchEvaluator&) = delete;
    BatchEvaluator& operator=(const BatchEvaluator&) = delete;

    // Writes the logits of each item's LAST token to logits[i * n_vocab, (i+1) * n_vocab).
    // Errors (checked for every item before anything changes; nothing changes on error):
    // kInvalidArgument (empty items or tokens, ids outside the vocabulary, a session of
    // another model, the same session twice, more rows than max_rows), kResourceExhausted
    // (an item does not fit its session's context; the message names the item index).
    Status eval(std::span<const BatchItem> items, std::vector<float>& logits);

    int max_rows() const { return max_rows_; }
    const Model& model() const { return *model_; }

  private:
    std::shared_ptr<const Model> model_;
    std::shared_ptr<WorkerTeam> team_;
    int max_rows_ = 0;
    // Reused across calls, so a warmed-up evaluator does not allocate per step.
    detail::ForwardScratch scratch_;
    std::vector<detail::ForwardItem> forward_items_;
    std::vector<const Session*> sessions_;  // for the duplicate check
};

}  // namespace ward::engine
