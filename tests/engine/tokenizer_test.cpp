#include "engine/tokenizer.h"

#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/gguf_writer.h"
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
    EXPECT_TRUE(l2.add_space_prefix());
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
    EXPECT_FALSE(l3.add_space_prefix());
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
    // User-defined tokens are cut out even without parse_special (as the reference
    // tokenizers do); control tokens are not.
    EXPECT_EQ(
        q.encode("a<think>b", false, false),
        (std::vector<int32_t>{q.find_token("a"), q.find_token("<think>"), q.find_token("b")}));
    auto qplain = q.encode("<|im_start|>", false, false);
    EXPECT_GT(qplain.size(), 1u);
    for (int32_t id : qplain) EXPECT_EQ(q.token_type(id), TokenType::kNormal);

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
    auto tekken = Pretokenizer::create("tekken");
    ASSERT_TRUE(tekken) << tekken.error().to_string();
    auto camel = (*tekken)->split("camelCaseWord 42");
    EXPECT_EQ(std::vector<std::string>(camel.begin(), camel.end()),
              (std::vector<std::string>{"camel", "Case", "Word", " ", "4", "2"}));
    for (std::string_view name : {"gpt-2", "smollm", "falcon", "default", "stablelm2"}) {
        auto p = Pretokenizer::create(name);
        ASSERT_TRUE(p) << name << ": " << p.error().to_string();
        std::string text = "Hello, world! 12345 ok\n\n  x";
        std::string joined;
        for (std::string_view w : (*p)->split(text)) joined += w;
        EXPECT_EQ(joined, text) << name;
    }
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

// A small vocabulary written in memory: the byte tokens (SentencePiece <0xNN> or the
// byte-level alphabet) plus `extra` tokens; `customize` sets or breaks keys.
struct SmallVocab {
    std::vector<uint8_t> bytes;
    std::shared_ptr<const GgufFile> file;
};
SmallVocab small_vocab(bool spm, const std::vector<std::string>& extra,
                       const std::function<void(GgufWriter&, size_t n_tokens)>& customize) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    if (spm) {
        tokens = {"<unk>", "<s>", "</s>"};
        types = {2, 3, 3};
    }
    for (int b = 0; b < 256; ++b) {
        tokens.push_back(spm ? fmt::format("<0x{:02X}>", b)
                             : std::string(byte_to_unicode(static_cast<uint8_t>(b))));
        types.push_back(spm ? 6 : 1);
    }
    for (const std::string& t : extra) {
        tokens.push_back(t);
        types.push_back(t.starts_with("<|") ? 3 : 1);
    }
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", spm ? "llama" : "gpt2");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    if (spm) {
        std::vector<float> scores(tokens.size(), 0.0f);
        for (size_t i = 0; i < extra.size(); ++i)
            scores[tokens.size() - extra.size() + i] = -float(i);
        w.set_f32_array("tokenizer.ggml.scores", scores);
    } else {
        w.set_string("tokenizer.ggml.pre", "gpt-2");
        w.set_string_array("tokenizer.ggml.merges", {});
    }
    customize(w, tokens.size());
    SmallVocab v;
    v.bytes = w.to_bytes();
    auto file = GgufFile::parse(v.bytes);
    EXPECT_TRUE(file) << file.error().to_string();
    if (file) v.file = *file;
    return v;
}

Status load_error(bool spm, const std::function<void(GgufWriter&, size_t)>& customize) {
    SmallVocab v = small_vocab(spm, {"he", "llo"}, customize);
    if (!v.file) return internal_error("no file");
    auto t = Tokenizer::from_gguf(*v.file);
    return t ? ok_status() : t.error();
}

