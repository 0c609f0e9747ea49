// A loaded model: hyperparameters read from GGUF metadata, weight tensors that stay in the
// memory-mapped file, and the tokenizer. Supported decoder architectures: `llama` (Llama 2 and
// 3.x, Mistral, TinyLlama, SmolLM), `qwen2` (biases on Q, K, V) and `gemma3` (sliding-window
// layers, Q/K norms, post-attention and post-FFN norms, embedding scaling, GELU-tanh gating),
// with grouped-query attention throughout. One encoder architecture: `bert` as llama.cpp's
// converter writes it (bge, all-MiniLM, e5, MedCPT-style embedding models): learned position
// embeddings, post-norm LayerNorm blocks with biases, GELU feed-forward, no output head; it runs
// in an Encoder (encoder.h), never in a Session.
//
// Thread safety: a Model is immutable after load(); many Sessions share one through
// shared_ptr<const Model> and may run on different threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"

namespace ward::engine {

enum class Arch { kLlama, kQwen2, kGemma3, kBert };
std::string_view arch_name(Arch arch);

// How an encoder turns its last hidden states into one vector (GGUF `bert.pooling_type`).
enum class Pooling { kMean = 1, kCls = 2 };

// How RoPE pairs up dimensions: kNormal rotates (x[2i], x[2i+1]) (llama as converted to
// GGUF); kNeox rotates (x[i], x[i + d/2]) (qwen2, gemma3).
enum class RopeMode { kNormal, kNeox };

struct HParams {
    Arch arch = Arch::kLlama;
    int n_vocab = 0;
    int n_embd = 0;  // model width
    int n_layer = 0;
    int n_head = 0;
    int n_head_kv = 0;   // < n_head for grouped-query attention
    int head_dim = 0;    // per-head width of Q and K (attention.key_length)
    int head_dim_v = 0;  // per-head width of V (attention.value_length)
    int n_ff = 0;        // feed-forward hidden width
    int n_ctx_train = 0;
    float norm_eps = 1e-5f;
    RopeMode rope_mode = RopeMode::kNormal;
    int rope_dims = 0;  // leading dims of each head that RoPE rotates
    float rope_base = 10000.0f;
    float rope_freq_scale = 1.0f;  // 1/factor of linear RoPE scaling
    // gemma3: layers with a sliding window use their own RoPE base and no scaling.
    int sliding_window = 0;   // 0: all layers attend to the whole context
    int sliding_pattern = 0;  // every n-th layer is global (gemma3: 6)
    float rope_base_swa = 10000.0f;
    float attn_scale = 0;     // multiplies Q·K; 1/sqrt(head_dim) by default
    float embd_scale = 1.0f;  // gemma3: sqrt(n_embd)
    // bert: LayerNorm epsilon (attention.layer_norm_epsilon) is norm_eps; pooling of the output.
    Pooling pooling = Pooling::kMean;

    // An encoder (bert): bidirectional attention, one embedding per text, no logits.
    bool is_encoder() const { return arch == Arch::kBert; }

    bool is_sliding(int layer) const {
        return sliding_window > 0 && sliding_pattern > 0 && (layer + 1) % sliding_pattern != 0;
    }
};

// Tensors of one transformer block; optional ones are null when the architecture lacks them.
struct LayerWeights {
    const GgufTensor* attn_norm = nullptr;
    const GgufTensor* wq = nullptr;  // [n_embd, n_head*head_dim]
    const GgufTensor* wk = nullptr;  // [n_embd, n_head_kv*head_dim]
    const GgufTensor* wv = nullptr;  // [n_embd, n_head_kv*head_dim_v]
    const GgufTensor* wo = nullptr;  // [n_head*head_dim_v, n_embd]
    const GgufTensor* bq = nullptr;  // qwen2
    const GgufTensor* bk = nullptr;
    const GgufTensor* bv = nullptr;
    const GgufTensor* q_norm = nullptr;  // gemma3: [head_dim]
    const GgufTensor* k_norm = nullptr;
    const GgufTensor* attn_post_norm = nullptr;  // gemma3
    const GgufTensor* ffn_norm = nullptr;
    const GgufTensor* ffn_gate = nullptr;       // [n_embd, n_ff]
    const GgufTensor* ffn_up = nullptr;         // [n_embd, n_ff]
    const GgufTensor* ffn_down = nullptr;       // [n_ff, n_embd]
    const GgufTensor* ffn_post_norm = nullptr;  // gemma3
    // bert (post-norm): biases of every product, LayerNorm weight and bias after the attention
    // residual and after the FFN residual. [n_embd] unless noted.
    const GgufTensor* bo = nullptr;
    const GgufTensor* attn_out_norm = nullptr;
    const GgufTensor* attn_out_norm_b = nullptr;
    const GgufTensor* ffn_up_b = nullptr;  // [n_ff]
    const GgufTensor* ffn_down_b = nullptr;
    const GgufTensor* layer_out_norm = nullptr;
    const GgufTensor* layer_out_norm_b = nullptr;
};

struct ModelWeights {
    const GgufTensor* token_embd = nullptr;   // [n_embd, n_vocab]
    const GgufTensor* output_norm = nullptr;  // null for bert
    const GgufTensor* output = nullptr;  // [n_embd, n_vocab]; token_embd when tied; null for bert
    const GgufTensor* rope_freqs = nullptr;  // llama3 RoPE scaling factors [rope_dims/2]
    // bert: learned positions [n_embd, n_ctx_train], token types [n_embd, n_token_types] (only
    // type 0 is used), and the LayerNorm of the summed embeddings.
    const GgufTensor* position_embd = nullptr;
    const GgufTensor* token_types = nullptr;
    const GgufTensor* token_embd_norm = nullptr;
    const GgufTensor* token_embd_norm_b = nullptr;
    std::vector<LayerWeights> layers;
};

class Model {
  public:
    // Loads a GGUF model file. Errors: the file's own (see GgufFile::open); kInvalidArgument
    // for an unknown architecture (listing the supported ones; BERT variants this engine does
    // not run, such as nomic-bert or jina-bert-v2, are named as such), a missing or misshapen
    // tensor, an unsupported pooling type, or "unsupported tensor type X in tensor Y".
    static Result<std::shared_ptr<const Model>> load(const std::string& path);
    static Result<std::shared_ptr<const Model>> from_gguf(std::shared_ptr<const GgufFile> file);

    const HParams& hparams() const { return hp_; }
    const ModelWeights& weights() const { return w_; }
    const Tokenizer& tokenizer() const { return *tokenizer_; }
    const GgufFile& file() const { return *file_; }
    // Total weights in all tensors.
    int64_t n_params() const;
    // Bytes of weights read to generate one token (every tensor once; token_embd one row).
    int64_t decode_bytes_per_token() const;
    // SHA-256 of the whole file, hex; computed on first call (reads the file once).
    std::string file_sha256() const;

  private:
    std::shared_ptr<const GgufFile> file_;
    std::shared_ptr<const Tokenizer> tokenizer_;
    HParams hp_;
    ModelWeights w_;
    mutable std::string sha256_;
    mutable std::once_flag sha256_once_;
};

}  // namespace ward::engine
