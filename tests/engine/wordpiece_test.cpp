// The WordPiece ("bert") tokenizer on a hand-made vocabulary spelled as llama.cpp's converter
// writes BERT vocabularies (word starts with "▁", continuations without "##", control tokens
// as is). Expected ids are worked out by hand from BERT's BasicTokenizer + WordpieceTokenizer.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/gguf.h"
#include "engine/gguf_writer.h"
#include "engine/model_maker.h"
#include "engine/tokenizer.h"

namespace ward::engine {
namespace {

const std::string W = "\xe2\x96\x81";  // word start

struct Vocab {
    std::vector<uint8_t> bytes;  // the GGUF the tokenizer was read from (views into it)
    std::shared_ptr<const GgufFile> file;
    std::shared_ptr<const Tokenizer> tokenizer;
};

std::unique_ptr<Vocab> make_vocab(const std::vector<std::string>& tokens, bool with_ids = true) {
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "bert");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    std::vector<int32_t> types(tokens.size(), 1);
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i].size() > 2 && tokens[i].front() == '[' && tokens[i].back() == ']') {
            types[i] = 3;
        }
    }
    w.set_i32_array("tokenizer.ggml.token_type", types);
    if (with_ids) {
        w.set_u32("tokenizer.ggml.unknown_token_id", 1);
        w.set_u32("tokenizer.ggml.cls_token_id", 2);
        w.set_u32("tokenizer.ggml.seperator_token_id", 3);
    }
    auto v = std::make_unique<Vocab>();
    v->bytes = w.to_bytes();
    auto file = GgufFile::parse(v->bytes);
    EXPECT_TRUE(file) << file.error().to_string();
    v->file = *file;
    auto tokenizer = Tokenizer::from_gguf(*v->file);
    EXPECT_TRUE(tokenizer) << tokenizer.error().to_string();
    v->tokenizer = *tokenizer;
    return v;
}

const std::vector<std::string>& uncased_tokens() {
    static const std::vector<std::string> t = {
        "[PAD]",   "[UNK]",       "[CLS]",    "[SEP]",    "[MASK]",   // 0-4
        W + "the", W + "patient", W + "pain", W + "un",   "aff",      // 5-9
        "able",    W + ",",       W + ".",    W + "cafe", W + "中",   // 10-14
        W + "文",  W + "$",       W + "5",    "ing",      W + "run",  // 15-19
        W + "a",   W + "naive",   "s",        W + "(",    W + ")",    // 20-24
        W + "'",   W + "mg",      W + "10",   W + "-",    W + "s",    // 25-29
        "a",       W + "über",    W + "ü",                            // 30-32
    };
    return t;
}

const Tokenizer& uncased() {
    static auto v = make_vocab(uncased_tokens());
    return *v->tokenizer;
}

std::vector<int32_t> ids(std::string_view text) {
    return uncased().encode(text, /*add_bos=*/false);
}

TEST(WordPiece, VocabularyAndSpecialTokens) {
    const Tokenizer& t = uncased();
    EXPECT_EQ(t.model_type(), "bert");
    EXPECT_TRUE(t.lowercases());
    EXPECT_EQ(t.cls(), 2);
    EXPECT_EQ(t.sep(), 3);
    EXPECT_EQ(t.unk(), 1);
    EXPECT_TRUE(t.add_bos_default());
    EXPECT_EQ(t.encode("the pain", true), (std::vector<int32_t>{2, 5, 7, 3}));
    EXPECT_EQ(t.encode("", true), (std::vector<int32_t>{2, 3}));
    EXPECT_EQ(t.encode("", false), (std::vector<int32_t>{}));
}

TEST(WordPiece, WordsAndContinuations) {
    EXPECT_EQ(ids("the patient"), (std::vector<int32_t>{5, 6}));
    EXPECT_EQ(ids("unaffable"), (std::vector<int32_t>{8, 9, 10}));
    EXPECT_EQ(ids("runing"), (std::vector<int32_t>{19, 18}));
    // "running": "▁run" matches, then no piece starts "ning": the whole word is unknown.
    EXPECT_EQ(ids("running"), (std::vector<int32_t>{1}));
    EXPECT_EQ(ids("xyz the"), (std::vector<int32_t>{1, 5}));
    // Longest match first: "▁s" is not taken for "s" after "patient'".
    EXPECT_EQ(ids("patients"), (std::vector<int32_t>{6, 22}));
}

TEST(WordPiece, LowercaseAndAccents) {
    EXPECT_EQ(ids("THE Patient"), (std::vector<int32_t>{5, 6}));
    // NFD, then combining marks dropped: "Café" -> "cafe", "naïve" -> "naive", "Über" ->
    // "uber" (so the vocabulary's "▁über" is never used, as in BERT's uncased models).
    EXPECT_EQ(ids("Caf\xc3\xa9 na\xc3\xafve"), (std::vector<int32_t>{13, 21}));
    // Already decomposed input (e + U+0301) gives the same.
    EXPECT_EQ(ids("cafe\xcc\x81"), (std::vector<int32_t>{13}));
    EXPECT_EQ(ids("\xc3\x9c"
                  "ber"),
              (std::vector<int32_t>{1}));
}

