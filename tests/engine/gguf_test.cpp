#include "engine/gguf.h"

#include <gtest/gtest.h>

namespace ward::engine {
namespace {

const std::string kData = WARD_SHARED_DATA;

TEST(GgufReader, ReadsStories260K) {
    auto f = GgufFile::open(kData + "/models/stories260K.gguf");
    ASSERT_TRUE(f) << f.error().to_string();
    const GgufFile& g = **f;
    EXPECT_EQ(g.version(), 3u);
    EXPECT_EQ(*g.get_string("general.architecture"), "llama");
    EXPECT_EQ(*g.get_int("llama.embedding_length"), 64);
    EXPECT_EQ(*g.get_int("llama.block_count"), 5);
    EXPECT_EQ(*g.get_int("llama.attention.head_count"), 8);
    EXPECT_EQ(*g.get_int("llama.attention.head_count_kv"), 4);
    EXPECT_EQ(g.get_string_array("tokenizer.ggml.tokens")->size(), 512u);
    const GgufTensor* emb = g.find_tensor("token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->type, TensorType::kF32);
    EXPECT_EQ(emb->ne[0], 64);
    EXPECT_EQ(emb->ne[1], 512);
    EXPECT_EQ(emb->n_bytes, 64u * 512u * 4u);
    EXPECT_EQ(emb->shape_string(), "[64, 512]");
    // Typed access reports mismatches by key.
    EXPECT_EQ(g.get_int("general.architecture").error().message(),
              "gguf: metadata 'general.architecture' must be an integer, not string");
    EXPECT_EQ(g.get_string("no.such.key").error().code(), StatusCode::kNotFound);
    EXPECT_EQ(*g.get_int_or("no.such.key", 7), 7);
}

TEST(GgufReader, ReadsVocabularyOnlyFiles) {
    auto f = GgufFile::open(kData + "/tokenizers/vocab-llama3-bpe.gguf");
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_EQ((*f)->tensors().size(), 0u);
    EXPECT_EQ((*f)->get_string_array("tokenizer.ggml.tokens")->size(), 128256u);
    EXPECT_EQ((*f)->get_string_array("tokenizer.ggml.merges")->size(), 280147u);
}

TEST(GgufReader, MissingFile) {
    auto f = GgufFile::open("/nonexistent.gguf");
    ASSERT_FALSE(f);
    EXPECT_EQ(f.error().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace ward::engine
