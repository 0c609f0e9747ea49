#include "knowledge/chunker.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "knowledge/ingest_internal.h"

namespace ward::knowledge {
namespace {

using Kind = Block::Kind;

Block heading(int level, std::string text) {
    return Block{Kind::kHeading, level, std::move(text)};
}
Block paragraph(std::string text) {
    return Block{Kind::kParagraph, 0, std::move(text)};
}

ChunkOptions options(int max_tokens, int overlap_tokens) {
    ChunkOptions o;
    o.max_tokens = max_tokens;
    o.overlap_tokens = overlap_tokens;
    return o;
}

// Words "w0 w1 ..." (2-3 characters each: one estimated token per word).
std::string words(int from, int to) {
    std::string out;
    for (int i = from; i < to; ++i) {
        if (!out.empty()) out += ' ';
        out += "w" + std::to_string(i);
    }
    return out;
}

TEST(EstimateTokens, CountsWordsPunctuationAndNonAscii) {
    EXPECT_EQ(estimate_tokens(""), 0u);
    EXPECT_EQ(estimate_tokens(" \n\t"), 1u);  // never 0 for non-empty text
    EXPECT_EQ(estimate_tokens("the"), 1u);
    EXPECT_EQ(estimate_tokens("abcd"), 1u);
    EXPECT_EQ(estimate_tokens("abcde"), 2u);
    EXPECT_EQ(estimate_tokens("hypertension"), 3u);
    EXPECT_EQ(estimate_tokens("BP 140/90."), 5u);  // BP, 140, /, 90, .
    EXPECT_EQ(estimate_tokens("caf\u00e9"), 2u);   // "caf" and the accented letter
    EXPECT_EQ(estimate_tokens("\u65e5\u672c"), 2u);
    // Additive over whitespace joins.
    EXPECT_EQ(
        estimate_tokens("hypertension treatment\nstep"),
        estimate_tokens("hypertension") + estimate_tokens("treatment") + estimate_tokens("step"));
}

TEST(ChunkBlocks, EmptyInputGivesNoChunks) {
    EXPECT_TRUE(chunk_blocks({}, ChunkOptions{}).empty());
    std::vector<Block> blank = {paragraph("   "), paragraph("")};
    EXPECT_TRUE(chunk_blocks(blank, ChunkOptions{}).empty());
}

TEST(ChunkBlocks, HeadingPathFollowsLevels) {
    std::vector<Block> blocks = {
        heading(1, "Guide"), paragraph("intro"),      heading(2, "Diagnosis"), heading(3, "Tests"),
        paragraph("tests"),  heading(2, "Treatment"), paragraph("treat"),      heading(4, "Deep"),
        paragraph("deep"),   heading(1, "Annex"),     paragraph("annex"),
    };
    auto chunks = chunk_blocks(blocks, ChunkOptions{});
    ASSERT_EQ(chunks.size(), 5u);
    EXPECT_EQ(chunks[0].heading, "Guide");
    EXPECT_EQ(chunks[1].heading, "Guide > Diagnosis > Tests");
    EXPECT_EQ(chunks[2].heading, "Guide > Treatment");
    EXPECT_EQ(chunks[3].heading, "Guide > Treatment > Deep");
    EXPECT_EQ(chunks[4].heading, "Annex");
    for (size_t i = 0; i < chunks.size(); ++i) EXPECT_EQ(chunks[i].ordinal, static_cast<int>(i));
}

TEST(ChunkBlocks, PacksSmallBlocksButNeverAcrossHeadings) {
    std::vector<Block> blocks = {
        heading(1, "A"),
        paragraph("one two"),
        Block{Kind::kListItem, 0, "item"},
        Block{Kind::kListItem, 1, "nested"},
        Block{Kind::kTable, 0, "x | y"},
        heading(1, "B"),
        paragraph("three"),
    };
    auto chunks = chunk_blocks(blocks, options(100, 10));
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].text, "one two\n- item\n  - nested\nx | y");
    EXPECT_EQ(chunks[0].tokens, static_cast<int>(estimate_tokens(chunks[0].text)));
    EXPECT_EQ(chunks[1].text, "three");
    EXPECT_EQ(chunks[1].heading, "B");
}

TEST(ChunkBlocks, StartsANewChunkWhenTheCapWouldBeExceeded) {
    std::vector<Block> blocks = {paragraph(words(0, 6)), paragraph(words(6, 12)),
                                 paragraph(words(12, 14))};
    auto chunks = chunk_blocks(blocks, options(10, 0));
    ASSERT_EQ(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].text, words(0, 6));
    EXPECT_EQ(chunks[1].text, words(6, 12) + "\n" + words(12, 14));
    for (const Chunk& c : chunks) EXPECT_LE(c.tokens, 10);
}

TEST(ChunkBlocks, SplitsALongBlockAtSentencesWithOverlap) {
    // Ten sentences of five one-token words each ("w0 w1 w2 w3 w4." is 6 tokens with the dot).
    std::string text;
    for (int s = 0; s < 10; ++s) {
        if (!text.empty()) text += ' ';
        text += "S" + words(s * 5, s * 5 + 5) + ".";
    }
    std::vector<Block> blocks = {heading(1, "H"), paragraph(text)};
    auto chunks = chunk_blocks(blocks, options(20, 4));
    ASSERT_GE(chunks.size(), 4u);
    for (size_t i = 0; i < chunks.size(); ++i) {
        SCOPED_TRACE(chunks[i].text);
        EXPECT_LE(chunks[i].tokens, 20);
        EXPECT_EQ(chunks[i].heading, "H");
        // Each piece's own text ends at a sentence end (the last piece ends the block).
        EXPECT_EQ(chunks[i].text.back(), '.');
        if (i > 0) {
            // The piece starts with the last words of the previous piece (up to 4 tokens).
            std::string tail = chunks[i - 1].text.substr(chunks[i - 1].text.size() - 8);
            EXPECT_NE(chunks[i].text.find(tail), std::string::npos);
            EXPECT_NE(chunks[i].text.rfind("S", 0), 0u) << "overlap carried";
        }
    }
    // Nothing lost: every sentence appears in some chunk.
    for (int s = 0; s < 10; ++s) {
        std::string sentence = "S" + words(s * 5, s * 5 + 5) + ".";
        bool found = false;
        for (const Chunk& c : chunks) found = found || c.text.find(sentence) != std::string::npos;
        EXPECT_TRUE(found) << sentence;
    }
}

