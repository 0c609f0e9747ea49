#include "engine/generate.h"

#include <algorithm>
#include <optional>

#include "engine/grammar.h"

namespace ward::engine {

std::string_view finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::kStop:
            return "stop";
        case FinishReason::kLength:
            return "length";
        case FinishReason::kCancelled:
            return "cancelled";
    }
    return "?";
}

namespace {

// Length of the longest suffix of `text` that is a proper prefix of some stop string: that
// much must be held back until we know whether the stop string completes.
size_t held_back(std::string_view text, const std::vector<std::string>& stops) {
    size_t hold = 0;
    for (const auto& s : stops) {
        for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
            if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
                hold = len;
                break;
            }
        }
    }
    return hold;
}

}  // namespace

TokenStream::TokenStream(const Tokenizer& tokenizer, const GenerateOptions& options,
                         bool starts_document)
    : tokenizer_(tokenizer),
      max_tokens_(options.max_tokens),
      ignore_eos_(options.ignore_eos),
      decoder_(tokenizer, starts_document) {
    for (const auto& s : options.stop) {
        if (!s.empty()) stops_.push_back(s);
    }
    result_.finish = FinishReason::kLength;
}

StreamStep TokenStream::release(size_t upto, bool done) {
    StreamStep step;
    step.done = done;
    if (upto > released_) {
        step.text = std::string_view(result_.text).substr(released_, upto - released_);
        released_ = upto;
    }
    return step;
}

StreamStep TokenStream::end(FinishReason reason) {
    result_.text += decoder_.flush();
    result_.finish = reason;
    done_ = true;
    return release(result_.text.size(), true);
}

StreamStep TokenStream::push(const Sampled& sampled, bool last) {
    WARD_CHECK(!done_);
    if (!ignore_eos_ && tokenizer_.is_eog(sampled.id)) return end(FinishReason::kStop);
    result_.tokens.push_back(sampled.id);
    result_.samples.push_back(sampled);
    result_.text += decoder_.push(sampled.id);

    // A completed stop string ends the text where it starts. Held-back text guarantees that a
    // stop string never starts inside text already released.
    size_t cut = std::string::npos;
    for (const auto& stop : stops_) {
        size_t at = result_.text.find(stop, released_);
        if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
        result_.text.resize(cut);
        result_.finish = FinishReason::kStop;
        done_ = true;
        return release(cut, true);
    }
    const bool at_limit =
        max_tokens_ > 0 && result_.tokens.size() >= static_cast<size_t>(max_tokens_);
    if (at_limit || last) return end(FinishReason::kLength);
    return release(result_.text.size() - held_back(result_.text, stops_), false);
}

void TokenStream::cancel() {
    if (done_) return;
    result_.text.resize(released_);
    result_.finish = FinishReason::kCancelled;
    done_ = true;
}

Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt,
                                const GenerateOptions& options, const TokenCallback& on_token) {
    using Clock = std::chrono::steady_clock;
    const Tokenizer& tok = session.model().tokenizer();
    if (prompt.empty()) {
        return invalid_argument("generate: the prompt is empty (start with at least BOS)");
    }

    std::optional<GrammarMatcher> matcher;
    if (options.grammar) {
        if (options.ignore_eos) {
            return invalid_argument("generate: ignore_eos cannot be combined with a grammar");
        }
        matcher.emplace(options.grammar,
                        options.token_trie ? options.token_trie : TokenTrie::build(tok));
    }

    auto t0 = Clock::now();
    std::span<const float> logits;
    WARD_ASSIGN_OR_RETURN(logits, session.eval(prompt));
    auto t1 = Clock::now();

    Sampler sampler(options.sampling);
    // Text generated from BOS alone starts a document: its first space is not text.
    const bool from_bos = prompt.size() == 1 && prompt[0] == tok.bos();
    TokenStream stream(tok, options, from_bos);
    for (;;) {
        Sampled s;
        if (matcher) {
            WARD_ASSIGN_OR_RETURN(s,
                                  sample_constrained(sampler, *matcher, logits, session.history()));
            WARD_TRY(matcher->accept(s.id));
        } else {
            s = sampler.sample(logits, session.history());
        }
        // The context is full: this token can be shown but never evaluated.
        const bool last = session.n_past() >= session.n_ctx();
        StreamStep step = stream.push(s, last);
        if (!step.text.empty() && on_token && !on_token(step.text, s) && !step.done) {
            stream.cancel();
            break;
        }
        if (step.done) break;
        const int32_t next = s.id;
        WARD_ASSIGN_OR_RETURN(logits, session.eval(std::span<const int32_t>(&next, 1)));
    }
    GenerateResult result = stream.take_result();
    result.n_prompt = static_cast<int>(prompt.size());
    result.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();
    result.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
    return result;
}

}  // namespace ward::engine
