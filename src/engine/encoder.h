// Sentence embeddings from an encoder model (architecture `bert`): text -> WordPiece ids
// ([CLS] text [SEP]) -> a post-norm transformer with bidirectional attention -> pooling (mean
// over every token, [CLS] and [SEP] included, or the [CLS] row, as the file's
// bert.pooling_type says) -> L2 normalisation. The vector has dim() floats and unit length, so
// the dot product of two embeddings is their cosine similarity.
//
// Differences from llama.cpp, on purpose: the FFN uses the exact GELU (erf), as BERT and
// sentence-transformers do, where llama.cpp uses the tanh approximation (they differ by at most
// about 5e-4 per activation); the tokenizer strips accents for uncased vocabularies as BERT
// does, where llama.cpp keeps the combining marks. Input longer than the model's learned
// positions is an error, never silently truncated.
//
// Thread safety: an Encoder is immutable after create(); embed* may be called from many threads
// at once. Each call owns its scratch buffers; calls share the worker team, whose run() is
// serialised, so concurrent calls take turns on the matrix products.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/model.h"
#include "engine/parallel.h"

namespace ward::engine {

struct EncoderOptions {
    int n_threads = 0;  // 0: the machine's hardware threads (ignored when `team` is set)
    std::shared_ptr<WorkerTeam> team;  // a team to share with other encoders or sessions
    // Rows (tokens of all inputs) evaluated together by embed_batch in one forward pass; inputs
    // are grouped up to this many, and an input longer than it runs alone.
    int max_batch_tokens = 2048;
};

class Encoder {
  public:
    // Errors: kInvalidArgument when the model is not an encoder ("model 'llama' is a decoder;
    // embeddings need an encoder model such as bert").
    static Result<std::unique_ptr<Encoder>> create(std::shared_ptr<const Model> model,
                                                   EncoderOptions options = {});

    // The unit-length embedding of `text` ([dim()]). Errors: kResourceExhausted "input of N
    // tokens is longer than the model's context of M" (N counts [CLS] and [SEP]).
    Result<std::vector<float>> embed(std::string_view text) const;

    // One embedding per text, in order; rows of several texts are evaluated together, and the
    // result equals embedding each text alone (up to float rounding). Errors: as embed(),
    // prefixed by "input #i: " (0-based) for the first text that is too long; nothing is
    // computed then.
    Result<std::vector<std::vector<float>>> embed_batch(std::span<const std::string> texts) const;

    // The ids embed() evaluates for `text`: [CLS] WordPiece(text) [SEP].
    std::vector<int32_t> tokenize(std::string_view text) const;

    // embed_batch over already tokenized inputs (each usually from tokenize()). Errors: as
    // embed_batch; kInvalidArgument for an empty input or an id outside the vocabulary.
    Result<std::vector<std::vector<float>>> embed_tokens(
        std::span<const std::vector<int32_t>> inputs) const;

    // Width of an embedding (the model's n_embd).
    int dim() const;
    // The longest input in tokens, [CLS] and [SEP] included (the learned positions).
    int max_tokens() const;
    const Model& model() const { return *model_; }

  private:
    Encoder() = default;
    // Embeds every input in one forward pass: out[i] for inputs[i]. REQUIRES: inputs checked.
    void forward(std::span<const std::vector<int32_t>> inputs,
                 std::span<std::vector<float>> out) const;

    std::shared_ptr<const Model> model_;
    std::shared_ptr<WorkerTeam> team_;
    int max_batch_tokens_ = 2048;
};

}  // namespace ward::engine
