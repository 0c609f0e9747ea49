#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "common/crypto.h"
#include "common/log.h"

namespace ward::engine {

std::string_view arch_name(Arch arch) {
    switch (arch) {
        case Arch::kLlama:
            return "llama";
        case Arch::kQwen2:
            return "qwen2";
        case Arch::kGemma3:
            return "gemma3";
        case Arch::kBert:
            return "bert";
    }
    return "?";
}

namespace {

constexpr std::string_view kSupportedArchs = "llama, qwen2, gemma3, bert";

// Encoder architectures llama.cpp converts that differ from plain BERT in ways this engine does
// not implement (RoPE, ALiBi, fused QKV, gated FFN, mixture of experts).
constexpr std::string_view kOtherBerts[] = {"nomic-bert",   "nomic-bert-moe", "jina-bert-v2",
                                            "jina-bert-v3", "modern-bert",    "neo-bert",
                                            "eurobert"};

Result<int> get_dim(const GgufFile& f, const std::string& key) {
    WARD_ASSIGN_OR_RETURN(int64_t v, f.get_int(key));
    if (v <= 0 || v > (int64_t{1} << 24)) {
        return invalid_argument("model: metadata '{}' = {} is out of range", key, v);
    }
    return static_cast<int>(v);
}

Result<int> get_dim_or(const GgufFile& f, const std::string& key, int fallback) {
    if (!f.has(key)) return fallback;
    return get_dim(f, key);
}

// Finds a tensor and checks its shape; `ne` lists the expected dimensions, innermost first.
class TensorBinder {
  public:
    explicit TensorBinder(const GgufFile& f) : f_(f) {}

    Result<const GgufTensor*> get(const std::string& name, std::vector<int64_t> ne,
                                  bool required = true) {
        const GgufTensor* t = f_.find_tensor(name);
        if (!t) {
            if (!required) return static_cast<const GgufTensor*>(nullptr);
            return invalid_argument("model: tensor '{}' is missing", name);
        }
        bool ok = t->n_dims <= static_cast<int>(std::max<size_t>(ne.size(), 1));
        for (size_t d = 0; d < 4; ++d) {
            int64_t want = d < ne.size() ? ne[d] : 1;
            ok = ok && t->ne[d] == want;
        }
        if (!ok) {
            std::string expected = "[";
            for (size_t d = 0; d < ne.size(); ++d)
                expected += (d ? ", " : "") + std::to_string(ne[d]);
            return invalid_argument("model: tensor '{}' has shape {}, expected {}]", name,
                                    t->shape_string(), expected);
        }
        auto info = tensor_type_info(t->type);
        if (!info.supported) {
            return invalid_argument("model: unsupported tensor type {} in tensor '{}'", info.name,
                                    name);
        }
        return t;
    }

