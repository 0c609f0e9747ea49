#include "server/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/civil_date.h"
#include "common/mapped_file.h"

namespace ward::server {
namespace {

using json = nlohmann::json;

// RAII for the OpenSSL objects used here.
struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
    void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct BioFree {
    void operator()(BIO* p) const { BIO_free(p); }
};
struct EcdsaSigFree {
    void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

enum class Alg { kRS256, kRS384, kES256, kES384 };

struct AlgInfo {
    const EVP_MD* (*digest)();
    bool ec;
    size_t ec_field_bytes;  // r and s width for ES*
    const char* curve;      // OpenSSL group name for ES*
};

AlgInfo alg_info(Alg alg) {
    switch (alg) {
        case Alg::kRS256:
            return {EVP_sha256, false, 0, nullptr};
        case Alg::kRS384:
            return {EVP_sha384, false, 0, nullptr};
        case Alg::kES256:
            return {EVP_sha256, true, 32, "prime256v1"};
        case Alg::kES384:
            return {EVP_sha384, true, 48, "secp384r1"};
    }
    return {EVP_sha384, false, 0, nullptr};
}

Result<Alg> parse_alg(std::string_view name) {
    if (name == "RS256") return Alg::kRS256;
    if (name == "RS384") return Alg::kRS384;
    if (name == "ES256") return Alg::kES256;
    if (name == "ES384") return Alg::kES384;
    if (name == "none" || name == "None" || name == "NONE") {
        return unauthenticated("jwt: alg \"none\" (unsigned tokens) is not accepted");
    }
    if (name.starts_with("HS")) {
        return unauthenticated(
            "jwt: alg \"{}\" is not accepted (shared-secret algorithms are not configured; "
            "CDS Hooks clients sign with RS384 or ES384)",
            name);
    }
    return unauthenticated("jwt: alg \"{}\" is not supported (RS384, ES384, RS256, ES256)", name);
}

std::string utc_time(int64_t t) {
    return format_utc(t);
}

std::string curve_name(EVP_PKEY* pkey) {
    char name[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof name, &len) !=
        1) {
        return "";
    }
    return std::string(name, len);
}

// Accepts RSA of at least 2048 bits and EC on P-256 or P-384.
Status check_key_type(EVP_PKEY* pkey, std::string_view where) {
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_RSA) {
        if (EVP_PKEY_get_bits(pkey) < 2048) {
            return invalid_argument("jwt: {}: RSA key of {} bits (at least 2048)", where,
                                    EVP_PKEY_get_bits(pkey));
        }
        return ok_status();
    }
    if (id == EVP_PKEY_EC) {
        std::string curve = curve_name(pkey);
        if (curve == "prime256v1" || curve == "secp384r1") return ok_status();
        return invalid_argument("jwt: {}: EC curve \"{}\" (expected P-256 or P-384)", where, curve);
    }
    return invalid_argument("jwt: {}: not an RSA or EC public key", where);
}

Result<std::string> jwk_bytes(const json& jwk, const char* field, size_t index) {
    auto it = jwk.find(field);
    if (it == jwk.end() || !it->is_string()) {
        return invalid_argument("jwt: JWKS key {}: \"{}\" is missing", index, field);
    }
    auto bytes = base64url_decode(it->get<std::string>());
    if (!bytes) return invalid_argument("jwt: JWKS key {}: \"{}\" is not base64url", index, field);
    if (bytes->empty()) return invalid_argument("jwt: JWKS key {}: \"{}\" is empty", index, field);
    return bytes;
}

Result<std::shared_ptr<EVP_PKEY>> key_from_params(const char* type, OSSL_PARAM_BLD* bld,
                                                  size_t index) {
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
        EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        return invalid_argument("jwt: JWKS key {}: not a valid {} public key", index, type);
    }
    std::shared_ptr<EVP_PKEY> pkey(raw, PkeyFree());
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
        EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        return invalid_argument("jwt: JWKS key {}: the {} public key fails validation", index,
                                type);
    }
    return pkey;
}

