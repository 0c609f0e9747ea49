#include "engine/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

namespace ward::engine {

namespace {

// GPT-2 / Llama 3 regex, with llama.cpp's spelling of the case-insensitive contractions.
constexpr std::string_view kLlama3Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2 differs from Llama 3 only in splitting digits one by one.
constexpr std::string_view kQwen2Regex =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Mistral Nemo: letters split at lower-to-upper case changes (camelCase), digits one by one.
constexpr std::string_view kTekkenRegex =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

struct PreSpec {
    std::string_view name;
    std::vector<std::string_view> regexes;
};

const std::vector<PreSpec>& pre_specs() {
    static const std::vector<PreSpec> specs = {
        {"llama-bpe", {kLlama3Regex}},
        {"llama3", {kLlama3Regex}},
        {"llama-v3", {kLlama3Regex}},
        {"qwen2", {kQwen2Regex}},
        {"deepseek-r1-qwen", {kQwen2Regex}},
        {"stablelm2", {kQwen2Regex}},
        {"chatglm-bpe", {kLlama3Regex}},
        {"tekken", {kTekkenRegex}},
        {"gpt-2", {kGpt2Regex}},
        {"gpt2", {kGpt2Regex}},
        {"mpt", {kGpt2Regex}},
        {"olmo", {kGpt2Regex}},
        {"jais", {kGpt2Regex}},
        // StarCoder-style: digits one by one, then GPT-2.
        {"smollm", {R"(\p{N})", kGpt2Regex}},
        {"starcoder", {R"(\p{N})", kGpt2Regex}},
        {"refact", {R"(\p{N})", kGpt2Regex}},
        {"command-r", {R"(\p{N})", kGpt2Regex}},
        {"codeshell", {R"(\p{N})", kGpt2Regex}},
        {"exaone", {R"(\p{N})", kGpt2Regex}},
        {"falcon", {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Regex, R"([0-9][0-9][0-9])"}},
        // llama.cpp's fallback for BPE vocabularies converted without a pre-tokenizer name.
        {"default", {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", R"([0-9][0-9][0-9])"}},
    };
    return specs;
}

}  // namespace

struct Pretokenizer::Regex {
    pcre2_code* code = nullptr;
    ~Regex() { pcre2_code_free(code); }
};

Pretokenizer::Pretokenizer(Key) {}
Pretokenizer::~Pretokenizer() = default;

std::string_view Pretokenizer::accepted_names() {
    return "llama-bpe, llama3, llama-v3, qwen2, deepseek-r1-qwen, stablelm2, chatglm-bpe, tekken, "
           "gpt-2, gpt2, mpt, olmo, jais, smollm, starcoder, refact, command-r, codeshell, exaone, "
           "falcon, default";
}

Result<std::unique_ptr<Pretokenizer>> Pretokenizer::create(std::string_view name) {
    const PreSpec* spec = nullptr;
    for (const PreSpec& s : pre_specs()) {
        if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
        return invalid_argument(
            "tokenizer: pre-tokenizer '{}' (tokenizer.ggml.pre) is not supported; accepted: {}",
            name, accepted_names());
    }
    auto pre = std::make_unique<Pretokenizer>(Key());
    for (std::string_view pattern : spec->regexes) {
        int error_code = 0;
        PCRE2_SIZE error_offset = 0;
        auto regex = std::make_unique<Regex>();
        regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                    PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code,
                                    &error_offset, nullptr);
        if (regex->code == nullptr) {
            std::array<PCRE2_UCHAR, 256> message{};
            pcre2_get_error_message(error_code, message.data(), message.size());
            return internal_error("tokenizer: pre-tokenizer '{}': regex does not compile at {}: {}",
                                  name, error_offset,
                                  reinterpret_cast<const char*>(message.data()));
        }
        // JIT is an optimisation; the interpreter gives the same matches when it is unavailable.
        (void)pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);
        pre->regexes_.push_back(std::move(regex));
    }
    return pre;
}

std::vector<std::string_view> Pretokenizer::split(std::string_view text) const {
    std::vector<std::string_view> pieces;
    if (text.empty()) return pieces;
    pieces.push_back(text);
    std::vector<std::string_view> next;
    for (const auto& regex : regexes_) {
        pcre2_match_data* match = pcre2_match_data_create_from_pattern(regex->code, nullptr);
        next.clear();
        for (std::string_view piece : pieces) {
            const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
            size_t pos = 0;
            size_t gap_start = 0;
            while (pos < piece.size()) {
                int rc = pcre2_match(regex->code, subject, piece.size(), pos, 0, match, nullptr);
                if (rc < 0) break;  // no further match (or a resource limit): the rest is a gap
                const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
                size_t start = ovector[0];
                size_t end = ovector[1];
                if (end <= start) {  // an empty match: none of our regexes make one; step on
                    pos = start + utf8_sequence_length(piece, start);
                    continue;
                }
                if (start > gap_start) next.push_back(piece.substr(gap_start, start - gap_start));
                next.push_back(piece.substr(start, end - start));
                pos = end;
                gap_start = end;
            }
            if (gap_start < piece.size()) next.push_back(piece.substr(gap_start));
        }
        pcre2_match_data_free(match);
        pieces.swap(next);
    }
    return pieces;
}

namespace {

struct ByteLevelTables {
    std::array<std::string, 256> byte_to_text;
    std::array<int16_t, 512> cp_to_byte;
};

const ByteLevelTables& byte_level_tables() {
    static const ByteLevelTables tables = [] {
        ByteLevelTables t;
        t.cp_to_byte.fill(-1);
        // Printable bytes stand for themselves; the others (controls, space, DEL, NBSP, soft
        // hyphen) are moved, in byte order, to U+0100 onwards.
        uint32_t next_cp = 256;
        for (int b = 0; b < 256; ++b) {
            bool printable =
                (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            uint32_t cp = printable ? static_cast<uint32_t>(b) : next_cp++;
            append_utf8(cp, &t.byte_to_text[b]);
            t.cp_to_byte[cp] = static_cast<int16_t>(b);
        }
        return t;
    }();
    return tables;
}

}  // namespace

std::string_view byte_to_unicode(uint8_t b) {
    return byte_level_tables().byte_to_text[b];
}

int unicode_to_byte(uint32_t cp) {
    if (cp >= 512) return -1;
    return byte_level_tables().cp_to_byte[cp];
}

int decode_utf8(std::string_view text, size_t pos, uint32_t* cp) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
    const uint8_t lead = byte(pos);
    *cp = 0xFFFD;
    if (lead < 0x80) {
        *cp = lead;
        return 1;
    }
    int length = 0;
    uint32_t value = 0;
    uint8_t low = 0x80;  // allowed range of the second byte (rules out overlongs, surrogates)
    uint8_t high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
        value = lead & 0x1F;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        value = lead & 0x0F;
        if (lead == 0xE0) low = 0xA0;
        if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        value = lead & 0x07;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;
    } else {
        return 1;
    }
    if (pos + length > text.size()) return 1;
    for (int i = 1; i < length; ++i) {
        uint8_t c = byte(pos + i);
        if (i == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xBF)) return 1;
        value = (value << 6) | (c & 0x3F);
    }
    *cp = value;
    return length;
}

void append_utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
        out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace ward::engine