  private:
    const GgufFile& f_;
};

// The tensors of a `bert` file, named as llama.cpp's converter writes them.
Status bind_bert(const GgufFile& f, const HParams& hp, TensorBinder& bind, ModelWeights& w) {
    const int64_t E = hp.n_embd, V = hp.n_vocab, F = hp.n_ff;
    if (f.find_tensor("blk.0.attn_qkv.weight")) {
        return invalid_argument(
            "model: bert file with a fused attn_qkv tensor is not supported (separate attn_q, "
            "attn_k, attn_v expected)");
    }
    WARD_ASSIGN_OR_RETURN(w.token_embd, bind.get("token_embd.weight", {E, V}));
    WARD_ASSIGN_OR_RETURN(w.position_embd,
                          bind.get("position_embd.weight", {E, int64_t{hp.n_ctx_train}}));
    const GgufTensor* types = f.find_tensor("token_types.weight");
    if (types) {
        WARD_ASSIGN_OR_RETURN(w.token_types, bind.get("token_types.weight", {E, types->ne[1]}));
    }
    WARD_ASSIGN_OR_RETURN(w.token_embd_norm, bind.get("token_embd_norm.weight", {E}));
    WARD_ASSIGN_OR_RETURN(w.token_embd_norm_b, bind.get("token_embd_norm.bias", {E}));
    std::vector<const GgufTensor*> vectors = {w.token_embd_norm, w.token_embd_norm_b};
    w.layers.resize(hp.n_layer);
    for (int il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = w.layers[il];
        const std::string p = "blk." + std::to_string(il) + ".";
        WARD_ASSIGN_OR_RETURN(l.wq, bind.get(p + "attn_q.weight", {E, E}));
        WARD_ASSIGN_OR_RETURN(l.wk, bind.get(p + "attn_k.weight", {E, E}));
        WARD_ASSIGN_OR_RETURN(l.wv, bind.get(p + "attn_v.weight", {E, E}));
        WARD_ASSIGN_OR_RETURN(l.wo, bind.get(p + "attn_output.weight", {E, E}));
        WARD_ASSIGN_OR_RETURN(l.bq, bind.get(p + "attn_q.bias", {E}));
        WARD_ASSIGN_OR_RETURN(l.bk, bind.get(p + "attn_k.bias", {E}));
        WARD_ASSIGN_OR_RETURN(l.bv, bind.get(p + "attn_v.bias", {E}));
        WARD_ASSIGN_OR_RETURN(l.bo, bind.get(p + "attn_output.bias", {E}));
        WARD_ASSIGN_OR_RETURN(l.attn_out_norm, bind.get(p + "attn_output_norm.weight", {E}));
        WARD_ASSIGN_OR_RETURN(l.attn_out_norm_b, bind.get(p + "attn_output_norm.bias", {E}));
        WARD_ASSIGN_OR_RETURN(l.ffn_up, bind.get(p + "ffn_up.weight", {E, F}));
        WARD_ASSIGN_OR_RETURN(l.ffn_up_b, bind.get(p + "ffn_up.bias", {F}));
        WARD_ASSIGN_OR_RETURN(l.ffn_down, bind.get(p + "ffn_down.weight", {F, E}));
        WARD_ASSIGN_OR_RETURN(l.ffn_down_b, bind.get(p + "ffn_down.bias", {E}));
        WARD_ASSIGN_OR_RETURN(l.layer_out_norm, bind.get(p + "layer_output_norm.weight", {E}));
        WARD_ASSIGN_OR_RETURN(l.layer_out_norm_b, bind.get(p + "layer_output_norm.bias", {E}));
        if (f.find_tensor(p + "ffn_gate.weight")) {
            return invalid_argument(
                "model: bert tensor '{}ffn_gate.weight' (a gated FFN) is not supported", p);
        }
        vectors.insert(vectors.end(),
                       {l.bq, l.bk, l.bv, l.bo, l.attn_out_norm, l.attn_out_norm_b, l.ffn_up_b,
                        l.ffn_down_b, l.layer_out_norm, l.layer_out_norm_b});
    }
    // Norm weights and biases are read as plain floats by the forward pass.
    for (const GgufTensor* t : vectors) {
        if (t->type != TensorType::kF32) {
            return invalid_argument("model: tensor '{}' must be F32, not {}", t->name,
                                    tensor_type_name(t->type));
        }
    }
    return ok_status();
}

}  // namespace

Result<std::shared_ptr<const Model>> Model::load(const std::string& path) {
    WARD_ASSIGN_OR_RETURN(auto file, GgufFile::open(path));
    auto model = from_gguf(std::move(file));
    if (!model) return model.error().with_context(path);
    return model;
}

Result<std::shared_ptr<const Model>> Model::from_gguf(std::shared_ptr<const GgufFile> file) {
    auto m = std::make_shared<Model>();
    m->file_ = file;
    const GgufFile& f = *file;
    HParams& hp = m->hp_;

    WARD_ASSIGN_OR_RETURN(std::string_view arch, f.get_string("general.architecture"));
    if (arch == "llama") {
        hp.arch = Arch::kLlama;
    } else if (arch == "qwen2") {
        hp.arch = Arch::kQwen2;
    } else if (arch == "gemma3") {
        hp.arch = Arch::kGemma3;
    } else if (arch == "bert") {
        hp.arch = Arch::kBert;
    } else if (std::find(std::begin(kOtherBerts), std::end(kOtherBerts), arch) !=
               std::end(kOtherBerts)) {
        return invalid_argument(
            "model: encoder architecture '{}' is not supported (only plain 'bert' encoders run; "
            "supported: {})",
            arch, kSupportedArchs);
    } else {
        return invalid_argument("model: unsupported architecture '{}' (supported: {})", arch,
                                kSupportedArchs);
    }
    const std::string a(arch);
    WARD_ASSIGN_OR_RETURN(hp.n_embd, get_dim(f, a + ".embedding_length"));
    WARD_ASSIGN_OR_RETURN(hp.n_layer, get_dim(f, a + ".block_count"));
    WARD_ASSIGN_OR_RETURN(hp.n_head, get_dim(f, a + ".attention.head_count"));
    WARD_ASSIGN_OR_RETURN(hp.n_head_kv, get_dim_or(f, a + ".attention.head_count_kv", hp.n_head));
    WARD_ASSIGN_OR_RETURN(hp.n_ff, get_dim(f, a + ".feed_forward_length"));
    WARD_ASSIGN_OR_RETURN(hp.n_ctx_train, get_dim_or(f, a + ".context_length", 2048));
    if (hp.n_head % hp.n_head_kv != 0) {
        return invalid_argument("model: head_count {} is not a multiple of head_count_kv {}",
                                hp.n_head, hp.n_head_kv);
    }
    WARD_ASSIGN_OR_RETURN(hp.head_dim,
                          get_dim_or(f, a + ".attention.key_length", hp.n_embd / hp.n_head));
    WARD_ASSIGN_OR_RETURN(hp.head_dim_v, get_dim_or(f, a + ".attention.value_length", hp.head_dim));
    WARD_ASSIGN_OR_RETURN(hp.rope_dims, get_dim_or(f, a + ".rope.dimension_count", hp.head_dim));
    if (hp.rope_dims > hp.head_dim || hp.rope_dims % 2 != 0) {
        return invalid_argument("model: rope.dimension_count {} does not fit head size {}",
                                hp.rope_dims, hp.head_dim);
    }
    const std::string eps_key = hp.is_encoder() ? a + ".attention.layer_norm_epsilon"
                                                : a + ".attention.layer_norm_rms_epsilon";
    WARD_ASSIGN_OR_RETURN(double eps, f.get_float_or(eps_key, hp.arch == Arch::kLlama ? 1e-5
                                                              : hp.is_encoder()       ? 1e-12
                                                                                      : 1e-6));
    if (!(eps >= 0 && eps < 1)) {
        return invalid_argument("model: metadata '{}' = {} is out of range", eps_key, eps);
    }
    hp.norm_eps = static_cast<float>(eps);
    WARD_ASSIGN_OR_RETURN(
        double base, f.get_float_or(a + ".rope.freq_base", hp.arch == Arch::kGemma3 ? 1e6 : 1e4));
    hp.rope_base = static_cast<float>(base);
    if (f.has(a + ".rope.scaling.type")) {
        WARD_ASSIGN_OR_RETURN(std::string_view scaling, f.get_string(a + ".rope.scaling.type"));
        if (scaling == "linear") {
            WARD_ASSIGN_OR_RETURN(double factor, f.get_float(a + ".rope.scaling.factor"));
            if (!(factor > 0)) {
                return invalid_argument("model: rope.scaling.factor {} is not positive", factor);
            }
            hp.rope_freq_scale = static_cast<float>(1.0 / factor);
        } else if (scaling != "none") {
            return invalid_argument(
                "model: unsupported rope.scaling.type '{}' (supported: none, linear, and llama3 "
                "via rope_freqs.weight)",
                scaling);
        }
    }
    hp.rope_mode = hp.arch == Arch::kLlama ? RopeMode::kNormal : RopeMode::kNeox;
    hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
    if (hp.arch == Arch::kGemma3) {
        WARD_ASSIGN_OR_RETURN(hp.sliding_window, get_dim_or(f, a + ".attention.sliding_window", 0));
        hp.sliding_pattern = 6;
        hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
        // Gemma 3 27B scales queries by the model width per head, the others by the head size.
        if (hp.n_layer == 62) hp.attn_scale = 1.0f / std::sqrt(float(hp.n_embd / hp.n_head));
    }

    if (hp.is_encoder()) {
        WARD_ASSIGN_OR_RETURN(bool causal, f.get_bool_or(a + ".attention.causal", false));
        if (causal) {
            return invalid_argument(
                "model: bert file with attention.causal = true is not an "
                "encoder this engine runs");
        }
        if (hp.n_head_kv != hp.n_head || hp.head_dim * hp.n_head != hp.n_embd) {
            return invalid_argument("model: bert needs {} heads of width {} to make {}", hp.n_head,
                                    hp.head_dim, hp.n_embd);
        }
        WARD_ASSIGN_OR_RETURN(int64_t pooling, f.get_int_or(a + ".pooling_type", 1));
        if (pooling == 1) {
            hp.pooling = Pooling::kMean;
        } else if (pooling == 2) {
            hp.pooling = Pooling::kCls;
        } else {
            return invalid_argument(
                "model: metadata '{}.pooling_type' = {} is not supported (1 mean, 2 cls)", a,
                pooling);
        }
    }

    WARD_ASSIGN_OR_RETURN(m->tokenizer_, Tokenizer::from_gguf(f));
    if (hp.is_encoder() != (m->tokenizer_->model_type() == "bert")) {
        return invalid_argument(
            "model: architecture '{}' with tokenizer '{}' (a bert model needs the bert "
            "WordPiece tokenizer, and that tokenizer a bert model)",
            arch, m->tokenizer_->model_type());
    }

    TensorBinder bind(f);
    ModelWeights& w = m->w_;
    const GgufTensor* embd = f.find_tensor("token_embd.weight");
    if (!embd) return invalid_argument("model: tensor 'token_embd.weight' is missing");
    hp.n_vocab = static_cast<int>(embd->ne[1]);
    if (hp.n_vocab < m->tokenizer_->n_vocab()) {
        return invalid_argument("model: token_embd.weight has {} rows but the vocabulary has {}",
                                hp.n_vocab, m->tokenizer_->n_vocab());
    }
    if (hp.is_encoder()) {
        WARD_TRY(bind_bert(f, hp, bind, w));
        logger("engine")->info("loaded bert encoder: {} layers, width {}, {} heads, vocab {}",
                               hp.n_layer, hp.n_embd, hp.n_head, hp.n_vocab);
        return std::shared_ptr<const Model>(std::move(m));
    }
    const int64_t E = hp.n_embd, V = hp.n_vocab;
    const int64_t q_dim = int64_t{hp.n_head} * hp.head_dim;
    const int64_t k_dim = int64_t{hp.n_head_kv} * hp.head_dim;
    const int64_t v_dim = int64_t{hp.n_head_kv} * hp.head_dim_v;
    const int64_t o_dim = int64_t{hp.n_head} * hp.head_dim_v;
    WARD_ASSIGN_OR_RETURN(w.token_embd, bind.get("token_embd.weight", {E, V}));
    WARD_ASSIGN_OR_RETURN(w.output_norm, bind.get("output_norm.weight", {E}));
    WARD_ASSIGN_OR_RETURN(w.output, bind.get("output.weight", {E, V}, false));
    if (!w.output) w.output = w.token_embd;
    WARD_ASSIGN_OR_RETURN(w.rope_freqs, bind.get("rope_freqs.weight", {hp.rope_dims / 2}, false));
    if (w.rope_freqs && w.rope_freqs->type != TensorType::kF32) {
        return invalid_argument("model: rope_freqs.weight must be F32");
    }

    const bool qwen = hp.arch == Arch::kQwen2;
    const bool gemma = hp.arch == Arch::kGemma3;
    w.layers.resize(hp.n_layer);
    for (int il = 0; il < hp.n_layer; ++il) {
        LayerWeights& l = w.layers[il];
        std::string p = "blk." + std::to_string(il) + ".";
        WARD_ASSIGN_OR_RETURN(l.attn_norm, bind.get(p + "attn_norm.weight", {E}));
        WARD_ASSIGN_OR_RETURN(l.wq, bind.get(p + "attn_q.weight", {E, q_dim}));
        WARD_ASSIGN_OR_RETURN(l.wk, bind.get(p + "attn_k.weight", {E, k_dim}));
        WARD_ASSIGN_OR_RETURN(l.wv, bind.get(p + "attn_v.weight", {E, v_dim}));
        WARD_ASSIGN_OR_RETURN(l.wo, bind.get(p + "attn_output.weight", {o_dim, E}));
        WARD_ASSIGN_OR_RETURN(l.bq, bind.get(p + "attn_q.bias", {q_dim}, qwen));
        WARD_ASSIGN_OR_RETURN(l.bk, bind.get(p + "attn_k.bias", {k_dim}, qwen));
        WARD_ASSIGN_OR_RETURN(l.bv, bind.get(p + "attn_v.bias", {v_dim}, qwen));
        WARD_ASSIGN_OR_RETURN(l.q_norm, bind.get(p + "attn_q_norm.weight", {hp.head_dim}, gemma));
        WARD_ASSIGN_OR_RETURN(l.k_norm, bind.get(p + "attn_k_norm.weight", {hp.head_dim}, gemma));
        WARD_ASSIGN_OR_RETURN(l.attn_post_norm,
                              bind.get(p + "post_attention_norm.weight", {E}, gemma));
        WARD_ASSIGN_OR_RETURN(l.ffn_norm, bind.get(p + "ffn_norm.weight", {E}));
        WARD_ASSIGN_OR_RETURN(l.ffn_gate, bind.get(p + "ffn_gate.weight", {E, hp.n_ff}));
        WARD_ASSIGN_OR_RETURN(l.ffn_up, bind.get(p + "ffn_up.weight", {E, hp.n_ff}));
        WARD_ASSIGN_OR_RETURN(l.ffn_down, bind.get(p + "ffn_down.weight", {hp.n_ff, E}));
        WARD_ASSIGN_OR_RETURN(l.ffn_post_norm, bind.get(p + "post_ffw_norm.weight", {E}, gemma));
        // Norm weights are read as plain floats by the forward pass.
        for (const GgufTensor* t : {l.attn_norm, l.ffn_norm, l.q_norm, l.k_norm, l.attn_post_norm,
                                    l.ffn_post_norm, l.bq, l.bk, l.bv}) {
            if (t && t->type != TensorType::kF32) {
                return invalid_argument("model: tensor '{}' must be F32, not {}", t->name,
                                        tensor_type_name(t->type));
            }
        }
    }
    if (w.output_norm->type != TensorType::kF32) {
        return invalid_argument("model: tensor 'output_norm.weight' must be F32");
    }
    logger("engine")->info("loaded {} model: {} layers, width {}, {} heads ({} kv), vocab {}",
                           arch_name(hp.arch), hp.n_layer, hp.n_embd, hp.n_head, hp.n_head_kv,
                           hp.n_vocab);
    return std::shared_ptr<const Model>(std::move(m));
}

int64_t Model::n_params() const {
    int64_t n = 0;
    for (const auto& t : file_->tensors()) n += t.n_elements;
    return n;
}

int64_t Model::decode_bytes_per_token() const {
    int64_t bytes = 0;
    for (const auto& t : file_->tensors()) bytes += static_cast<int64_t>(t.n_bytes);
    if (hp_.is_encoder()) return bytes;
    // Only one row of the embedding table is read per token, unless it doubles as the output.
    if (w_.output != w_.token_embd) {
        bytes -= static_cast<int64_t>(w_.token_embd->n_bytes);
        bytes += static_cast<int64_t>(w_.token_embd->n_bytes) / w_.token_embd->ne[1];
    }
    return bytes;
}

std::string Model::file_sha256() const {
    std::call_once(sha256_once_, [this] { sha256_ = crypto::sha256_hex(file_->bytes()); });
    return sha256_;
}

}  // namespace ward::engine
