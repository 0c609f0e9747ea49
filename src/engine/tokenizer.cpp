#include "engine/tokenizer.h"

#include <algorithm>
#include <queue>

#include <fmt/format.h>
#include <utf8proc.h>

#include "engine/pretokenize.h"

namespace ward::engine {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 "▁"

// End-of-turn token texts, in the order llama.cpp prefers them for eot().
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>",
};
// Texts that end generation besides eos/eot/eom.
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",   "<|endoftext|>",
    "<|eom_id|>", "<EOT>",      "_<EOT>",  "<|end_of_text|>",
};

// Pre-tokenizers whose models take a word that is itself a token whole (llama.cpp's
// ignore_merges) and add BOS by default.
bool is_llama3_pre(std::string_view pre) {
    return pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3" || pre == "tekken";
}

// Reads an optional token id key. Absent or the "none" value (-1, or 0xFFFFFFFF as written by
// converters into a uint32) keep `fallback`; anything else must be a valid id.
Status read_token_id(const GgufFile& file, std::string_view key, int32_t n_vocab, int32_t* id) {
    if (!file.has(key)) return ok_status();
    WARD_ASSIGN_OR_RETURN(int64_t value, file.get_int(key));
    if (value == -1 || value == 0xFFFFFFFFLL) {
        *id = -1;
        return ok_status();
    }
    if (value < 0 || value >= n_vocab) {
        return invalid_argument(
            "tokenizer: metadata '{}' = {} is not a token id (vocabulary of {})", key, value,
            n_vocab);
    }
    *id = static_cast<int32_t>(value);
    return ok_status();
}

// True when `bytes` is the beginning, but not the whole, of a valid UTF-8 sequence.
bool is_utf8_proper_prefix(std::string_view bytes) {
    auto lead = static_cast<uint8_t>(bytes[0]);
    size_t need = 0;
    uint8_t low = 0x80;
    uint8_t high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 3;
        if (lead == 0xE0) low = 0xA0;
        if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 4;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;
    }
    if (need == 0 || bytes.size() >= need) return false;
    for (size_t i = 1; i < bytes.size(); ++i) {
        auto c = static_cast<uint8_t>(bytes[i]);
        if (i == 1 ? (c < low || c > high) : (c < 0x80 || c > 0xBF)) return false;
    }
    return true;
}

}  // namespace

// Per-call working memory of the merge loops, reused across the words of one encode().
struct Tokenizer::Scratch {
    struct Symbol {
        int32_t id;      // token id, -1 when the piece is not a token
        uint32_t start;  // SentencePiece: byte offset of the piece
        uint32_t n;      // SentencePiece: byte length; 0 once merged away
        int32_t prev;
        int32_t next;
    };
    struct Bigram {
        float score;   // SentencePiece: score of the merged token (higher first)
        int32_t rank;  // BPE: merge rank (lower first)
        int32_t left;
        int32_t right;
        uint32_t size;  // SentencePiece: bytes of the merged piece, to detect stale entries
        int32_t left_id;
        int32_t right_id;
        int32_t result;
    };
    std::vector<Symbol> symbols;
    std::vector<Bigram> heap;
    std::string text;
};

namespace {

// The merge loop both tokenizers share. Every pair of neighbouring symbols is offered to
// `try_add`, which queues it in `heap` when it can merge; then, until the queue is empty, the
// best queued pair that is still current merges (the left symbol absorbs the right one and
// takes the merged token id) and the pairs it now forms with its neighbours are offered.
template <typename Symbols, typename Heap, typename Less, typename TryAdd, typename IsCurrent>
void run_merges(Symbols& symbols, Heap& heap, Less lower_priority, TryAdd try_add,
                IsCurrent is_current) {
    for (size_t i = 1; i < symbols.size(); ++i) {
        try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
    }
    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), lower_priority);
        auto bigram = heap.back();
        heap.pop_back();
        auto& left = symbols[bigram.left];
        auto& right = symbols[bigram.right];
        // Stale: a side was merged away, or changed, since the pair was queued.
        if (left.n == 0 || right.n == 0 || !is_current(bigram)) continue;
        left.id = bigram.result;
        left.n += right.n;
        right.n = 0;
        left.next = right.next;
        if (right.next >= 0) symbols[right.next].prev = bigram.left;
        try_add(left.prev, bigram.left);
        try_add(bigram.left, left.next);
    }
}

}  // namespace

