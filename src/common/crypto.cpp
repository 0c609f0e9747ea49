#include "common/crypto.h"

#include <sodium.h>

#include <cstdlib>
#include <mutex>

namespace ward::crypto {
namespace {

void ensure_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (sodium_init() < 0) std::abort();  // no secure randomness: nothing is safe to do
    });
}

static_assert(sizeof(crypto_hash_sha256_state) <= 256);

}  // namespace

Bytes random_bytes(size_t n) {
    ensure_init();
    Bytes out(n);
    if (n) randombytes_buf(out.data(), n);
    return out;
}

Sha256Digest sha256(std::span<const uint8_t> data) {
    ensure_init();
    Sha256Digest d;
    crypto_hash_sha256(d.data(), data.data(), data.size());
    return d;
}
Sha256Digest sha256(std::string_view data) {
    return sha256(as_bytes(data));
}
std::string sha256_hex(std::span<const uint8_t> data) {
    return to_hex(sha256(data));
}
std::string sha256_hex(std::string_view data) {
    return to_hex(sha256(data));
}

Sha256::Sha256() {
    ensure_init();
    crypto_hash_sha256_init(reinterpret_cast<crypto_hash_sha256_state*>(state_));
}
void Sha256::update(std::span<const uint8_t> data) {
    crypto_hash_sha256_update(reinterpret_cast<crypto_hash_sha256_state*>(state_), data.data(),
                              data.size());
}
Sha256Digest Sha256::finish() {
    Sha256Digest d;
    crypto_hash_sha256_final(reinterpret_cast<crypto_hash_sha256_state*>(state_), d.data());
    return d;
}

Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::span<const uint8_t> message) {
    ensure_init();
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key.data(), key.size());
    crypto_auth_hmacsha256_update(&st, message.data(), message.size());
    Sha256Digest d;
    crypto_auth_hmacsha256_final(&st, d.data());
    sodium_memzero(&st, sizeof st);
    return d;
}
Sha256Digest hmac_sha256(std::span<const uint8_t> key, std::string_view message) {
    return hmac_sha256(key, as_bytes(message));
}

Bytes seal(std::span<const uint8_t> key, std::span<const uint8_t> plaintext,
           std::span<const uint8_t> associated) {
    ensure_init();
    if (key.size() != kAeadKeyBytes) std::abort();  // REQUIRES violated: programmer error
    Bytes out(kAeadNonceBytes + plaintext.size() + kAeadTagBytes);
    randombytes_buf(out.data(), kAeadNonceBytes);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        out.data() + kAeadNonceBytes, &clen, plaintext.data(), plaintext.size(), associated.data(),
        associated.size(), nullptr, out.data(), key.data());
    out.resize(kAeadNonceBytes + clen);
    return out;
}

Result<Bytes> open(std::span<const uint8_t> key, std::span<const uint8_t> box,
                   std::span<const uint8_t> associated) {
    ensure_init();
    if (key.size() != kAeadKeyBytes) {
        return invalid_argument("crypto: key must be {} bytes, not {}", kAeadKeyBytes, key.size());
    }
    if (box.size() < kAeadNonceBytes + kAeadTagBytes) {
        return data_loss("crypto: sealed box of {} bytes is shorter than nonce and tag",
                         box.size());
    }
    Bytes out(box.size() - kAeadNonceBytes - kAeadTagBytes);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.data(), &mlen, nullptr, box.data() + kAeadNonceBytes, box.size() - kAeadNonceBytes,
            associated.data(), associated.size(), box.data(), key.data()) != 0) {
        return data_loss("crypto: sealed box failed authentication (wrong key or altered data)");
    }
    out.resize(mlen);
    return out;
}

bool equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    ensure_init();
    return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(std::span<const uint8_t> data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(data.size() * 2, '0');
    for (size_t i = 0; i < data.size(); ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 15];
    }
    return out;
}

std::string to_base64(std::span<const uint8_t> data) {
    std::string out(sodium_base64_ENCODED_LEN(data.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), data.data(), data.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

Result<Bytes> from_hex(std::string_view hex) {
    if (hex.size() % 2) return invalid_argument("hex: odd length {}", hex.size());
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    Bytes out(hex.size() / 2);
    for (size_t i = 0; i < out.size(); ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return invalid_argument("hex: invalid character at position {}",
                                    hi < 0 ? 2 * i : 2 * i + 1);
        }
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return out;
}

}  // namespace ward::crypto
