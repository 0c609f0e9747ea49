#include "knowledge/store.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/crypto.h"

namespace ward::knowledge {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class StoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        dir_ = fs::temp_directory_path() /
               fmt::format("ward-kb-{}-{}-{}", ::getpid(), info->test_suite_name(), info->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = (dir_ / "kb.sqlite").string();
    }
    void TearDown() override { fs::remove_all(dir_); }

    std::shared_ptr<Store> open() {
        auto store = Store::open(path_);
        EXPECT_TRUE(store.ok()) << store.error().to_string();
        return store.ok() ? *store : nullptr;
    }

    fs::path dir_;
    std::string path_;
};

// A document whose chunks are its paragraphs.
Document make_doc(std::string doc_id, std::vector<std::string> paragraphs,
                  std::string source = "test", std::string title = "") {
    Document doc;
    doc.doc_id = std::move(doc_id);
    doc.source = std::move(source);
    doc.title = title.empty() ? doc.doc_id : std::move(title);
    doc.location = "memory:" + doc.doc_id;
    doc.licence = "CC-BY-4.0";
    doc.published = "2024-01-02";
    doc.format = "text";
    for (size_t i = 0; i < paragraphs.size(); ++i) {
        if (i) doc.content += "\n\n";
        doc.content += paragraphs[i];
        doc.chunks.push_back({static_cast<int>(i), doc.title, paragraphs[i],
                              static_cast<int>(paragraphs[i].size() / 4)});
    }
    doc.content_sha256 = crypto::sha256_hex(doc.content);
    return doc;
}

std::vector<std::string> doc_ids_of(const SearchResult& r) {
    std::vector<std::string> ids;
    for (const auto& h : r.hits) ids.push_back(h.doc_id);
    return ids;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

Result<SearchResult> search(Store& store, std::string text, std::optional<int64_t> version = {},
                            int k = 5) {
    Query q;
    q.text = std::move(text);
    q.version = version;
    q.k = k;
    return store.search(q);
}

const std::vector<std::string> kAsthma = {
    "Asthma is a chronic inflammatory disease of the airways.",
    "Inhaled corticosteroids are the mainstay of asthma controller therapy."};
const std::vector<std::string> kSepsis = {
    "Sepsis is life-threatening organ dysfunction caused by a dysregulated host response.",
    "Early antibiotics and fluid resuscitation reduce sepsis mortality."};
const std::vector<std::string> kStroke = {
    "Thrombolysis with alteplase within 4.5 hours improves outcomes after ischaemic stroke."};

TEST_F(StoreTest, FirstAddCreatesVersionOneWithCounts) {
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(*store->current_version(), 0);
    std::vector<Document> docs = {make_doc("asthma", kAsthma), make_doc("sepsis", kSepsis)};
    auto report = store->add(docs, "add two");
    ASSERT_TRUE(report.ok()) << report.error().to_string();
    EXPECT_EQ(report->version, 1);
    EXPECT_EQ(report->added, (std::vector<std::string>{"asthma", "sepsis"}));
    EXPECT_EQ(report->chunks, 4);
    EXPECT_EQ(*store->current_version(), 1);
    auto versions = store->versions();
    ASSERT_TRUE(versions.ok());
    ASSERT_EQ(versions->size(), 1u);
    EXPECT_EQ((*versions)[0].id, 1);
    EXPECT_EQ((*versions)[0].note, "add two");
    EXPECT_EQ((*versions)[0].documents, 2);
    EXPECT_EQ((*versions)[0].chunks, 4);
    EXPECT_EQ((*versions)[0].created.size(), 20u);  // 2026-11-27T22:05:00Z

    auto listed = store->list(std::nullopt, std::nullopt);
    ASSERT_TRUE(listed.ok());
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[0].doc_id, "asthma");
    EXPECT_EQ((*listed)[0].chunks, 2);
    EXPECT_EQ((*listed)[0].licence, "CC-BY-4.0");
    EXPECT_EQ((*listed)[0].published, "2024-01-02");
    EXPECT_EQ((*listed)[0].bytes, static_cast<int64_t>(docs[0].content.size()));
    EXPECT_EQ((*listed)[0].added_version, 1);
    EXPECT_FALSE((*listed)[0].removed_version);
}

