// Byte-level grammars for constrained decoding: a Grammar is a graph of JSON value nodes
// (literals, strings, integers, numbers, objects with fixed properties or free keys, arrays,
// alternatives); a GrammarState is a pushdown automaton over it (a set of frame stacks, one per
// live alternative) that accepts bytes one at a time, in canonical compact JSON (no
// whitespace). json_schema.h compiles a JSON Schema into a Grammar.
//
// A TokenTrie holds every generable token's raw bytes (SentencePiece "▁" and <0xNN> byte
// tokens, byte-level BPE alphabet: as Tokenizer::token_to_piece spells them) in a trie, built
// once per tokenizer. A GrammarMatcher follows one generation: mask() walks the trie with the
// automaton, so a prefix the grammar refuses prunes every token that starts with it (the
// trie's first level is the first-byte index), and end-of-generation tokens are allowed only
// in an accepting state. sample_constrained() takes the sampler's unconstrained choice when the
// grammar allows it and otherwise samples again among the allowed tokens.
//
// Thread safety: Grammar and TokenTrie are immutable once built; share them between
// generations and threads. A GrammarState or GrammarMatcher belongs to one generation and is
// used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/sampler.h"
#include "engine/tokenizer.h"

namespace ward::engine {

enum class GrammarNodeKind : uint8_t {
    kLiteral,  // exactly `literal`
    kString,   // a JSON string of min..max code points (max < 0: unbounded)
    kInteger,  // -?(0|[1-9][0-9]*), at most 15 digits
    kNumber,   // JSON number, at most 15 integer and 15 fraction digits, 2 exponent digits
    kObject,   // {"key":value,...}: `properties` in order (optional ones may be left out), or
               // free keys (any string) with `item` values when `free_keys`
    kArray,    // [item,...] with min..max items (max < 0: unbounded)
    kAnyOf,    // any one of `alternatives`
};

struct GrammarProperty {
    int32_t key = -1;    // a kLiteral node: the quoted, escaped name
    int32_t value = -1;  // the value's node
    bool required = false;
};

struct GrammarNode {
    GrammarNodeKind kind = GrammarNodeKind::kAnyOf;
    std::string literal;
    int32_t min = 0;    // string code points or array items
    int32_t max = -1;   // < 0: unbounded
    int32_t item = -1;  // array items; free-key object values
    int32_t key = -1;   // free-key object keys (a kString node)
    bool free_keys = false;
    std::vector<GrammarProperty> properties;
    std::vector<int32_t> alternatives;
};

struct Grammar {
    std::vector<GrammarNode> nodes;
    int32_t root = -1;
};

// Frames nest at most this deep; a byte that would go deeper is refused.
inline constexpr size_t kGrammarMaxDepth = 64;
// Live alternatives at most; further ones are dropped (the grammar only gets narrower).
inline constexpr size_t kGrammarMaxStacks = 128;
// Frame steps per byte at most (alternatives explored), so that no grammar makes one byte
// cost more than this; what is left unexplored is dropped, as above.
inline constexpr int kGrammarMaxStepsPerByte = 4096;

struct GrammarFrame {
    int32_t node = 0;
    int32_t phase = 0;
    int32_t index = 0;      // literal position; object: the next property that may come
    int32_t count = 0;      // string code points, digits, array items, the current property
    uint8_t utf8_left = 0;  // continuation bytes still due in a string
    uint8_t utf8_lo = 0x80, utf8_hi = 0xBF;  // the range the next continuation byte must be in
    friend bool operator==(const GrammarFrame&, const GrammarFrame&) = default;
};
using GrammarStack = std::vector<GrammarFrame>;

class GrammarState {
  public:
    GrammarState() = default;  // rejects everything
    explicit GrammarState(const Grammar* grammar);

    // Consumes one byte; false (and the state unchanged) when no alternative accepts it.
    bool step(uint8_t byte);
    // Steps `bytes` on a copy; true when all are accepted.
    bool accepts(std::string_view bytes) const;
    // Into `out` (whose buffers are reused): this state after `byte`. False when refused.
    bool step_into(uint8_t byte, GrammarState* out) const;
    // The bytes so far form a complete value.
    bool accepting() const;
    // Complete, and no byte may follow: the value must end here.
    bool finished() const;
    bool dead() const { return live_ == 0; }

