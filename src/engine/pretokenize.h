// Pre-tokenization for byte-level BPE tokenizers: the regex splits that cut text into words
// before merges run (chosen by `tokenizer.ggml.pre`), and GPT-2's byte-level alphabet, which
// spells every byte as one printable Unicode character so that merges and vocabulary strings
// never contain raw control bytes or spaces.
//
// The regexes use Unicode classes (\p{L}, \p{N}) and lookaheads (`\s+(?!\S)`), so they run on
// PCRE2 in UTF + UCP mode with JIT. Invalid UTF-8 never fails: invalid bytes cannot match, so
// they end up in the gaps between matches and are kept as words of their own, which the
// byte-level BPE then spells byte by byte (nothing is lost).
//
// Thread safety: a Pretokenizer is immutable after create(); split() may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::engine {

class Pretokenizer {
  public:
    // Compiles the regexes that llama.cpp uses for the pre-tokenizer `name`
    // (tokenizer.ggml.pre). Errors: kInvalidArgument naming the pre-tokenizer and listing the
    // accepted names when it is unknown.
    static Result<std::unique_ptr<Pretokenizer>> create(std::string_view name);

    // Only create() can make the key: construction goes through it.
    class Key {
        friend class Pretokenizer;
        Key() = default;
    };
    explicit Pretokenizer(Key);
    ~Pretokenizer();
    Pretokenizer(const Pretokenizer&) = delete;
    Pretokenizer& operator=(const Pretokenizer&) = delete;

    // The accepted names, comma-separated, for error messages.
    static std::string_view accepted_names();

    // Splits `text` into words: each regex in turn splits every piece the previous one made
    // into its matches and the gaps between them (both kept, in order). The views point into
    // `text`. Concatenating the words gives back `text` exactly.
    std::vector<std::string_view> split(std::string_view text) const;

  private:
    struct Regex;
    std::vector<std::unique_ptr<Regex>> regexes_;
};

// GPT-2's byte-to-unicode table: the UTF-8 spelling of the character standing for byte `b`.
std::string_view byte_to_unicode(uint8_t b);
// Inverse for one code point: the byte it stands for, or -1 when `cp` is not in the alphabet.
int unicode_to_byte(uint32_t cp);

// Decodes one UTF-8 sequence at `text[pos]`. Returns its length (1..4) and stores the code
// point; an invalid or truncated sequence returns 1 and stores 0xFFFD, so a caller walking a
// string always advances.
int decode_utf8(std::string_view text, size_t pos, uint32_t* cp);
// The length of the valid UTF-8 sequence at `text[pos]`, or 1 for an invalid byte.
inline int utf8_sequence_length(std::string_view text, size_t pos) {
    uint32_t cp = 0;
    return decode_utf8(text, pos, &cp);
}
void append_utf8(uint32_t cp, std::string* out);

}  // namespace ward::engine
