#include "interop/json.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace ward::interop::json {

std::string_view type_name(Type type) {
    switch (type) {
        case Type::kNull:
            return "null";
        case Type::kBool:
            return "a boolean";
        case Type::kNumber:
            return "a number";
        case Type::kString:
            return "a string";
        case Type::kArray:
            return "an array";
        case Type::kObject:
            return "an object";
    }
    return "?";
}

namespace {
constexpr uint32_t kNoParent = UINT32_MAX;
}

class Parser {
  public:
    Parser(Document& doc, std::string_view text, const ParseOptions& options)
        : doc_(doc),
          text_(text),
          p_(text.data()),
          end_(text.data() + text.size()),
          options_(options) {}

    void run() {
        doc_.nodes_.reserve(text_.size() / 24 + 16);
        skip_ws();
        if (p_ == end_) {
            fail("the document is empty");
            return;
        }
        if (!value(kNoParent, {}, 0)) return;
        skip_ws();
        if (p_ != end_) fail("unexpected data after the end of the document");
    }

  private:
    using Entry = Document::Entry;

    bool fail(const char* what) {
        if (!failed_) {
            failed_ = true;
            // Close every open container so the partial tree stays walkable.
            for (uint32_t i : open_) doc_.nodes_[i].end = static_cast<uint32_t>(doc_.nodes_.size());
            size_t line = 1, col = 1;
            for (const char* q = text_.data(); q < p_ && q < end_; ++q) {
                if (*q == '\n') {
                    ++line;
                    col = 1;
                } else {
                    ++col;
                }
            }
            std::string where;
            if (!open_.empty()) where = Node(&doc_, open_.back()).path();
            doc_.error_ = Status(StatusCode::kInvalidArgument,
                                 fmt::format("invalid JSON at line {} column {}: {}{}", line, col,
                                             what, where.empty() ? "" : " (in " + where + ")"));
        }
        return false;
    }

