// The `ward kb` subcommands (the knowledge base, docs/knowledge.md):
//   ward kb add PATH... [--source S] [--licence L] [--format F] [--map FIELD=NAME]...
//                        [--max-tokens N] [--overlap N] [--note TEXT]
//   ward kb remove [DOC_ID...] [--source S]
//   ward kb list [--version V] [--source S] [--json]
//   ward kb versions [--json]
//   ward kb diff V1 V2 [--json]
//   ward kb search QUERY [-k N] [--version V] [--source S]... [--json]
//   ward kb prune --keep-from V
//   ward kb eval FILE --map id=FIELD --map text=FIELD [-k N] [--version V] [--json]
//   ward kb embed -m ENCODER.gguf [--name NAME]
// search and eval take --embed-model ENCODER.gguf [--name NAME] to fuse dense retrieval with
// BM25 (the store must hold that model's vectors: `kb embed`, or a server configured with
// knowledge.embedding_model = NAME). NAME defaults to the file's stem, which is also the model
// name `ward serve -m FILE` gives it: vectors are stored under the name, so the server and the
// CLI must use the same one.
// Every subcommand takes --kb FILE (default <data dir>/knowledge.db, the data dir being
// --data-dir, else $WARD_DATA_DIR, else ward-data: the same file `ward serve` reads, so a
// running server answers from a new version at once).
//
// `kb add` reads every file first (directories expanded), then stores all documents in ONE
// transaction: a bad file, a bad record or a store error leaves the knowledge base unchanged.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "knowledge/ingest.h"
#include "knowledge/report.h"
#include "knowledge/store.h"
#ifdef WARD_PART_LLM
#include "llm/local_backend.h"
#endif
#ifdef WARD_PART_ASSIST
#include "assist/knowledge_embedding.h"
#endif

