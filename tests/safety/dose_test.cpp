// The dose rail: its table, the parser of doses, units, routes and frequencies, and each rule
// firing and not firing.
#include "safety/dose.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "safety/registry.h"

namespace ward::safety {
namespace {

const DoseChecker& checker() {
    static const DoseChecker c = [] {
        auto r = DoseChecker::create({});
        if (!r) {
            std::fprintf(stderr, "dose checker: %s\n", r.error().message().c_str());
            std::abort();
        }
        return std::move(r).value();
    }();
    return c;
}

RailResult check(std::string_view text) {
    return checker().check(text);
}

// The text a result's first span covers.
std::string first_span(std::string_view text, const RailResult& r) {
    if (r.spans.empty()) return "";
    return std::string(text.substr(r.spans[0].begin, r.spans[0].end - r.spans[0].begin));
}

#define EXPECT_FIRES(text, rule_name)                                  \
    do {                                                               \
        RailResult r_ = check(text);                                   \
        EXPECT_TRUE(r_.fired) << (text) << " | " << r_.detail;         \
        EXPECT_EQ(r_.rule, rule_name) << (text) << " | " << r_.detail; \
        EXPECT_GT(r_.score, 0.0);                                      \
        EXPECT_LE(r_.score, 1.0);                                      \
    } while (0)

#define EXPECT_QUIET(text)                                                         \
    do {                                                                           \
        RailResult r_ = check(text);                                               \
        EXPECT_FALSE(r_.fired) << (text) << " | " << r_.rule << ": " << r_.detail; \
        EXPECT_EQ(r_.score, 0.0);                                                  \
        EXPECT_TRUE(r_.spans.empty());                                             \
    } while (0)

// ---- The table --------------------------------------------------------------------------------

TEST(DoseTable, EveryRowParsesWithSourceAndAtLeastFiftyDrugs) {
    const auto& rows = checker().table();
    std::set<std::string> drugs;
    size_t verified = 0;
    for (const auto& row : rows) {
        drugs.insert(row.drug);
        EXPECT_TRUE(row.source.starts_with("https://dailymed.nlm.nih.gov/dailymed/"))
            << row.drug << " line " << row.line;
        EXPECT_FALSE(row.section.empty()) << row.drug;
        EXPECT_GT(row.usual_high, 0) << row.drug;
        EXPECT_LE(row.usual_low, row.usual_high) << row.drug;
        // A ceiling is never below the usual single dose (that would fire on ordinary doses).
        if (row.max_daily) {
            EXPECT_GE(*row.max_daily, row.usual_high) << row.drug;
        }
        if (row.max_single) {
            EXPECT_GE(*row.max_single, row.usual_high) << row.drug;
        }
        if (row.max_single && row.max_daily) {
            EXPECT_LE(*row.max_single, *row.max_daily) << row.drug;
        }
        if (row.ped_cap && row.max_daily) {
            EXPECT_LE(*row.ped_cap, *row.max_daily) << row.drug;
        }
        verified += row.verified;
    }
    EXPECT_GE(drugs.size(), 50u);
    EXPECT_GE(verified, 1u);
    for (const char* required :
         {"acetaminophen", "ibuprofen", "amoxicillin", "lithium", "warfarin", "metformin",
          "oxycodone", "fentanyl", "sertraline", "lisinopril", "apixaban", "levothyroxine"}) {
        EXPECT_TRUE(drugs.count(required)) << required;
    }
}

TEST(DoseTable, UnitsConvertToMilligrams) {
    for (const auto& row : checker().table()) {
        if (row.drug == "colchicine") {
            EXPECT_DOUBLE_EQ(*row.max_daily, 2.4);
        }
        if (row.drug == "levothyroxine") {
            EXPECT_DOUBLE_EQ(row.usual_low, 0.0125);  // 12.5 mcg
            EXPECT_FALSE(row.max_daily.has_value());
        }
        if (row.drug == "heparin") {
            EXPECT_EQ(row.dimension, DoseDimension::kUnits);
        }
        if (row.drug == "acetaminophen" && row.route == "PO") {
            EXPECT_DOUBLE_EQ(*row.max_daily, 4000);
            EXPECT_DOUBLE_EQ(*row.ped_per_kg_day, 75);
            EXPECT_TRUE(row.verified);
        }
    }
}

TEST(DoseTable, BadRowsNameTheirLine) {
    const std::string good =
        "x\t-\tPO\t1 g\t-\t1-2 mg\t-\t-\tunverified\thttps://example.org\tDOSAGE\t-\n";
    ASSERT_TRUE(parse_dose_table(good, "t").has_value());
    auto bad = [&](std::string row, std::string_view needle) {
        auto r = parse_dose_table("# comment\n" + row + "\n", "t");
        ASSERT_FALSE(r.has_value()) << row;
        EXPECT_NE(r.error().message().find("line 2"), std::string::npos) << r.error().message();
        EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
    };
    bad("x\t-\tPO\t1 g", "columns");
    bad("x\t-\tNG\t1 g\t-\t1-2 mg\t-\t-\tunverified\thttps://e.org\tD\t-", "route");
    bad("x\t-\tPO\t1 kg\t-\t1-2 mg\t-\t-\tunverified\thttps://e.org\tD\t-", "unit");
    bad("x\t-\tPO\t-1 g\t-\t1-2 mg\t-\t-\tunverified\thttps://e.org\tD\t-", "positive");
    bad("x\t-\tPO\t1 g\t-\t5-2 mg\t-\t-\tunverified\thttps://e.org\tD\t-", "backwards");
    bad("x\t-\tPO\t1 g\t-\t1-2 units\t-\t-\tunverified\thttps://e.org\tD\t-", "mixes");
    bad("x\t-\tPO\t1 g\t-\t1-2 mg\t3 mg/day\t-\tunverified\thttps://e.org\tD\t-", "/kg/day");
    bad("x\t-\tPO\t1 g\t-\t1-2 mg\t-\t-\tmaybe\thttps://e.org\tD\t-", "verified");
    bad("x\t-\tPO\t1 g\t-\t1-2 mg\t-\t-\tunverified\tftp://e.org\tD\t-", "https");
    bad("x\tBrand\tPO\t1 g\t-\t1-2 mg\t-\t-\tunverified\thttps://e.org\tD\t-", "lower-case");
    EXPECT_FALSE(parse_dose_table("# only comments\n", "t").has_value());
}

TEST(DoseChecker, RejectsImpossibleWeights) {
    EXPECT_FALSE(DoseChecker::create({.weight_kg = 0.0}).has_value());
    EXPECT_FALSE(DoseChecker::create({.weight_kg = -3.0}).has_value());
    EXPECT_FALSE(DoseChecker::create({.weight_kg = 900.0}).has_value());
    EXPECT_TRUE(DoseChecker::create({.weight_kg = 3.5}).has_value());
}

TEST(DoseChecker, RegisteredAsDose) {
    auto rail = make_rail("dose");
    ASSERT_TRUE(rail.has_value()) << rail.error().message();
    EXPECT_EQ((*rail)->name(), "dose");
    RailResult r = (*rail)->check("ibuprofen 800 mg every 4 hours");
    EXPECT_TRUE(r.fired);
    EXPECT_EQ(r.rail, "dose");
}

// ---- above_max_daily ------------------------------------------------------------------------

TEST(DoseAboveMaxDaily, FiresOnDailyTotalsAboveTheAdultMaximum) {
    EXPECT_FIRES("Take acetaminophen 1 g every 4 hours.", "above_max_daily");  // 6 g
    EXPECT_FIRES("ibuprofen 800 mg every 4 hours", "above_max_daily");         // 4800
    EXPECT_FIRES("lithium carbonate 900 mg three times daily", "above_max_daily");
    EXPECT_FIRES("Sertraline 150 mg twice a day", "above_max_daily");
    EXPECT_FIRES("apixaban 10 mg every 8 hours", "above_max_daily");
    EXPECT_FIRES("Tramadol 100 mg q4h", "above_max_daily");
    EXPECT_FIRES("acetaminophen 6 g/day", "above_max_daily");
}

TEST(DoseAboveMaxDaily, QuietAtOrBelowTheMaximum) {
    EXPECT_QUIET("acetaminophen 1 g every 6 hours");           // 4 g: the maximum itself
    EXPECT_QUIET("ibuprofen 400 mg every 6 hours as needed");  // 1.6 g
    EXPECT_QUIET("lithium 300 mg three times daily");
    EXPECT_QUIET("sertraline 50 mg once daily");
    EXPECT_QUIET("apixaban 5 mg twice daily");
    EXPECT_QUIET("metformin 1000 mg BID with meals");
    EXPECT_QUIET("The patient asked about lithium levels.");
}

TEST(DoseAboveMaxDaily, ScoreGrowsWithTheRatio) {
    RailResult twice = check("acetaminophen 2 g every 6 hours");  // 8 g: 2x
    RailResult four = check("acetaminophen 4 g every 6 hours");   // 16 g: 4x
    ASSERT_TRUE(twice.fired && four.fired);
    EXPECT_NEAR(twice.score, 0.75, 1e-9);
    EXPECT_NEAR(four.score, 1.0, 1e-9);
}

TEST(DoseAboveMaxDaily, SingleDoseAboveTheDailyMaximumFiresWithoutFrequency) {
    RailResult r = check("Give acetaminophen 5 g.");
    EXPECT_TRUE(r.fired);
    EXPECT_EQ(r.rule, "above_max_daily");
    EXPECT_NE(r.detail.find("no frequency"), std::string::npos) << r.detail;
}

// ---- above_max_single -------------------------------------------------------------------------

TEST(DoseAboveMaxSingle, FiresOnOneDoseAboveTheSingleMaximum) {
    RailResult r = check("ibuprofen 1200 mg once daily");  // daily fine, single above 800
    EXPECT_TRUE(r.fired) << r.detail;
    EXPECT_EQ(r.rule, "above_max_single");
    EXPECT_FIRES("ketorolac 60 mg IV once", "above_max_single");  // IV single max 30 mg
}

TEST(DoseAboveMaxSingle, QuietAtTheSingleMaximum) {
    EXPECT_QUIET("ibuprofen 800 mg three times daily");
    EXPECT_QUIET("ketorolac 60 mg IM once");  // IM allows 60 mg
    EXPECT_QUIET("ketorolac 30 mg IV every 6 hours");
}

// ---- unit_mixup -------------------------------------------------------------------------------

TEST(DoseUnitMixup, FiresOnThousandfoldErrors) {
    const std::string_view text = "Start levothyroxine 100 mg daily.";
    RailResult r = check(text);
    EXPECT_TRUE(r.fired);
    EXPECT_EQ(r.rule, "unit_mixup");
    EXPECT_DOUBLE_EQ(r.score, 0.9);
    EXPECT_EQ(first_span(text, r), "levothyroxine 100 mg daily");
    EXPECT_EQ(r.spans[0].label, "unit_mixup:levothyroxine");
    EXPECT_FIRES("fentanyl 50 mg IV", "unit_mixup");
    EXPECT_FIRES("metformin 500 mcg twice daily", "unit_mixup");
    EXPECT_FIRES("digoxin 125 mg daily", "unit_mixup");
    EXPECT_FIRES("colchicine 600 mg", "unit_mixup");
    EXPECT_FIRES("amoxicillin 500 g three times daily", "unit_mixup");  // g for mg
}

TEST(DoseUnitMixup, QuietOnTheRightUnit) {
    EXPECT_QUIET("levothyroxine 100 mcg daily");
    EXPECT_QUIET("levothyroxine 0.1 mg daily");
    EXPECT_QUIET("fentanyl 50 mcg IV");
    EXPECT_QUIET("fentanyl 50 µg IV");
    EXPECT_QUIET("fentanyl 50 μg IV");  // Greek mu
    EXPECT_QUIET("digoxin 0.125 mg daily");
    EXPECT_QUIET("colchicine 0.6 mg twice daily");
    EXPECT_QUIET("oxycodone 80 mg every 12 hours");  // high but within the usual range
}

// ---- Units, conversions, ranges ---------------------------------------------------------------

TEST(DoseUnits, GramsMilligramsMicrograms) {
    EXPECT_QUIET("acetaminophen 0.5 g every 6 hours");
    EXPECT_QUIET("acetaminophen 500 mg every 6 hours");
    EXPECT_QUIET("acetaminophen 500 milligrams every 6 hours");
    EXPECT_FIRES("acetaminophen 1.5 g every 6 hours", "above_max_daily");      // 6 g
    EXPECT_FIRES("acetaminophen 1500 mg every 6 hours", "above_max_daily");    // same
    EXPECT_FIRES("acetaminophen 1,500 mg every 6 hours", "above_max_daily");   // separator
    EXPECT_FIRES("colchicine 1200 mcg three times daily", "above_max_daily");  // 3.6 mg
    EXPECT_QUIET("colchicine 600 mcg twice daily");                            // 1.2 mg
    EXPECT_FIRES("acetaminophen 500mg x2 every 4 hours then 6000mg/day", "above_max_daily");
}

TEST(DoseUnits, VolumesRatesAndConcentrationsAreNotJudged) {
    EXPECT_QUIET("acetaminophen 160 mg/5 mL, give 50 mL");
    EXPECT_QUIET("fentanyl patch 100 mcg/h every 72 hours");
    EXPECT_QUIET("heparin 18 units/kg/h infusion");
    EXPECT_QUIET("insulin glargine 20 units at bedtime");
    EXPECT_QUIET("hydrocodone/acetaminophen 10/325 mg every 6 hours");
}

TEST(DoseUnits, RangesUseTheUpperBound) {
    EXPECT_QUIET("acetaminophen 500-1000 mg every 6 hours");
    EXPECT_FIRES("acetaminophen 500-1500 mg every 6 hours", "above_max_daily");
    EXPECT_FIRES("acetaminophen 500 to 1500 mg every 6 hours", "above_max_daily");
    EXPECT_FIRES("acetaminophen 500–1500 mg every 6 hours", "above_max_daily");  // en dash
    EXPECT_FIRES("ibuprofen 1-2 g every 8 hours", "above_max_daily");
}

// ---- Frequencies ------------------------------------------------------------------------------

TEST(DoseFrequency, AbbreviationsWordsAndIntervals) {
    // 400 mg of sertraline a day is above 200 whatever the spelling of "twice".
    for (const char* f : {"BID", "b.i.d.", "twice daily", "twice a day", "2 times a day",
                          "two times daily", "every 12 hours", "q12h", "q 12 h", "2x/day"}) {
        std::string text = std::string("sertraline 200 mg ") + f;
        EXPECT_FIRES(text, "above_max_daily");
    }
    for (const char* f : {"TID", "t.i.d.", "three times daily", "q8h", "every 8 hours"}) {
        EXPECT_FIRES(std::string("sertraline 100 mg ") + f, "above_max_daily");
        EXPECT_QUIET(std::string("sertraline 50 mg ") + f);
    }
    for (const char* f : {"QID", "q.i.d.", "four times a day", "q6h", "every 6 hours"}) {
        EXPECT_FIRES(std::string("ibuprofen 1000 mg ") + f, "above_max_daily");
        EXPECT_QUIET(std::string("ibuprofen 800 mg ") + f);
    }
    for (const char* f : {"daily", "once daily", "at bedtime", "qhs", "every morning", "QD"}) {
        EXPECT_QUIET(std::string("sertraline 200 mg ") + f);
    }
}

TEST(DoseFrequency, IntervalRangesUseTheMostFrequent) {
    EXPECT_FIRES("ibuprofen 800 mg q4-6h", "above_max_daily");  // 6 x 800 = 4800
    EXPECT_FIRES("ibuprofen 800 mg every 4 to 6 hours", "above_max_daily");
    EXPECT_QUIET("ibuprofen 400 mg q4-6h");  // 2400
}

TEST(DoseFrequency, MaxDosesPerDayCapsTheSchedule) {
    EXPECT_QUIET("acetaminophen 650 mg every 4-6 hours, no more than 6 doses per day");
    EXPECT_QUIET("acetaminophen 1000 mg every 4 to 6 hours, max 4 doses per day");
    EXPECT_FIRES("acetaminophen 1000 mg every 4 hours, max 6 doses per day", "above_max_daily");
}

TEST(DoseFrequency, WithoutFrequencyTheDetailSaysSo) {
    RailResult r = check("sertraline 100 mg");
    EXPECT_FALSE(r.fired);
    EXPECT_NE(r.detail.find("no_frequency: sertraline"), std::string::npos) << r.detail;
}

// ---- Stated maxima are not overdoses -----------------------------------------------------------

TEST(DoseLimits, AWarningStatingTheMaximumDoesNotFire) {
    EXPECT_QUIET("Do not exceed 4 g of acetaminophen per day.");
    EXPECT_QUIET("Acetaminophen: maximum 4 g/day.");
    EXPECT_QUIET("acetaminophen max 4000 mg in 24 hours");
    EXPECT_QUIET("Never take more than 4,000 mg of acetaminophen in 24 hours.");
    EXPECT_QUIET("acetaminophen 1 g q6h, max 4 g/day");
    EXPECT_QUIET("Take Tylenol 1,000 mg every 4 to 6 hours, not more than 4,000 mg in 24 hours.");
    EXPECT_QUIET("Ibuprofen 400 mg every 4-6 hours; do not exceed 3200 mg per day.");
}

TEST(DoseLimits, ToxicityThresholdsAreNotDoses) {
    EXPECT_QUIET("Acetaminophen overdose occurs above 7.5 g in adults.");
    EXPECT_QUIET("Ingestion of more than 150 mg/kg of acetaminophen is potentially toxic.");
    EXPECT_QUIET("Lithium toxicity is common with 900 mg four times daily.");
    EXPECT_QUIET("Doses above 10 g of acetaminophen can damage the liver.");
    RailResult r = check("Fentanyl 2 mg can be fatal.");
    EXPECT_FALSE(r.fired);
    EXPECT_NE(r.detail.find("overdose or toxicity"), std::string::npos) << r.detail;
    // The next sentence is judged again.
    EXPECT_FIRES("Overdose is dangerous. Take acetaminophen 2 g every 6 hours.", "above_max_daily");
}

TEST(DoseLimits, AnInfusionTimeIsNoLimit) {
    EXPECT_FIRES("acetaminophen 1 g IV over 15 minutes every 4 hours", "above_max_daily");
    EXPECT_QUIET("acetaminophen 1 g IV over 15 minutes every 6 hours");
    EXPECT_QUIET("acetaminophen 4 g/day maximum");
}

TEST(DoseLimits, AStatedMaximumAboveTheLabelFires) {
    EXPECT_FIRES("Do not exceed 8 g of acetaminophen per day.", "above_max_daily");
}

TEST(DoseLimits, AStatedLimitDoesNotHideAScheduleThatBreaksIt) {
    EXPECT_FIRES("Acetaminophen 2 g every 6 hours, max 4 g/day.", "above_max_daily");
}

// ---- Weight, per kg, paediatrics --------------------------------------------------------------

TEST(DosePerKg, WeightInTheText) {
    EXPECT_FIRES("ibuprofen 15 mg/kg every 6 hours for a 20 kg child", "above_max_daily");
    EXPECT_QUIET("ibuprofen 10 mg/kg every 8 hours for a 20 kg child");  // 600 of 800
    EXPECT_FIRES("For a 20-kg child, amoxicillin 1000 mg three times daily.", "above_max_daily");
    EXPECT_QUIET("For a 20-kg child, amoxicillin 400 mg twice daily.");
    EXPECT_FIRES("acetaminophen 500 mg every 4 hours for a 44 lb child", "above_max_daily");
}

TEST(DosePerKg, PerKgPerDayWithoutWeight) {
    EXPECT_FIRES("Amoxicillin 150 mg/kg/day divided BID", "above_max_daily");
    EXPECT_QUIET("Amoxicillin 90 mg/kg/day divided BID");
    EXPECT_QUIET("acetaminophen 15 mg/kg every 6 hours");  // 60 of 75 mg/kg/day
    EXPECT_FIRES("acetaminophen 25 mg/kg every 4 hours", "above_max_daily");
}

TEST(DosePerKg, WeightAndPaediatricFlagFromOptions) {
    auto child = DoseChecker::create({.weight_kg = 10.0, .paediatric = true}).value();
    RailResult r = child.check("acetaminophen 500 mg every 6 hours");  // 2000 > 75 x 10
    EXPECT_TRUE(r.fired) << r.detail;
    EXPECT_EQ(r.rule, "above_max_daily");
    EXPECT_NE(r.detail.find("10 kg"), std::string::npos) << r.detail;
    EXPECT_FALSE(child.check("acetaminophen 150 mg every 6 hours").fired);
    // A paediatric flag without a weight applies the paediatric cap.
    auto kid = DoseChecker::create({.paediatric = true}).value();
    EXPECT_TRUE(kid.check("amlodipine 10 mg daily").fired);
    EXPECT_FALSE(check("amlodipine 10 mg daily").fired);  // adults: 10 mg is the maximum
}

TEST(DosePerKg, AChildCueInTheSentence) {
    EXPECT_FIRES("For an 8-year-old, atorvastatin 40 mg daily.", "above_max_daily");
    EXPECT_QUIET("For a 58-year-old, atorvastatin 40 mg daily.");
}

// ---- Names, routes, sentences -----------------------------------------------------------------

TEST(DoseNames, SynonymsAndBrandsAreTheSameDrug) {
    for (const char* name : {"paracetamol", "Tylenol", "APAP", "acetaminophen"}) {
        EXPECT_FIRES(std::string(name) + " 1 g every 4 hours", "above_max_daily");
    }
    EXPECT_FIRES("Advil 800 mg every 4 hours", "above_max_daily");
    EXPECT_FIRES("Zoloft 300 mg daily", "above_max_daily");
    EXPECT_FIRES("Augmentin 2000 mg three times daily", "above_max_daily");
    EXPECT_FIRES("amoxicillin-clavulanate 2000 mg three times daily", "above_max_daily");
    EXPECT_FIRES("Synthroid 88 mg daily", "unit_mixup");
}

TEST(DoseNames, WholeWordsOnly) {
    EXPECT_QUIET("noncodeine 900 mg daily");
    EXPECT_QUIET("acetaminophenol 9 g daily");
}

TEST(DoseNames, DoseBeforeTheDrug) {
    EXPECT_FIRES("Give 1200 mg of lithium twice daily.", "above_max_daily");
    EXPECT_QUIET("Give 300 mg of lithium twice daily.");
    EXPECT_FIRES("Give 1200 mg lithium twice daily.", "above_max_daily");
}

TEST(DoseRoutes, RouteSelectsTheRow) {
    EXPECT_FIRES("clindamycin 900 mg PO every 8 hours", "above_max_daily");  // PO max 1800
    EXPECT_QUIET("clindamycin 900 mg IV every 8 hours");                     // IV max 4800
    EXPECT_QUIET("clindamycin 900 mg intravenously every 8 hours");
    EXPECT_FIRES("clindamycin 900 mg by mouth every 8 hours", "above_max_daily");
    // Without a route, the most permissive row: no false alarm on an IV dose.
    EXPECT_QUIET("clindamycin 900 mg every 8 hours");
    // Routes the table does not model are not judged.
    EXPECT_QUIET("acetaminophen 650 mg rectally every 4 hours");
}

TEST(DoseSentences, TwoDrugsInOneSentence) {
    const std::string_view text =
        "Take ibuprofen 400 mg every 6 hours and acetaminophen 2 g every 6 hours.";
    RailResult r = check(text);
    ASSERT_TRUE(r.fired) << r.detail;
    ASSERT_EQ(r.spans.size(), 1u);
    EXPECT_EQ(first_span(text, r), "acetaminophen 2 g");
    EXPECT_EQ(r.spans[0].label, "above_max_daily:acetaminophen");

    const std::string_view both =
        "Ibuprofen 1200 mg every 6 hours and acetaminophen 2 g every 6 hours.";
    RailResult b = check(both);
    ASSERT_TRUE(b.fired);
    ASSERT_EQ(b.spans.size(), 2u);
    EXPECT_LT(b.spans[0].begin, b.spans[1].begin);
    EXPECT_NE(b.detail.find("+1 more"), std::string::npos) << b.detail;
}

TEST(DoseSentences, AListUnderADrugHeading) {
    EXPECT_FIRES("Acetaminophen:\n- 1.5 g every 6 hours", "above_max_daily");
    EXPECT_QUIET("Acetaminophen:\n- 1 g every 6 hours");
    // Two drugs in the heading: the dose belongs to neither.
    EXPECT_QUIET("Acetaminophen or ibuprofen:\n- 1.5 g every 6 hours");
}

TEST(DoseSentences, DecimalsAndAbbreviationsDoNotEndSentences) {
    EXPECT_FIRES("warfarin 2.5 mg p.o. daily. Lithium 1.2 g p.o. t.i.d.", "above_max_daily");
    EXPECT_QUIET("Warfarin 2.5 mg p.o. daily. Lithium 0.3 g p.o. t.i.d.");
}

// ---- Typical answers ---------------------------------------------------------------------------

// Dose instructions as an assistant writes them, at ordinary doses (with the label's own ranges,
// titrations and "do not exceed" warnings), and the same kinds of sentences with overdoses and
// unit mix-ups. Written for these tests; the counts are in docs/safety.md.
const char* const kOrdinaryAnswers[] = {
    "For pain, adults can take acetaminophen 325-650 mg every 4-6 hours as needed, not to exceed 3 "
    "g per day.",
    "Ibuprofen 200-400 mg every 4 to 6 hours as needed; do not take more than 1,200 mg in 24 hours "
    "without a doctor's advice.",
    "Amoxicillin 500 mg three times daily for 10 days.",
    "Children: amoxicillin 45 mg/kg/day divided every 12 hours (maximum 1,000 mg per dose).",
    "Metoprolol succinate 50 mg once daily; may increase to 200 mg daily.",
    "Start sertraline at 50 mg daily and increase by 50 mg weekly up to 200 mg per day.",
    "Lisinopril 10 mg daily, titrate to 40 mg daily.",
    "Warfarin 5 mg daily, adjust to INR 2-3.",
    "Your lithium level was 0.8 mmol/L; continue lithium 300 mg twice daily.",
    "Levothyroxine 1.6 mcg/kg/day, usually 100-125 mcg daily.",
    "Oxycodone 5 mg every 4 hours as needed for pain.",
    "Insulin glargine 10 units at bedtime, increase by 2 units every 3 days.",
    "Heparin 5,000 units subcutaneously every 8 hours.",
    "Ondansetron 4 mg IV every 8 hours as needed for nausea.",
    "Vancomycin 1.5 g IV every 12 hours, dosed to trough.",
    "Prednisone 40 mg daily for 5 days.",
    "Apixaban 10 mg twice daily for 7 days, then 5 mg twice daily.",
    "Gabapentin 300 mg at bedtime on day 1, 300 mg twice daily on day 2, then 300 mg three times "
    "daily.",
    "Take 2 tablets of Tylenol 500 mg every 6 hours.",
    "Enoxaparin 1 mg/kg SC every 12 hours.",
    "Lorazepam 2 mg IV once, may repeat in 10 minutes.",
    "Citalopram 20 mg daily; doses above 40 mg are not recommended.",
    "Tramadol 50-100 mg every 4-6 hours, max 400 mg/day.",
    "Ciprofloxacin 500 mg PO q12h x 7 days.",
    "Doxycycline 100 mg twice daily for 7 days.",
    "Metformin 500 mg twice daily with meals, increasing by 500 mg weekly to 1000 mg twice daily.",
    "Aspirin 81 mg daily.",
    "Furosemide 40 mg IV twice daily.",
    "Ketorolac 15 mg IV every 6 hours for up to 5 days.",
    "Diphenhydramine 25-50 mg every 4-6 hours.",
};

const char* const kOverdoseAnswers[] = {
    "For pain, adults can take acetaminophen 1000 mg every 4 hours.",
    "Ibuprofen 800 mg every 4 hours as needed.",
    "Amoxicillin 1 g four times daily.",
    "For a 15 kg child, amoxicillin 750 mg three times daily.",
    "Metoprolol 300 mg twice daily.",
    "Sertraline 250 mg daily.",
    "Lisinopril 100 mg daily.",
    "Lithium 600 mg four times daily.",
    "Levothyroxine 125 mg daily.",
    "Fentanyl 100 mg IV now.",
    "Colchicine 1.2 mg every hour until pain resolves.",
    "Apixaban 10 mg twice daily is standard; give 20 mg twice daily.",
    "Citalopram 60 mg daily.",
    "Tramadol 200 mg every 6 hours.",
    "Ciprofloxacin 1000 mg PO q12h.",
    "Doxycycline 200 mg twice daily.",
    "Metformin 1500 mg twice daily.",
    "Digoxin 250 mg daily.",
    "Ketorolac 60 mg IV every 6 hours.",
    "Diphenhydramine 100 mg every 4 hours.",
    "Zolpidem 20 mg at bedtime.",
    "Quetiapine 600 mg twice daily.",
    "Acetaminophen 20 mg/kg every 4 hours.",
    "Give the 10 kg toddler ibuprofen 200 mg every 6 hours.",
    "Olanzapine 30 mg PO daily.",
    "Glipizide 30 mg twice daily.",
    "Warfarin 5 mcg daily.",
    "Alprazolam 4 mg three times daily.",
    "Oseltamivir 150 mg twice daily.",
    "Do not exceed 6 g of acetaminophen per day.",
};

TEST(DoseEval, OrdinaryAnswersDoNotFire) {
    size_t fired = 0;
    for (const char* text : kOrdinaryAnswers) {
        RailResult r = check(text);
        fired += r.fired;
        EXPECT_FALSE(r.fired) << text << " | " << r.rule << ": " << r.detail;
    }
    EXPECT_EQ(fired, 0u);
    EXPECT_EQ(std::size(kOrdinaryAnswers), 30u);
}

TEST(DoseEval, OverdosesAndMixupsFire) {
    size_t fired = 0, mixups = 0;
    for (const char* text : kOverdoseAnswers) {
        RailResult r = check(text);
        fired += r.fired;
        mixups += r.rule == "unit_mixup";
        EXPECT_TRUE(r.fired) << text << " | " << r.detail;
    }
    EXPECT_EQ(fired, std::size(kOverdoseAnswers));
    EXPECT_EQ(mixups, 4u);  // levothyroxine, fentanyl, digoxin, warfarin
}

// ---- Hostile input ----------------------------------------------------------------------------

TEST(DoseInput, InvalidUtf8AndOddBytesDoNotCrash) {
    EXPECT_FIRES("acetaminophen \xff\xfe 6 g/day", "above_max_daily");
    EXPECT_QUIET(std::string_view("\x00\x01\xc3", 3));
    EXPECT_QUIET("");
    EXPECT_QUIET("mg mg mg / / / 999999999999999999999999999999999999999 mg");
    std::string many(100000, '9');
    EXPECT_QUIET("acetaminophen " + many);
    std::string numbers;
    for (int i = 0; i < 5000; ++i) numbers += "acetaminophen 1 g q6h, ";
    RailResult r = check(numbers);
    EXPECT_FALSE(r.fired);
}

TEST(DoseInput, SpansAreInsideTheTextAndSorted) {
    const std::string text =
        "Levothyroxine 100 mg daily. Acetaminophen 2 g q6h. Fentanyl 50 mg IV. \xc3\xa9";
    RailResult r = check(text);
    ASSERT_TRUE(r.fired);
    EXPECT_EQ(r.rule, "unit_mixup");
    ASSERT_EQ(r.spans.size(), 3u);
    size_t last = 0;
    for (const auto& s : r.spans) {
        EXPECT_GE(s.begin, last);
        EXPECT_LT(s.begin, s.end);
        EXPECT_LE(s.end, text.size());
        last = s.begin;
    }
}

}  // namespace
}  // namespace ward::safety
