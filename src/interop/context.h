// The context builder: turns a PatientRecord into the compact text a model reads, for one task
// profile, as of a reference date, within a token budget.
//
// It selects and orders what matters for the profile: allergies with reactions and active
// problems first (problems the profile cares about before the rest), current medications with
// doses, the latest result of each lab with its trend ("eGFR 44 mL/min ... was 58 9 months
// earlier"), abnormal results before normal ones, latest vitals, recent notes, then procedures,
// encounters, immunisations and past problems while the budget lasts. Items dated after the
// reference date are left out (the context is "as of" that date). Every line carries an item
// id ("[P1]", "[L3]") that maps to the item's sources, so an answer can cite them.
//
// Deterministic: the same record, profile, date and budget give byte-identical text.
//
// Token counting: estimate_tokens() is a documented upper bound, not a tokenizer (interop may
// not depend on engine/). It counts every digit, punctuation mark, whitespace character and
// non-ASCII byte as one token and a run of n ASCII letters as ceil(n/2), plus one for the
// start of text; a space before a word is free. Checked in tests against the Llama 2, Llama 3
// and Qwen2 tokenizers' reference outputs: it never undercounts them.
//
// A caller that has the model's tokenizer (the server, through llm::Backend::count_tokens) sets
// ContextOptions::count_tokens; the budget is then enforced with that counter, and the text is
// re-checked as a whole after the lines are chosen, because a real tokenizer may merge across
// line boundaries (the estimate never does).
//
// Thread safety: pure functions (count_tokens, when set, is called from the calling thread).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "interop/record.h"

namespace ward::interop {

enum class Profile { kGeneral, kOncology, kDermatology, kDental, kNeurology, kMentalHealth };

// "general", "oncology", "dermatology", "dental", "neurology", "mental-health" (also
// "summary", "cognition", "mental_health"). Errors: kInvalidArgument listing the names.
Result<Profile> parse_profile(std::string_view name);
std::string_view profile_name(Profile profile);
std::vector<Profile> all_profiles();

struct ContextOptions {
    Profile profile = Profile::kGeneral;
    std::string reference_date;   // YYYY-MM-DD; items after it are left out
    size_t token_budget = 1500;   // upper bound on count_tokens(text) (or the estimate)
    size_t max_note_chars = 600;  // notes are cut to this many bytes (at a UTF-8 boundary)
    // The model's token counter; when empty, estimate_tokens() is used. It must be
    // deterministic for the output to be (see the header comment).
    std::function<size_t(std::string_view)> count_tokens;
};

struct Citation {
    std::string id;               // "P1"
    std::string label;            // "Suspected COVID-19"
    std::vector<Source> sources;  // where the item came from
};

struct Context {
    std::string text;
    // Tokens of `text` by options.count_tokens when set, else estimate_tokens(text); always
    // <= options.token_budget.
    size_t estimated_tokens = 0;
    std::vector<Citation> citations;  // in the order of the text
    size_t n_included = 0;
    size_t n_omitted = 0;  // candidate items that did not fit the budget
};

// Builds the context. Errors: kInvalidArgument for a reference date that is not YYYY-MM-DD;
// kResourceExhausted when the budget cannot hold even the patient header line.
Result<Context> build_context(const PatientRecord& record, const ContextOptions& options);

// A conservative token count (see the header comment).
size_t estimate_tokens(std::string_view text);

}  // namespace ward::interop