namespace ward::cli {
namespace {

using nlohmann::json;

struct KbArgs {
    std::string kb;
    std::string data_dir;
    std::vector<std::string> paths;
    std::string source;
    std::vector<std::string> sources;
    std::string licence;
    std::string format;
    std::vector<std::string> maps;
    int max_tokens = 256;
    int overlap = 32;
    std::string note;
    int64_t version = 0;
    int64_t version2 = 0;
    int64_t keep_from = 0;
    std::string query;
    int k = 5;
    bool json = false;
    std::string embed_model;  // an encoder GGUF for dense retrieval
    std::string embed_name;   // the name its vectors are stored under (default: file stem)
    int threads = 0;
};

std::string kb_path(const KbArgs& a) {
    if (!a.kb.empty()) return a.kb;
    std::string dir = a.data_dir.empty() ? default_data_dir() : a.data_dir;
    return (std::filesystem::path(dir) / "knowledge.db").string();
}

// Opens the store; only `kb add` may create one (a typo in --kb must not make an empty store
// that then answers "no passages").
Result<std::shared_ptr<knowledge::Store>> open_store(const KbArgs& a, bool create) {
    std::string path = kb_path(a);
    std::error_code ec;
    if (!create && !std::filesystem::is_regular_file(path, ec)) {
        return not_found(
            "kb: no knowledge base at {} (set --kb or --data-dir, or `ward kb add` "
            "first)",
            path);
    }
    if (create) {
        auto parent = std::filesystem::path(path).parent_path();
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
        if (ec) return internal_error("kb: cannot create {}: {}", parent.string(), ec.message());
    }
    return knowledge::Store::open(path);
}

// "--map id=@key --map text=CONTEXTS,LONG_ANSWER --map title=QUESTION"
Result<std::optional<knowledge::FieldMapping>> parse_maps(const std::vector<std::string>& maps) {
    if (maps.empty()) return std::optional<knowledge::FieldMapping>{};
    knowledge::FieldMapping m;
    for (const std::string& entry : maps) {
        size_t eq = entry.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == entry.size()) {
            return invalid_argument(
                "--map {}: expected FIELD=NAME (fields: id, text, title, "
                "location, published, licence, source)",
                entry);
        }
        std::string field = entry.substr(0, eq);
        std::string value = entry.substr(eq + 1);
        if (field == "id") {
            m.id = value;
        } else if (field == "text") {
            size_t start = 0;
            while (start <= value.size()) {
                size_t comma = value.find(',', start);
                std::string name = value.substr(
                    start, comma == std::string::npos ? std::string::npos : comma - start);
                if (name.empty()) return invalid_argument("--map {}: empty text field name", entry);
                m.text.push_back(name);
                if (comma == std::string::npos) break;
                start = comma + 1;
            }
        } else if (field == "title") {
            m.title = value;
        } else if (field == "location") {
            m.location = value;
        } else if (field == "published") {
            m.published = value;
        } else if (field == "licence" || field == "license") {
            m.licence = value;
        } else if (field == "source") {
            m.source = value;
        } else {
            return invalid_argument(
                "--map {}: unknown field \"{}\" (fields: id, text, title, "
                "location, published, licence, source)",
                entry, field);
        }
    }
    if (m.id.empty() || m.text.empty()) {
        return invalid_argument("--map: both id=NAME and text=NAME are required");
    }
    return std::optional<knowledge::FieldMapping>(std::move(m));
}

Result<knowledge::IngestOptions> ingest_options(const KbArgs& a) {
    knowledge::IngestOptions o;
    o.source = a.source;
    o.licence = a.licence;
    if (!a.format.empty()) o.format = a.format;
    WARD_ASSIGN_OR_RETURN(o.mapping, parse_maps(a.maps));
    o.chunking.max_tokens = a.max_tokens;
    o.chunking.overlap_tokens = a.overlap;
    return o;
}

Result<std::vector<knowledge::Document>> read_all(const KbArgs& a, size_t* bytes) {
    WARD_ASSIGN_OR_RETURN(knowledge::IngestOptions o, ingest_options(a));
    WARD_ASSIGN_OR_RETURN(std::vector<std::string> files, knowledge::collect_files(a.paths));
    if (files.empty()) return invalid_argument("kb add: no files found in the paths given");
    std::vector<knowledge::Document> docs;
    for (const std::string& file : files) {
        WARD_ASSIGN_OR_RETURN(std::vector<knowledge::Document> more,
                              knowledge::read_documents(file, o));
        for (auto& d : more) {
            *bytes += d.content.size();
            docs.push_back(std::move(d));
        }
    }
    return docs;
}

std::string join(const std::vector<std::string>& items, size_t limit = 5) {
    std::string out;
    for (size_t i = 0; i < items.size() && i < limit; ++i) {
        if (i) out += ", ";
        out += items[i];
    }
    if (items.size() > limit) out += fmt::format(" and {} more", items.size() - limit);
    return out;
}

#if defined(WARD_PART_LLM) && defined(WARD_PART_ASSIST)
using EncoderPtr = std::unique_ptr<llm::LocalBackend>;

std::string embed_name_of(const KbArgs& a) {
    return a.embed_name.empty() ? std::filesystem::path(a.embed_model).stem().string()
                                : a.embed_name;
}

Result<EncoderPtr> load_encoder(const KbArgs& a) {
    llm::LocalBackendOptions o;
    o.name = embed_name_of(a);
    o.path = a.embed_model;
    o.threads = a.threads;
    WARD_ASSIGN_OR_RETURN(auto backend, llm::LocalBackend::create(o));
    if (!backend->info().embedding) {
        return invalid_argument("--embed-model {}: not an embedding model (architecture {})",
                                a.embed_model, backend->info().description);
    }
    return backend;
}

// Sets the query's embedding when --embed-model is given.
Status embed_query(const KbArgs& a, llm::Backend* encoder, knowledge::Query& q) {
    if (encoder == nullptr) return ok_status();
    llm::EmbeddingRequest er{encoder->info().name, {q.text}};
    WARD_ASSIGN_OR_RETURN(llm::Embeddings e, encoder->embed(er));
    if (e.vectors.size() != 1) return internal_error("kb: the encoder returned no vector");
    q.embedding = std::move(e.vectors[0]);
    q.embedding_model = embed_name_of(a);
    return ok_status();
}

Status run_embed(const KbArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    WARD_ASSIGN_OR_RETURN(auto encoder, load_encoder(a));
    const std::string name = embed_name_of(a);
    auto start = std::chrono::steady_clock::now();
    size_t done = 0, shortened = 0;
    while (true) {
        WARD_ASSIGN_OR_RETURN(assist::EmbedStep step,
                              assist::embed_pending_chunks(*store, *encoder, name, 64));
        if (step.embedded == 0) break;
        done += step.embedded;
        shortened += step.shortened;
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf(
        "embedded %zu chunks with %s in %.1f s (%zu cut to the encoder's context of %d "
        "tokens)\n",
        done, name.c_str(), seconds, shortened, encoder->info().context_length);
    return ok_status();
}
#else
struct NoEncoder {};
using EncoderPtr = std::unique_ptr<NoEncoder>;
Result<EncoderPtr> load_encoder(const KbArgs&) {
    return failed_precondition("--embed-model: this build has no llm part");
}
Status embed_query(const KbArgs&, NoEncoder*, knowledge::Query&) {
    return ok_status();
}
#endif

Status run_add(const KbArgs& a) {
    auto start = std::chrono::steady_clock::now();
    size_t bytes = 0;
    WARD_ASSIGN_OR_RETURN(std::vector<knowledge::Document> docs, read_all(a, &bytes));
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, /*create=*/true));
    std::string note = a.note.empty() ? fmt::format("add {}", join(a.paths, 3)) : a.note;
    WARD_ASSIGN_OR_RETURN(knowledge::AddReport r, store->add(docs, note));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (a.json) {
        json out = {{"version", r.version ? json(*r.version) : json(nullptr)},
                    {"added", r.added},
                    {"replaced", r.replaced},
                    {"unchanged", r.unchanged},
                    {"duplicates", r.duplicates},
                    {"chunks", r.chunks},
                    {"bytes", bytes},
                    {"seconds", seconds}};
        std::printf("%s\n", out.dump().c_str());
        return ok_status();
    }
    if (r.version) {
        std::printf(
            "version %lld: added %zu, replaced %zu, unchanged %zu, duplicates %zu; %lld "
            "chunks from %.1f MB in %.2f s (%.1f MB/s)\n",
            static_cast<long long>(*r.version), r.added.size(), r.replaced.size(),
            r.unchanged.size(), r.duplicates.size(), static_cast<long long>(r.chunks),
            static_cast<double>(bytes) / 1e6, seconds,
            seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0);
    } else {
        std::printf("no change: %zu unchanged, %zu duplicates\n", r.unchanged.size(),
                    r.duplicates.size());
    }
    if (!r.duplicates.empty()) {
        std::fprintf(stderr, "skipped duplicates: %s\n", join(r.duplicates).c_str());
    }
    return ok_status();
}

