#include "engine/model_maker.h"

#include <cctype>
#include <cmath>
#include <random>

#include "engine/gguf_writer.h"

namespace ward::engine {
namespace {

// llama.cpp's rule for which layers of a Q4_K_M file keep more bits.
bool use_more_bits(int layer, int n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

std::vector<std::string> vocab(int n_vocab) {
    std::vector<std::string> t = {"<unk>", "<s>", "</s>"};
    for (int b = 0; b < 256; ++b) t.push_back(fmt::format("<0x{:02X}>", b));
    // A few real pieces first, so short texts tokenize into words, then filler.
    for (const char* w : {"\xe2\x96\x81the", "\xe2\x96\x81patient",
                          "\xe2\x96\x81"
                          "a",
                          "e", "t", "\xe2\x96\x81", "s", "n", "\xe2\x96\x81pain", "ed", "in",
                          "\xe2\x96\x81of", "\xe2\x96\x81mg", "o", "a", "r"}) {
        t.push_back(w);
    }
    for (int i = static_cast<int>(t.size()); i < n_vocab; ++i)
        t.push_back(fmt::format("[tok{}]", i));
    t.resize(static_cast<size_t>(std::max(n_vocab, 3)));
    return t;
}

// Gaussian tensors added to a writer, drawn from one seeded stream in the order asked for.
class RandomTensors {
  public:
    RandomTensors(GgufWriter& writer, uint64_t seed) : writer_(writer), rng_(seed) {}

    // A [n_in, n_out] matrix of N(0, scale²) weights encoded as `type`.
    Status matrix(const std::string& name, int64_t n_in, int64_t n_out, float scale,
                  TensorType type) {
        buffer_.resize(static_cast<size_t>(n_in * n_out));
        for (float& x : buffer_) x = normal_(rng_) * scale;
        return writer_.add_tensor(name, type, {n_in, n_out}, buffer_);
    }
    // An F32 vector of N(mean, spread²) values.
    Status vec(const std::string& name, int64_t n, float mean, float spread) {
        buffer_.resize(static_cast<size_t>(n));
        for (float& x : buffer_) x = mean + normal_(rng_) * spread;
        return writer_.add_tensor(name, TensorType::kF32, {n}, buffer_);
    }

  private:
    GgufWriter& writer_;
    std::mt19937_64 rng_;
    std::normal_distribution<float> normal_{0.0f, 1.0f};
    std::vector<float> buffer_;
};

constexpr std::string_view kWordStart = "\xe2\x96\x81";  // U+2581, llama.cpp's word start

Status make_random_bert(const RandomModelSpec& s, const std::string& path) {
    if (s.pooling != 1 && s.pooling != 2) {
        return invalid_argument("model make: pooling {} is not 1 (mean) or 2 (cls)", s.pooling);
    }
    WARD_ASSIGN_OR_RETURN(auto tokens, wordpiece_vocab(s.n_vocab));
    GgufWriter w;
    const std::string a = "bert";
    w.set_string("general.architecture", a);
    w.set_string("general.name", "random-bert");
    w.set_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx));
    w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
    w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
    w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
    w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
    w.set_f32(a + ".attention.layer_norm_epsilon", 1e-12f);
    w.set_bool(a + ".attention.causal", false);
    w.set_u32(a + ".pooling_type", static_cast<uint32_t>(s.pooling));
    w.set_u32("tokenizer.ggml.token_type_count", 2);
    w.set_string("tokenizer.ggml.model", "bert");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    std::vector<int32_t> types(tokens.size(), 1);
    for (int i = 0; i < 5; ++i) types[static_cast<size_t>(i)] = 3;  // control
    w.set_i32_array("tokenizer.ggml.token_type", types);
    w.set_u32("tokenizer.ggml.padding_token_id", 0);
    w.set_u32("tokenizer.ggml.unknown_token_id", 1);
    w.set_u32("tokenizer.ggml.cls_token_id", 2);
    w.set_u32("tokenizer.ggml.seperator_token_id", 3);  // sic: the GGUF key's spelling
    w.set_u32("tokenizer.ggml.mask_token_id", 4);

