#include "server/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace ward::server {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kNow = 1800000000;  // 2027-01-15
constexpr const char* kIss = "https://ehr.example.org";
constexpr const char* kAud = "https://ward.example.org/cds-services/patient-summary";

// Test keys are generated here, once per run.
struct TestKey {
    std::shared_ptr<EVP_PKEY> pkey;
    std::string alg;
    std::string kid;
};

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* p) {
    return std::shared_ptr<EVP_PKEY>(p, [](EVP_PKEY* k) { EVP_PKEY_free(k); });
}

const TestKey& rsa_key() {
    static TestKey k{own(EVP_RSA_gen(2048)), "RS384", "rsa-1"};
    return k;
}
const TestKey& ec384_key() {
    static TestKey k{own(EVP_EC_gen("P-384")), "ES384", "ec-384"};
    return k;
}
const TestKey& ec256_key() {
    static TestKey k{own(EVP_EC_gen("P-256")), "ES256", "ec-256"};
    return k;
}

std::string public_pem(EVP_PKEY* pkey) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, pkey);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string pem(data, static_cast<size_t>(len));
    BIO_free(bio);
    return pem;
}

std::string bn_b64(const BIGNUM* bn, int width = 0) {
    int n = width ? width : BN_num_bytes(bn);
    std::string bytes(static_cast<size_t>(n), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(bytes.data()), n);
    return base64url_encode(bytes);
}

// The public half of a test key as a JWK.
json jwk_of(const TestKey& k) {
    if (EVP_PKEY_get_base_id(k.pkey.get()) == EVP_PKEY_RSA) {
        BIGNUM *n = nullptr, *e = nullptr;
        EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n);
        EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e);
        json j = {
            {"kty", "RSA"}, {"kid", k.kid}, {"use", "sig"}, {"n", bn_b64(n)}, {"e", bn_b64(e)}};
        BN_free(n);
        BN_free(e);
        return j;
    }
    BIGNUM *x = nullptr, *y = nullptr;
    EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(k.pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    int width = k.alg == "ES384" ? 48 : 32;
    json j = {{"kty", "EC"},
              {"kid", k.kid},
              {"crv", width == 48 ? "P-384" : "P-256"},
              {"x", bn_b64(x, width)},
              {"y", bn_b64(y, width)}};
    BN_free(x);
    BN_free(y);
    return j;
}

// Signs header.payload with the key; ES signatures are converted from DER to JOSE r || s.
std::string sign(const TestKey& k, const std::string& signing_input) {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const EVP_MD* digest = k.alg.ends_with("384") ? EVP_sha384() : EVP_sha256();
    EVP_DigestSignInit(md, nullptr, digest, nullptr, k.pkey.get());
    size_t len = 0;
    EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    std::string sig(len, '\0');
    EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                   signing_input.size());
    sig.resize(len);
    EVP_MD_CTX_free(md);
    if (k.alg.starts_with("RS")) return sig;
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    int width = k.alg == "ES384" ? 48 : 32;
    std::string out(static_cast<size_t>(2 * width), '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(out.data()), width);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(out.data()) + width, width);
    ECDSA_SIG_free(es);
    return out;
}

json default_claims(std::string jti = "jti-1") {
    return {{"iss", kIss},       {"sub", "client-42"}, {"aud", kAud},
            {"exp", kNow + 240}, {"iat", kNow - 10},   {"jti", std::move(jti)}};
}

std::string make_token(const TestKey& k, const json& claims, json header = json::object()) {
    if (!header.contains("alg")) header["alg"] = k.alg;
    if (!header.contains("kid")) header["kid"] = k.kid;
    header["typ"] = "JWT";
    std::string input = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
    return input + "." + base64url_encode(sign(k, input));
}

JwtVerifier make_verifier() {
    JwtIssuer issuer{kIss, {}};
    for (const TestKey* k : {&rsa_key(), &ec384_key(), &ec256_key()}) {
        auto pk = parse_pem_public_key(public_pem(k->pkey.get()), k->kid);
        EXPECT_TRUE(pk.has_value()) << pk.error().to_string();
        issuer.keys.push_back(*pk);
    }
    auto v = JwtVerifier::create({issuer});
    EXPECT_TRUE(v.has_value()) << v.error().to_string();
    return std::move(v).value();
}

std::string verify_error(const JwtVerifier& v, const std::string& token,
                         std::string_view aud = kAud, int64_t now = kNow) {
    auto r = v.verify(token, aud, now);
    if (r.has_value()) return "accepted";
    EXPECT_EQ(r.error().code(), StatusCode::kUnauthenticated) << r.error().to_string();
    return r.error().message();
}

