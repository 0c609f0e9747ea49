#include "knowledge/store.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <utf8proc.h>
#include <nlohmann/json.hpp>

#include "common/civil_date.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/sqlite.h"
#include "knowledge/normalize.h"

namespace ward::knowledge {
namespace {

constexpr std::string_view kApplication = "ward-knowledge";
constexpr int64_t kSchemaVersion = 1;
constexpr size_t kMaxIdleConnections = 8;
constexpr int kMaxK = 100;
// Reciprocal-rank fusion: score = sum over rankings of 1 / (kRrfK + rank), rank 1-based
// (Cormack, Clarke and Buettcher 2009). Each ranking contributes its top kFusionDepth.
constexpr double kRrfK = 60.0;
constexpr int kFusionDepth = 50;
// FTS5 computes BM25 for every row that matches any term of an OR query (about 2 us a row), and
// a question's common words ("patients", "study") match a third of a large store. So the terms
// are taken rarest first while the rows they match add up to at most this many; the rest, all
// more common than any kept term, are left out (see docs/knowledge.md, "Retrieval").
constexpr int64_t kCandidateBudget = 2000;
// Memory-mapped reads: the FTS5 index pages come from the OS page cache without a read() each.
constexpr std::string_view kMmapPragma = "PRAGMA mmap_size = 1073741824";

// Chunks are the FTS5 table's external content: the triggers keep the index in step with every
// insert and delete (prune deletes rows; chunks are never updated).
constexpr std::string_view kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE versions(
  id INTEGER PRIMARY KEY,
  created TEXT NOT NULL,
  note TEXT NOT NULL,
  documents INTEGER NOT NULL,
  chunks INTEGER NOT NULL);
CREATE TABLE documents(
  id INTEGER PRIMARY KEY,
  doc_id TEXT NOT NULL,
  source TEXT NOT NULL,
  title TEXT NOT NULL,
  location TEXT NOT NULL,
  licence TEXT NOT NULL,
  published TEXT NOT NULL,
  format TEXT NOT NULL,
  content TEXT NOT NULL,
  content_sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  chunk_count INTEGER NOT NULL,
  added_version INTEGER NOT NULL,
  removed_version INTEGER);
CREATE UNIQUE INDEX documents_live_doc_id ON documents(doc_id) WHERE removed_version IS NULL;
CREATE INDEX documents_doc_id ON documents(doc_id, added_version);
CREATE INDEX documents_sha256 ON documents(content_sha256) WHERE removed_version IS NULL;
CREATE INDEX documents_versions ON documents(added_version, removed_version);
CREATE INDEX documents_removed ON documents(removed_version);
CREATE INDEX documents_source ON documents(source, removed_version);
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY,
  document INTEGER NOT NULL REFERENCES documents(id),
  ordinal INTEGER NOT NULL,
  heading TEXT NOT NULL,
  text TEXT NOT NULL,
  tokens INTEGER NOT NULL);
CREATE INDEX chunks_document ON chunks(document, ordinal);
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  heading, text, content='chunks', content_rowid='id',
  tokenize='porter unicode61 remove_diacritics 2');
-- Ranking: BM25 with equal weights for the heading path and the text (a heading is the title
-- and section names, short fields that BM25's length normalisation already favours).
INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 1.0)');
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, heading, text) VALUES (new.id, new.heading, new.text);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, heading, text)
    VALUES ('delete', old.id, old.heading, old.text);
END;
CREATE TRIGGER chunks_immutable BEFORE UPDATE ON chunks BEGIN
  SELECT RAISE(ABORT, 'knowledge: chunks are never updated');
END;
CREATE TABLE embeddings(
  chunk INTEGER NOT NULL REFERENCES chunks(id),
  model TEXT NOT NULL,
  dim INTEGER NOT NULL,
  vector BLOB NOT NULL,
  PRIMARY KEY(model, chunk));
CREATE INDEX embeddings_chunk ON embeddings(chunk);
)sql";

// "Live in version ?1": the document was added at or before it and not removed by it.
#define WARD_LIVE_IN(v) \
    "d.added_version <= " v " AND (d.removed_version IS NULL OR d.removed_version > " v ")"

constexpr std::string_view kDocumentColumns =
    "d.doc_id, d.source, d.title, d.location, d.licence, d.published, d.format, "
    "d.content_sha256, d.chunk_count, d.bytes, d.added_version, d.removed_version";

bool valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
    size_t i = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII fast path
            ++i;
            continue;
        }
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t n =
            utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
        if (n <= 0 || cp < 0) return false;
        i += static_cast<size_t>(n);
    }
    return true;
}

// One SQLite connection with its prepared statements, reused across calls.
struct Connection {
    Database db;
    std::unordered_map<std::string, std::unique_ptr<Statement>> statements;

    // A prepared statement for `sql`, reset and unbound, owned by this connection.
    Result<Statement*> prepare(std::string_view sql) {
        auto it = statements.find(std::string(sql));
        if (it != statements.end()) {
            it->second->reset();
            return it->second.get();
        }
        WARD_ASSIGN_OR_RETURN(Statement stmt, db.prepare(sql));
        auto owned = std::make_unique<Statement>(std::move(stmt));
        Statement* raw = owned.get();
        statements.emplace(std::string(sql), std::move(owned));
        return raw;
    }
    // Ends every statement's read so an idle connection holds no snapshot of the file.
    void release() {
        for (auto& [sql, stmt] : statements) stmt->reset();
    }
};

Result<int64_t> query_int(Connection& c, std::string_view sql, std::optional<int64_t> arg = {}) {
    WARD_ASSIGN_OR_RETURN(Statement * stmt, c.prepare(sql));
    if (arg) stmt->bind(1, *arg);
    WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
    int64_t value = row ? stmt->column_int(0) : 0;
    stmt->reset();
    return value;
}

// How many rows of the FTS5 index (live or not) match a term, counted up to `cap` + 1: enough to
// tell a term that fits the budget from one that does not, at a cost bounded by the cap.
Result<int64_t> capped_frequency(Connection& c, const Term& term, int64_t cap) {
    WARD_ASSIGN_OR_RETURN(
        Statement * stmt,
        c.prepare("SELECT COUNT(*) FROM (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1 "
                  "LIMIT ?2)"));
    stmt->bind(1, quote_fts5(term)).bind(2, cap + 1);
    WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
    int64_t n = row ? stmt->column_int(0) : 0;
    stmt->reset();
    return n;
}

