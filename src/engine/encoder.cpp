#include "engine/encoder.h"

#include <algorithm>
#include <cmath>

#include "engine/kernels.h"
#include "engine/ops.h"

namespace ward::engine {

namespace {

const float* f32(const GgufTensor* t) {
    return t ? reinterpret_cast<const float*>(t->data) : nullptr;
}

void add_bias(float* rows, int n_rows, int width, const GgufTensor* bias) {
    const float* b = f32(bias);
    for (int r = 0; r < n_rows; ++r) {
        float* row = rows + size_t(r) * width;
        for (int i = 0; i < width; ++i) row[i] += b[i];
    }
}

}  // namespace

Result<std::unique_ptr<Encoder>> Encoder::create(std::shared_ptr<const Model> model,
                                                 EncoderOptions options) {
    if (!model) return invalid_argument("encoder: no model");
    if (!model->hparams().is_encoder()) {
        return invalid_argument(
            "encoder: model '{}' is a decoder; embeddings need an encoder model such as bert",
            arch_name(model->hparams().arch));
    }
    std::unique_ptr<Encoder> e(new Encoder());
    e->model_ = std::move(model);
    e->team_ = options.team ? options.team : std::make_shared<WorkerTeam>(options.n_threads);
    e->max_batch_tokens_ = std::max(1, options.max_batch_tokens);
    return e;
}

int Encoder::dim() const {
    return model_->hparams().n_embd;
}

int Encoder::max_tokens() const {
    return model_->hparams().n_ctx_train;
}

std::vector<int32_t> Encoder::tokenize(std::string_view text) const {
    return model_->tokenizer().encode(text, /*add_bos=*/true);
}

Result<std::vector<float>> Encoder::embed(std::string_view text) const {
    std::vector<std::vector<int32_t>> inputs(1, tokenize(text));
    const int n = static_cast<int>(inputs[0].size());
    if (n > max_tokens()) {
        return resource_exhausted("input of {} tokens is longer than the model's context of {}", n,
                                  max_tokens());
    }
    WARD_ASSIGN_OR_RETURN(auto out, embed_tokens(inputs));
    return std::move(out[0]);
}

Result<std::vector<std::vector<float>>> Encoder::embed_batch(
    std::span<const std::string> texts) const {
    std::vector<std::vector<int32_t>> inputs;
    inputs.reserve(texts.size());
    for (const std::string& text : texts) inputs.push_back(tokenize(text));
    return embed_tokens(inputs);
}

Result<std::vector<std::vector<float>>> Encoder::embed_tokens(
    std::span<const std::vector<int32_t>> inputs) const {
    const int n_vocab = model_->hparams().n_vocab;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto& ids = inputs[i];
        if (ids.empty()) return invalid_argument("input #{}: no tokens to embed", i);
        if (static_cast<int64_t>(ids.size()) > max_tokens()) {
            return resource_exhausted(
                "input #{}: input of {} tokens is longer than the model's context of {}", i,
                ids.size(), max_tokens());
        }
        for (size_t t = 0; t < ids.size(); ++t) {
            if (ids[t] < 0 || ids[t] >= n_vocab) {
                return invalid_argument(
                    "input #{}: token id {} at position {} is outside the vocabulary of {}", i,
                    ids[t], t, n_vocab);
            }
        }
    }
    std::vector<std::vector<float>> out(inputs.size());
    // Group consecutive inputs up to max_batch_tokens_ rows per forward pass.
    size_t begin = 0;
    while (begin < inputs.size()) {
        size_t end = begin;
        size_t rows = 0;
        while (end < inputs.size() &&
               (end == begin || rows + inputs[end].size() <= size_t(max_batch_tokens_))) {
            rows += inputs[end].size();
            ++end;
        }
        forward(inputs.subspan(begin, end - begin),
                std::span<std::vector<float>>(out).subspan(begin, end - begin));
        begin = end;
    }
    return out;
}