    RandomTensors random(w, s.seed);
    const int64_t V = static_cast<int64_t>(tokens.size());
    const int64_t E = s.n_embd, F = s.n_ff;
    const float in_scale = 1.0f / std::sqrt(static_cast<float>(E));
    // Position and token-type tables stay F32, as llama.cpp's converter leaves them.
    WARD_TRY(random.matrix("token_embd.weight", E, V, 1.0f, s.type));
    WARD_TRY(random.matrix("position_embd.weight", E, s.n_ctx, 0.5f, TensorType::kF32));
    WARD_TRY(random.matrix("token_types.weight", E, 2, 0.5f, TensorType::kF32));
    WARD_TRY(random.vec("token_embd_norm.weight", E, 1.0f, 0.1f));
    WARD_TRY(random.vec("token_embd_norm.bias", E, 0.0f, 0.1f));
    for (int il = 0; il < s.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        WARD_TRY(random.matrix(p + "attn_q.weight", E, E, in_scale, s.type));
        WARD_TRY(random.vec(p + "attn_q.bias", E, 0.0f, 0.2f));
        WARD_TRY(random.matrix(p + "attn_k.weight", E, E, in_scale, s.type));
        WARD_TRY(random.vec(p + "attn_k.bias", E, 0.0f, 0.2f));
        WARD_TRY(random.matrix(p + "attn_v.weight", E, E, in_scale, s.type));
        WARD_TRY(random.vec(p + "attn_v.bias", E, 0.0f, 0.2f));
        WARD_TRY(random.matrix(p + "attn_output.weight", E, E, in_scale, s.type));
        WARD_TRY(random.vec(p + "attn_output.bias", E, 0.0f, 0.2f));
        WARD_TRY(random.vec(p + "attn_output_norm.weight", E, 1.0f, 0.1f));
        WARD_TRY(random.vec(p + "attn_output_norm.bias", E, 0.0f, 0.1f));
        WARD_TRY(random.matrix(p + "ffn_up.weight", E, F, in_scale, s.type));
        WARD_TRY(random.vec(p + "ffn_up.bias", F, 0.0f, 0.2f));
        WARD_TRY(random.matrix(p + "ffn_down.weight", F, E, 1.0f / std::sqrt(static_cast<float>(F)),
                               s.type));
        WARD_TRY(random.vec(p + "ffn_down.bias", E, 0.0f, 0.2f));
        WARD_TRY(random.vec(p + "layer_output_norm.weight", E, 1.0f, 0.1f));
        WARD_TRY(random.vec(p + "layer_output_norm.bias", E, 0.0f, 0.1f));
    }
    return w.write(path);
}

}  // namespace

Result<std::vector<std::string>> wordpiece_vocab(int n_vocab) {
    std::vector<std::string> t = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    const std::string start(kWordStart);
    std::string chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (char c = 33; c < 127; ++c) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && !(c >= 'A' && c <= 'Z')) {
            chars.push_back(c);
        }
    }
    for (char c : chars) t.push_back(start + c);
    for (char c : chars) t.push_back(std::string(1, c));
    for (const char* word : {"the", "patient", "pain", "chest", "with", "and", "of", "mg", "blood",
                             "pressure", "heart", "denies", "fever", "history"}) {
        t.push_back(start + word);
    }
    for (const char* piece : {"ing", "ed", "es", "s", "tion", "ly", "er"}) t.push_back(piece);
    if (n_vocab < static_cast<int>(t.size())) {
        return invalid_argument("model make: a bert vocabulary needs at least {} tokens, not {}",
                                t.size(), n_vocab);
    }
    for (int i = static_cast<int>(t.size()); i < n_vocab; ++i) {
        t.push_back(fmt::format("[tok{}]", i));
    }
    return t;
}