Tokenizer::Tokenizer(Key) {}
Tokenizer::~Tokenizer() = default;

Result<std::shared_ptr<const Tokenizer>> Tokenizer::from_gguf(const GgufFile& file) {
    auto tokenizer = std::make_shared<Tokenizer>(Key());
    WARD_TRY(tokenizer->load(file));
    return std::shared_ptr<const Tokenizer>(std::move(tokenizer));
}

Status Tokenizer::load(const GgufFile& file) {
    WARD_ASSIGN_OR_RETURN(std::string_view model, file.get_string("tokenizer.ggml.model"));
    if (model == "llama") {
        is_spm_ = true;
    } else if (model == "gpt2") {
        is_spm_ = false;
    } else if (model == "bert") {
        is_spm_ = false;
        is_wpm_ = true;
    } else {
        return invalid_argument(
            "tokenizer: tokenizer.ggml.model '{}' is not supported; accepted: llama, gpt2, bert",
            model);
    }
    if (file.has("tokenizer.ggml.pre")) {
        WARD_ASSIGN_OR_RETURN(std::string_view pre, file.get_string("tokenizer.ggml.pre"));
        pre_name_ = std::string(pre);
    }

    WARD_ASSIGN_OR_RETURN(auto tokens, file.get_string_array("tokenizer.ggml.tokens"));
    if (tokens.empty())
        return invalid_argument("tokenizer: metadata 'tokenizer.ggml.tokens' is empty");
    if (tokens.size() > static_cast<size_t>(INT32_MAX / 2)) {
        return invalid_argument("tokenizer: metadata 'tokenizer.ggml.tokens' has {} entries",
                                tokens.size());
    }
    const auto n_vocab = static_cast<int32_t>(tokens.size());
    texts_.reserve(tokens.size());
    for (std::string_view t : tokens) texts_.emplace_back(t);

    types_.assign(tokens.size(), TokenType::kNormal);
    if (file.has("tokenizer.ggml.token_type")) {
        WARD_ASSIGN_OR_RETURN(auto types, file.get_int_array("tokenizer.ggml.token_type"));
        if (types.size() != tokens.size()) {
            return invalid_argument(
                "tokenizer: metadata 'tokenizer.ggml.token_type' has {} entries for {} tokens",
                types.size(), tokens.size());
        }
        for (size_t i = 0; i < types.size(); ++i) {
            // Unknown type numbers are treated as normal tokens, as llama.cpp does.
            if (types[i] >= 0 && types[i] <= 6) types_[i] = static_cast<TokenType>(types[i]);
        }
    }
    scores_.assign(tokens.size(), 0.0f);
    if (file.has("tokenizer.ggml.scores")) {
        WARD_ASSIGN_OR_RETURN(scores_, file.get_float_array("tokenizer.ggml.scores"));
        if (scores_.size() != tokens.size()) {
            return invalid_argument(
                "tokenizer: metadata 'tokenizer.ggml.scores' has {} entries for {} tokens",
                scores_.size(), tokens.size());
        }
    }

    build_id_table();

    byte_tokens_.assign(256, -1);
    if (is_spm_) {
        for (int b = 0; b < 256; ++b) {
            int32_t id = find_token(fmt::format("<0x{:02X}>", b));
            if (id < 0) id = find_token(std::string(1, static_cast<char>(b)));
            byte_tokens_[b] = id;
        }
        bos_ = n_vocab > 1 ? 1 : -1;
        eos_ = n_vocab > 2 ? 2 : -1;
        unk_ = 0;
        add_bos_ = true;
        WARD_ASSIGN_OR_RETURN(add_space_prefix_,
                              file.get_bool_or("tokenizer.ggml.add_space_prefix", true));
    } else if (is_wpm_) {
        add_bos_ = true;
        unk_ = find_token("[UNK]");
        cls_ = find_token("[CLS]");
        sep_ = find_token("[SEP]");
        WARD_TRY(read_token_id(file, "tokenizer.ggml.cls_token_id", n_vocab, &cls_));
        WARD_TRY(read_token_id(file, "tokenizer.ggml.seperator_token_id", n_vocab, &sep_));
        // An uncased vocabulary has no capital letters outside its control tokens.
        lowercase_ = true;
        for (int32_t id = 0; id < n_vocab && lowercase_; ++id) {
            if (types_[id] == TokenType::kControl) continue;
            for (char c : texts_[id]) {
                if (c >= 'A' && c <= 'Z') {
                    lowercase_ = false;
                    break;
                }
            }
        }
        for (const auto& t : texts_) max_token_bytes_ = std::max(max_token_bytes_, t.size());
    } else {
        WARD_ASSIGN_OR_RETURN(pretokenizer_, Pretokenizer::create(pre_name_));
        for (int b = 0; b < 256; ++b) byte_tokens_[b] = find_token(byte_to_unicode(b));
        add_bos_ = is_llama3_pre(pre_name_);
        ignore_merges_ = is_llama3_pre(pre_name_);

        WARD_ASSIGN_OR_RETURN(auto merges, file.get_string_array("tokenizer.ggml.merges"));
        WARD_TRY(build_merge_table(merges));
    }

    WARD_TRY(read_token_id(file, "tokenizer.ggml.bos_token_id", n_vocab, &bos_));
    WARD_TRY(read_token_id(file, "tokenizer.ggml.eos_token_id", n_vocab, &eos_));
    WARD_TRY(read_token_id(file, "tokenizer.ggml.unknown_token_id", n_vocab, &unk_));
    WARD_TRY(read_token_id(file, "tokenizer.ggml.eot_token_id", n_vocab, &eot_));
    WARD_TRY(read_token_id(file, "tokenizer.ggml.eom_token_id", n_vocab, &eom_));
    WARD_ASSIGN_OR_RETURN(add_bos_, file.get_bool_or("tokenizer.ggml.add_bos_token", add_bos_));
    WARD_ASSIGN_OR_RETURN(add_eos_, file.get_bool_or("tokenizer.ggml.add_eos_token", add_eos_));
    if (unk_ >= 0 && unk_ >= n_vocab) unk_ = -1;

    if (eot_ < 0) {
        for (std::string_view text : kEotTexts) {
            if (int32_t id = find_token(text); id >= 0) {
                eot_ = id;
                break;
            }
        }
    }
    if (eom_ < 0) eom_ = find_token("<|eom_id|>");
    eog_.assign(texts_.size(), false);
    for (int32_t id : {eos_, eot_, eom_}) {
        if (id >= 0) eog_[id] = true;
    }
    for (std::string_view text : kEogTexts) {
        if (int32_t id = find_token(text); id >= 0) eog_[id] = true;
    }

    specials_by_first_byte_.assign(256, {});
    for (int32_t id = 0; id < n_vocab; ++id) {
        TokenType type = types_[id];
        if (texts_[id].empty()) continue;
        if (type == TokenType::kControl || type == TokenType::kUserDefined ||
            type == TokenType::kUnknown) {
            specials_by_first_byte_[static_cast<uint8_t>(texts_[id][0])].push_back(id);
            has_user_defined_ = has_user_defined_ || type == TokenType::kUserDefined;
        }
    }
    for (auto& bucket : specials_by_first_byte_) {
        std::stable_sort(bucket.begin(), bucket.end(),
                         [&](int32_t a, int32_t b) { return texts_[a].size() > texts_[b].size(); });
    }

    if (file.has("tokenizer.chat_template")) {
        WARD_ASSIGN_OR_RETURN(std::string_view tmpl, file.get_string("tokenizer.chat_template"));
        chat_template_ = std::string(tmpl);
    }
    return ok_status();
}