void Encoder::forward(std::span<const std::vector<int32_t>> inputs,
                      std::span<std::vector<float>> out) const {
    const HParams& hp = model_->hparams();
    const ModelWeights& w = model_->weights();
    const int E = hp.n_embd;
    const int F = hp.n_ff;
    const int D = hp.head_dim;
    const int H = hp.n_head;
    const float eps = hp.norm_eps;

    // Rows: the tokens of every input, input after input; seq_start[s] is input s's first row.
    std::vector<int> seq_start(inputs.size() + 1, 0);
    for (size_t s = 0; s < inputs.size(); ++s) {
        seq_start[s + 1] = seq_start[s] + static_cast<int>(inputs[s].size());
    }
    const int T = seq_start.back();
    std::vector<int> row_seq(static_cast<size_t>(T));
    for (size_t s = 0; s < inputs.size(); ++s) {
        std::fill(row_seq.begin() + seq_start[s], row_seq.begin() + seq_start[s + 1],
                  static_cast<int>(s));
    }

    Workspace ws;
    ws.team = team_.get();
    std::vector<float> x(size_t(T) * E);  // hidden states [T, E]
    std::vector<float> q(size_t(T) * E), k(size_t(T) * E), v(size_t(T) * E);
    std::vector<float> att(size_t(T) * E), o(size_t(T) * E);  // [T, n_head, head_dim], [T, E]
    std::vector<float> up(size_t(T) * F);                     // [T, n_ff]
    std::vector<float> row(static_cast<size_t>(E));

    // Embeddings: token + learned position + token type 0 ("sentence A"), then LayerNorm.
    std::vector<float> type0(static_cast<size_t>(E), 0.0f);
    if (w.token_types) get_row(*w.token_types, 0, type0.data());
    for (int r = 0; r < T; ++r) {
        const int s = row_seq[r];
        const int pos = r - seq_start[s];
        float* xr = x.data() + size_t(r) * E;
        get_row(*w.token_embd, inputs[s][pos], xr);
        get_row(*w.position_embd, pos, row.data());
        for (int i = 0; i < E; ++i) xr[i] += row[i] + type0[i];
        layer_norm(xr, f32(w.token_embd_norm), f32(w.token_embd_norm_b), xr, E, eps);
    }

    const float scale = 1.0f / std::sqrt(static_cast<float>(D));
    const kernels::KernelSet& kern = kernels::active_kernels();
    for (int il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& l = w.layers[il];
        matmul(*l.wq, x.data(), T, q.data(), ws);
        matmul(*l.wk, x.data(), T, k.data(), ws);
        matmul(*l.wv, x.data(), T, v.data(), ws);
        add_bias(q.data(), T, E, l.bq);
        add_bias(k.data(), T, E, l.bk);
        add_bias(v.data(), T, E, l.bv);

        // Bidirectional attention: row r, head h attends to every row of its own input.
        auto attend = [&](int64_t task) {
            thread_local std::vector<float> scores;
            const int r = static_cast<int>(task / H);
            const int h = static_cast<int>(task % H);
            const int s = row_seq[r];
            const int first = seq_start[s];
            const int n = seq_start[s + 1] - first;
            scores.resize(size_t(n));
            const float* qh = q.data() + size_t(r) * E + size_t(h) * D;
            for (int j = 0; j < n; ++j) {
                const float* kj = k.data() + size_t(first + j) * E + size_t(h) * D;
                scores[j] = kern.dot(qh, kj, D) * scale;
            }
            softmax(scores.data(), n);
            float* out_h = att.data() + size_t(r) * E + size_t(h) * D;
            std::fill(out_h, out_h + D, 0.0f);
            for (int j = 0; j < n; ++j) {
                const float* vj = v.data() + size_t(first + j) * E + size_t(h) * D;
                const float p = scores[j];
                for (int i = 0; i < D; ++i) out_h[i] += p * vj[i];
            }
        };
        const int64_t n_tasks = int64_t{T} * H;
        int64_t reads = 0;  // key rows read over all tasks, to decide whether to spread them
        for (size_t s = 0; s < inputs.size(); ++s) {
            const int64_t n = seq_start[s + 1] - seq_start[s];
            reads += n * n;
        }
        auto attend_range = [&](int ith, int nth) {
            int64_t b, e;
            split_range(n_tasks, ith, nth, b, e);
            for (int64_t i = b; i < e; ++i) attend(i);
        };
        if (ws.team && reads * E >= (1 << 15)) {
            ws.team->run(attend_range);
        } else {
            attend_range(0, 1);
        }

        // Post-norm residuals: x = LN(x + attn_out), then x = LN(x + FFN(x)).
        matmul(*l.wo, att.data(), T, o.data(), ws);
        add_bias(o.data(), T, E, l.bo);
        for (int r = 0; r < T; ++r) {
            float* xr = x.data() + size_t(r) * E;
            const float* orow = o.data() + size_t(r) * E;
            for (int i = 0; i < E; ++i) xr[i] += orow[i];
            layer_norm(xr, f32(l.attn_out_norm), f32(l.attn_out_norm_b), xr, E, eps);
        }
        matmul(*l.ffn_up, x.data(), T, up.data(), ws);
        add_bias(up.data(), T, F, l.ffn_up_b);
        for (float& u : up) u = gelu_erf(u);
        matmul(*l.ffn_down, up.data(), T, o.data(), ws);
        add_bias(o.data(), T, E, l.ffn_down_b);
        for (int r = 0; r < T; ++r) {
            float* xr = x.data() + size_t(r) * E;
            const float* orow = o.data() + size_t(r) * E;
            for (int i = 0; i < E; ++i) xr[i] += orow[i];
            layer_norm(xr, f32(l.layer_out_norm), f32(l.layer_out_norm_b), xr, E, eps);
        }
    }

    // Pooling, then L2 normalisation.
    for (size_t s = 0; s < inputs.size(); ++s) {
        std::vector<double> sum(static_cast<size_t>(E), 0.0);
        const int first = seq_start[s];
        const int n = seq_start[s + 1] - first;
        const int pooled_rows = hp.pooling == Pooling::kCls ? 1 : n;
        for (int r = first; r < first + pooled_rows; ++r) {
            const float* xr = x.data() + size_t(r) * E;
            for (int i = 0; i < E; ++i) sum[i] += xr[i];
        }
        double norm = 0;
        for (int i = 0; i < E; ++i) {
            sum[i] /= pooled_rows;
            norm += sum[i] * sum[i];
        }
        norm = std::sqrt(norm);
        std::vector<float>& vec = out[s];
        vec.resize(static_cast<size_t>(E));
        for (int i = 0; i < E; ++i) vec[i] = norm > 0 ? static_cast<float>(sum[i] / norm) : 0.0f;
    }
}

}  // namespace ward::engine
