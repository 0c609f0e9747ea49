#include "knowledge/ingest.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/mapped_file.h"
#include "knowledge/ingest_internal.h"

namespace ward::knowledge {
namespace {

namespace fs = std::filesystem;

std::string data_dir() {
    const char* env = std::getenv("WARD_SOURCE_DIR");
    return std::string(env && *env ? env : WARD_SOURCE_DIR) + "/tests/knowledge/data";
}

std::string slurp(const std::string& path) {
    auto r = ward::read_file(path);
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? *r : std::string();
}

// A readable dump of documents and their chunks: what the .chunks.golden files hold.
std::string dump(const std::vector<Document>& documents) {
    std::ostringstream out;
    for (const Document& d : documents) {
        out << "=== document " << d.doc_id << "\n";
        out << "source: " << d.source << "\n";
        out << "title: " << d.title << "\n";
        out << "location: " << d.location << "\n";
        out << "licence: " << d.licence << "\n";
        out << "published: " << d.published << "\n";
        out << "format: " << d.format << "\n";
        out << "content_sha256: " << d.content_sha256 << "\n";
        for (const Chunk& c : d.chunks) {
            out << "--- chunk " << c.ordinal << " (" << c.tokens << " tokens)";
            if (!c.heading.empty()) out << " " << c.heading;
            out << "\n" << c.text << "\n";
        }
    }
    return out.str();
}

// Parses tests/knowledge/data/<file> (location: the file name) and compares the dump with
// <name>.chunks.golden; WARD_UPDATE_GOLDEN=1 rewrites the golden file instead.
void check_golden(const std::string& file, const IngestOptions& options) {
    SCOPED_TRACE(file);
    std::string bytes = slurp(data_dir() + "/" + file);
    auto documents = parse_documents(bytes, file, options);
    ASSERT_TRUE(documents) << documents.error().to_string();
    for (const Document& d : *documents) {
        EXPECT_EQ(d.content_sha256, crypto::sha256_hex(d.content));
        EXPECT_FALSE(d.chunks.empty());
        for (const Chunk& c : d.chunks) {
            int cap = options.chunking.max_tokens;
            EXPECT_LE(c.tokens, cap) << c.text;
            EXPECT_EQ(c.tokens, static_cast<int>(estimate_tokens(c.text)));
        }
    }
    std::string actual = dump(*documents);
    std::string golden_path = data_dir() + "/" + file.substr(0, file.rfind('.')) + ".chunks.golden";
    const char* update = std::getenv("WARD_UPDATE_GOLDEN");
    if (update && std::string(update) == "1") {
        ASSERT_TRUE(write_file_atomic(golden_path, actual).ok());
        std::cout << "updated " << golden_path << "\n";
        return;
    }
    auto expected = ward::read_file(golden_path);
    ASSERT_TRUE(expected) << golden_path << " is missing; run with WARD_UPDATE_GOLDEN=1";
    EXPECT_EQ(actual, *expected) << "golden mismatch for " << file
                                 << "; if the change is intended, run with WARD_UPDATE_GOLDEN=1";
}

IngestOptions with_mapping(FieldMapping mapping) {
    IngestOptions o;
    o.mapping = std::move(mapping);
    return o;
}

void expect_error(const Result<std::vector<Document>>& r, const std::string& message) {
    ASSERT_FALSE(r) << "expected an error containing: " << message;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().to_string();
    EXPECT_NE(r.error().message().find(message), std::string::npos) << r.error().message();
}

FieldMapping id_text() {
    FieldMapping m;
    m.id = "id";
    m.text = {"text"};
    return m;
}

TEST(IngestGolden, MarkdownGuideline) {
    IngestOptions o;
    o.source = "ignored-because-front-matter-names-one";
    o.chunking.max_tokens = 64;
    check_golden("guideline.md", o);
}

TEST(IngestGolden, LongParagraphSplitWithOverlap) {
    IngestOptions o;
    o.licence = "CC0-1.0";
    o.chunking.max_tokens = 48;
    o.chunking.overlap_tokens = 12;
    check_golden("long_paragraph.md", o);
}

TEST(IngestGolden, PlainText) {
    check_golden("notes.txt", IngestOptions{});
}

TEST(IngestGolden, Html) {
    check_golden("page.html", IngestOptions{});
}

TEST(IngestGolden, JsonlWithMapping) {
    FieldMapping m;
    m.id = "pmid";
    m.text = {"abstract", "mesh"};
    m.title = "title";
    m.published = "year";
    m.licence = "licence";
    m.location = "links.doi";
    IngestOptions o = with_mapping(m);
    o.source = "pubmed";
    o.licence = "CC-BY-4.0";
    check_golden("abstracts.jsonl", o);
}

TEST(IngestGolden, CsvWithQuotedFields) {
    FieldMapping m;
    m.id = "id";
    m.title = "question";
    m.text = {"answer"};
    m.published = "updated";
    check_golden("faq.csv", with_mapping(m));
}

TEST(IngestGolden, JsonObjectKeyedById) {
    FieldMapping m;
    m.id = "@key";
    m.title = "name";
    m.text = {"sections.dose", "notes"};
    check_golden("formulary.json", with_mapping(m));
}

TEST(IngestGolden, Pdf) {
    check_golden("leaflet.pdf", IngestOptions{});
}

// --- Documents and metadata ---------------------------------------------------------------

TEST(Ingest, SingleDocumentFilesUseThePathAsGivenForDocId) {
    std::string path = data_dir() + "/notes.txt";
    auto docs = read_documents(path, IngestOptions{});
    ASSERT_TRUE(docs) << docs.error().to_string();
    ASSERT_EQ(docs->size(), 1u);
    EXPECT_EQ((*docs)[0].doc_id, path);
    EXPECT_EQ((*docs)[0].location, path);
    EXPECT_EQ((*docs)[0].source, "notes");  // the file's stem when no source is given
    EXPECT_EQ((*docs)[0].format, "text");
    EXPECT_EQ((*docs)[0].title, "ANTICOAGULATION CLINIC NOTES");
}

TEST(Ingest, FrontMatterOverridesDefaults) {
    IngestOptions o;
    o.source = "default-source";
    o.licence = "default-licence";
    auto docs = parse_documents(slurp(data_dir() + "/guideline.md"), "g.md", o);
    ASSERT_TRUE(docs) << docs.error().to_string();
    const Document& d = (*docs)[0];
    EXPECT_EQ(d.title, "Hypertension in adults: diagnosis and management");
    EXPECT_EQ(d.published, "2023-11-21");
    EXPECT_EQ(d.licence, "CC-BY-4.0");
    EXPECT_EQ(d.source, "hospital-guidelines");
    EXPECT_EQ(d.location, "https://intranet.example.org/guidelines/htn");
    EXPECT_EQ(d.doc_id, "g.md");
    // Inline markup and comments are gone; the code block keeps its lines.
    EXPECT_EQ(d.content.find("**"), std::string::npos);
    EXPECT_EQ(d.content.find("Reviewed by the guideline committee"), std::string::npos);
    EXPECT_NE(d.content.find("see the diabetes pathway)"), std::string::npos);
    EXPECT_NE(d.content.find("target_bp_under_80 = \"< 140/90 mmHg\"\ntarget_bp_over_80"),
              std::string::npos);
    EXPECT_NE(d.content.find("snake_case names such as max_dose_mg and keep 2 * 3 = 6"),
              std::string::npos);
}

TEST(Ingest, DefaultsApplyWithoutMetadata) {
    IngestOptions o;
    o.source = "wards";
    o.licence = "internal";
    auto docs = parse_documents("Plain words.", "https://x.example/a/b/leaflet.txt?v=2", o);
    ASSERT_TRUE(docs) << docs.error().to_string();
    EXPECT_EQ((*docs)[0].source, "wards");
    EXPECT_EQ((*docs)[0].licence, "internal");
    EXPECT_EQ((*docs)[0].format, "text");
    auto stemmed =
        parse_documents("Plain words.", "https://x.example/a/b/leaflet.txt?v=2", IngestOptions{});
    ASSERT_TRUE(stemmed);
    EXPECT_EQ((*stemmed)[0].source, "leaflet");
}

TEST(Ingest, NormalisesToNfcAndCollapsesWhitespace) {
    // "e" + combining acute accent becomes one precomposed character; NBSP and tabs collapse.
    auto docs = parse_documents("Caf\x65\xCC\x81 \xC2\xA0 au\t\tlait\r\nnoir", "a.txt", {});
    ASSERT_TRUE(docs) << docs.error().to_string();
    EXPECT_EQ((*docs)[0].content, "Caf\u00e9 au lait noir");
}

std::string encode(char32_t cp) {
    std::string out;
    detail::append_utf8(out, cp);
    return out;
}

std::string utf8proc_nfc(const std::string& s) {
    utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(s.c_str()));
    std::string result(reinterpret_cast<const char*>(out));
    std::free(out);
    return result;
}

// Normalisation skips utf8proc for text that is certainly NFC already; for every code point
// of the first three planes, alone and before a character it might compose with, the result
// must be what utf8proc gives.
TEST(Ingest, NfcFastPathAgreesWithUtf8proc) {
    auto changed_by_whitespace_rules = [](char32_t cp) {
        return cp <= 0xA0 || cp == 0xAD || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) ||
               cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x2060 ||
               cp == 0x3000 || cp == 0xFEFF;
    };
    size_t checked = 0;
    for (char32_t cp = 0xA1; cp < 0x30000; ++cp) {
        if ((cp >= 0xD800 && cp <= 0xDFFF) || changed_by_whitespace_rules(cp)) continue;
        for (const char* after : {"x", "\u0301", "\u09BE", "\u1161", "\u11A8"}) {
            std::string text = "a" + encode(cp) + after;
            ASSERT_EQ(detail::normalise_inline(text), utf8proc_nfc(text))
                << "U+" << std::hex << static_cast<uint32_t>(cp) << " before " << after;
            ++checked;
        }
    }
    EXPECT_GT(checked, 500000u);
}