namespace {

constexpr uint64_t kEmptyMerge = ~uint64_t{0};

uint64_t mix64(uint64_t x) {  // splitmix64's finaliser
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ULL;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

size_t table_size_for(size_t n) {  // a power of two at least twice n
    size_t size = 16;
    while (size < 2 * n) size *= 2;
    return size;
}

}  // namespace

void Tokenizer::build_id_table() {
    id_slots_.assign(table_size_for(texts_.size()), -1);
    const size_t mask = id_slots_.size() - 1;
    for (int32_t id = 0; id < n_vocab(); ++id) {
        size_t slot = std::hash<std::string_view>{}(texts_[id]) & mask;
        bool duplicate = false;
        while (id_slots_[slot] >= 0) {
            // Duplicate strings: the first id wins, as in a tokenizer.json vocabulary.
            if (texts_[id_slots_[slot]] == texts_[id]) {
                duplicate = true;
                break;
            }
            slot = (slot + 1) & mask;
        }
        if (!duplicate) id_slots_[slot] = id;
    }
}

int32_t Tokenizer::find_token(std::string_view text) const {
    const size_t mask = id_slots_.size() - 1;
    for (size_t slot = std::hash<std::string_view>{}(text)&mask;; slot = (slot + 1) & mask) {
        int32_t id = id_slots_[slot];
        if (id < 0 || texts_[id] == text) return id;
    }
}

Status Tokenizer::build_merge_table(const std::vector<std::string_view>& merges) {
    merge_slots_.assign(table_size_for(merges.size()), MergeSlot{kEmptyMerge, 0, 0});
    const size_t mask = merge_slots_.size() - 1;
    std::string joined;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        std::string_view merge = merges[rank];
        size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string_view::npos;
        if (space == std::string_view::npos) {
            return invalid_argument(
                "tokenizer: metadata 'tokenizer.ggml.merges'[{}] is not two tokens separated by "
                "a space",
                rank);
        }
        std::string_view left = merge.substr(0, space);
        std::string_view right = merge.substr(space + 1);
        int32_t left_id = find_token(left);
        int32_t right_id = find_token(right);
        joined.assign(left);
        joined.append(right);
        int32_t result = find_token(joined);
        // A merge whose parts or result are not tokens can never fire on token pieces.
        if (left_id < 0 || right_id < 0 || result < 0) continue;
        uint64_t key = (static_cast<uint64_t>(left_id) << 32) | static_cast<uint32_t>(right_id);
        size_t slot = mix64(key) & mask;
        while (merge_slots_[slot].key != kEmptyMerge && merge_slots_[slot].key != key) {
            slot = (slot + 1) & mask;
        }
        // A repeated pair keeps its first (lowest) rank.
        if (merge_slots_[slot].key == kEmptyMerge) {
            merge_slots_[slot] = MergeSlot{key, static_cast<int32_t>(rank), result};
        }
    }
    return ok_status();
}

