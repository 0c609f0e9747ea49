#include "deid/vault.h"

#include <algorithm>
#include <ctime>

#include "common/crypto.h"
#include "deid/lexicon.h"

namespace ward::deid {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

Result<Vault> Vault::open(const std::string& path, std::span<const uint8_t> master_key) {
    if (master_key.size() != crypto::kAeadKeyBytes) {
        return invalid_argument("deid vault: the master key must be {} bytes (got {})",
                                crypto::kAeadKeyBytes, master_key.size());
    }
    WARD_ASSIGN_OR_RETURN(Database db, Database::open(path));
    WARD_TRY(db.exec(
        "CREATE TABLE IF NOT EXISTS deid_scopes ("
        "  scope_id TEXT PRIMARY KEY, wrapped_key BLOB NOT NULL, created_at INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS deid_entries ("
        "  scope_id TEXT NOT NULL REFERENCES deid_scopes(scope_id) ON DELETE CASCADE,"
        "  tag BLOB NOT NULL, sealed BLOB NOT NULL, PRIMARY KEY (scope_id, tag));"));
    return Vault(std::move(db), std::vector<uint8_t>(master_key.begin(), master_key.end()));
}

std::string Vault::scope_id(const VaultScope& scope) const {
    std::string msg = "vault-scope\x1f" + scope.patient + '\x1f' + scope.conversation;
    return crypto::to_hex(crypto::hmac_sha256(master_, msg));
}

Result<std::vector<uint8_t>> Vault::scope_key(const std::string& id, bool create) {
    WARD_ASSIGN_OR_RETURN(Statement q,
                          db_.prepare("SELECT wrapped_key FROM deid_scopes WHERE scope_id = ?"));
    q.bind(1, id);
    WARD_ASSIGN_OR_RETURN(bool row, q.step());
    if (row) {
        auto opened = crypto::open(master_, q.column_blob(0), crypto::as_bytes(id));
        if (!opened) return data_loss("deid vault: the key of a scope failed authentication");
        return std::move(opened).value();
    }
    if (!create) return std::vector<uint8_t>();
    std::vector<uint8_t> key = crypto::random_bytes(crypto::kAeadKeyBytes);
    WARD_ASSIGN_OR_RETURN(Statement ins, db_.prepare("INSERT INTO deid_scopes(scope_id, "
                                                     "wrapped_key, created_at) VALUES (?, ?, ?)"));
    ins.bind(1, id);
    ins.bind_blob(2, crypto::seal(master_, key, crypto::as_bytes(id)));
    ins.bind(3, static_cast<int64_t>(std::time(nullptr)));
    WARD_TRY(ins.run());
    return key;
}

Status Vault::store(const VaultScope& scope, std::span<const Replacement> replacements) {
    std::string id = scope_id(scope);
    return db_.transaction([&]() -> Status {
        WARD_ASSIGN_OR_RETURN(std::vector<uint8_t> key, scope_key(id, true));
        WARD_ASSIGN_OR_RETURN(Statement ins,
                              db_.prepare("INSERT OR IGNORE INTO deid_entries(scope_id, tag, "
                                          "sealed) VALUES (?, ?, ?)"));
        for (const Replacement& r : replacements) {
            if (r.surrogate == r.original) continue;
            std::string pair = r.surrogate + '\x1f' + r.original;
            auto tag = crypto::hmac_sha256(key, pair);
            std::vector<uint8_t> plain;
            put_u32(plain, static_cast<uint32_t>(r.surrogate.size()));
            plain.insert(plain.end(), r.surrogate.begin(), r.surrogate.end());
            plain.push_back(static_cast<uint8_t>(r.category));
            plain.insert(plain.end(), r.original.begin(), r.original.end());
            ins.reset();
            ins.bind(1, id);
            ins.bind_blob(2, tag);
            ins.bind_blob(3, crypto::seal(key, plain, crypto::as_bytes(id)));
            WARD_TRY(ins.run());
        }
        return ok_status();
    });
}

Result<std::string> Vault::reidentify(const VaultScope& scope, std::string_view text) {
    std::string id = scope_id(scope);
    WARD_ASSIGN_OR_RETURN(std::vector<uint8_t> key, scope_key(id, false));
    if (key.empty()) return std::string(text);
    WARD_ASSIGN_OR_RETURN(Statement q,
                          db_.prepare("SELECT sealed FROM deid_entries WHERE scope_id = ?"));
    q.bind(1, id);
    std::vector<std::pair<std::string, std::string>> pairs;  // surrogate, original
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, q.step());
        if (!row) break;
        auto plain = crypto::open(key, q.column_blob(0), crypto::as_bytes(id));
        if (!plain) return data_loss("deid vault: an entry failed authentication");
        const auto& p = *plain;
        if (p.size() < 5) return data_loss("deid vault: an entry is truncated");
        uint32_t n = p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t{p[3]} << 24);
        if (4 + static_cast<size_t>(n) + 1 > p.size()) {
            return data_loss("deid vault: an entry is malformed");
        }
        pairs.emplace_back(std::string(p.begin() + 4, p.begin() + 4 + n),
                           std::string(p.begin() + 4 + n + 1, p.end()));
    }
    // Longest surrogate first; first stored wins among equal surrogates.
    std::stable_sort(pairs.begin(), pairs.end(),
                     [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        bool boundary = i == 0 || !is_word_byte(text[i - 1]);
        bool done = false;
        for (const auto& [sur, orig] : pairs) {
            if (sur.empty() || sur.size() > text.size() - i) continue;
            if (text.compare(i, sur.size(), sur) != 0) continue;
            bool start_ok = boundary || !is_word_byte(sur.front());
            size_t e = i + sur.size();
            bool end_ok = e == text.size() || !is_word_byte(text[e]) || !is_word_byte(sur.back());
            if (!start_ok || !end_ok) continue;
            out += orig;
            i = e;
            done = true;
            break;
        }
        if (!done) out.push_back(text[i++]);
    }
    return out;
}

Status Vault::delete_scope(const VaultScope& scope) {
    std::string id = scope_id(scope);
    return db_.transaction([&]() -> Status {
        WARD_ASSIGN_OR_RETURN(Statement del_e,
                              db_.prepare("DELETE FROM deid_entries WHERE scope_id = ?"));
        del_e.bind(1, id);
        WARD_TRY(del_e.run());
        WARD_ASSIGN_OR_RETURN(Statement del_s,
                              db_.prepare("DELETE FROM deid_scopes WHERE scope_id = ?"));
        del_s.bind(1, id);
        return del_s.run();
    });
}

Result<int64_t> Vault::entry_count(const VaultScope& scope) {
    WARD_ASSIGN_OR_RETURN(Statement q,
                          db_.prepare("SELECT COUNT(*) FROM deid_entries WHERE scope_id = ?"));
    q.bind(1, scope_id(scope));
    WARD_ASSIGN_OR_RETURN(bool row, q.step());
    return row ? q.column_int(0) : int64_t{0};
}

}  // namespace ward::deid
