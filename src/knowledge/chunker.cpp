#include "knowledge/chunker.h"

#include <algorithm>
#include <string>
#include <utility>

namespace ward::knowledge {
namespace {

bool is_ascii_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_continuation(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

class Counter {
  public:
    explicit Counter(const ChunkOptions& options) : options_(options) {}
    size_t operator()(std::string_view text) const {
        return options_.count_tokens ? options_.count_tokens(text) : estimate_tokens(text);
    }
    bool additive() const { return !options_.count_tokens; }

  private:
    const ChunkOptions& options_;
};

// A whitespace-separated word of a block being split (or a piece of a word longer than the
// budget), as a byte range of the block's text.
struct Word {
    size_t begin = 0;
    size_t end = 0;
    size_t tokens = 0;
    bool sentence_end = false;  // a piece may end after this word
};

// Appends [begin, end) of `text` as one word, or as several pieces cut between UTF-8
// characters when the word alone is over `budget`.
void push_word(std::string_view text, size_t begin, size_t end, size_t budget, const Counter& count,
               std::vector<Word>& words) {
    size_t tokens = count(text.substr(begin, end - begin));
    if (tokens <= budget) {
        words.push_back({begin, end, tokens, false});
        return;
    }
    // Binary search for the longest prefix within the budget, over character boundaries of a
    // window wide enough for any tokenizer (no token is 16 bytes per token of budget wide).
    std::vector<size_t> boundaries;
    size_t pos = begin;
    while (pos < end) {
        size_t window_end = std::min(end, pos + budget * 16 + 4);
        boundaries.clear();
        for (size_t i = pos + 1; i <= window_end; ++i) {
            if (i == end || !is_continuation(static_cast<unsigned char>(text[i]))) {
                boundaries.push_back(i);
            }
        }
        if (boundaries.empty()) boundaries.push_back(end);  // unreachable for valid UTF-8
        size_t lo = 0;  // boundaries[lo] is always taken: one character at least
        size_t hi = boundaries.size() - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo + 1) / 2;
            if (count(text.substr(pos, boundaries[mid] - pos)) <= budget) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        size_t cut = boundaries[lo];
        words.push_back({pos, cut, count(text.substr(pos, cut - pos)), false});
        pos = cut;
    }
}

bool starts_sentence(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 || c == '(' || c == '[' ||
           c == '"' || c == '\'';
}

// Words of `text` with their token counts. Prose: a word ending in . ! or ? (before closing
// brackets and quotes) followed by a word that can start a sentence ends one. Code: every line
// ends one.
std::vector<Word> split_words(std::string_view text, bool code, size_t budget,
                              const Counter& count) {
    std::vector<Word> words;
    size_t i = 0;
    size_t n = text.size();
    while (i < n) {
        while (i < n && is_space(static_cast<unsigned char>(text[i]))) ++i;
        if (i == n) break;
        size_t begin = i;
        while (i < n && !is_space(static_cast<unsigned char>(text[i]))) ++i;
        push_word(text, begin, i, budget, count, words);
        // Whether a piece may end after this word.
        size_t next = i;
        bool newline = false;
        while (next < n && is_space(static_cast<unsigned char>(text[next]))) {
            newline = newline || text[next] == '\n';
            ++next;
        }
        bool ends = false;
        if (next == n) {
            ends = true;
        } else if (code) {
            ends = newline;
        } else {
            size_t last = i;
            while (last > begin && (text[last - 1] == ')' || text[last - 1] == ']' ||
                                    text[last - 1] == '"' || text[last - 1] == '\'')) {
                --last;
            }
            ends = last > begin &&
                   (text[last - 1] == '.' || text[last - 1] == '!' || text[last - 1] == '?') &&
                   starts_sentence(static_cast<unsigned char>(text[next]));
        }
        words.back().sentence_end = ends;
    }
    return words;
}

// Pieces of a block over the cap: each piece's own words fit `max_tokens - overlap` and end
// at the last sentence end that fits (or at the last word that fits when no sentence end
// does); each piece after the first starts with up to `overlap` tokens of whole words from
// the end of the piece before it.
std::vector<std::string> split_block(std::string_view text, bool code, size_t max_tokens,
                                     size_t overlap, const Counter& count) {
    size_t budget = std::max<size_t>(1, max_tokens - overlap);
    std::vector<Word> words = split_words(text, code, budget, count);
    std::vector<std::string> pieces;
    size_t n = words.size();
    size_t i = 0;
    size_t previous_start = 0;
    while (i < n) {
        size_t j = i;
        size_t tokens = 0;
        size_t last_sentence_end = i;
        while (j < n && tokens + words[j].tokens <= budget) {
            tokens += words[j].tokens;
            ++j;
            if (words[j - 1].sentence_end) last_sentence_end = j;
        }
        if (j == i) j = i + 1;  // one character over the budget (a custom counter): take it
        size_t end = (j == n || last_sentence_end == i) ? j : last_sentence_end;
        size_t start = i;
        if (!pieces.empty()) {
            size_t carried = 0;
            while (start > previous_start && carried + words[start - 1].tokens <= overlap) {
                carried += words[start - 1].tokens;
                --start;
            }
        }
        pieces.emplace_back(
            text.substr(words[start].begin, words[end - 1].end - words[start].begin));
        previous_start = i;
        i = end;
    }
    return pieces;
}

bool has_text(const std::string& text) {
    return std::any_of(text.begin(), text.end(),
                       [](char c) { return !is_space(static_cast<unsigned char>(c)); });
}

std::string render(const Block& block, bool heading_as_paragraph) {
    if (block.kind == Block::Kind::kListItem && !heading_as_paragraph) {
        std::string out(static_cast<size_t>(std::clamp(block.level, 0, 16)) * 2, ' ');
        out += "- ";
        out += block.text;
        return out;
    }
    return block.text;
}

}  // namespace

size_t estimate_tokens(std::string_view text) {
    size_t tokens = 0;
    size_t run = 0;
    for (char ch : text) {
        auto c = static_cast<unsigned char>(ch);
        if (is_ascii_alnum(c)) {
            ++run;
            continue;
        }
        if (run) {
            tokens += (run + 3) / 4;
            run = 0;
        }
        if (c < 0x80) {
            if (!is_space(c)) ++tokens;
        } else if (!is_continuation(c)) {
            ++tokens;
        }
    }
    tokens += (run + 3) / 4;
    if (tokens == 0 && !text.empty()) tokens = 1;
    return tokens;
}

std::vector<Chunk> chunk_blocks(std::span<const Block> blocks, const ChunkOptions& options) {
    Counter count(options);
    size_t max_tokens = static_cast<size_t>(std::max(1, options.max_tokens));
    size_t overlap = static_cast<size_t>(std::clamp(options.overlap_tokens, 0, 1 << 30));
    overlap = std::min(overlap, max_tokens / 2);
    bool has_body = std::any_of(blocks.begin(), blocks.end(), [](const Block& b) {
        return b.kind != Block::Kind::kHeading && has_text(b.text);
    });

    std::vector<Chunk> chunks;
    std::vector<std::pair<int, std::string>> path;  // (level, text) of the open headings
    std::string heading;
    std::string current;
    size_t current_tokens = 0;

    auto emit = [&](std::string text, size_t tokens) {
        Chunk chunk;
        chunk.ordinal = static_cast<int>(chunks.size());
        chunk.heading = heading;
        chunk.tokens = static_cast<int>(std::min<size_t>(tokens, 1u << 30));
        chunk.text = std::move(text);
        chunks.push_back(std::move(chunk));
    };
    auto flush = [&] {
        if (current.empty()) return;
        size_t tokens = count.additive() ? current_tokens : count(current);
        emit(std::move(current), tokens);
        current.clear();
        current_tokens = 0;
    };

    for (const Block& block : blocks) {
        if (!has_text(block.text)) continue;
        if (block.kind == Block::Kind::kHeading && has_body) {
            flush();
            int level = std::clamp(block.level, 1, 6);
            while (!path.empty() && path.back().first >= level) path.pop_back();
            path.emplace_back(level, block.text);
            heading.clear();
            for (const auto& [unused, text] : path) {
                if (!heading.empty()) heading += " > ";
                heading += text;
            }
            continue;
        }
        std::string text = render(block, !has_body);
        size_t tokens = count(text);
        if (tokens > max_tokens) {
            flush();
            for (std::string& piece :
                 split_block(text, block.kind == Block::Kind::kCode, max_tokens, overlap, count)) {
                size_t piece_tokens = count(piece);
                emit(std::move(piece), piece_tokens);
            }
            continue;
        }
        if (!current.empty() && current_tokens + tokens > max_tokens) flush();
        if (!current.empty()) current += '\n';
        current += text;
        current_tokens += tokens;
    }
    flush();
    return chunks;
}

}  // namespace ward::knowledge