TEST_F(StoreTest, SameDocumentAgainIsUnchangedAndMakesNoVersion) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> docs = {make_doc("asthma", kAsthma)};
    ASSERT_TRUE(store->add(docs, "first").ok());
    auto again = store->add(docs, "again");
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->version);
    EXPECT_EQ(again->unchanged, (std::vector<std::string>{"asthma"}));
    EXPECT_TRUE(again->added.empty());
    EXPECT_EQ(again->chunks, 0);
    EXPECT_EQ(*store->current_version(), 1);
    EXPECT_EQ(store->versions()->size(), 1u);
}

TEST_F(StoreTest, SameContentUnderAnotherIdIsADuplicate) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> first = {make_doc("asthma", kAsthma)};
    ASSERT_TRUE(store->add(first, "first").ok());
    std::vector<Document> second = {make_doc("asthma-copy", kAsthma), make_doc("sepsis", kSepsis)};
    auto report = store->add(second, "second");
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->version, 2);
    EXPECT_EQ(report->duplicates,
              (std::vector<std::string>{"asthma-copy (same content as asthma)"}));
    EXPECT_EQ(report->added, (std::vector<std::string>{"sepsis"}));
    EXPECT_EQ(store->list(std::nullopt, std::nullopt)->size(), 2u);
}

TEST_F(StoreTest, DuplicatesWithinOneBatchAreCaught) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> docs = {make_doc("a", kAsthma), make_doc("b", kAsthma)};
    auto report = store->add(docs, "batch");
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->added, (std::vector<std::string>{"a"}));
    EXPECT_EQ(report->duplicates, (std::vector<std::string>{"b (same content as a)"}));
}

TEST_F(StoreTest, NewContentReplacesInOneVersion) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> v1 = {make_doc("guideline", kAsthma)};
    ASSERT_TRUE(store->add(v1, "v1").ok());
    std::vector<Document> v2 = {make_doc("guideline", kSepsis)};
    auto report = store->add(v2, "v2");
    ASSERT_TRUE(report.ok());
    EXPECT_EQ(report->version, 2);
    EXPECT_EQ(report->replaced, (std::vector<std::string>{"guideline"}));
    auto now = store->list(std::nullopt, std::nullopt);
    ASSERT_EQ(now->size(), 1u);
    EXPECT_EQ((*now)[0].content_sha256, v2[0].content_sha256);
    EXPECT_EQ((*now)[0].added_version, 2);
    auto then = store->list(1, std::nullopt);
    ASSERT_EQ(then->size(), 1u);
    EXPECT_EQ((*then)[0].content_sha256, v1[0].content_sha256);
    EXPECT_EQ((*then)[0].removed_version, 2);
    EXPECT_EQ((*store->versions())[1].documents, 1);
    EXPECT_EQ((*store->versions())[1].chunks, 2);
}