// Capped row counts of terms, shared by a Store's connections. The FTS5 index changes only when
// the newest version changes (add, remove) or the oldest one does (prune), so the counts are
// kept for one (oldest, newest) pair and dropped when either moves.
class FrequencyCache {
  public:
    static constexpr size_t kMaxEntries = 20000;

    std::optional<int64_t> find(std::pair<int64_t, int64_t> index_state, const std::string& term) {
        std::lock_guard lock(mutex_);
        if (index_state != state_) {
            counts_.clear();
            state_ = index_state;
        }
        auto it = counts_.find(term);
        if (it == counts_.end()) return std::nullopt;
        return it->second;
    }
    void put(std::pair<int64_t, int64_t> index_state, const std::string& term, int64_t count) {
        std::lock_guard lock(mutex_);
        if (index_state != state_) return;
        if (counts_.size() >= kMaxEntries) counts_.clear();
        counts_[term] = count;
    }

  private:
    std::mutex mutex_;
    std::pair<int64_t, int64_t> state_{-1, -1};        // guarded by mutex_
    std::unordered_map<std::string, int64_t> counts_;  // guarded by mutex_
};

// The terms to search for: all of them when the rows they match add up to at most
// kCandidateBudget, else the rarest ones that fit (at least the rarest one), in query order.
Result<std::vector<Term>> select_terms(Connection& c, FrequencyCache& cache,
                                       const std::vector<Term>& terms) {
    WARD_ASSIGN_OR_RETURN(
        Statement * bounds,
        c.prepare("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM versions"));
    WARD_ASSIGN_OR_RETURN(bool has_bounds, bounds->step());
    std::pair<int64_t, int64_t> index_state{0, 0};
    if (has_bounds) index_state = {bounds->column_int(0), bounds->column_int(1)};
    bounds->reset();

    std::vector<std::pair<int64_t, size_t>> by_frequency;  // df, index
    int64_t total = 0;
    for (size_t i = 0; i < terms.size(); ++i) {
        const std::string key = quote_fts5(terms[i]);
        std::optional<int64_t> df = cache.find(index_state, key);
        if (!df) {
            WARD_ASSIGN_OR_RETURN(df, capped_frequency(c, terms[i], kCandidateBudget));
            cache.put(index_state, key, *df);
        }
        by_frequency.emplace_back(*df, i);
        total += *df;
    }
    if (total <= kCandidateBudget) return terms;
    std::stable_sort(by_frequency.begin(), by_frequency.end());
    std::vector<bool> keep(terms.size(), false);
    int64_t rows = 0;
    for (size_t j = 0; j < by_frequency.size(); ++j) {
        auto [df, i] = by_frequency[j];
        if (j > 0 && rows + df > kCandidateBudget) break;
        keep[i] = true;
        rows += df;
    }
    std::vector<Term> kept;
    for (size_t i = 0; i < terms.size(); ++i) {
        if (keep[i]) kept.push_back(terms[i]);
    }
    return kept;
}

Result<int64_t> latest_version(Connection& c) {
    return query_int(c, "SELECT COALESCE(MAX(id), 0) FROM versions");
}

// The version a read names, checked: the current one when nullopt (0 for a store that never
// changed), else one that exists and was not pruned.
Result<int64_t> resolve_version(Connection& c, std::optional<int64_t> version) {
    WARD_ASSIGN_OR_RETURN(int64_t current, latest_version(c));
    if (!version) return current;
    WARD_ASSIGN_OR_RETURN(int64_t exists,
                          query_int(c, "SELECT COUNT(*) FROM versions WHERE id = ?", *version));
    if (exists) return *version;
    if (*version > 0 && *version < current) {
        WARD_ASSIGN_OR_RETURN(int64_t oldest,
                              query_int(c, "SELECT COALESCE(MIN(id), 0) FROM versions"));
        return not_found("knowledge: version {} was pruned (the oldest kept is {})", *version,
                         oldest);
    }
    return not_found("knowledge: version {} does not exist (the current version is {})", *version,
                     current);
}

// Adds the version row for `id` with the counts of what is live now (the new version is the
// latest, so live means not removed).
Status record_version(Connection& c, int64_t id, std::string_view note) {
    WARD_ASSIGN_OR_RETURN(
        Statement * stmt,
        c.prepare("INSERT INTO versions(id, created, note, documents, chunks) "
                  "SELECT ?, ?, ?, COUNT(*), COALESCE(SUM(chunk_count), 0) FROM documents "
                  "WHERE removed_version IS NULL"));
    stmt->bind(1, id).bind(2, utc_now()).bind(3, note);
    return stmt->run();
}

DocumentInfo read_document_info(const Statement& s, int first) {
    DocumentInfo info;
    info.doc_id = s.column_text(first + 0);
    info.source = s.column_text(first + 1);
    info.title = s.column_text(first + 2);
    info.location = s.column_text(first + 3);
    info.licence = s.column_text(first + 4);
    info.published = s.column_text(first + 5);
    info.format = s.column_text(first + 6);
    info.content_sha256 = s.column_text(first + 7);
    info.chunks = s.column_int(first + 8);
    info.bytes = s.column_int(first + 9);
    info.added_version = s.column_int(first + 10);
    if (!s.column_is_null(first + 11)) info.removed_version = s.column_int(first + 11);
    return info;
}

Result<std::vector<DocumentInfo>> live_documents(Connection& c, int64_t version,
                                                 const std::optional<std::string>& source) {
    std::vector<DocumentInfo> out;
    if (version == 0) return out;
    WARD_ASSIGN_OR_RETURN(Statement * stmt,
                          c.prepare(fmt::format("SELECT {} FROM documents d WHERE " WARD_LIVE_IN(
                                                    "?1") " AND (?2 IS NULL OR d.source = ?2) "
                                                          "ORDER BY d.doc_id",
                                                kDocumentColumns)));
    stmt->bind(1, version);
    if (source) {
        stmt->bind(2, *source);
    } else {
        stmt->bind_null(2);
    }
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
        if (!row) break;
        out.push_back(read_document_info(*stmt, 0));
    }
    stmt->reset();
    return out;
}

