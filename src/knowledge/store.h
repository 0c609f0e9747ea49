// The knowledge store: documents, their chunks and knowledge-base versions in one SQLite file,
// chunks indexed by FTS5 for BM25 retrieval, optional chunk embeddings for dense retrieval and
// reciprocal-rank fusion of both.
//
// Versions: every change (add, remove, prune) that alters the live set creates a new version
// id (1, 2, 3, ...). A document lives in versions [added_version, removed_version); replacing a
// document (same doc_id, new content) removes the old row and adds the new one in the same
// version. Any version from the oldest unpruned one up to the current one can be searched and
// listed; prune(V) deletes what is not live in any version >= V.
//
// Transactions: each add()/remove()/prune() is one SQLite transaction; on any error nothing
// changes and no version is created.
//
// Thread safety: a Store may be used from any number of threads at once (it keeps one SQLite
// connection per concurrent caller). Other processes may change the file at the same time
// (`ward kb add` while a server runs): every call sees the latest committed version unless it
// names one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "knowledge/document.h"

namespace ward::knowledge {

struct VersionInfo {
    int64_t id = 0;
    std::string created;    // ISO 8601 UTC seconds
    std::string note;       // what made it ("add 3 documents from guidelines/")
    int64_t documents = 0;  // live documents in this version
    int64_t chunks = 0;     // live chunks in this version
};

struct DocumentInfo {
    std::string doc_id;
    std::string source;
    std::string title;
    std::string location;
    std::string licence;
    std::string published;
    std::string format;
    std::string content_sha256;
    int64_t chunks = 0;
    int64_t bytes = 0;  // of content
    int64_t added_version = 0;
    std::optional<int64_t> removed_version;
};

struct AddReport {
    std::optional<int64_t> version;       // the new version; nullopt when nothing changed
    std::vector<std::string> added;       // doc_ids new to the store
    std::vector<std::string> replaced;    // doc_ids whose content changed
    std::vector<std::string> unchanged;   // same doc_id, same content: skipped
    std::vector<std::string> duplicates;  // other doc_id, same content as a live document: skipped
                                          // ("<doc_id> (same content as <live doc_id>)")
    int64_t chunks = 0;                   // chunks written
};

struct RemoveReport {
    std::optional<int64_t> version;
    std::vector<std::string> removed;    // doc_ids
    std::vector<std::string> not_found;  // doc_ids that were not live
};

struct Diff {
    int64_t from = 0;
    int64_t to = 0;
    std::vector<DocumentInfo> added;    // live in `to`, not in `from` (by doc_id)
    std::vector<DocumentInfo> removed;  // live in `from`, not in `to`
    std::vector<DocumentInfo> changed;  // live in both with different content (the `to` row)
};

struct Hit {
    int rank = 0;      // 1-based
    double score = 0;  // higher is better: -bm25 for lexical, cosine for dense, RRF for fused
    int64_t chunk_id = 0;
    int chunk_ordinal = 0;
    std::string doc_id;
    std::string source;
    std::string title;
    std::string location;
    std::string licence;
    std::string published;
    std::string heading;
    std::string text;
};

struct Query {
    std::string text;                  // natural language; normalised and expanded (normalize.h)
    int k = 5;                         // hits wanted, 1..100
    std::optional<int64_t> version;    // nullopt: the current version
    std::vector<std::string> sources;  // only these sources; empty: all
    // Dense retrieval: the query's embedding and the embedding model's name; when set and the
    // store holds embeddings of that model, BM25 and dense rankings are fused by reciprocal
    // rank (k = 60). Chunks without an embedding take part in BM25 only.
    std::optional<std::vector<float>> embedding;
    std::string embedding_model;
};

struct SearchResult {
    int64_t version = 0;  // the version searched
    std::string mode;     // "bm25", "dense" or "fusion"
    std::vector<Hit> hits;
};

struct PruneReport {
    std::optional<int64_t> version;
    int64_t documents = 0;  // rows deleted
    int64_t chunks = 0;
    int64_t versions = 0;  // version rows no longer queryable
};

struct PendingEmbedding {
    int64_t chunk_id = 0;
    std::string text;  // heading path and text, as they should be embedded
};

class Store {
  public:
    // Opens or creates the store at `path` (":memory:" is not allowed: connections must share
    // the file). Errors: kInvalidArgument for a file that is not a knowledge store (or of a
    // newer schema), SQLite's own for I/O.
    static Result<std::shared_ptr<Store>> open(const std::string& path);
    ~Store();

    const std::string& path() const;

    // Adds documents in one transaction; chunks must already be filled in. De-duplication:
    // see AddReport. Errors leave the store unchanged.
    Result<AddReport> add(std::span<const Document> documents, std::string_view note);
    // Removes live documents by doc_id, or every live document of `source` when doc_ids is
    // empty and source is set.
    Result<RemoveReport> remove(std::span<const std::string> doc_ids,
                                std::optional<std::string> source, std::string_view note);
    // Deletes rows not live in any version >= keep_from (which must exist).
    Result<PruneReport> prune(int64_t keep_from);

    // 0 for an empty store that never changed.
    Result<int64_t> current_version() const;
    Result<std::vector<VersionInfo>> versions() const;
    // Documents live in `version` (current when nullopt), optionally of one source.
    Result<std::vector<DocumentInfo>> list(std::optional<int64_t> version,
                                           std::optional<std::string> source) const;
    Result<Diff> diff(int64_t from, int64_t to) const;
    Result<SearchResult> search(const Query& query) const;
    // One chunk by id (its document's metadata filled in), for resolving citations.
    Result<Hit> chunk(int64_t chunk_id) const;

    // Dense retrieval support: chunks live in the current version that have no embedding of
    // `model` (at most `limit`), and storing their vectors (all of one dimension per model).
    Result<std::vector<PendingEmbedding>> pending_embeddings(std::string_view model,
                                                             size_t limit) const;
    Status put_embeddings(std::string_view model,
                          std::span<const std::pair<int64_t, std::vector<float>>> vectors);

  private:
    struct Impl;
    explicit Store(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace ward::knowledge
