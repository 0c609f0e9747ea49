// Cryptographic helpers on libsodium: random bytes, SHA-256 (hashes of model files, audit
// chains), keyed hashing (HMAC-SHA-256: pseudonyms keyed by a deployment secret, API key
// hashes) and authenticated encryption (XChaCha20-Poly1305: the re-identification vault).
//
// Thread safety: all functions are thread-safe. sodium_init() runs once, on first use.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ward::crypto {

using Bytes = std::vector<uint8_t>;
using Sha256Digest = std::array<uint8_t, 32>;

constexpr size_t kAeadKeyBytes = 32;
constexpr size_t kAeadNonceBytes = 24;
constexpr size_t kAeadTagBytes = 16;

// Cryptographically secure random bytes.
Bytes random_bytes(size_t n);

Sha256Digest sha256(std::span<const uint8_t> data);
Sha256Digest sha256(std::string_view data);
std::string sha256_hex(std::span<const uint8_t> data);
std::string sha256_hex(std::string_view data);

// Incremental SHA-256 for large inputs (model files).
class Sha256 {
  public:
    Sha256();
    void update(std::span<const uint8_t> data);
    Sha256Digest finish();

  private:
    alignas(64) unsigned char state_[256];
};

// HMAC-SHA-256 with a key of any length.
Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> message);
Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::string_view message);

// Authenticated encryption with XChaCha20-Poly1305 (IETF). The output is
// nonce (24 bytes, random) || ciphertext || tag (16 bytes); `associated` is authenticated but
// not encrypted (bind ciphertexts to their scope with it). REQUIRES: key is 32 bytes.
Bytes seal(std::span<const uint8_t> key, std::span<const uint8_t> plaintext,
           std::span<const uint8_t> associated = {});
// Reverses seal(). Errors: kInvalidArgument for a wrong key size, kDataLoss when the box is
// too short or fails authentication (wrong key, wrong associated data, tampered bytes).
Result<Bytes> open(std::span<const uint8_t> key, std::span<const uint8_t> box,
                   std::span<const uint8_t> associated = {});

// Constant-time comparison.
bool equal(std::span<const uint8_t> a, std::span<const uint8_t> b);

std::string to_hex(std::span<const uint8_t> data);
// Standard base64 (RFC 4648 section 4, with padding).
std::string to_base64(std::span<const uint8_t> data);
// Errors: kInvalidArgument naming the offending position.
Result<Bytes> from_hex(std::string_view hex);

inline std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace ward::crypto
