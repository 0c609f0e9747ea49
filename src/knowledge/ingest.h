// Ingestion: reading knowledge documents from files (Markdown, plain text, HTML, JSON, JSONL,
// CSV, PDF) into Documents with their metadata, normalised text and chunks, ready for
// Store::add. Formats are chosen by extension, then by the first bytes. Text is validated
// (UTF-8, no NUL bytes), normalised to Unicode NFC with whitespace collapsed (code keeps its
// lines), and split on the document's own structure (chunker.h). What each format reads is
// described in docs/knowledge.md, "Ingestion".
//
// Errors name the file and the place in it: `guidelines/htn.md: invalid UTF-8 at byte 812`,
// `pubmedqa.jsonl: line 17: record has no "id" field`. A file either yields all its documents
// or an error; a bad record fails the whole file.
//
// Thread safety: pure functions (the PDF reader silences poppler's global error printer once,
// thread-safely).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "knowledge/chunker.h"
#include "knowledge/document.h"

namespace ward::knowledge {

// How records of a JSON, JSONL or CSV file become documents. Each entry names a field (a
// JSON member or a CSV column); a JSON name that is not a member is looked up as a dotted path
// ("meta.title") through nested objects. "@key" names the key of a top-level JSON object whose
// values are the records ({"id1": {...}, "id2": {...}}).
struct FieldMapping {
    std::string id;                 // required: a string or an integer; unique in the file
    std::vector<std::string> text;  // required: fields joined as paragraphs in this order; an
                                    // array value gives one paragraph per element
    std::string title, location, published, licence, source;  // optional ("" = not mapped)
};

struct IngestOptions {
    std::string source;                   // default source of every document (else the stem)
    std::string licence;                  // default licence
    std::optional<std::string> format;    // force: markdown|text|html|json|jsonl|csv|pdf
    std::optional<FieldMapping> mapping;  // required for json/jsonl/csv
    ChunkOptions chunking;
    size_t max_bytes = 64 << 20;  // larger inputs are refused, not truncated
};

// The format `location` and `bytes` suggest: by extension (.md .markdown .txt .text .html
// .htm .xhtml .json .jsonl .ndjson .csv .pdf, case-insensitive), else by content ("%PDF-",
// an HTML doctype or root tag, a JSON array or object, one JSON object per line, Markdown
// headings, fences or front matter), else "text". Returns a name of IngestOptions::format.
std::string detect_format(std::string_view location, std::string_view bytes);

// Reads the file at `path` and parses it (parse_documents with location = path). Errors:
// kNotFound / kPermissionDenied for a missing or unreadable file, kInvalidArgument for a
// directory, a file over max_bytes (refused before reading), or bad content.
Result<std::vector<Document>> read_documents(const std::string& path, const IngestOptions& o);

// Parses `bytes` (the content of `location`, a path or URL used for format detection, error
// messages, doc_id and Document::location) into documents: one for Markdown, text, HTML and
// PDF (doc_id = location), one per record for JSON, JSONL and CSV (doc_id = the mapped id).
// Every Document field is filled: source and licence from the document's own metadata
// (front matter, mapped fields) or else the options; title from the metadata or the first
// heading; content is the blocks' text joined by blank lines and content_sha256 its hex
// SHA-256. Errors (kInvalidArgument): an unknown forced format, a missing mapping, invalid
// UTF-8 or NUL bytes (with the byte offset), no text ("no text in <location>"), more than
// max_bytes, a broken or encrypted PDF, a malformed JSON/JSONL/CSV file or record (with the
// line or record index), a duplicate id.
Result<std::vector<Document>> parse_documents(std::string_view bytes, std::string_view location,
                                              const IngestOptions& o);

// Expands directories (recursively, in sorted order, skipping files and directories whose
// names start with '.', not following directory symlinks) into the files with an extension
// detect_format knows; plain files are kept whatever their extension. Arguments keep their
// order. Errors: kNotFound for a path that does not exist, kPermissionDenied (with the
// directory and the system's reason) for a directory that cannot be listed.
Result<std::vector<std::string>> collect_files(std::span<const std::string> paths);

}  // namespace ward::knowledge
