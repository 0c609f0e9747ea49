// The HTML reader, on libxml2's HTML parser (error-recovering, no network): <title>, headings
// h1-h6, paragraphs and other block containers, list items (nested lists give levels), table
// rows (cells joined by " | "), <pre> as code; script, style, template, noscript, nav, footer
// and forms' controls are dropped. Character references are decoded by the parser; the
// document's declared charset decides its encoding and UTF-8 is assumed when none is declared
// (UTF-8, declared or assumed, is validated first; NUL bytes are refused unless the charset is
// UTF-16 or UTF-32).
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>

#include "knowledge/ingest_internal.h"

namespace ward::knowledge::detail {
namespace {

// Element nesting beyond this is read as flat text (libxml2 limits depth too; this keeps the
// walker's recursion bounded whatever it allows).
constexpr int kMaxDepth = 200;

bool name_is(const xmlNode* node, const char* name) {
    return node->name && std::strcmp(reinterpret_cast<const char*>(node->name), name) == 0;
}

bool name_in(const xmlNode* node, std::initializer_list<const char*> names) {
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return name_is(node, n); });
}

bool is_dropped(const xmlNode* node) {
    return name_in(node, {"script", "style", "template", "noscript", "nav", "footer", "head",
                          "select", "button", "textarea", "iframe", "object", "svg", "math"});
}

bool is_block(const xmlNode* node) {
    return name_in(node, {"html",   "body",     "p",          "div",        "section", "article",
                          "main",   "header",   "aside",      "blockquote", "dl",      "dt",
                          "dd",     "figure",   "figcaption", "address",    "hr",      "center",
                          "form",   "fieldset", "caption",    "details",    "summary", "br",
                          "legend", "hgroup",   "thead",      "tbody",      "tfoot"});
}

// Appends the text under `node` (iteratively, whatever the depth), dropped elements skipped.
void append_text(const xmlNode* node, std::string& out) {
    const xmlNode* cur = node->children;
    while (cur && cur != node) {
        bool descend = false;
        if (cur->type == XML_TEXT_NODE || cur->type == XML_CDATA_SECTION_NODE) {
            if (cur->content) out += reinterpret_cast<const char*>(cur->content);
        } else if (cur->type == XML_ELEMENT_NODE) {
            if (!is_dropped(cur)) {
                if (is_block(cur) || name_in(cur, {"li", "tr", "td", "th"})) out += ' ';
                descend = cur->children != nullptr;
            }
        }
        if (descend) {
            cur = cur->children;
            continue;
        }
        while (cur && cur != node && !cur->next) cur = cur->parent;
        if (cur && cur != node) cur = cur->next;
    }
}

class HtmlWalker {
  public:
    void walk(const xmlNode* parent, int depth) {
        for (const xmlNode* node = parent->children; node; node = node->next) {
            if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
                if (node->content) text_ += reinterpret_cast<const char*>(node->content);
                continue;
            }
            if (node->type != XML_ELEMENT_NODE) continue;  // comments, processing instructions
            element(node, depth);
        }
    }

    Extracted take() {
        flush();
        out_.blocks = std::move(blocks_);
        return std::move(out_);
    }

    void set_title(const xmlNode* title) {
        if (!out_.title.empty()) return;
        std::string text;
        append_text(title, text);
        out_.title = normalise_inline(text);
    }

  private:
    void element(const xmlNode* node, int depth) {
        if (name_is(node, "title")) {
            set_title(node);
            return;
        }
        if (is_dropped(node)) {
            // <head> holds the title; everything else in it is metadata.
            if (name_is(node, "head")) find_title(node);
            return;
        }
        if (depth >= kMaxDepth) {
            append_text(node, text_);
            return;
        }
        const char* name = reinterpret_cast<const char*>(node->name);
        if (name && name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && name[2] == '\0') {
            flush();
            std::string text;
            append_text(node, text);
            add_block(blocks_, Block::Kind::kHeading, name[1] - '0', text);
            return;
        }
        if (name_is(node, "pre")) {
            flush();
            std::string text;
            append_text(node, text);
            add_block(blocks_, Block::Kind::kCode, 0, text);
            return;
        }
        if (name_in(node, {"ul", "ol", "menu"})) {
            flush();
            ++list_depth_;
            walk(node, depth + 1);
            flush();
            --list_depth_;
            return;
        }
        if (name_is(node, "li")) {
            flush();
            kind_ = Block::Kind::kListItem;
            level_ = std::max(0, list_depth_ - 1);
            walk(node, depth + 1);
            flush();
            return;
        }
        if (name_is(node, "tr")) {
            flush();
            std::string row;
            for (const xmlNode* cell = node->children; cell; cell = cell->next) {
                if (cell->type != XML_ELEMENT_NODE || !name_in(cell, {"td", "th"})) continue;
                std::string text;
                append_text(cell, text);
                if (!row.empty()) row += " | ";
                row += normalise_inline(text);
            }
            if (row.find_first_not_of(" |") != std::string::npos) {
                add_block(blocks_, Block::Kind::kTable, 0, row);
            }
            return;
        }
        if (name_is(node, "br")) {
            text_ += ' ';
            return;
        }
        if (is_block(node) || name_in(node, {"table", "td", "th"})) {
            flush();
            walk(node, depth + 1);
            flush();
            return;
        }
        walk(node, depth + 1);  // inline: a, span, em, strong, code, sup, ...
    }

    void find_title(const xmlNode* head) {
        for (const xmlNode* node = head->children; node; node = node->next) {
            if (node->type == XML_ELEMENT_NODE && name_is(node, "title")) set_title(node);
        }
    }

    // Ends the pending text as a block. An element that holds nothing yet (the <p> inside an
    // <li>) keeps the pending kind.
    void flush() {
        size_t before = blocks_.size();
        add_block(blocks_, kind_, level_, text_);
        text_.clear();
        if (blocks_.size() != before) {
            kind_ = Block::Kind::kParagraph;
            level_ = 0;
        }
    }

    Extracted out_;
    std::vector<Block> blocks_;
    std::string text_;
    Block::Kind kind_ = Block::Kind::kParagraph;
    int level_ = 0;
    int list_depth_ = 0;
};

