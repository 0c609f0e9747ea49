// Verification of CDS Hooks client JWTs (CDS Hooks 2.0, "Trusting CDS Clients"): the EHR sends
// "Authorization: Bearer <JWT>" signed with its private key, and Ward checks it against public
// keys configured per trusted issuer (PEM files or a JWKS file). Nothing is fetched: a "jku"
// header is ignored, so a token can never make Ward call an arbitrary host.
//
// Accepted: RS384 and ES384 (the spec's required pair) and RS256, ES256. Refused: "none", the
// shared-secret HS* family (no shared secrets are configured in Ward) and anything else.
// Checked, in order: size and structure, base64url, JSON, alg, issuer trusted, kid known for
// that issuer, signature, aud equals the service URL (string or array), exp in the future and
// iat not in the future (both with the clock skew allowed), lifetime at most 5 minutes, jti
// not seen before within its lifetime. Every failure is kUnauthenticated (HTTP 401) with a
// message that says which check failed ("jwt: expired at 2026-11-27T22:15:35Z").
//
// Thread safety: a JwtVerifier may be shared by all server threads; verify() is const and
// guards its replay cache with a mutex. Keys are immutable once loaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace ward::server {

// One public key of an issuer. `kid` is the JWK "kid", or for a PEM file its file name
// without directory and extension ("keys/ehr-2026.pem" has kid "ehr-2026").
struct JwtPublicKey {
    std::string kid;
    std::shared_ptr<evp_pkey_st> pkey;  // RSA, or EC on P-256 / P-384
};

struct JwtIssuer {
    std::string iss;  // must equal the token's "iss" exactly
    std::vector<JwtPublicKey> keys;
};

struct JwtClaims {
    std::string iss;
    std::string sub;
    std::vector<std::string> aud;
    int64_t exp = 0;
    int64_t iat = 0;
    std::string jti;
    std::string alg;  // from the header
    std::string kid;  // from the header
};

// A PEM "PUBLIC KEY" (SubjectPublicKeyInfo) with the given kid. Errors: kInvalidArgument.
Result<JwtPublicKey> parse_pem_public_key(std::string_view pem, std::string kid);
// A JWKS ({"keys": [...]}) or a single JWK: RSA (n, e) and EC (P-256/P-384: x, y) keys with a
// kid. Errors: kInvalidArgument naming the key index and the field.
Result<std::vector<JwtPublicKey>> parse_jwks(std::string_view json);
// Reads the key files of one issuer: PEM files (by their "-----BEGIN" line) or JWKS JSON.
// Errors: kNotFound for a missing file, kInvalidArgument for a bad one (naming it), and
// kInvalidArgument for an issuer without keys or with the same kid twice.
Result<JwtIssuer> load_jwt_issuer(const std::string& iss, const std::vector<std::string>& files);

// Base64url without padding (RFC 7515 section 2). decode rejects padding, other alphabets and
// impossible lengths with kInvalidArgument.
std::string base64url_encode(std::string_view bytes);
Result<std::string> base64url_decode(std::string_view text);

class JwtVerifier {
  public:
    // Errors: kInvalidArgument for no issuers, an issuer twice, an issuer without keys, or a
    // negative skew.
    static Result<JwtVerifier> create(std::vector<JwtIssuer> issuers,
                                      std::string audience_prefix = "", int max_clock_skew_s = 60);

    JwtVerifier(JwtVerifier&&) noexcept;
    JwtVerifier& operator=(JwtVerifier&&) noexcept;
    ~JwtVerifier();

    // Verifies `token` for the service at audience_prefix + `audience` at time `now` (Unix
    // seconds). A token that passes is remembered by (iss, jti) until it expires, and the
    // same jti is refused until then. Errors: kUnauthenticated naming the failed check.
    Result<JwtClaims> verify(std::string_view token, std::string_view audience, int64_t now) const;

    static constexpr int64_t kMaxLifetimeSeconds = 300;
    static constexpr size_t kMaxTokenBytes = 16 * 1024;
    static constexpr size_t kReplayCacheEntries = 100000;

  private:
    struct Impl;
    explicit JwtVerifier(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace ward::server