TEST(Ingest, SameTextSameHashWhateverTheFormat) {
    auto md = parse_documents("Take *one* tablet daily.", "a.md", {});
    auto txt = parse_documents("Take one tablet\ndaily.", "b.txt", {});
    auto html = parse_documents("<p>Take <b>one</b> tablet daily.</p>", "c.html", {});
    ASSERT_TRUE(md && txt && html);
    EXPECT_EQ((*md)[0].content_sha256, (*txt)[0].content_sha256);
    EXPECT_EQ((*md)[0].content_sha256, (*html)[0].content_sha256);
}

TEST(Ingest, DetectsFormatsByExtensionThenContent) {
    EXPECT_EQ(detect_format("a.MD", ""), "markdown");
    EXPECT_EQ(detect_format("dir.v2/a.HTM", ""), "html");
    EXPECT_EQ(detect_format("a.ndjson", ""), "jsonl");
    EXPECT_EQ(detect_format("x", "%PDF-1.7\n"), "pdf");
    EXPECT_EQ(detect_format("x", "\xEF\xBB\xBF  <!DOCTYPE html><p>x"), "html");
    EXPECT_EQ(detect_format("x", "[{\"id\": 1}]"), "json");
    EXPECT_EQ(detect_format("x", "{\"id\": 1}\n{\"id\": 2}\n"), "jsonl");
    EXPECT_EQ(detect_format("x", "{\n  \"id\": 1\n}\n"), "json");
    EXPECT_EQ(detect_format("x", "Intro\n\n## Dosing\n"), "markdown");
    EXPECT_EQ(detect_format("x", "Just some notes.\n"), "text");
}