Status make_random_model(const RandomModelSpec& s, const std::string& path) {
    if (s.n_embd <= 0 || s.n_head <= 0 || s.n_head_kv <= 0 || s.n_layer <= 0 || s.n_ff <= 0 ||
        s.n_vocab < 3) {
        return invalid_argument("model make: every dimension must be positive (vocab >= 3)");
    }
    if (s.n_embd % s.n_head != 0) {
        return invalid_argument("model make: dim {} is not divisible by heads {}", s.n_embd,
                                s.n_head);
    }
    if (s.arch == "bert") return make_random_bert(s, path);
    if (s.n_head % s.n_head_kv != 0) {
        return invalid_argument("model make: heads {} is not a multiple of kv-heads {}", s.n_head,
                                s.n_head_kv);
    }
    GgufWriter w;
    const std::string& a = s.arch;
    const int head_dim = s.n_embd / s.n_head;
    w.set_string("general.architecture", a);
    w.set_string("general.name", "random-" + a);
    w.set_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx));
    w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
    w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
    w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
    w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
    w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
    w.set_f32(a + ".attention.layer_norm_rms_epsilon", 1e-5f);
    w.set_f32(a + ".rope.freq_base", a == "gemma3" ? 1000000.0f : 10000.0f);
    if (a == "gemma3") {
        w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(head_dim));
        w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(head_dim));
        if (s.sliding_window > 0) {
            w.set_u32(a + ".attention.sliding_window", static_cast<uint32_t>(s.sliding_window));
        }
    }
    if (s.rope_linear_factor > 0) {
        w.set_string(a + ".rope.scaling.type", "linear");
        w.set_f32(a + ".rope.scaling.factor", s.rope_linear_factor);
    }
    const auto tokens = vocab(s.n_vocab);
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (size_t i = 0; i < tokens.size(); ++i) {
        scores.push_back(i < 259 ? 0.0f : -static_cast<float>(i));
        types.push_back(i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1);
    }
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_f32_array("tokenizer.ggml.scores", scores);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    w.set_u32("tokenizer.ggml.bos_token_id", 1);
    w.set_u32("tokenizer.ggml.eos_token_id", 2);
    w.set_u32("tokenizer.ggml.unknown_token_id", 0);

    RandomTensors random(w, s.seed);
    const int64_t V = static_cast<int64_t>(tokens.size());
    const int64_t E = s.n_embd, F = s.n_ff;
    const int64_t q_dim = int64_t{s.n_head} * head_dim, kv_dim = int64_t{s.n_head_kv} * head_dim;
    const TensorType base = s.q4_k_m ? TensorType::kQ4_K : s.type;
    const float in_scale = 1.0f / std::sqrt(static_cast<float>(E));
    WARD_TRY(random.matrix("token_embd.weight", E, V, a == "gemma3" ? 0.05f : 1.0f, base));
    WARD_TRY(random.vec("output_norm.weight", E, 1.0f, 0.1f));
    if (!s.tied_output) {
        WARD_TRY(
            random.matrix("output.weight", E, V, in_scale, s.q4_k_m ? TensorType::kQ6_K : base));
    }
    if (s.rope_freqs) {
        std::vector<float> f(static_cast<size_t>(head_dim / 2));
        for (size_t i = 0; i < f.size(); ++i) f[i] = 1.0f + static_cast<float>(i % 5);
        WARD_TRY(w.add_tensor("rope_freqs.weight", TensorType::kF32, {head_dim / 2}, f));
    }
    for (int il = 0; il < s.n_layer; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        const TensorType more = s.q4_k_m && use_more_bits(il, s.n_layer) ? TensorType::kQ6_K : base;
        WARD_TRY(random.vec(p + "attn_norm.weight", E, 1.0f, 0.1f));
        WARD_TRY(random.matrix(p + "attn_q.weight", E, q_dim, in_scale, base));
        WARD_TRY(random.matrix(p + "attn_k.weight", E, kv_dim, in_scale, base));
        WARD_TRY(random.matrix(p + "attn_v.weight", E, kv_dim, in_scale, more));
        WARD_TRY(random.matrix(p + "attn_output.weight", q_dim, E, in_scale, base));
        if (a == "qwen2") {
            WARD_TRY(random.vec(p + "attn_q.bias", q_dim, 0.0f, 0.5f));
            WARD_TRY(random.vec(p + "attn_k.bias", kv_dim, 0.0f, 0.5f));
            WARD_TRY(random.vec(p + "attn_v.bias", kv_dim, 0.0f, 0.5f));
        }
        if (a == "gemma3") {
            WARD_TRY(random.vec(p + "attn_q_norm.weight", head_dim, 1.0f, 0.1f));
            WARD_TRY(random.vec(p + "attn_k_norm.weight", head_dim, 1.0f, 0.1f));
            WARD_TRY(random.vec(p + "post_attention_norm.weight", E, 1.0f, 0.1f));
            WARD_TRY(random.vec(p + "post_ffw_norm.weight", E, 1.0f, 0.1f));
        }
        WARD_TRY(random.vec(p + "ffn_norm.weight", E, 1.0f, 0.1f));
        WARD_TRY(random.matrix(p + "ffn_gate.weight", E, F, in_scale, base));
        WARD_TRY(random.matrix(p + "ffn_up.weight", E, F, in_scale, base));
        WARD_TRY(random.matrix(p + "ffn_down.weight", F, E, 1.0f / std::sqrt(static_cast<float>(F)),
                               more));
    }
    return w.write(path);
}

}  // namespace ward::engine