const Tokenizer::MergeSlot* Tokenizer::find_merge(int32_t left, int32_t right) const {
    if (merge_slots_.empty()) return nullptr;
    const uint64_t key = (static_cast<uint64_t>(left) << 32) | static_cast<uint32_t>(right);
    const size_t mask = merge_slots_.size() - 1;
    for (size_t slot = mix64(key) & mask;; slot = (slot + 1) & mask) {
        const MergeSlot& s = merge_slots_[slot];
        if (s.key == key) return &s;
        if (s.key == kEmptyMerge) return nullptr;
    }
}

TokenType Tokenizer::token_type(int32_t id) const {
    if (id < 0 || id >= n_vocab()) return TokenType::kUndefined;
    return types_[id];
}

bool Tokenizer::is_eog(int32_t id) const {
    return id >= 0 && id < n_vocab() && eog_[id];
}

std::optional<std::string_view> Tokenizer::chat_template() const {
    if (!chat_template_) return std::nullopt;
    return std::string_view(*chat_template_);
}

void Tokenizer::partition(std::string_view text, bool parse_special,
                          std::vector<Fragment>* out) const {
    if (!parse_special && !has_user_defined_) {
        out->push_back({-1, text});
        return;
    }
    // Leftmost-longest: at each position the longest special text that starts there wins.
    // Without parse_special only user-defined tokens count.
    size_t text_start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        const auto& bucket = specials_by_first_byte_[static_cast<uint8_t>(text[pos])];
        int32_t found = -1;
        for (int32_t id : bucket) {
            if (!parse_special && types_[id] != TokenType::kUserDefined) continue;
            const std::string& s = texts_[id];
            if (text.compare(pos, s.size(), s) == 0) {
                found = id;
                break;
            }
        }
        if (found < 0) {
            ++pos;
            continue;
        }
        if (pos > text_start) out->push_back({-1, text.substr(text_start, pos - text_start)});
        out->push_back({found, {}});
        pos += texts_[found].size();
        text_start = pos;
    }
    if (text_start < text.size()) out->push_back({-1, text.substr(text_start)});
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 2);
    if (is_wpm_) {
        std::vector<Fragment> fragments;
        partition(text, parse_special, &fragments);
        Scratch scratch;
        if (add_bos && cls_ >= 0) out.push_back(cls_);
        for (const Fragment& fragment : fragments) {
            if (fragment.token >= 0) {
                out.push_back(fragment.token);
            } else {
                encode_wpm(fragment.text, &scratch, &out);
            }
        }
        if (add_bos && sep_ >= 0) out.push_back(sep_);
        return out;
    }
    if (add_bos && bos_ >= 0) out.push_back(bos_);
    if (text.empty()) return out;  // no space prefix for an empty text, as llama.cpp

    std::vector<Fragment> fragments;
    partition(text, parse_special, &fragments);
    Scratch scratch;
    bool after_special = true;  // SentencePiece prefixes a space to text at the start or after
                                // a special token
    for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
            out.push_back(fragment.token);
            after_special = true;
            continue;
        }
        if (is_spm_) {
            std::string& escaped = scratch.text;
            escaped.clear();
            if (add_space_prefix_ && after_special) escaped.append(kSpaceMarker);
            for (char c : fragment.text) {
                if (c == ' ') {
                    escaped.append(kSpaceMarker);
                } else {
                    escaped.push_back(c);
                }
            }
            encode_spm(escaped, &scratch, &out);
        } else {
            for (std::string_view word : pretokenizer_->split(fragment.text)) {
                encode_bpe_word(word, &scratch, &out);
            }
        }
        after_special = false;
    }
    return out;
}