Status check_document(const Document& doc, size_t index) {
    auto where = [&] {
        return fmt::format("knowledge: document {} (doc_id \"{}\")", index, doc.doc_id);
    };
    if (doc.doc_id.empty())
        return invalid_argument("knowledge: document {} has an empty doc_id", index);
    if (!valid_utf8(doc.doc_id)) {
        return invalid_argument("knowledge: document {}: doc_id is not valid UTF-8", index);
    }
    const std::pair<const char*, const std::string*> fields[] = {
        {"source", &doc.source},   {"title", &doc.title},         {"location", &doc.location},
        {"licence", &doc.licence}, {"published", &doc.published}, {"format", &doc.format},
        {"content", &doc.content}};
    for (const auto& [name, value] : fields) {
        if (!valid_utf8(*value))
            return invalid_argument("{}: {} is not valid UTF-8", where(), name);
    }
    if (doc.content.empty()) return invalid_argument("{}: content is empty", where());
    if (doc.chunks.empty()) return invalid_argument("{}: has no chunks", where());
    for (size_t i = 0; i < doc.chunks.size(); ++i) {
        const Chunk& chunk = doc.chunks[i];
        if (chunk.ordinal != static_cast<int>(i)) {
            return invalid_argument("{}: chunk {} has ordinal {} (ordinals run 0, 1, 2, ...)",
                                    where(), i, chunk.ordinal);
        }
        if (chunk.text.empty()) return invalid_argument("{}: chunk {} has empty text", where(), i);
        if (!valid_utf8(chunk.text) || !valid_utf8(chunk.heading)) {
            return invalid_argument("{}: chunk {} is not valid UTF-8", where(), i);
        }
        if (chunk.tokens < 0) {
            return invalid_argument("{}: chunk {} has a negative token count", where(), i);
        }
    }
    if (!doc.content_sha256.empty() && doc.content_sha256 != crypto::sha256_hex(doc.content)) {
        return invalid_argument("{}: content_sha256 is not the SHA-256 of its content", where());
    }
    return ok_status();
}

// Embeddings are stored as the raw float32 values (little-endian on every platform Ward builds
// for), `dim` of them.
std::vector<uint8_t> vector_blob(const std::vector<float>& v) {
    std::vector<uint8_t> blob(v.size() * sizeof(float));
    if (!v.empty()) std::memcpy(blob.data(), v.data(), blob.size());
    return blob;
}

Status check_vector(const std::vector<float>& v, std::string_view what) {
    if (v.empty()) return invalid_argument("knowledge: {} is empty", what);
    double norm = 0;
    for (float x : v) {
        if (!std::isfinite(x))
            return invalid_argument("knowledge: {} has a non-finite value", what);
        norm += static_cast<double>(x) * x;
    }
    if (norm == 0) return invalid_argument("knowledge: {} is all zeros (no direction)", what);
    return ok_status();
}

// The live chunks' vectors of one model in one version, each scaled to unit length, so a dot
// product with a unit query is the cosine.
struct DenseIndex {
    int64_t version = 0;
    int64_t generation = 0;
    size_t dim = 0;
    std::vector<int64_t> chunk_ids;
    std::vector<uint32_t> source_of;  // index into sources, per row
    std::vector<std::string> sources;
    std::vector<float> matrix;  // [rows, dim]
};

struct Scored {
    int64_t chunk_id;
    double score;
};

}  // namespace

struct Store::Impl {
    std::string path;

    std::mutex pool_mutex;
    std::vector<std::unique_ptr<Connection>> idle;  // guarded by pool_mutex

    std::mutex dense_mutex;
    std::map<std::string, std::shared_ptr<const DenseIndex>, std::less<>> dense;  // by model

    FrequencyCache frequencies;

    // A connection lent to one call and given back on destruction.
    class Lease {
      public:
        Lease(Impl* impl, std::unique_ptr<Connection> c) : impl_(impl), c_(std::move(c)) {}
        Lease(Lease&&) = default;
        ~Lease() {
            if (c_) impl_->give_back(std::move(c_));
        }
        Connection& operator*() { return *c_; }
        Connection* operator->() { return c_.get(); }

      private:
        Impl* impl_;
        std::unique_ptr<Connection> c_;
    };

    Result<std::unique_ptr<Connection>> connect() {
        WARD_ASSIGN_OR_RETURN(Database db, Database::open(path));
        auto c = std::make_unique<Connection>();
        c->db = std::move(db);
        WARD_TRY(c->db.exec(kMmapPragma));
        return c;
    }

    Result<Lease> borrow() {
        {
            std::lock_guard lock(pool_mutex);
            if (!idle.empty()) {
                auto c = std::move(idle.back());
                idle.pop_back();
                return Lease(this, std::move(c));
            }
        }
        WARD_ASSIGN_OR_RETURN(auto c, connect());
        return Lease(this, std::move(c));
    }

    void give_back(std::unique_ptr<Connection> c) {
        c->release();
        std::lock_guard lock(pool_mutex);
        if (idle.size() < kMaxIdleConnections) idle.push_back(std::move(c));
    }

    Result<std::shared_ptr<const DenseIndex>> dense_index(Connection& c, const std::string& model,
                                                          int64_t version);
    Result<std::vector<Scored>> bm25(Connection& c, const std::string& match, int64_t version,
                                     const std::string& sources_json, int limit);
};

