// TokenStream: the per-token half of generate() that a batching scheduler drives itself. Fed
// hand-picked tokens of the stories260K vocabulary, it must hold back partial characters and
// possible stop strings, and release everything it holds when the stream ends.
#include <gtest/gtest.h>

#include "engine/generate.h"
#include "engine/model.h"

namespace ward::engine {
namespace {

const Tokenizer& stories_tokenizer() {
    static auto model = Model::load(std::string(WARD_SHARED_DATA) + "/models/stories260K.gguf");
    EXPECT_TRUE(model) << model.error().to_string();
    return (*model)->tokenizer();
}

// Pushes `ids` and returns the concatenation of the released texts.
std::string push_all(TokenStream& stream, const std::vector<int32_t>& ids) {
    std::string released;
    for (int32_t id : ids) {
        if (stream.done()) break;
        Sampled s;
        s.id = id;
        released += stream.push(s).text;
    }
    return released;
}

TEST(TokenStream, EndOfGenerationReleasesHeldBackText) {
    const Tokenizer& tok = stories_tokenizer();
    GenerateOptions o;
    o.stop = {"Lily"};
    TokenStream stream(tok, o);
    std::vector<int32_t> ids = tok.encode("a girl named Li", false);
    std::string released = push_all(stream, ids);
    EXPECT_FALSE(stream.done());
    EXPECT_EQ(released, " a girl named ");  // "Li" may begin "Lily"
    Sampled eos;
    eos.id = tok.eos();
    StreamStep last = stream.push(eos);
    EXPECT_TRUE(last.done);
    released += last.text;
    EXPECT_EQ(stream.result().finish, FinishReason::kStop);
    EXPECT_EQ(released, " a girl named Li");
    EXPECT_EQ(stream.result().text, released);
    EXPECT_EQ(stream.result().tokens, ids);  // the end token is not one of them
}

TEST(TokenStream, StopStringAcrossTokensCutsTheText) {
    const Tokenizer& tok = stories_tokenizer();
    GenerateOptions o;
    o.stop = {"girl named"};
    TokenStream stream(tok, o);
    std::string released = push_all(stream, tok.encode("a little girl named Lily", false));
    EXPECT_TRUE(stream.done());
    EXPECT_EQ(stream.result().finish, FinishReason::kStop);
    EXPECT_EQ(stream.result().text, " a little ");
    EXPECT_EQ(released, " a little ");
}

TEST(TokenStream, LimitAndLastTokenFinishWithLength) {
    const Tokenizer& tok = stories_tokenizer();
    GenerateOptions o;
    o.max_tokens = 3;
    TokenStream limited(tok, o);
    push_all(limited, tok.encode("one two three four five", false));
    EXPECT_TRUE(limited.done());
    EXPECT_EQ(limited.result().finish, FinishReason::kLength);
    EXPECT_EQ(limited.result().tokens.size(), 3u);

    o.max_tokens = 0;
    TokenStream full(tok, o);
    Sampled s;
    s.id = tok.encode("one", false).back();
    StreamStep step = full.push(s, /*last=*/true);
    EXPECT_TRUE(step.done);
    EXPECT_EQ(full.result().finish, FinishReason::kLength);
}

TEST(TokenStream, PartialCharactersWaitAndCancelKeepsOnlyReleasedText) {
    const Tokenizer& tok = stories_tokenizer();
    GenerateOptions o;
    o.stop = {"xyz"};
    TokenStream stream(tok, o);
    // "é" is not in this small vocabulary: it is spelled with two byte tokens.
    std::vector<int32_t> ids = tok.encode("caf\xC3\xA9 x", false);
    std::string released;
    for (int32_t id : ids) {
        Sampled s;
        s.id = id;
        std::string_view text = stream.push(s).text;
        if (!text.empty()) {
            // Never half a character.
            EXPECT_NE(static_cast<unsigned char>(text.back()), 0xC3) << released;
        }
        released += text;
    }
    EXPECT_EQ(released, " caf\xC3\xA9 ");  // " x" may begin "xyz"
    stream.cancel();
    EXPECT_TRUE(stream.done());
    EXPECT_EQ(stream.result().finish, FinishReason::kCancelled);
    EXPECT_EQ(stream.result().text, released);
}

}  // namespace
}  // namespace ward::engine
