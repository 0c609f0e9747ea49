#include "server/policy.h"

#include <algorithm>

#include "common/crypto.h"
#include "common/log.h"

namespace ward::server {

PrivacyDecision decide_privacy(bool remote_backend, bool role_sees_phi) {
    PrivacyDecision d;
    d.deidentify_input = remote_backend || !role_sees_phi;
    d.reidentify_output = d.deidentify_input && role_sees_phi;
    return d;
}

namespace {

bool is_word_byte(unsigned char c) {
    // Letters and digits of ASCII, and any byte of a multi-byte UTF-8 character (letters of
    // other scripts): a surrogate glued to one of them is part of a longer word.
    return std::isalnum(c) || c >= 0x80;
}

}  // namespace

Reidentifier::Reidentifier(const std::vector<deid::Replacement>& replacements) {
    for (const auto& r : replacements) {
        if (r.surrogate.empty() || r.surrogate == r.original) continue;
        map_.emplace_back(r.surrogate, r.original);
    }
    std::sort(map_.begin(), map_.end(), [](const auto& a, const auto& b) {
        return a.first.size() != b.first.size() ? a.first.size() > b.first.size()
                                                : a.first < b.first;
    });
    map_.erase(std::unique(map_.begin(), map_.end(),
                           [](const auto& a, const auto& b) { return a.first == b.first; }),
               map_.end());
}

std::string Reidentifier::push(std::string_view piece) {
    buffer_.append(piece);
    return drain(false);
}

std::string Reidentifier::flush() {
    return drain(true);
}

std::string Reidentifier::apply(std::string_view text) const {
    Reidentifier copy = *this;
    copy.buffer_.clear();
    std::string out = copy.push(text);
    out += copy.flush();
    return out;
}

std::string Reidentifier::drain(bool final) {
    std::string out;
    const std::string& b = buffer_;
    size_t i = 0;
    while (i < b.size()) {
        const bool word_start = i == 0 ? true : !is_word_byte(static_cast<unsigned char>(b[i - 1]));
        bool replaced = false, hold = false;
        if (word_start) {
            for (const auto& [surrogate, original] : map_) {
                const size_t avail = b.size() - i;
                if (avail < surrogate.size()) {
                    // The rest of the buffer may still grow into this surrogate, which is
                    // longer than any that matches now (longest first): wait for it.
                    if (!final && b.compare(i, avail, surrogate, 0, avail) == 0) {
                        hold = true;
                        break;
                    }
                    continue;
                }
                if (b.compare(i, surrogate.size(), surrogate) != 0) continue;
                const size_t end = i + surrogate.size();
                if (end == b.size() && !final) {
                    hold = true;  // the next piece may glue a letter to it
                    break;
                }
                if (end < b.size() && is_word_byte(static_cast<unsigned char>(b[end]))) continue;
                out += original;
                i = end;
                replaced = true;
                break;
            }
        }
        if (replaced) continue;
        if (hold) break;
        out += b[i++];
    }
    buffer_.erase(0, i);
    return out;
}

PrivacyScope::PrivacyScope(const deid::Deidentifier& deid, PrivacyStats* stats)
    : deid_(deid), stats_(stats), scope_("request:" + crypto::to_hex(crypto::random_bytes(16))) {}

void PrivacyScope::add_known(std::string original, std::string placeholder) {
    if (original.size() < 3) return;
    for (const auto& [o, p] : known_) {
        if (o == original) return;
    }
    known_.emplace_back(std::move(original), std::move(placeholder));
    std::sort(known_.begin(), known_.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

Result<std::string> PrivacyScope::deidentify(std::string_view input) {
    std::string text(input);
    for (const auto& [original, placeholder] : known_) {
        bool used = false;
        size_t at = 0;
        while ((at = text.find(original, at)) != std::string::npos) {
            const size_t end = at + original.size();
            const bool starts = at == 0 || !is_word_byte(static_cast<unsigned char>(text[at - 1]));
            const bool ends =
                end == text.size() || !is_word_byte(static_cast<unsigned char>(text[end]));
            if (starts && ends) {
                text.replace(at, original.size(), placeholder);
                at += placeholder.size();
                used = true;
            } else {
                at = end;
            }
        }
        if (used) replacements_.push_back({placeholder, original, deid::Category::kId});
    }
    auto r = deid_.deidentify(text, deid::Mode::kSurrogate, scope_);
    if (!r.ok()) {
        if (stats_) stats_->failures.fetch_add(1, std::memory_order_relaxed);
        logger("server")->warn("privacy: de-identification failed ({}); request refused",
                               status_code_name(r.status().code()));
        if (r.status().code() == StatusCode::kInvalidArgument) return r.status();
        return internal_error(
            "privacy: de-identification failed ({}); nothing was sent to the model",
            r.status().message());
    }
    if (stats_) stats_->count_spans(r->spans);
    for (auto& rep : r->replacements) replacements_.push_back(std::move(rep));
    return std::move(r->text);
}

PolicyBackend::PolicyBackend(llm::Backend& inner, const deid::Deidentifier& deid,
                             PrivacyDecision decision, PrivacyStats* stats)
    : inner_(inner), decision_(decision), stats_(stats), scope_(deid, stats) {}

Result<llm::Embeddings> PolicyBackend::embed(const llm::EmbeddingRequest& request) {
    if (!decision_.deidentify_input) return inner_.embed(request);
    llm::EmbeddingRequest safe = request;
    for (auto& input : safe.inputs) {
        WARD_ASSIGN_OR_RETURN(input, scope_.deidentify(input));
    }
    if (stats_) stats_->requests_deidentified.fetch_add(1, std::memory_order_relaxed);
    return inner_.embed(safe);
}

Result<llm::Generation> PolicyBackend::generate(const llm::Request& request,
                                                const llm::PieceCallback& on_piece) {
    if (!decision_.deidentify_input) return inner_.generate(request, on_piece);

    llm::Request safe = request;
    for (auto& m : safe.messages) {
        WARD_ASSIGN_OR_RETURN(m.content, scope_.deidentify(m.content));
    }
    if (safe.prompt) {
        WARD_ASSIGN_OR_RETURN(*safe.prompt, scope_.deidentify(*safe.prompt));
    }
    if (stats_) stats_->requests_deidentified.fetch_add(1, std::memory_order_relaxed);

    if (!decision_.reidentify_output || scope_.replacements().empty()) {
        return inner_.generate(safe, on_piece);
    }
    Reidentifier reid(scope_.replacements());
    llm::PieceCallback wrapped;
    if (on_piece) {
        wrapped = [&](const llm::Piece& piece) {
            llm::Piece out = piece;
            out.text = reid.push(piece.text);
            if (out.text.empty() && out.token.empty()) return true;
            return on_piece(out);
        };
    }
    WARD_ASSIGN_OR_RETURN(llm::Generation g, inner_.generate(safe, wrapped));
    if (on_piece) {
        llm::Piece tail;
        tail.text = reid.flush();
        if (!tail.text.empty()) on_piece(tail);
    }
    g.text = reid.apply(g.text);
    return g;
}

}  // namespace ward::server
