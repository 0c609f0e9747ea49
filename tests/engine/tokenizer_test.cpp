#include "engine/tokenizer.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/pretokenize.h"

namespace ward::engine {
namespace {

const std::string kData = WARD_SHARED_DATA;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::shared_ptr<const Tokenizer> load(const std::string& path) {
    auto file = GgufFile::open(path);
    EXPECT_TRUE(file) << file.error().to_string();
    if (!file) return nullptr;
    auto tokenizer = Tokenizer::from_gguf(**file);
    EXPECT_TRUE(tokenizer) << tokenizer.error().to_string();
    return tokenizer ? *tokenizer : nullptr;
}

// Loaded once per test binary: the BPE vocabularies take a moment under sanitizers.
const Tokenizer& llama2() {
    static auto t = load(kData + "/tokenizers/vocab-llama2-spm.gguf");
    return *t;
}
const Tokenizer& llama3() {
    static auto t = load(kData + "/tokenizers/vocab-llama3-bpe.gguf");
    return *t;
}
const Tokenizer& qwen2() {
    static auto t = load(kData + "/tokenizers/vocab-qwen2-bpe.gguf");
    return *t;
}
const Tokenizer& stories() {
    static auto t = load(kData + "/models/stories260K.gguf");
    return *t;
}

std::vector<std::string> test_inputs() {
    auto json =
        nlohmann::json::parse(read_file(kData + "/tokenizers/llamacpp_vocab_test_inputs.json"));
    return json.get<std::vector<std::string>>();
}

std::vector<std::vector<int32_t>> expected_ids(const std::string& name) {
    std::istringstream in(read_file(kData + "/tokenizers/" + name));
    std::vector<std::vector<int32_t>> lines;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::vector<int32_t> ids;
        int32_t id = 0;
        while (words >> id) ids.push_back(id);
        lines.push_back(ids);
    }
    return lines;
}

std::string ids_string(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += " " + std::to_string(id);
    return s;
}

// Every line of an expected file, and decode(encode(x)) == x for every input.
void check_vectors(const Tokenizer& tokenizer, const std::string& expected_file,
                   size_t n_expected) {
    auto inputs = test_inputs();
    auto expected = expected_ids(expected_file);
    ASSERT_EQ(expected.size(), n_expected);
    ASSERT_GE(inputs.size(), expected.size());
    size_t passed = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
        auto ids = tokenizer.encode(inputs[i], /*add_bos=*/false, /*parse_special=*/false);
        EXPECT_EQ(ids_string(ids), ids_string(expected[i])) << "input " << i;
        passed += ids == expected[i];
        EXPECT_EQ(tokenizer.decode(ids), inputs[i]) << "round trip of input " << i;
    }
    EXPECT_EQ(passed, expected.size());
}

TEST(Tokenizer, Llama2SpmVectors) {
    check_vectors(llama2(), "llama2_spm.expected.txt", 43);
}

TEST(Tokenizer, Llama3BpeVectors) {
    check_vectors(llama3(), "llama3_bpe.expected.txt", 44);
}

TEST(Tokenizer, Qwen2BpeVectors) {
    check_vectors(qwen2(), "qwen2_bpe.expected.txt", 43);
}

