#include "engine/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/ops.h"

namespace ward::engine {

namespace {
const float* f32(const GgufTensor* t) {
    return t ? reinterpret_cast<const float*>(t->data) : nullptr;
}
}  // namespace

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model,
                                                 SessionOptions options) {
    const HParams& hp = model->hparams();
    int n_ctx = options.n_ctx > 0 ? options.n_ctx : std::min(hp.n_ctx_train, 4096);
    if (n_ctx < 1 || n_ctx > (1 << 20)) {
        return invalid_argument("session: context length {} is out of range", n_ctx);
    }
    std::unique_ptr<Session> s(new Session());
    s->model_ = std::move(model);
    s->n_ctx_ = n_ctx;
    s->n_batch_ = std::max(1, options.n_batch);
    s->team_ = options.team;
    if (!s->team_) s->team_ = std::make_shared<WorkerTeam>(options.n_threads);
    s->ws_.team = s->team_.get();
    const size_t k_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim;
    const size_t v_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim_v;
    s->k_cache_.assign(hp.n_layer, std::vector<float>(static_cast<size_t>(n_ctx) * k_row));
    s->v_cache_.assign(hp.n_layer, std::vector<float>(static_cast<size_t>(n_ctx) * v_row));
    if (const GgufTensor* rf = s->model_->weights().rope_freqs) {
        const float* p = f32(rf);
        s->rope_freqs_.assign(p, p + rf->n_elements);
    }
    return s;
}

void Session::truncate(int n) {
    n = std::clamp(n, 0, n_past_);
    n_past_ = n;
    history_.resize(static_cast<size_t>(n));
}

Status Session::copy_prefix(const Session& from, int n) {
    if (from.model_.get() != model_.get()) {
        return invalid_argument("session: copy_prefix from a session of another model");
    }
    if (n < 0 || n > from.n_past_) {
        return invalid_argument("session: copy_prefix of {} tokens from a session that holds {}", n,
                                from.n_past_);
    }
    if (n > n_ctx_) {
        return resource_exhausted(
            "session: copy_prefix of {} tokens does not fit the context of {}", n, n_ctx_);
    }
    if (&from == this) {
        truncate(n);
        return ok_status();
    }
    const HParams& hp = model_->hparams();
    const size_t k_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim;
    const size_t v_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim_v;
    for (int il = 0; il < hp.n_layer; ++il) {
        std::copy_n(from.k_cache_[il].data(), size_t(n) * k_row, k_cache_[il].data());
        std::copy_n(from.v_cache_[il].data(), size_t(n) * v_row, v_cache_[il].data());
    }
    history_.assign(from.history_.begin(), from.history_.begin() + n);
    n_past_ = n;
    return ok_status();
}

Status Session::check(std::span<const int32_t> tokens) const {
    if (tokens.empty()) return invalid_argument("session: no tokens to evaluate");
    const int n_vocab = model_->hparams().n_vocab;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            return invalid_argument(
                "session: token id {} at position {} is outside the "
                "vocabulary of {}",
                tokens[i], i, n_vocab);
        }
    }
    if (static_cast<int64_t>(n_past_) + static_cast<int64_t>(tokens.size()) > n_ctx_) {
        return resource_exhausted(
            "session: {} tokens do not fit: {} of the context of {} are used, {} are free",
            tokens.size(), n_past_, n_ctx_, n_ctx_ - n_past_);
    }
    return ok_status();
}

Result<std::span<const float>> Session::eval(std::span<const int32_t> tokens) {
    WARD_TRY(check(tokens));
    const int n_vocab = model_->hparams().n_vocab;
    logits_.resize(static_cast<size_t>(n_vocab));
    for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
        auto batch = tokens.subspan(start, std::min(tokens.size() - start, size_t(n_batch_)));
        forward(batch, false, logits_.data());
    }
    return std::span<const float>(logits_);
}

Status Session::eval_all(std::span<const int32_t> tokens, std::vector<float>& logits) {
    WARD_TRY(check(tokens));
    const size_t n_vocab = static_cast<size_t>(model_->hparams().n_vocab);
    logits.resize(tokens.size() * n_vocab);
    for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
        auto batch = tokens.subspan(start, std::min(tokens.size() - start, size_t(n_batch_)));
        forward(batch, true, logits.data() + start * n_vocab);
    }
    return ok_status();
}

