#include "engine/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/kernels.h"
#include "engine/ops.h"

namespace ward::engine {

namespace {
const float* f32(const GgufTensor* t) {
    return t ? reinterpret_cast<const float*>(t->data) : nullptr;
}

size_t kv_element_bytes(KvCacheType type) {
    return type == KvCacheType::kF16 ? sizeof(uint16_t) : sizeof(float);
}
}  // namespace

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model,
                                                 SessionOptions options) {
    const HParams& hp = model->hparams();
    if (hp.is_encoder()) {
        return invalid_argument(
            "session: '{}' is an encoder (embedding) model; it runs in an Encoder, not a Session",
            arch_name(hp.arch));
    }
    int n_ctx = options.n_ctx > 0 ? options.n_ctx : std::min(hp.n_ctx_train, 4096);
    if (n_ctx < 1 || n_ctx > (1 << 20)) {
        return invalid_argument("session: context length {} is out of range", n_ctx);
    }
    std::unique_ptr<Session> s(new Session());
    s->model_ = std::move(model);
    s->n_ctx_ = n_ctx;
    s->kv_type_ = options.kv_type;
    s->n_batch_ = std::max(1, options.n_batch);
    s->team_ = options.team;
    if (!s->team_) s->team_ = std::make_shared<WorkerTeam>(options.n_threads);
    s->scratch_.ws.team = s->team_.get();
    const size_t elem = kv_element_bytes(s->kv_type_);
    const size_t k_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim * elem;
    const size_t v_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim_v * elem;
    s->k_cache_.assign(hp.n_layer, std::vector<uint8_t>(static_cast<size_t>(n_ctx) * k_row));
    s->v_cache_.assign(hp.n_layer, std::vector<uint8_t>(static_cast<size_t>(n_ctx) * v_row));
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
    if (from.kv_type_ != kv_type_) {
        return invalid_argument("session: copy_prefix between KV caches of different types");
    }
    if (&from == this) {
        truncate(n);
        return ok_status();
    }
    const HParams& hp = model_->hparams();
    const size_t elem = kv_element_bytes(kv_type_);
    const size_t k_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim * elem;
    const size_t v_row = static_cast<size_t>(hp.n_head_kv) * hp.head_dim_v * elem;
    for (int il = 0; il < hp.n_layer; ++il) {
        std::copy_n(from.k_cache_[il].data(), size_t(n) * k_row, k_cache_[il].data());
        std::copy_n(from.v_cache_[il].data(), size_t(n) * v_row, v_cache_[il].data());
    }
    history_.assign(from.history_.begin(), from.history_.begin() + n);
    n_past_ = n;
    return ok_status();
}

size_t Session::kv_cache_bytes() const {
    size_t total = 0;
    for (const auto& k : k_cache_) total += k.size();
    for (const auto& v : v_cache_) total += v.size();
    return total;
}

Status Session::check(std::span<const int32_t> tokens) const {
    if (tokens.empty()) return invalid_argument("session: no tokens to evaluate");
    const int n_vocab = model_->hparams().n_vocab;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            return invalid_argument(
                "session: token id {} at position {} is outside the vocabulary of {}", tokens[i], i,
                n_vocab);
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
        const detail::ForwardItem item{
            this, tokens.subspan(start, std::min(tokens.size() - start, size_t(n_batch_))), false};
        detail::forward(*model_, {&item, 1}, scratch_, logits_.data());
    }
    return std::span<const float>(logits_);
}

Status Session::eval_all(std::span<const int32_t> tokens, std::vector<float>& logits) {
    WARD_TRY(check(tokens));
    const size_t n_vocab = static_cast<size_t>(model_->hparams().n_vocab);
    logits.resize(tokens.size() * n_vocab);
    for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch_)) {
        const detail::ForwardItem item{
            this, tokens.subspan(start, std::min(tokens.size() - start, size_t(n_batch_))), true};
        detail::forward(*model_, {&item, 1}, scratch_, logits.data() + start * n_vocab);
    }
    return ok_status();
}