TEST_F(StoreTest, RemoveByIdAndBySource) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> docs = {make_doc("asthma", kAsthma, "resp"),
                                  make_doc("sepsis", kSepsis, "icu"),
                                  make_doc("stroke", kStroke, "icu")};
    ASSERT_TRUE(store->add(docs, "all").ok());
    std::vector<std::string> ids = {"asthma", "nope"};
    auto removed = store->remove(ids, std::nullopt, "drop asthma");
    ASSERT_TRUE(removed.ok());
    EXPECT_EQ(removed->version, 2);
    EXPECT_EQ(removed->removed, (std::vector<std::string>{"asthma"}));
    EXPECT_EQ(removed->not_found, (std::vector<std::string>{"nope"}));

    auto by_source = store->remove({}, std::string("icu"), "drop icu");
    ASSERT_TRUE(by_source.ok());
    EXPECT_EQ(by_source->version, 3);
    EXPECT_EQ(by_source->removed, (std::vector<std::string>{"sepsis", "stroke"}));
    EXPECT_TRUE(store->list(std::nullopt, std::nullopt)->empty());
    EXPECT_EQ((*store->versions())[2].documents, 0);

    auto nothing = store->remove(ids, std::nullopt, "again");
    ASSERT_TRUE(nothing.ok());
    EXPECT_FALSE(nothing->version);
    EXPECT_EQ(*store->current_version(), 3);
    EXPECT_EQ(store->remove({}, std::nullopt, "what").error().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, DiffBetweenVersions) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> v1 = {make_doc("asthma", kAsthma), make_doc("sepsis", kSepsis)};
    ASSERT_TRUE(store->add(v1, "v1").ok());
    std::vector<Document> v2 = {make_doc("sepsis", {"Sepsis bundles changed in 2021."}),
                                make_doc("stroke", kStroke)};
    ASSERT_TRUE(store->add(v2, "v2").ok());
    std::vector<std::string> drop = {"asthma"};
    ASSERT_TRUE(store->remove(drop, std::nullopt, "v3").ok());

    auto d = store->diff(1, 3);
    ASSERT_TRUE(d.ok()) << d.error().to_string();
    EXPECT_EQ(d->from, 1);
    EXPECT_EQ(d->to, 3);
    ASSERT_EQ(d->added.size(), 1u);
    EXPECT_EQ(d->added[0].doc_id, "stroke");
    ASSERT_EQ(d->removed.size(), 1u);
    EXPECT_EQ(d->removed[0].doc_id, "asthma");
    ASSERT_EQ(d->changed.size(), 1u);
    EXPECT_EQ(d->changed[0].doc_id, "sepsis");
    EXPECT_EQ(d->changed[0].added_version, 2);

    auto back = store->diff(3, 1);  // the other way round swaps added and removed
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->added[0].doc_id, "asthma");
    EXPECT_EQ(back->removed[0].doc_id, "stroke");
    EXPECT_EQ(store->diff(1, 9).error().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, OldVersionStillFindsARemovedDocument) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> docs = {make_doc("asthma", kAsthma), make_doc("sepsis", kSepsis)};
    ASSERT_TRUE(store->add(docs, "v1").ok());
    std::vector<std::string> drop = {"sepsis"};
    ASSERT_TRUE(store->remove(drop, std::nullopt, "v2").ok());

    auto old = search(*store, "sepsis antibiotics", 1);
    ASSERT_TRUE(old.ok()) << old.error().to_string();
    EXPECT_EQ(old->version, 1);
    EXPECT_EQ(old->mode, "bm25");
    ASSERT_FALSE(old->hits.empty());
    EXPECT_EQ(old->hits[0].doc_id, "sepsis");
    EXPECT_EQ(old->hits[0].rank, 1);
    EXPECT_GT(old->hits[0].score, 0);

    auto now = search(*store, "sepsis antibiotics");
    ASSERT_TRUE(now.ok());
    EXPECT_EQ(now->version, 2);
    EXPECT_FALSE(contains(doc_ids_of(*now), "sepsis"));
    EXPECT_EQ(search(*store, "sepsis", 7).error().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, OldRowsDoNotCrowdOutLiveHits) {
    auto store = open();
    ASSERT_TRUE(store);
    // Fifteen versions of one document that all match better than the one live document: k=1
    // must still return the live one (more old rows than the fast path looks at).
    for (int i = 0; i < 15; ++i) {
        std::vector<Document> docs = {
            make_doc("heparin", {fmt::format("Heparin heparin heparin dosing, revision {}.", i)})};
        ASSERT_TRUE(store->add(docs, "rev").ok());
    }
    std::vector<std::string> drop = {"heparin"};
    ASSERT_TRUE(store->remove(drop, std::nullopt, "withdrawn").ok());
    std::vector<Document> other = {
        make_doc("anticoagulation", {"Anticoagulation overview; heparin is mentioned once."})};
    ASSERT_TRUE(store->add(other, "other").ok());
    auto r = search(*store, "heparin", std::nullopt, 1);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->hits.size(), 1u);
    EXPECT_EQ(r->hits[0].doc_id, "anticoagulation");
}