TEST(Ingest, ForcedFormatWins) {
    IngestOptions o;
    o.format = "markdown";
    auto docs = parse_documents("# Heading\n\nBody", "notes.txt", o);
    ASSERT_TRUE(docs) << docs.error().to_string();
    EXPECT_EQ((*docs)[0].format, "markdown");
    EXPECT_EQ((*docs)[0].chunks[0].heading, "Heading");
}

TEST(Ingest, MarkdownStructure) {
    std::string md =
        "Setext title\n============\n\n"
        "> quoted *text*\n> more\n\nafter\n\n"
        "1. first\n   continued\n2. second\n    - nested\n\n"
        "***\n"
        "| a | b |\n|---|---|\n| `x|y` | 2 |\n\n"
        "[ref]: https://example.org\n"
        "~~~\nkeep  *this*\n~~~\n"
        "Unclosed `tick and [bracket and <tag\n";
    auto docs = parse_documents(md, "m.md", {});
    ASSERT_TRUE(docs) << docs.error().to_string();
    const Document& d = (*docs)[0];
    EXPECT_EQ(d.title, "Setext title");
    EXPECT_EQ(d.content,
              "Setext title\n\nquoted text more\n\nafter\n\nfirst continued\n\nsecond\n\n"
              "nested\n\na | b\n\nx|y | 2\n\nkeep  *this*\n\n"
              "Unclosed `tick and [bracket and <tag");
    ASSERT_EQ(d.chunks.size(), 1u);
    EXPECT_EQ(d.chunks[0].heading, "Setext title");
    EXPECT_NE(d.chunks[0].text.find("- first continued\n- second\n  - nested\n"), std::string::npos)
        << d.chunks[0].text;
}

