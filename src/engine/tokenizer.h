// Tokenizers built from a GGUF file's `tokenizer.ggml.*` metadata, matching llama.cpp token for
// token:
//   - "llama": SentencePiece-style. Spaces become "▁" (and one is prefixed to the text when
//     add_space_prefix is on, the default), then adjacent pieces are merged greedily by the
//     score of the merged token (highest first, leftmost on ties); pieces that are not tokens
//     fall back to the <0xNN> byte tokens.
//   - "gpt2": byte-level BPE. The text is cut into words by the regexes `tokenizer.ggml.pre`
//     names (see pretokenize.h), each word's bytes are spelled in GPT-2's byte alphabet, and
//     adjacent tokens are merged by the rank of their pair in `tokenizer.ggml.merges` (lowest
//     first, leftmost on ties).
//   - "bert": WordPiece, as BERT's reference tokenizer does it (see encode_wpm in the source):
//     control characters are dropped; for uncased vocabularies (no ASCII capital in any normal
//     token) text is lowercased and accents are stripped (NFD, then combining marks removed);
//     words are split on whitespace, every punctuation character and every CJK ideograph is a
//     word of its own; each word is cut greedily into the longest vocabulary pieces, left to
//     right, and becomes [UNK] as a whole when some part has no piece or it is longer than 100
//     characters. llama.cpp's converter stores word-start pieces with a leading "▁" and
//     continuation pieces without BERT's "##"; [CLS], [SEP] and the other control tokens as is.
// Special tokens: control and unknown token texts ("<|eot_id|>", "<|im_start|>", "<s>") are
// cut out of the text as single tokens only when the caller asks (parse_special); otherwise
// they are ordinary text, so text a user typed never becomes a control token. User-defined
// tokens (Qwen's "<think>", Gemma's "<start_of_turn>", whitespace runs and HTML tags) are
// always cut out, as SentencePiece, Hugging Face tokenizers and llama.cpp do: without that,
// Gemma tokenizes spaces and markup differently from the reference.
//
// Thread safety: a Tokenizer is immutable after from_gguf(); share it between sessions and call
// any const method concurrently. A StreamDecoder belongs to one generation stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/gguf.h"

namespace ward::engine {

class Pretokenizer;

// Token types as GGUF numbers them (tokenizer.ggml.token_type).
enum class TokenType : uint8_t {
    kUndefined = 0,
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6,
};

class Tokenizer {
  public:
    // Builds the tokenizer from tokenizer.ggml.* metadata (model, pre, tokens, token_type,
    // scores, merges, bos/eos/eot/eom/unknown ids, add_bos_token, add_eos_token,
    // add_space_prefix, chat_template). The result copies what it needs: `file` may close.
    // Errors: kNotFound for a missing required key (tokenizer.ggml.model, tokens, and merges
    // for "gpt2"); kInvalidArgument naming the key for a wrong type, a length that does not
    // match the token count, a token id out of range, an unknown model or pre-tokenizer (the
    // message lists the accepted ones), or a malformed merge.
    static Result<std::shared_ptr<const Tokenizer>> from_gguf(const GgufFile& file);

    // Only from_gguf() can make the key: construction goes through it.
    class Key {
        friend class Tokenizer;
        Key() = default;
    };
    explicit Tokenizer(Key);
    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // Text -> token ids. `text` may be any bytes (invalid UTF-8 is spelled with byte tokens;
    // "bert" drops it). add_bos prepends BOS when the vocabulary has one; the caller decides,
    // usually from add_bos_default(). For "bert", add_bos means [CLS] text [SEP] (each when the
    // vocabulary has it). parse_special: see the header comment. Never fails.
    std::vector<int32_t> encode(std::string_view text, bool add_bos,
                                bool parse_special = false) const;

    // The bytes token `id` stands for: SentencePiece "▁" -> " " and <0xNN> -> that byte;
    // byte-level BPE alphabet -> the original bytes; user-defined tokens -> their text.
    // Control and unknown tokens give "" unless `special`, then their text; unused tokens
    // and ids out of range give "". A piece may be part of a UTF-8 character.
    std::string token_to_piece(int32_t id, bool special = false) const;

    // Concatenated pieces of `ids` (see token_to_piece). For SentencePiece vocabularies with
    // add_space_prefix, one leading space of the first non-empty piece is removed, undoing the
    // prefix encode() added, so decode(encode(x, false)) == x for valid UTF-8 x without "▁".
    std::string decode(std::span<const int32_t> ids, bool special = false) const;