Status run_remove(const KbArgs& a) {
    if (a.paths.empty() && a.source.empty()) {
        return invalid_argument("kb remove: name document ids or --source");
    }
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    std::optional<std::string> source;
    if (!a.source.empty()) source = a.source;
    std::string note = a.note.empty() ? (a.paths.empty() ? "remove source " + a.source
                                                         : "remove " + join(a.paths, 3))
                                      : a.note;
    WARD_ASSIGN_OR_RETURN(knowledge::RemoveReport r, store->remove(a.paths, source, note));
    if (r.version) {
        std::printf("version %lld: removed %zu\n", static_cast<long long>(*r.version),
                    r.removed.size());
    } else {
        std::printf("no change\n");
    }
    if (!r.not_found.empty()) {
        std::fprintf(stderr, "not in the knowledge base: %s\n", join(r.not_found).c_str());
        if (r.removed.empty()) return not_found("kb remove: no such document");
    }
    return ok_status();
}

std::optional<int64_t> version_of(const KbArgs& a) {
    return a.version > 0 ? std::optional<int64_t>(a.version) : std::nullopt;
}

Status run_list(const KbArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    std::optional<std::string> source;
    if (!a.source.empty()) source = a.source;
    WARD_ASSIGN_OR_RETURN(auto docs, store->list(version_of(a), source));
    if (a.json) {
        for (const auto& d : docs) std::printf("%s\n", knowledge::document_json(d).dump().c_str());
        return ok_status();
    }
    std::printf("%-32s  %-16s  %6s  %8s  %s\n", "DOC_ID", "SOURCE", "CHUNKS", "VERSION", "TITLE");
    for (const auto& d : docs) {
        std::printf("%-32s  %-16s  %6lld  %8lld  %s\n", d.doc_id.c_str(), d.source.c_str(),
                    static_cast<long long>(d.chunks), static_cast<long long>(d.added_version),
                    d.title.c_str());
    }
    return ok_status();
}