// Inputs that make naive inline parsers quadratic (every opener searching the rest of the
// text for its closer). A megabyte of each must be read in one pass; a regression shows as a
// test that runs for minutes.
TEST(Ingest, PathologicalMarkupStaysLinear) {
    const size_t n = 1 << 20;
    std::string backticks;
    for (size_t len = 1; backticks.size() < n; len = len % 700 + 1) {
        backticks += std::string(len, '`') + "x ";
    }
    for (const std::string& text :
         {std::string(n, '['), std::string(n, '('),
          std::string(n / 2, '[') + std::string(n / 2, ']'), std::string(n, '<'),
          std::string(n, '&'), std::string(n, '*') + "a", backticks,
          std::string(n / 4, 'x') + std::string(n / 4, '<') + "a" + std::string(n / 2, ' ')}) {
        auto docs = parse_documents(text, "p.md", {});
        ASSERT_TRUE(docs) << docs.error().to_string();
        size_t total = 0;
        for (const Chunk& c : (*docs)[0].chunks) total += c.text.size();
        EXPECT_GT(total, 0u);
    }
}

// Nesting is read up to the parsers' limits and refused past them, never a crash and never
// a document with its deeper text silently dropped.
TEST(Ingest, DeepNestingIsBounded) {
    auto nested = [](int depth) {
        std::string html = "<p>top</p>";
        for (int i = 0; i < depth; ++i) html += "<div>";
        html += "deep text";
        for (int i = 0; i < depth; ++i) html += "</div>";
        return html + "<p>after</p>";
    };
    // Deeper than the walker recurses (200): the inner text is read flat.
    auto docs = parse_documents(nested(250), "deep.html", {});
    ASSERT_TRUE(docs) << docs.error().to_string();
    EXPECT_EQ((*docs)[0].content, "top\n\ndeep text\n\nafter");
    // Deeper than libxml2 goes (256): an error, not a document that lacks its end.
    expect_error(parse_documents(nested(20000), "deeper.html", {}),
                 "deeper.html: line 1: elements nested more than 256 deep");

    std::string json = std::string(100000, '[') + std::string(100000, ']');
    expect_error(parse_documents(json, "deep.json", with_mapping(id_text())),
                 "deep.json: record at index 0: not a JSON object");

    std::string quotes = std::string(100000, '>') + " quoted";
    auto md = parse_documents(quotes, "deep.md", {});
    ASSERT_TRUE(md) << md.error().to_string();
    EXPECT_EQ((*md)[0].content, "quoted");
}

TEST(Ingest, HtmlWithDeclaredCharset) {
    // ISO-8859-1 bytes (0xE9 is e-acute), declared: decoded by the parser, then NFC.
    std::string html =
        "<html><head><meta charset=\"iso-8859-1\"><title>Caf\xE9</title></head>"
        "<body><p>Fi\xE8vre &amp; toux</p></body></html>";
    auto docs = parse_documents(html, "p.html", {});
    ASSERT_TRUE(docs) << docs.error().to_string();
    EXPECT_EQ((*docs)[0].title, "Caf\u00e9");
    EXPECT_EQ((*docs)[0].content, "Fi\u00e8vre & toux");
}