TEST(Tokenizer, MetadataAndSpecialIds) {
    const Tokenizer& l2 = llama2();
    EXPECT_EQ(l2.model_type(), "llama");
    EXPECT_EQ(l2.n_vocab(), 32000);
    EXPECT_EQ(l2.bos(), 1);
    EXPECT_EQ(l2.eos(), 2);
    EXPECT_EQ(l2.eot(), -1);
    EXPECT_EQ(l2.unk(), 0);
    EXPECT_TRUE(l2.add_bos_default());
    EXPECT_TRUE(l2.is_eog(2));
    EXPECT_FALSE(l2.is_eog(1));
    EXPECT_FALSE(l2.chat_template().has_value());

    const Tokenizer& l3 = llama3();
    EXPECT_EQ(l3.model_type(), "gpt2");
    EXPECT_EQ(l3.pre_type(), "llama-bpe");
    EXPECT_EQ(l3.n_vocab(), 128256);
    EXPECT_EQ(l3.bos(), 128000);
    EXPECT_EQ(l3.eos(), 128001);
    EXPECT_EQ(l3.eot(), 128009);
    EXPECT_EQ(l3.token_text(128009), "<|eot_id|>");
    EXPECT_TRUE(l3.is_eog(128001));
    EXPECT_TRUE(l3.is_eog(128009));
    EXPECT_EQ(l3.find_token("<|eom_id|>"), -1);  // Llama 3.0: 128008 is still reserved
    EXPECT_FALSE(l3.is_eog(128000));
    EXPECT_FALSE(l3.is_eog(-1));
    EXPECT_FALSE(l3.is_eog(1 << 20));
    EXPECT_TRUE(l3.add_bos_default());
    ASSERT_TRUE(l3.chat_template().has_value());
    EXPECT_NE(l3.chat_template()->find("<|start_header_id|>"), std::string_view::npos);

    const Tokenizer& q = qwen2();
    EXPECT_EQ(q.pre_type(), "qwen2");
    EXPECT_EQ(q.n_vocab(), 151936);
    EXPECT_EQ(q.bos(), 151643);
    EXPECT_EQ(q.eos(), 151645);
    EXPECT_EQ(q.eot(), 151645);  // <|im_end|>
    EXPECT_TRUE(q.is_eog(151643));
    EXPECT_TRUE(q.is_eog(151645));
    EXPECT_FALSE(q.add_bos_default());
}

TEST(Tokenizer, BosFlag) {
    EXPECT_EQ(llama2().encode("Hello world", true), (std::vector<int32_t>{1, 15043, 3186}));
    EXPECT_EQ(llama2().encode("", true), (std::vector<int32_t>{1}));
    EXPECT_EQ(llama2().encode("", false), (std::vector<int32_t>{}));
    EXPECT_EQ(llama3().encode("Hello world", true), (std::vector<int32_t>{128000, 9906, 1917}));
    EXPECT_EQ(llama3().encode("Hello world", false), (std::vector<int32_t>{9906, 1917}));
    // A BOS is prepended as text only through its token, never from "add_bos" twice.
    auto ids = llama3().encode("<|begin_of_text|>Hi", false, true);
    ASSERT_FALSE(ids.empty());
    EXPECT_EQ(ids[0], 128000);
    EXPECT_EQ(ids.size(), 2u);
}

TEST(Tokenizer, SpecialTokensParsedOnlyWhenAsked) {
    const Tokenizer& l3 = llama3();
    std::string text = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
    auto parsed = l3.encode(text, false, true);
    ASSERT_GE(parsed.size(), 4u);
    EXPECT_EQ(parsed.front(), l3.find_token("<|start_header_id|>"));
    EXPECT_EQ(parsed[1], l3.find_token("user"));
    EXPECT_EQ(parsed[2], l3.find_token("<|end_header_id|>"));
    EXPECT_EQ(parsed.back(), 128009);
    auto plain = l3.encode(text, false, false);
    for (int32_t id : plain) EXPECT_LT(id, 128000) << "control token from plain text";
    EXPECT_EQ(l3.decode(plain), text);
    // Control tokens decode to "" unless asked for.
    EXPECT_EQ(l3.decode(parsed), "user\n\nHi");
    EXPECT_EQ(l3.decode(parsed, /*special=*/true), text);
    EXPECT_EQ(l3.token_to_piece(128009), "");
    EXPECT_EQ(l3.token_to_piece(128009, true), "<|eot_id|>");

    // Qwen's user-defined <think> and control <|im_start|>.
    const Tokenizer& q = qwen2();
    auto qids = q.encode("<|im_start|>assistant\n<think>\n", false, true);
    ASSERT_EQ(qids.size(), 5u);
    EXPECT_EQ(qids[0], q.find_token("<|im_start|>"));
    EXPECT_EQ(qids[3], q.find_token("<think>"));
    EXPECT_EQ(q.token_to_piece(qids[3]), "<think>");  // user-defined: its text
    auto qplain = q.encode("<think>", false, false);
    EXPECT_GT(qplain.size(), 1u);

    // SentencePiece: "<s>" in text is text unless parsed; a space is prefixed after a special.
    const Tokenizer& l2 = llama2();
    auto spm = l2.encode("<s>Hello", false, true);
    EXPECT_EQ(spm, (std::vector<int32_t>{1, 15043}));
    auto spm_plain = l2.encode("<s>Hello", false, false);
    EXPECT_NE(spm_plain[0], 1);
    EXPECT_EQ(l2.decode(spm_plain), "<s>Hello");
}

