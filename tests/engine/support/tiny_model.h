// Builds small GGUF model files with random weights for engine tests: any of the supported
// architectures, with every 2-D weight encoded in a chosen tensor type. The vocabulary is a
// small SentencePiece-style one (unknown, BOS, EOS, 256 byte tokens, a few words).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model_maker.h"
#include "engine/tensor_type.h"

namespace ward::engine::testing {

// The engine's random-model spec with test-sized defaults: width 256 (a multiple of 256 so
// every K-quant fits), 2 layers, 4 heads over 2 KV heads, FFN 256, F32 weights.
struct TinyModelSpec : RandomModelSpec {
    TinyModelSpec() {
        type = TensorType::kF32;
        n_embd = 256;
        n_layer = 2;
        n_head = 4;
        n_head_kv = 2;
        n_ff = 256;
        n_vocab = 275;
        n_ctx = 64;
    }
};

// Number of tokens in the tiny vocabulary.
int tiny_vocab_size();

// Writes the model to `path`.
Status write_tiny_model(const TinyModelSpec& spec, const std::string& path);

// A fresh path in the temporary directory for a test file.
std::string temp_path(const std::string& name);

}  // namespace ward::engine::testing