Status run_versions(const KbArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    WARD_ASSIGN_OR_RETURN(auto versions, store->versions());
    if (a.json) {
        for (const auto& v : versions) {
            std::printf("%s\n", knowledge::version_json(v).dump().c_str());
        }
        return ok_status();
    }
    std::printf("%7s  %-20s  %9s  %7s  %s\n", "VERSION", "CREATED", "DOCUMENTS", "CHUNKS", "NOTE");
    for (const auto& v : versions) {
        std::printf("%7lld  %-20s  %9lld  %7lld  %s\n", static_cast<long long>(v.id),
                    v.created.c_str(), static_cast<long long>(v.documents),
                    static_cast<long long>(v.chunks), v.note.c_str());
    }
    return ok_status();
}

Status run_diff(const KbArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    WARD_ASSIGN_OR_RETURN(knowledge::Diff d, store->diff(a.version, a.version2));
    if (a.json) {
        std::printf("%s\n", knowledge::diff_json(d).dump().c_str());
        return ok_status();
    }
    auto print = [](char sign, const std::vector<knowledge::DocumentInfo>& docs) {
        for (const auto& doc : docs) {
            std::printf("%c %s  (%s) %s\n", sign, doc.doc_id.c_str(), doc.source.c_str(),
                        doc.title.c_str());
        }
    };
    print('+', d.added);
    print('-', d.removed);
    print('~', d.changed);
    std::printf("%zu added, %zu removed, %zu changed between versions %lld and %lld\n",
                d.added.size(), d.removed.size(), d.changed.size(), static_cast<long long>(d.from),
                static_cast<long long>(d.to));
    return ok_status();
}

Status run_search(const KbArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    knowledge::Query q;
    q.text = a.query;
    q.k = a.k;
    q.version = version_of(a);
    q.sources = a.sources;
    if (!a.embed_model.empty()) {
        WARD_ASSIGN_OR_RETURN(auto encoder, load_encoder(a));
        WARD_TRY(embed_query(a, encoder.get(), q));
    }
    WARD_ASSIGN_OR_RETURN(knowledge::SearchResult r, store->search(q));
    if (a.json) {
        for (const auto& h : r.hits) std::printf("%s\n", knowledge::hit_json(h).dump().c_str());
        return ok_status();
    }
    for (const auto& h : r.hits) {
        std::printf("%d. [%.3f] %s — %s (%s, chunk %lld)\n", h.rank, h.score, h.title.c_str(),
                    h.source.c_str(), h.doc_id.c_str(), static_cast<long long>(h.chunk_id));
        if (!h.heading.empty()) std::printf("   %s\n", h.heading.c_str());
        std::string text = h.text.size() > 400 ? h.text.substr(0, 400) + "..." : h.text;
        std::printf("   %s\n\n", text.c_str());
    }
    std::fprintf(stderr, "%zu hits from version %lld (%s)\n", r.hits.size(),
                 static_cast<long long>(r.version), r.mode.c_str());
    return ok_status();
}

Status run_prune(const KbArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    WARD_ASSIGN_OR_RETURN(knowledge::PruneReport r, store->prune(a.keep_from));
    std::printf(
        "pruned %lld documents, %lld chunks; versions before %lld are no longer "
        "queryable\n",
        static_cast<long long>(r.documents), static_cast<long long>(r.chunks),
        static_cast<long long>(a.keep_from));
    return ok_status();
}

