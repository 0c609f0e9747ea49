// RAII handles over SQLite: a Database owns a sqlite3*, a Statement owns a sqlite3_stmt*.
// Errors come back as Status with SQLite's message and the SQL that failed.
//
// Thread safety: one Database per thread (SQLite is built serialized, but Ward keeps each
// connection on one thread); statements belong to their database's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ward {

class Statement {
  public:
    // Bind parameters are 1-based, as in SQLite. Text and blobs are copied.
    Statement& bind(int index, int64_t value);
    Statement& bind(int index, double value);
    Statement& bind(int index, std::string_view text);
    Statement& bind_blob(int index, std::span<const uint8_t> blob);
    Statement& bind_null(int index);

    // Advances: true when a row is available, false when done; an error Status otherwise.
    Result<bool> step();
    // Runs to completion, discarding rows.
    Status run();
    // Resets for re-execution and clears bindings.
    void reset();

    int64_t column_int(int col) const;
    double column_double(int col) const;
    std::string column_text(int col) const;
    std::vector<uint8_t> column_blob(int col) const;
    bool column_is_null(int col) const;

  private:
    friend class Database;
    struct Deleter {
        void operator()(sqlite3_stmt* s) const;
    };
    Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql);
    Status bind_status(int rc, int index);

    sqlite3* db_ = nullptr;
    std::unique_ptr<sqlite3_stmt, Deleter> stmt_;
    std::string sql_;
    Status bind_error_;  // the first bind failure, reported by step()
};

class Database {
  public:
    // Opens (creating if needed) a database file; ":memory:" for an in-memory one. Turns on
    // WAL journaling and foreign keys, and a busy timeout of 5 s.
    static Result<Database> open(const std::string& path);

    Status exec(std::string_view sql);  // one or more statements, no results
    Result<Statement> prepare(std::string_view sql);
    int64_t last_insert_rowid() const;
    int changes() const;
    sqlite3* handle() const { return db_.get(); }

    // Runs fn inside BEGIN IMMEDIATE ... COMMIT; rolls back when fn returns an error.
    template <typename F>
    Status transaction(F&& fn) {
        WARD_TRY(exec("BEGIN IMMEDIATE"));
        Status s = fn();
        if (!s.ok()) {
            (void)exec("ROLLBACK");
            return s;
        }
        return exec("COMMIT");
    }

  private:
    struct Deleter {
        void operator()(sqlite3* db) const;
    };
    std::unique_ptr<sqlite3, Deleter> db_;
    std::string path_;
};

}  // namespace ward
