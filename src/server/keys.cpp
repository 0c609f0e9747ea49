#include "server/keys.h"

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <unordered_map>

#include "common/civil_date.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/sqlite.h"

namespace ward::server {
namespace {

constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " id TEXT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " role TEXT NOT NULL,"
    " created TEXT NOT NULL,"
    " revoked_at TEXT,"
    " key_sha256 BLOB NOT NULL)";

constexpr size_t kSecretBytes = 32;
constexpr size_t kKeyChars = kKeyPrefix.size() + 2 * kSecretBytes;
constexpr size_t kMaxNameBytes = 100;

// One message for every failure: which ids exist is not the caller's business.
Status bad_key() {
    return unauthenticated("invalid or revoked API key");
}

std::string utc_now_seconds() {
    return utc_now();
}

bool is_lower_hex(std::string_view s) {
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

}  // namespace

std::string_view role_name(Role role) {
    switch (role) {
        case Role::kClinician:
            return "clinician";
        case Role::kResearcher:
            return "researcher";
        case Role::kService:
            return "service";
        case Role::kAdmin:
            return "admin";
    }
    return "unknown";
}

Result<Role> parse_role(std::string_view name) {
    for (Role r : {Role::kClinician, Role::kResearcher, Role::kService, Role::kAdmin}) {
        if (name == role_name(r)) return r;
    }
    return invalid_argument(
        "keys: unknown role \"{}\" (expected clinician, researcher, service or admin)", name);
}

struct KeyStore::Impl {
    struct CachedKey {
        crypto::Sha256Digest hash;
        Principal principal;
        bool revoked = false;
    };

    explicit Impl(Database d) : db(std::move(d)) {}

    // Drops the cache when any connection has committed to keys.db since the last look.
    // REQUIRES: mutex held.
    Status refresh_if_changed() {
        WARD_ASSIGN_OR_RETURN(Statement st, db.prepare("PRAGMA data_version"));
        WARD_ASSIGN_OR_RETURN(bool row, st.step());
        int64_t version = row ? st.column_int(0) : -1;
        if (version != data_version) {
            cache.clear();
            data_version = version;
        }
        return ok_status();
    }

    mutable std::mutex mutex;
    Database db;
    std::unordered_map<std::string, CachedKey> cache;  // by key id; only keys that exist
    int64_t data_version = -1;
};

KeyStore::KeyStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KeyStore::KeyStore(KeyStore&&) noexcept = default;
KeyStore& KeyStore::operator=(KeyStore&&) noexcept = default;
KeyStore::~KeyStore() = default;

Result<KeyStore> KeyStore::open(const std::string& path) {
    WARD_ASSIGN_OR_RETURN(Database db, Database::open(path));
    Status s = db.exec(kSchema);
    if (!s.ok()) return s.with_context(fmt::format("keys: {}", path));
    return KeyStore(std::make_unique<Impl>(std::move(db)));
}

Result<CreatedKey> KeyStore::create(std::string_view name, Role role) {
    if (name.empty()) return invalid_argument("keys: a key needs a name (--name)");
    if (name.size() > kMaxNameBytes) {
        return invalid_argument("keys: name is {} bytes (at most {})", name.size(), kMaxNameBytes);
    }
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) return invalid_argument("keys: name has a control character");
    }
    std::lock_guard lock(impl_->mutex);
    // A 32-bit id collides rarely; draw again when it does.
    for (int attempt = 0; attempt < 8; ++attempt) {
        CreatedKey created;
        created.key = std::string(kKeyPrefix) + crypto::to_hex(crypto::random_bytes(kSecretBytes));
        created.id = created.key.substr(kKeyPrefix.size(), kKeyIdChars);
        crypto::Sha256Digest hash = crypto::sha256(created.key);
        WARD_ASSIGN_OR_RETURN(
            Statement st,
            impl_->db.prepare("INSERT OR IGNORE INTO api_keys (id, name, role, created, key_sha256)"
                              " VALUES (?, ?, ?, ?, ?)"));
        st.bind(1, created.id).bind(2, name).bind(3, role_name(role)).bind(4, utc_now_seconds());
        st.bind_blob(5, hash);
        WARD_TRY(st.run());
        if (impl_->db.changes() == 1) {
            logger("server")->info("keys: created key {} with role {}", created.id,
                                   role_name(role));
            return created;
        }
    }
    return internal_error("keys: could not draw an unused key id");
}

