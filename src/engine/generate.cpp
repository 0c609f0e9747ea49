#include "engine/generate.h"

#include <algorithm>

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

Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt,
                                const GenerateOptions& options, const TokenCallback& on_token) {
    using Clock = std::chrono::steady_clock;
    const Tokenizer& tok = session.model().tokenizer();
    GenerateResult result;
    result.n_prompt = static_cast<int>(prompt.size());

    auto t0 = Clock::now();
    std::span<const float> logits;
    if (!prompt.empty()) {
        WARD_ASSIGN_OR_RETURN(logits, session.eval(prompt));
    } else {
        return invalid_argument("generate: the prompt is empty (start with at least BOS)");
    }
    auto t1 = Clock::now();
    result.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

    Sampler sampler(options.sampling);
    // Text generated from BOS alone starts a document: its first space is not text.
    const bool from_bos = prompt.size() == 1 && prompt[0] == tok.bos();
    StreamDecoder decoder(tok, from_bos);
    std::string pending;  // decoded text not yet emitted
    size_t emitted = 0;   // bytes of result.text already given to the callback
    std::vector<std::string> stops;
    for (const auto& s : options.stop) {
        if (!s.empty()) stops.push_back(s);
    }
    const int limit = options.max_tokens > 0 ? options.max_tokens : session.n_ctx();
    result.finish = FinishReason::kLength;

    auto emit = [&](size_t upto, const Sampled& s) -> bool {
        if (upto <= emitted) return true;
        std::string_view piece = std::string_view(result.text).substr(emitted, upto - emitted);
        emitted = upto;
        return !on_token || on_token(piece, s);
    };

    for (int i = 0; i < limit; ++i) {
        Sampled s = sampler.sample(logits, session.history());
        if (!options.ignore_eos && tok.is_eog(s.id)) {
            result.finish = FinishReason::kStop;
            break;
        }
        result.tokens.push_back(s.id);
        result.samples.push_back(s);
        result.text += decoder.push(s.id);

        // A completed stop string ends the text where it starts. Held-back text guarantees
        // that a stop string never starts inside text already emitted.
        size_t cut = std::string::npos;
        for (const auto& stop : stops) {
            size_t at = result.text.find(stop, emitted);
            if (at != std::string::npos) cut = std::min(cut, at);
        }
        if (cut != std::string::npos) {
            result.text.resize(cut);
            emit(result.text.size(), s);
            result.finish = FinishReason::kStop;
            break;
        }
        if (!emit(result.text.size() - held_back(result.text, stops), s)) {
            result.finish = FinishReason::kCancelled;
            break;
        }
        if (i + 1 == limit) break;
        if (session.n_past() >= session.n_ctx()) break;  // context full: finish as "length"
        const int32_t next = s.id;
        WARD_ASSIGN_OR_RETURN(logits, session.eval(std::span<const int32_t>(&next, 1)));
    }
    if (result.finish != FinishReason::kStop && result.finish != FinishReason::kCancelled) {
        result.text += decoder.flush();
        if (!result.samples.empty()) emit(result.text.size(), result.samples.back());
    }
    result.generate_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
    return result;
}

}  // namespace ward::engine
