// Chunking: turns a document's structural blocks (headings, paragraphs, list items, table rows,
// code) into retrievable passages that follow that structure. Headings open sections and form
// each chunk's heading path ("Title > Section > Subsection"); body blocks are never merged
// across a heading; consecutive small blocks of one section are packed together up to a token
// cap; a block larger than the cap is split at sentence boundaries (at whitespace when one
// sentence is too long, between UTF-8 characters when one word is) with some overlap between
// its pieces. The output depends only on the input blocks and the options.
//
// Thread safety: pure functions. A ChunkOptions::count_tokens callback is called from the
// calling thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "knowledge/document.h"

namespace ward::knowledge {

struct ChunkOptions {
    int max_tokens = 256;     // a chunk's cap; values below 1 count as 1
    int overlap_tokens = 32;  // carried from the end of the previous piece when a block is split;
                              // at most max_tokens / 2 is used, so every piece makes progress
    // Counts the tokens of a piece of text; empty: estimate_tokens. Packing adds the counts of
    // a chunk's blocks and splitting adds the counts of words, so a counter that is not
    // additive over whitespace-separated pieces may see a chunk a few tokens over the cap.
    std::function<size_t(std::string_view)> count_tokens;
};

// An estimate of how many tokens a BPE tokenizer of an English-centred vocabulary (Llama,
// Mistral, Qwen, BERT WordPiece) makes of `text`, erring high for clinical text: every run of
// ASCII letters and digits counts one token per 4 characters (rounded up), every other ASCII
// character except whitespace counts one (punctuation, symbols), every non-ASCII character
// counts one (accented letters, CJK, symbols), whitespace counts nothing. Never 0 for non-empty
// text (whitespace only counts 1). Additive over text joined by whitespace. Linear time.
size_t estimate_tokens(std::string_view text);

// Chunks `blocks` (one document, in reading order; see Block). Rendering of a chunk's text:
// its blocks joined by "\n"; list items prefixed with "- " (indented two spaces per nesting
// level); table rows and code as they are. Heading blocks appear only in the heading path of
// the chunks below them; a document with no body block at all is chunked from its headings
// instead, as paragraphs, so that no text is lost. Blocks with empty text are skipped.
// Returns the chunks with ordinals 0, 1, 2, ... and `tokens` counted by the options' counter;
// an empty vector when there is no text.
std::vector<Chunk> chunk_blocks(std::span<const Block> blocks, const ChunkOptions& options);

}  // namespace ward::knowledge