Result<std::shared_ptr<const DenseIndex>> Store::Impl::dense_index(Connection& c,
                                                                   const std::string& model,
                                                                   int64_t version) {
    // put_embeddings bumps the generation, so vectors added without a new version are seen.
    WARD_ASSIGN_OR_RETURN(Statement * gen,
                          c.prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?"));
    gen->bind(1, "embeddings_generation");
    WARD_ASSIGN_OR_RETURN(bool has_gen, gen->step());
    int64_t generation = has_gen ? gen->column_int(0) : 0;
    gen->reset();
    {
        std::lock_guard lock(dense_mutex);
        auto it = dense.find(model);
        if (it != dense.end() && it->second->version == version &&
            it->second->generation == generation) {
            return it->second;
        }
    }
    auto index = std::make_shared<DenseIndex>();
    index->version = version;
    index->generation = generation;
    WARD_ASSIGN_OR_RETURN(
        Statement * stmt,
        c.prepare("SELECT e.chunk, e.dim, e.vector, d.source FROM embeddings e "
                  "JOIN chunks c ON c.id = e.chunk JOIN documents d ON d.id = c.document "
                  "WHERE e.model = ?2 AND " WARD_LIVE_IN("?1") " ORDER BY e.chunk"));
    stmt->bind(1, version).bind(2, model);
    std::unordered_map<std::string, uint32_t> source_ids;
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
        if (!row) break;
        auto dim = static_cast<size_t>(stmt->column_int(1));
        std::vector<uint8_t> blob = stmt->column_blob(2);
        if (index->dim == 0) index->dim = dim;
        if (dim != index->dim || blob.size() != dim * sizeof(float)) {
            stmt->reset();
            return data_loss(
                "knowledge: embedding of chunk {} (model \"{}\") has {} bytes, "
                "expected {} floats",
                stmt->column_int(0), model, blob.size(), index->dim);
        }
        size_t offset = index->matrix.size();
        index->matrix.resize(offset + dim);
        float* row_ptr = index->matrix.data() + offset;
        std::memcpy(row_ptr, blob.data(), blob.size());
        double norm = 0;
        for (size_t i = 0; i < dim; ++i) norm += static_cast<double>(row_ptr[i]) * row_ptr[i];
        auto inv = static_cast<float>(norm > 0 ? 1.0 / std::sqrt(norm) : 0.0);
        for (size_t i = 0; i < dim; ++i) row_ptr[i] *= inv;
        index->chunk_ids.push_back(stmt->column_int(0));
        std::string source = stmt->column_text(3);
        auto [it, inserted] =
            source_ids.emplace(source, static_cast<uint32_t>(index->sources.size()));
        if (inserted) index->sources.push_back(source);
        index->source_of.push_back(it->second);
    }
    stmt->reset();
    std::shared_ptr<const DenseIndex> shared = index;
    std::lock_guard lock(dense_mutex);
    dense[model] = shared;
    return shared;
}

Result<std::vector<Scored>> Store::Impl::bm25(Connection& c, const std::string& match,
                                              int64_t version, const std::string& sources_json,
                                              int limit) {
    std::vector<Scored> out;
    // Fast path: FTS5 ranks the index alone (no table lookups per matching row), and the best
    // rows are checked one by one until `limit` of them are live. When too few are (many old
    // versions match, or a source filter), the joined query below gives the exact answer.
    if (sources_json.empty()) {
        const int64_t depth = 2 * static_cast<int64_t>(limit) + 10;
        WARD_ASSIGN_OR_RETURN(Statement * ranked,
                              c.prepare("SELECT rowid, rank FROM chunks_fts WHERE chunks_fts "
                                        "MATCH ?1 ORDER BY rank LIMIT ?2"));
        ranked->bind(1, match).bind(2, depth);
        WARD_ASSIGN_OR_RETURN(
            Statement * live,
            c.prepare("SELECT 1 FROM chunks c JOIN documents d ON d.id = c.document "
                      "WHERE c.id = ?1 AND " WARD_LIVE_IN("?2")));
        int64_t rows = 0;
        while (static_cast<int>(out.size()) < limit) {
            WARD_ASSIGN_OR_RETURN(bool row, ranked->step());
            if (!row) break;
            ++rows;
            live->reset();
            live->bind(1, ranked->column_int(0)).bind(2, version);
            WARD_ASSIGN_OR_RETURN(bool is_live, live->step());
            if (is_live) out.push_back({ranked->column_int(0), -ranked->column_double(1)});
        }
        bool exhausted = rows < depth && static_cast<int>(out.size()) < limit;
        ranked->reset();
        live->reset();
        if (static_cast<int>(out.size()) == limit || exhausted) return out;
        out.clear();
    }
    // The version and source filters sit inside the ranked query, so `limit` live hits come
    // back however many old rows also match.
    WARD_ASSIGN_OR_RETURN(
        Statement * stmt,
        c.prepare(
            "SELECT chunks_fts.rowid, chunks_fts.rank FROM chunks_fts "
            "JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document "
            "WHERE chunks_fts MATCH ?1 AND " WARD_LIVE_IN(
                "?2") " AND (?3 IS NULL OR "
                      "d.source IN (SELECT value FROM json_each(?3))) ORDER BY chunks_fts.rank "
                      "LIMIT ?4"));
    stmt->bind(1, match).bind(2, version).bind(4, static_cast<int64_t>(limit));
    if (sources_json.empty()) {
        stmt->bind_null(3);
    } else {
        stmt->bind(3, sources_json);
    }
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
        if (!row) break;
        out.push_back({stmt->column_int(0), -stmt->column_double(1)});
    }
    stmt->reset();
    return out;
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::path() const {
    return impl_->path;
}

