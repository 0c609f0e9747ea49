// Internals of ingestion shared by the format readers (ingest_*.cpp): text validation and
// normalisation, and what each reader extracts before ingest.cpp makes Documents of it. Not
// for use outside src/knowledge.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "knowledge/document.h"
#include "knowledge/ingest.h"

namespace ward::knowledge::detail {

// What a reader found in one document (a whole file, or one record).
struct Extracted {
    std::vector<Block> blocks;
    // Metadata the document carries itself (front matter, <title>, PDF info, mapped fields);
    // empty when absent.
    std::string id;  // records only
    std::string title;
    std::string location;
    std::string published;
    std::string licence;
    std::string source;
};

// OK when `bytes` is valid UTF-8 (no overlong forms, surrogates or code points past U+10FFFF)
// without NUL bytes; else "<where>: invalid UTF-8 at byte N" / "<where>: NUL byte at byte N".
Status check_text(std::string_view bytes, std::string_view where);
// The byte offset of the first invalid UTF-8 sequence, or npos.
size_t find_invalid_utf8(std::string_view bytes);
// Appends `cp` as UTF-8; NUL, surrogates and values past U+10FFFF become U+FFFD.
void append_utf8(std::string& out, uint32_t cp);
// The text of the first heading of `blocks`, or "".
std::string first_heading(const std::vector<Block>& blocks);

// Prose: whitespace runs (ASCII and Unicode spaces, line and paragraph separators, control
// characters) become one space, leading and trailing ones go, zero-width characters and byte
// order marks go, and the result is NFC. REQUIRES: valid UTF-8.
std::string normalise_inline(std::string_view text);
// Code: lines kept (CR LF and CR become LF), tabs kept, other control characters become spaces,
// trailing spaces of lines and blank lines at both ends dropped, NFC. REQUIRES: valid UTF-8.
std::string normalise_code(std::string_view text);

// Appends a block of normalised `raw` text unless it is empty.
void add_block(std::vector<Block>& blocks, Block::Kind kind, int level, std::string_view raw);

// "YYYY", "YYYY-MM" or "YYYY-MM-DD" from an ISO 8601 date or date-time (a valid calendar
// date); error "<what> \"<value>\" is not an ISO 8601 date (YYYY, YYYY-MM or YYYY-MM-DD)".
Result<std::string> normalise_date(std::string_view value, std::string_view what);

// Readers of one document. `where` names the input in errors. The text readers get bytes
// already checked by check_text and with any UTF-8 byte order mark removed.
Result<Extracted> read_markdown(std::string_view text, std::string_view where);
Result<Extracted> read_plain_text(std::string_view text, std::string_view where);
Result<Extracted> read_html(std::string_view bytes, std::string_view where);
Result<Extracted> read_pdf(std::string_view bytes, std::string_view where);

// Readers of records: one Extracted per record, its id set, in file order (the records of a
// keyed JSON object in key order, as nlohmann::json keeps them). Errors name the
// record (JSON: its index or key; JSONL and CSV: its line).
Result<std::vector<Extracted>> read_json_records(std::string_view text, std::string_view where,
                                                 const FieldMapping& mapping);
Result<std::vector<Extracted>> read_jsonl_records(std::string_view text, std::string_view where,
                                                  const FieldMapping& mapping);
Result<std::vector<Extracted>> read_csv_records(std::string_view text, std::string_view where,
                                                const FieldMapping& mapping);

// Splits plain text (PDF pages, text files) into paragraphs on blank lines; lines of a
// paragraph are joined. Used by the text and PDF readers.
std::vector<std::string_view> split_paragraphs(std::string_view text);

}  // namespace ward::knowledge::detail