TEST(Base64Url, RoundTripsAndRejectsJunk) {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
        auto back = base64url_decode(base64url_encode(s));
        ASSERT_TRUE(back.has_value());
        EXPECT_EQ(*back, s);
    }
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_FALSE(base64url_decode("Zm9v=").has_value());  // padding
    EXPECT_FALSE(base64url_decode("Zm+v").has_value());   // standard alphabet
    EXPECT_FALSE(base64url_decode("Zm9vY").has_value());  // impossible length
    EXPECT_FALSE(base64url_decode("Zh").has_value());     // non-zero trailing bits
}

TEST(JwtVerifier, AcceptsEachAlgorithm) {
    JwtVerifier v = make_verifier();
    int n = 0;
    for (const TestKey* k : {&rsa_key(), &ec384_key(), &ec256_key()}) {
        std::string token = make_token(*k, default_claims("jti-alg-" + std::to_string(n++)));
        auto claims = v.verify(token, kAud, kNow);
        ASSERT_TRUE(claims.has_value()) << k->alg << ": " << claims.error().to_string();
        EXPECT_EQ(claims->iss, kIss);
        EXPECT_EQ(claims->sub, "client-42");
        EXPECT_EQ(claims->alg, k->alg);
        EXPECT_EQ(claims->kid, k->kid);
        EXPECT_EQ(claims->aud, std::vector<std::string>{kAud});
    }
}

TEST(JwtVerifier, Rs256AlsoAccepted) {
    JwtVerifier v = make_verifier();
    TestKey rs256 = rsa_key();
    rs256.alg = "RS256";
    EXPECT_EQ(verify_error(v, make_token(rs256, default_claims())), "accepted");
}

TEST(JwtVerifier, AudienceMayBeAnArray) {
    JwtVerifier v = make_verifier();
    json c = default_claims();
    c["aud"] = {"https://other.example.org", kAud};
    EXPECT_EQ(verify_error(v, make_token(ec384_key(), c)), "accepted");
}

TEST(JwtVerifier, AudiencePrefixIsPrepended) {
    JwtIssuer issuer{kIss, {*parse_pem_public_key(public_pem(ec384_key().pkey.get()), "ec-384")}};
    auto v = JwtVerifier::create({issuer}, "https://ward.example.org");
    ASSERT_TRUE(v.has_value());
    auto r =
        v->verify(make_token(ec384_key(), default_claims()), "/cds-services/patient-summary", kNow);
    EXPECT_TRUE(r.has_value()) << r.error().to_string();
}

TEST(JwtVerifier, BadSignature) {
    JwtVerifier v = make_verifier();
    for (const TestKey* k : {&rsa_key(), &ec384_key()}) {
        std::string token = make_token(*k, default_claims());
        // Same header and signature over different claims.
        json other = default_claims();
        other["sub"] = "admin";
        size_t d1 = token.find('.'), d2 = token.rfind('.');
        std::string forged =
            token.substr(0, d1 + 1) + base64url_encode(other.dump()) + token.substr(d2);
        EXPECT_NE(verify_error(v, forged).find("jwt: bad signature"), std::string::npos) << k->alg;
        // A flipped signature bit.
        std::string sig = *base64url_decode(token.substr(d2 + 1));
        sig[sig.size() / 2] ^= 1;
        std::string flipped = token.substr(0, d2 + 1) + base64url_encode(sig);
        EXPECT_NE(verify_error(v, flipped).find("bad signature"), std::string::npos) << k->alg;
    }
    // An RSA-signed token claiming the EC key's kid.
    std::string token = make_token(rsa_key(), default_claims(), {{"kid", "ec-384"}});
    EXPECT_NE(verify_error(v, token).find("does not match the type of key"), std::string::npos);
    // A token signed by a key the issuer does not have, under a known kid.
    TestKey stranger{own(EVP_EC_gen("P-384")), "ES384", "ec-384"};
    EXPECT_NE(verify_error(v, make_token(stranger, default_claims())).find("bad signature"),
              std::string::npos);
}

TEST(JwtVerifier, RefusesAlgNoneAndHmac) {
    JwtVerifier v = make_verifier();
    std::string none = base64url_encode(json{{"alg", "none"}, {"kid", "rsa-1"}}.dump()) + "." +
                       base64url_encode(default_claims().dump()) + ".";
    EXPECT_EQ(verify_error(v, none), "jwt: alg \"none\" (unsigned tokens) is not accepted");
    std::string hs = base64url_encode(json{{"alg", "HS256"}, {"kid", "rsa-1"}}.dump()) + "." +
                     base64url_encode(default_claims().dump()) + ".c2ln";
    EXPECT_NE(verify_error(v, hs).find("alg \"HS256\" is not accepted"), std::string::npos);
    std::string ps = base64url_encode(json{{"alg", "PS384"}, {"kid", "rsa-1"}}.dump()) + "." +
                     base64url_encode(default_claims().dump()) + ".c2ln";
    EXPECT_NE(verify_error(v, ps).find("not supported"), std::string::npos);
}

