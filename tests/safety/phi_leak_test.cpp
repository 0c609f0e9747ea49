// The PHI-leak rail: outputs with names, dates, MRNs and phone numbers fire with spans per
// category; clean outputs and placeholders ("[PATIENT NAME]") do not; options drop categories
// and low-confidence spans; invalid UTF-8 is still checked.
#include <gtest/gtest.h>

#include <algorithm>

#include "safety/phi_leak.h"
#include "safety/registry.h"

namespace ward::safety {
namespace {

const PhiLeakRail& rail() {
    static const PhiLeakRail r = PhiLeakRail::create({}).value();
    return r;
}

bool has_label(const RailResult& r, std::string_view label) {
    return std::any_of(r.spans.begin(), r.spans.end(),
                       [&](const Span& s) { return s.label == label; });
}

std::string span_text(std::string_view text, const Span& s) {
    return std::string(text.substr(s.begin, s.end - s.begin));
}

TEST(PhiLeak, FiresOnIdentifiersWithSpansPerCategory) {
    std::string text =
        "Summary: Mr. John Smith (MRN 4839201) was admitted on 03/14/2024. Call his daughter at "
        "(617) 555-0142.";
    RailResult r = rail().check(text);
    ASSERT_TRUE(r.fired) << r.detail;
    EXPECT_EQ(r.rail, "phi-leak");
    EXPECT_TRUE(has_label(r, "NAME")) << r.detail;
    EXPECT_TRUE(has_label(r, "MRN")) << r.detail;
    EXPECT_TRUE(has_label(r, "DATE")) << r.detail;
    EXPECT_TRUE(has_label(r, "PHONE")) << r.detail;
    EXPECT_GT(r.score, 0.5);
    EXPECT_LE(r.score, 1.0);
    for (const Span& s : r.spans) {
        if (s.label == "MRN") {
            EXPECT_EQ(span_text(text, s), "4839201");
        }
        if (s.label == "PHONE") {
            EXPECT_NE(span_text(text, s).find("555-0142"), std::string::npos);
        }
    }
    for (size_t i = 1; i < r.spans.size(); ++i) EXPECT_LT(r.spans[i - 1].begin, r.spans[i].begin);
    // The detail counts; it never quotes the text.
    EXPECT_EQ(r.detail.find("Smith"), std::string::npos);
    EXPECT_NE(r.detail.find("identifiers"), std::string::npos);
}

TEST(PhiLeak, CleanOutputsDoNotFire) {
    for (std::string_view text : {
             "The patient is a 64-year-old man with type 2 diabetes on metformin 500 mg twice "
             "daily.",
             "Continue lisinopril 10 mg daily; recheck potassium in 1 week.",
             "HbA1c improved from 9.1% to 7.4% over six months.",
             "",
         }) {
        RailResult r = rail().check(text);
        EXPECT_FALSE(r.fired) << text << " -> " << r.detail;
        EXPECT_TRUE(r.spans.empty());
        EXPECT_EQ(r.score, 0);
    }
}

TEST(PhiLeak, PlaceholdersDoNotFire) {
    for (std::string_view text : {
             "[PATIENT NAME] was admitted on [DATE] with chest pain.",
             "Dear [NAME], your results are ready. Call [PHONE] with questions.",
             "MRN: [MRN]. DOB: [DOB].",
             "Patient <NAME> seen by Dr. [CLINICIAN NAME].",
             "Hello {{patient_name}}, your visit is on {{visit_date}}.",
         }) {
        RailResult r = rail().check(text);
        EXPECT_FALSE(r.fired) << text << " -> " << r.detail;
    }
}

TEST(PhiLeak, PlaceholderRecognition) {
    std::string_view t = "[PATIENT NAME] and [John Smith] and [REDACTED] and (NAME)";
    EXPECT_TRUE(inside_placeholder(t, 1, 8));     // PATIENT
    EXPECT_TRUE(inside_placeholder(t, 9, 13));    // NAME
    EXPECT_FALSE(inside_placeholder(t, 20, 24));  // John: mixed case is text
    EXPECT_TRUE(inside_placeholder(t, 37, 45));   // REDACTED
    EXPECT_FALSE(inside_placeholder(t, 52, 56));  // parentheses are not a placeholder
    EXPECT_FALSE(inside_placeholder(t, 5, 5));
    EXPECT_FALSE(inside_placeholder(t, 0, 100));
}

TEST(PhiLeak, IgnoredCategoriesAndMinimumConfidence) {
    std::string text = "Seen on 03/14/2024 by Dr. Alice Wong.";
    RailResult all = rail().check(text);
    ASSERT_TRUE(has_label(all, "DATE")) << all.detail;
    ASSERT_TRUE(has_label(all, "NAME")) << all.detail;

    PhiLeakOptions o;
    o.ignore = {deid::Category::kDate};
    RailResult no_dates = PhiLeakRail::create(o).value().check(text);
    EXPECT_FALSE(has_label(no_dates, "DATE"));
    EXPECT_TRUE(has_label(no_dates, "NAME"));

    o.ignore = {deid::Category::kDate, deid::Category::kName};
    EXPECT_FALSE(PhiLeakRail::create(o).value().check(text).fired);

    PhiLeakOptions strict;
    strict.min_confidence = 1.0f;
    RailResult few = PhiLeakRail::create(strict).value().check(text);
    EXPECT_LE(few.spans.size(), all.spans.size());

    PhiLeakOptions bad;
    bad.min_confidence = 1.5f;
    auto made = PhiLeakRail::create(bad);
    ASSERT_FALSE(made.has_value());
    EXPECT_NE(made.error().message().find("min_confidence"), std::string::npos);
}

TEST(PhiLeak, InvalidUtf8IsStillChecked) {
    std::string text = "Patient John Smith \xff\xfe called from 617-555-0142.";
    RailResult r = rail().check(text);
    ASSERT_TRUE(r.fired) << r.detail;
    EXPECT_TRUE(has_label(r, "PHONE"));
    EXPECT_NE(r.detail.find("invalid UTF-8"), std::string::npos);
    for (const Span& s : r.spans) EXPECT_LE(s.end, text.size());
}

TEST(PhiLeak, IsInTheRegistry) {
    auto made = make_rail("phi-leak");
    ASSERT_TRUE(made.has_value()) << made.error().message();
    EXPECT_EQ((*made)->name(), "phi-leak");
    EXPECT_TRUE((*made)->check("Call Mary Jones at 617-555-0142.").fired);
}

}  // namespace
}  // namespace ward::safety
