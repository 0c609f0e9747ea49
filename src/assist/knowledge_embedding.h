// Filling the knowledge store's dense index: chunks that have no vector of an embedding model
// yet are embedded with it and stored, a batch at a time. Used by the server's background
// embedder (knowledge.embedding_model) and by `ward kb embed`.
//
// A chunk longer than the encoder's context is embedded from its beginning, cut at a word
// boundary to fit (the encoder itself refuses over-long input rather than truncating it): a
// passage is retrieved by its opening as sentence-embedding models are trained to, and BM25
// still indexes all of it. Nothing else is changed; the chunk's text stays whole in the store.
//
// Thread safety: as the Store and Backend it is given (both thread-safe).
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"
#include "knowledge/store.h"
#include "llm/backend.h"

namespace ward::assist {

struct EmbedStep {
    size_t embedded = 0;   // chunks stored in this step; 0 when none were pending
    size_t shortened = 0;  // of them, cut to fit the encoder's context
};

// Embeds up to `batch` pending chunks of the current version with `encoder`, storing the vectors
// under `name` (the name retrieval queries with). Errors: the store's and the encoder's, with
// their codes ("knowledge embedding: ..."); nothing is stored for a failed batch.
Result<EmbedStep> embed_pending_chunks(knowledge::Store& store, llm::Backend& encoder,
                                       const std::string& name, size_t batch);

// `text` cut at a whitespace boundary (a UTF-8 boundary if it has none) so that
// encoder.count_tokens(result) + 2 (the encoder's [CLS] and [SEP]) fits `max_tokens`; unchanged
// when it fits or max_tokens <= 0 (unknown, as for remote encoders).
std::string fit_to_encoder(const std::string& text, const llm::Backend& encoder, int max_tokens);

}  // namespace ward::assist