std::string shared_data() {
    const char* env = std::getenv("WARD_SHARED_DATA");
    return env && *env ? env : WARD_SHARED_DATA;
}

// Real files of the shared data that the demo knowledge base is built from.
TEST(IngestShared, SuicideRiskLexiconDefinitionsCsv) {
    FieldMapping m;
    m.id = "Construct";
    m.title = "Construct";
    m.text = {"Definition", "Examples"};
    m.source = "Source";
    auto docs = read_documents(
        shared_data() +
            "/mental-health/suicide-risk-lexicon/suicide_risk_constructs_and_definitions_clean.csv",
        with_mapping(m));
    ASSERT_TRUE(docs) << docs.error().to_string();
    ASSERT_EQ(docs->size(), 46u);
    const Document& first = (*docs)[0];
    EXPECT_EQ(first.doc_id, "Passive suicidal ideation");
    EXPECT_EQ(first.format, "csv");
    EXPECT_NE(first.content.find("not waking up"), std::string::npos);
    EXPECT_NE(first.content.find("wish I could disappear"), std::string::npos);
    EXPECT_EQ(first.source.rfind("Wastler, H. M.", 0), 0u);
}

TEST(IngestShared, PubMedQaKeyedJson) {
    FieldMapping m;
    m.id = "@key";
    m.title = "QUESTION";
    m.text = {"CONTEXTS"};
    m.published = "YEAR";
    auto docs =
        read_documents(shared_data() + "/medical-qa/pubmedqa/data/ori_pqal.json", with_mapping(m));
    ASSERT_TRUE(docs) << docs.error().to_string();
    ASSERT_EQ(docs->size(), 1000u);
    size_t dated = 0;
    for (const Document& d : *docs) {
        ASSERT_FALSE(d.chunks.empty()) << d.doc_id;
        EXPECT_EQ(d.chunks[0].heading, d.title) << d.doc_id;
        dated += d.published.size() == 4;
    }
    EXPECT_EQ(dated, 942u);  // 58 records have "YEAR": null
}

// --- Errors -----------------------------------------------------------------------------------

TEST(IngestErrors, InvalidUtf8NamesTheByteOffset) {
    expect_error(parse_documents("caf\xC3\x28 x", "a.txt", {}), "a.txt: invalid UTF-8 at byte 3");
    expect_error(parse_documents("ok\n\xED\xA0\x80", "a.md", {}), "a.md: invalid UTF-8 at byte 3");
    expect_error(parse_documents("abc\xC0\xAF", "a.md", {}), "invalid UTF-8 at byte 3");
    expect_error(parse_documents("\xF4\x90\x80\x80", "a.md", {}), "invalid UTF-8 at byte 0");
    expect_error(parse_documents("<p>caf\xE9</p>", "a.html", {}),
                 "a.html: invalid UTF-8 at byte 6");
    expect_error(parse_documents("<meta charset='UTF-8'><p>caf\xE9</p>", "u.html", {}),
                 "u.html: invalid UTF-8 at byte 28");
    expect_error(
        parse_documents("{\"id\":\"1\",\"text\":\"\xFF\"}\n", "a.jsonl", with_mapping(id_text())),
        "a.jsonl: invalid UTF-8 at byte 18");
    expect_error(parse_documents("id,text\n1,\xE2\x82\n", "a.csv", with_mapping(id_text())),
                 "a.csv: invalid UTF-8 at byte 10");
}

TEST(IngestErrors, NulBytes) {
    expect_error(parse_documents(std::string("ab\0cd", 5), "a.txt", {}),
                 "a.txt: NUL byte at byte 2");
    expect_error(parse_documents(std::string("<p>a\0</p>", 9), "a.html", {}), "NUL byte at byte 4");
    expect_error(parse_documents(std::string("<meta charset=latin1><p>a\0</p>", 31), "l.html", {}),
                 "l.html: NUL byte at byte 25");
    // An escaped NUL inside a JSON string is caught on the field.
    expect_error(
        parse_documents("{\"id\":\"1\",\"text\":\"a\\u0000b\"}", "a.json", with_mapping(id_text())),
        "field \"text\": NUL byte at byte 1");
}