  private:
    void step_stack(GrammarStack& s, uint8_t byte, GrammarState* out, int depth) const;
    void add(GrammarState* out, const GrammarStack& s) const;

    const Grammar* grammar_ = nullptr;
    // stacks_[0, live_) are the live alternatives; the rest keep their buffers for reuse, so
    // that stepping into a state used before (the mask's per-depth states) allocates nothing.
    std::vector<GrammarStack> stacks_;
    size_t live_ = 0;
    mutable GrammarStack scratch_;
    mutable int budget_ = 0;  // frame steps left for the byte being stepped
};

// Every token that can be generated as text, by raw bytes. Control, unknown and unused tokens
// and tokens with no bytes are left out; end-of-generation tokens are listed apart.
class TokenTrie {
  public:
    static std::shared_ptr<const TokenTrie> build(const Tokenizer& tokenizer);

    struct Node {
        uint32_t first_child = 0;  // children are contiguous, sorted by byte
        uint16_t n_children = 0;
        uint8_t byte = 0;
        uint32_t first_token = 0;  // tokens ending here: tokens_[first_token, +n_tokens)
        uint32_t n_tokens = 0;
    };
    const std::vector<Node>& nodes() const { return nodes_; }  // nodes()[0] is the root
    const std::vector<int32_t>& tokens() const { return tokens_; }
    const std::vector<std::string>& bytes() const { return bytes_; }  // per token id
    const std::vector<int32_t>& eog_tokens() const { return eog_; }
    // The token to emit when the grammar forces the end: eot, else eos, else the first EOG.
    int32_t end_token() const { return end_token_; }
    int32_t n_vocab() const { return static_cast<int32_t>(bytes_.size()); }
    size_t max_token_bytes() const { return max_len_; }

  private:
    std::vector<Node> nodes_;
    std::vector<int32_t> tokens_;
    std::vector<std::string> bytes_;
    std::vector<int32_t> eog_;
    int32_t end_token_ = -1;
    size_t max_len_ = 0;
};

class GrammarMatcher {
  public:
    GrammarMatcher(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenTrie> trie);

    // Whether `token` may come next (steps a copy of the state by its bytes).
    bool allows(int32_t token) const;
    // allowed[id] = 1 for every token that may come next, else 0 (resized to n_logits, which
    // may exceed the vocabulary: the extra entries are 0). Returns how many are allowed.
    size_t mask(std::vector<uint8_t>* allowed, size_t n_logits);
    // Advances by the token's bytes (an end-of-generation token must find the state
    // accepting). Errors: kInvalidArgument when the grammar refuses it.
    Status accept(int32_t token);
    // Advances by raw bytes (a prefix the caller already emitted). Errors: kInvalidArgument
    // naming the first refused byte's offset; the state is then unchanged.
    Status accept_bytes(std::string_view bytes);
    bool accepting() const { return state_.accepting(); }
    bool finished() const { return state_.finished(); }
    const TokenTrie& trie() const { return *trie_; }

  private:
    void walk(uint32_t node, size_t depth, const GrammarState& state, std::vector<uint8_t>* allowed,
              size_t* n);

    std::shared_ptr<const Grammar> grammar_;
    std::shared_ptr<const TokenTrie> trie_;
    GrammarState state_;
    std::vector<GrammarState> levels_;  // per trie depth, reused between calls
};

// Chooses the next token under the grammar: when it must end, its end token; else the
// sampler's own choice when allowed, else a sample among the allowed tokens only (greedy or
// temperature, with the sampler's penalties and truncation applied after the mask). Does not
// advance the matcher: call accept(). Errors: kFailedPrecondition when no token is allowed
// (the grammar cannot be completed with this vocabulary).
Result<Sampled> sample_constrained(Sampler& sampler, GrammarMatcher& matcher,
                                   std::span<const float> logits, std::span<const int32_t> history);

}  // namespace ward::engine
