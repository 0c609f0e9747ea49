// Tokenizing for the safety rails: words, apostrophes, sentences, clauses, punctuation flags.
#include <gtest/gtest.h>

#include "safety/text.h"

namespace ward::safety {
namespace {

std::vector<std::string> norms(const TokenizedText& t) {
    std::vector<std::string> out;
    for (const auto& tok : t.tokens) out.push_back(tok.norm);
    return out;
}

using V = std::vector<std::string>;

TEST(Tokenize, WordsAndApostrophes) {
    auto t = tokenize("I Don't, don\xE2\x80\x99t 'quoted' OD'd");
    EXPECT_EQ(norms(t), (V{"i", "dont", "dont", "quoted", "odd"}));
    EXPECT_EQ(t.tokens[4].exact, "ODd");
    EXPECT_EQ(t.tokens[2].begin, 9u);
    EXPECT_EQ(t.tokens[2].end, 16u);  // the three-byte apostrophe stays inside the word
}

TEST(Tokenize, SentencesQuestionsAndClauses) {
    auto t = tokenize("I'm fine. Are you? I said no, I lied but I want help\nok");
    std::vector<uint32_t> sentences, clauses;
    for (const auto& tok : t.tokens) {
        sentences.push_back(tok.sentence);
        clauses.push_back(tok.clause);
    }
    EXPECT_EQ(sentences, (std::vector<uint32_t>{0, 0, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3}));
    EXPECT_EQ(clauses, (std::vector<uint32_t>{0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 4, 5}));
    EXPECT_EQ(t.question, (std::vector<bool>{false, true, false, false}));
}

TEST(Tokenize, PunctuationAroundWords) {
    auto t = tokenize("-SI, +HI s/p self-harm SI: no");
    ASSERT_EQ(t.tokens.size(), 8u);
    EXPECT_TRUE(t.tokens[0].minus);
    EXPECT_EQ(t.tokens[1].before, '+');
    EXPECT_EQ(t.tokens[3].before, '/');
    EXPECT_FALSE(t.tokens[5].minus);  // "self-harm": a hyphen inside a word is not a minus
    EXPECT_EQ(t.tokens[6].after, ':');
}

TEST(Tokenize, InvalidBytesOnlySeparate) {
    auto t = tokenize(
        "\xFF"
        "abc\xC3"
        "def\x80");
    EXPECT_EQ(norms(t), (V{"abc", "def"}));
    EXPECT_EQ(t.tokens[1].begin, 5u);
    EXPECT_TRUE(tokenize("").tokens.empty());
    EXPECT_EQ(tokenize("one two three", 6).tokens.size(), 2u);
}

}  // namespace
}  // namespace ward::safety
