#include "assist/knowledge_embedding.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "support/fake_backend.h"

namespace ward::assist {
namespace {

TEST(FitToEncoder, KeepsWhatFitsAndCutsAtAWordBoundary) {
    FakeBackend encoder;  // a token is four bytes
    EXPECT_EQ(fit_to_encoder("short text", encoder, 64), "short text");
    EXPECT_EQ(fit_to_encoder("no limit known", encoder, 0), "no limit known");
    std::string text;
    for (int i = 0; i < 200; ++i) text += "word ";
    std::string cut = fit_to_encoder(text, encoder, 52);  // 50 tokens of text: 200 bytes
    EXPECT_LE(encoder.count_tokens(cut) + 2, 52u);
    EXPECT_GE(cut.size(), 150u);
    EXPECT_TRUE(text.starts_with(cut));
    EXPECT_EQ(text[cut.size()], ' ');
}

TEST(FitToEncoder, NeverSplitsAUtf8Character) {
    FakeBackend encoder;
    std::string text;
    for (int i = 0; i < 100; ++i) text += "\xC3\xA9";  // é, no spaces
    std::string cut = fit_to_encoder(text, encoder, 12);
    EXPECT_LE(encoder.count_tokens(cut) + 2, 12u);
    EXPECT_FALSE(cut.empty());
    EXPECT_EQ(cut.size() % 2, 0u);
}

knowledge::Document doc(std::string id, std::string text) {
    knowledge::Document d;
    d.doc_id = std::move(id);
    d.source = "test";
    d.format = "text";
    d.content = text;
    d.content_sha256 = crypto::sha256_hex(d.content);
    knowledge::Chunk c;
    c.text = std::move(text);
    c.tokens = static_cast<int>(quarter_bytes(c.text));
    d.chunks.push_back(std::move(c));
    return d;
}

TEST(EmbedPendingChunks, EmbedsEveryChunkOnceCuttingLongOnes) {
    auto dir = std::filesystem::path(::testing::TempDir()) /
               ("embed_pending_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto store = knowledge::Store::open((dir / "kb.db").string());
    ASSERT_TRUE(store) << store.error().to_string();
    std::string long_text;
    for (int i = 0; i < 300; ++i) long_text += "lithium ";
    std::vector<knowledge::Document> docs = {doc("a", "aspirin for suspected MI"),
                                             doc("b", long_text), doc("c", "warfarin reversal")};
    ASSERT_TRUE((*store)->add(docs, "test"));

    FakeBackend encoder(128);  // a context of 128 tokens
    std::vector<size_t> lengths;
    encoder.embed_fn_ = [&](const std::string& text) {
        lengths.push_back(text.size());
        return std::vector<float>{1.0f, static_cast<float>(text.size())};
    };
    auto step = embed_pending_chunks(**store, encoder, "enc", 2);
    ASSERT_TRUE(step) << step.error().to_string();
    EXPECT_EQ(step->embedded, 2u);
    step = embed_pending_chunks(**store, encoder, "enc", 2);
    ASSERT_TRUE(step) << step.error().to_string();
    EXPECT_EQ(step->embedded, 1u);
    step = embed_pending_chunks(**store, encoder, "enc", 2);
    ASSERT_TRUE(step) << step.error().to_string();
    EXPECT_EQ(step->embedded, 0u);
    ASSERT_EQ(lengths.size(), 3u);
    for (size_t n : lengths) EXPECT_LE(quarter_bytes(std::string(n, 'x')) + 2, 128u);

    // A failing encoder stores nothing.
    ASSERT_TRUE((*store)->add(std::vector<knowledge::Document>{doc("d", "metformin")}, "more"));
    FakeBackend broken;
    auto failed = embed_pending_chunks(**store, broken, "enc", 8);
    ASSERT_FALSE(failed);
    auto pending = (*store)->pending_embeddings("enc", 8);
    ASSERT_TRUE(pending);
    EXPECT_EQ(pending->size(), 1u);
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ward::assist
