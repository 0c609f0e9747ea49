// The knowledge base's units: a Document as ingested (its metadata, its full text, and the
// chunks that text was split into) and one Block of a document's own structure, which the
// chunker turns into Chunks. Shared by ingestion (ingest.h, chunker.h) and the store (store.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ward::knowledge {

// One structural block of a document, in reading order.
struct Block {
    enum class Kind { kHeading, kParagraph, kListItem, kTable, kCode };
    Kind kind = Kind::kParagraph;
    int level = 0;     // headings: 1..6; list items: nesting depth from 0; else 0
    std::string text;  // UTF-8, whitespace collapsed (code keeps its lines)
};

// One retrievable passage.
struct Chunk {
    int ordinal = 0;      // 0-based position in its document
    std::string heading;  // the heading path above it, "Title > Section > Subsection"; may be empty
    std::string text;     // what is indexed and shown (without the heading path)
    int tokens = 0;       // estimated tokens of `text` (ChunkOptions::count_tokens)
};

struct Document {
    std::string doc_id;          // stable id: the record's id field (JSON/JSONL/CSV) or the path
    std::string source;          // collection name ("pubmedqa", "hospital-guidelines")
    std::string title;           // from the document (first heading, <title>, PDF title) or mapped
    std::string location;        // URL or path it came from
    std::string licence;         // SPDX id or free text; empty when unknown
    std::string published;       // ISO 8601 date (YYYY or YYYY-MM or YYYY-MM-DD) or empty
    std::string format;          // "markdown", "text", "html", "json", "jsonl", "csv", "pdf"
    std::string content;         // the whole extracted text, UTF-8 (what content_sha256 hashes)
    std::string content_sha256;  // hex SHA-256 of `content`
    std::vector<Chunk> chunks;
};

}  // namespace ward::knowledge