Result<JwtPublicKey> parse_jwk(const json& jwk, size_t index) {
    if (!jwk.is_object()) return invalid_argument("jwt: JWKS key {} is not an object", index);
    auto kid = jwk.find("kid");
    if (kid == jwk.end() || !kid->is_string() || kid->get<std::string>().empty()) {
        return invalid_argument("jwt: JWKS key {}: \"kid\" is missing", index);
    }
    auto kty = jwk.find("kty");
    if (kty == jwk.end() || !kty->is_string()) {
        return invalid_argument("jwt: JWKS key {}: \"kty\" is missing", index);
    }
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    if (!bld) return internal_error("jwt: out of memory");
    std::shared_ptr<EVP_PKEY> pkey;
    if (*kty == "RSA") {
        WARD_ASSIGN_OR_RETURN(std::string n, jwk_bytes(jwk, "n", index));
        WARD_ASSIGN_OR_RETURN(std::string e, jwk_bytes(jwk, "e", index));
        BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                             static_cast<int>(n.size()), nullptr));
        BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                             static_cast<int>(e.size()), nullptr));
        if (!bn_n || !bn_e ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
            return internal_error("jwt: out of memory");
        }
        WARD_ASSIGN_OR_RETURN(pkey, key_from_params("RSA", bld.get(), index));
    } else if (*kty == "EC") {
        auto crv = jwk.find("crv");
        if (crv == jwk.end() || !crv->is_string()) {
            return invalid_argument("jwt: JWKS key {}: \"crv\" is missing", index);
        }
        size_t width = *crv == "P-256" ? 32 : *crv == "P-384" ? 48 : 0;
        if (width == 0) {
            return invalid_argument("jwt: JWKS key {}: curve {} (expected P-256 or P-384)", index,
                                    crv->dump());
        }
        WARD_ASSIGN_OR_RETURN(std::string x, jwk_bytes(jwk, "x", index));
        WARD_ASSIGN_OR_RETURN(std::string y, jwk_bytes(jwk, "y", index));
        if (x.size() != width || y.size() != width) {
            return invalid_argument("jwt: JWKS key {}: x and y must be {} bytes each", index,
                                    width);
        }
        std::string point = "\x04" + x + y;  // uncompressed point
        std::string group = crv->get<std::string>();
        if (OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(),
                                            0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                             point.size()) != 1) {
            return internal_error("jwt: out of memory");
        }
        WARD_ASSIGN_OR_RETURN(pkey, key_from_params("EC", bld.get(), index));
    } else {
        return invalid_argument("jwt: JWKS key {}: kty {} (expected RSA or EC)", index,
                                kty->dump());
    }
    WARD_TRY(check_key_type(pkey.get(), fmt::format("JWKS key {}", index)));
    return JwtPublicKey{kid->get<std::string>(), std::move(pkey)};
}

// RS*: the signature as is. ES*: JOSE's fixed-width r || s, re-encoded as the DER sequence
// OpenSSL verifies.
Result<std::string> signature_for_openssl(const AlgInfo& info, std::string_view sig) {
    if (!info.ec) return std::string(sig);
    if (sig.size() != 2 * info.ec_field_bytes) {
        return unauthenticated("jwt: bad signature (ES signature of {} bytes, expected {})",
                               sig.size(), 2 * info.ec_field_bytes);
    }
    const auto* bytes = reinterpret_cast<const unsigned char*>(sig.data());
    const int w = static_cast<int>(info.ec_field_bytes);
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(bytes, w, nullptr);
    BIGNUM* s = BN_bin2bn(bytes + w, w, nullptr);
    if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return internal_error("jwt: out of memory");
    }
    int len = i2d_ECDSA_SIG(es.get(), nullptr);
    if (len <= 0) return internal_error("jwt: cannot encode the ECDSA signature");
    std::string der(static_cast<size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_ECDSA_SIG(es.get(), &p);
    return der;
}

bool verify_signature(EVP_PKEY* pkey, const AlgInfo& info, std::string_view signed_part,
                      std::string_view sig) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
    if (!md || EVP_DigestVerifyInit(md.get(), nullptr, info.digest(), nullptr, pkey) != 1) {
        return false;
    }
    return EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                            sig.size(), reinterpret_cast<const unsigned char*>(signed_part.data()),
                            signed_part.size()) == 1;
}

