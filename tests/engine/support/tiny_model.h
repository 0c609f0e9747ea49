// Builds small GGUF model files with random weights for engine tests: any of the supported
// architectures, with every 2-D weight encoded in a chosen tensor type. The vocabulary is a
// small SentencePiece-style one (unknown, BOS, EOS, 256 byte tokens, a few words).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/tensor_type.h"

namespace ward::engine::testing {

struct TinyModelSpec {
    std::string arch = "llama";  // llama | qwen2 | gemma3
    TensorType type = TensorType::kF32;
    int n_embd = 256;  // a multiple of 256 so every K-quant fits
    int n_layer = 2;
    int n_head = 4;
    int n_head_kv = 2;
    int n_ff = 256;
    int n_ctx = 64;
    int sliding_window = 0;        // gemma3
    bool rope_freqs = false;       // llama3-style RoPE factors tensor
    float rope_linear_factor = 0;  // > 0: rope.scaling.type = linear
    bool tied_output = false;      // no output.weight: the embedding doubles as output
    uint64_t seed = 1;
};

// Number of tokens in the tiny vocabulary.
int tiny_vocab_size();

// Writes the model to `path`.
Status write_tiny_model(const TinyModelSpec& spec, const std::string& path);

// A fresh path in the temporary directory for a test file.
std::string temp_path(const std::string& name);

}  // namespace ward::engine::testing
