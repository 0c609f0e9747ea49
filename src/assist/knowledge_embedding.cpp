#include "assist/knowledge_embedding.h"

#include <utility>
#include <vector>

namespace ward::assist {
namespace {

constexpr size_t kSpecialTokens = 2;  // [CLS] and [SEP]

// The largest cut at or before `limit` that ends on whitespace, else on a UTF-8 boundary.
size_t cut_point(const std::string& text, size_t limit) {
    size_t cut = limit;
    while (cut > 0 && text[cut] != ' ' && text[cut] != '\n' && text[cut] != '\t') --cut;
    if (cut > 0) return cut;
    cut = limit;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    return cut;
}

}  // namespace

std::string fit_to_encoder(const std::string& text, const llm::Backend& encoder, int max_tokens) {
    if (max_tokens <= 0) return text;
    const auto budget = static_cast<size_t>(max_tokens);
    if (budget <= kSpecialTokens) return {};
    size_t tokens = encoder.count_tokens(text);
    if (tokens + kSpecialTokens <= budget) return text;
    // Shrink in proportion to the overshoot, then by tenths until it fits.
    size_t length = text.size() * (budget - kSpecialTokens) / tokens;
    std::string out;
    while (true) {
        size_t cut = cut_point(text, std::min(length, text.size() - 1));
        out = text.substr(0, cut);
        if (cut == 0 || encoder.count_tokens(out) + kSpecialTokens <= budget) return out;
        length = cut - cut / 10 - 1;
    }
}

Result<EmbedStep> embed_pending_chunks(knowledge::Store& store, llm::Backend& encoder,
                                       const std::string& name, size_t batch) {
    EmbedStep step;
    auto pending = store.pending_embeddings(name, batch);
    if (!pending) return pending.error().with_context("knowledge embedding");
    if (pending->empty()) return step;
    llm::EmbeddingRequest request;
    request.model = encoder.info().name;
    const int max_tokens = encoder.info().context_length;
    for (const auto& p : *pending) {
        std::string fitted = fit_to_encoder(p.text, encoder, max_tokens);
        if (fitted.size() != p.text.size()) ++step.shortened;
        // Encoders refuse empty input: a chunk whose first word alone is longer than the
        // context is embedded from its first character.
        if (fitted.empty() && !p.text.empty()) {
            size_t n = 1;
            while (n < p.text.size() && (static_cast<unsigned char>(p.text[n]) & 0xC0) == 0x80) ++n;
            fitted = p.text.substr(0, n);
        }
        request.inputs.push_back(std::move(fitted));
    }
    auto embedded = encoder.embed(request);
    if (!embedded) return embedded.error().with_context("knowledge embedding");
    if (embedded->vectors.size() != pending->size()) {
        return internal_error("knowledge embedding: {} vectors for {} chunks",
                              embedded->vectors.size(), pending->size());
    }
    std::vector<std::pair<int64_t, std::vector<float>>> vectors;
    vectors.reserve(pending->size());
    for (size_t i = 0; i < pending->size(); ++i) {
        vectors.emplace_back((*pending)[i].chunk_id, std::move(embedded->vectors[i]));
    }
    Status put = store.put_embeddings(name, vectors);
    if (!put.ok()) return put.with_context("knowledge embedding");
    step.embedded = vectors.size();
    return step;
}

}  // namespace ward::assist