Result<std::shared_ptr<Store>> Store::open(const std::string& path) {
    if (path.empty() || path == ":memory:" || path.starts_with("file:")) {
        return invalid_argument(
            "knowledge: the store must be a file path (got \"{}\"): its connections share it",
            path);
    }
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    auto connected = impl->connect();
    if (!connected) {
        if (connected.error().code() == StatusCode::kDataLoss) {
            return invalid_argument("knowledge: {} is not a knowledge store ({})", path,
                                    connected.error().message());
        }
        return connected.error();
    }
    Connection& c = **connected;

    // Creating the schema and checking a foreign file happen under one write lock, so two
    // processes opening a new file at once cannot both create it.
    Status s = c.db.transaction([&]() -> Status {
        WARD_ASSIGN_OR_RETURN(
            int64_t has_meta,
            query_int(c,
                      "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"));
        if (!has_meta) {
            WARD_ASSIGN_OR_RETURN(int64_t objects,
                                  query_int(c, "SELECT COUNT(*) FROM sqlite_master"));
            if (objects > 0) {
                return invalid_argument(
                    "knowledge: {} is not a knowledge store (an SQLite file of something else)",
                    path);
            }
            WARD_TRY(c.db.exec(kSchema));
            WARD_ASSIGN_OR_RETURN(Statement * insert,
                                  c.prepare("INSERT INTO meta(key, value) VALUES (?, ?)"));
            insert->bind(1, "application").bind(2, kApplication);
            WARD_TRY(insert->run());
            insert->reset();
            insert->bind(1, "schema_version").bind(2, std::to_string(kSchemaVersion));
            WARD_TRY(insert->run());
            insert->reset();
            insert->bind(1, "embeddings_generation").bind(2, "0");
            return insert->run();
        }
        WARD_ASSIGN_OR_RETURN(Statement * read, c.prepare("SELECT value FROM meta WHERE key = ?"));
        read->bind(1, "application");
        WARD_ASSIGN_OR_RETURN(bool has_app, read->step());
        std::string application = has_app ? read->column_text(0) : "";
        read->reset();
        if (application != kApplication) {
            return invalid_argument(
                "knowledge: {} is not a knowledge store (its meta table names \"{}\")", path,
                application);
        }
        read->bind(1, "schema_version");
        WARD_ASSIGN_OR_RETURN(bool has_version, read->step());
        std::string version = has_version ? read->column_text(0) : "";
        read->reset();
        if (version != std::to_string(kSchemaVersion)) {
            return invalid_argument(
                "knowledge: {} has schema version \"{}\"; this build reads version {} (a newer "
                "Ward wrote it?)",
                path, version, kSchemaVersion);
        }
        return ok_status();
    });
    c.release();
    if (!s.ok()) {
        if (s.code() == StatusCode::kDataLoss) {
            return invalid_argument("knowledge: {} is not a knowledge store ({})", path,
                                    s.message());
        }
        return s;
    }
    impl->give_back(std::move(connected).value());
    return std::shared_ptr<Store>(new Store(std::move(impl)));
}

