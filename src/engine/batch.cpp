#include "engine/batch.h"

#include <algorithm>
#include <unordered_set>

namespace ward::engine {

BatchEvaluator::BatchEvaluator(std::shared_ptr<const Model> model, std::shared_ptr<WorkerTeam> team,
                               int max_rows)
    : model_(std::move(model)), team_(std::move(team)), max_rows_(std::max(1, max_rows)) {}

Status BatchEvaluator::eval(std::span<const BatchItem> items, std::vector<float>& logits) {
    if (items.empty()) return invalid_argument("batch: no items to evaluate");
    const int n_vocab = model_->hparams().n_vocab;
    std::unordered_set<const Session*> seen;
    int64_t n_rows = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const BatchItem& item = items[i];
        if (item.session == nullptr) return invalid_argument("batch: item {} has no session", i);
        if (&item.session->model() != model_.get()) {
            return invalid_argument("batch: item {} is a session of another model", i);
        }
        if (!seen.insert(item.session).second) {
            return invalid_argument("batch: item {} repeats the session of an earlier item", i);
        }
        if (item.tokens.empty()) return invalid_argument("batch: item {} has no tokens", i);
        for (size_t t = 0; t < item.tokens.size(); ++t) {
            if (item.tokens[t] < 0 || item.tokens[t] >= n_vocab) {
                return invalid_argument(
                    "batch: item {}: token id {} at position {} is outside the vocabulary of {}", i,
                    item.tokens[t], t, n_vocab);
            }
        }
        const Session& s = *item.session;
        if (int64_t{s.n_past()} + int64_t(item.tokens.size()) > s.n_ctx()) {
            return resource_exhausted(
                "batch: item {}: {} tokens do not fit: {} of the context of {} are used, {} are "
                "free",
                i, item.tokens.size(), s.n_past(), s.n_ctx(), s.n_ctx() - s.n_past());
        }
        n_rows += int64_t(item.tokens.size());
    }
    if (n_rows > max_rows_) {
        return invalid_argument("batch: {} rows exceed the evaluator's limit of {}", n_rows,
                                max_rows_);
    }
    logits.resize(items.size() * size_t(n_vocab));
    for (size_t i = 0; i < items.size(); ++i) {
        WARD_ASSIGN_OR_RETURN(std::span<const float> out, items[i].session->eval(items[i].tokens));
        std::copy(out.begin(), out.end(), logits.begin() + i * size_t(n_vocab));
    }
    return ok_status();
}

}  // namespace ward::engine