void Session::forward(std::span<const int32_t> tokens, bool all, float* logits_out) {
    const HParams& hp = model_->hparams();
    const ModelWeights& w = model_->weights();
    WorkerTeam* team = team_.get();
    const int T = static_cast<int>(tokens.size());
    const int E = hp.n_embd;
    const int q_dim = hp.n_head * hp.head_dim;
    const int k_dim = hp.n_head_kv * hp.head_dim;
    const int v_dim = hp.n_head_kv * hp.head_dim_v;
    const int o_dim = hp.n_head * hp.head_dim_v;
    const int group = hp.n_head / hp.n_head_kv;
    const int p0 = n_past_;

    x_.resize(size_t(T) * E);  // residual stream [T, E]
    xn_.resize(size_t(T) * std::max(E, o_dim));
    q_.resize(size_t(T) * q_dim);  // [T, n_head, head_dim]
    k_.resize(size_t(T) * k_dim);
    v_.resize(size_t(T) * v_dim);
    att_.resize(size_t(T) * o_dim);  // attention output [T, n_head, head_dim_v]
    o_.resize(size_t(T) * E);
    gate_.resize(size_t(T) * hp.n_ff);
    up_.resize(size_t(T) * hp.n_ff);

    for (int t = 0; t < T; ++t) {
        float* xt = x_.data() + size_t(t) * E;
        get_row(*w.token_embd, tokens[t], xt);
        if (hp.embd_scale != 1.0f) {
            for (int i = 0; i < E; ++i) xt[i] *= hp.embd_scale;
        }
    }

    const float* freq_factors = rope_freqs_.empty() ? nullptr : rope_freqs_.data();
    const bool neox = hp.rope_mode == RopeMode::kNeox;
    for (int il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& l = w.layers[il];
        const bool sliding = hp.is_sliding(il);
        const float base = sliding ? hp.rope_base_swa : hp.rope_base;
        const float freq_scale = sliding ? 1.0f : hp.rope_freq_scale;

        for (int t = 0; t < T; ++t) {
            rms_norm(x_.data() + size_t(t) * E, f32(l.attn_norm), xn_.data() + size_t(t) * E, E,
                     hp.norm_eps);
        }
        matmul(*l.wq, xn_.data(), T, q_.data(), ws_);
        matmul(*l.wk, xn_.data(), T, k_.data(), ws_);
        matmul(*l.wv, xn_.data(), T, v_.data(), ws_);

        float* kc = k_cache_[il].data();
        float* vc = v_cache_[il].data();
        for (int t = 0; t < T; ++t) {
            float* qt = q_.data() + size_t(t) * q_dim;
            float* kt = k_.data() + size_t(t) * k_dim;
            float* vt = v_.data() + size_t(t) * v_dim;
            if (l.bq) {
                for (int i = 0; i < q_dim; ++i) qt[i] += f32(l.bq)[i];
                for (int i = 0; i < k_dim; ++i) kt[i] += f32(l.bk)[i];
                for (int i = 0; i < v_dim; ++i) vt[i] += f32(l.bv)[i];
            }
            for (int h = 0; h < hp.n_head; ++h) {
                float* qh = qt + size_t(h) * hp.head_dim;
                if (l.q_norm) rms_norm(qh, f32(l.q_norm), qh, hp.head_dim, hp.norm_eps);
                rope(qh, hp.rope_dims, p0 + t, base, freq_scale, freq_factors, neox);
            }
            for (int h = 0; h < hp.n_head_kv; ++h) {
                float* kh = kt + size_t(h) * hp.head_dim;
                if (l.k_norm) rms_norm(kh, f32(l.k_norm), kh, hp.head_dim, hp.norm_eps);
                rope(kh, hp.rope_dims, p0 + t, base, freq_scale, freq_factors, neox);
            }
            std::memcpy(kc + size_t(p0 + t) * k_dim, kt, sizeof(float) * k_dim);
            std::memcpy(vc + size_t(p0 + t) * v_dim, vt, sizeof(float) * v_dim);
        }

        // Attention, one (token, head) pair per task: scores over the visible positions.
        auto attend = [&](size_t task) {
            thread_local std::vector<float> scores;
            const int t = static_cast<int>(task) / hp.n_head;
            const int h = static_cast<int>(task) % hp.n_head;
            const int pos = p0 + t;
            const int first = sliding ? std::max(0, pos - hp.sliding_window + 1) : 0;
            const int n = pos - first + 1;
            scores.resize(size_t(n));
            const float* qh = q_.data() + size_t(t) * q_dim + size_t(h) * hp.head_dim;
            const int kvh = h / group;
            for (int j = 0; j < n; ++j) {
                const float* kj = kc + size_t(first + j) * k_dim + size_t(kvh) * hp.head_dim;
                float s = 0;
                for (int i = 0; i < hp.head_dim; ++i) s += qh[i] * kj[i];
                scores[j] = s * hp.attn_scale;
            }
            softmax(scores.data(), n);
            float* out = att_.data() + size_t(t) * o_dim + size_t(h) * hp.head_dim_v;
            std::fill(out, out + hp.head_dim_v, 0.0f);
            for (int j = 0; j < n; ++j) {
                const float* vj = vc + size_t(first + j) * v_dim + size_t(kvh) * hp.head_dim_v;
                const float p = scores[j];
                for (int i = 0; i < hp.head_dim_v; ++i) out[i] += p * vj[i];
            }
        };
        const int64_t n_tasks = int64_t{T} * hp.n_head;
        // Attention reads n_past positions per (token, head); spread it when that is large.
        auto attend_range = [&](int ith, int nth) {
            int64_t begin, end;
            split_range(n_tasks, ith, nth, begin, end);
            for (int64_t i = begin; i < end; ++i) attend(static_cast<size_t>(i));
        };
        if (n_tasks * (p0 + T) * hp.head_dim >= (1 << 15)) {
            team->run(attend_range);
        } else {
            attend_range(0, 1);
        }

        matmul(*l.wo, att_.data(), T, o_.data(), ws_);
        for (int t = 0; t < T; ++t) {
            float* ot = o_.data() + size_t(t) * E;
            if (l.attn_post_norm) rms_norm(ot, f32(l.attn_post_norm), ot, E, hp.norm_eps);
            float* xt = x_.data() + size_t(t) * E;
            for (int i = 0; i < E; ++i) xt[i] += ot[i];
            rms_norm(xt, f32(l.ffn_norm), xn_.data() + size_t(t) * E, E, hp.norm_eps);
        }

        matmul(*l.ffn_gate, xn_.data(), T, gate_.data(), ws_);
        matmul(*l.ffn_up, xn_.data(), T, up_.data(), ws_);
        const size_t n_ff_total = size_t(T) * hp.n_ff;
        if (hp.arch == Arch::kGemma3) {
            for (size_t i = 0; i < n_ff_total; ++i) gate_[i] = gelu_tanh(gate_[i]) * up_[i];
        } else {
            for (size_t i = 0; i < n_ff_total; ++i) gate_[i] = silu(gate_[i]) * up_[i];
        }
        matmul(*l.ffn_down, gate_.data(), T, o_.data(), ws_);
        for (int t = 0; t < T; ++t) {
            float* ot = o_.data() + size_t(t) * E;
            if (l.ffn_post_norm) rms_norm(ot, f32(l.ffn_post_norm), ot, E, hp.norm_eps);
            float* xt = x_.data() + size_t(t) * E;
            for (int i = 0; i < E; ++i) xt[i] += ot[i];
        }
    }

    // Output: the final norm and the vocabulary projection, for the last token or all.
    const int first_out = all ? 0 : T - 1;
    const int n_out = T - first_out;
    for (int t = 0; t < n_out; ++t) {
        rms_norm(x_.data() + size_t(first_out + t) * E, f32(w.output_norm),
                 xn_.data() + size_t(t) * E, E, hp.norm_eps);
    }
    matmul(*w.output, xn_.data(), n_out, logits_out, ws_);

    n_past_ += T;
    history_.insert(history_.end(), tokens.begin(), tokens.end());
}

}  // namespace ward::engine
