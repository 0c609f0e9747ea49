#include "common/sqlite.h"

#include <filesystem>

#include <gtest/gtest.h>

namespace ward {
namespace {

TEST(Sqlite, RoundTripsValues) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db) << db.error().to_string();
    ASSERT_TRUE(db->exec("CREATE TABLE t (i INTEGER, d REAL, s TEXT, b BLOB)").ok());
    auto ins = db->prepare("INSERT INTO t VALUES (?, ?, ?, ?)");
    ASSERT_TRUE(ins);
    std::vector<uint8_t> blob = {0, 1, 2, 255};
    ins->bind(1, int64_t{42}).bind(2, 2.5).bind(3, std::string_view("a\0b", 3)).bind_blob(4, blob);
    ASSERT_TRUE(ins->run().ok());
    EXPECT_EQ(db->last_insert_rowid(), 1);

    auto sel = db->prepare("SELECT i, d, s, b FROM t");
    ASSERT_TRUE(sel);
    auto row = sel->step();
    ASSERT_TRUE(row && *row);
    EXPECT_EQ(sel->column_int(0), 42);
    EXPECT_DOUBLE_EQ(sel->column_double(1), 2.5);
    EXPECT_EQ(sel->column_text(2), std::string("a\0b", 3));
    EXPECT_EQ(sel->column_blob(3), blob);
    row = sel->step();
    ASSERT_TRUE(row);
    EXPECT_FALSE(*row);
}

TEST(Sqlite, ErrorsNameTheStatement) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db);
    auto bad = db->prepare("SELEC 1");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message().find("SELEC 1"), std::string::npos);
    ASSERT_TRUE(db->exec("CREATE TABLE u (x INTEGER PRIMARY KEY)").ok());
    ASSERT_TRUE(db->exec("INSERT INTO u VALUES (1)").ok());
    auto dup = db->prepare("INSERT INTO u VALUES (1)");
    ASSERT_TRUE(dup);
    Status s = dup->run();
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
}

TEST(Sqlite, TransactionRollsBackOnError) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t (x INTEGER)").ok());
    Status s = db->transaction([&] {
        WARD_TRY(db->exec("INSERT INTO t VALUES (1)"));
        return invalid_argument("stop");
    });
    EXPECT_EQ(s.message(), "stop");
    auto count = db->prepare("SELECT count(*) FROM t");
    ASSERT_TRUE(count && *count->step());
    EXPECT_EQ(count->column_int(0), 0);
}

TEST(Sqlite, Fts5IsAvailable) {
    auto db = Database::open(":memory:");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE VIRTUAL TABLE docs USING fts5(body)").ok());
    ASSERT_TRUE(db->exec("INSERT INTO docs VALUES ('metformin for type 2 diabetes')").ok());
    auto q = db->prepare("SELECT count(*) FROM docs WHERE docs MATCH 'diabetes'");
    ASSERT_TRUE(q && *q->step());
    EXPECT_EQ(q->column_int(0), 1);
}

TEST(Sqlite, FileDatabasePersists) {
    auto path = std::filesystem::temp_directory_path() / "ward_sqlite_test.db";
    std::filesystem::remove(path);
    {
        auto db = Database::open(path.string());
        ASSERT_TRUE(db) << db.error().to_string();
        ASSERT_TRUE(db->exec("CREATE TABLE t (x); INSERT INTO t VALUES (7);").ok());
    }
    {
        auto db = Database::open(path.string());
        ASSERT_TRUE(db);
        auto q = db->prepare("SELECT x FROM t");
        ASSERT_TRUE(q && *q->step());
        EXPECT_EQ(q->column_int(0), 7);
    }
    for (const char* suffix : {"", "-wal", "-shm"}) {
        std::filesystem::remove(path.string() + suffix);
    }
}

TEST(Sqlite, NotADatabaseIsDataLoss) {
    auto path = std::filesystem::temp_directory_path() / "ward_sqlite_garbage.db";
    {
        FILE* f = std::fopen(path.c_str(), "wb");
        std::string junk(4096, 'x');
        std::fwrite(junk.data(), 1, junk.size(), f);
        std::fclose(f);
    }
    auto db = Database::open(path.string());
    std::filesystem::remove(path);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace ward
