#include "common/crypto.h"

#include <gtest/gtest.h>

namespace ward::crypto {
namespace {

Bytes hex(std::string_view h) {
    return from_hex(h).value();
}

// FIPS 180-2 / NIST examples.
TEST(Crypto, Sha256PublishedVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Crypto, Sha256IncrementalMatchesOneShot) {
    std::string million(1000000, 'a');  // the FIPS "one million a" vector
    Sha256 h;
    for (size_t i = 0; i < million.size(); i += 4096) {
        h.update(as_bytes(std::string_view(million).substr(i, 4096)));
    }
    EXPECT_EQ(to_hex(h.finish()),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// RFC 4231 test cases 1, 2 and 6 (key longer than the block size).
TEST(Crypto, HmacSha256Rfc4231) {
    EXPECT_EQ(to_hex(hmac_sha256(hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(to_hex(hmac_sha256(as_bytes("Jefe"), "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    Bytes long_key(131, 0xaa);
    EXPECT_EQ(
        to_hex(hmac_sha256(long_key, "Test Using Larger Than Block-Size Key - Hash Key First")),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, SealOpenRoundTrip) {
    Bytes key = random_bytes(kAeadKeyBytes);
    std::string secret = "John Smith, MRN 12345";
    Bytes ad = {'s', 'c', 'o', 'p', 'e'};
    Bytes box = seal(key, as_bytes(secret), ad);
    EXPECT_EQ(box.size(), kAeadNonceBytes + secret.size() + kAeadTagBytes);
    auto plain = open(key, box, ad);
    ASSERT_TRUE(plain) << plain.error().to_string();
    EXPECT_EQ(std::string(plain->begin(), plain->end()), secret);
    // Two seals of the same text differ (random nonce).
    EXPECT_NE(seal(key, as_bytes(secret), ad), box);
}

TEST(Crypto, OpenRejectsTamperingWrongKeyAndWrongScope) {
    Bytes key = random_bytes(kAeadKeyBytes);
    Bytes box = seal(key, as_bytes("payload"), as_bytes("patient-1"));
    Bytes tampered = box;
    tampered[kAeadNonceBytes] ^= 1;
    EXPECT_EQ(open(key, tampered, as_bytes("patient-1")).error().code(), StatusCode::kDataLoss);
    EXPECT_EQ(open(random_bytes(kAeadKeyBytes), box, as_bytes("patient-1")).error().code(),
              StatusCode::kDataLoss);
    EXPECT_EQ(open(key, box, as_bytes("patient-2")).error().code(), StatusCode::kDataLoss);
    EXPECT_EQ(open(key, Bytes(10), {}).error().code(), StatusCode::kDataLoss);
    EXPECT_EQ(open(Bytes(5), box, {}).error().code(), StatusCode::kInvalidArgument);
}

TEST(Crypto, RandomBytesAreRandom) {
    Bytes a = random_bytes(32), b = random_bytes(32);
    EXPECT_EQ(a.size(), 32u);
    EXPECT_NE(a, b);
    EXPECT_TRUE(random_bytes(0).empty());
}

TEST(Crypto, HexAndConstantTimeEqual) {
    EXPECT_EQ(to_hex(hex("00ff10Ab")), "00ff10ab");
    EXPECT_FALSE(from_hex("abc"));
    EXPECT_EQ(from_hex("zz").error().message(), "hex: invalid character at position 0");
    EXPECT_TRUE(equal(hex("0102"), hex("0102")));
    EXPECT_FALSE(equal(hex("0102"), hex("0103")));
    EXPECT_FALSE(equal(hex("0102"), hex("010203")));
}

// RFC 4648 section 10 test vectors.
TEST(Crypto, Base64) {
    EXPECT_EQ(to_base64(as_bytes("")), "");
    EXPECT_EQ(to_base64(as_bytes("f")), "Zg==");
    EXPECT_EQ(to_base64(as_bytes("fo")), "Zm8=");
    EXPECT_EQ(to_base64(as_bytes("foo")), "Zm9v");
    EXPECT_EQ(to_base64(as_bytes("foob")), "Zm9vYg==");
    EXPECT_EQ(to_base64(as_bytes("fooba")), "Zm9vYmE=");
    EXPECT_EQ(to_base64(as_bytes("foobar")), "Zm9vYmFy");
    EXPECT_EQ(to_base64(hex("fbff")), "+/8=");
}

}  // namespace
}  // namespace ward::crypto