Result<AddReport> Store::add(std::span<const Document> documents, std::string_view note) {
    std::unordered_map<std::string_view, size_t> seen;
    std::vector<std::string> hashes(documents.size());
    for (size_t i = 0; i < documents.size(); ++i) {
        WARD_TRY(check_document(documents[i], i));
        auto [it, inserted] = seen.emplace(documents[i].doc_id, i);
        if (!inserted) {
            return invalid_argument(
                "knowledge: doc_id \"{}\" appears twice in one batch "
                "(documents {} and {})",
                documents[i].doc_id, it->second, i);
        }
        hashes[i] = documents[i].content_sha256.empty() ? crypto::sha256_hex(documents[i].content)
                                                        : documents[i].content_sha256;
    }
    if (!valid_utf8(note))
        return invalid_argument("knowledge: the version note is not valid UTF-8");

    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    Connection& c = *lease;
    AddReport report;
    Status s = c.db.transaction([&]() -> Status {
        WARD_ASSIGN_OR_RETURN(int64_t current, latest_version(c));
        const int64_t next = current + 1;
        WARD_ASSIGN_OR_RETURN(Statement * find_live,
                              c.prepare("SELECT id, content_sha256 FROM documents "
                                        "WHERE doc_id = ? AND removed_version IS NULL"));
        WARD_ASSIGN_OR_RETURN(
            Statement * find_same,
            c.prepare("SELECT doc_id FROM documents "
                      "WHERE content_sha256 = ? AND removed_version IS NULL LIMIT 1"));
        WARD_ASSIGN_OR_RETURN(Statement * retire,
                              c.prepare("UPDATE documents SET removed_version = ? WHERE id = ?"));
        WARD_ASSIGN_OR_RETURN(
            Statement * insert_doc,
            c.prepare("INSERT INTO documents(doc_id, source, title, location, licence, "
                      "published, format, content, content_sha256, bytes, chunk_count, "
                      "added_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        WARD_ASSIGN_OR_RETURN(
            Statement * insert_chunk,
            c.prepare("INSERT INTO chunks(document, ordinal, heading, text, tokens) "
                      "VALUES (?, ?, ?, ?, ?)"));
        for (size_t i = 0; i < documents.size(); ++i) {
            const Document& doc = documents[i];
            find_live->reset();
            find_live->bind(1, doc.doc_id);
            WARD_ASSIGN_OR_RETURN(bool live, find_live->step());
            if (live) {
                int64_t row = find_live->column_int(0);
                bool same = find_live->column_text(1) == hashes[i];
                find_live->reset();
                if (same) {
                    report.unchanged.push_back(doc.doc_id);
                    continue;
                }
                retire->reset();
                retire->bind(1, next).bind(2, row);
                WARD_TRY(retire->run());
                report.replaced.push_back(doc.doc_id);
            } else {
                find_live->reset();
                find_same->reset();
                find_same->bind(1, hashes[i]);
                WARD_ASSIGN_OR_RETURN(bool duplicate, find_same->step());
                if (duplicate) {
                    report.duplicates.push_back(fmt::format("{} (same content as {})", doc.doc_id,
                                                            find_same->column_text(0)));
                    find_same->reset();
                    continue;
                }
                find_same->reset();
                report.added.push_back(doc.doc_id);
            }
            insert_doc->reset();
            insert_doc->bind(1, doc.doc_id)
                .bind(2, doc.source)
                .bind(3, doc.title)
                .bind(4, doc.location)
                .bind(5, doc.licence)
                .bind(6, doc.published)
                .bind(7, doc.format)
                .bind(8, doc.content)
                .bind(9, hashes[i])
                .bind(10, static_cast<int64_t>(doc.content.size()))
                .bind(11, static_cast<int64_t>(doc.chunks.size()))
                .bind(12, next);
            WARD_TRY(insert_doc->run());
            int64_t row = c.db.last_insert_rowid();
            for (const Chunk& chunk : doc.chunks) {
                insert_chunk->reset();
                insert_chunk->bind(1, row)
                    .bind(2, static_cast<int64_t>(chunk.ordinal))
                    .bind(3, chunk.heading)
                    .bind(4, chunk.text)
                    .bind(5, static_cast<int64_t>(chunk.tokens));
                WARD_TRY(insert_chunk->run());
                ++report.chunks;
            }
        }
        if (report.added.empty() && report.replaced.empty()) return ok_status();
        report.version = next;
        return record_version(c, next, note);
    });
    if (!s.ok()) return s.with_context("knowledge: add");
    logger("knowledge")
        ->debug("add: version {}, {} added, {} replaced, {} unchanged, {} duplicates, {} chunks",
                report.version ? std::to_string(*report.version) : "unchanged", report.added.size(),
                report.replaced.size(), report.unchanged.size(), report.duplicates.size(),
                report.chunks);
    return report;
}

Result<RemoveReport> Store::remove(std::span<const std::string> doc_ids,
                                   std::optional<std::string> source, std::string_view note) {
    if (doc_ids.empty() && !source) {
        return invalid_argument("knowledge: remove needs doc_ids or a source");
    }
    if (!valid_utf8(note))
        return invalid_argument("knowledge: the version note is not valid UTF-8");
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    Connection& c = *lease;
    RemoveReport report;
    Status s = c.db.transaction([&]() -> Status {
        WARD_ASSIGN_OR_RETURN(int64_t current, latest_version(c));
        const int64_t next = current + 1;
        if (!doc_ids.empty()) {
            WARD_ASSIGN_OR_RETURN(
                Statement * retire,
                c.prepare("UPDATE documents SET removed_version = ?1 WHERE doc_id = ?2 AND "
                          "removed_version IS NULL AND (?3 IS NULL OR source = ?3)"));
            std::unordered_set<std::string_view> done;
            for (const std::string& id : doc_ids) {
                if (!done.insert(id).second) continue;
                retire->reset();
                retire->bind(1, next).bind(2, id);
                if (source) {
                    retire->bind(3, *source);
                } else {
                    retire->bind_null(3);
                }
                WARD_TRY(retire->run());
                (c.db.changes() > 0 ? report.removed : report.not_found).push_back(id);
            }
        } else {
            WARD_ASSIGN_OR_RETURN(Statement * find,
                                  c.prepare("SELECT doc_id FROM documents WHERE source = ? AND "
                                            "removed_version IS NULL ORDER BY doc_id"));
            find->bind(1, *source);
            while (true) {
                WARD_ASSIGN_OR_RETURN(bool row, find->step());
                if (!row) break;
                report.removed.push_back(find->column_text(0));
            }
            find->reset();
            WARD_ASSIGN_OR_RETURN(
                Statement * retire,
                c.prepare("UPDATE documents SET removed_version = ? WHERE source = ? AND "
                          "removed_version IS NULL"));
            retire->bind(1, next).bind(2, *source);
            WARD_TRY(retire->run());
        }
        if (report.removed.empty()) return ok_status();
        report.version = next;
        return record_version(c, next, note);
    });
    if (!s.ok()) return s.with_context("knowledge: remove");
    return report;
}

Result<PruneReport> Store::prune(int64_t keep_from) {
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    Connection& c = *lease;
    PruneReport report;
    Status s = c.db.transaction([&]() -> Status {
        WARD_ASSIGN_OR_RETURN(
            int64_t exists, query_int(c, "SELECT COUNT(*) FROM versions WHERE id = ?", keep_from));
        if (!exists) {
            WARD_ASSIGN_OR_RETURN(int64_t current, latest_version(c));
            return not_found("knowledge: cannot prune to version {}: no such version (current {})",
                             keep_from, current);
        }
        // Not live in any version >= keep_from: removed at or before it.
        WARD_ASSIGN_OR_RETURN(
            Statement * drop_embeddings,
            c.prepare("DELETE FROM embeddings WHERE chunk IN (SELECT c.id FROM chunks c "
                      "JOIN documents d ON d.id = c.document WHERE d.removed_version <= ?)"));
        drop_embeddings->bind(1, keep_from);
        WARD_TRY(drop_embeddings->run());
        WARD_ASSIGN_OR_RETURN(Statement * drop_chunks,
                              c.prepare("DELETE FROM chunks WHERE document IN "
                                        "(SELECT id FROM documents WHERE removed_version <= ?)"));
        drop_chunks->bind(1, keep_from);
        WARD_TRY(drop_chunks->run());
        report.chunks = c.db.changes();
        WARD_ASSIGN_OR_RETURN(Statement * drop_documents,
                              c.prepare("DELETE FROM documents WHERE removed_version <= ?"));
        drop_documents->bind(1, keep_from);
        WARD_TRY(drop_documents->run());
        report.documents = c.db.changes();
        WARD_ASSIGN_OR_RETURN(Statement * drop_versions,
                              c.prepare("DELETE FROM versions WHERE id < ?"));
        drop_versions->bind(1, keep_from);
        WARD_TRY(drop_versions->run());
        report.versions = c.db.changes();
        report.version = keep_from;
        return ok_status();
    });
    if (!s.ok()) return s.with_context("knowledge: prune");
    return report;
}

Result<int64_t> Store::current_version() const {
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    return latest_version(*lease);
}

Result<std::vector<VersionInfo>> Store::versions() const {
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    WARD_ASSIGN_OR_RETURN(
        Statement * stmt,
        lease->prepare("SELECT id, created, note, documents, chunks FROM versions ORDER BY id"));
    std::vector<VersionInfo> out;
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
        if (!row) break;
        out.push_back({stmt->column_int(0), stmt->column_text(1), stmt->column_text(2),
                       stmt->column_int(3), stmt->column_int(4)});
    }
    return out;
}

Result<std::vector<DocumentInfo>> Store::list(std::optional<int64_t> version,
                                              std::optional<std::string> source) const {
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    // One read transaction, so the version checked is the version listed.
    WARD_TRY(lease->db.exec("BEGIN"));
    auto result = [&]() -> Result<std::vector<DocumentInfo>> {
        WARD_ASSIGN_OR_RETURN(int64_t v, resolve_version(*lease, version));
        return live_documents(*lease, v, source);
    }();
    lease->release();
    (void)lease->db.exec("COMMIT");
    return result;
}

