// Fuzzes the tokenizers: any bytes encode and decode without a crash, every id is in range,
// byte-level BPE round-trips any bytes exactly, SentencePiece round-trips text without "▁", and
// a StreamDecoder only ever emits valid UTF-8 and, for valid UTF-8 input, the text itself.
//
// The first input byte picks the vocabulary and the flags; the rest is the text. The real
// vocabularies come from WARD_SHARED_DATA (compile definition or environment variable); small
// synthetic ones, built in memory, are always there so the target works without the data.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf.h"
#include "engine/gguf_writer.h"
#include "engine/pretokenize.h"
#include "engine/tokenizer.h"

namespace {

using ward::engine::GgufFile;
using ward::engine::GgufWriter;
using ward::engine::StreamDecoder;
using ward::engine::Tokenizer;

std::shared_ptr<const Tokenizer> from_bytes(const std::vector<uint8_t>& bytes) {
    static std::vector<std::vector<uint8_t>> keep_alive;  // parse() views the bytes
    keep_alive.push_back(bytes);
    auto file = GgufFile::parse(keep_alive.back());
    if (!file) __builtin_trap();
    auto tokenizer = Tokenizer::from_gguf(**file);
    if (!tokenizer) __builtin_trap();
    return *tokenizer;
}

// A SentencePiece vocabulary: <unk>, <s>, </s>, the 256 byte tokens, a few pieces.
std::shared_ptr<const Tokenizer> synthetic_spm() {
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        tokens.emplace_back(name);
        types.push_back(6);
    }
    for (const char* piece : {"\xE2\x96\x81", "\xE2\x96\x81t", "he", "\xE2\x96\x81the", "a", "t",
                              "h", "e", "<|user|>"}) {
        tokens.emplace_back(piece);
        types.push_back(tokens.back() == "<|user|>" ? 3 : 1);
    }
    std::vector<float> scores(tokens.size(), 0.0f);
    for (size_t i = 259; i < tokens.size(); ++i) scores[i] = -static_cast<float>(i);
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_f32_array("tokenizer.ggml.scores", scores);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    return from_bytes(w.to_bytes());
}

// A byte-level BPE vocabulary: the 256 alphabet characters, two merges, a control and a
// user-defined token.
std::shared_ptr<const Tokenizer> synthetic_bpe(const char* pre) {
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    for (int b = 0; b < 256; ++b) {
        tokens.emplace_back(ward::engine::byte_to_unicode(static_cast<uint8_t>(b)));
        types.push_back(1);
    }
    tokens.emplace_back("th");
    tokens.emplace_back("the");
    tokens.emplace_back("<|end|>");
    tokens.emplace_back("<tool>");
    types.insert(types.end(), {1, 1, 3, 4});
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", pre);
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_i32_array("tokenizer.ggml.token_type", types);
    w.set_string_array("tokenizer.ggml.merges", {"t h", "th e"});
    return from_bytes(w.to_bytes());
}

std::shared_ptr<const Tokenizer> from_file(const std::string& path) {
    auto file = GgufFile::open(path);
    if (!file) return nullptr;
    auto tokenizer = Tokenizer::from_gguf(**file);
    return tokenizer ? *tokenizer : nullptr;
}

const std::vector<std::shared_ptr<const Tokenizer>>& tokenizers() {
    static const std::vector<std::shared_ptr<const Tokenizer>> all = [] {
        std::vector<std::shared_ptr<const Tokenizer>> v = {
            synthetic_spm(), synthetic_bpe("llama-bpe"), synthetic_bpe("qwen2"),
            synthetic_bpe("gpt-2"), synthetic_bpe("default")};
        std::string data;
#ifdef WARD_SHARED_DATA
        data = WARD_SHARED_DATA;
#endif
        if (const char* env = std::getenv("WARD_SHARED_DATA")) data = env;
        if (!data.empty()) {
            for (const char* name :
                 {"/tokenizers/vocab-llama2-spm.gguf", "/tokenizers/vocab-llama3-bpe.gguf",
                  "/tokenizers/vocab-qwen2-bpe.gguf", "/models/stories260K.gguf"}) {
                if (auto t = from_file(data + name)) v.push_back(t);
            }
        }
        return v;
    }();
    return all;
}

bool is_valid_utf8(const std::string& s) {
    for (size_t pos = 0; pos < s.size();) {
        uint32_t cp = 0;
        int n = ward::engine::decode_utf8(s, pos, &cp);
        if (n == 1 && cp == 0xFFFD) return false;
        pos += n;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const auto& all = tokenizers();
    const Tokenizer& t = *all[data[0] % all.size()];
    const bool add_bos = (data[0] / all.size()) & 1;
    const bool parse_special = (data[0] / all.size()) & 2;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

    std::vector<int32_t> ids = t.encode(text, add_bos, parse_special);
    for (int32_t id : ids) {
        if (id < 0 || id >= t.n_vocab()) __builtin_trap();
    }
    std::string decoded = t.decode(ids, /*special=*/parse_special);
    const bool spm = t.model_type() == "llama";
    if (!parse_special && (!spm || text.find("\xE2\x96\x81") == std::string::npos)) {
        if (decoded != text) __builtin_trap();
    }

    StreamDecoder stream(t, /*strip_leading_space=*/true);
    std::string streamed;
    for (int32_t id : ids) {
        std::string chunk = stream.push(id);
        if (!is_valid_utf8(chunk)) __builtin_trap();
        streamed += chunk;
    }
    streamed += stream.flush();
    if (!is_valid_utf8(streamed)) __builtin_trap();
    if (!parse_special && is_valid_utf8(text) &&
        (!spm || text.find("\xE2\x96\x81") == std::string::npos) && streamed != text) {
        __builtin_trap();
    }
    for (int32_t id : {-1, 0, t.n_vocab() - 1, t.n_vocab()}) {
        (void)t.token_to_piece(id, true);
        (void)t.is_eog(id);
    }
    return 0;
}