TEST(ChunkBlocks, SplitsAtWhitespaceWhenOneSentenceIsTooLong) {
    std::vector<Block> blocks = {paragraph(words(0, 50))};  // no sentence end at all
    auto chunks = chunk_blocks(blocks, options(10, 2));
    ASSERT_GE(chunks.size(), 6u);
    std::string all;
    for (const Chunk& c : chunks) {
        EXPECT_LE(c.tokens, 10);
        EXPECT_EQ(c.text.front(), 'w');
        EXPECT_NE(c.text.back(), ' ');
    }
    EXPECT_EQ(chunks.front().text.rfind("w0 ", 0), 0u);
    EXPECT_NE(chunks.back().text.find("w49"), std::string::npos);
    // Overlap: the second chunk starts with the last two words of the first.
    std::string first = chunks[0].text;
    std::string last_two = first.substr(first.rfind(' ', first.rfind(' ') - 1) + 1);
    EXPECT_EQ(chunks[1].text.rfind(last_two, 0), 0u) << chunks[1].text;
}

TEST(ChunkBlocks, NeverSplitsInsideAUtf8Character) {
    // One "word" of 300 two-byte characters, far over the cap: cut between characters.
    std::string word;
    for (int i = 0; i < 300; ++i) word += "\u00e9";
    std::vector<Block> blocks = {paragraph(word)};
    auto chunks = chunk_blocks(blocks, options(16, 4));
    ASSERT_GT(chunks.size(), 1u);
    std::string joined;
    for (const Chunk& c : chunks) {
        EXPECT_EQ(detail::find_invalid_utf8(c.text), std::string_view::npos);
        EXPECT_LE(c.tokens, 16);
        joined += c.text;
    }
    EXPECT_EQ(joined, word);  // pieces of one word carry no overlap (overlap is whole words)
}

TEST(ChunkBlocks, CodeIsSplitAtLineEnds) {
    std::string code;
    for (int i = 0; i < 40; ++i)
        code += "let value_" + std::to_string(i) + " = " + std::to_string(i) + ";\n";
    code.pop_back();
    std::vector<Block> blocks = {Block{Kind::kCode, 0, code}};
    auto chunks = chunk_blocks(blocks, options(40, 0));
    ASSERT_GT(chunks.size(), 1u);
    std::string joined;
    for (const Chunk& c : chunks) {
        EXPECT_EQ(c.text.back(), ';') << c.text;  // whole lines only
        EXPECT_LE(c.tokens, 40);
        if (!joined.empty()) joined += '\n';
        joined += c.text;
    }
    EXPECT_EQ(joined, code);
}

TEST(ChunkBlocks, CustomCounterIsUsed) {
    ChunkOptions o = options(3, 0);
    size_t calls = 0;
    o.count_tokens = [&](std::string_view text) {
        ++calls;
        size_t n = 1;
        for (char c : text) n += c == ' ';
        return n;  // one token per word
    };
    std::vector<Block> blocks = {paragraph("a b c d e f g")};
    auto chunks = chunk_blocks(blocks, o);
    ASSERT_EQ(chunks.size(), 3u);
    EXPECT_EQ(chunks[0].text, "a b c");
    EXPECT_EQ(chunks[1].text, "d e f");
    EXPECT_EQ(chunks[2].text, "g");
    EXPECT_EQ(chunks[0].tokens, 3);
    EXPECT_GT(calls, 0u);
}

TEST(ChunkBlocks, HeadingsOnlyDocumentKeepsItsText) {
    std::vector<Block> blocks = {heading(1, "Title"), heading(2, "Section")};
    auto chunks = chunk_blocks(blocks, ChunkOptions{});
    ASSERT_EQ(chunks.size(), 1u);
    EXPECT_EQ(chunks[0].text, "Title\nSection");
    EXPECT_EQ(chunks[0].heading, "");
}

TEST(ChunkBlocks, DegenerateOptionsStillMakeProgress) {
    std::vector<Block> blocks = {paragraph(words(0, 20))};
    for (int max : {-5, 0, 1, 2}) {
        for (int overlap : {-1, 0, 1, 100}) {
            auto chunks = chunk_blocks(blocks, options(max, overlap));
            ASSERT_FALSE(chunks.empty());
            EXPECT_NE(chunks.back().text.find("w19"), std::string::npos);
            for (const Chunk& c : chunks) EXPECT_LE(c.tokens, std::max(max, 1));
        }
    }
}

TEST(ChunkBlocks, IsDeterministic) {
    std::vector<Block> blocks = {heading(1, "T"), paragraph(words(0, 300) + ". " + words(300, 500)),
                                 paragraph("x")};
    auto a = chunk_blocks(blocks, options(37, 9));
    auto b = chunk_blocks(blocks, options(37, 9));
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].text, b[i].text);
        EXPECT_EQ(a[i].heading, b[i].heading);
        EXPECT_EQ(a[i].tokens, b[i].tokens);
    }
}

}  // namespace
}  // namespace ward::knowledge