Result<std::string> string_claim(const json& payload, const char* name) {
    auto it = payload.find(name);
    if (it == payload.end()) return unauthenticated("jwt: claim \"{}\" is missing", name);
    if (!it->is_string()) return unauthenticated("jwt: claim \"{}\" is not a string", name);
    return it->get<std::string>();
}

Result<int64_t> time_claim(const json& payload, const char* name) {
    auto it = payload.find(name);
    if (it == payload.end()) return unauthenticated("jwt: claim \"{}\" is missing", name);
    if (it->is_number_integer()) return it->get<int64_t>();
    if (it->is_number_float()) {
        double v = it->get<double>();
        if (v > -1e15 && v < 1e15) return static_cast<int64_t>(v);
    }
    return unauthenticated("jwt: claim \"{}\" is not a NumericDate", name);
}

int constexpr kBase64Invalid = -1;
int base64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return kBase64Invalid;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        uint32_t v =
            (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
        out += kAlphabet[v & 63];
    }
    size_t rest = bytes.size() - i;
    if (rest == 1) {
        uint32_t v = uint8_t(bytes[i]) << 16;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
    } else if (rest == 2) {
        uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += kAlphabet[(v >> 6) & 63];
    }
    return out;
}

Result<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) {
        return invalid_argument("base64url: length {} is impossible", text.size());
    }
    std::string out;
    out.reserve(text.size() * 3 / 4);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        int v = base64url_value(text[i]);
        if (v == kBase64Invalid) {
            return invalid_argument("base64url: character {} is not in the alphabet", i);
        }
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    // Leftover bits must be zero (one encoding per byte string).
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
        return invalid_argument("base64url: trailing bits are not zero");
    }
    return out;
}

Result<JwtPublicKey> parse_pem_public_key(std::string_view pem, std::string kid) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return internal_error("jwt: out of memory");
    EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
    if (!raw) return invalid_argument("jwt: key \"{}\": not a PEM PUBLIC KEY", kid);
    std::shared_ptr<EVP_PKEY> pkey(raw, PkeyFree());
    WARD_TRY(check_key_type(pkey.get(), fmt::format("key \"{}\"", kid)));
    return JwtPublicKey{std::move(kid), std::move(pkey)};
}

Result<std::vector<JwtPublicKey>> parse_jwks(std::string_view text) {
    json doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return invalid_argument("jwt: JWKS is not a JSON object");
    }
    std::vector<JwtPublicKey> keys;
    if (!doc.contains("keys")) {
        WARD_ASSIGN_OR_RETURN(JwtPublicKey k, parse_jwk(doc, 0));
        keys.push_back(std::move(k));
        return keys;
    }
    const json& list = doc["keys"];
    if (!list.is_array()) return invalid_argument("jwt: JWKS \"keys\" is not an array");
    for (size_t i = 0; i < list.size(); ++i) {
        // Keys meant for encryption are not ours to verify with.
        if (list[i].is_object() && list[i].value("use", "sig") != "sig") continue;
        WARD_ASSIGN_OR_RETURN(JwtPublicKey k, parse_jwk(list[i], i));
        keys.push_back(std::move(k));
    }
    if (keys.empty()) return invalid_argument("jwt: JWKS has no signing keys");
    return keys;
}

Result<JwtIssuer> load_jwt_issuer(const std::string& iss, const std::vector<std::string>& files) {
    JwtIssuer issuer{iss, {}};
    if (iss.empty()) return invalid_argument("jwt: an issuer needs its iss URL");
    for (const std::string& file : files) {
        WARD_ASSIGN_OR_RETURN(std::string text, read_file(file));
        if (text.find("-----BEGIN") != std::string::npos) {
            auto key = parse_pem_public_key(text, std::filesystem::path(file).stem().string());
            if (!key) return key.error().with_context(file);
            issuer.keys.push_back(std::move(key).value());
        } else {
            auto keys = parse_jwks(text);
            if (!keys) return keys.error().with_context(file);
            for (auto& k : *keys) issuer.keys.push_back(std::move(k));
        }
    }
    if (issuer.keys.empty()) return invalid_argument("jwt: issuer {} has no keys", iss);
    std::set<std::string> kids;
    for (const auto& k : issuer.keys) {
        if (!kids.insert(k.kid).second) {
            return invalid_argument("jwt: issuer {} has two keys with kid \"{}\"", iss, k.kid);
        }
    }
    return issuer;
}

