#include "engine/grammar.h"

#include <algorithm>
#include <deque>
#include <map>
#include <utility>

namespace ward::engine {

namespace {

// String phases.
constexpr int32_t kStrOpen = 0, kStrBody = 1, kStrEscape = 2, kStrHex = 3;
// Number phases; kNumZero, kNumInt, kNumFrac and kNumExp are accepting.
constexpr int32_t kNumStart = 0, kNumMinus = 1, kNumZero = 2, kNumInt = 3, kNumDot = 4,
                  kNumFrac = 5, kNumE = 6, kNumExpSign = 7, kNumExp = 8;
constexpr int32_t kMaxIntDigits = 15, kMaxFracDigits = 15, kMaxExpDigits = 2;
// Object phases.
constexpr int32_t kObjOpen = 0, kObjFirst = 1, kObjNeedKey = 2, kObjAfterKey = 3, kObjValue = 4,
                  kObjAfterValue = 5;
// Array phases.
constexpr int32_t kArrOpen = 0, kArrFirst = 1, kArrAfterItem = 2, kArrNeedItem = 3;
// Re-steps (a finished child handing the byte to its parent, alternatives) per byte.
constexpr int kMaxRecursion = 2 * static_cast<int>(kGrammarMaxDepth) + 16;

enum class NumStep { kTake, kReject, kEndsBefore };

bool is_digit(uint8_t b) {
    return b >= '0' && b <= '9';
}

bool is_hex(uint8_t b) {
    return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

bool number_accepting(int32_t phase) {
    return phase == kNumZero || phase == kNumInt || phase == kNumFrac || phase == kNumExp;
}

NumStep step_number(GrammarFrame& f, bool integer, uint8_t b) {
    const bool digit = is_digit(b);
    switch (f.phase) {
        case kNumStart:
            if (b == '-') {
                f.phase = kNumMinus;
                return NumStep::kTake;
            }
            [[fallthrough]];
        case kNumMinus:
            if (!digit) return NumStep::kReject;
            f.phase = b == '0' ? kNumZero : kNumInt;
            f.count = 1;
            return NumStep::kTake;
        case kNumInt:
            if (digit) {
                if (f.count >= kMaxIntDigits) return NumStep::kReject;
                ++f.count;
                return NumStep::kTake;
            }
            [[fallthrough]];
        case kNumZero:
            if (!integer && b == '.') {
                f.phase = kNumDot;
                return NumStep::kTake;
            }
            if (!integer && (b == 'e' || b == 'E')) {
                f.phase = kNumE;
                return NumStep::kTake;
            }
            return NumStep::kEndsBefore;
        case kNumDot:
            if (!digit) return NumStep::kReject;
            f.phase = kNumFrac;
            f.count = 1;
            return NumStep::kTake;
        case kNumFrac:
            if (digit) {
                if (f.count >= kMaxFracDigits) return NumStep::kReject;
                ++f.count;
                return NumStep::kTake;
            }
            if (b == 'e' || b == 'E') {
                f.phase = kNumE;
                return NumStep::kTake;
            }
            return NumStep::kEndsBefore;
        case kNumE:
            if (b == '+' || b == '-') {
                f.phase = kNumExpSign;
                return NumStep::kTake;
            }
            [[fallthrough]];
        case kNumExpSign:
            if (!digit) return NumStep::kReject;
            f.phase = kNumExp;
            f.count = 1;
            return NumStep::kTake;
        case kNumExp:
            if (digit) {
                if (f.count >= kMaxExpDigits) return NumStep::kReject;
                ++f.count;
                return NumStep::kTake;
            }
            return NumStep::kEndsBefore;
        default:
            return NumStep::kReject;
    }
}

// Steps a string frame; false when the byte is refused. Sets *closed when the closing quote
// ends the string.
bool step_string(GrammarFrame& f, const GrammarNode& n, uint8_t b, bool* closed) {
    switch (f.phase) {
        case kStrOpen:
            if (b != '"') return false;
            f.phase = kStrBody;
            return true;
        case kStrBody:
            if (f.utf8_left > 0) {
                if (b < f.utf8_lo || b > f.utf8_hi) return false;
                --f.utf8_left;
                f.utf8_lo = 0x80;
                f.utf8_hi = 0xBF;
                return true;
            }
            if (b == '"') {
                if (f.count < n.min) return false;
                *closed = true;
                return true;
            }
            if (n.max >= 0 && f.count >= n.max) return false;
            if (b == '\\') {
                f.phase = kStrEscape;
                return true;
            }
            if (b < 0x20) return false;  // control characters must be escaped
            if (b < 0x80) {
                ++f.count;
                return true;
            }
            // A UTF-8 lead byte and the range of its first continuation byte (no overlong
            // forms, no surrogates, nothing above U+10FFFF).
            if (b >= 0xC2 && b <= 0xDF) {
                f.utf8_left = 1;
            } else if (b == 0xE0) {
                f.utf8_left = 2;
                f.utf8_lo = 0xA0;
            } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
                f.utf8_left = 2;
            } else if (b == 0xED) {
                f.utf8_left = 2;
                f.utf8_hi = 0x9F;
            } else if (b == 0xF0) {
                f.utf8_left = 3;
                f.utf8_lo = 0x90;
            } else if (b >= 0xF1 && b <= 0xF3) {
                f.utf8_left = 3;
            } else if (b == 0xF4) {
                f.utf8_left = 3;
                f.utf8_hi = 0x8F;
            } else {
                return false;
            }
            ++f.count;
            return true;
        case kStrEscape:
            if (b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' ||
                b == 't') {
                f.phase = kStrBody;
                ++f.count;
                return true;
            }
            if (b != 'u') return false;
            f.phase = kStrHex;
            f.index = 0;
            return true;
        case kStrHex:
            // \u0XXX only: never a surrogate half, which a JSON parser may refuse alone.
            if (f.index == 0 ? b != '0' : !is_hex(b)) return false;
            if (++f.index == 4) {
                f.phase = kStrBody;
                ++f.count;
            }
            return true;
        default:
            return false;
    }
}

bool push(GrammarStack& s, int32_t node) {
    if (s.size() >= kGrammarMaxDepth) return false;
    GrammarFrame f;
    f.node = node;
    s.push_back(f);
    return true;
}

// An object may close once no required property is left from `from` on.
bool can_close(const GrammarNode& n, int32_t from) {
    if (n.free_keys) return true;
    for (size_t j = static_cast<size_t>(from); j < n.properties.size(); ++j) {
        if (n.properties[j].required) return false;
    }
    return true;
}

}  // namespace

GrammarState::GrammarState(const Grammar* grammar) : grammar_(grammar) {
    if (grammar_ != nullptr && grammar_->root >= 0 &&
        static_cast<size_t>(grammar_->root) < grammar_->nodes.size()) {
        GrammarStack s;
        push(s, grammar_->root);
        stacks_.push_back(std::move(s));
        live_ = 1;
    }
}

void GrammarState::add(GrammarState* out, const GrammarStack& s) const {
    if (out->live_ >= kGrammarMaxStacks) return;
    for (size_t i = 0; i < out->live_; ++i) {
        if (out->stacks_[i] == s) return;
    }
    if (out->live_ < out->stacks_.size()) {
        out->stacks_[out->live_] = s;  // reuses the buffer
    } else {
        out->stacks_.push_back(s);
    }
    ++out->live_;
}

void GrammarState::step_stack(GrammarStack& s, uint8_t b, GrammarState* out, int depth) const {
    // Complete (nothing may follow), too deep, or out of budget for this byte.
    if (s.empty() || depth > kMaxRecursion || --budget_ < 0) return;
    GrammarFrame& f = s.back();
    const GrammarNode& n = grammar_->nodes[static_cast<size_t>(f.node)];
    switch (n.kind) {
        case GrammarNodeKind::kLiteral: {
            const size_t at = static_cast<size_t>(f.index);
            if (at >= n.literal.size() || static_cast<uint8_t>(n.literal[at]) != b) return;
            if (++f.index == static_cast<int32_t>(n.literal.size())) s.pop_back();
            add(out, s);
            return;
        }
        case GrammarNodeKind::kAnyOf: {
            for (int32_t alt : n.alternatives) {
                GrammarStack c = s;
                c.back() = GrammarFrame{};
                c.back().node = alt;
                step_stack(c, b, out, depth + 1);
            }
            return;
        }
        case GrammarNodeKind::kString: {
            bool closed = false;
            if (!step_string(f, n, b, &closed)) return;
            if (closed) s.pop_back();
            add(out, s);
            return;
        }
        case GrammarNodeKind::kInteger:
        case GrammarNodeKind::kNumber: {
            switch (step_number(f, n.kind == GrammarNodeKind::kInteger, b)) {
                case NumStep::kTake:
                    add(out, s);
                    return;
                case NumStep::kReject:
                    return;
                case NumStep::kEndsBefore:
                    s.pop_back();
                    step_stack(s, b, out, depth + 1);
                    return;
            }
            return;
        }
        case GrammarNodeKind::kObject: {
            switch (f.phase) {
                case kObjOpen:
                    if (b != '{') return;
                    f.phase = kObjFirst;
                    add(out, s);
                    return;
                case kObjFirst:
                case kObjNeedKey: {
                    if (b == '}' && f.phase == kObjFirst && can_close(n, f.index)) {
                        s.pop_back();
                        add(out, s);
                        return;
                    }
                    if (n.free_keys) {
                        f.phase = kObjAfterKey;
                        if (!push(s, n.key)) return;
                        step_stack(s, b, out, depth + 1);
                        return;
                    }
                    // Any property from the next one up to the first required one.
                    for (size_t j = static_cast<size_t>(f.index); j < n.properties.size(); ++j) {
                        GrammarStack c = s;
                        c.back().phase = kObjAfterKey;
                        c.back().count = static_cast<int32_t>(j);
                        if (!push(c, n.properties[j].key)) return;
                        step_stack(c, b, out, depth + 1);
                        if (n.properties[j].required) break;
                    }
                    return;
                }
                case kObjAfterKey:
                    if (b != ':') return;
                    f.phase = kObjValue;
                    add(out, s);
                    return;
                case kObjValue: {
                    f.phase = kObjAfterValue;
                    int32_t value = n.item;
                    if (!n.free_keys) {
                        value = n.properties[static_cast<size_t>(f.count)].value;
                        f.index = f.count + 1;
                    }
                    if (!push(s, value)) return;
                    step_stack(s, b, out, depth + 1);
                    return;
                }
                case kObjAfterValue:
                    if (b == ',' &&
                        (n.free_keys || static_cast<size_t>(f.index) < n.properties.size())) {
                        f.phase = kObjNeedKey;
                        add(out, s);
                    } else if (b == '}' && can_close(n, f.index)) {
                        s.pop_back();
                        add(out, s);
                    }
                    return;
                default:
                    return;
            }
        }
        case GrammarNodeKind::kArray: {
            switch (f.phase) {
                case kArrOpen:
                    if (b != '[') return;
                    f.phase = kArrFirst;
                    add(out, s);
                    return;
                case kArrFirst:
                    if (b == ']' && n.min == 0) {
                        s.pop_back();
                        add(out, s);
                        return;
                    }
                    if (n.max == 0) return;
                    f.phase = kArrAfterItem;
                    f.count = 1;
                    if (!push(s, n.item)) return;
                    step_stack(s, b, out, depth + 1);
                    return;
                case kArrAfterItem:
                    if (b == ',' && (n.max < 0 || f.count < n.max)) {
                        f.phase = kArrNeedItem;
                        add(out, s);
                    } else if (b == ']' && f.count >= n.min) {
                        s.pop_back();
                        add(out, s);
                    }
                    return;
                case kArrNeedItem:
                    f.phase = kArrAfterItem;
                    ++f.count;
                    if (!push(s, n.item)) return;
                    step_stack(s, b, out, depth + 1);
                    return;
                default:
                    return;
            }
        }
    }
}

bool GrammarState::step_into(uint8_t byte, GrammarState* out) const {
    out->grammar_ = grammar_;
    out->live_ = 0;
    budget_ = kGrammarMaxStepsPerByte;
    for (size_t i = 0; i < live_; ++i) {
        scratch_ = stacks_[i];  // reuses the buffer
        step_stack(scratch_, byte, out, 0);
    }
    return out->live_ > 0;
}

bool GrammarState::step(uint8_t byte) {
    GrammarState next;
    if (!step_into(byte, &next)) return false;
    stacks_.swap(next.stacks_);
    live_ = next.live_;
    return true;
}

bool GrammarState::accepts(std::string_view bytes) const {
    thread_local GrammarState a, b;
    a.grammar_ = grammar_;
    a.live_ = live_;
    if (a.stacks_.size() < live_) a.stacks_.resize(live_);
    for (size_t i = 0; i < live_; ++i) a.stacks_[i] = stacks_[i];
    for (char c : bytes) {
        if (!a.step_into(static_cast<uint8_t>(c), &b)) return false;
        std::swap(a.stacks_, b.stacks_);
        std::swap(a.live_, b.live_);
    }
    return true;
}

bool GrammarState::accepting() const {
    for (size_t i = 0; i < live_; ++i) {
        const GrammarStack& s = stacks_[i];
        if (s.empty()) return true;
        if (s.size() == 1) {
            const GrammarNode& n = grammar_->nodes[static_cast<size_t>(s[0].node)];
            if ((n.kind == GrammarNodeKind::kInteger || n.kind == GrammarNodeKind::kNumber) &&
                number_accepting(s[0].phase)) {
                return true;
            }
        }
    }
    return false;
}

bool GrammarState::finished() const {
    if (live_ == 0) return false;
    return std::all_of(stacks_.begin(), stacks_.begin() + static_cast<ptrdiff_t>(live_),
                       [](const GrammarStack& s) { return s.empty(); });
}

std::shared_ptr<const TokenTrie> TokenTrie::build(const Tokenizer& tokenizer) {
    auto trie = std::make_shared<TokenTrie>();
    const int32_t n_vocab = tokenizer.n_vocab();
    trie->bytes_.resize(static_cast<size_t>(n_vocab));
    // A pointer trie first, then flattened breadth first so that children are contiguous.
    struct Tmp {
        std::map<uint8_t, uint32_t> kids;
        std::vector<int32_t> tokens;
    };
    std::deque<Tmp> tmp(1);
    for (int32_t id = 0; id < n_vocab; ++id) {
        if (tokenizer.is_eog(id)) {
            trie->eog_.push_back(id);
            continue;
        }
        const TokenType type = tokenizer.token_type(id);
        if (type == TokenType::kControl || type == TokenType::kUnknown ||
            type == TokenType::kUnused) {
            continue;
        }
        std::string bytes = tokenizer.token_to_piece(id, false);
        if (bytes.empty()) continue;
        uint32_t at = 0;
        for (char c : bytes) {
            const uint8_t b = static_cast<uint8_t>(c);
            auto it = tmp[at].kids.find(b);
            if (it == tmp[at].kids.end()) {
                tmp.emplace_back();
                it = tmp[at].kids.emplace(b, static_cast<uint32_t>(tmp.size() - 1)).first;
            }
            at = it->second;
        }
        tmp[at].tokens.push_back(id);
        trie->max_len_ = std::max(trie->max_len_, bytes.size());
        trie->bytes_[static_cast<size_t>(id)] = std::move(bytes);
    }
    if (tokenizer.eot() >= 0 && tokenizer.is_eog(tokenizer.eot())) {
        trie->end_token_ = tokenizer.eot();
    } else if (tokenizer.eos() >= 0 && tokenizer.is_eog(tokenizer.eos())) {
        trie->end_token_ = tokenizer.eos();
    } else if (!trie->eog_.empty()) {
        trie->end_token_ = trie->eog_.front();
    }

    std::vector<std::pair<uint32_t, uint8_t>> order;  // (tmp index, byte), breadth first
    order.emplace_back(0, 0);
    trie->nodes_.resize(1);
    for (size_t i = 0; i < order.size(); ++i) {
        const Tmp& t = tmp[order[i].first];
        Node& node = trie->nodes_[i];
        node.byte = order[i].second;
        node.first_token = static_cast<uint32_t>(trie->tokens_.size());
        node.n_tokens = static_cast<uint32_t>(t.tokens.size());
        trie->tokens_.insert(trie->tokens_.end(), t.tokens.begin(), t.tokens.end());
        node.first_child = static_cast<uint32_t>(order.size());
        node.n_children = static_cast<uint16_t>(t.kids.size());
        for (const auto& [b, k] : t.kids) order.emplace_back(k, b);
        trie->nodes_.resize(order.size());
    }
    return trie;
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const Grammar> grammar,
                               std::shared_ptr<const TokenTrie> trie)
    : grammar_(std::move(grammar)), trie_(std::move(trie)), state_(grammar_.get()) {}

bool GrammarMatcher::allows(int32_t token) const {
    if (token < 0 || token >= trie_->n_vocab()) return false;
    const auto& eog = trie_->eog_tokens();
    if (std::find(eog.begin(), eog.end(), token) != eog.end()) return state_.accepting();
    const std::string& bytes = trie_->bytes()[static_cast<size_t>(token)];
    return !bytes.empty() && state_.accepts(bytes);
}

void GrammarMatcher::walk(uint32_t node, size_t depth, const GrammarState& state,
                          std::vector<uint8_t>* allowed, size_t* n) {
    const auto& nodes = trie_->nodes();
    const auto& tokens = trie_->tokens();
    const TokenTrie::Node& here = nodes[node];
    GrammarState& next = levels_[depth];
    for (uint32_t c = here.first_child; c < here.first_child + here.n_children; ++c) {
        if (!state.step_into(nodes[c].byte, &next)) continue;
        for (uint32_t t = 0; t < nodes[c].n_tokens; ++t) {
            (*allowed)[static_cast<size_t>(tokens[nodes[c].first_token + t])] = 1;
            ++*n;
        }
        if (nodes[c].n_children > 0) walk(c, depth + 1, next, allowed, n);
    }
}

size_t GrammarMatcher::mask(std::vector<uint8_t>* allowed, size_t n_logits) {
    allowed->assign(std::max(n_logits, static_cast<size_t>(trie_->n_vocab())), 0);
    size_t n = 0;
    if (levels_.size() < trie_->max_token_bytes() + 1) {
        levels_.resize(trie_->max_token_bytes() + 1);
    }
    walk(0, 0, state_, allowed, &n);
    if (state_.accepting()) {
        for (int32_t id : trie_->eog_tokens()) {
            (*allowed)[static_cast<size_t>(id)] = 1;
            ++n;
        }
    }
    allowed->resize(n_logits);
    return n;
}

Status GrammarMatcher::accept(int32_t token) {
    if (token < 0 || token >= trie_->n_vocab()) {
        return invalid_argument("grammar: token {} is outside the vocabulary of {}", token,
                                trie_->n_vocab());
    }
    const auto& eog = trie_->eog_tokens();
    if (std::find(eog.begin(), eog.end(), token) != eog.end()) {
        if (!state_.accepting()) {
            return invalid_argument(
                "grammar: end of generation (token {}) before the value is "
                "complete",
                token);
        }
        return ok_status();
    }
    const std::string& bytes = trie_->bytes()[static_cast<size_t>(token)];
    if (bytes.empty()) {
        return invalid_argument("grammar: token {} has no text the grammar could accept", token);
    }
    GrammarState next = state_;
    for (char c : bytes) {
        if (!next.step(static_cast<uint8_t>(c))) {
            return invalid_argument("grammar: token {} is not allowed here", token);
        }
    }
    state_ = std::move(next);
    return ok_status();
}

Status GrammarMatcher::accept_bytes(std::string_view bytes) {
    GrammarState next = state_;
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (!next.step(static_cast<uint8_t>(bytes[i]))) {
            return invalid_argument("grammar: byte {} of the text is not allowed here", i);
        }
    }
    state_ = std::move(next);
    return ok_status();
}

Result<Sampled> sample_constrained(Sampler& sampler, GrammarMatcher& matcher,
                                   std::span<const float> logits,
                                   std::span<const int32_t> history) {
    if (matcher.finished()) {
        const int32_t end = matcher.trie().end_token();
        if (end < 0) {
            return failed_precondition(
                "grammar: the value is complete but the vocabulary has no end-of-generation "
                "token");
        }
        Sampled s;
        s.id = end;
        return s;
    }
    Sampled s = sampler.sample(logits, history);
    if (matcher.allows(s.id)) return s;
    thread_local std::vector<uint8_t> allowed;
    if (matcher.mask(&allowed, logits.size()) == 0) {
        return failed_precondition(
            "grammar: no token of the vocabulary can continue the value here");
    }
    return sampler.sample(logits, history, allowed);
}

}  // namespace ward::engine