TEST(Tokenizer, ErrorsNameTheKey) {
    std::vector<uint8_t> bytes = {'G', 'G', 'U', 'F', 3, 0, 0, 0};
    for (int i = 0; i < 16; ++i) bytes.push_back(0);  // no tensors, no metadata
    auto empty = GgufFile::parse(bytes);
    ASSERT_TRUE(empty) << empty.error().to_string();
    auto t = Tokenizer::from_gguf(**empty);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().code(), StatusCode::kNotFound);
    EXPECT_NE(t.error().message().find("tokenizer.ggml.model"), std::string::npos);

    const auto expect_error = [](Status status, StatusCode code, std::string_view needle) {
        EXPECT_EQ(status.code(), code) << status.to_string();
        EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
    };
    EXPECT_TRUE(load_error(true, [](GgufWriter&, size_t) {}).ok());
    EXPECT_TRUE(load_error(false, [](GgufWriter&, size_t) {}).ok());
    expect_error(
        load_error(true,
                   [](GgufWriter& w, size_t) { w.set_string("tokenizer.ggml.model", "rwkv"); }),
        StatusCode::kInvalidArgument, "'rwkv' is not supported; accepted: llama, gpt2, bert");
    expect_error(
        load_error(false, [](GgufWriter& w,
                             size_t) { w.set_string("tokenizer.ggml.pre", "no-such-pre"); }),
        StatusCode::kInvalidArgument, "'no-such-pre' (tokenizer.ggml.pre) is not supported");
    expect_error(load_error(true, [](GgufWriter& w,
                                     size_t) { w.set_f32_array("tokenizer.ggml.scores", {1.0f}); }),
                 StatusCode::kInvalidArgument, "'tokenizer.ggml.scores' has 1 entries for 261");
    expect_error(load_error(true,
                            [](GgufWriter& w, size_t) {
                                w.set_i32_array("tokenizer.ggml.token_type", {1, 1});
                            }),
                 StatusCode::kInvalidArgument, "'tokenizer.ggml.token_type' has 2 entries");
    expect_error(load_error(true,
                            [](GgufWriter& w, size_t n) {
                                w.set_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(n));
                            }),
                 StatusCode::kInvalidArgument,
                 "'tokenizer.ggml.bos_token_id' = 261 is not a token id");
    expect_error(load_error(true, [](GgufWriter& w,
                                     size_t) { w.set_string("tokenizer.ggml.eos_token_id", "2"); }),
                 StatusCode::kInvalidArgument, "tokenizer.ggml.eos_token_id");
    expect_error(load_error(false,
                            [](GgufWriter& w, size_t) {
                                w.set_string_array("tokenizer.ggml.merges", {"h e", "he"});
                            }),
                 StatusCode::kInvalidArgument, "'tokenizer.ggml.merges'[1]");
    expect_error(load_error(true, [](GgufWriter& w,
                                     size_t) { w.set_string_array("tokenizer.ggml.tokens", {}); }),
                 StatusCode::kInvalidArgument, "'tokenizer.ggml.tokens' is empty");
    // The "none" id converters write (0xFFFFFFFF) means absent.
    SmallVocab none = small_vocab(true, {}, [](GgufWriter& w, size_t) {
        w.set_u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
    });
    auto no_bos = Tokenizer::from_gguf(*none.file);
    ASSERT_TRUE(no_bos) << no_bos.error().to_string();
    EXPECT_EQ((*no_bos)->bos(), -1);
    EXPECT_EQ((*no_bos)->encode("", true), std::vector<int32_t>{});
}

TEST(Tokenizer, SpmWithoutSpacePrefix) {
    // Gemma-style: add_space_prefix = false, so neither encode adds nor decode strips a space.
    // Scores fall with position, so earlier pieces merge first.
    SmallVocab v = small_vocab(
        true, {"\xE2\x96\x81", "h", "e", "l", "o", "he", "ll", "llo", "hello", "\xE2\x96\x81hello"},
        [](GgufWriter& w, size_t) { w.set_bool("tokenizer.ggml.add_space_prefix", false); });
    auto t = Tokenizer::from_gguf(*v.file);
    ASSERT_TRUE(t) << t.error().to_string();
    const Tokenizer& tok = **t;
    int32_t hello = tok.find_token("hello");
    int32_t space_hello = tok.find_token("\xE2\x96\x81hello");
    EXPECT_EQ(tok.encode("hello", false), std::vector<int32_t>{hello});
    EXPECT_EQ(tok.encode("hello hello", false), (std::vector<int32_t>{hello, space_hello}));
    EXPECT_EQ(tok.decode(tok.encode(" hello", false)), " hello");
    EXPECT_FALSE(tok.add_space_prefix());
    StreamDecoder stream(tok, /*strip_leading_space=*/true);
    EXPECT_EQ(stream.push(space_hello), " hello");  // nothing to undo without the prefix
    // Unknown characters fall back to bytes.
    EXPECT_EQ(tok.encode("\xC3\xA9", false), (std::vector<int32_t>{3 + 0xC3, 3 + 0xA9}));
}

TEST(Tokenizer, Gpt2PreTokenizerAndMerges) {
    auto pre = Pretokenizer::create("gpt-2");
    ASSERT_TRUE(pre);
    auto words = (*pre)->split("Hello world's 1234  x\t!");
    std::vector<std::string> got(words.begin(), words.end());
    EXPECT_EQ(got,
              (std::vector<std::string>{"Hello", " world", "'s", " 1234", " ", " x", "\t", "!"}));
    // Merges apply by rank, lowest first: "l l" (rank 0) before "e l" (rank 1).
    SmallVocab v = small_vocab(false, {"ll", "el", "he", "hell"}, [](GgufWriter& w, size_t) {
        w.set_string_array("tokenizer.ggml.merges", {"l l", "e l", "h e", "he ll"});
    });
    auto t = Tokenizer::from_gguf(*v.file);
    ASSERT_TRUE(t) << t.error().to_string();
    const Tokenizer& tok = **t;
    EXPECT_FALSE(tok.add_bos_default());
    EXPECT_EQ(tok.bos(), -1);
    EXPECT_EQ(tok.encode("hello", false),
              (std::vector<int32_t>{tok.find_token("hell"), tok.find_token("o")}));
    EXPECT_EQ(tok.decode(tok.encode("hello", false)), "hello");
}

}  // namespace
}  // namespace ward::engine
