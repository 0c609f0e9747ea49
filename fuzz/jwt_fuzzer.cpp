// Fuzzes the CDS Hooks JWT verifier and the JWKS parser with untrusted bytes: any input must
// give a clear error, never a crash, a hang or an accepted token (no key can have signed it:
// the verifier's keys are generated at start-up and their private halves thrown away).
// Also checks that base64url decoding is the exact inverse of encoding.
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/jwt.h"

namespace {

std::string fresh_public_pem(EVP_PKEY* pkey) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(len));
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return pem;
}

const ward::server::JwtVerifier& verifier() {
    static const ward::server::JwtVerifier v = [] {
        ward::server::JwtIssuer issuer{"https://ehr.example.org", {}};
        issuer.keys.push_back(
            *ward::server::parse_pem_public_key(fresh_public_pem(EVP_EC_gen("P-384")), "ec-384"));
        issuer.keys.push_back(
            *ward::server::parse_pem_public_key(fresh_public_pem(EVP_EC_gen("P-256")), "ec-256"));
        issuer.keys.push_back(
            *ward::server::parse_pem_public_key(fresh_public_pem(EVP_RSA_gen(2048)), "rsa-1"));
        return std::move(ward::server::JwtVerifier::create({issuer})).value();
    }();
    return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    auto claims = verifier().verify(input, "https://ward.example.org/cds-services/x", 1800000000);
    if (claims.has_value()) std::abort();  // nobody holds the private keys
    if (claims.error().code() != ward::StatusCode::kUnauthenticated) std::abort();
    if (claims.error().message().rfind("jwt: ", 0) != 0) std::abort();

    (void)ward::server::parse_jwks(input);

    auto decoded = ward::server::base64url_decode(input);
    if (decoded.has_value() && ward::server::base64url_encode(*decoded) != input) std::abort();
    return 0;
}
