#include "knowledge/normalize.h"

#include <gtest/gtest.h>

namespace ward::knowledge {
namespace {

using Words = std::vector<std::string>;

TEST(Tokenize, SplitsLikeUnicode61AndLowercases) {
    EXPECT_EQ(tokenize_query("Is HbA1c < 7% safe in T2DM?"),
              (Words{"is", "hba1c", "7", "safe", "in", "t2dm"}));
    EXPECT_EQ(tokenize_query("N/V after CABG-surgery"),
              (Words{"n", "v", "after", "cabg", "surgery"}));
    EXPECT_EQ(tokenize_query("Ménière's ÉDEMA"), (Words{"ménière", "s", "édema"}));
    EXPECT_EQ(tokenize_query("Δψm"), (Words{"δψm"}));
    EXPECT_TRUE(tokenize_query("").empty());
    EXPECT_TRUE(tokenize_query("?! -- ()").empty());
}

TEST(Tokenize, InvalidUtf8SeparatesWords) {
    EXPECT_EQ(tokenize_query("ab\xff"
                             "cd\xc3"),
              (Words{"ab", "cd"}));
}

TEST(Tokenize, DropsOverlongWords) {
    std::string huge(kMaxTokenBytes + 1, 'x');
    EXPECT_EQ(tokenize_query("ok " + huge + " fine"), (Words{"ok", "fine"}));
}

TEST(Stopwords, QuestionAndFunctionWordsOnly) {
    for (const char* w : {"the", "of", "what", "does", "is", "which", "how", "whether", "not"}) {
        EXPECT_TRUE(is_stopword(w)) << w;
    }
    for (const char* w : {"patients", "risk", "mortality", "aspirin", "mi", "pe"}) {
        EXPECT_FALSE(is_stopword(w)) << w;
    }
}

TEST(QuoteFts5, QuotesAndDoublesQuotes) {
    EXPECT_EQ(quote_fts5({"mi"}), "\"mi\"");
    EXPECT_EQ(quote_fts5({"myocardial", "infarction"}), "\"myocardial infarction\"");
    EXPECT_EQ(quote_fts5({"a\"b"}), "\"a\"\"b\"");
}

TEST(MatchExpression, QuotesEveryTermAndDropsStopwords) {
    EXPECT_EQ(build_match_expression("Does aspirin reduce the risk of stroke?"),
              "\"aspirin\" OR \"reduce\" OR \"risk\" OR \"stroke\"");
}

TEST(MatchExpression, OperatorsBecomeWords) {
    // An abbreviation adds its expansions as phrases, not their separate words.
    EXPECT_EQ(build_match_expression("asthma AND NEAR(copd*) -sepsis text:x"),
              "\"asthma\" OR \"near\" OR \"copd\" OR \"chronic obstructive pulmonary disease\" OR "
              "\"sepsis\" OR \"text\" OR \"x\"");
}

TEST(MatchExpression, AbbreviationExpandsToItsMeanings) {
    EXPECT_EQ(build_match_expression("MI"), "\"mi\" OR \"myocardial infarction\"");
    std::string pe = build_match_expression("PE");
    EXPECT_NE(pe.find("\"pulmonary embolism\""), std::string::npos);
    EXPECT_NE(pe.find("\"physical examination\""), std::string::npos);
}

TEST(MatchExpression, ExpansionAddsItsAbbreviation) {
    EXPECT_EQ(build_match_expression("after myocardial infarction"),
              "\"myocardial infarction\" OR \"mi\" OR \"myocardial\" OR \"infarction\"");
    EXPECT_EQ(build_match_expression("hypertension"), "\"hypertension\" OR \"htn\"");
    // Longest match first: STEMI's expansion, not MI's.
    std::string stemi = build_match_expression("st elevation myocardial infarction");
    EXPECT_EQ(stemi.rfind("\"st elevation myocardial infarction\" OR \"stemi\"", 0), 0u) << stemi;
}

TEST(MatchExpression, MultiWordAbbreviation) {
    std::string nv = build_match_expression("N/V");
    EXPECT_NE(nv.find("\"nausea and vomiting\""), std::string::npos) << nv;
    EXPECT_NE(nv.find("\"n v\""), std::string::npos) << nv;
}

TEST(MatchExpression, RepeatsOnceAndOnlyStopwordsStillSearch) {
    EXPECT_EQ(build_match_expression("sepsis SEPSIS Sepsis"), "\"sepsis\"");
    EXPECT_EQ(build_match_expression("the who"), "\"the\" OR \"who\"");
    EXPECT_EQ(build_match_expression(" ?? "), "");
}

TEST(MatchExpression, CapsTheNumberOfTerms) {
    std::string text;
    for (int i = 0; i < 500; ++i) text += "word" + std::to_string(i) + " ";
    std::string expression = build_match_expression(text);
    size_t ors = 0;
    for (size_t p = expression.find(" OR "); p != std::string::npos;
         p = expression.find(" OR ", p + 1)) {
        ++ors;
    }
    EXPECT_EQ(ors + 1, kMaxQueryTerms);
}

TEST(AbbreviationTable, BuiltinParsesAndCoversTheCommonOnes) {
    const auto& table = AbbreviationTable::builtin();
    EXPECT_GE(table.size(), 150u);
    for (const char* a :
         {"mi", "htn", "t2dm", "chf", "copd", "ckd", "af",   "afib", "dvt", "pe",  "cabg",
          "bp", "hr",  "sob",  "cp",  "uti",  "uri", "gerd", "tia",  "cva", "esrd"}) {
        EXPECT_FALSE(table.expansions({a}).empty()) << a;
    }
    EXPECT_FALSE(table.expansions({"n", "v"}).empty());
    EXPECT_EQ(table.expansions({"t2dm"}),
              (std::vector<Words>{{"type", "2", "diabetes", "mellitus"}}));
    EXPECT_GE(table.expansions({"pe"}).size(), 2u);
    EXPECT_EQ(table.abbreviations({"atrial", "fibrillation"}),
              (std::vector<Words>{{"af"}, {"afib"}, {"a", "fib"}}));
    EXPECT_TRUE(table.expansions({"aspirin"}).empty());
}

TEST(AbbreviationTable, RejectsMalformedLines) {
    EXPECT_TRUE(AbbreviationTable::parse("# comment\n\nMI\tmyocardial infarction\n").ok());
    auto no_tab = AbbreviationTable::parse("MI myocardial infarction\n");
    ASSERT_FALSE(no_tab.ok());
    EXPECT_NE(no_tab.error().message().find("line 1"), std::string::npos);
    EXPECT_FALSE(AbbreviationTable::parse("MI\t\n").ok());
    EXPECT_FALSE(AbbreviationTable::parse("ok\tfine\nMI\ta\tb\n").ok());
    auto stop = AbbreviationTable::parse("OR\toperating room\n");
    ASSERT_FALSE(stop.ok());
    EXPECT_NE(stop.error().message().find("stopword"), std::string::npos);
}

TEST(AbbreviationTable, CustomTableDrivesExpansion) {
    auto table = AbbreviationTable::parse("XYZ\tsyndrome x\nXYZ\tother thing\n");
    ASSERT_TRUE(table.ok());
    EXPECT_EQ(build_match_expression("xyz", *table),
              "\"xyz\" OR \"syndrome x\" OR \"other thing\"");
}

}  // namespace
}  // namespace ward::knowledge