TEST(JwtVerifier, WrongAudience) {
    JwtVerifier v = make_verifier();
    std::string token = make_token(ec384_key(), default_claims());
    EXPECT_NE(
        verify_error(v, token, "https://ward.example.org/cds-services/other").find("jwt: audience"),
        std::string::npos);
}

TEST(JwtVerifier, ExpiredAndSkew) {
    JwtVerifier v = make_verifier();
    json c = default_claims("jti-exp");
    c["iat"] = kNow - 200;
    c["exp"] = kNow - 61;
    EXPECT_EQ(verify_error(v, make_token(ec384_key(), c)), "jwt: expired at 2027-01-15T07:58:59Z");
    c["exp"] = kNow - 30;  // within the 60 s skew
    EXPECT_EQ(verify_error(v, make_token(ec384_key(), c)), "accepted");
}

TEST(JwtVerifier, IssuedInTheFuture) {
    JwtVerifier v = make_verifier();
    json c = default_claims();
    c["iat"] = kNow + 120;
    c["exp"] = kNow + 300;
    EXPECT_NE(verify_error(v, make_token(ec384_key(), c)).find("jwt: issued in the future"),
              std::string::npos);
}

TEST(JwtVerifier, LifetimeOverFiveMinutes) {
    JwtVerifier v = make_verifier();
    json c = default_claims();
    c["iat"] = kNow;
    c["exp"] = kNow + 3600;
    EXPECT_EQ(verify_error(v, make_token(ec384_key(), c)),
              "jwt: lifetime of 3600 s is over the 300 s allowed");
}

TEST(JwtVerifier, UntrustedIssuer) {
    JwtVerifier v = make_verifier();
    json c = default_claims();
    c["iss"] = "https://x";
    EXPECT_EQ(verify_error(v, make_token(ec384_key(), c)), "jwt: issuer https://x is not trusted");
}

TEST(JwtVerifier, UnknownKid) {
    JwtVerifier v = make_verifier();
    std::string token = make_token(ec384_key(), default_claims(), {{"kid", "ec-999"}});
    EXPECT_EQ(verify_error(v, token),
              "jwt: key id \"ec-999\" is not known for issuer https://ehr.example.org");
}

TEST(JwtVerifier, ReplayedJti) {
    JwtVerifier v = make_verifier();
    std::string token = make_token(ec384_key(), default_claims("once"));
    EXPECT_EQ(verify_error(v, token), "accepted");
    EXPECT_EQ(verify_error(v, token), "jwt: jti \"once\" was already used (replay)");
    // A new token with the same jti is refused too, until the first one expires.
    EXPECT_NE(verify_error(v, make_token(rsa_key(), default_claims("once"))).find("replay"),
              std::string::npos);
    // After the first token's lifetime (exp + skew) the jti may come back.
    json later = default_claims("once");
    later["iat"] = kNow + 400;
    later["exp"] = kNow + 600;
    EXPECT_EQ(verify_error(v, make_token(ec384_key(), later), kAud, kNow + 400), "accepted");
}

TEST(JwtVerifier, RejectedTokenDoesNotBurnItsJti) {
    JwtVerifier v = make_verifier();
    std::string good = make_token(ec384_key(), default_claims("keep"));
    EXPECT_NE(verify_error(v, good, "https://wrong"), "accepted");
    EXPECT_EQ(verify_error(v, good), "accepted");
}

