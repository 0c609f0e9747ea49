// The grounded patient summary: one PatientRecord in, a short clinical summary out, every
// statement of which should cite the record items it rests on.
//
// summarize() builds the patient context (interop::build_context) with item ids ("[P1]",
// "[M2]", "[L3]"), sends a system prompt that asks for a concise summary citing those ids in
// square brackets and saying "not documented" rather than guessing, and one user message that
// holds the context. It then reads the ids the model cited: ids that exist in the context become
// Summary::citations (label and sources, so the clinician can check each statement); ids that
// do not exist are listed in Summary::unsupported_ids. The text is never edited: an invented
// citation stays visible in the text, and callers must surface unsupported_ids (the CDS card is
// a warning then) rather than hide them.
//
// Generation is deterministic (temperature 0 by default) and the context is byte-identical for
// the same record, profile, reference date and budget; the context's SHA-256 goes with the
// summary so an audit can prove which input produced it.
//
// Privacy: nothing here logs; callers log ids, counts and hashes only (never Summary::text).
//
// Thread safety: pure functions over their arguments; the Backend may be shared (its methods
// are thread-safe).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "interop/context.h"
#include "interop/record.h"
#include "llm/backend.h"

namespace ward::assist {

struct SummaryOptions {
    std::string model;  // the registry name sent in llm::Request::model
    interop::Profile profile = interop::Profile::kGeneral;
    // YYYY-MM-DD. Empty: today (UTC). The summary is for a clinician looking at the chart now,
    // so ages are current and nothing is hidden as "future"; to replay historical data as of
    // its own time pass latest_record_date(record).
    std::string reference_date;
    // Tokens for the context text. 0: what fits the model's context window after max_tokens,
    // the instructions and a reserve for the chat template, counted with
    // Backend::count_tokens (a model whose context length is unknown gets kDefaultBudget);
    // the whole prompt is then checked with Backend::check, and when the chat template needs
    // more than the reserve the budget shrinks by an eighth (at most kMaxBudgetRetries times).
    size_t token_budget = 0;
    int max_tokens = 400;
    float temperature = 0;  // deterministic
    std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
    const std::atomic<bool>* cancelled = nullptr;  // owned by the caller; may be null
};

// The context budget used when the backend does not know its context length (remote models).
inline constexpr size_t kDefaultBudget = 1500;
// Tokens kept free for the chat template's role markers around the two messages.
inline constexpr size_t kTemplateReserve = 64;
inline constexpr int kMaxBudgetRetries = 3;

// Tokens left in the model's window after `fixed` tokens (instructions, fixed text, the
// template reserve and max_tokens); kDefaultBudget when the window is unknown (remote models).
// Errors: kResourceExhausted "<task>: model "X" has a context of N tokens, which cannot hold
// <what> and K tokens of answer (F tokens)".
Result<size_t> tokens_left(const llm::ModelInfo& model, size_t fixed, int max_tokens,
                           std::string_view task, std::string_view what);

// Counts of what the record holds as of the reference date (not only what fitted the context):
// the card's one-line summary uses them.
struct RecordCounts {
    size_t active_problems = 0;
    size_t current_medications = 0;
    size_t allergies = 0;  // not resolved or inactive
};

struct Summary {
    std::string patient_id;    // PatientRecord::id
    std::string patient_name;  // Demographics::display_name(), may be empty
    std::string text;          // the generated text, unedited
    // Cited items that exist in the context, in the order of their first citation.
    std::vector<interop::Citation> citations;
    // Ids the model cited that the context does not have ("[P9]" when there are 3 problems),
    // sorted and unique. Not empty means some statement is not grounded: review it.
    std::vector<std::string> unsupported_ids;
    std::string context_sha256;  // hex SHA-256 of the context text the model read
    size_t context_tokens = 0;   // of the context text, by Backend::count_tokens
    size_t token_budget = 0;     // the budget the context was built with
    size_t n_included = 0;       // record items in the context
    size_t n_omitted = 0;        // candidate items left out for the budget
    std::string reference_date;  // YYYY-MM-DD the context is "as of"
    interop::Profile profile = interop::Profile::kGeneral;
    RecordCounts counts;
    llm::Generation generation;  // usage, finish reason, serving model name, timings
    llm::ModelInfo model;        // Backend::info() at the time of the call
};

// The system prompt (the instructions) for a profile.
std::string summary_instructions(interop::Profile profile);

// The chat messages summarize() sends for a context text (system, then user).
std::vector<llm::ChatMessage> summary_messages(interop::Profile profile,
                                               std::string_view context_text);

// Ids cited in `text`: every token of the form letter + 1-4 digits ("P1", "L12") inside square
// brackets, where a bracket may hold several ids separated by commas, semicolons or spaces
// ("[P1, M2]", "[P1][M2]"). In order of first appearance, without repeats. Brackets holding
// other words ("[sic]", "[1]") give nothing.
std::vector<std::string> cited_ids(std::string_view text);

// The latest date of any dated item in the record (YYYY-MM-DD), or "" when none is dated.
std::string latest_record_date(const interop::PatientRecord& record);

// Builds the context, generates and checks the citations. Errors: kInvalidArgument (empty
// options.model, a bad reference date, max_tokens < 1), kResourceExhausted when the model's
// context cannot hold the instructions plus max_tokens or the budget cannot hold the patient
// header; any error of Backend::generate is returned with its code (message prefixed with
// "summary: "). A generation that stopped early (length, cancelled) is not an error: see
// Summary::generation.finish.
Result<Summary> summarize(const interop::PatientRecord& record, llm::Backend& backend,
                          const SummaryOptions& options, const llm::PieceCallback& on_piece = {});

// The summary as a FHIR R4 transaction Bundle (DocumentReference, docStatus preliminary, tagged
// AI-asserted, + Provenance naming the model and its file SHA-256, with the cited items'
// sources as entities), via interop::make_document_bundle. `created` is a FHIR instant; empty
// means now (UTC, seconds). Errors: kInvalidArgument from the writer (empty text, a model whose
// file_sha256 is not 64 hex digits, as for remote models, whose provenance cannot be stated).
Result<std::string> summary_as_fhir(const Summary& summary, const interop::PatientRecord& record,
                                    const llm::ModelInfo& model, std::string_view created = {});

}  // namespace ward::assist
