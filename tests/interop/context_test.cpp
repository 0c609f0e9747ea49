#include "interop/context.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/mapped_file.h"
#include "interop/fhir.h"
#include "test_util.h"

namespace ward::interop {
namespace {

constexpr const char* kReferenceDate = "2020-11-01";
constexpr size_t kGoldenBudget = 1500;

std::string golden_path(const std::string& bundle, Profile p) {
    std::string first = bundle.substr(0, bundle.find('_'));
    return testing::source_dir() + "/tests/interop/golden/" + first + "." +
           std::string(profile_name(p)) + ".txt";
}

// For each shared Synthea patient and each profile, the context must match the checked-in
// golden file byte for byte. WARD_UPDATE_GOLDEN=1 rewrites the files instead.
TEST(ContextGolden, EveryPatientAndProfile) {
    bool update = std::getenv("WARD_UPDATE_GOLDEN") != nullptr;
    size_t checked = 0;
    for (const char* file : testing::kSyntheaPatients) {
        auto r = read_fhir_file(testing::synthea(file));
        ASSERT_TRUE(r);
        ASSERT_EQ(r->patients.size(), 1u);
        for (Profile p : all_profiles()) {
            ContextOptions o{p, kReferenceDate, kGoldenBudget};
            auto ctx = build_context(r->patients[0], o);
            ASSERT_TRUE(ctx) << ctx.error().to_string();
            EXPECT_LE(ctx->estimated_tokens, kGoldenBudget);
            EXPECT_EQ(ctx->estimated_tokens, estimate_tokens(ctx->text));
            std::string path = golden_path(file, p);
            if (update) {
                ASSERT_TRUE(write_file_atomic(path, ctx->text).ok());
            } else {
                std::string expected = testing::slurp(path);
                EXPECT_FALSE(expected.empty()) << "missing golden " << path;
                EXPECT_EQ(ctx->text, expected)
                    << "golden " << path << " differs (WARD_UPDATE_GOLDEN=1 rewrites it)";
            }
            ++checked;
        }
    }
    EXPECT_EQ(checked, 36u);
}

TEST(Context, BudgetIsNeverExceededAndDeterministic) {
    for (const char* file : testing::kSyntheaPatients) {
        auto r = read_fhir_file(testing::synthea(file));
        ASSERT_TRUE(r);
        const PatientRecord& rec = r->patients[0];
        for (size_t budget : {120, 200, 400, 800, 3000, 100000}) {
            for (Profile p : all_profiles()) {
                ContextOptions o{p, kReferenceDate, budget};
                auto a = build_context(rec, o);
                ASSERT_TRUE(a) << a.error().to_string();
                EXPECT_LE(estimate_tokens(a->text), budget);
                auto b = build_context(rec, o);
                EXPECT_EQ(a->text, b->text);
                // Every cited id appears in the text and has a source.
                for (const auto& c : a->citations) {
                    EXPECT_NE(a->text.find("[" + c.id + "]"), std::string::npos);
                    EXPECT_FALSE(c.sources.empty());
                }
            }
        }
        // With a huge budget nothing is omitted.
        auto all = build_context(rec, {Profile::kGeneral, kReferenceDate, 100000});
        EXPECT_EQ(all->n_omitted, 0u);
        EXPECT_EQ(all->text.find("Omitted"), std::string::npos);
    }
    auto r = read_fhir_file(testing::synthea(testing::kSyntheaPatients[0]));
    auto tiny = build_context(r->patients[0], {Profile::kGeneral, kReferenceDate, 10});
    ASSERT_FALSE(tiny);
    EXPECT_EQ(tiny.error().code(), StatusCode::kResourceExhausted);
    EXPECT_FALSE(build_context(r->patients[0], {Profile::kGeneral, "2020-13-01", 100}));
}

PatientRecord clinical_record() {
    PatientRecord r;
    r.id = "p1";
    r.demographics.given_names = {"Ann"};
    r.demographics.family_name = "Roe";
    r.demographics.gender = "female";
    r.demographics.birth_date = "1950-06-15";
    auto src = [](std::string id) {
        return std::vector<Source>{{Source::Kind::kFhir, id, "", ""}};
    };
    auto egfr = [&](std::string date, double v, std::string id) {
        Observation o;
        o.code.codings = {{std::string(kLoinc), "33914-3", "eGFR"}};
        o.category = "laboratory";
        o.effective = date;
        o.value.kind = ObservationValue::Kind::kQuantity;
        o.value.number = v;
        o.value.unit = "mL/min";
        o.reference_ranges = {{60.0, std::nullopt, "mL/min", ""}};
        o.sources = src(id);
        return o;
    };
    r.observations = {
        egfr("2020-01-15", 58, "Observation/e1"), egfr("2020-05-15", 51, "Observation/e2"),
        egfr("2020-10-15", 44, "Observation/e3"), egfr("2021-01-01", 30, "Observation/future")};
    Problem ckd;
    ckd.code.codings = {{std::string(kSnomed), "431857002", "Chronic kidney disease stage 4"}};
    ckd.clinical_status = "active";
    ckd.onset = "2019-01-01";
    ckd.sources = src("Condition/ckd");
    Problem dep;
    dep.code.text = "Major depressive disorder";
    dep.clinical_status = "active";
    dep.onset = "2018-01-01";
    dep.sources = src("Condition/dep");
    r.problems = {ckd, dep};
    Medication m;
    m.code.text = "sertraline 50 mg tablet";
    m.status = "active";
    m.dosage = "50 mg once daily";
    m.start = "2019-02-01";
    m.sources = src("MedicationRequest/m1");
    r.medications = {m};
    Allergy a;
    a.code.text = "Penicillin";
    a.criticality = "high";
    a.reactions = {{{"Anaphylaxis"}, "severe"}};
    a.sources = src("AllergyIntolerance/a1");
    r.allergies = {a};
    return r;
}

TEST(Context, SelectsAndOrdersWhatMatters) {
    PatientRecord r = clinical_record();
    auto ctx = build_context(r, {Profile::kGeneral, kReferenceDate, 1000});
    ASSERT_TRUE(ctx);
    const std::string& t = ctx->text;
    EXPECT_NE(t.find("Patient Ann Roe (id p1), female, born 1950-06-15 (age 70)."),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("- [A1] Penicillin, high criticality; reaction: Anaphylaxis (severe)"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("- [M1] sertraline 50 mg tablet: 50 mg once daily (since 2019-02-01)"),
              std::string::npos)
        << t;
    // Trend over the series, the future value (after the reference date) left out.
    EXPECT_NE(
        t.find(
            "- [L1] eGFR: 44 mL/min (2020-10-15); range >60; trend 58 -> 51 -> 44 over 9 months"),
        std::string::npos)
        << t;
    EXPECT_EQ(t.find("30 mL/min"), std::string::npos);
    EXPECT_LT(t.find("Allergies:"), t.find("Active problems:"));
    EXPECT_LT(t.find("Active problems:"), t.find("Current medications:"));
    // The citation of the trend names every value it used.
    for (const auto& c : ctx->citations) {
        if (c.id == "L1") {
            EXPECT_EQ(c.sources.size(), 3u);
        }
    }
    // Mental health puts depression before kidney disease; general orders by onset.
    auto mh = build_context(r, {Profile::kMentalHealth, kReferenceDate, 1000});
    EXPECT_LT(mh->text.find("depressive"), mh->text.find("kidney"));
    auto gen = build_context(r, {Profile::kGeneral, kReferenceDate, 1000});
    EXPECT_LT(gen->text.find("kidney"), gen->text.find("depressive"));
}

// The estimate must never undercount a real tokenizer: checked against the reference token
// ids of the Llama 2, Llama 3 and Qwen2 tokenizers for llama.cpp's 44 test strings.
TEST(Context, TokenEstimateErrsOnTheSafeSide) {
    std::string dir = testing::shared_data() + "/tokenizers/";
    auto inputs = nlohmann::json::parse(testing::slurp(dir + "llamacpp_vocab_test_inputs.json"));
    ASSERT_EQ(inputs.size(), 44u);
    for (const char* name : {"llama2_spm", "llama3_bpe", "qwen2_bpe"}) {
        std::istringstream lines(testing::slurp(dir + name + ".expected.txt"));
        std::string line;
        size_t i = 0, checked = 0;
        while (std::getline(lines, line) && i < inputs.size()) {
            std::istringstream ids(line);
            size_t n = 0;
            std::string id;
            while (ids >> id) ++n;
            std::string text = inputs[i].get<std::string>();
            EXPECT_GE(estimate_tokens(text), n) << name << " input " << i;
            ++i;
            ++checked;
        }
        EXPECT_GE(checked, 43u) << name;
    }
}

}  // namespace
}  // namespace ward::interop
