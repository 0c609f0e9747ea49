// The pattern language of safety::PhraseLexicon, its errors, and the provenance of the built-in
// crisis lexicon: every entry matches the phrase it was derived from, and every phrase said to
// come from the Suicide Risk Lexicon is in it.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/mapped_file.h"
#include "safety/crisis.h"
#include "safety/phrase_lexicon.h"

namespace ward::safety {
namespace {

// The categories of entries matching `text`, in match order.
std::vector<std::string> cats(const PhraseLexicon& lex, std::string_view text) {
    std::vector<std::string> out;
    for (const auto& m : lex.find_all(tokenize(text))) {
        out.push_back(lex.entries()[m.entry].category);
    }
    return out;
}

PhraseLexicon lex(std::string_view text) {
    auto r = PhraseLexicon::parse(text, "test");
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return std::move(r).value();
}

using V = std::vector<std::string>;

TEST(PhraseLexicon, AlternativesOptionalsAndMultiWordAlternatives) {
    auto l = lex("a\twant|wanna to? die\tward:x\nb\tdont|do_not want\tward:x\n");
    EXPECT_EQ(cats(l, "I wanna die"), V{"a"});
    EXPECT_EQ(cats(l, "I want to die"), V{"a"});
    EXPECT_EQ(cats(l, "I want to live"), V{});
    EXPECT_EQ(cats(l, "I do not want"), V{"b"});
    EXPECT_EQ(cats(l, "I do want"), V{});
}

TEST(PhraseLexicon, PrefixCaseNumbersAndPunctuation) {
    auto l =
        lex("p\tstockpil* pills\tward:x\nc\tSI\tward:x\nn\ttook #many pills\tward:x\n"
            "y\tin #year\tward:x\nplus\t+HI\tward:x\nslash\ts /p OD\tward:x\n");
    EXPECT_EQ(cats(l, "stockpiling pills"), V{"p"});
    EXPECT_EQ(cats(l, "SI"), V{"c"});
    EXPECT_EQ(cats(l, "si"), V{});
    EXPECT_EQ(cats(l, "took 30 pills"), V{"n"});
    EXPECT_EQ(cats(l, "took 2 pills"), V{});
    EXPECT_EQ(cats(l, "in 2009"), V{"y"});
    EXPECT_EQ(cats(l, "in 3000"), V{});
    EXPECT_EQ(cats(l, "+HI"), V{"plus"});
    EXPECT_EQ(cats(l, "+ HI"), V{"plus"});
    EXPECT_EQ(cats(l, "HI"), V{});
    EXPECT_EQ(cats(l, "s/p OD"), V{"slash"});
    EXPECT_EQ(cats(l, "s p OD"), V{});
}

TEST(PhraseLexicon, GapsClauseEndsAndSentences) {
    auto l = lex("g\tgiving .. things away\tward:x\ne\tend it $\tward:x\n");
    EXPECT_EQ(cats(l, "giving all my old things away"), V{"g"});
    EXPECT_EQ(cats(l, "giving one two three four things away"), V{});
    EXPECT_EQ(cats(l, "I want to end it"), V{"e"});
    EXPECT_EQ(cats(l, "I want to end it, I mean it"), V{"e"});
    EXPECT_EQ(cats(l, "end it with him"), V{});
    // Never across a sentence.
    EXPECT_EQ(cats(l, "giving. things away"), V{});
}

TEST(PhraseLexicon, SetsAndGapTokens) {
    auto l = lex("@set\tdrugs\tpills|meds|sleeping_pills\nm\tsaving .. @drugs\tward:x\n");
    auto matches = l.find_all(tokenize("saving up my sleeping pills"));
    ASSERT_EQ(matches.size(), 1u);
    EXPECT_EQ(matches[0].first, 0u);
    EXPECT_EQ(matches[0].last, 5u);
    EXPECT_EQ(matches[0].gap_tokens, (std::vector<uint32_t>{1, 2}));
}

TEST(PhraseLexicon, ErrorsNameTheLine) {
    auto expect_error = [](std::string_view text, std::string_view needle) {
        auto r = PhraseLexicon::parse(text, "x.tsv");
        ASSERT_FALSE(r.has_value()) << text;
        EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(r.error().message().find(needle), std::string::npos) << r.error().message();
    };
    expect_error("# c\n\na\tb\n", "x.tsv line 3: expected 3 tab-separated columns, found 2");
    expect_error("a\t@nope x\tward:x\n", "unknown set \"@nope\"");
    expect_error("a\tfoo-bar\tward:x\n", "unexpected character '-'");
    expect_error("a\t.. foo\tward:x\n", "must start with a required word");
    expect_error("a\tfoo?\tward:x\n", "must start with a required word");
    expect_error("a\tfoo ..\tward:x\n", "cannot end with ..");
    expect_error("a\tfoo||bar\tward:x\n", "empty alternative");
    expect_error("Bad\tfoo\tward:x\n", "is not lower_case_with_underscores");
    expect_error("a\tSI*\tward:x\n", "cannot be case-sensitive");
}

// The example after "ward:" or the lexicon phrase after "srl:<construct>:".
std::string origin_text(const std::string& origin) {
    if (origin.rfind("ward:", 0) == 0) return origin.substr(5);
    size_t colon = origin.find(':', 4);
    return origin.substr(colon + 1);
}

TEST(CrisisLexicon, EveryEntryMatchesWhereItCameFrom) {
    auto l = PhraseLexicon::parse(crisis_lexicon_text(), "crisis_lexicon.tsv").value();
    ASSERT_GT(l.entries().size(), 250u);
    for (size_t i = 0; i < l.entries().size(); ++i) {
        const auto& e = l.entries()[i];
        ASSERT_TRUE(e.origin.rfind("ward:", 0) == 0 || e.origin.rfind("srl:", 0) == 0)
            << "line " << e.line << ": origin \"" << e.origin << "\"";
        EXPECT_TRUE(l.matches(i, tokenize(origin_text(e.origin))))
            << "line " << e.line << ": \"" << e.pattern << "\" does not match its origin \""
            << e.origin << "\"";
    }
}

std::string lower(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

TEST(CrisisLexicon, SrlPhrasesAreInTheSuicideRiskLexicon) {
    std::string path = std::string(WARD_SHARED_DATA) +
                       "/mental-health/suicide-risk-lexicon/"
                       "suicide_risk_lexicon_validated_24-08-02T21-27-35.csv";
    if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path;
    std::string csv = lower(read_file(path).value());
    auto l = PhraseLexicon::parse(crisis_lexicon_text(), "crisis_lexicon.tsv").value();
    size_t srl = 0;
    for (const auto& e : l.entries()) {
        if (e.origin.rfind("srl:", 0) != 0) continue;
        ++srl;
        std::string phrase = lower(origin_text(e.origin));
        // A cell of the CSV: after a comma (or quote) and before a comma (or quote).
        bool found = false;
        for (size_t at = csv.find(phrase); at != std::string::npos && !found;
             at = csv.find(phrase, at + 1)) {
            char before = at == 0 ? ',' : csv[at - 1];
            char after = at + phrase.size() < csv.size() ? csv[at + phrase.size()] : ',';
            found = (before == ',' || before == '"' || before == '\n') &&
                    (after == ',' || after == '"' || after == '\n' || after == '\r');
        }
        EXPECT_TRUE(found) << "line " << e.line << ": \"" << phrase
                           << "\" is not a phrase of the Suicide Risk Lexicon";
    }
    EXPECT_GT(srl, 80u);
}

}  // namespace
}  // namespace ward::safety
