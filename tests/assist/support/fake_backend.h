// A scripted llm::Backend for the assist tests: its answer is a function of the request, it
// keeps the last request it saw, and counts tokens as a quarter of the bytes (a stand-in for a
// real tokenizer that differs from interop's estimate).
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "llm/backend.h"

namespace ward::assist {

inline const std::string kModelSha(64, 'a');

inline size_t quarter_bytes(std::string_view text) {
    return (text.size() + 3) / 4;
}

// A Backend whose answer is scripted (a function of the request) and which keeps the last
// request it saw.
class FakeBackend : public llm::Backend {
  public:
    explicit FakeBackend(int context_length = 4096) {
        info_.name = "fake-model";
        info_.backend = "local";
        info_.file_sha256 = kModelSha;
        info_.context_length = context_length;
    }
    const llm::ModelInfo& info() const override { return info_; }
    Result<llm::Generation> generate(const llm::Request& request,
                                     const llm::PieceCallback& on_piece) override {
        std::lock_guard lock(mu_);
        last_ = request;
        ++calls_;
        if (!error_.ok()) return error_;
        llm::Generation g;
        g.text = script_ ? script_(request) : std::string("Nothing documented.");
        g.model = request.model;
        g.usage.prompt_tokens = 0;
        for (const auto& m : request.messages) {
            g.usage.prompt_tokens += static_cast<int>(count_tokens(m.content));
        }
        g.usage.completion_tokens = static_cast<int>(count_tokens(g.text));
        if (on_piece) on_piece(llm::Piece{g.text});
        return g;
    }
    // Like LocalBackend::check: the rendered prompt (messages plus the template's markers) and
    // max_tokens must fit the context.
    Status check(const llm::Request& request) const override {
        ++checks_;
        size_t prompt = template_tokens_;
        for (const auto& m : request.messages) prompt += count_tokens(m.content);
        if (prompt + static_cast<size_t>(request.params.max_tokens) >
            static_cast<size_t>(info_.context_length)) {
            return resource_exhausted("prompt of {} tokens does not fit the context of {}", prompt,
                                      info_.context_length);
        }
        return ok_status();
    }
    size_t count_tokens(std::string_view text) const override { return quarter_bytes(text); }
    // With embed_fn_ set, an embedding model: one vector per input.
    Result<llm::Embeddings> embed(const llm::EmbeddingRequest& request) override {
        if (!embed_fn_) return llm::Backend::embed(request);
        llm::Embeddings e;
        for (const auto& input : request.inputs) e.vectors.push_back(embed_fn_(input));
        e.model = info_.name;
        return e;
    }
    std::function<std::vector<float>(const std::string&)> embed_fn_;
    bool ready() const override { return true; }
    int active() const override { return 0; }
    int waiting() const override { return 0; }

    std::function<std::string(const llm::Request&)> script_;
    Status error_;
    llm::Request last_;
    int calls_ = 0;
    mutable int checks_ = 0;
    size_t template_tokens_ = 0;  // tokens of the chat template's markers
    llm::ModelInfo info_;

  private:
    std::mutex mu_;
};

}  // namespace ward::assist