    void skip_ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }

    uint32_t add(Type type, uint32_t parent, std::string_view key, std::string_view text) {
        auto index = static_cast<uint32_t>(doc_.nodes_.size());
        doc_.nodes_.push_back(Entry{type, true, parent, index + 1, key, text});
        return index;
    }

    bool value(uint32_t parent, std::string_view key, size_t depth) {
        if (p_ == end_) return fail("unexpected end of input, expected a value");
        switch (*p_) {
            case '{':
                return object(parent, key, depth);
            case '[':
                return array(parent, key, depth);
            case '"': {
                std::string_view s;
                if (!string(s)) return false;
                add(Type::kString, parent, key, s);
                return true;
            }
            case 't':
                return literal("true", Type::kBool, parent, key);
            case 'f':
                return literal("false", Type::kBool, parent, key);
            case 'n':
                return literal("null", Type::kNull, parent, key);
            default:
                if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number(parent, key);
                return fail("expected a value");
        }
    }

    bool literal(std::string_view word, Type type, uint32_t parent, std::string_view key) {
        if (static_cast<size_t>(end_ - p_) < word.size() ||
            std::memcmp(p_, word.data(), word.size()) != 0) {
            return fail("expected a value");
        }
        add(type, parent, key, std::string_view(p_, word.size()));
        p_ += word.size();
        return true;
    }

    static bool digit(char c) { return c >= '0' && c <= '9'; }

    bool number(uint32_t parent, std::string_view key) {
        const char* start = p_;
        if (*p_ == '-') ++p_;
        if (p_ == end_ || !digit(*p_)) return fail("invalid number");
        if (*p_ == '0') {
            ++p_;
        } else {
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        if (p_ < end_ && *p_ == '.') {
            ++p_;
            if (p_ == end_ || !digit(*p_)) return fail("invalid number: no digits after '.'");
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ == end_ || !digit(*p_)) return fail("invalid number: no digits in exponent");
            while (p_ < end_ && digit(*p_)) ++p_;
        }
        add(Type::kNumber, parent, key, std::string_view(start, p_ - start));
        return true;
    }

    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    bool hex4(const char* q, uint32_t& out) {
        if (end_ - q < 4) return false;
        out = 0;
        for (int i = 0; i < 4; ++i) {
            int h = hex(q[i]);
            if (h < 0) return false;
            out = out * 16 + static_cast<uint32_t>(h);
        }
        return true;
    }

    // Reads a string starting at the opening quote. Plain strings are views into the text.
    bool string(std::string_view& out) {
        ++p_;  // opening quote
        const char* start = p_;
        // Fast scan for the common case: no escapes, no control characters.
        while (p_ < end_) {
            unsigned char c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                out = std::string_view(start, p_ - start);
                ++p_;
                return true;
            }
            if (c == '\\') break;
            if (c < 0x20) return fail("control character in string");
            ++p_;
        }
        if (p_ == end_) return fail("unterminated string");
        // Slow path: unescape into the document's buffer.
        if (!doc_.unescaped_) doc_.unescaped_ = std::make_unique<char[]>(text_.size());
        char* dst0 = doc_.unescaped_.get() + doc_.unescaped_used_;
        char* dst = dst0;
        std::memcpy(dst, start, p_ - start);
        dst += p_ - start;
        while (p_ < end_) {
            char c = *p_;
            if (c == '"') {
                ++p_;
                doc_.unescaped_used_ += dst - dst0;
                out = std::string_view(dst0, dst - dst0);
                return true;
            }
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
            if (c != '\\') {
                *dst++ = c;
                ++p_;
                continue;
            }
            if (++p_ == end_) break;
            char e = *p_++;
            switch (e) {
                case '"':
                    *dst++ = '"';
                    break;
                case '\\':
                    *dst++ = '\\';
                    break;
                case '/':
                    *dst++ = '/';
                    break;
                case 'b':
                    *dst++ = '\b';
                    break;
                case 'f':
                    *dst++ = '\f';
                    break;
                case 'n':
                    *dst++ = '\n';
                    break;
                case 'r':
                    *dst++ = '\r';
                    break;
                case 't':
                    *dst++ = '\t';
                    break;
                case 'u': {
                    uint32_t cp;
                    if (!hex4(p_, cp)) return fail("invalid \\u escape");
                    p_ += 4;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t lo;
                        if (end_ - p_ >= 6 && p_[0] == '\\' && p_[1] == 'u' && hex4(p_ + 2, lo) &&
                            lo >= 0xDC00 && lo <= 0xDFFF) {
                            p_ += 6;
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else {
                            cp = 0xFFFD;  // lone surrogate
                        }
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        cp = 0xFFFD;
                    }
                    // UTF-8 is never longer than the escape it replaces (6 or 12 bytes).
                    if (cp < 0x80) {
                        *dst++ = static_cast<char>(cp);
                    } else if (cp < 0x800) {
                        *dst++ = static_cast<char>(0xC0 | (cp >> 6));
                        *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
                    } else if (cp < 0x10000) {
                        *dst++ = static_cast<char>(0xE0 | (cp >> 12));
                        *dst++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                        *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
                    } else {
                        *dst++ = static_cast<char>(0xF0 | (cp >> 18));
                        *dst++ = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
                        *dst++ = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
                        *dst++ = static_cast<char>(0x80 | (cp & 0x3F));
                    }
                    break;
                }
                default:
                    return fail("invalid escape in string");
            }
        }
        return fail("unterminated string");
    }

    bool object(uint32_t parent, std::string_view key, size_t depth) {
        if (depth >= options_.max_depth) return fail("nesting too deep");
        uint32_t self = add(Type::kObject, parent, key, {});
        doc_.nodes_[self].complete = false;
        open_.push_back(self);
        ++p_;
        skip_ws();
        if (p_ < end_ && *p_ == '}') {
            ++p_;
        } else {
            for (;;) {
                skip_ws();
                if (p_ == end_) return fail("unexpected end of input in an object");
                if (*p_ != '"') return fail("expected a member name in quotes");
                std::string_view name;
                if (!string(name)) return false;
                skip_ws();
                if (p_ == end_ || *p_ != ':') return fail("expected ':' after a member name");
                ++p_;
                skip_ws();
                if (!value(self, name, depth + 1)) return false;
                skip_ws();
                if (p_ == end_) return fail("unexpected end of input in an object");
                if (*p_ == ',') {
                    ++p_;
                    continue;
                }
                if (*p_ == '}') {
                    ++p_;
                    break;
                }
                return fail("expected ',' or '}' after an object member");
            }
        }
        open_.pop_back();
        doc_.nodes_[self].complete = true;
        doc_.nodes_[self].end = static_cast<uint32_t>(doc_.nodes_.size());
        return true;
    }

    bool array(uint32_t parent, std::string_view key, size_t depth) {
        if (depth >= options_.max_depth) return fail("nesting too deep");
        uint32_t self = add(Type::kArray, parent, key, {});
        doc_.nodes_[self].complete = false;
        open_.push_back(self);
        ++p_;
        skip_ws();
        if (p_ < end_ && *p_ == ']') {
            ++p_;
        } else {
            for (;;) {
                skip_ws();
                if (!value(self, {}, depth + 1)) return false;
                skip_ws();
                if (p_ == end_) return fail("unexpected end of input in an array");
                if (*p_ == ',') {
                    ++p_;
                    continue;
                }
                if (*p_ == ']') {
                    ++p_;
                    break;
                }
                return fail("expected ',' or ']' after an array element");
            }
        }
        open_.pop_back();
        doc_.nodes_[self].complete = true;
        doc_.nodes_[self].end = static_cast<uint32_t>(doc_.nodes_.size());
        return true;
    }

    Document& doc_;
    std::string_view text_;
    const char* p_;
    const char* end_;
    const ParseOptions& options_;
    std::vector<uint32_t> open_;
    bool failed_ = false;
};