TEST(JwtVerifier, MalformedTokens) {
    JwtVerifier v = make_verifier();
    std::string good = make_token(ec384_key(), default_claims());
    size_t d1 = good.find('.');
    std::string sig = good.substr(good.rfind('.'));
    auto expect_msg = [&](const std::string& token, std::string_view needle) {
        std::string msg = verify_error(v, token);
        EXPECT_NE(msg.find(needle), std::string::npos) << "token " << token << " -> " << msg;
    };
    expect_msg("", "not a compact JWS");
    expect_msg("abc", "not a compact JWS");
    expect_msg("a.b.c.d", "not a compact JWS");
    expect_msg("!!!" + good.substr(d1), "jwt: header: base64url");
    expect_msg(good.substr(0, d1) + ".e30=" + sig, "jwt: payload: base64url");
    expect_msg(base64url_encode("{not json") + good.substr(d1), "header is not a JSON object");
    expect_msg(good.substr(0, d1) + "." + base64url_encode("[1,2]") + sig,
               "payload is not a JSON object");
    expect_msg(base64url_encode("{\"kid\":\"ec-384\"}") + good.substr(d1), "no \"alg\"");
    expect_msg(base64url_encode("{\"alg\":\"ES384\"}") + good.substr(d1), "no \"kid\"");
    expect_msg(std::string(JwtVerifier::kMaxTokenBytes + 1, 'a'), "bytes (at most");
    // Missing and mistyped claims (signed properly, so the claim checks are reached).
    for (const char* claim : {"sub", "jti", "aud", "exp", "iat"}) {
        json c = default_claims(std::string("missing-") + claim);
        c.erase(claim);
        expect_msg(make_token(ec384_key(), c), std::string("\"") + claim + "\" is missing");
    }
    json c = default_claims("typed");
    c["exp"] = "tomorrow";
    expect_msg(make_token(ec384_key(), c), "\"exp\" is not a NumericDate");
    // A signature of the wrong width for ES384.
    expect_msg(good.substr(0, good.rfind('.')) + "." + base64url_encode("short"),
               "ES signature of 5 bytes");
}

TEST(JwtKeys, JwksLoadsRsaAndEcKeys) {
    json jwks = {{"keys", {jwk_of(rsa_key()), jwk_of(ec384_key()), jwk_of(ec256_key())}}};
    auto keys = parse_jwks(jwks.dump());
    ASSERT_TRUE(keys.has_value()) << keys.error().to_string();
    ASSERT_EQ(keys->size(), 3u);
    auto v = JwtVerifier::create({JwtIssuer{kIss, *keys}});
    ASSERT_TRUE(v.has_value());
    int n = 0;
    for (const TestKey* k : {&rsa_key(), &ec384_key(), &ec256_key()}) {
        auto r =
            v->verify(make_token(*k, default_claims("jwks-" + std::to_string(n++))), kAud, kNow);
        EXPECT_TRUE(r.has_value()) << k->alg << ": " << r.error().to_string();
    }
}

TEST(JwtKeys, JwksErrorsNameTheField) {
    EXPECT_FALSE(parse_jwks("nope").has_value());
    EXPECT_FALSE(parse_jwks("{\"keys\": 3}").has_value());
    json bad = jwk_of(ec384_key());
    bad.erase("x");
    auto r = parse_jwks(json{{"keys", {bad}}}.dump());
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message().find("\"x\" is missing"), std::string::npos);
    bad = jwk_of(ec384_key());
    bad["y"] = bad["x"];  // not a point on the curve
    EXPECT_FALSE(parse_jwks(json{{"keys", {bad}}}.dump()).has_value());
    bad = jwk_of(rsa_key());
    bad["kty"] = "oct";
    EXPECT_FALSE(parse_jwks(json{{"keys", {bad}}}.dump()).has_value());
}

TEST(JwtKeys, LoadIssuerFromFiles) {
    fs::path dir = fs::temp_directory_path() / ("ward-jwt-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "ehr-2026.pem") << public_pem(rsa_key().pkey.get());
    std::ofstream(dir / "ehr.jwks.json") << json{{"keys", {jwk_of(ec384_key())}}}.dump();
    auto issuer =
        load_jwt_issuer(kIss, {(dir / "ehr-2026.pem").string(), (dir / "ehr.jwks.json").string()});
    ASSERT_TRUE(issuer.has_value()) << issuer.error().to_string();
    ASSERT_EQ(issuer->keys.size(), 2u);
    EXPECT_EQ(issuer->keys[0].kid, "ehr-2026");
    EXPECT_EQ(issuer->keys[1].kid, "ec-384");
    auto missing = load_jwt_issuer(kIss, {(dir / "nope.pem").string()});
    EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
    auto twice =
        load_jwt_issuer(kIss, {(dir / "ehr.jwks.json").string(), (dir / "ehr.jwks.json").string()});
    EXPECT_FALSE(twice.has_value());
    fs::remove_all(dir);
}

TEST(JwtKeys, CreateRejectsBadConfiguration) {
    EXPECT_FALSE(JwtVerifier::create({}).has_value());
    EXPECT_FALSE(JwtVerifier::create({JwtIssuer{kIss, {}}}).has_value());
    auto k = parse_pem_public_key(public_pem(ec384_key().pkey.get()), "a");
    ASSERT_TRUE(k.has_value());
    EXPECT_FALSE(JwtVerifier::create({JwtIssuer{kIss, {*k}}, JwtIssuer{kIss, {*k}}}).has_value());
    // Small RSA keys are refused at load.
    auto small = own(EVP_RSA_gen(1024));
    EXPECT_FALSE(parse_pem_public_key(public_pem(small.get()), "small").has_value());
}

}  // namespace
}  // namespace ward::server