TEST_F(StoreTest, PruneDeletesWhatNoKeptVersionUses) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> v1 = {make_doc("asthma", kAsthma), make_doc("sepsis", kSepsis)};
    ASSERT_TRUE(store->add(v1, "v1").ok());
    std::vector<std::string> drop = {"sepsis"};
    ASSERT_TRUE(store->remove(drop, std::nullopt, "v2").ok());
    std::vector<Document> v3 = {make_doc("stroke", kStroke)};
    ASSERT_TRUE(store->add(v3, "v3").ok());

    EXPECT_EQ(store->prune(9).error().code(), StatusCode::kNotFound);
    auto pruned = store->prune(2);
    ASSERT_TRUE(pruned.ok()) << pruned.error().to_string();
    EXPECT_EQ(pruned->documents, 1);  // sepsis, removed in 2
    EXPECT_EQ(pruned->chunks, 2);
    EXPECT_EQ(pruned->versions, 1);  // version 1
    EXPECT_EQ(pruned->version, 2);
    EXPECT_EQ(*store->current_version(), 3);  // pruning does not change the live set

    auto versions = store->versions();
    ASSERT_EQ(versions->size(), 2u);
    EXPECT_EQ((*versions)[0].id, 2);
    auto gone = store->list(1, std::nullopt);
    EXPECT_EQ(gone.error().code(), StatusCode::kNotFound);
    EXPECT_NE(gone.error().message().find("pruned"), std::string::npos);
    // The FTS index forgot the deleted chunks: nothing matches "sepsis" in any version.
    EXPECT_TRUE(search(*store, "sepsis", 2)->hits.empty());
    EXPECT_EQ(doc_ids_of(*search(*store, "asthma", 2)),
              (std::vector<std::string>{"asthma", "asthma"}));

    // The FTS5 index agrees with its content table after the deletes.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc =
        sqlite3_exec(db, "INSERT INTO chunks_fts(chunks_fts, rank) VALUES('integrity-check', 1)",
                     nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_stmt* count = nullptr;
    ASSERT_EQ(
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM chunks_fts WHERE chunks_fts MATCH 'sepsis'",
                           -1, &count, nullptr),
        SQLITE_OK);
    ASSERT_EQ(sqlite3_step(count), SQLITE_ROW);
    EXPECT_EQ(sqlite3_column_int(count, 0), 0);
    sqlite3_finalize(count);
    sqlite3_close(db);
}

TEST_F(StoreTest, SourceFilter) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> docs = {
        make_doc("a", {"Metformin is first-line therapy for type 2 diabetes."}, "guidelines"),
        make_doc("b", {"Metformin and lactic acidosis: a case series."}, "journals"),
        make_doc("c", {"Metformin dosing in renal impairment."}, "formulary")};
    ASSERT_TRUE(store->add(docs, "three").ok());
    Query q;
    q.text = "metformin";
    q.sources = {"journals", "formulary"};
    auto r = store->search(q);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    auto ids = doc_ids_of(*r);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::string>{"b", "c"}));
    EXPECT_EQ(store->list(std::nullopt, std::string("guidelines"))->size(), 1u);
}

TEST_F(StoreTest, AbbreviationsExpandBothWays) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> docs = {
        make_doc("long", {"Aspirin after acute myocardial infarction lowers mortality."}),
        make_doc("short", {"Statin loading before PCI in HTN cohorts."}),
        make_doc("noise", {"Aspirin for migraine and tension headache."})};
    ASSERT_TRUE(store->add(docs, "abbrev").ok());
    auto r = search(*store, "MI", std::nullopt, 1);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(doc_ids_of(*r), (std::vector<std::string>{"long"}));
    auto r2 = search(*store, "patients with hypertension", std::nullopt, 1);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(doc_ids_of(*r2), (std::vector<std::string>{"short"}));
    auto r3 = search(*store, "percutaneous coronary intervention", std::nullopt, 1);
    EXPECT_EQ(doc_ids_of(*r3), (std::vector<std::string>{"short"}));
}