TEST(Tokenizer, RoundTripsArbitraryText) {
    const std::vector<std::string> texts = {
        "Patient: 45 y/o male, BP 140/90 mmHg, HbA1c 7.2%.\n\tNo known allergies.",
        "  leading and trailing  ",
        "émigré café naïve — “quotes” 😀👍🏽 中文 日本語 한국어",
        "line1\r\nline2\n\n\nline3",
        std::string("nul\0byte", 8),
    };
    for (const Tokenizer* t : {&llama2(), &llama3(), &qwen2(), &stories()}) {
        for (const std::string& text : texts) {
            auto ids = t->encode(text, false);
            EXPECT_EQ(t->decode(ids), text) << t->model_type() << " " << text;
        }
    }
    // Invalid UTF-8 still round-trips through byte tokens.
    std::string invalid = "ok\xFF\xC3(\xE2\x82 end\x80";
    for (const Tokenizer* t : {&llama2(), &llama3(), &qwen2()}) {
        auto ids = t->encode(invalid, false);
        EXPECT_EQ(t->decode(ids), invalid) << t->model_type();
    }
}

TEST(Tokenizer, TokenToPiece) {
    const Tokenizer& l2 = llama2();
    EXPECT_EQ(l2.token_to_piece(15043), " Hello");
    EXPECT_EQ(l2.token_to_piece(3 + 0x41), "A");  // <0x41>
    EXPECT_EQ(l2.token_to_piece(1), "");
    EXPECT_EQ(l2.token_to_piece(1, true), "<s>");
    EXPECT_EQ(l2.token_to_piece(-5), "");
    EXPECT_EQ(l2.token_to_piece(32000), "");
    const Tokenizer& l3 = llama3();
    EXPECT_EQ(l3.token_to_piece(1917), " world");
    EXPECT_EQ(l3.token_to_piece(198), "\n");
}

TEST(Tokenizer, StreamDecoderHoldsBackPartialCharacters) {
    // "🦙" is 4 bytes; Llama 2 spells it with byte tokens, one byte per token.
    const Tokenizer& l2 = llama2();
    auto ids = l2.encode(" this is 🦙.cpp", false);
    StreamDecoder stream(l2);
    std::string out;
    std::vector<std::string> chunks;
    for (int32_t id : ids) {
        std::string chunk = stream.push(id);
        chunks.push_back(chunk);
        out += chunk;
    }
    out += stream.flush();
    EXPECT_EQ(out, "  this is 🦙.cpp");  // two spaces: the prefix one is kept when streaming
    // The three tokens before the last byte of the llama emit nothing.
    int empty = 0;
    for (const auto& c : chunks) empty += c.empty();
    EXPECT_EQ(empty, 3);

    // Byte-level BPE splits multi-byte characters across tokens too.
    for (const Tokenizer* t : {&llama3(), &qwen2()}) {
        std::string text = "ក្រុម 🚀 (normal) 😶‍🌫️ ✅ Việt";
        StreamDecoder s(*t);
        std::string streamed;
        for (int32_t id : t->encode(text, false)) {
            std::string chunk = s.push(id);
            // Every chunk is whole characters.
            uint32_t cp = 0;
            for (size_t pos = 0; pos < chunk.size();) {
                int n = decode_utf8(chunk, pos, &cp);
                EXPECT_FALSE(n == 1 && cp == 0xFFFD) << "partial character emitted";
                pos += n;
            }
            streamed += chunk;
        }
        streamed += s.flush();
        EXPECT_EQ(streamed, text);
    }

    // Bytes that can never be valid become U+FFFD; an unfinished tail is flushed as U+FFFD.
    StreamDecoder s(l2);
    EXPECT_EQ(s.push(3 + 0xFF), "\xEF\xBF\xBD");
    EXPECT_EQ(s.push(3 + 0xE2), "");
    EXPECT_EQ(s.push(3 + 0x82), "");
    EXPECT_EQ(s.push(3 + 0x41),
              "\xEF\xBF\xBD\xEF\xBF\xBD"
              "A");
    EXPECT_EQ(s.push(3 + 0xC3), "");
    EXPECT_EQ(s.flush(), "\xEF\xBF\xBD");
    EXPECT_EQ(s.flush(), "");

    StreamDecoder stripped(l2, /*strip_leading_space=*/true);
    EXPECT_EQ(stripped.push(15043), "Hello");
    EXPECT_EQ(stripped.push(3186), " world");
}

