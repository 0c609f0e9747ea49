// The PHI-leak rail: runs the de-identification detector (deid::Deidentifier::detect) over a
// model output meant for a role that may only see de-identified text, and fires when it finds
// an identifier (a name, a date, an MRN, a phone number, ...). Placeholders the model was given
// or wrote itself ("[PATIENT NAME]", "[DATE]", "<MRN>", "{{phone}}") are not identifiers and
// never fire, so a redacted output checked again passes.
//
// Invalid UTF-8 does not let text through unchecked: each invalid byte is read as '?' (the
// offsets stay those of the input) and the rest is checked.
//
// Thread safety: a PhiLeakRail is immutable after create(); check() may run on any number of
// threads at once. Copies share the detector.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "deid/deid.h"
#include "safety/rail.h"

namespace ward::safety {

struct PhiLeakOptions {
    // Categories that never fire (a deployment that allows years and dates, say: kDate).
    std::vector<deid::Category> ignore;
    // Identifiers the detector is less sure of than this are not reported (0 to 1).
    float min_confidence = 0.5f;
};

class PhiLeakRail final : public Rail {
  public:
    // Builds the deid detector. InvalidArgument for a min_confidence outside [0, 1]; the
    // detector's own error otherwise.
    static Result<PhiLeakRail> create(const PhiLeakOptions& options = {});

    std::string_view name() const override { return "phi-leak"; }

    // When fired: spans are the identifiers found, labelled with their deid category name
    // ("NAME", "DATE", "MRN", ...), in text order; rule is the category of the most confident
    // one (earliest on ties); score is the highest confidence. detail counts them per category
    // ("2 identifiers: NAME 1, DATE 1") and never quotes the text.
    RailResult check(std::string_view text) const override;

    const PhiLeakOptions& options() const { return options_; }

  private:
    PhiLeakRail(std::shared_ptr<const deid::Deidentifier> deid, PhiLeakOptions options);
    std::shared_ptr<const deid::Deidentifier> deid_;
    PhiLeakOptions options_;
};

// True when [begin, end) of `text` lies inside a placeholder: a bracketed run ([...], <...>,
// {...}, {{...}}) of at most 40 bytes whose words are upper case, or lower-case words joined by
// '_' , and include a placeholder word (NAME, DATE, MRN, PATIENT, PHONE, ...).
bool inside_placeholder(std::string_view text, size_t begin, size_t end);

}  // namespace ward::safety