TEST_F(StoreTest, FtsSyntaxInQueriesIsHarmless) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> docs = {make_doc("asthma", kAsthma), make_doc("sepsis", kSepsis)};
    ASSERT_TRUE(store->add(docs, "two").ok());
    for (std::string text :
         {"asthma AND", "\"asthma", "asth*", "NEAR(asthma sepsis", "-sepsis", "text:asthma",
          "asthma OR NOT", "^asthma", "heading : sepsis", "{text heading}: x", "asthma\x01\xff\xfe",
          "NOT", "AND OR NOT NEAR", "sepsis\" OR \"asthma"}) {
        auto r = search(*store, text);
        ASSERT_TRUE(r.ok()) << text << ": " << r.error().to_string();
    }
    // Text without a single word is the caller's mistake, never an SQLite error.
    for (std::string text : {"(((", "\"\"\"", "*", "-", ":", "NEAR("}) {
        auto r = search(*store, text);
        if (!r.ok()) {
            EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << text;
        }
    }
    // The operators are searched as words: "sepsis" with a minus still finds sepsis.
    EXPECT_EQ(search(*store, "-sepsis", std::nullopt, 1)->hits[0].doc_id, "sepsis");
    EXPECT_EQ(search(*store, "text:asthma", std::nullopt, 1)->hits[0].doc_id, "asthma");
    EXPECT_EQ(search(*store, "   ?!").error().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, AFailedBatchLeavesTheStoreUnchanged) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> first = {make_doc("asthma", kAsthma)};
    ASSERT_TRUE(store->add(first, "first").ok());

    std::vector<Document> batch = {make_doc("sepsis", kSepsis), make_doc("", kStroke)};
    auto report = store->add(batch, "bad");
    ASSERT_FALSE(report.ok());
    EXPECT_EQ(report.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(report.error().message().find("document 1"), std::string::npos);

    std::vector<Document> bad_utf8 = {make_doc("sepsis", kSepsis), make_doc("x", {"ok \xc3("})};
    EXPECT_EQ(store->add(bad_utf8, "bad").error().code(), StatusCode::kInvalidArgument);
    std::vector<Document> twice = {make_doc("s", kSepsis), make_doc("s", kStroke)};
    EXPECT_EQ(store->add(twice, "bad").error().code(), StatusCode::kInvalidArgument);
    Document wrong_hash = make_doc("w", kStroke);
    wrong_hash.content_sha256 = std::string(64, '0');
    std::vector<Document> hashes = {wrong_hash};
    EXPECT_EQ(store->add(hashes, "bad").error().code(), StatusCode::kInvalidArgument);
    Document no_chunks = make_doc("n", kStroke);
    no_chunks.chunks.clear();
    std::vector<Document> empty = {no_chunks};
    EXPECT_EQ(store->add(empty, "bad").error().code(), StatusCode::kInvalidArgument);

    EXPECT_EQ(*store->current_version(), 1);
    EXPECT_EQ(store->versions()->size(), 1u);
    auto listed = store->list(std::nullopt, std::nullopt);
    ASSERT_EQ(listed->size(), 1u);
    EXPECT_EQ((*listed)[0].doc_id, "asthma");
    EXPECT_TRUE(search(*store, "sepsis")->hits.empty());
}

TEST_F(StoreTest, AnErrorInsideTheTransactionRollsBack) {
    auto store = open();
    ASSERT_TRUE(store);
    std::vector<Document> first = {make_doc("asthma", kAsthma)};
    ASSERT_TRUE(store->add(first, "first").ok());
    // Another connection makes chunk inserts fail halfway through a batch: the documents
    // written before the failure must be rolled back with it.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db,
                     "CREATE TRIGGER fail_stroke BEFORE INSERT ON chunks "
                     "WHEN new.text LIKE '%alteplase%' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                     nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
    std::vector<Document> batch = {make_doc("sepsis", kSepsis), make_doc("stroke", kStroke)};
    auto report = store->add(batch, "fails");
    ASSERT_FALSE(report.ok());
    EXPECT_NE(report.error().message().find("boom"), std::string::npos);
    EXPECT_EQ(*store->current_version(), 1);
    EXPECT_EQ(store->list(std::nullopt, std::nullopt)->size(), 1u);
    EXPECT_TRUE(search(*store, "sepsis")->hits.empty());
}

TEST_F(StoreTest, RefusesAForeignFile) {
    {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
        ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE patients(id INTEGER)", nullptr, nullptr, nullptr),
                  SQLITE_OK);
        sqlite3_close(db);
    }
    auto store = Store::open(path_);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.error().message().find("not a knowledge store"), std::string::npos);

    std::string text_file = (dir_ / "notes.txt").string();
    std::ofstream(text_file) << "this is not an SQLite database, it is a long enough text file "
                                "to have a header SQLite can read and reject";
    auto text = Store::open(text_file);
    ASSERT_FALSE(text.ok());
    EXPECT_EQ(text.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(Store::open(":memory:").error().code(), StatusCode::kInvalidArgument);
}