// Retrieval quality on a labelled question set: each record's text is a question and its id
// the doc_id that should be retrieved.
Status run_eval(const KbArgs& a) {
    WARD_ASSIGN_OR_RETURN(auto store, open_store(a, false));
    if (a.paths.size() != 1) return invalid_argument("kb eval: give one question file");
    WARD_ASSIGN_OR_RETURN(knowledge::IngestOptions o, ingest_options(a));
    if (!o.mapping) return invalid_argument("kb eval: --map id=FIELD --map text=FIELD required");
    o.chunking.max_tokens = 1 << 20;  // questions are read whole
    WARD_ASSIGN_OR_RETURN(auto questions, knowledge::read_documents(a.paths[0], o));
    const std::vector<int> cutoffs = {1, 5, 10};
    const int k = std::max(a.k, 10);
    EncoderPtr encoder;
    if (!a.embed_model.empty()) {
        WARD_ASSIGN_OR_RETURN(encoder, load_encoder(a));
    }
    std::string mode = "bm25";
    std::map<int, size_t> found;
    double reciprocal = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& q : questions) {
        knowledge::Query query;
        query.text = q.content;
        query.k = k;
        query.version = version_of(a);
        WARD_TRY(embed_query(a, encoder.get(), query));
        WARD_ASSIGN_OR_RETURN(knowledge::SearchResult r, store->search(query));
        mode = r.mode;
        for (const auto& h : r.hits) {
            if (h.doc_id != q.doc_id) continue;
            for (int c : cutoffs) {
                if (h.rank <= c) ++found[c];
            }
            reciprocal += 1.0 / h.rank;
            break;
        }
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double n = static_cast<double>(std::max<size_t>(questions.size(), 1));
    json out = {{"questions", questions.size()},
                {"mode", mode},
                {"recall_at_1", static_cast<double>(found[1]) / n},
                {"recall_at_5", static_cast<double>(found[5]) / n},
                {"recall_at_10", static_cast<double>(found[10]) / n},
                {"mrr_at_10", reciprocal / n},
                {"ms_per_query", seconds * 1000 / n}};
    if (a.json) {
        std::printf("%s\n", out.dump().c_str());
    } else {
        std::printf(
            "%zu questions (%s): recall@1 %.3f  recall@5 %.3f  recall@10 %.3f  MRR@10 %.3f  "
            "(%.2f ms per query)\n",
            questions.size(), mode.c_str(), out["recall_at_1"].get<double>(),
            out["recall_at_5"].get<double>(), out["recall_at_10"].get<double>(),
            out["mrr_at_10"].get<double>(), out["ms_per_query"].get<double>());
    }
    return ok_status();
}

void add_embed_options(CLI::App* sub, KbArgs& a) {
    sub->add_option("--embed-model", a.embed_model,
                    "Encoder GGUF: fuse dense retrieval with BM25 (vectors from `kb embed`)");
    sub->add_option("--name", a.embed_name, "Name the vectors are stored under (default: stem)");
}

void add_store_options(CLI::App* sub, KbArgs& a) {
    sub->add_option("--kb", a.kb, "Knowledge base file (default <data dir>/knowledge.db)");
    sub->add_option("--data-dir", a.data_dir,
                    "Data directory (default $WARD_DATA_DIR or ward-data)");
}

}  // namespace