TEST(IngestErrors, NoText) {
    expect_error(parse_documents("", "empty.md", {}), "no text in empty.md");
    expect_error(parse_documents(" \n\t\r\n", "blank.txt", {}), "no text in blank.txt");
    expect_error(parse_documents("\xEF\xBB\xBF", "bom.txt", {}), "no text in bom.txt");
    expect_error(parse_documents("<!-- only a comment -->\n", "c.md", {}), "no text in c.md");
    expect_error(parse_documents("<html><script>x()</script></html>", "s.html", {}),
                 "no text in s.html");
    expect_error(parse_documents("[]", "e.json", with_mapping(id_text())), "no text in e.json");
    expect_error(parse_documents("id,text\n", "h.csv", with_mapping(id_text())),
                 "no text in h.csv");
}

TEST(IngestErrors, TooLarge) {
    IngestOptions o;
    o.max_bytes = 10;
    expect_error(parse_documents("0123456789A", "big.txt", o),
                 "big.txt is 11 bytes, more than the limit of 10");
    // A file is refused before it is read.
    fs::path dir = fs::temp_directory_path() / ("ward_k2_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::string path = (dir / "big.md").string();
    std::ofstream(path) << std::string(100, 'x');
    expect_error(read_documents(path, o), path + " is 100 bytes, more than the limit of 10");
    fs::remove_all(dir);
}

TEST(IngestErrors, DirectoriesAndMissingFiles) {
    auto dir = read_documents(data_dir(), {});
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().message(), data_dir() + " is a directory");
    auto missing = read_documents(data_dir() + "/nope.md", {});
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
    EXPECT_EQ(missing.error().message(), data_dir() + "/nope.md does not exist");
}

TEST(IngestErrors, Pdf) {
    expect_error(read_documents(data_dir() + "/broken.pdf", {}),
                 "broken.pdf: a broken PDF (poppler cannot read it)");
    expect_error(read_documents(data_dir() + "/encrypted.pdf", {}),
                 "encrypted.pdf: the PDF is encrypted and needs a password");
    expect_error(parse_documents("%PDF-1.4\n", "short.pdf", {}), "short.pdf: a broken PDF");
    expect_error(parse_documents("not a pdf", "fake.pdf", {}), "fake.pdf: not a PDF");
}

TEST(IngestErrors, RecordsNameTheRecord) {
    auto m = with_mapping(id_text());
    expect_error(
        parse_documents("{\"id\":\"1\",\"text\":\"a\"}\n\n{\"text\":\"b\"}\n", "r.jsonl", m),
        "r.jsonl: line 3: record has no \"id\" field");
    expect_error(
        parse_documents("{\"id\":\"1\",\"text\":\"a\"}\n{\"id\":2,\"text\":\" \"}\n", "r.jsonl", m),
        "r.jsonl: line 2: record \"2\" has no text in field \"text\"");
    expect_error(parse_documents("{\"id\":\"1\",\"text\":\"a\"}\n{\"id\": \n", "r.jsonl", m),
                 "r.jsonl: line 2: not valid JSON: parse error at line 1, column 8");
    expect_error(parse_documents("[1]\n", "r.jsonl", m), "r.jsonl: line 1: not a JSON object");
    expect_error(parse_documents("[{\"id\":\"a\",\"text\":\"x\"},{\"id\":\"b\"}]", "r.json", m),
                 "r.json: record at index 1: record \"b\" has no text");
    expect_error(parse_documents("[{\"id\":\"a\",\"text\":\"x\"},{\"id\":\"a\",\"text\":\"y\"}]",
                                 "r.json", m),
                 "r.json: record at index 1: duplicate id \"a\" (first in r.json: record at "
                 "index 0)");
    expect_error(parse_documents("[{\"id\":{\"x\":1},\"text\":\"x\"}]", "r.json", m),
                 "record at index 0: field \"id\" holds an object where text was expected");
    expect_error(parse_documents("{\"a\": 1", "r.json", m), "r.json: not valid JSON");
    expect_error(parse_documents("\"text\"", "r.json", m),
                 "r.json: expected a JSON array or object of records, found string");
    FieldMapping keyed = id_text();
    keyed.id = "@key";
    expect_error(parse_documents("[{\"text\":\"x\"}]", "r.json", with_mapping(keyed)),
                 "the mapping's id \"@key\" needs a JSON object whose values are the records");
    FieldMapping dated = id_text();
    dated.published = "date";
    expect_error(parse_documents("{\"id\":\"1\",\"text\":\"a\",\"date\":\"May 2021\"}\n", "d.jsonl",
                                 with_mapping(dated)),
                 "d.jsonl: line 1: field \"date\" \"May 2021\" is not an ISO 8601 date");
}