Result<Diff> Store::diff(int64_t from, int64_t to) const {
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    WARD_TRY(lease->db.exec("BEGIN"));
    auto result = [&]() -> Result<Diff> {
        WARD_ASSIGN_OR_RETURN(int64_t v_from, resolve_version(*lease, from));
        WARD_ASSIGN_OR_RETURN(int64_t v_to, resolve_version(*lease, to));
        WARD_ASSIGN_OR_RETURN(auto before, live_documents(*lease, v_from, std::nullopt));
        WARD_ASSIGN_OR_RETURN(auto after, live_documents(*lease, v_to, std::nullopt));
        Diff d;
        d.from = v_from;
        d.to = v_to;
        // Both lists are sorted by doc_id: merge them.
        size_t i = 0, j = 0;
        while (i < before.size() || j < after.size()) {
            if (j == after.size() || (i < before.size() && before[i].doc_id < after[j].doc_id)) {
                d.removed.push_back(std::move(before[i++]));
            } else if (i == before.size() || after[j].doc_id < before[i].doc_id) {
                d.added.push_back(std::move(after[j++]));
            } else {
                if (before[i].content_sha256 != after[j].content_sha256) {
                    d.changed.push_back(std::move(after[j]));
                }
                ++i;
                ++j;
            }
        }
        return d;
    }();
    lease->release();
    (void)lease->db.exec("COMMIT");
    return result;
}

namespace {

constexpr std::string_view kHitSelect =
    "SELECT c.id, c.ordinal, c.heading, c.text, d.doc_id, d.source, d.title, d.location, "
    "d.licence, d.published FROM chunks c JOIN documents d ON d.id = c.document WHERE c.id = ?";

Result<std::optional<Hit>> read_hit(Connection& c, int64_t chunk_id) {
    WARD_ASSIGN_OR_RETURN(Statement * stmt, c.prepare(kHitSelect));
    stmt->bind(1, chunk_id);
    WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
    if (!row) return std::optional<Hit>();
    Hit hit;
    hit.chunk_id = stmt->column_int(0);
    hit.chunk_ordinal = static_cast<int>(stmt->column_int(1));
    hit.heading = stmt->column_text(2);
    hit.text = stmt->column_text(3);
    hit.doc_id = stmt->column_text(4);
    hit.source = stmt->column_text(5);
    hit.title = stmt->column_text(6);
    hit.location = stmt->column_text(7);
    hit.licence = stmt->column_text(8);
    hit.published = stmt->column_text(9);
    stmt->reset();
    return std::optional<Hit>(std::move(hit));
}

// One dot product with eight independent partial sums: without -ffast-math the compiler may
// not reorder a single running sum, but it does turn these eight lanes into vector adds.
float dot_product(const float* a, const float* b, size_t n) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (size_t j = 0; j < 8; ++j) lanes[j] += a[i + j] * b[i + j];
    }
    float sum = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) +
                ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (; i < n; ++i) sum += a[i] * b[i];
    return sum;
}

// The `limit` best rows of the index by cosine with `query`, among the allowed sources.
std::vector<Scored> dense_search(const DenseIndex& index, const std::vector<float>& query,
                                 const std::vector<std::string>& sources, int limit) {
    std::vector<float> q(query);
    double norm = 0;
    for (float x : q) norm += static_cast<double>(x) * x;
    auto inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : q) x *= inv;

    std::vector<bool> source_allowed(index.sources.size(), sources.empty());
    for (size_t s = 0; s < index.sources.size(); ++s) {
        if (std::find(sources.begin(), sources.end(), index.sources[s]) != sources.end()) {
            source_allowed[s] = true;
        }
    }
    const size_t dim = index.dim;
    const size_t rows = index.chunk_ids.size();
    std::vector<float> scores(rows);
    const float* m = index.matrix.data();
    const float* qp = q.data();
    for (size_t r = 0; r < rows; ++r) scores[r] = dot_product(m + r * dim, qp, dim);
    std::vector<uint32_t> order;
    order.reserve(rows);
    for (size_t r = 0; r < rows; ++r) {
        if (source_allowed[index.source_of[r]]) order.push_back(static_cast<uint32_t>(r));
    }
    size_t n = std::min(order.size(), static_cast<size_t>(limit));
    auto better = [&](uint32_t a, uint32_t b) {
        return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
    };
    std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(n), order.end(),
                      better);
    std::vector<Scored> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back({index.chunk_ids[order[i]], scores[order[i]]});
    return out;
}

}  // namespace

