#include "common/sqlite.h"

#include <sqlite3.h>

namespace ward {

void Statement::Deleter::operator()(sqlite3_stmt* s) const {
    sqlite3_finalize(s);
}
void Database::Deleter::operator()(sqlite3* db) const {
    sqlite3_close_v2(db);
}

Statement::Statement(sqlite3* db, sqlite3_stmt* stmt, std::string sql)
    : db_(db), stmt_(stmt), sql_(std::move(sql)) {}

Status Statement::bind_status(int rc, int index) {
    if (rc != SQLITE_OK && bind_error_.ok()) {
        bind_error_ = internal_error("sqlite: cannot bind parameter {} of \"{}\": {}", index, sql_,
                                     sqlite3_errstr(rc));
    }
    return bind_error_;
}

Statement& Statement::bind(int index, int64_t value) {
    (void)bind_status(sqlite3_bind_int64(stmt_.get(), index, value), index);
    return *this;
}
Statement& Statement::bind(int index, double value) {
    (void)bind_status(sqlite3_bind_double(stmt_.get(), index, value), index);
    return *this;
}
Statement& Statement::bind(int index, std::string_view text) {
    (void)bind_status(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(),
                                          SQLITE_TRANSIENT, SQLITE_UTF8),
                      index);
    return *this;
}
Statement& Statement::bind_blob(int index, std::span<const uint8_t> blob) {
    // A zero-length blob still binds as a blob, not NULL.
    static const uint8_t kEmpty = 0;
    (void)bind_status(sqlite3_bind_blob64(stmt_.get(), index, blob.empty() ? &kEmpty : blob.data(),
                                          blob.size(), SQLITE_TRANSIENT),
                      index);
    return *this;
}
Statement& Statement::bind_null(int index) {
    (void)bind_status(sqlite3_bind_null(stmt_.get(), index), index);
    return *this;
}

Result<bool> Statement::step() {
    WARD_TRY(bind_error_);
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    if (rc == SQLITE_BUSY) return unavailable("sqlite: database is busy: {}", sqlite3_errmsg(db_));
    if (rc == SQLITE_CONSTRAINT) {
        return failed_precondition("sqlite: {} (in \"{}\")", sqlite3_errmsg(db_), sql_);
    }
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) {
        return data_loss("sqlite: {}", sqlite3_errmsg(db_));
    }
    return internal_error("sqlite: {} (in \"{}\")", sqlite3_errmsg(db_), sql_);
}

Status Statement::run() {
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, step());
        if (!row) return ok_status();
    }
}

void Statement::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bind_error_ = Status();
}

int64_t Statement::column_int(int col) const {
    return sqlite3_column_int64(stmt_.get(), col);
}
double Statement::column_double(int col) const {
    return sqlite3_column_double(stmt_.get(), col);
}
std::string Statement::column_text(int col) const {
    const auto* p = sqlite3_column_text(stmt_.get(), col);
    int n = sqlite3_column_bytes(stmt_.get(), col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : "";
}
std::vector<uint8_t> Statement::column_blob(int col) const {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_.get(), col));
    int n = sqlite3_column_bytes(stmt_.get(), col);
    return p ? std::vector<uint8_t>(p, p + n) : std::vector<uint8_t>();
}
bool Statement::column_is_null(int col) const {
    return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

Result<Database> Database::open(const std::string& path) {
    sqlite3* raw = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    Database db;
    db.db_.reset(raw);
    db.path_ = path;
    if (rc != SQLITE_OK) {
        return unavailable("sqlite: cannot open \"{}\": {}", path,
                           raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    }
    sqlite3_busy_timeout(raw, 5000);
    if (path != ":memory:") WARD_TRY(db.exec("PRAGMA journal_mode=WAL"));
    WARD_TRY(db.exec("PRAGMA foreign_keys=ON"));
    return db;
}

Status Database::exec(std::string_view sql) {
    std::string text(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return data_loss("sqlite: {}", msg);
        return internal_error("sqlite: {} (in \"{}\")", msg, text);
    }
    return ok_status();
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc =
        sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        return internal_error("sqlite: cannot prepare \"{}\": {}", sql, sqlite3_errmsg(db_.get()));
    }
    return Statement(db_.get(), stmt, std::string(sql));
}

int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(db_.get());
}
int Database::changes() const {
    return sqlite3_changes(db_.get());
}

}  // namespace ward