void Tokenizer::push_byte(uint8_t byte, std::vector<int32_t>* out) const {
    if (byte_tokens_[byte] >= 0) {
        out->push_back(byte_tokens_[byte]);
    } else if (unk_ >= 0) {
        out->push_back(unk_);
    }
}

void Tokenizer::encode_spm(std::string_view text, Scratch* scratch,
                           std::vector<int32_t>* out) const {
    using Symbol = Scratch::Symbol;
    using Bigram = Scratch::Bigram;
    auto& symbols = scratch->symbols;
    auto& heap = scratch->heap;
    symbols.clear();
    heap.clear();
    for (size_t pos = 0; pos < text.size();) {
        auto n = static_cast<uint32_t>(utf8_sequence_length(text, pos));
        auto index = static_cast<int32_t>(symbols.size());
        symbols.push_back(Symbol{-1, static_cast<uint32_t>(pos), n, index - 1, index + 1});
        pos += n;
    }
    if (symbols.empty()) return;
    symbols.back().next = -1;

    // Highest score first; on equal scores the leftmost pair.
    const auto lower_priority = [](const Bigram& a, const Bigram& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    const auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        uint32_t size = symbols[left].n + symbols[right].n;
        int32_t id = find_token(text.substr(symbols[left].start, size));
        if (id < 0) return;
        heap.push_back(Bigram{scores_[id], 0, left, right, size, -1, -1, id});
        std::push_heap(heap.begin(), heap.end(), lower_priority);
    };
    // Sizes only grow by merging, so a pair is current while they add up as queued.
    run_merges(symbols, heap, lower_priority, try_add, [&](const Bigram& bigram) {
        return symbols[bigram.left].n + symbols[bigram.right].n == bigram.size;
    });
    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        const Symbol& symbol = symbols[i];
        std::string_view piece = text.substr(symbol.start, symbol.n);
        int32_t id = symbol.id >= 0 ? symbol.id : find_token(piece);
        if (id >= 0) {
            out->push_back(id);
        } else {
            for (char c : piece) push_byte(static_cast<uint8_t>(c), out);
        }
    }
}

