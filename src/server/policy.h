// The privacy policy, enforced in one place: every generation the server starts goes through a
// PolicyBackend wrapped around the chosen model's backend, so no route can skip it.
//
// The rule (docs/operations.md, "Privacy policy"):
//   - text bound for a REMOTE backend is always de-identified first (surrogate mode, with a
//     surrogate scope private to the request), whoever the caller is;
//   - callers whose role may not see PHI (researcher, admin) get de-identified input on every
//     backend, and their output is never re-identified;
//   - callers whose role may see PHI (clinician, service) get the output of a de-identified
//     request re-identified: each surrogate the request introduced is put back, also when it is
//     split across streamed pieces;
//   - if de-identification fails, the request fails closed: nothing is sent to the model.
//
// Thread safety: a PolicyBackend serves one request (it holds that request's surrogate map);
// the wrapped Backend and the Deidentifier are shared and thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deid/deid.h"
#include "llm/backend.h"

namespace ward::server {

struct PrivacyDecision {
    bool deidentify_input = false;
    bool reidentify_output = false;
};
PrivacyDecision decide_privacy(bool remote_backend, bool role_sees_phi);

// Counters the policy keeps for /metrics.
struct PrivacyStats {
    std::atomic<uint64_t> requests_deidentified{0};
    std::atomic<uint64_t> failures{0};
    std::array<std::atomic<uint64_t>, deid::kNumCategories> spans{};

    void count_spans(const std::vector<deid::Span>& found) {
        for (const auto& s : found) {
            spans[static_cast<size_t>(s.category)].fetch_add(1, std::memory_order_relaxed);
        }
    }
};

// Puts originals back in place of surrogates in a stream of text pieces. A surrogate counts
// only as a whole word (no letter or digit right before or after it); text that may still
// become a surrogate is held back until the next piece or flush().
class Reidentifier {
  public:
    explicit Reidentifier(const std::vector<deid::Replacement>& replacements);
    // The text that can be released now.
    std::string push(std::string_view piece);
    // Everything still held back.
    std::string flush();
    // push(text) + flush() on a fresh state.
    std::string apply(std::string_view text) const;
    bool empty() const { return map_.empty(); }

  private:
    std::string drain(bool final);
    std::vector<std::pair<std::string, std::string>> map_;  // surrogate -> original, longest first
    std::string buffer_;
};

// One request's de-identification scope: a random surrogate scope (surrogates are not linkable
// across requests), the identifiers the server knows for certain, and every replacement made,
// so that the output can be re-identified.
class PrivacyScope {
  public:
    PrivacyScope(const deid::Deidentifier& deid, PrivacyStats* stats);
    // An identifier known for certain (the patient's name, id, MRN): every whole-word
    // occurrence becomes `placeholder` before the detector runs, because a detector can miss
    // what the record states outright (Synthea's "Bibi254 Schowalter414"). Values shorter than
    // 3 bytes are ignored.
    void add_known(std::string original, std::string placeholder);
    // Replaces the known identifiers, then de-identifies (surrogate mode). Errors:
    // kInvalidArgument when the text is not UTF-8; kInternal "privacy: de-identification
    // failed ..." for any other failure (the caller must fail closed).
    Result<std::string> deidentify(std::string_view text);
    const std::vector<deid::Replacement>& replacements() const { return replacements_; }

  private:
    const deid::Deidentifier& deid_;
    PrivacyStats* stats_;
    std::string scope_;
    std::vector<std::pair<std::string, std::string>> known_;  // original -> placeholder
    std::vector<deid::Replacement> replacements_;
};

class PolicyBackend : public llm::Backend {
  public:
    PolicyBackend(llm::Backend& inner, const deid::Deidentifier& deid, PrivacyDecision decision,
                  PrivacyStats* stats = nullptr);
    const llm::ModelInfo& info() const override { return inner_.info(); }
    // De-identifies (when decided), generates, re-identifies (when decided). Errors: those of
    // the wrapped backend and of PrivacyScope::deidentify (nothing is sent then).
    Result<llm::Generation> generate(const llm::Request& request,
                                     const llm::PieceCallback& on_piece) override;
    // De-identifies the inputs (when decided) before they reach the embedding model; vectors
    // need no re-identification.
    Result<llm::Embeddings> embed(const llm::EmbeddingRequest& request) override;
    Status check(const llm::Request& request) const override { return inner_.check(request); }
    size_t count_tokens(std::string_view text) const override { return inner_.count_tokens(text); }
    bool ready() const override { return inner_.ready(); }
    int active() const override { return inner_.active(); }
    int waiting() const override { return inner_.waiting(); }

    const PrivacyDecision& decision() const { return decision_; }
    PrivacyScope& scope() { return scope_; }

  private:
    llm::Backend& inner_;
    PrivacyDecision decision_;
    PrivacyStats* stats_;
    PrivacyScope scope_;
};

// A backend that "generates" one fixed, code-written text (a crisis escalation, a scope
// refusal) as a single piece, under the identity of the model the client asked for, so that a
// blocked request answers in exactly the shape (JSON or SSE) the client expects without the
// model running.
class FixedReplyBackend : public llm::Backend {
  public:
    FixedReplyBackend(const llm::ModelInfo& model, std::string reply)
        : info_(model), reply_(std::move(reply)) {}
    const llm::ModelInfo& info() const override { return info_; }
    Result<llm::Generation> generate(const llm::Request& request,
                                     const llm::PieceCallback& on_piece) override {
        llm::Generation g;
        g.text = reply_;
        g.model = request.model;
        g.finish = llm::Finish::kStop;
        if (on_piece) on_piece(llm::Piece{reply_});
        return g;
    }
    size_t count_tokens(std::string_view text) const override { return (text.size() + 3) / 4; }
    bool ready() const override { return true; }
    int active() const override { return 0; }
    int waiting() const override { return 0; }

  private:
    llm::ModelInfo info_;
    std::string reply_;
};

}  // namespace ward::server