// The encoding a document declares (<meta charset>, an http-equiv content type, an XML
// declaration, a UTF-16 byte order mark).
enum class Charset {
    kNone,   // nothing declared: the bytes must be UTF-8
    kUtf8,   // declared UTF-8: the bytes must be UTF-8
    kWide,   // UTF-16 or UTF-32: NUL bytes are part of the encoding
    kOther,  // a single- or multi-byte charset libxml2 converts (ISO-8859-1, windows-1252, ...)
};

Charset declared_charset(std::string_view bytes) {
    if (bytes.substr(0, 2) == "\xFF\xFE" || bytes.substr(0, 2) == "\xFE\xFF") return Charset::kWide;
    std::string head(bytes.substr(0, 4096));
    std::transform(head.begin(), head.end(), head.begin(), [](char c) {
        return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    });
    size_t at = head.find("charset");
    size_t skip = 7;
    if (at == std::string::npos && head.rfind("<?xml", 0) == 0) {
        at = head.find("encoding");
        skip = 8;
    }
    if (at == std::string::npos) return Charset::kNone;
    size_t i = at + skip;
    while (i < head.size() &&
           (head[i] == ' ' || head[i] == '=' || head[i] == '"' || head[i] == '\'')) {
        ++i;
    }
    size_t end = i;
    while (end < head.size() &&
           ((head[end] >= 'a' && head[end] <= 'z') || (head[end] >= '0' && head[end] <= '9') ||
            head[end] == '-' || head[end] == '_')) {
        ++end;
    }
    std::string_view name = std::string_view(head).substr(i, end - i);
    if (name == "utf-8" || name == "utf8") return Charset::kUtf8;
    if (name.starts_with("utf-16") || name.starts_with("utf-32") || name.starts_with("ucs")) {
        return Charset::kWide;
    }
    return name.empty() ? Charset::kNone : Charset::kOther;
}

struct DocFree {
    void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};
struct ContextFree {
    void operator()(htmlParserCtxt* context) const { htmlFreeParserCtxt(context); }
};

}  // namespace

Result<Extracted> read_html(std::string_view bytes, std::string_view where) {
    Charset charset = declared_charset(bytes);
    if (charset == Charset::kNone || charset == Charset::kUtf8) {
        WARD_TRY(check_text(bytes, where));
    } else if (charset == Charset::kOther) {
        if (const void* nul = std::memchr(bytes.data(), 0, bytes.size())) {
            return invalid_argument("{}: NUL byte at byte {}", where,
                                    static_cast<const char*>(nul) - bytes.data());
        }
    }
    if (bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
        return invalid_argument("{}: too large for the HTML parser", where);
    }
    int options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                  HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED;
    std::unique_ptr<htmlParserCtxt, ContextFree> context(htmlNewParserCtxt());
    if (!context) return internal_error("{}: the HTML parser could not start", where);
    std::unique_ptr<xmlDoc, DocFree> doc(
        htmlCtxtReadMemory(context.get(), bytes.data(), static_cast<int>(bytes.size()), nullptr,
                           charset == Charset::kNone ? "UTF-8" : nullptr, options));
    if (!doc) return invalid_argument("{}: not readable as HTML", where);
    // Recovery reads past any broken markup; the parser only stops for good (and drops the
    // rest of the document) at its resource limits, element nesting deeper than 256 above all.
    if (context->disableSAX) {
        int line = context->input ? context->input->line : 0;
        if (context->errNo == XML_ERR_INTERNAL_ERROR) {
            return invalid_argument("{}: line {}: elements nested more than 256 deep", where, line);
        }
        std::string message = context->lastError.message ? context->lastError.message : "";
        while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
            message.pop_back();
        }
        return invalid_argument("{}: line {}: the HTML parser stopped: {}", where, line, message);
    }
    HtmlWalker walker;
    // xmlDoc begins with the same members as xmlNode (libxml2 documents this), so the document
    // is walked as the parent of the top-level nodes.
    walker.walk(reinterpret_cast<const xmlNode*>(doc.get()), 0);
    Extracted out = walker.take();
    // The parser's output is UTF-8 whatever the input encoding; make sure of it.
    for (const Block& b : out.blocks) {
        if (find_invalid_utf8(b.text) != std::string_view::npos) {
            return invalid_argument("{}: the decoded text is not valid UTF-8", where);
        }
    }
    if (out.title.empty()) out.title = first_heading(out.blocks);
    return out;
}

}  // namespace ward::knowledge::detail