void Tokenizer::encode_bpe_word(std::string_view word, Scratch* scratch,
                                std::vector<int32_t>* out) const {
    using Symbol = Scratch::Symbol;
    using Bigram = Scratch::Bigram;
    if (word.empty()) return;
    if (ignore_merges_ && word.size() > 1) {
        // Llama 3 takes a whole word that is itself a token without running merges.
        std::string& spelled = scratch->text;
        spelled.clear();
        for (char c : word) spelled.append(byte_to_unicode(static_cast<uint8_t>(c)));
        if (int32_t id = find_token(spelled); id >= 0) {
            out->push_back(id);
            return;
        }
    }
    auto& symbols = scratch->symbols;
    auto& heap = scratch->heap;
    symbols.clear();
    heap.clear();
    for (size_t i = 0; i < word.size(); ++i) {
        auto index = static_cast<int32_t>(i);
        symbols.push_back(
            Symbol{byte_tokens_[static_cast<uint8_t>(word[i])], 0, 1, index - 1, index + 1});
    }
    symbols.back().next = -1;

    // Lowest rank first; on equal ranks the leftmost pair.
    const auto lower_priority = [](const Bigram& a, const Bigram& b) {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    };
    const auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        int32_t left_id = symbols[left].id;
        int32_t right_id = symbols[right].id;
        if (left_id < 0 || right_id < 0) return;
        const MergeSlot* merge = find_merge(left_id, right_id);
        if (merge == nullptr) return;
        heap.push_back(Bigram{0.0f, merge->rank, left, right, 0, left_id, right_id, merge->result});
        std::push_heap(heap.begin(), heap.end(), lower_priority);
    };
    run_merges(symbols, heap, lower_priority, try_add, [&](const Bigram& bigram) {
        return symbols[bigram.left].next == bigram.right &&
               symbols[bigram.left].id == bigram.left_id &&
               symbols[bigram.right].id == bigram.right_id;
    });
    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
        if (symbols[i].id >= 0) {
            out->push_back(symbols[i].id);
        } else if (unk_ >= 0) {
            out->push_back(unk_);  // a byte whose alphabet character is not in the vocabulary
        }
    }
}

namespace {

// Character classes of BERT's BasicTokenizer (Google's tokenization.py), by Unicode category.
bool wpm_is_whitespace(uint32_t cp) {
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_ZS;
}

// Categories Cc, Cf, Cs, Co, Cn, except the whitespace controls.
bool wpm_is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
        case UTF8PROC_CATEGORY_CC:
        case UTF8PROC_CATEGORY_CF:
        case UTF8PROC_CATEGORY_CS:
        case UTF8PROC_CATEGORY_CO:
        case UTF8PROC_CATEGORY_CN:
            return true;
        default:
            return false;
    }
}