Result<std::vector<KeyInfo>> KeyStore::list() const {
    std::lock_guard lock(impl_->mutex);
    WARD_ASSIGN_OR_RETURN(
        Statement st, impl_->db.prepare("SELECT id, name, role, created, revoked_at FROM api_keys"
                                        " ORDER BY created, id"));
    std::vector<KeyInfo> keys;
    while (true) {
        WARD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) break;
        KeyInfo k;
        k.id = st.column_text(0);
        k.name = st.column_text(1);
        auto role = parse_role(st.column_text(2));
        if (!role) return data_loss("keys: key {} has an unknown role in keys.db", k.id);
        k.role = *role;
        k.created = st.column_text(3);
        if (!st.column_is_null(4)) k.revoked_at = st.column_text(4);
        keys.push_back(std::move(k));
    }
    return keys;
}

Status KeyStore::revoke(std::string_view id) {
    std::lock_guard lock(impl_->mutex);
    WARD_ASSIGN_OR_RETURN(Statement find,
                          impl_->db.prepare("SELECT revoked_at FROM api_keys WHERE id = ?"));
    find.bind(1, id);
    WARD_ASSIGN_OR_RETURN(bool row, find.step());
    if (!row) return not_found("keys: no key with id \"{}\"", id);
    impl_->cache.erase(std::string(id));
    if (!find.column_is_null(0)) return ok_status();
    WARD_ASSIGN_OR_RETURN(
        Statement st,
        impl_->db.prepare(
            "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"));
    st.bind(1, utc_now_seconds()).bind(2, id);
    WARD_TRY(st.run());
    logger("server")->info("keys: revoked key {}", id);
    return ok_status();
}

Result<Principal> KeyStore::authenticate(std::string_view presented) const {
    if (presented.size() != kKeyChars || !presented.starts_with(kKeyPrefix) ||
        !is_lower_hex(presented.substr(kKeyPrefix.size()))) {
        return bad_key();
    }
    std::string id(presented.substr(kKeyPrefix.size(), kKeyIdChars));
    crypto::Sha256Digest hash = crypto::sha256(presented);

    std::lock_guard lock(impl_->mutex);
    WARD_TRY(impl_->refresh_if_changed());
    auto it = impl_->cache.find(id);
    if (it == impl_->cache.end()) {
        WARD_ASSIGN_OR_RETURN(
            Statement st,
            impl_->db.prepare("SELECT name, role, revoked_at, key_sha256 FROM api_keys"
                              " WHERE id = ?"));
        st.bind(1, id);
        WARD_ASSIGN_OR_RETURN(bool row, st.step());
        if (!row) return bad_key();
        Impl::CachedKey entry;
        std::vector<uint8_t> stored = st.column_blob(3);
        auto role = parse_role(st.column_text(1));
        if (stored.size() != entry.hash.size() || !role) {
            return data_loss("keys: key {} is damaged in keys.db", id);
        }
        std::copy(stored.begin(), stored.end(), entry.hash.begin());
        entry.principal = {id, st.column_text(0), *role};
        entry.revoked = !st.column_is_null(2);
        it = impl_->cache.emplace(id, std::move(entry)).first;
    }
    const Impl::CachedKey& entry = it->second;
    if (!crypto::equal(entry.hash, hash) || entry.revoked) return bad_key();
    return entry.principal;
}

}  // namespace ward::server
