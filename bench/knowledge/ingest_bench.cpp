// Ingestion throughput: parse + normalise + chunk + hash, end to end from bytes in memory to
// Documents, in MB/s of input (Google Benchmark's bytes_per_second). Synthetic inputs of about
// 1.5 to 3 MB each (a long Markdown guideline, JSONL abstracts, HTML, plain text, CSV) and, when
// the shared data is present, PubMedQA's 1,000 abstracts as one keyed JSON file.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iterator>
#include <string>

#include <fmt/format.h>

#include "common/mapped_file.h"
#include "knowledge/ingest.h"

namespace ward::knowledge {
namespace {

constexpr int kSections = 400;  // about 1.8 MB of Markdown

const char* const kSentences[] = {
    "Offer an ACE inhibitor or an angiotensin II receptor blocker to adults with type 2 "
    "diabetes and hypertension.",
    "Measure blood pressure in both arms and repeat the measurement if the difference is more "
    "than 15 mmHg.",
    "Review the dose of renally cleared medicines when the eGFR falls below 30 ml/min/1.73m\u00b2.",
    "Give antibiotics within one hour of recognising septic shock, after taking blood cultures.",
    "Refer people with suspected papilloedema or retinal haemorrhage for same-day assessment.",
    "Stop NSAIDs, aminoglycosides and contrast agents where possible in acute kidney injury.",
};

std::string paragraph(int seed, int sentences) {
    std::string out;
    for (int i = 0; i < sentences; ++i) {
        if (i) out += ' ';
        out += kSentences[(seed + i) % 6];
    }
    return out;
}

// The generators append with fmt::format_to: GCC 12 at -O3 warns (-Wrestrict, a false
// positive) on chains of std::string operator+ that start with a literal.
std::string markdown_input() {
    std::string md = "---\ntitle: Synthetic guideline\ndate: 2024-01-01\n---\n\n# Guideline\n\n";
    auto out = std::back_inserter(md);
    for (int s = 0; s < kSections; ++s) {
        fmt::format_to(out, "## Section {}\n\n", s);
        fmt::format_to(out,
                       "{} See **[the pathway](https://example.org/p{})** and *note* the "
                       "`dose`.\n\n### Recommendations\n\n",
                       paragraph(s, 4), s);
        for (int i = 0; i < 6; ++i) fmt::format_to(out, "- {}\n", paragraph(s + i, 1));
        fmt::format_to(out, "  - nested detail for item {}\n\n", s);
        md += "| Drug | Dose | Notes |\n|---|---:|---|\n";
        for (int i = 0; i < 4; ++i) {
            fmt::format_to(out, "| drug {} | {} mg | {} |\n", i, 5 * i + 5, paragraph(s + i, 1));
        }
        fmt::format_to(out, "\n{}\n\n", paragraph(s + 3, 30));  // over the cap: split
    }
    return md;
}

std::string jsonl_input() {
    std::string jsonl;
    auto out = std::back_inserter(jsonl);
    for (int r = 0; r < 4000; ++r) {
        fmt::format_to(out,
                       "{{\"id\": \"pmid{}\", \"title\": \"Trial {}\", \"year\": 2020, "
                       "\"abstract\": [\"{}\", \"{}\"], \"conclusion\": \"{}\"}}\n",
                       r, r, paragraph(r, 3), paragraph(r + 1, 3), paragraph(r + 2, 1));
    }
    return jsonl;
}

std::string html_input() {
    std::string html =
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Synthetic</title>"
        "<script>var x = 1;</script></head><body><nav>menu</nav>";
    auto out = std::back_inserter(html);
    for (int s = 0; s < kSections; ++s) {
        fmt::format_to(out,
                       "<h2>Section {}</h2><p>{} <a href=\"/x\">link</a> &amp; <em>more</em>."
                       "</p><ul>",
                       s, paragraph(s, 4));
        for (int i = 0; i < 6; ++i) fmt::format_to(out, "<li>{}</li>", paragraph(s + i, 1));
        html += "</ul><table>";
        for (int i = 0; i < 4; ++i) {
            fmt::format_to(out, "<tr><td>drug {}</td><td>{}</td></tr>", i, paragraph(s + i, 1));
        }
        fmt::format_to(out, "</table><p>{}</p>", paragraph(s + 3, 30));
    }
    html += "<footer>footer</footer></body></html>";
    return html;
}

std::string text_input() {
    std::string text = "SYNTHETIC CLINICAL NOTES\n\n";
    auto out = std::back_inserter(text);
    for (int s = 0; s < kSections; ++s) {
        fmt::format_to(out, "SECTION {}\n\n{}\n\nPlan:\n\n", s, paragraph(s, 4));
        for (int i = 0; i < 6; ++i) fmt::format_to(out, "- {}\n", paragraph(s + i, 1));
        fmt::format_to(out, "\n{}\n\n", paragraph(s + 3, 30));
    }
    return text;
}

std::string csv_input() {
    std::string csv = "id,question,answer\r\n";
    auto out = std::back_inserter(csv);
    for (int r = 0; r < 4000; ++r) {
        fmt::format_to(out, "q{},\"What is advised, in case {}?\",\"{}\n\n{}\"\r\n", r, r,
                       paragraph(r, 3), paragraph(r + 1, 3));
    }
    return csv;
}

void run(benchmark::State& state, const std::string& input, const std::string& location,
         const IngestOptions& options) {
    size_t chunks = 0;
    size_t documents = 0;
    for (auto _ : state) {
        auto result = parse_documents(input, location, options);
        if (!result) {
            state.SkipWithError(result.error().to_string().c_str());
            return;
        }
        documents = result->size();
        chunks = 0;
        for (const Document& d : *result) chunks += d.chunks.size();
        benchmark::DoNotOptimize(result);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * input.size()));
    state.counters["input_MB"] = static_cast<double>(input.size()) / 1e6;
    state.counters["documents"] = static_cast<double>(documents);
    state.counters["chunks"] = static_cast<double>(chunks);
}

void BM_IngestMarkdown(benchmark::State& state) {
    static const std::string input = markdown_input();
    run(state, input, "guideline.md", IngestOptions{});
}
BENCHMARK(BM_IngestMarkdown)->Unit(benchmark::kMillisecond);

void BM_IngestJsonl(benchmark::State& state) {
    static const std::string input = jsonl_input();
    IngestOptions o;
    o.mapping = FieldMapping{
        .id = "id", .text = {"abstract", "conclusion"}, .title = "title", .published = "year"};
    run(state, input, "abstracts.jsonl", o);
}
BENCHMARK(BM_IngestJsonl)->Unit(benchmark::kMillisecond);

void BM_IngestHtml(benchmark::State& state) {
    static const std::string input = html_input();
    run(state, input, "page.html", IngestOptions{});
}
BENCHMARK(BM_IngestHtml)->Unit(benchmark::kMillisecond);

void BM_IngestPlainText(benchmark::State& state) {
    static const std::string input = text_input();
    run(state, input, "notes.txt", IngestOptions{});
}
BENCHMARK(BM_IngestPlainText)->Unit(benchmark::kMillisecond);

void BM_IngestCsv(benchmark::State& state) {
    static const std::string input = csv_input();
    IngestOptions o;
    o.mapping = FieldMapping{.id = "id", .text = {"answer"}, .title = "question"};
    run(state, input, "faq.csv", o);
}
BENCHMARK(BM_IngestCsv)->Unit(benchmark::kMillisecond);

// PubMedQA's labelled set: an object of 1,000 records keyed by PMID.
void BM_IngestPubMedQa(benchmark::State& state) {
    const char* env = std::getenv("WARD_SHARED_DATA");
    std::string path = std::string(env && *env ? env : WARD_SHARED_DATA) +
                       "/medical-qa/pubmedqa/data/ori_pqal.json";
    auto bytes = read_file(path);
    if (!bytes) {
        state.SkipWithError(("no " + path).c_str());
        return;
    }
    IngestOptions o;
    o.mapping =
        FieldMapping{.id = "@key", .text = {"CONTEXTS"}, .title = "QUESTION", .published = "YEAR"};
    run(state, *bytes, "ori_pqal.json", o);
}
BENCHMARK(BM_IngestPubMedQa)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ward::knowledge