// Every non-alphanumeric ASCII character ("$", "+", "^" included, as BERT does) and every
// character of a P* category.
bool wpm_is_punctuation(uint32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
        (cp >= 123 && cp <= 126)) {
        return true;
    }
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
        case UTF8PROC_CATEGORY_PC:
        case UTF8PROC_CATEGORY_PD:
        case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE:
        case UTF8PROC_CATEGORY_PI:
        case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
            return true;
        default:
            return false;
    }
}

// The CJK Unified Ideographs blocks BERT treats as one word each (not Hangul, Hiragana or
// Katakana, which are written with spaces or handled as ordinary letters).
bool wpm_is_cjk(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// BERT's limit: a longer word is [UNK] without trying pieces.
constexpr size_t kMaxWordChars = 100;

}  // namespace

// BasicTokenizer then WordpieceTokenizer. Words are collected as UTF-8 in scratch->text with
// the byte offset of each character, so pieces are substrings looked up without copying more
// than one candidate at a time.
void Tokenizer::encode_wpm(std::string_view text, Scratch* scratch,
                           std::vector<int32_t>* out) const {
    std::string& word = scratch->text;
    word.clear();
    std::vector<uint32_t> offsets;  // byte offset of each character of `word`
    const auto finish_word = [&] {
        if (!word.empty()) encode_wpm_word(word, offsets, out);
        word.clear();
        offsets.clear();
    };
    const auto append = [&](uint32_t cp) {
        offsets.push_back(static_cast<uint32_t>(word.size()));
        append_utf8(cp, &word);
    };
    const auto single = [&](uint32_t cp) {
        finish_word();
        append(cp);
        finish_word();
    };
    for (size_t pos = 0; pos < text.size();) {
        uint32_t cp = 0;
        pos += static_cast<size_t>(decode_utf8(text, pos, &cp));
        if (cp == 0 || cp == 0xFFFD || wpm_is_control(cp)) continue;  // invalid bytes too
        if (wpm_is_whitespace(cp)) {
            finish_word();
            continue;
        }
        if (wpm_is_cjk(cp)) {
            single(cp);
            continue;
        }
        if (!lowercase_) {
            if (wpm_is_punctuation(cp)) {
                single(cp);
            } else {
                append(cp);
            }
            continue;
        }
        // Uncased: lowercase, decompose (NFD) and drop the combining marks (category Mn).
        const auto lower =
            static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
        utf8proc_int32_t parts[8];
        int last_boundclass = 0;
        utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(lower), parts, 8,
                                                     UTF8PROC_DECOMPOSE, &last_boundclass);
        if (n <= 0 || n > 8) {
            parts[0] = static_cast<utf8proc_int32_t>(lower);
            n = 1;
        }
        for (utf8proc_ssize_t i = 0; i < n; ++i) {
            const auto part = static_cast<uint32_t>(parts[i]);
            if (utf8proc_category(parts[i]) == UTF8PROC_CATEGORY_MN) continue;
            if (wpm_is_punctuation(part)) {
                single(part);
            } else {
                append(part);
            }
        }
    }
    finish_word();
}