TEST(WordPiece, PunctuationIsAWordOfItsOwn) {
    EXPECT_EQ(ids("the patient's pain."), (std::vector<int32_t>{5, 6, 25, 29, 7, 12}));
    // ASCII symbols count as punctuation for BERT ("$"), as do all P* characters.
    EXPECT_EQ(ids("$5,10-mg"), (std::vector<int32_t>{16, 17, 11, 27, 28, 26}));
    EXPECT_EQ(ids("(pain)"), (std::vector<int32_t>{23, 7, 24}));
    // U+2014 EM DASH is punctuation but not in the vocabulary.
    EXPECT_EQ(ids("pain\xe2\x80\x94the"), (std::vector<int32_t>{7, 1, 5}));
}

TEST(WordPiece, CjkIdeographsAreWordsOfTheirOwn) {
    EXPECT_EQ(ids("\xe4\xb8\xad\xe6\x96\x87"), (std::vector<int32_t>{14, 15}));  // 中文
    EXPECT_EQ(ids("the\xe4\xb8\xadpain"), (std::vector<int32_t>{5, 14, 7}));
}

TEST(WordPiece, WhitespaceAndControlCharacters) {
    // Tab, newline and NO-BREAK SPACE (Zs) separate words.
    EXPECT_EQ(ids("\tthe\n\xc2\xa0pain  "), (std::vector<int32_t>{5, 7}));
    // BEL (Cc) and ZERO WIDTH SPACE (Cf) are removed, joining what they separated.
    EXPECT_EQ(ids("pa\x07in"), (std::vector<int32_t>{7}));
    EXPECT_EQ(ids("pa\xe2\x80\x8bin"), (std::vector<int32_t>{7}));
    // Invalid UTF-8 is dropped like U+FFFD; NUL too.
    EXPECT_EQ(ids("the \xff pain"), (std::vector<int32_t>{5, 7}));
    EXPECT_EQ(ids(std::string("pa\0in", 5)), (std::vector<int32_t>{7}));
}

TEST(WordPiece, LongWordsAreUnknown) {
    std::vector<int32_t> hundred = {20};
    hundred.insert(hundred.end(), 99, 30);
    EXPECT_EQ(ids(std::string(100, 'a')), hundred);
    EXPECT_EQ(ids(std::string(101, 'a')), (std::vector<int32_t>{1}));
}

TEST(WordPiece, SpecialTokensOnlyWhenAsked) {
    // Typed by a user, "[CLS]" is punctuation and a word, not the control token.
    EXPECT_EQ(ids("[CLS]"), (std::vector<int32_t>{1, 1, 1}));
    EXPECT_EQ(uncased().encode("the [SEP] pain", false, /*parse_special=*/true),
              (std::vector<int32_t>{5, 3, 7}));
}

TEST(WordPiece, DecodeJoinsPieces) {
    const Tokenizer& t = uncased();
    EXPECT_EQ(t.decode(t.encode("unaffable patient, pain", true)), "unaffable patient , pain");
    EXPECT_EQ(t.token_to_piece(9), "aff");
    EXPECT_EQ(t.token_to_piece(5), " the");
    EXPECT_EQ(t.token_to_piece(2), "");
    EXPECT_EQ(t.token_to_piece(2, true), "[CLS]");
}

TEST(WordPiece, CasedVocabularyKeepsCaseAndAccents) {
    auto v = make_vocab(
        {"[PAD]", "[UNK]", "[CLS]", "[SEP]", W + "The", W + "the", W + "caf\xc3\xa9", W + "cafe"});
    const Tokenizer& t = *v->tokenizer;
    EXPECT_FALSE(t.lowercases());
    EXPECT_EQ(t.encode("The the", false), (std::vector<int32_t>{4, 5}));
    EXPECT_EQ(t.encode("caf\xc3\xa9 cafe", false), (std::vector<int32_t>{6, 7}));
    EXPECT_EQ(t.encode("THE", false), (std::vector<int32_t>{1}));
}

TEST(WordPiece, SpecialIdsFallBackToTheirTexts) {
    auto v = make_vocab({"[PAD]", "[UNK]", "[SEP]", "[CLS]", W + "pain"}, /*with_ids=*/false);
    const Tokenizer& t = *v->tokenizer;
    EXPECT_EQ(t.cls(), 3);
    EXPECT_EQ(t.sep(), 2);
    EXPECT_EQ(t.unk(), 1);
    EXPECT_EQ(t.encode("pain", true), (std::vector<int32_t>{3, 4, 2}));
}

TEST(WordPiece, MadeModelVocabulary) {
    auto tokens = wordpiece_vocab(200);
    ASSERT_TRUE(tokens);
    EXPECT_EQ(tokens->size(), 200u);
    EXPECT_FALSE(wordpiece_vocab(10));
    auto v = make_vocab(*tokens);
    const Tokenizer& t = *v->tokenizer;
    EXPECT_TRUE(t.lowercases());
    // Every word splits into known pieces: no [UNK] for plain ASCII text.
    for (int32_t id : t.encode("Patient denies chest-pain; BP 120/80 mg, HR 72 (stable)!", true)) {
        EXPECT_NE(id, t.unk());
    }
}

}  // namespace
}  // namespace ward::engine
