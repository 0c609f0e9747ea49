// Fuzzes the WordPiece ("bert") tokenizer: any bytes encode without a crash into ids of the
// vocabulary, [CLS] ... [SEP] when asked, no control token from text unless parse_special, and
// decoding the ids gives valid UTF-8. Two vocabularies: the uncased one `ward model make --arch
// bert` writes (lowercasing, accent stripping) and a small cased one.
//
// The first input byte picks the vocabulary and the flags; the rest is the text.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf.h"
#include "engine/gguf_writer.h"
#include "engine/model_maker.h"
#include "engine/pretokenize.h"
#include "engine/tokenizer.h"

namespace {

using ward::engine::GgufFile;
using ward::engine::GgufWriter;
using ward::engine::Tokenizer;
using ward::engine::TokenType;

std::shared_ptr<const Tokenizer> make(const std::vector<std::string>& tokens) {
    GgufWriter w;
    w.set_string("tokenizer.ggml.model", "bert");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    std::vector<int32_t> types(tokens.size(), 1);
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i].size() > 2 && tokens[i].front() == '[' && tokens[i].back() == ']' &&
            tokens[i].find("tok") == std::string::npos) {
            types[i] = 3;
        }
    }
    w.set_i32_array("tokenizer.ggml.token_type", types);
    static std::vector<std::vector<uint8_t>> keep_alive;  // parse() views the bytes
    keep_alive.push_back(w.to_bytes());
    auto file = GgufFile::parse(keep_alive.back());
    if (!file) __builtin_trap();
    auto tokenizer = Tokenizer::from_gguf(**file);
    if (!tokenizer) __builtin_trap();
    return *tokenizer;
}

const std::vector<std::shared_ptr<const Tokenizer>>& tokenizers() {
    static const auto all = [] {
        std::vector<std::shared_ptr<const Tokenizer>> v;
        auto uncased = ward::engine::wordpiece_vocab(400);
        if (!uncased) __builtin_trap();
        v.push_back(make(*uncased));
        const std::string w = "\xe2\x96\x81";
        v.push_back(make({"[PAD]", "[UNK]", "[CLS]", "[SEP]", w + "The", w + "caf\xc3\xa9", "s",
                          w + "\xe4\xb8\xad", "\xc3\xa9", w + "a", "a"}));
        return v;
    }();
    return all;
}

// Valid UTF-8 throughout: decode_utf8 reports an invalid byte as a one-byte U+FFFD.
bool is_valid_utf8(const std::string& s) {
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        const int n = ward::engine::decode_utf8(s, i, &cp);
        if (n == 1 && cp == 0xFFFD) return false;
        i += static_cast<size_t>(n);
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
    for (size_t i = 0; i < ids.size(); ++i) {
        const int32_t id = ids[i];
        if (id < 0 || id >= t.n_vocab()) __builtin_trap();
        const bool edge = add_bos && (i == 0 || i + 1 == ids.size());
        if (!parse_special && !edge && t.token_type(id) == TokenType::kControl && id != t.unk()) {
            __builtin_trap();
        }
    }
    if (add_bos && (ids.size() < 2 || ids.front() != t.cls() || ids.back() != t.sep())) {
        __builtin_trap();
    }
    if (!is_valid_utf8(t.decode(ids, parse_special))) __builtin_trap();
    return 0;
}
