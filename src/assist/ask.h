// Grounded answering: a clinician's question in, an answer out whose every statement should
// cite the knowledge-base passages it rests on, with those passages, their sources and the
// knowledge-base version attached.
//
// ask() retrieves passages from the knowledge store (BM25, fused with dense retrieval when an
// embedding backend is given), numbers them [1]..[n] in rank order, fences each as reference
// data (never instructions), optionally adds the patient's record extract, and asks the model
// to answer from the passages only and cite them in square brackets. The answer's markers are
// then checked (knowledge/citations.h): a number with no passage and a sentence that shares no
// key term with what it cites are flagged, and the cited passages come back with their source,
// title, document id, licence and the version searched, so a clinician can check every claim.
//
// When retrieval finds nothing the model is not called (with dense retrieval, "nothing" means
// no passage shares a term with the question: every vector has a nearest neighbour, so dense
// hits alone are no grounding): the answer says, in code-written text,
// that the knowledge base has no passage on the question (finish "no_passages"). An answer
// without grounding is what this task exists to prevent.
//
// Budget: passages are added in rank order while they fit the model's context after the
// instructions, the question, the patient extract and max_tokens (Backend::count_tokens; a
// model whose context is unknown gets kDefaultBudget for passages); a passage that does not fit
// is skipped (AskAnswer::passages_skipped) and later, shorter ones may still go in.
//
// Privacy: nothing here logs. The caller wraps the backend in its privacy policy (the server's
// PolicyBackend de-identifies the question and the patient extract for remote models and
// research roles); passages are knowledge-base text, not patient data.
//
// Thread safety: pure functions over their arguments; the Store and Backends are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/status.h"
#include "interop/context.h"
#include "interop/record.h"
#include "knowledge/citations.h"
#include "knowledge/store.h"
#include "llm/backend.h"

namespace ward::assist {

struct AskOptions {
    std::string model;                         // the registry name sent in llm::Request::model
    int k = 5;                                 // passages retrieved, 1..20
    std::optional<int64_t> knowledge_version;  // nullopt: the current version
    std::vector<std::string> sources;          // only these knowledge sources; empty: all
    // Dense retrieval: a backend producing embeddings (llm::Backend::embed) under the model
    // name the store's vectors were made with; null: BM25 only.
    llm::Backend* embedder = nullptr;
    // The patient whose record extract goes with the question; null: none.
    const interop::PatientRecord* patient = nullptr;
    interop::Profile profile = interop::Profile::kGeneral;
    std::string reference_date;  // YYYY-MM-DD for the patient extract; empty: today (UTC)
    int max_tokens = 512;
    float temperature = 0;  // deterministic
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    const std::atomic<bool>* cancelled = nullptr;
};

inline constexpr int kMaxAskPassages = 20;

struct AskPassage {
    int number = 0;  // as numbered in the prompt, 1-based
    knowledge::Hit hit;
    bool cited = false;
};

struct AskAnswer {
    std::string question;
    std::string text;                  // the model's answer, unedited (or the no-passage text)
    std::string finish;                // "stop", "length", "cancelled" or "no_passages"
    int64_t knowledge_version = 0;     // the version searched
    std::string retrieval_mode;        // "bm25" or "fusion"
    std::vector<AskPassage> passages;  // given to the model, in prompt order
    size_t passages_skipped = 0;       // retrieved but left out for the budget
    knowledge::CitationCheck citations;
    std::string prompt_sha256;           // hex SHA-256 of the messages as sent (system + user)
    std::string patient_context_sha256;  // of the patient extract, empty without a patient
    llm::Generation generation;          // usage, finish reason, timings; empty for no_passages
    llm::ModelInfo model;                // Backend::info() at the time of the call
};

// The instructions (system message) of the task.
std::string ask_instructions();

// The user message: the numbered, fenced passages, then the patient extract if any, then the
// question. Text inside a passage that would close its fence is neutralised.
std::string ask_user_message(std::string_view question, const std::vector<AskPassage>& passages,
                             std::string_view patient_context);

// Retrieves, generates and checks. Errors: kInvalidArgument (empty question or model, k out
// of range, max_tokens < 1, an unknown knowledge version), kResourceExhausted when the model's
// context cannot hold the instructions, question and max_tokens, or not even one retrieved
// passage; the Store's and Backend's errors with their codes (message prefixed "ask: "). A
// generation that stopped early is not an error: see AskAnswer::finish.
Result<AskAnswer> ask(std::string_view question, const knowledge::Store& store,
                      llm::Backend& backend, const AskOptions& options,
                      const llm::PieceCallback& on_piece = {});

// The answer as JSON, the shape of POST /v1/ask and `ward ask --json` (docs/api.md):
// answer, finish_reason, knowledge_version, retrieval, citations (cited passages with source,
// title, doc_id, chunk_id, location, licence, published, heading, text), passages (every
// passage given, numbered, with cited true/false; text included when `include_passage_text`),
// flags, uncited_sentences, model, usage.
nlohmann::json answer_json(const AskAnswer& answer, bool include_passage_text);

}  // namespace ward::assist