TEST_F(StoreTest, RefusesANewerSchema) {
    { ASSERT_TRUE(open()); }
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "UPDATE meta SET value = '99' WHERE key = 'schema_version'", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
    auto store = Store::open(path_);
    ASSERT_FALSE(store.ok());
    EXPECT_EQ(store.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(store.error().message().find("schema version"), std::string::npos);
}

TEST_F(StoreTest, ReopenKeepsEverything) {
    {
        auto store = open();
        std::vector<Document> docs = {make_doc("asthma", kAsthma)};
        ASSERT_TRUE(store->add(docs, "one").ok());
    }
    auto store = open();
    ASSERT_TRUE(store);
    EXPECT_EQ(*store->current_version(), 1);
    EXPECT_EQ(search(*store, "asthma")->hits.size(), 2u);
}

TEST_F(StoreTest, ChunkById) {
    auto store = open();
    std::vector<Document> docs = {make_doc("sepsis", kSepsis)};
    ASSERT_TRUE(store->add(docs, "one").ok());
    auto r = search(*store, "antibiotics resuscitation", std::nullopt, 1);
    ASSERT_EQ(r->hits.size(), 1u);
    auto hit = store->chunk(r->hits[0].chunk_id);
    ASSERT_TRUE(hit.ok());
    EXPECT_EQ(hit->doc_id, "sepsis");
    EXPECT_EQ(hit->chunk_ordinal, 1);
    EXPECT_EQ(hit->text, kSepsis[1]);
    EXPECT_EQ(hit->heading, "sepsis");
    EXPECT_EQ(hit->licence, "CC-BY-4.0");
    EXPECT_EQ(store->chunk(999999).error().code(), StatusCode::kNotFound);
}

TEST_F(StoreTest, KMustBeInRange) {
    auto store = open();
    EXPECT_EQ(search(*store, "asthma", std::nullopt, 0).error().code(),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(search(*store, "asthma", std::nullopt, 101).error().code(),
              StatusCode::kInvalidArgument);
    auto empty = search(*store, "asthma");  // an empty store: version 0, no hits
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(empty->version, 0);
    EXPECT_TRUE(empty->hits.empty());
}

TEST_F(StoreTest, DenseAndFusion) {
    auto store = open();
    std::vector<Document> docs = {make_doc("asthma", kAsthma), make_doc("sepsis", kSepsis),
                                  make_doc("stroke", kStroke)};
    ASSERT_TRUE(store->add(docs, "three").ok());
    auto pending = store->pending_embeddings("toy", 100);
    ASSERT_TRUE(pending.ok());
    ASSERT_EQ(pending->size(), 5u);
    EXPECT_EQ((*pending)[0].text, "asthma\n\n" + kAsthma[0]);
    // A toy 3-d embedding: one axis per document.
    std::vector<std::pair<int64_t, std::vector<float>>> vectors;
    for (const auto& p : *pending) {
        auto hit = store->chunk(p.chunk_id);
        std::vector<float> v = {0.1f, 0.1f, 0.1f};
        v[hit->doc_id == "asthma" ? 0 : hit->doc_id == "sepsis" ? 1 : 2] = 1.0f;
        vectors.emplace_back(p.chunk_id, v);
    }
    ASSERT_TRUE(store->put_embeddings("toy", vectors).ok());
    EXPECT_TRUE(store->pending_embeddings("toy", 100)->empty());

    Query dense;
    dense.embedding = std::vector<float>{0.0f, 0.0f, 2.0f};
    dense.embedding_model = "toy";
    dense.k = 1;
    auto r = store->search(dense);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->mode, "dense");
    ASSERT_EQ(r->hits.size(), 1u);
    EXPECT_EQ(r->hits[0].doc_id, "stroke");
    EXPECT_NEAR(r->hits[0].score, 1.0 / std::sqrt(1.02), 1e-5);

    Query fused = dense;
    fused.text = "asthma";
    fused.k = 3;
    auto f = store->search(fused);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(f->mode, "fusion");
    ASSERT_EQ(f->hits.size(), 3u);
    // The asthma chunks rank 1-2 in BM25 and 2-3 by vector, so both lists add to their score;
    // stroke ranks 1 by vector only and comes third with 1/61.
    EXPECT_EQ(f->hits[0].doc_id, "asthma");
    EXPECT_EQ(f->hits[1].doc_id, "asthma");
    EXPECT_GE(f->hits[1].score, 1.0 / 62 + 1.0 / 63 - 1e-12);
    EXPECT_EQ(f->hits[2].doc_id, "stroke");
    EXPECT_NEAR(f->hits[2].score, 1.0 / 61, 1e-12);

    Query other_model = fused;
    other_model.embedding_model = "unknown";
    EXPECT_EQ(store->search(other_model)->mode, "bm25");

    Query wrong_dim = dense;
    wrong_dim.embedding = std::vector<float>{1.0f, 0.0f};
    auto bad = store->search(wrong_dim);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(bad.error().message().find("dimensions"), std::string::npos);

    std::vector<std::pair<int64_t, std::vector<float>>> wrong = {{(*pending)[0].chunk_id, {1, 2}}};
    EXPECT_EQ(store->put_embeddings("toy", wrong).code(), StatusCode::kInvalidArgument);
    std::vector<std::pair<int64_t, std::vector<float>>> missing = {{424242, {1, 2, 3}}};
    EXPECT_EQ(store->put_embeddings("toy", missing).code(), StatusCode::kNotFound);

    // A removed document's vectors leave the dense ranking of the new version.
    std::vector<std::string> drop = {"stroke"};
    ASSERT_TRUE(store->remove(drop, std::nullopt, "drop").ok());
    auto after = store->search(dense);
    ASSERT_TRUE(after.ok());
    EXPECT_NE(after->hits[0].doc_id, "stroke");
    dense.version = 1;
    EXPECT_EQ(store->search(dense)->hits[0].doc_id, "stroke");
}

TEST_F(StoreTest, DenseHonoursTheSourceFilterAndNeedsAModelName) {
    auto store = open();
    std::vector<Document> docs = {make_doc("a", {"Alpha passage."}, "one"),
                                  make_doc("b", {"Beta passage."}, "two")};
    ASSERT_TRUE(store->add(docs, "two sources").ok());
    auto pending = store->pending_embeddings("toy", 10);
    ASSERT_EQ(pending->size(), 2u);
    std::vector<std::pair<int64_t, std::vector<float>>> vectors;
    for (const auto& p : *pending) {
        bool is_a = store->chunk(p.chunk_id)->doc_id == "a";
        vectors.emplace_back(p.chunk_id,
                             std::vector<float>{is_a ? 1.0f : 0.0f, is_a ? 0.0f : 1.0f});
    }
    ASSERT_TRUE(store->put_embeddings("toy", vectors).ok());
    Query q;
    q.embedding = std::vector<float>{1.0f, 0.0f};  // nearest: "a"
    q.embedding_model = "toy";
    q.sources = {"two"};
    auto r = store->search(q);
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    ASSERT_EQ(r->hits.size(), 1u);
    EXPECT_EQ(r->hits[0].doc_id, "b");
    EXPECT_NEAR(r->hits[0].score, 0.0, 1e-6);

    q.embedding_model.clear();
    EXPECT_EQ(store->search(q).error().code(), StatusCode::kInvalidArgument);
    q.embedding_model = "toy";
    q.embedding = std::vector<float>{0.0f, 0.0f};
    EXPECT_EQ(store->search(q).error().code(), StatusCode::kInvalidArgument);
    q.embedding = std::vector<float>{std::nanf(""), 1.0f};
    EXPECT_EQ(store->search(q).error().code(), StatusCode::kInvalidArgument);
    q.embedding.reset();
    q.embedding_model = "none";
    q.text.clear();
    EXPECT_EQ(store->search(q).error().code(), StatusCode::kInvalidArgument);  // nothing to search
}

TEST_F(StoreTest, ManyThreadsSearchWhileOneAdds) {
    auto store = open();
    std::vector<Document> seed = {make_doc("asthma", kAsthma), make_doc("sepsis", kSepsis)};
    ASSERT_TRUE(store->add(seed, "seed").ok());
    // A second Store on the same file stands in for `ward kb add` in another process.
    auto writer = Store::open(path_);
    ASSERT_TRUE(writer.ok());

    std::atomic<bool> done = false;
    std::atomic<int> failures = 0;
    std::atomic<int> searches = 0;
    auto searcher = [&] {
        while (!done) {
            auto r = search(*store, "asthma airways corticosteroids");
            if (!r.ok() || r->hits.empty() || r->hits[0].doc_id != "asthma") ++failures;
            ++searches;
        }
    };
    std::thread a(searcher), b(searcher);
    for (int i = 0; i < 20; ++i) {
        std::vector<Document> docs = {
            make_doc(fmt::format("note-{}", i), {fmt::format("Renal dosing note number {}.", i)})};
        auto r = (*writer)->add(docs, "writer");
        EXPECT_TRUE(r.ok()) << r.error().to_string();
    }
    while (searches < 20) std::this_thread::yield();
    done = true;
    a.join();
    b.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(*store->current_version(), 21);  // the reader sees the writer's versions
    EXPECT_EQ(store->list(std::nullopt, std::nullopt)->size(), 22u);
}

}  // namespace
}  // namespace ward::knowledge
