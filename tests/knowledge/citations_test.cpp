#include "knowledge/citations.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ward::knowledge {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::vector<int>> numbers_of(std::string_view text) {
    std::vector<std::vector<int>> out;
    for (const auto& m : parse_citation_markers(text)) out.push_back(m.numbers);
    return out;
}

TEST(CitationMarkers, Forms) {
    EXPECT_THAT(numbers_of("Aspirin [1]."), ElementsAre(ElementsAre(1)));
    EXPECT_THAT(numbers_of("x [1, 3] y [2;4]"), ElementsAre(ElementsAre(1, 3), ElementsAre(2, 4)));
    EXPECT_THAT(numbers_of("x [2-4] y [5\xE2\x80\x93"
                           "6]"),
                ElementsAre(ElementsAre(2, 3, 4), ElementsAre(5, 6)));
    EXPECT_THAT(numbers_of("x [Passage 2] [passages 1, 3] [#4]"),
                ElementsAre(ElementsAre(2), ElementsAre(1, 3), ElementsAre(4)));
    EXPECT_THAT(numbers_of("x [1][2]"), ElementsAre(ElementsAre(1), ElementsAre(2)));
    // A range longer than 20 keeps its ends only (no blow-up).
    EXPECT_THAT(numbers_of("[1-100000]"), ElementsAre(ElementsAre(1, 100000)));
}

TEST(CitationMarkers, NotMarkers) {
    EXPECT_THAT(numbers_of("[sic] [P1] [a, 1] [1,] [] [ ] [3-1] [1234567]"), IsEmpty());
    EXPECT_THAT(numbers_of("unclosed [1 and later ] text"), IsEmpty());
    EXPECT_THAT(numbers_of("nested [[2]]"), ElementsAre(ElementsAre(2)));
}

TEST(CitationMarkers, ByteRanges) {
    std::string text = "MI is treated with aspirin [2].";
    auto markers = parse_citation_markers(text);
    ASSERT_EQ(markers.size(), 1u);
    EXPECT_EQ(text.substr(markers[0].begin, markers[0].end - markers[0].begin), "[2]");
}

const std::vector<std::string> kPassages = {
    "Aspirin 162 to 325 mg should be given at once to patients with suspected acute myocardial "
    "infarction (MI).",
    "Metformin is first-line therapy for type 2 diabetes mellitus (T2DM) unless contraindicated.",
    "Lithium levels should be checked 12 hours after the last dose.",
};

TEST(CheckCitations, SupportedAnswerHasNoFlags) {
    std::string answer =
        "Give aspirin 325 mg at once for a suspected MI [1]. Metformin is the first-line drug "
        "for T2DM [2].\nCheck lithium levels 12 hours after the dose [3].";
    CitationCheck c = check_citations(answer, kPassages);
    EXPECT_THAT(c.flags, IsEmpty());
    EXPECT_THAT(c.cited, ElementsAre(1, 2, 3));
    ASSERT_EQ(c.sentences.size(), 3u);
    EXPECT_THAT(c.sentences[0].numbers, ElementsAre(1));
    EXPECT_TRUE(c.sentences[0].supported);
    EXPECT_EQ(c.uncited_sentences, 0u);
}

TEST(CheckCitations, MissingPassageIsFlaggedAtTheMarker) {
    std::string answer = "Aspirin is given for MI [1][7].";
    CitationCheck c = check_citations(answer, kPassages);
    ASSERT_EQ(c.flags.size(), 1u);
    EXPECT_EQ(c.flags[0].kind, CitationFlagKind::kMissingPassage);
    EXPECT_EQ(c.flags[0].number, 7);
    EXPECT_EQ(answer.substr(c.flags[0].begin, c.flags[0].end - c.flags[0].begin), "[7]");
    EXPECT_EQ(c.flags[0].detail, "cites passage 7, but only passages 1 to 3 were given");
    EXPECT_THAT(c.cited, ElementsAre(1));
}

