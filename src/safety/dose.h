// The dose rail: finds drug, dose, unit, route and frequency mentions in a model's output and
// compares them with a table of maximum doses for common drugs (src/safety/data/dose_table.tsv,
// each row citing its FDA label). It flags, for a human to review:
//   - above_max_daily:  the daily total (dose x frequency, or a stated per-day amount) is above
//                       the adult maximum, or above the paediatric per-kg maximum x weight (and
//                       the paediatric cap) when the patient is a child or weighs under 40 kg;
//   - above_max_single: one dose is above the row's maximum single dose;
//   - unit_mixup:       a dose 1000x off the usual range whose mg<->mcg conversion lands inside
//                       it ("levothyroxine 100 mg", "fentanyl 50 mg", "metformin 500 mcg").
// A dose stated as a limit ("do not exceed 4 g/day", "maximum 4 g per day", "max 4 g") is not a
// prescribed dose: it is never multiplied by a frequency, and fires only when the maximum it
// states is itself above the table's; a threshold ("doses above 10 g") never fires, and amounts in
// a sentence about overdose or toxicity are not judged. A dose without a frequency is judged as
// taken once a day (so a single dose above the daily maximum still fires) and says so in detail
// ("no_frequency"); it never fires for lacking one. Volumes (mL), rates (mcg/h, mg/kg/min) and
// concentrations (mg/mL) are not judged.
//
// It is a second pair of eyes, not a pharmacist: renal and hepatic adjustment, age bands,
// indication-specific maxima and interactions are not modelled (docs/safety.md).
//
// Thread safety: a DoseChecker is immutable after create(); check() may run on any number of
// threads at once. Copies share the parsed table.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "safety/rail.h"

namespace ward::safety {

// The rules `RailResult::rule` takes when the dose rail fires, in the order that picks the rule
// when several fire.
inline constexpr std::string_view kDoseRules[] = {
    "unit_mixup",
    "above_max_daily",
    "above_max_single",
};

// What an amount is measured in. Masses are held in mg.
enum class DoseDimension { kMass, kUnits };

// One row of the dose table.
struct DoseRow {
    size_t line = 0;                 // in the table text, for errors and tests
    std::string drug;                // "acetaminophen"
    std::vector<std::string> names;  // the drug itself first, then synonyms and brands
    std::string route;               // "PO", "IV", "IM", "SC", "SL" or "any"
    DoseDimension dimension = DoseDimension::kMass;
    std::optional<double> max_daily;       // adult; nullopt: the label sets no ceiling
    std::optional<double> max_single;      // adult, per dose
    double usual_low = 0, usual_high = 0;  // the usual range of one dose
    std::optional<double> ped_per_kg_day;  // paediatric maximum per kg per day
    std::optional<double> ped_cap;         // paediatric maximum per day
    bool verified = false;
    std::string source;   // URL of the FDA label
    std::string section;  // the label section stating the maximum
    std::string note;
};

// Parses dose_table.tsv-formatted text (format in the file's header). InvalidArgument names the
// line and column of a bad row: a missing column, an unknown route or unit, mixed dimensions, a
// range whose low end is above its high end, a source that is not an https URL.
Result<std::vector<DoseRow>> parse_dose_table(std::string_view text, std::string_view where);

// The built-in table text (compiled in from src/safety/data/dose_table.tsv).
std::string_view dose_table_text();

struct DoseOptions {
    // The patient's weight; used when the text gives none. Must be in (0, 500].
    std::optional<double> weight_kg;
    // The patient is a child: per-kg and paediatric caps apply even without a weight.
    bool paediatric = false;
};

class DoseChecker final : public Rail {
  public:
    // Parses the built-in table. InvalidArgument for a weight outside (0, 500] kg; a table error
    // (only possible if the compiled-in file is broken) names its line.
    static Result<DoseChecker> create(const DoseOptions& options = {});

    std::string_view name() const override { return "dose"; }

    // Checks one text. When fired: rule is the first of kDoseRules found; spans cover each
    // offending drug+dose text, labelled "<rule>:<drug>". Score: for unit_mixup 0.9; for the
    // above_max rules 0.5 + 0.25 x log2(amount / limit), so 2x the limit is 0.75 and 4x is 1;
    // the result's score is the highest finding's, at most 1. Not fired: score 0, no spans, and
    // detail counts the dose mentions judged and notes those without a frequency.
    RailResult check(std::string_view text) const override;

    const std::vector<DoseRow>& table() const;
    const DoseOptions& options() const { return options_; }

  private:
    struct Impl;
    DoseChecker(std::shared_ptr<const Impl> impl, DoseOptions options);
    std::shared_ptr<const Impl> impl_;
    DoseOptions options_;
};

// Texts longer than this are checked on their first kDoseMaxBytes bytes only.
inline constexpr size_t kDoseMaxBytes = 256 * 1024;

}  // namespace ward::safety
