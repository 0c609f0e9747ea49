#include "engine/batch.h"

#include <algorithm>

namespace ward::engine {

BatchEvaluator::BatchEvaluator(std::shared_ptr<const Model> model, std::shared_ptr<WorkerTeam> team,
                               int max_rows)
    : model_(std::move(model)), team_(std::move(team)), max_rows_(std::max(1, max_rows)) {
    scratch_.ws.team = team_.get();
}

Status BatchEvaluator::eval(std::span<const BatchItem> items, std::vector<float>& logits) {
    if (items.empty()) return invalid_argument("batch: no items to evaluate");
    int64_t n_rows = 0;
    sessions_.clear();
    for (size_t i = 0; i < items.size(); ++i) {
        const BatchItem& item = items[i];
        if (item.session == nullptr) return invalid_argument("batch: item {} has no session", i);
        if (&item.session->model() != model_.get()) {
            return invalid_argument("batch: item {} is a session of another model", i);
        }
        if (Status st = item.session->check(item.tokens); !st.ok()) {
            return st.with_context(fmt::format("batch: item {}", i));
        }
        sessions_.push_back(item.session);
        n_rows += static_cast<int64_t>(item.tokens.size());
    }
    std::sort(sessions_.begin(), sessions_.end());
    if (std::adjacent_find(sessions_.begin(), sessions_.end()) != sessions_.end()) {
        return invalid_argument("batch: the same session appears in more than one item");
    }
    if (n_rows > max_rows_) {
        return invalid_argument("batch: {} rows exceed the evaluator's limit of {}", n_rows,
                                max_rows_);
    }

    forward_items_.clear();
    for (const BatchItem& item : items)
        forward_items_.push_back({item.session, item.tokens, false});
    logits.resize(items.size() * static_cast<size_t>(model_->hparams().n_vocab));
    detail::forward(*model_, forward_items_, scratch_, logits.data());
    return ok_status();
}

}  // namespace ward::engine
