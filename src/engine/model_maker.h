// Random-weight model files of any supported shape and tensor type, so that anyone can
// reproduce benchmarks without downloading a model (`ward model make`), and tests can build the
// models they check. Decoder vocabularies are SentencePiece-style: <unk>, <s>, </s>, the 256 byte
// tokens, then filler pieces up to n_vocab. A `bert` encoder gets a WordPiece vocabulary spelled
// as llama.cpp's converter writes it: [PAD] [UNK] [CLS] [SEP] [MASK], every lowercase letter,
// digit and ASCII punctuation character as a word start ("▁a") and as a continuation ("a"), a
// few clinical words and suffixes, then filler up to n_vocab.
//
// Thread safety: pure function of its spec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/tensor_type.h"

namespace ward::engine {

struct RandomModelSpec {
    // llama | qwen2 | gemma3 | bert; any other name is written as a llama-shaped file under
    // that name (tests use it to check that loading refuses unknown architectures).
    std::string arch = "llama";
    TensorType type = TensorType::kQ4_0;
    // llama.cpp's Q4_K_M mixture: Q4_K with Q6_K for output.weight and for attn_v / ffn_down
    // in the layers that get more bits. Overrides `type`.
    bool q4_k_m = false;
    int n_embd = 2048;
    int n_layer = 22;
    int n_head = 32;
    int n_head_kv = 4;
    int n_ff = 5632;
    int n_vocab = 32000;
    int n_ctx = 2048;
    int sliding_window = 0;        // gemma3
    bool rope_freqs = false;       // llama3-style RoPE factors tensor
    float rope_linear_factor = 0;  // > 0: rope.scaling.type = linear
    bool tied_output = false;      // no output.weight
    int pooling = 1;               // bert: bert.pooling_type (1 mean, 2 CLS)
    uint64_t seed = 1;
};

// Writes the model. Errors: kInvalidArgument for an impossible shape (n_embd not divisible by
// n_head, n_head not a multiple of n_head_kv, a row length the type's blocks cannot hold, a bert
// vocabulary smaller than its fixed tokens); kInternal when the file
// cannot be written. For bert, n_head_kv is ignored (always n_head) and n_ctx is the number of
// learned positions.
Status make_random_model(const RandomModelSpec& spec, const std::string& path);

// The WordPiece vocabulary a made bert model gets (llama.cpp spelling, see above): n_vocab
// tokens. Errors: kInvalidArgument when n_vocab cannot hold the fixed tokens.
Result<std::vector<std::string>> wordpiece_vocab(int n_vocab);

}  // namespace ward::engine