Document Document::parse(std::string_view text, const ParseOptions& options) {
    Document doc;
    Parser(doc, text, options).run();
    return doc;
}

Type Node::type() const {
    return doc_->nodes_[index_].type;
}
bool Node::complete() const {
    return valid() && doc_->nodes_[index_].complete;
}
std::string_view Node::text() const {
    return valid() ? doc_->nodes_[index_].text : std::string_view();
}
std::string_view Node::key() const {
    return valid() ? doc_->nodes_[index_].key : std::string_view();
}

std::optional<double> Node::number() const {
    if (!is_number()) return std::nullopt;
    std::string_view t = text();
    double v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::optional<int64_t> Node::integer() const {
    if (!is_number()) return std::nullopt;
    std::string_view t = text();
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || ptr != t.data() + t.size()) return std::nullopt;
    return v;
}

Node Node::operator[](std::string_view key) const {
    if (!is_object()) return Node();
    const auto& nodes = doc_->nodes_;
    uint32_t end = nodes[index_].end;
    for (uint32_t i = index_ + 1; i < end; i = nodes[i].end) {
        if (nodes[i].key == key) return Node(doc_, i);
    }
    return Node();
}

size_t Node::size() const {
    if (!is_object() && !is_array()) return 0;
    const auto& nodes = doc_->nodes_;
    size_t n = 0;
    for (uint32_t i = index_ + 1; i < nodes[index_].end; i = nodes[i].end) ++n;
    return n;
}

std::vector<Node> Node::children() const {
    std::vector<Node> out;
    if (!is_object() && !is_array()) return out;
    const auto& nodes = doc_->nodes_;
    for (uint32_t i = index_ + 1; i < nodes[index_].end; i = nodes[i].end) {
        out.push_back(Node(doc_, i));
    }
    return out;
}

std::string Node::path() const {
    if (!valid()) return "$";
    const auto& nodes = doc_->nodes_;
    std::vector<std::string> parts;
    uint32_t i = index_;
    while (nodes[i].parent != kNoParent) {
        uint32_t parent = nodes[i].parent;
        if (nodes[parent].type == Type::kArray) {
            size_t pos = 0;
            for (uint32_t j = parent + 1; j != i; j = nodes[j].end) ++pos;
            parts.push_back(fmt::format("[{}]", pos));
        } else {
            parts.push_back("." + std::string(nodes[i].key));
        }
        i = parent;
    }
    std::string out;
    Node root(doc_, 0);
    Node rt = root["resourceType"];
    out = rt.is_string() && !rt.text().empty() ? std::string(rt.text()) : "$";
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += *it;
    return out;
}

}  // namespace ward::interop::json
