// Detector behaviour on hand-written cases: each category, the clinical-word exceptions, and
// hostile input (invalid UTF-8, empty, a 50 MB single line, binary garbage).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "test_util.h"

namespace ward::deid {
namespace {

using test::shared_deid;

// "category:text" for every span found.
std::vector<std::string> found(std::string_view text) {
    std::vector<std::string> out;
    auto spans = shared_deid().detect(text).value();
    for (const auto& s : spans) {
        out.push_back(std::string(category_name(s.category)) + ":" +
                      std::string(text.substr(s.start, s.end - s.start)));
    }
    return out;
}

testing::AssertionResult has(std::string_view text, const std::string& expect) {
    auto f = found(text);
    if (std::find(f.begin(), f.end(), expect) != f.end()) return testing::AssertionSuccess();
    std::string got;
    for (const auto& x : f) got += " [" + x + "]";
    return testing::AssertionFailure()
           << "expected " << expect << " in \"" << text << "\", found:" << got;
}

TEST(Detector, EponymsStayButPeopleGo) {
    EXPECT_TRUE(found("History of Parkinson's disease and Alzheimer's dementia.").empty());
    EXPECT_TRUE(has("Mr. Parkinson was seen today.", "NAME:Parkinson"));
    EXPECT_TRUE(found("Remote Hodgkin lymphoma; Bell's palsy; Foley catheter.").empty());
}

TEST(Detector, NamesInTheirUsualShapes) {
    EXPECT_TRUE(has("Seen by Dr. Jane Okafor today.", "NAME:Jane Okafor"));
    EXPECT_TRUE(has("PATIENT: KOWALSKI, MARTA  MRN: 4455667", "NAME:KOWALSKI"));
    EXPECT_TRUE(has("Electronically signed by: Tomas Brennan, MD", "NAME:Tomas Brennan"));
    EXPECT_TRUE(has("Lives with his wife Ingrid in a house.", "NAME:Ingrid"));
    EXPECT_TRUE(has("Mrs. Haugen's daughter called.", "NAME:Haugen"));
}

TEST(Detector, StructuredIdentifiers) {
    EXPECT_TRUE(has("Call (617) 555-0142 today", "PHONE:(617) 555-0142"));
    EXPECT_TRUE(has("Fax: 617-555-0199", "FAX:617-555-0199"));
    EXPECT_TRUE(has("SSN 123-45-6789.", "SSN:123-45-6789"));
    EXPECT_TRUE(has("MRN: 00123456", "MRN:00123456"));
    EXPECT_TRUE(has("mail jdoe@example.org now", "EMAIL:jdoe@example.org"));
    EXPECT_TRUE(
        has("see https://portal.example.org/x?id=3.", "URL:https://portal.example.org/x?id=3"));
    EXPECT_TRUE(has("from 192.168.10.4 at", "IP:192.168.10.4"));
    EXPECT_TRUE(has("VIN 1HGCM82633A004352", "VEHICLE:1HGCM82633A004352"));
    EXPECT_TRUE(has("pacemaker serial no. PJN123456", "DEVICE:PJN123456"));
}

TEST(Detector, DatesInCommonFormats) {
    EXPECT_TRUE(has("on 3/14/2024 at", "DATE:3/14/2024"));
    EXPECT_TRUE(has("seen on 3/14 for", "DATE:3/14"));
    EXPECT_TRUE(has("biopsy 14-Mar-2024.", "DATE:14-Mar-2024"));
    EXPECT_TRUE(has("since March 14th she", "DATE:March 14th"));
    EXPECT_TRUE(has("on March 14, 2024.", "DATE:March 14, 2024"));
    EXPECT_TRUE(has("2024-03-14", "DATE:2024-03-14"));
    EXPECT_TRUE(has("returns on the 14th for labs", "DATE:14th"));
    EXPECT_TRUE(has("fell on Monday", "DATE:Monday"));
    // not dates: ratios, strengths, years alone
    EXPECT_TRUE(found("Strength 5/5 bilaterally, BP 132/84, pain 7/10, in 2019.").empty());
}

TEST(Detector, AgesOver89Only) {
    EXPECT_TRUE(has("A 92-year-old man", "AGE:92"));
    EXPECT_TRUE(found("A 67-year-old man").empty());
}

TEST(Detector, Addresses) {
    EXPECT_TRUE(has("at 42 Maple Avenue, Springfield, IL 62704", "STREET:42 Maple Avenue"));
    EXPECT_TRUE(has("at 42 Maple Avenue, Springfield, IL 62704", "CITY:Springfield"));
    EXPECT_TRUE(has("at 42 Maple Avenue, Springfield, IL 62704", "ZIP:62704"));
    EXPECT_TRUE(
        has("admitted to Olszewski Memorial Hospital", "FACILITY:Olszewski Memorial Hospital"));
}

TEST(Detector, SpansAreSortedDisjointAndCarryConfidence) {
    std::string text = "Mr. Smith, MRN 1234567, seen 3/4/2021 by Dr. Lee at 12 Oak St.";
    auto spans = shared_deid().detect(text).value();
    ASSERT_FALSE(spans.empty());
    size_t last = 0;
    for (const auto& s : spans) {
        EXPECT_GE(s.start, last);
        EXPECT_GT(s.end, s.start);
        EXPECT_GT(s.confidence, 0.0f);
        EXPECT_LE(s.confidence, 1.0f);
        last = s.end;
    }
}

TEST(Detector, EmptyInputGivesNoSpans) {
    EXPECT_TRUE(shared_deid().detect("").value().empty());
    auto r = shared_deid().deidentify("", Mode::kSurrogate, "p").value();
    EXPECT_EQ(r.text, "");
}

TEST(Detector, InvalidUtf8IsAClearError) {
    auto r = shared_deid().detect("Mr. Smith \xff\xfe");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find("offset 10"), std::string::npos) << r.error().message();
    EXPECT_FALSE(shared_deid().detect("\xed\xa0\x80").has_value());  // a UTF-16 surrogate
    EXPECT_FALSE(shared_deid().detect("\xc0\xaf").has_value());      // overlong
}

TEST(Detector, BinaryGarbageNeverCrashes) {
    std::mt19937 rng(5);
    for (int k = 0; k < 200; ++k) {
        std::string s(1 + rng() % 2000, '\0');
        for (char& c : s) c = static_cast<char>(rng());
        auto r = shared_deid().detect(s);
        if (r) {
            for (const auto& sp : *r) EXPECT_LE(sp.end, s.size());
        } else {
            EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
        }
    }
    // valid UTF-8 with NULs and control characters is text
    std::string ctl("a\0b\x01\x02 Mr. Smith\x7f", 17);
    EXPECT_TRUE(shared_deid().detect(ctl).has_value());
}

TEST(Detector, FiftyMegabyteSingleLine) {
    std::string unit = "Mr. Kowalski seen 3/14/2024 MRN 1234567 at 42 Oak Street; stable. ";
    std::string big;
    big.reserve(50u << 20);
    while (big.size() + unit.size() <= (50u << 20)) big += unit;
    auto spans = shared_deid().detect(big).value();
    size_t per_unit = shared_deid().detect(unit).value().size();
    EXPECT_EQ(spans.size(), per_unit * (big.size() / unit.size()));
}

}  // namespace
}  // namespace ward::deid

namespace ward::deid {
namespace {

// Golden cases (tests/deid/cases/*.case): the input, a line "----", then the redacted output.
// Lines starting with '#' at the top are comments. A new case needs no C++.
TEST(GoldenCases, RedactOutputMatches) {
    namespace fs = std::filesystem;
    fs::path dir = fs::path(WARD_SOURCE_DIR) / "tests/deid/cases";
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".case") continue;
        std::string content = read_file(entry.path().string()).value();
        size_t start = 0;
        while (start < content.size() && content[start] == '#')
            start = content.find('\n', start) + 1;
        size_t sep = content.find("\n----\n", start);
        ASSERT_NE(sep, std::string::npos) << entry.path();
        std::string input = content.substr(start, sep + 1 - start);
        std::string expected = content.substr(sep + 6);
        auto out = test::shared_deid().deidentify(input, Mode::kRedact).value();
        EXPECT_EQ(out.text, expected) << entry.path();
        ++n;
    }
    EXPECT_GE(n, 5);
}

}  // namespace
}  // namespace ward::deid