// Remembers (iss, jti) of accepted tokens until they expire. Bounded: when full of live
// entries, the one expiring first is dropped.
struct JwtVerifier::Impl {
    std::vector<JwtIssuer> issuers;
    std::string audience_prefix;
    int64_t skew = 60;

    std::mutex mutex;
    std::unordered_map<std::string, int64_t> seen;  // iss "\n" jti -> forget after
    std::multimap<int64_t, std::string> by_expiry;

    // Returns false when the key is already present and live. REQUIRES: mutex held.
    bool remember(const std::string& key, int64_t forget_after, int64_t now) {
        while (!by_expiry.empty() && by_expiry.begin()->first < now) {
            seen.erase(by_expiry.begin()->second);
            by_expiry.erase(by_expiry.begin());
        }
        if (seen.count(key)) return false;
        while (seen.size() >= kReplayCacheEntries && !by_expiry.empty()) {
            seen.erase(by_expiry.begin()->second);
            by_expiry.erase(by_expiry.begin());
        }
        seen.emplace(key, forget_after);
        by_expiry.emplace(forget_after, key);
        return true;
    }
};

JwtVerifier::JwtVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JwtVerifier::JwtVerifier(JwtVerifier&&) noexcept = default;
JwtVerifier& JwtVerifier::operator=(JwtVerifier&&) noexcept = default;
JwtVerifier::~JwtVerifier() = default;

Result<JwtVerifier> JwtVerifier::create(std::vector<JwtIssuer> issuers, std::string audience_prefix,
                                        int max_clock_skew_s) {
    if (issuers.empty()) return invalid_argument("jwt: no trusted issuers configured");
    if (max_clock_skew_s < 0) return invalid_argument("jwt: clock skew must not be negative");
    std::set<std::string> names;
    for (const auto& is : issuers) {
        if (is.keys.empty()) return invalid_argument("jwt: issuer {} has no keys", is.iss);
        if (!names.insert(is.iss).second) {
            return invalid_argument("jwt: issuer {} is configured twice", is.iss);
        }
    }
    auto impl = std::make_unique<Impl>();
    impl->issuers = std::move(issuers);
    impl->audience_prefix = std::move(audience_prefix);
    impl->skew = max_clock_skew_s;
    return JwtVerifier(std::move(impl));
}