TEST(Tokenizer, Stories260K) {
    const Tokenizer& t = stories();
    EXPECT_EQ(t.n_vocab(), 512);
    EXPECT_EQ(t.model_type(), "llama");
    EXPECT_EQ(t.bos(), 1);
    EXPECT_EQ(t.eos(), 2);
    EXPECT_TRUE(t.add_bos_default());
    auto ids = t.encode("Once upon a time", true);
    ASSERT_GE(ids.size(), 2u);
    EXPECT_EQ(ids[0], 1);
    EXPECT_EQ(ids[1], 403);  // "▁Once", the first token of the greedy reference run
    EXPECT_EQ(t.decode(ids), "Once upon a time");
    for (int32_t id : ids) EXPECT_FALSE(t.token_type(id) == TokenType::kByte);

    std::istringstream in(read_file(kData + "/models/stories260K.greedy-200.ids.txt"));
    std::vector<int32_t> greedy;
    int32_t id = 0;
    while (in >> id) greedy.push_back(id);
    ASSERT_EQ(greedy.size(), 200u);
    std::string expected = read_file(kData + "/models/stories260K.greedy-200.txt");
    EXPECT_EQ(t.decode(greedy), expected);
    StreamDecoder stream(t, /*strip_leading_space=*/true);
    std::string streamed;
    for (int32_t g : greedy) streamed += stream.push(g);
    streamed += stream.flush();
    EXPECT_EQ(streamed, expected);
}

TEST(Tokenizer, PreTokenizerSplits) {
    auto pre = Pretokenizer::create("llama-bpe");
    ASSERT_TRUE(pre) << pre.error().to_string();
    auto words = (*pre)->split("Hello, y'all! 12345   x\n\n");
    std::vector<std::string> got(words.begin(), words.end());
    EXPECT_EQ(got, (std::vector<std::string>{"Hello", ",", " y", "'all", "!", " ", "123", "45",
                                             "  ", " x", "\n\n"}));
    auto qwen = Pretokenizer::create("qwen2");
    ASSERT_TRUE(qwen);
    auto digits = (*qwen)->split("123");
    EXPECT_EQ(digits.size(), 3u);
    auto unknown = Pretokenizer::create("no-such-pre");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(unknown.error().message().find("llama-bpe"), std::string::npos);
    // The byte alphabet: space is "Ġ", newline "Ċ", printable ASCII itself.
    EXPECT_EQ(byte_to_unicode(' '), "\xC4\xA0");
    EXPECT_EQ(byte_to_unicode('\n'), "\xC4\x8A");
    EXPECT_EQ(byte_to_unicode('a'), "a");
    for (int b = 0; b < 256; ++b) {
        uint32_t cp = 0;
        std::string_view s = byte_to_unicode(static_cast<uint8_t>(b));
        decode_utf8(s, 0, &cp);
        EXPECT_EQ(unicode_to_byte(cp), b);
    }
}

TEST(Tokenizer, ErrorsNameTheKey) {
    // A vocabulary-free file: the model key is missing.
    auto file = GgufFile::open(kData + "/tokenizers/vocab-llama2-spm.gguf");
    ASSERT_TRUE(file);
    // Build a minimal GGUF in memory without tokenizer keys.
    std::vector<uint8_t> bytes = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    for (int i = 0; i < 16; ++i) bytes.push_back(0);  // 0 tensors, 0 metadata
    auto empty = GgufFile::parse(bytes);
    ASSERT_TRUE(empty) << empty.error().to_string();
    auto t = Tokenizer::from_gguf(**empty);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code(), StatusCode::kNotFound);
    EXPECT_NE(t.error().message().find("tokenizer.ggml.model"), std::string::npos)
        << t.error().message();
}

}  // namespace
}  // namespace ward::engine
