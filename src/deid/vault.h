// The re-identification vault: the surrogate-to-real mapping of de-identified text, stored in
// SQLite and encrypted at rest with XChaCha20-Poly1305 (libsodium). Every scope (one patient
// in one conversation) has its own random data key, stored wrapped by the deployment's master
// key; an entry is sealed with its scope's key and bound to the scope. Deleting a scope deletes
// its key and entries, so copies of old ciphertext cannot be opened any more.
//
// Nothing in the database names a patient: the scope id is an HMAC of patient and conversation
// under the master key.
//
// Thread safety: like common/sqlite.h, one Vault per thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"
#include "deid/deid.h"

namespace ward::deid {

struct VaultScope {
    std::string patient;       // the patient key given to Deidentifier::deidentify()
    std::string conversation;  // the conversation (or export, or request) id
};

class Vault {
  public:
    // Opens or creates the vault tables in the SQLite file at `path` (":memory:" for tests).
    // Errors: kInvalidArgument when master_key is not 32 bytes; SQLite errors as kInternal.
    static Result<Vault> open(const std::string& path, std::span<const uint8_t> master_key);

    // Records replacements made for `scope` (creating its key on first use). Idempotent.
    Status store(const VaultScope& scope, std::span<const Replacement> replacements);

    // Replaces every surrogate of `scope` found in `text` (whole words, longest first) by its
    // original value. An unknown scope leaves the text as it is. Errors: kDataLoss when a
    // stored entry fails authentication (tampering, wrong master key).
    Result<std::string> reidentify(const VaultScope& scope, std::string_view text);

    // Deletes the scope's key and every entry. Deleting an unknown scope is not an error.
    Status delete_scope(const VaultScope& scope);

    // Number of entries stored for `scope`.
    Result<int64_t> entry_count(const VaultScope& scope);

  private:
    Vault(Database db, std::vector<uint8_t> master)
        : db_(std::move(db)), master_(std::move(master)) {}
    std::string scope_id(const VaultScope& scope) const;
    // The scope's data key; creates one when `create` and none exists. Empty when absent.
    Result<std::vector<uint8_t>> scope_key(const std::string& id, bool create);

    Database db_;
    std::vector<uint8_t> master_;
};

}  // namespace ward::deid