Result<JwtClaims> JwtVerifier::verify(std::string_view token, std::string_view audience,
                                      int64_t now) const {
    if (token.size() > kMaxTokenBytes) {
        return unauthenticated("jwt: token is {} bytes (at most {})", token.size(), kMaxTokenBytes);
    }
    size_t dot1 = token.find('.');
    size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        return unauthenticated("jwt: not a compact JWS (expected header.payload.signature)");
    }
    std::string_view header_b64 = token.substr(0, dot1);
    std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
    std::string_view sig_b64 = token.substr(dot2 + 1);
    auto header_text = base64url_decode(header_b64);
    if (!header_text) return unauthenticated("jwt: header: {}", header_text.error().message());
    auto payload_text = base64url_decode(payload_b64);
    if (!payload_text) return unauthenticated("jwt: payload: {}", payload_text.error().message());
    auto sig = base64url_decode(sig_b64);
    if (!sig) return unauthenticated("jwt: signature: {}", sig.error().message());

    json header = json::parse(*header_text, nullptr, false);
    if (header.is_discarded() || !header.is_object()) {
        return unauthenticated("jwt: header is not a JSON object");
    }
    json payload = json::parse(*payload_text, nullptr, false);
    if (payload.is_discarded() || !payload.is_object()) {
        return unauthenticated("jwt: payload is not a JSON object");
    }
    JwtClaims claims;
    auto alg_it = header.find("alg");
    if (alg_it == header.end() || !alg_it->is_string()) {
        return unauthenticated("jwt: header has no \"alg\"");
    }
    claims.alg = alg_it->get<std::string>();
    WARD_ASSIGN_OR_RETURN(Alg alg, parse_alg(claims.alg));
    if (header.contains("crit")) {
        return unauthenticated("jwt: header lists critical extensions Ward does not implement");
    }
    auto kid_it = header.find("kid");
    if (kid_it == header.end() || !kid_it->is_string()) {
        return unauthenticated("jwt: header has no \"kid\"");
    }
    claims.kid = kid_it->get<std::string>();

    WARD_ASSIGN_OR_RETURN(claims.iss, string_claim(payload, "iss"));
    const JwtIssuer* issuer = nullptr;
    for (const auto& is : impl_->issuers) {
        if (is.iss == claims.iss) issuer = &is;
    }
    if (!issuer) return unauthenticated("jwt: issuer {} is not trusted", claims.iss);
    const JwtPublicKey* key = nullptr;
    for (const auto& k : issuer->keys) {
        if (k.kid == claims.kid) key = &k;
    }
    if (!key) {
        return unauthenticated("jwt: key id \"{}\" is not known for issuer {}", claims.kid,
                               claims.iss);
    }
    const AlgInfo info = alg_info(alg);
    const bool key_is_ec = EVP_PKEY_get_base_id(key->pkey.get()) == EVP_PKEY_EC;
    if (key_is_ec != info.ec || (info.ec && curve_name(key->pkey.get()) != info.curve)) {
        return unauthenticated("jwt: alg {} does not match the type of key \"{}\"", claims.alg,
                               claims.kid);
    }
    WARD_ASSIGN_OR_RETURN(std::string der, signature_for_openssl(info, *sig));
    std::string_view signed_part = token.substr(0, dot2);
    if (!verify_signature(key->pkey.get(), info, signed_part, der)) {
        return unauthenticated("jwt: bad signature (key \"{}\" of issuer {})", claims.kid,
                               claims.iss);
    }

    // The signature holds: the claims are the issuer's.
    WARD_ASSIGN_OR_RETURN(claims.sub, string_claim(payload, "sub"));
    WARD_ASSIGN_OR_RETURN(claims.jti, string_claim(payload, "jti"));
    if (claims.jti.empty()) return unauthenticated("jwt: claim \"jti\" is empty");
    auto aud = payload.find("aud");
    if (aud == payload.end()) return unauthenticated("jwt: claim \"aud\" is missing");
    if (aud->is_string()) {
        claims.aud.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
        for (const json& a : *aud) {
            if (!a.is_string()) return unauthenticated("jwt: claim \"aud\" has a non-string entry");
            claims.aud.push_back(a.get<std::string>());
        }
    } else {
        return unauthenticated("jwt: claim \"aud\" is neither a string nor an array");
    }
    std::string expected_aud = impl_->audience_prefix + std::string(audience);
    if (std::find(claims.aud.begin(), claims.aud.end(), expected_aud) == claims.aud.end()) {
        return unauthenticated("jwt: audience {} is not {}", json(claims.aud).dump(), expected_aud);
    }
    WARD_ASSIGN_OR_RETURN(claims.exp, time_claim(payload, "exp"));
    WARD_ASSIGN_OR_RETURN(claims.iat, time_claim(payload, "iat"));
    const int64_t skew = impl_->skew;
    if (now > claims.exp + skew) return unauthenticated("jwt: expired at {}", utc_time(claims.exp));
    if (claims.iat > now + skew) {
        return unauthenticated("jwt: issued in the future ({}; now is {})", utc_time(claims.iat),
                               utc_time(now));
    }
    if (claims.exp < claims.iat) return unauthenticated("jwt: expires before it was issued");
    if (claims.exp - claims.iat > kMaxLifetimeSeconds) {
        return unauthenticated("jwt: lifetime of {} s is over the {} s allowed",
                               claims.exp - claims.iat, kMaxLifetimeSeconds);
    }
    {
        std::lock_guard lock(impl_->mutex);
        if (!impl_->remember(claims.iss + "\n" + claims.jti, claims.exp + skew, now)) {
            return unauthenticated("jwt: jti \"{}\" was already used (replay)", claims.jti);
        }
    }
    return claims;
}

}  // namespace ward::server