TEST(CheckCitations, YearInBracketsIsAMissingPassage) {
    CitationCheck c = check_citations("Guidelines changed [2023].", kPassages);
    ASSERT_EQ(c.flags.size(), 1u);
    EXPECT_EQ(c.flags[0].number, 2023);
}

TEST(CheckCitations, CitationToTheWrongPassageIsUnsupported) {
    std::string answer = "Metformin is first-line for T2DM [3]. Aspirin helps in MI [1].";
    CitationCheck c = check_citations(answer, kPassages);
    ASSERT_EQ(c.flags.size(), 1u);
    EXPECT_EQ(c.flags[0].kind, CitationFlagKind::kUnsupported);
    EXPECT_EQ(answer.substr(c.flags[0].begin, c.flags[0].end - c.flags[0].begin),
              "Metformin is first-line for T2DM [3].");
    EXPECT_EQ(c.flags[0].detail, "shares no key term with the passage it cites (3)");
    EXPECT_FALSE(c.sentences[0].supported);
    EXPECT_TRUE(c.sentences[1].supported);
}

TEST(CheckCitations, OneOfSeveralCitedPassagesSupportingIsEnough) {
    CitationCheck c = check_citations("Metformin treats T2DM [3, 2].", kPassages);
    EXPECT_THAT(c.flags, IsEmpty());
}

TEST(CheckCitations, MarkersAfterTheFullStopBelongToTheSentence) {
    std::string answer = "Lithium levels are drawn 12 hours post dose. [3] Then adjust.";
    CitationCheck c = check_citations(answer, kPassages);
    ASSERT_EQ(c.sentences.size(), 2u);
    EXPECT_THAT(c.sentences[0].numbers, ElementsAre(3));
    EXPECT_TRUE(c.sentences[1].numbers.empty());
    EXPECT_EQ(c.uncited_sentences, 1u);  // "Then adjust." has a key term and no marker
}

TEST(CheckCitations, DecimalsAndAbbreviationsDoNotEndSentences) {
    CitationCheck c =
        check_citations("Keep levels 0.6 to 1.2 mmol/L, e.g. in elderly patients [3].", kPassages);
    ASSERT_EQ(c.sentences.size(), 1u);
}

TEST(CheckCitations, SentencesWithoutKeyTermsAreNeitherFlaggedNorCountedUncited) {
    CitationCheck c = check_citations("Yes. See [1].", kPassages);
    EXPECT_THAT(c.flags, IsEmpty());
    EXPECT_EQ(c.uncited_sentences, 0u);
}

TEST(CheckCitations, NoPassages) {
    CitationCheck c = check_citations("Aspirin for MI [1].", {});
    ASSERT_EQ(c.flags.size(), 1u);
    EXPECT_EQ(c.flags[0].detail, "cites passage 1, but no passages were given");
}

TEST(KeyTerms, StemsNumbersUnitsAbbreviations) {
    EXPECT_THAT(key_terms("Patients with MI were treated with 325 mg aspirin."),
                ElementsAre("mi", "treat", "325mg", "aspirin"));
    EXPECT_THAT(key_terms("infarctions therapies"), ElementsAre("infarction", "therapy"));
    EXPECT_THAT(key_terms("HbA1c of 7.5% in T2DM"), ElementsAre("hba1c", "7.5", "t2dm"));
    EXPECT_THAT(key_terms("the and of to"), IsEmpty());
}

TEST(CheckCitations, ArbitraryBytesAreSafe) {
    std::string junk;
    for (int i = 0; i < 4096; ++i) junk.push_back(static_cast<char>((i * 131) % 256));
    junk += "[1][2-3][passage 9999999][";
    CitationCheck c = check_citations(junk, kPassages);
    for (const auto& s : c.sentences) EXPECT_LE(s.end, junk.size());
}

}  // namespace
}  // namespace ward::knowledge