namespace detail {

void forward(const Model& model, std::span<const ForwardItem> items, ForwardScratch& sc,
             float* logits_out) {
    const HParams& hp = model.hparams();
    const ModelWeights& w = model.weights();
    Workspace& ws = sc.ws;
    const int E = hp.n_embd;
    const int q_dim = hp.n_head * hp.head_dim;
    const int k_dim = hp.n_head_kv * hp.head_dim;
    const int v_dim = hp.n_head_kv * hp.head_dim_v;
    const int o_dim = hp.n_head * hp.head_dim_v;
    const int group = hp.n_head / hp.n_head_kv;
    const kernels::KernelSet& kern = kernels::active_kernels();

    // Rows: every token of every item, item after item; each knows its item and position.
    sc.row_item.clear();
    sc.row_pos.clear();
    sc.out_rows.clear();
    for (size_t i = 0; i < items.size(); ++i) {
        const int p0 = items[i].session->n_past_;
        const int n = static_cast<int>(items[i].tokens.size());
        for (int t = 0; t < n; ++t) {
            if (items[i].all_logits || t == n - 1) {
                sc.out_rows.push_back(static_cast<int>(sc.row_item.size()));
            }
            sc.row_item.push_back(static_cast<int>(i));
            sc.row_pos.push_back(p0 + t);
        }
    }
    const int T = static_cast<int>(sc.row_item.size());

    sc.x.resize(size_t(T) * E);  // residual stream [T, E]
    sc.xn.resize(size_t(T) * std::max(E, o_dim));
    sc.q.resize(size_t(T) * q_dim);  // [T, n_head, head_dim]
    sc.k.resize(size_t(T) * k_dim);
    sc.v.resize(size_t(T) * v_dim);
    sc.att.resize(size_t(T) * o_dim);  // attention output [T, n_head, head_dim_v]
    sc.o.resize(size_t(T) * E);
    sc.gate.resize(size_t(T) * hp.n_ff);
    sc.up.resize(size_t(T) * hp.n_ff);

    {
        int r = 0;
        for (const ForwardItem& item : items) {
            for (const int32_t token : item.tokens) {
                float* xr = sc.x.data() + size_t(r++) * E;
                get_row(*w.token_embd, token, xr);
                if (hp.embd_scale != 1.0f) {
                    for (int i = 0; i < E; ++i) xr[i] *= hp.embd_scale;
                }
            }
        }
    }

    const float* freq_factors = f32(w.rope_freqs);
    const bool neox = hp.rope_mode == RopeMode::kNeox;
    // Attention work: positions read per (row, head), to decide whether to spread it.
    int64_t attention_reads = 0;
    for (int r = 0; r < T; ++r) attention_reads += sc.row_pos[r] + 1;
    for (int il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& l = w.layers[il];
        const bool sliding = hp.is_sliding(il);
        const float base = sliding ? hp.rope_base_swa : hp.rope_base;
        const float freq_scale = sliding ? 1.0f : hp.rope_freq_scale;

        for (int r = 0; r < T; ++r) {
            rms_norm(sc.x.data() + size_t(r) * E, f32(l.attn_norm), sc.xn.data() + size_t(r) * E, E,
                     hp.norm_eps);
        }
        matmul(*l.wq, sc.xn.data(), T, sc.q.data(), ws);
        matmul(*l.wk, sc.xn.data(), T, sc.k.data(), ws);
        matmul(*l.wv, sc.xn.data(), T, sc.v.data(), ws);

        for (int r = 0; r < T; ++r) {
            Session& s = *items[sc.row_item[r]].session;
            const int pos = sc.row_pos[r];
            float* qr = sc.q.data() + size_t(r) * q_dim;
            float* kr = sc.k.data() + size_t(r) * k_dim;
            float* vr = sc.v.data() + size_t(r) * v_dim;
            if (l.bq) {
                for (int i = 0; i < q_dim; ++i) qr[i] += f32(l.bq)[i];
                for (int i = 0; i < k_dim; ++i) kr[i] += f32(l.bk)[i];
                for (int i = 0; i < v_dim; ++i) vr[i] += f32(l.bv)[i];
            }
            for (int h = 0; h < hp.n_head; ++h) {
                float* qh = qr + size_t(h) * hp.head_dim;
                if (l.q_norm) rms_norm(qh, f32(l.q_norm), qh, hp.head_dim, hp.norm_eps);
                rope(qh, hp.rope_dims, pos, base, freq_scale, freq_factors, neox);
            }
            for (int h = 0; h < hp.n_head_kv; ++h) {
                float* kh = kr + size_t(h) * hp.head_dim;
                if (l.k_norm) rms_norm(kh, f32(l.k_norm), kh, hp.head_dim, hp.norm_eps);
                rope(kh, hp.rope_dims, pos, base, freq_scale, freq_factors, neox);
            }
            if (s.kv_type_ == KvCacheType::kF16) {
                kern.to_f16(
                    kr, reinterpret_cast<uint16_t*>(s.k_cache_[il].data()) + size_t(pos) * k_dim,
                    k_dim);
                kern.to_f16(
                    vr, reinterpret_cast<uint16_t*>(s.v_cache_[il].data()) + size_t(pos) * v_dim,
                    v_dim);
            } else {
                std::memcpy(reinterpret_cast<float*>(s.k_cache_[il].data()) + size_t(pos) * k_dim,
                            kr, sizeof(float) * k_dim);
                std::memcpy(reinterpret_cast<float*>(s.v_cache_[il].data()) + size_t(pos) * v_dim,
                            vr, sizeof(float) * v_dim);
            }
        }

        // Attention, one (row, head) pair per task: scores over the positions the row sees in
        // its own session's cache (its earlier rows in this pass are already there: causal).
        auto attend = [&](int64_t task) {
            thread_local std::vector<float> scores;
            const int r = static_cast<int>(task / hp.n_head);
            const int h = static_cast<int>(task % hp.n_head);
            const Session& s = *items[sc.row_item[r]].session;
            const int pos = sc.row_pos[r];
            const int first = sliding ? std::max(0, pos - hp.sliding_window + 1) : 0;
            const int n = pos - first + 1;
            scores.resize(size_t(n));
            const float* qh = sc.q.data() + size_t(r) * q_dim + size_t(h) * hp.head_dim;
            float* out = sc.att.data() + size_t(r) * o_dim + size_t(h) * hp.head_dim_v;
            std::fill(out, out + hp.head_dim_v, 0.0f);
            // Head kvh of position j: K at j * k_dim + kvh * head_dim (V likewise).
            const size_t k_off = size_t(first) * k_dim + size_t(h / group) * hp.head_dim;
            const size_t v_off = size_t(first) * v_dim + size_t(h / group) * hp.head_dim_v;
            if (s.kv_type_ == KvCacheType::kF16) {
                const auto* kc = reinterpret_cast<const uint16_t*>(s.k_cache_[il].data()) + k_off;
                const auto* vc = reinterpret_cast<const uint16_t*>(s.v_cache_[il].data()) + v_off;
                for (int j = 0; j < n; ++j) {
                    scores[j] =
                        kern.dot_f16(kc + size_t(j) * k_dim, qh, hp.head_dim) * hp.attn_scale;
                }
                softmax(scores.data(), n);
                for (int j = 0; j < n; ++j) {
                    kern.axpy_f16(scores[j], vc + size_t(j) * v_dim, out, hp.head_dim_v);
                }
                return;
            }
            const auto* kc = reinterpret_cast<const float*>(s.k_cache_[il].data()) + k_off;
            const auto* vc = reinterpret_cast<const float*>(s.v_cache_[il].data()) + v_off;
            for (int j = 0; j < n; ++j) {
                const float* kj = kc + size_t(j) * k_dim;
                float dot = 0;
                for (int i = 0; i < hp.head_dim; ++i) dot += qh[i] * kj[i];
                scores[j] = dot * hp.attn_scale;
            }
            softmax(scores.data(), n);
            for (int j = 0; j < n; ++j) {
                const float* vj = vc + size_t(j) * v_dim;
                const float p = scores[j];
                for (int i = 0; i < hp.head_dim_v; ++i) out[i] += p * vj[i];
            }
        };
        const int64_t n_tasks = int64_t{T} * hp.n_head;
        auto attend_range = [&](int ith, int nth) {
            int64_t begin, end;
            split_range(n_tasks, ith, nth, begin, end);
            for (int64_t i = begin; i < end; ++i) attend(i);
        };
        // Spread attention over the team when it reads enough of the caches to pay for it.
        if (ws.team && attention_reads * hp.n_head * hp.head_dim >= (1 << 15)) {
            ws.team->run(attend_range);
        } else {
            attend_range(0, 1);
        }

        matmul(*l.wo, sc.att.data(), T, sc.o.data(), ws);
        for (int r = 0; r < T; ++r) {
            float* orow = sc.o.data() + size_t(r) * E;
            if (l.attn_post_norm) rms_norm(orow, f32(l.attn_post_norm), orow, E, hp.norm_eps);
            float* xr = sc.x.data() + size_t(r) * E;
            for (int i = 0; i < E; ++i) xr[i] += orow[i];
            rms_norm(xr, f32(l.ffn_norm), sc.xn.data() + size_t(r) * E, E, hp.norm_eps);
        }

        matmul(*l.ffn_gate, sc.xn.data(), T, sc.gate.data(), ws);
        matmul(*l.ffn_up, sc.xn.data(), T, sc.up.data(), ws);
        const size_t n_ff_total = size_t(T) * hp.n_ff;
        if (hp.arch == Arch::kGemma3) {
            for (size_t i = 0; i < n_ff_total; ++i) sc.gate[i] = gelu_tanh(sc.gate[i]) * sc.up[i];
        } else {
            for (size_t i = 0; i < n_ff_total; ++i) sc.gate[i] = silu(sc.gate[i]) * sc.up[i];
        }
        matmul(*l.ffn_down, sc.gate.data(), T, sc.o.data(), ws);
        for (int r = 0; r < T; ++r) {
            float* orow = sc.o.data() + size_t(r) * E;
            if (l.ffn_post_norm) rms_norm(orow, f32(l.ffn_post_norm), orow, E, hp.norm_eps);
            float* xr = sc.x.data() + size_t(r) * E;
            for (int i = 0; i < E; ++i) xr[i] += orow[i];
        }
    }

    // Output: the final norm and the vocabulary projection of the wanted rows, in row order.
    const int n_out = static_cast<int>(sc.out_rows.size());
    for (int o = 0; o < n_out; ++o) {
        rms_norm(sc.x.data() + size_t(sc.out_rows[o]) * E, f32(w.output_norm),
                 sc.xn.data() + size_t(o) * E, E, hp.norm_eps);
    }
    matmul(*w.output, sc.xn.data(), n_out, logits_out, ws);

    for (const ForwardItem& item : items) {
        Session& s = *item.session;
        s.n_past_ += static_cast<int>(item.tokens.size());
        s.history_.insert(s.history_.end(), item.tokens.begin(), item.tokens.end());
    }
}

}  // namespace detail

}  // namespace ward::engine