void register_knowledge_commands(CLI::App& app, Context& ctx) {
    auto a = std::make_shared<KbArgs>();
    CLI::App* kb = app.add_subcommand("kb", "The versioned knowledge base");
    kb->require_subcommand(1);

    CLI::App* add = kb->add_subcommand("add", "Add or update documents (one new version)");
    add->add_option("paths", a->paths, "Files or directories")->required();
    add->add_option("--source", a->source, "Source name for the documents (default: file stem)");
    add->add_option("--licence,--license", a->licence, "Licence of the documents (SPDX id)");
    add->add_option("--format", a->format, "Force a format")
        ->check(CLI::IsMember({"markdown", "text", "html", "json", "jsonl", "csv", "pdf"}));
    add->add_option("--map", a->maps,
                    "Record field mapping for JSON/JSONL/CSV: id=NAME (or @key), text=A[,B], "
                    "title=, location=, published=, licence=, source=");
    add->add_option("--max-tokens", a->max_tokens, "Chunk size cap in tokens")
        ->check(CLI::Range(16, 8192));
    add->add_option("--overlap", a->overlap, "Overlap between split pieces in tokens")
        ->check(CLI::Range(0, 4096));
    add->add_option("--note", a->note, "What this version is (default: the paths)");
    add->add_flag("--json", a->json, "Print the report as JSON");
    add_store_options(add, *a);
    set_action(add, ctx, [a] { return run_add(*a); });

    CLI::App* remove = kb->add_subcommand("remove", "Remove documents (one new version)");
    remove->add_option("doc_ids", a->paths, "Document ids");
    remove->add_option("--source", a->source, "Remove every document of this source");
    remove->add_option("--note", a->note, "What this version is");
    add_store_options(remove, *a);
    set_action(remove, ctx, [a] { return run_remove(*a); });

    CLI::App* list = kb->add_subcommand("list", "List the documents of a version");
    list->add_option("--version", a->version, "Version (default: current)")
        ->check(CLI::PositiveNumber);
    list->add_option("--source", a->source, "Only this source");
    list->add_flag("--json", a->json, "One JSON object per line");
    add_store_options(list, *a);
    set_action(list, ctx, [a] { return run_list(*a); });

    CLI::App* versions = kb->add_subcommand("versions", "List the versions");
    versions->add_flag("--json", a->json, "One JSON object per line");
    add_store_options(versions, *a);
    set_action(versions, ctx, [a] { return run_versions(*a); });

    CLI::App* diff = kb->add_subcommand("diff", "Documents added, removed or changed");
    diff->add_option("from", a->version, "Older version")->required();
    diff->add_option("to", a->version2, "Newer version")->required();
    diff->add_flag("--json", a->json, "One JSON object");
    add_store_options(diff, *a);
    set_action(diff, ctx, [a] { return run_diff(*a); });

    CLI::App* search = kb->add_subcommand("search", "The top passages for a query");
    search->add_option("query", a->query, "Query text")->required();
    search->add_option("-k", a->k, "Passages")->check(CLI::Range(1, 100));
    search->add_option("--version", a->version, "Version (default: current)")
        ->check(CLI::PositiveNumber);
    search->add_option("--source", a->sources, "Only these sources (repeatable)");
    search->add_flag(
        "--json", a->json,
        "One JSON object per line: rank, score, doc_id, source, title, chunk_id, text");
    add_embed_options(search, *a);
    add_store_options(search, *a);
    set_action(search, ctx, [a] { return run_search(*a); });

    CLI::App* prune = kb->add_subcommand("prune", "Delete what no version >= V needs");
    prune->add_option("--keep-from", a->keep_from, "Oldest version to keep queryable")
        ->required()
        ->check(CLI::PositiveNumber);
    add_store_options(prune, *a);
    set_action(prune, ctx, [a] { return run_prune(*a); });

    CLI::App* eval = kb->add_subcommand(
        "eval", "Retrieval recall@1/5/10 on questions labelled with the doc_id to find");
    eval->add_option("file", a->paths, "Questions (JSON, JSONL or CSV)")->required();
    eval->add_option("--map", a->maps, "id=FIELD (the expected doc_id), text=FIELD (question)")
        ->required();
    eval->add_option("--version", a->version, "Version (default: current)")
        ->check(CLI::PositiveNumber);
    eval->add_flag("--json", a->json, "One JSON object");
    add_embed_options(eval, *a);
    add_store_options(eval, *a);
    set_action(eval, ctx, [a] { return run_eval(*a); });

#if defined(WARD_PART_LLM) && defined(WARD_PART_ASSIST)
    CLI::App* embed = kb->add_subcommand(
        "embed", "Store vectors of every chunk that has none yet, with a local encoder");
    embed->add_option("-m,--model", a->embed_model, "Encoder GGUF (architecture bert)")->required();
    embed->add_option("--name", a->embed_name,
                      "Name the vectors are stored under (default: the file stem; the server "
                      "must use the same name as knowledge.embedding_model)");
    embed->add_option("-t,--threads", a->threads, "Threads (0: all cores)")
        ->check(CLI::Range(0, 1024));
    add_store_options(embed, *a);
    set_action(embed, ctx, [a] { return run_embed(*a); });
#endif
}

}  // namespace ward::cli
