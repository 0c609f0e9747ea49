#include "knowledge/ingest.h"

#include <algorithm>
#include <array>
#include <filesystem>
#include <system_error>

#include "common/crypto.h"
#include "common/mapped_file.h"
#include "knowledge/ingest_internal.h"

namespace ward::knowledge {
namespace {

namespace fs = std::filesystem;

struct Extension {
    std::string_view extension;
    std::string_view format;
};
constexpr std::array<Extension, 12> kExtensions = {{
    {".md", "markdown"},
    {".markdown", "markdown"},
    {".txt", "text"},
    {".text", "text"},
    {".html", "html"},
    {".htm", "html"},
    {".xhtml", "html"},
    {".json", "json"},
    {".jsonl", "jsonl"},
    {".ndjson", "jsonl"},
    {".csv", "csv"},
    {".pdf", "pdf"},
}};
constexpr std::array<std::string_view, 7> kFormats = {"markdown", "text", "html", "json",
                                                      "jsonl",    "csv",  "pdf"};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// The file name of a path or URL (without a URL's query or fragment).
std::string_view file_name(std::string_view location) {
    size_t end = location.find_first_of("?#");
    if (end != std::string_view::npos && location.find("://") != std::string_view::npos) {
        location = location.substr(0, end);
    }
    size_t slash = location.find_last_of("/\\");
    return slash == std::string_view::npos ? location : location.substr(slash + 1);
}

std::string_view format_of_extension(std::string_view location) {
    std::string_view name = file_name(location);
    size_t dot = name.rfind('.');
    if (dot == std::string_view::npos || dot == 0) return {};
    std::string extension = lower(name.substr(dot));
    for (const auto& e : kExtensions) {
        if (e.extension == extension) return e.format;
    }
    return {};
}

std::string stem(std::string_view location) {
    std::string_view name = file_name(location);
    size_t dot = name.rfind('.');
    if (dot != std::string_view::npos && dot > 0) name = name.substr(0, dot);
    return std::string(name);
}

std::string_view without_bom(std::string_view bytes) {
    if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
    return bytes;
}

bool is_blank(std::string_view text) {
    return text.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

// Line starts ("# ", "```") that only Markdown has.
bool looks_like_markdown(std::string_view text) {
    if (text.substr(0, 4) == "---\n" || text.substr(0, 5) == "---\r\n") return true;
    size_t pos = 0;
    size_t lines = 0;
    while (pos < text.size() && lines++ < 200) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        size_t hashes = line.find_first_not_of('#');
        if (hashes > 0 && hashes <= 6 && hashes < line.size() && line[hashes] == ' ') return true;
        if (line.substr(0, 3) == "```" || line.substr(0, 3) == "~~~") return true;
        pos = eol + 1;
    }
    return false;
}

Result<detail::Extracted> read_single(std::string_view format, std::string_view bytes,
                                      std::string_view where) {
    if (format == "markdown") return detail::read_markdown(bytes, where);
    if (format == "text") return detail::read_plain_text(bytes, where);
    if (format == "html") return detail::read_html(bytes, where);
    return detail::read_pdf(bytes, where);
}

Document make_document(detail::Extracted x, std::string doc_id, std::string_view format,
                       std::string_view location, const IngestOptions& o) {
    Document d;
    d.doc_id = std::move(doc_id);
    d.source = !x.source.empty()   ? std::move(x.source)
               : !o.source.empty() ? o.source
                                   : stem(location);
    d.title = std::move(x.title);
    d.location = !x.location.empty() ? std::move(x.location) : std::string(location);
    d.licence = !x.licence.empty() ? std::move(x.licence) : o.licence;
    d.published = std::move(x.published);
    d.format = std::string(format);
    size_t size = 0;
    for (const Block& b : x.blocks) size += b.text.size() + 2;
    d.content.reserve(size);
    for (const Block& b : x.blocks) {
        if (!d.content.empty()) d.content += "\n\n";
        d.content += b.text;
    }
    d.content_sha256 = crypto::sha256_hex(d.content);
    d.chunks = chunk_blocks(x.blocks, o.chunking);
    return d;
}

// The status of a path that must exist: kNotFound when it does not, kPermissionDenied (with
// the system's reason) when it cannot be looked at.
Result<fs::file_status> existing(const std::string& path) {
    std::error_code ec;
    fs::file_status status = fs::status(path, ec);
    if (ec && ec != std::errc::no_such_file_or_directory) {
        return permission_denied("{}: {}", path, ec.message());
    }
    if (ec || !fs::exists(status)) return not_found("{} does not exist", path);
    return status;
}

}  // namespace

std::string detect_format(std::string_view location, std::string_view bytes) {
    if (std::string_view by_name = format_of_extension(location); !by_name.empty()) {
        return std::string(by_name);
    }
    if (bytes.substr(0, 5) == "%PDF-") return "pdf";
    std::string_view text = without_bom(bytes);
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return "text";
    char c = text[first];
    if (c == '<') {
        std::string head = lower(text.substr(first, 1024));
        for (std::string_view tag : {"<!doctype html", "<html", "<head", "<body", "<title"}) {
            if (head.find(tag) != std::string::npos) return "html";
        }
    }
    if (c == '[') return "json";
    if (c == '{') {
        // JSONL: the first line is an object on its own and another object line follows.
        size_t eol = text.find('\n', first);
        if (eol != std::string_view::npos) {
            std::string_view line = text.substr(first, eol - first);
            size_t last = line.find_last_not_of(" \t\r");
            size_t next = text.find_first_not_of(" \t\r\n", eol);
            if (last != std::string_view::npos && line[last] == '}' &&
                next != std::string_view::npos && text[next] == '{') {
                return "jsonl";
            }
        }
        return "json";
    }
    return looks_like_markdown(text) ? "markdown" : "text";
}

Result<std::vector<Document>> parse_documents(std::string_view bytes, std::string_view location,
                                              const IngestOptions& o) {
    if (bytes.size() > o.max_bytes) {
        return invalid_argument("{} is {} bytes, more than the limit of {}", location, bytes.size(),
                                o.max_bytes);
    }
    std::string format;
    if (o.format) {
        format = lower(*o.format);
        if (std::find(kFormats.begin(), kFormats.end(), format) == kFormats.end()) {
            return invalid_argument(
                "unknown document format \"{}\" (known: markdown, text, html, "
                "json, jsonl, csv, pdf)",
                *o.format);
        }
    } else {
        format = detect_format(location, bytes);
    }
    bool records = format == "json" || format == "jsonl" || format == "csv";
    if (records && !o.mapping) {
        return invalid_argument("{}: {} needs a field mapping (which fields are the id and text)",
                                location, format);
    }
    if (format != "pdf") {
        bytes = without_bom(bytes);
        if (format != "html") WARD_TRY(detail::check_text(bytes, location));
    }
    if (is_blank(bytes)) return invalid_argument("no text in {}", location);

    std::vector<Document> documents;
    if (records) {
        Result<std::vector<detail::Extracted>> extracted =
            format == "json"    ? detail::read_json_records(bytes, location, *o.mapping)
            : format == "jsonl" ? detail::read_jsonl_records(bytes, location, *o.mapping)
                                : detail::read_csv_records(bytes, location, *o.mapping);
        if (!extracted) return extracted.error();
        documents.reserve(extracted->size());
        for (detail::Extracted& x : *extracted) {
            std::string id = x.id;
            documents.push_back(make_document(std::move(x), std::move(id), format, location, o));
        }
    } else {
        WARD_ASSIGN_OR_RETURN(detail::Extracted x, read_single(format, bytes, location));
        documents.push_back(
            make_document(std::move(x), std::string(location), format, location, o));
    }
    if (documents.empty() || std::all_of(documents.begin(), documents.end(),
                                         [](const Document& d) { return d.chunks.empty(); })) {
        return invalid_argument("no text in {}", location);
    }
    return documents;
}

Result<std::vector<Document>> read_documents(const std::string& path, const IngestOptions& o) {
    WARD_ASSIGN_OR_RETURN(fs::file_status status, existing(path));
    if (fs::is_directory(status)) return invalid_argument("{} is a directory", path);
    if (!fs::is_regular_file(status)) return invalid_argument("{} is not a regular file", path);
    std::error_code ec;
    uintmax_t size = fs::file_size(path, ec);
    if (!ec && size > o.max_bytes) {
        return invalid_argument("{} is {} bytes, more than the limit of {}", path, size,
                                o.max_bytes);
    }
    WARD_ASSIGN_OR_RETURN(MappedFile file, MappedFile::open(path));
    std::string_view bytes(reinterpret_cast<const char*>(file.data()), file.size());
    return parse_documents(bytes, path, o);
}

Result<std::vector<std::string>> collect_files(std::span<const std::string> paths) {
    std::vector<std::string> files;
    for (const std::string& path : paths) {
        WARD_ASSIGN_OR_RETURN(fs::file_status status, existing(path));
        if (!fs::is_directory(status)) {
            files.push_back(path);
            continue;
        }
        std::vector<std::string> found;
        std::error_code ec;
        fs::recursive_directory_iterator it(path, fs::directory_options::none, ec);
        if (ec) return permission_denied("{}: {}", path, ec.message());
        // The directory being entered when listing fails is the one an error names.
        std::string directory = path;
        for (fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
            if (ec) break;
            const fs::directory_entry& entry = *it;
            std::string name = entry.path().filename().string();
            std::error_code type_error;
            bool is_directory = entry.is_directory(type_error);
            if (!name.empty() && name[0] == '.') {
                if (is_directory) it.disable_recursion_pending();
                continue;
            }
            if (is_directory) {
                directory = entry.path().string();
            } else if (entry.is_regular_file(type_error) && !format_of_extension(name).empty()) {
                found.push_back(entry.path().string());
            }
        }
        if (ec) return permission_denied("{}: {}", directory, ec.message());
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

}  // namespace ward::knowledge