TEST(IngestErrors, CsvNamesTheLine) {
    auto m = with_mapping(id_text());
    expect_error(parse_documents("id,text\n1,\"open\nstill open", "c.csv", m),
                 "c.csv: line 2: a quoted field is not closed");
    expect_error(parse_documents("id,text\n1,\"a\nb\"\n2,x,extra\n", "c.csv", m),
                 "c.csv: line 4: 3 fields where the header has 2");
    expect_error(parse_documents("id,text\n1,ab\"c\n", "c.csv", m),
                 "c.csv: line 2: field 2 has a quote but does not start with one");
    expect_error(parse_documents("id,text\n1,\"ab\"c\n", "c.csv", m),
                 "c.csv: line 2: field 2 has text after its closing quote");
    expect_error(parse_documents("id,body\n1,x\n", "c.csv", m),
                 "c.csv: the mapping's text column \"text\" is not in the header");
    expect_error(parse_documents("id,text,id\n1,x,2\n", "c.csv", m),
                 "c.csv: line 1: column \"id\" appears twice in the header");
    expect_error(parse_documents("id,text\n,x\n", "c.csv", m),
                 "c.csv: line 2: record has no \"id\" field");
}

TEST(IngestErrors, OptionsAndMappings) {
    expect_error(parse_documents("[]", "a.json", {}), "a.json: json needs a field mapping");
    IngestOptions o;
    o.format = "docx";
    expect_error(parse_documents("x", "a.docx", o), "unknown document format \"docx\"");
    FieldMapping none;
    none.id = "id";
    expect_error(parse_documents("[]", "a.json", with_mapping(none)),
                 "a.json: the field mapping names no text field");
    expect_error(parse_documents("---\ndate: 2023-02-30\n---\nx\n", "f.md", {}),
                 "f.md: front matter date \"2023-02-30\" is not an ISO 8601 date");
}

// --- collect_files ------------------------------------------------------------------------------

TEST(CollectFiles, ExpandsDirectoriesSortedSkippingDotfiles) {
    fs::path dir = fs::temp_directory_path() / ("ward_k2_collect_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "b" / "deep");
    fs::create_directories(dir / ".git");
    for (const char* name : {"b/deep/z.md", "b/a.txt", "c.pdf", "a.JSONL", "notes.docx",
                             ".hidden.md", ".git/x.md", "README"}) {
        std::ofstream(dir / name) << "x";
    }
    std::string extra = (dir / "notes.docx").string();
    std::vector<std::string> args = {dir.string(), extra};
    auto files = collect_files(args);
    ASSERT_TRUE(files) << files.error().to_string();
    std::vector<std::string> expected = {(dir / "a.JSONL").string(), (dir / "b/a.txt").string(),
                                         (dir / "b/deep/z.md").string(), (dir / "c.pdf").string(),
                                         extra};
    EXPECT_EQ(*files, expected);

    std::vector<std::string> missing = {(dir / "nope").string()};
    auto error = collect_files(missing);
    ASSERT_FALSE(error);
    EXPECT_EQ(error.error().code(), StatusCode::kNotFound);
    EXPECT_EQ(error.error().message(), (dir / "nope").string() + " does not exist");
    fs::remove_all(dir);
}

}  // namespace
}  // namespace ward::knowledge
