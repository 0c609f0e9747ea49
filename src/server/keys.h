// API keys and the roles they carry. A key is "ward_" followed by 64 lower-case hex digits
// (32 random bytes); its first 8 digits are the key's public id, which names it in lists,
// logs and the audit trail. keys.db stores the id, a name, the role, the creation and revocation
// times and the SHA-256 of the whole key, never the key itself: the key is shown once, at
// creation.
//
// Roles: clinician (may see re-identified PHI), researcher (de-identified output only), service
// (an EHR calling CDS Hooks), admin (key and store management).
//
// Thread safety: a KeyStore may be shared by all server threads; one mutex guards its
// connection and its cache. Authentication results are cached in memory, and the cache is
// dropped whenever keys.db changes (this instance's revoke() or another process's, such as
// `ward keys revoke` while the server runs), so a revocation takes effect on the next request.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::server {

enum class Role { kClinician, kResearcher, kService, kAdmin };

// "clinician", "researcher", "service", "admin".
std::string_view role_name(Role role);
// The inverse of role_name. Errors: kInvalidArgument listing the accepted names.
Result<Role> parse_role(std::string_view name);

// Who is calling: the key id (or, for CDS Hooks JWTs, "iss#sub"), a display name and a role.
struct Principal {
    std::string id;
    std::string name;
    Role role = Role::kResearcher;
};

struct KeyInfo {
    std::string id;
    std::string name;
    Role role = Role::kResearcher;
    std::string created;                    // UTC, RFC 3339 (seconds)
    std::optional<std::string> revoked_at;  // UTC, RFC 3339, when revoked
};

struct CreatedKey {
    std::string id;   // the public id: the first 8 hex digits after "ward_"
    std::string key;  // the whole key; shown once, never stored
};

inline constexpr std::string_view kKeyPrefix = "ward_";
inline constexpr size_t kKeyIdChars = 8;

class KeyStore {
  public:
    // Opens or creates the key table in the SQLite file at `path` (":memory:" for tests).
    // Errors: SQLite errors (kInternal; kDataLoss for a file that is not a database).
    static Result<KeyStore> open(const std::string& path);

    KeyStore(KeyStore&&) noexcept;
    KeyStore& operator=(KeyStore&&) noexcept;
    ~KeyStore();

    // Creates a key. Errors: kInvalidArgument for an empty name, a name over 100 bytes or with
    // control characters.
    Result<CreatedKey> create(std::string_view name, Role role);

    // Every key, oldest first, revoked ones included. Never returns hashes.
    Result<std::vector<KeyInfo>> list() const;

    // Revokes a key by id; at once for this instance and, through the change check, for others
    // on the same file. Revoking a revoked key is not an error. Errors: kNotFound for an unknown
    // id.
    Status revoke(std::string_view id);

    // The principal of a presented key. Errors: kUnauthenticated, with the same message for a
    // malformed, unknown, wrong or revoked key, so the answer reveals nothing about which ids
    // exist. Compares hashes in constant time.
    Result<Principal> authenticate(std::string_view presented_key) const;

  private:
    struct Impl;
    explicit KeyStore(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace ward::server