    int32_t n_vocab() const { return static_cast<int32_t>(texts_.size()); }
    // Special ids, or -1 when the vocabulary has none.
    int32_t bos() const { return bos_; }
    int32_t eos() const { return eos_; }
    int32_t eot() const { return eot_; }  // end of turn: <|eot_id|>, <|im_end|>, <end_of_turn>
    int32_t unk() const { return unk_; }
    // "bert" only (else -1): the classifier token that opens a sequence and the separator
    // that ends it (tokenizer.ggml.cls_token_id / seperator_token_id, else [CLS] / [SEP]).
    int32_t cls() const { return cls_; }
    int32_t sep() const { return sep_; }
    // "bert" only: whether encode() lowercases and strips accents (an uncased vocabulary).
    bool lowercases() const { return is_wpm_ && lowercase_; }
    // End of generation: eos, eot, eom and the end-of-turn tokens llama.cpp recognises by text
    // (<|eot_id|>, <|eom_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>,
    // <|end_of_text|>, <EOT>). False for ids out of range.
    bool is_eog(int32_t id) const;
    // tokenizer.ggml.add_bos_token, defaulting as llama.cpp does: true for "llama" and for the
    // Llama 3 pre-tokenizer, false for other "gpt2" vocabularies.
    bool add_bos_default() const { return add_bos_; }
    bool add_eos_default() const { return add_eos_; }
    // SentencePiece only: whether encode() prefixes a space (tokenizer.ggml.add_space_prefix,
    // default true; false for Gemma). Always false for BPE.
    bool add_space_prefix() const { return is_spm_ && add_space_prefix_; }

    // REQUIRES: 0 <= id < n_vocab().
    const std::string& token_text(int32_t id) const { return texts_[id]; }
    // The GGUF token type; kUndefined for ids out of range.
    TokenType token_type(int32_t id) const;
    // The id of a vocabulary string, or -1.
    int32_t find_token(std::string_view text) const;

    // tokenizer.chat_template, when the file has one. The view lives as long as the Tokenizer.
    std::optional<std::string_view> chat_template() const;
    // "llama" (SentencePiece), "gpt2" (byte-level BPE) or "bert" (WordPiece).
    std::string_view model_type() const { return is_wpm_ ? "bert" : is_spm_ ? "llama" : "gpt2"; }
    // tokenizer.ggml.pre ("default" when absent).
    std::string_view pre_type() const { return pre_name_; }

  private:
    // One slot of the merge table; key = left id << 32 | right id, kEmptyMerge when free.
    struct MergeSlot {
        uint64_t key;
        int32_t rank;
        int32_t result;
    };
    struct Fragment {
        int32_t token;  // -1 for text
        std::string_view text;
    };

    struct Scratch;

    Status load(const GgufFile& file);
    void partition(std::string_view text, bool parse_special, std::vector<Fragment>* out) const;
    void encode_spm(std::string_view text, Scratch* scratch, std::vector<int32_t>* out) const;
    void encode_bpe_word(std::string_view word, Scratch* scratch, std::vector<int32_t>* out) const;
    void encode_wpm(std::string_view text, Scratch* scratch, std::vector<int32_t>* out) const;
    void encode_wpm_word(std::string_view word, const std::vector<uint32_t>& char_offsets,
                         std::vector<int32_t>* out) const;
    void push_byte(uint8_t byte, std::vector<int32_t>* out) const;
    void build_id_table();
    Status build_merge_table(const std::vector<std::string_view>& merges);
    const MergeSlot* find_merge(int32_t left, int32_t right) const;

    bool is_spm_ = true;
    bool is_wpm_ = false;  // "bert"; is_spm_ is false then
    std::string pre_name_ = "default";
    std::vector<std::string> texts_;
    std::vector<float> scores_;
    std::vector<TokenType> types_;
    // Open-addressing hash tables (power-of-two sizes, linear probing): vocabulary and merge
    // lookups dominate both loading and encoding. id_slots_ holds token ids (-1 free), compared
    // through texts_.
    std::vector<int32_t> id_slots_;
    std::vector<MergeSlot> merge_slots_;
    // The token spelling each byte: <0xNN> (SentencePiece) or the byte's alphabet character.
    std::vector<int32_t> byte_tokens_;
    // Control, unknown and user-defined tokens, bucketed by first byte, longest first.
    std::vector<std::vector<int32_t>> specials_by_first_byte_;
    std::vector<bool> eog_;
    std::unique_ptr<Pretokenizer> pretokenizer_;
    std::optional<std::string> chat_template_;
    int32_t bos_ = -1;
    int32_t eos_ = -1;
    int32_t eot_ = -1;
    int32_t eom_ = -1;
    int32_t unk_ = -1;
    int32_t cls_ = -1;
    int32_t sep_ = -1;
    size_t max_token_bytes_ = 0;  // the longest vocabulary string, bounding WordPiece lookups
    bool lowercase_ = true;
    bool add_bos_ = false;
    bool add_eos_ = false;
    bool add_space_prefix_ = true;
    bool ignore_merges_ = false;
    bool has_user_defined_ = false;
};

// Turns a stream of generated ids into text without ever emitting part of a UTF-8 character:
// bytes of an unfinished character wait for the next token. Bytes that can never form a valid
// character are emitted as U+FFFD, so the output is always valid UTF-8 (safe to put in JSON).
// Holds a reference to the tokenizer, which must outlive it. Not thread-safe.
class StreamDecoder {
  public:
    // strip_leading_space: drop one leading space of the first text, as decode() does, when
    // the stream starts the text (no prompt printed before it). Only has an effect for
    // vocabularies with add_space_prefix().
    explicit StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space = false);
    // The complete characters that token `id` finishes (possibly "").
    std::string push(int32_t id);
    // Whatever is still held back, as U+FFFD for an unfinished character; resets the decoder.
    std::string flush();

  private:
    const Tokenizer& tokenizer_;
    std::string pending_;
    bool strip_leading_space_;
};

}  // namespace ward::engine
