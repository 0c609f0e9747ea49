// Citations in a grounded answer: the prompt gives the model numbered passages ("[1]", "[2]",
// ...); the answer cites them in square brackets. This file finds those markers, resolves them
// to passages, and flags what a clinician must not take on trust:
//   - kMissingPassage: a marker names a passage number that was never given ("[7]" with 5
//     passages) — an invented source;
//   - kUnsupported: a sentence cites passages of which none shares any of the sentence's key
//     clinical terms (content words, numbers with their units, abbreviations) — the citation
//     cannot be what the sentence rests on.
// Sentences without any marker are reported as uncited (not a flag: greetings, hedges and
// "the passages do not say" need none), so a caller can show which statements carry a source.
//
// Markers recognised: "[1]", "[1, 3]", "[1; 3]", "[1-3]" / "[1–3]" (ranges of at most 20
// numbers), "[Passage 2]" / "[passage 2, 4]", and adjacent markers "[1][2]". A bracket that holds
// only numbers and separators is always a marker, so "[2023]" with five passages is flagged as a
// missing passage rather than silently ignored; brackets holding words ("[sic]", "[P1]") are not
// markers.
//
// The term overlap test is lexical (lowercased, accents kept, a light English stemmer on both
// sides, abbreviations matched as written); it catches citations to the wrong passage, not
// subtle misreadings of the right one. docs/knowledge.md, "Grounded answers", states the limits.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ward::knowledge {

struct CitationMarker {
    size_t begin = 0;  // byte range of the bracket in the answer, "[" to "]" inclusive
    size_t end = 0;
    std::vector<int> numbers;  // in the order written, ranges expanded
};

// Every marker in `answer`, in order. Never fails; bounded work for any input.
std::vector<CitationMarker> parse_citation_markers(std::string_view answer);

struct SentenceCitations {
    size_t begin = 0;  // byte range of the sentence (markers that follow its full stop included)
    size_t end = 0;
    std::vector<int> numbers;            // passages it cites, unique, in order of first mention
    bool supported = true;               // false: it cites passages, none shares a key term with it
    std::vector<std::string> key_terms;  // the sentence's key terms (stemmed), for display
};

enum class CitationFlagKind { kMissingPassage, kUnsupported };
std::string_view citation_flag_name(CitationFlagKind kind);  // "missing_passage", "unsupported"

struct CitationFlag {
    CitationFlagKind kind = CitationFlagKind::kMissingPassage;
    int number = 0;    // kMissingPassage: the passage number that does not exist
    size_t begin = 0;  // byte range: the marker (missing) or the sentence (unsupported)
    size_t end = 0;
    std::string detail;  // one line for people: what is wrong
};

struct CitationCheck {
    std::vector<SentenceCitations> sentences;  // every non-empty sentence, in order
    std::vector<int> cited;                    // passage numbers cited that exist, unique, in order
    std::vector<CitationFlag> flags;
    size_t uncited_sentences = 0;  // sentences with key terms and no marker
};

// Checks `answer` against passages numbered 1..passages.size() (passages[i] is number i+1).
CitationCheck check_citations(std::string_view answer, const std::vector<std::string>& passages);

// The key clinical terms of a text as check_citations() compares them: lowercase words of three
// or more letters that are not English function words, stemmed; numbers (with a unit glued on
// when written "5mg"/"5 mg"); abbreviations of two or more capitals as written, lowercased.
std::vector<std::string> key_terms(std::string_view text);

}  // namespace ward::knowledge