Result<SearchResult> Store::search(const Query& query) const {
    if (query.k < 1 || query.k > kMaxK) {
        return invalid_argument("knowledge: k must be 1..{} (got {})", kMaxK, query.k);
    }
    if (query.embedding) {
        WARD_TRY(check_vector(*query.embedding, "the query embedding"));
        if (query.embedding_model.empty()) {
            return invalid_argument("knowledge: a query embedding needs its embedding_model");
        }
    }
    const std::vector<Term> terms = query_terms(query.text);
    if (terms.empty() && !query.embedding) {
        return invalid_argument("knowledge: the query has no words to search for");
    }
    std::string sources_json;
    if (!query.sources.empty()) {
        for (const auto& s : query.sources) {
            if (!valid_utf8(s))
                return invalid_argument("knowledge: a source name is not valid UTF-8");
        }
        sources_json = nlohmann::json(query.sources).dump();
    }

    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    Connection& c = *lease;
    // One read transaction: the version resolved is the one searched, whatever other
    // processes commit meanwhile.
    WARD_TRY(c.db.exec("BEGIN"));
    auto result = [&]() -> Result<SearchResult> {
        SearchResult out;
        std::string match;
        if (!terms.empty()) {
            WARD_ASSIGN_OR_RETURN(auto kept, select_terms(c, impl_->frequencies, terms));
            match = match_expression(kept);
        }
        WARD_ASSIGN_OR_RETURN(out.version, resolve_version(c, query.version));
        std::shared_ptr<const DenseIndex> dense;
        if (query.embedding && out.version > 0) {
            WARD_ASSIGN_OR_RETURN(dense, impl_->dense_index(c, query.embedding_model, out.version));
            if (dense->chunk_ids.empty()) {
                dense.reset();
            } else if (dense->dim != query.embedding->size()) {
                return invalid_argument(
                    "knowledge: the query embedding has {} dimensions; model \"{}\" in the store "
                    "has {}",
                    query.embedding->size(), query.embedding_model, dense->dim);
            }
        }
        if (match.empty() && !dense) {
            if (out.version == 0) {
                out.mode = "dense";
                return out;
            }
            return failed_precondition(
                "knowledge: the query has no text and the store has no embeddings of model "
                "\"{}\" in version {}",
                query.embedding_model, out.version);
        }
        std::vector<Scored> ranked;
        if (out.version == 0) {
            out.mode = match.empty() ? "dense" : "bm25";
        } else if (!dense) {
            out.mode = "bm25";
            WARD_ASSIGN_OR_RETURN(ranked,
                                  impl_->bm25(c, match, out.version, sources_json, query.k));
        } else if (match.empty()) {
            out.mode = "dense";
            ranked = dense_search(*dense, *query.embedding, query.sources, query.k);
        } else {
            out.mode = "fusion";
            const int depth = std::max(query.k, kFusionDepth);
            WARD_ASSIGN_OR_RETURN(auto lexical,
                                  impl_->bm25(c, match, out.version, sources_json, depth));
            auto semantic = dense_search(*dense, *query.embedding, query.sources, depth);
            std::unordered_map<int64_t, double> fused;
            std::vector<int64_t> order;  // first appearance, for a stable tie-break
            for (const auto* list : {&lexical, &semantic}) {
                for (size_t r = 0; r < list->size(); ++r) {
                    int64_t id = (*list)[r].chunk_id;
                    auto [it, inserted] = fused.emplace(id, 0.0);
                    if (inserted) order.push_back(id);
                    it->second += 1.0 / (kRrfK + static_cast<double>(r + 1));
                }
            }
            for (int64_t id : order) ranked.push_back({id, fused[id]});
            std::stable_sort(ranked.begin(), ranked.end(),
                             [](const Scored& a, const Scored& b) { return a.score > b.score; });
            if (ranked.size() > static_cast<size_t>(query.k)) ranked.resize(query.k);
        }
        for (const Scored& s : ranked) {
            WARD_ASSIGN_OR_RETURN(auto hit, read_hit(c, s.chunk_id));
            if (!hit)
                return internal_error("knowledge: chunk {} vanished during a search", s.chunk_id);
            hit->rank = static_cast<int>(out.hits.size()) + 1;
            hit->score = s.score;
            out.hits.push_back(std::move(*hit));
        }
        return out;
    }();
    c.release();
    (void)c.db.exec("COMMIT");
    return result;
}

Result<Hit> Store::chunk(int64_t chunk_id) const {
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    WARD_ASSIGN_OR_RETURN(auto hit, read_hit(*lease, chunk_id));
    if (!hit) return not_found("knowledge: no chunk {}", chunk_id);
    return std::move(*hit);
}

Result<std::vector<PendingEmbedding>> Store::pending_embeddings(std::string_view model,
                                                                size_t limit) const {
    if (model.empty()) return invalid_argument("knowledge: pending_embeddings needs a model name");
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    WARD_ASSIGN_OR_RETURN(
        Statement * stmt,
        lease->prepare("SELECT c.id, c.heading, c.text FROM chunks c "
                       "JOIN documents d ON d.id = c.document WHERE d.removed_version IS NULL "
                       "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.model = ?1 AND "
                       "e.chunk = c.id) ORDER BY c.id LIMIT ?2"));
    stmt->bind(1, model).bind(2, static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
    std::vector<PendingEmbedding> out;
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, stmt->step());
        if (!row) break;
        std::string heading = stmt->column_text(1);
        std::string text = stmt->column_text(2);
        out.push_back({stmt->column_int(0), heading.empty() ? text : heading + "\n\n" + text});
    }
    return out;
}

Status Store::put_embeddings(std::string_view model,
                             std::span<const std::pair<int64_t, std::vector<float>>> vectors) {
    if (model.empty() || !valid_utf8(model)) {
        return invalid_argument("knowledge: put_embeddings needs a model name (UTF-8)");
    }
    if (vectors.empty()) return ok_status();
    const size_t dim = vectors.front().second.size();
    for (const auto& [chunk_id, v] : vectors) {
        WARD_TRY(check_vector(v, fmt::format("the embedding of chunk {}", chunk_id)));
        if (v.size() != dim) {
            return invalid_argument(
                "knowledge: embeddings of one model have one dimension: chunk {} has {}, "
                "chunk {} has {}",
                vectors.front().first, dim, chunk_id, v.size());
        }
    }
    WARD_ASSIGN_OR_RETURN(auto lease, impl_->borrow());
    Connection& c = *lease;
    Status s = c.db.transaction([&]() -> Status {
        WARD_ASSIGN_OR_RETURN(Statement * stored_dim,
                              c.prepare("SELECT dim FROM embeddings WHERE model = ? LIMIT 1"));
        stored_dim->bind(1, model);
        WARD_ASSIGN_OR_RETURN(bool has_dim, stored_dim->step());
        if (has_dim && static_cast<size_t>(stored_dim->column_int(0)) != dim) {
            int64_t existing = stored_dim->column_int(0);
            stored_dim->reset();
            return invalid_argument(
                "knowledge: model \"{}\" has {}-dimensional embeddings in the store; these have {}",
                model, existing, dim);
        }
        stored_dim->reset();
        WARD_ASSIGN_OR_RETURN(Statement * exists,
                              c.prepare("SELECT COUNT(*) FROM chunks WHERE id = ?"));
        WARD_ASSIGN_OR_RETURN(
            Statement * put,
            c.prepare("INSERT OR REPLACE INTO embeddings(chunk, model, dim, vector) "
                      "VALUES (?, ?, ?, ?)"));
        for (const auto& [chunk_id, v] : vectors) {
            exists->reset();
            exists->bind(1, chunk_id);
            WARD_ASSIGN_OR_RETURN(bool row, exists->step());
            if (!row || exists->column_int(0) == 0) {
                return not_found("knowledge: no chunk {} to attach an embedding to", chunk_id);
            }
            put->reset();
            put->bind(1, chunk_id)
                .bind(2, model)
                .bind(3, static_cast<int64_t>(dim))
                .bind_blob(4, vector_blob(v));
            WARD_TRY(put->run());
        }
        return c.db.exec(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = "
            "'embeddings_generation'");
    });
    c.release();
    if (!s.ok()) return s.with_context("knowledge: put_embeddings");
    return ok_status();
}

}  // namespace ward::knowledge