// Greedy longest-match-first: the first piece is looked up with the word-start marker "▁",
// the following ones without (llama.cpp's spelling of BERT's "##" continuations).
void Tokenizer::encode_wpm_word(std::string_view word, const std::vector<uint32_t>& offsets,
                                std::vector<int32_t>* out) const {
    const size_t n_chars = offsets.size();
    const size_t first = out->size();
    if (n_chars <= kMaxWordChars) {
        std::string candidate;
        size_t start = 0;
        while (start < n_chars) {
            int32_t found = -1;
            size_t end = n_chars;
            for (; end > start; --end) {
                const size_t from = offsets[start];
                const size_t to = end < n_chars ? offsets[end] : word.size();
                if (to - from + (start == 0 ? kSpaceMarker.size() : 0) > max_token_bytes_) {
                    continue;
                }
                candidate.clear();
                if (start == 0) candidate.append(kSpaceMarker);
                candidate.append(word.substr(from, to - from));
                const int32_t id = find_token(candidate);
                if (id >= 0 && types_[id] != TokenType::kControl) {
                    found = id;
                    break;
                }
            }
            if (found < 0) break;
            out->push_back(found);
            start = end;
        }
        if (start == n_chars) return;
    }
    out->resize(first);  // some part had no piece: the whole word is unknown
    if (unk_ >= 0) out->push_back(unk_);
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
    if (id < 0 || id >= n_vocab()) return {};
    const std::string& text = texts_[id];
    switch (types_[id]) {
        case TokenType::kControl:
        case TokenType::kUnknown:
            return special ? text : std::string();
        case TokenType::kUnused:
            return {};
        case TokenType::kUserDefined:
            return text;
        case TokenType::kByte:
            // "<0xNN>"
            if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
                unsigned value = 0;
                for (int i = 3; i < 5; ++i) {
                    char c = text[i];
                    unsigned digit = c >= '0' && c <= '9'   ? c - '0'
                                     : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                            : 16;
                    if (digit > 15) return text;
                    value = value * 16 + digit;
                }
                return std::string(1, static_cast<char>(value));
            }
            return text;
        case TokenType::kNormal:
        case TokenType::kUndefined:
            break;
    }
    std::string piece;
    piece.reserve(text.size());
    if (is_spm_ || is_wpm_) {
        for (size_t pos = 0; pos < text.size();) {
            if (text.compare(pos, kSpaceMarker.size(), kSpaceMarker) == 0) {
                piece.push_back(' ');
                pos += kSpaceMarker.size();
            } else {
                piece.push_back(text[pos++]);
            }
        }
        return piece;
    }
    for (size_t pos = 0; pos < text.size();) {
        uint32_t cp = 0;
        int n = decode_utf8(text, pos, &cp);
        int byte = n > 1 || cp < 0x80 ? unicode_to_byte(cp) : -1;
        if (byte >= 0) {
            piece.push_back(static_cast<char>(byte));
        } else {
            piece.append(text, pos, n);  // not in the byte alphabet: keep as written
        }
        pos += n;
    }
    return piece;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool special) const {
    std::string text;
    bool strip_space = (is_spm_ && add_space_prefix_) || is_wpm_;
    for (int32_t id : ids) {
        std::string piece = token_to_piece(id, special);
        if (piece.empty()) continue;
        if (strip_space && piece[0] == ' ') {
            text.append(piece, 1, std::string::npos);
        } else {
            text.append(piece);
        }
        strip_space = false;
    }
    return text;
}

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool strip_leading_space)
    : tokenizer_(tokenizer),
      strip_leading_space_(strip_leading_space && tokenizer.add_space_prefix()) {}

std::string StreamDecoder::push(int32_t id) {
    std::string piece = tokenizer_.token_to_piece(id);
    if (piece.empty()) return {};
    if (strip_leading_space_) {
        if (piece[0] == ' ') piece.erase(0, 1);
        strip_leading_space_ = false;
    }
    pending_.append(piece);
    std::string out;
    size_t pos = 0;
    while (pos < pending_.size()) {
        uint32_t cp = 0;
        int n = decode_utf8(pending_, pos, &cp);
        if (n > 1 || cp != 0xFFFD) {
            out.append(pending_, pos, n);
            pos += n;
            continue;
        }
        // Invalid here: either the start of a character whose remaining bytes have not arrived
        // yet (wait for them), or a byte that can never be valid (replace it).
        if (is_utf8_proper_prefix(std::string_view(pending_).substr(pos))) break;
        out.append("\xEF\xBF\xBD");
        pos += 1;
    }
    pending_.erase(0, pos);
    return out;
}

std::string StreamDecoder::flush() {
    std::string out = pending_.empty() ? std::string() : std::string("\xEF\xBF\xBD");
    pending_.clear();
    return out;
}

}  // namespace ward::engine
