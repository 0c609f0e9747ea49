// Tests of the tensor-type conversions: half-precision edge cases, dequantization of hand-made
// blocks (known bytes → floats worked out by hand from the GGUF/ggml layouts, never by the code
// under test), and quantize → dequantize round trips with RMS error bounds.
#include "engine/quant.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace ward::engine {
namespace {

// Little-endian byte writer for building blocks by hand.
struct Bytes {
    std::vector<uint8_t> b;
    Bytes& u16(uint16_t v) {
        b.push_back(static_cast<uint8_t>(v & 0xff));
        b.push_back(static_cast<uint8_t>(v >> 8));
        return *this;
    }
    Bytes& raw(std::vector<uint8_t> v) {
        b.insert(b.end(), v.begin(), v.end());
        return *this;
    }
    Bytes& fill(size_t n, uint8_t v) {
        b.insert(b.end(), n, v);
        return *this;
    }
};

std::vector<float> dequant(TensorType type, const std::vector<uint8_t>& bytes, int64_t n) {
    EXPECT_EQ(static_cast<int64_t>(bytes.size()), row_bytes(tensor_type_info(type), n));
    std::vector<float> out(static_cast<size_t>(n), -12345.f);
    dequantize_row(type, bytes.data(), out.data(), n);
    return out;
}

void expect_floats(const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "element " << i;
}

uint32_t bits_of(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}
float float_of(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// ---------------------------------------------------------------------------------------------
// Half precision

TEST(Fp16, DecodesKnownValues) {
    EXPECT_EQ(fp16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(fp16_to_f32(0xc000), -2.0f);
    EXPECT_EQ(fp16_to_f32(0x7bff), 65504.0f);                 // largest finite
    EXPECT_EQ(fp16_to_f32(0x3555), 0.333251953125f);          // 0x155 / 1024 * 2^-2 + 2^-2
    EXPECT_EQ(fp16_to_f32(0x0400), 6.103515625e-05f);         // 2^-14, smallest normal
    EXPECT_EQ(fp16_to_f32(0x0001), 5.9604644775390625e-08f);  // 2^-24, smallest subnormal
    EXPECT_EQ(fp16_to_f32(0x03ff), 6.0975551605224609e-05f);  // 1023 * 2^-24
    EXPECT_EQ(fp16_to_f32(0x7c00), std::numeric_limits<float>::infinity());
    EXPECT_EQ(fp16_to_f32(0xfc00), -std::numeric_limits<float>::infinity());
    EXPECT_TRUE(std::isnan(fp16_to_f32(0x7e00)));
    EXPECT_TRUE(std::isnan(fp16_to_f32(0x7c01)));          // signalling NaN stays a NaN, not inf
    EXPECT_EQ(bits_of(fp16_to_f32(0x8000)), 0x80000000u);  // -0
}

TEST(Fp16, EncodesWithRoundToNearestEven) {
    EXPECT_EQ(f32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(f32_to_fp16(-2.0f), 0xc000);
    EXPECT_EQ(f32_to_fp16(-0.0f), 0x8000);
    EXPECT_EQ(f32_to_fp16(65504.0f), 0x7bff);
    EXPECT_EQ(f32_to_fp16(65519.0f), 0x7bff);  // below the halfway point to 2^16
    EXPECT_EQ(f32_to_fp16(65520.0f), 0x7c00);  // halfway: ties to even, which is inf
    EXPECT_EQ(f32_to_fp16(1e10f), 0x7c00);
    EXPECT_EQ(f32_to_fp16(-std::numeric_limits<float>::infinity()), 0xfc00);
    // 1 + 2^-11 is halfway between 0x3c00 and 0x3c01: to even (0x3c00). 1 + 3*2^-11 is halfway
    // between 0x3c01 and 0x3c02: to even (0x3c02). Just above halfway rounds up.
    EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
    EXPECT_EQ(f32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
    EXPECT_EQ(f32_to_fp16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
    // Subnormals, in units of 2^-24.
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);  // tie → even zero
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);  // above the tie
    EXPECT_EQ(f32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);  // 1.5 units: tie → 2
    EXPECT_EQ(f32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);  // 2.5 units: tie → 2
    EXPECT_EQ(f32_to_fp16(-std::ldexp(1.0f, -24)), 0x8001);
    EXPECT_EQ(f32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);  // 1023.5 units → 2^-14
    EXPECT_EQ(f32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);
    EXPECT_EQ(f32_to_fp16(1e-10f), 0x0000);
    EXPECT_EQ(f32_to_fp16(std::numeric_limits<float>::denorm_min()), 0x0000);
    // NaN stays NaN (exponent all ones, mantissa non-zero), sign kept.
    uint16_t nan = f32_to_fp16(std::numeric_limits<float>::quiet_NaN());
    EXPECT_EQ(nan & 0x7c00, 0x7c00);
    EXPECT_NE(nan & 0x03ff, 0);
    uint16_t low_payload_nan = f32_to_fp16(float_of(0xff800001u));  // payload below half's bits
    EXPECT_EQ(low_payload_nan & 0xfc00, 0xfc00);
    EXPECT_NE(low_payload_nan & 0x03ff, 0);
}

TEST(Fp16, EveryHalfRoundTrips) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        float f = fp16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(f)))) << h;
        } else {
            ASSERT_EQ(f32_to_fp16(f), h) << "half 0x" << std::hex << h;
        }
    }
}

TEST(Bf16, ConvertsWithRoundToNearestEven) {
    EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
    EXPECT_EQ(bf16_to_f32(0xc040), -3.0f);
    EXPECT_EQ(bf16_to_f32(0x3eab), 0.333984375f);
    EXPECT_EQ(bf16_to_f32(0x7f80), std::numeric_limits<float>::infinity());
    EXPECT_EQ(bits_of(bf16_to_f32(0x0001)), 0x00010000u);  // a float subnormal
    EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);      // tie → even
    EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);  // tie → even
    EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)), 0x3f81);
    EXPECT_EQ(f32_to_bf16(std::numeric_limits<float>::max()), 0x7f80);  // rounds to inf
    EXPECT_EQ(f32_to_bf16(-std::numeric_limits<float>::infinity()), 0xff80);
    EXPECT_EQ(f32_to_bf16(float_of(0x00010000u)), 0x0001);  // subnormal kept
    EXPECT_EQ(f32_to_bf16(float_of(0x00008000u)), 0x0000);  // tie → even zero
    // A NaN whose payload lives only in the dropped bits must not turn into inf.
    uint16_t nan = f32_to_bf16(float_of(0x7f800001u));
    EXPECT_EQ(nan & 0x7f80, 0x7f80);
    EXPECT_NE(nan & 0x007f, 0);
}

// ---------------------------------------------------------------------------------------------
// Dequantization of hand-made blocks

TEST(Dequantize, F32F16Bf16) {
    std::vector<uint8_t> f32(8);
    float a = 1.5f, b = -0.25f;
    std::memcpy(f32.data(), &a, 4);
    std::memcpy(f32.data() + 4, &b, 4);
    expect_floats(dequant(TensorType::kF32, f32, 2), {1.5f, -0.25f});
    Bytes f16;
    f16.u16(0x3c00).u16(0xc000).u16(0x7bff).u16(0x0001);
    expect_floats(dequant(TensorType::kF16, f16.b, 4),
                  {1.0f, -2.0f, 65504.0f, 5.9604644775390625e-08f});
    Bytes bf16;
    bf16.u16(0x3f80).u16(0xc040);
    expect_floats(dequant(TensorType::kBF16, bf16.b, 2), {1.0f, -3.0f});
}

TEST(Dequantize, Q4_0) {
    // d = 0.5; value = d * (nibble - 8); byte j: element j low nibble, element j + 16 high.
    std::vector<uint8_t> qs(16, 0x88);  // every nibble 8 → 0
    qs[0] = 0x2f;                       // element 0: 15 → 3.5; element 16: 2 → -3
    qs[1] = 0x80;                       // element 1: 0 → -4;   element 17: 8 → 0
    auto got = dequant(TensorType::kQ4_0, Bytes().u16(0x3800).raw(qs).b, 32);
    std::vector<float> want(32, 0.f);
    want[0] = 3.5f;
    want[16] = -3.0f;
    want[1] = -4.0f;
    expect_floats(got, want);
}

TEST(Dequantize, Q4_1) {
    // d = 1, m = -2; value = d * nibble + m.
    std::vector<uint8_t> qs(16, 0x22);  // 2 - 2 = 0
    qs[0] = 0x31;                       // element 0: 1 → -1; element 16: 3 → 1
    qs[15] = 0xf0;                      // element 15: 0 → -2; element 31: 15 → 13
    auto got = dequant(TensorType::kQ4_1, Bytes().u16(0x3c00).u16(0xc000).raw(qs).b, 32);
    std::vector<float> want(32, 0.f);
    want[0] = -1;
    want[16] = 1;
    want[15] = -2;
    want[31] = 13;
    expect_floats(got, want);
}

TEST(Dequantize, Q5_0) {
    // d = 0.25; value = d * ((nibble | fifth_bit << 4) - 16); fifth bit of element j is bit j
    // of the little-endian u32 qh. All bits set except 1 and 17: with zero nibbles, 16 - 16 = 0.
    std::vector<uint8_t> qh = {0xfd, 0xff, 0xfd, 0xff};
    std::vector<uint8_t> qs(16, 0x00);
    qs[0] = 0x0f;  // element 0: 31 - 16 = 15 → 3.75; element 16: 16 - 16 = 0
    qs[1] = 0x5a;  // element 1: no fifth bit, 10 - 16 → -1.5; element 17: 5 - 16 → -2.75
    auto got = dequant(TensorType::kQ5_0, Bytes().u16(0x3400).raw(qh).raw(qs).b, 32);
    std::vector<float> want(32, 0.f);
    want[0] = 3.75f;
    want[1] = -1.5f;
    want[17] = -2.75f;
    expect_floats(got, want);
}

TEST(Dequantize, Q5_1) {
    // d = 1, m = 2; only bit 16 of qh set (byte 2, bit 0).
    std::vector<uint8_t> qh = {0x00, 0x00, 0x01, 0x00};
    std::vector<uint8_t> qs(16, 0x00);
    qs[0] = 0x73;  // element 0: 3 + 2 = 5; element 16: (7 | 16) + 2 = 25
    auto got = dequant(TensorType::kQ5_1, Bytes().u16(0x3c00).u16(0x4000).raw(qh).raw(qs).b, 32);
    std::vector<float> want(32, 2.0f);
    want[0] = 5;
    want[16] = 25;
    expect_floats(got, want);
}

TEST(Dequantize, Q8_0) {
    // d = 0.5; value = d * int8.
    std::vector<uint8_t> qs(32, 0);
    qs[0] = 0x80;  // -128 → -64
    qs[1] = 0x7f;  // 127 → 63.5
    qs[2] = 0xff;  // -1 → -0.5
    qs[31] = 3;    // 1.5
    auto got = dequant(TensorType::kQ8_0, Bytes().u16(0x3800).raw(qs).b, 32);
    std::vector<float> want(32, 0.f);
    want[0] = -64;
    want[1] = 63.5f;
    want[2] = -0.5f;
    want[31] = 1.5f;
    expect_floats(got, want);
}

TEST(Dequantize, Q2_K) {
    // Layout {scales[16], qs[64], d, dmin}; d = 1, dmin = 0.5. Weight e: scales[e/16] (low
    // nibble scale, high nibble min); 2 bits at shift 2*((e%128)/32) of qs[32*(e/128) + e%32].
    // value = d * scale * q - dmin * min.
    std::vector<uint8_t> scales(16, 0);
    scales[0] = 0x21;  // scale 1, min 2
    scales[1] = 0x03;  // scale 3, min 0
    scales[2] = 0x11;  // scale 1, min 1
    scales[4] = 0x05;  // scale 5
    scales[5] = 0xf2;  // scale 2, min 15
    scales[8] = 0x14;  // scale 4, min 1
    scales[14] = 0x07;
    std::vector<uint8_t> qs(64, 0);
    qs[0] = 0xe4;   // e0: 0, e32: 1, e64: 2, e96: 3
    qs[16] = 0x03;  // e16: 3
    qs[32] = 0xc0;  // e224 (second half, shift 6): 3
    qs[33] = 0x01;  // e129: 1
    auto got =
        dequant(TensorType::kQ2_K, Bytes().raw(scales).raw(qs).u16(0x3c00).u16(0x3800).b, 256);
    std::vector<float> want(256, 0.f);
    for (int e = 0; e < 16; ++e) want[e] = -1.0f;   // 1*1*0 - 0.5*2
    want[16] = 9.0f;                                // 3 * 3
    want[32] = 0.5f;                                // 1*1 - 0.5*1
    for (int e = 33; e < 48; ++e) want[e] = -0.5f;  // 0 - 0.5
    want[64] = 10.0f;                               // 5 * 2
    for (int e = 80; e < 96; ++e) want[e] = -7.5f;  // 0 - 0.5 * 15
    // e96: scales[6] = 0 → 0.
    for (int e = 128; e < 144; ++e) want[e] = -0.5f;
    want[129] = 3.5f;   // 4 * 1 - 0.5
    want[224] = 21.0f;  // 7 * 3
    expect_floats(got, want);
}

TEST(Dequantize, Q3_K) {
    // Layout {hmask[32], qs[64], scales[12], d}; d = 1. Scales are 6-bit, biased by 32: low
    // nibbles in bytes 0..7 (j < 8 low nibble of byte j, else high nibble of byte j-8), top 2
    // bits in byte 8 + j%4 at shift 2*(j/4). Here scale 0 = 1 (33), scale 9 = -2 (30), scale
    // 15 = 31 (63), every other 0 (32: low nibble 0, top bits 2).
    std::vector<uint8_t> scales = {0x01, 0xe0, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0xf0, 0xaa, 0x9a, 0xaa, 0xea};
    // A set hmask bit means "no -4"; with all bits set and zero quants every weight is 0.
    std::vector<uint8_t> hmask(32, 0xff);
    std::vector<uint8_t> qs(64, 0);
    qs[0] = 0x03;      // e0: q 3, high bit set → 3 → 1 * 3
    qs[1] = 0x02;      // e1: q 2,
    hmask[1] = 0xfe;   //     high bit (bit 0 of hmask[1]) clear → 2 - 4 = -2
    qs[48] = 0x01;     // e144 (second half, l = 16, shift 0): q 1,
    hmask[16] = 0xef;  //     high bit is bit 144/32 = 4 of hmask[16]: clear → -3 → -2 * -3
    qs[63] = 0xc0;     // e255 (l = 31, shift 6): q 3,
    hmask[31] = 0x7f;  //     bit 7 clear → -1 → 31 * -1
    auto got =
        dequant(TensorType::kQ3_K, Bytes().raw(hmask).raw(qs).raw(scales).u16(0x3c00).b, 256);
    std::vector<float> want(256, 0.f);
    want[0] = 3;
    want[1] = -2;
    want[144] = 6;
    want[255] = -31;
    expect_floats(got, want);
}

// Q4_K and Q5_K share the 12-byte scale block. Sub-block scales/mins: 0: (1, 0), 1: (2, 4),
// 5: (33, 17), 7: (63, 63), others 0. Bytes 0..3: scales 0..3 low 6 bits, top 2 bits of
// scales 4..7; bytes 4..7: mins 0..3 and top bits of mins 4..7; bytes 8..11: low nibbles of
// scales (low) and mins (high) 4..7.
const std::vector<uint8_t> kScalesK = {0x01, 0x82, 0x00, 0xc0, 0x00, 0x44,
                                       0x00, 0xc0, 0x00, 0x11, 0x00, 0xff};

TEST(Dequantize, Q4_K) {
    // Layout {d, dmin, scales[12], qs[128]}; d = 1, dmin = 0.5. Sub-blocks 2c and 2c + 1 are
    // the low and high nibbles of qs[32c ..]. value = d * scale * q - dmin * min.
    std::vector<uint8_t> qs(128, 0);
    qs[0] = 0x35;    // e0 (sub 0): 5 → 5; e32 (sub 1): 3 → 2*3 - 0.5*4 = 4
    qs[64] = 0x10;   // e160 (sub 5): 1 → 33 - 8.5 = 24.5
    qs[127] = 0xf0;  // e255 (sub 7): 15 → 63*15 - 31.5 = 913.5
    auto got =
        dequant(TensorType::kQ4_K, Bytes().u16(0x3c00).u16(0x3800).raw(kScalesK).raw(qs).b, 256);
    std::vector<float> want(256, 0.f);
    want[0] = 5;
    want[32] = 4;
    for (int e = 33; e < 64; ++e) want[e] = -2;  // 0 - 0.5 * 4
    want[160] = 24.5f;
    for (int e = 161; e < 192; ++e) want[e] = -8.5f;
    for (int e = 224; e < 255; ++e) want[e] = -31.5f;
    want[255] = 913.5f;
    expect_floats(got, want);
}

TEST(Dequantize, Q5_K) {
    // Layout {d, dmin, scales[12], qh[32], qs[128]}; d = 0.5, dmin = 1. The fifth bit of
    // weight 64c + l is bit 2c of qh[l], of weight 64c + 32 + l bit 2c + 1.
    std::vector<uint8_t> qh(32, 0);
    qh[0] = 0x21;   // e0 (bit 0) and e160 (c = 2, high: bit 5)
    qh[1] = 0x03;   // e1 (bit 0) and e33 (bit 1)
    qh[31] = 0x80;  // e255 (c = 3, high: bit 7)
    std::vector<uint8_t> qs(128, 0);
    qs[0] = 0x35;    // e0: 5 + 16 = 21 → 0.5 * 1 * 21 = 10.5; e32: 3 → 0.5*2*3 - 4 = -1
    qs[64] = 0x10;   // e160: 1 + 16 = 17 → 0.5 * 33 * 17 - 17 = 263.5
    qs[127] = 0xf0;  // e255: 15 + 16 = 31 → 0.5 * 63 * 31 - 63 = 913.5
    auto got = dequant(TensorType::kQ5_K,
                       Bytes().u16(0x3800).u16(0x3c00).raw(kScalesK).raw(qh).raw(qs).b, 256);
    std::vector<float> want(256, 0.f);
    want[0] = 10.5f;
    want[1] = 8.0f;  // 16 * 0.5
    want[32] = -1;
    for (int e = 33; e < 64; ++e) want[e] = -4;
    want[33] = 12;  // 16 - 4
    want[160] = 263.5f;
    for (int e = 161; e < 192; ++e) want[e] = -17;
    for (int e = 224; e < 255; ++e) want[e] = -63;
    want[255] = 913.5f;
    expect_floats(got, want);
}

TEST(Dequantize, Q6_K) {
    // Layout {ql[128], qh[64], scales[16] (int8), d}; d = 0.5; value = d * scale * (q - 32).
    // Half h, l < 32: ql[64h + l] low/high nibbles are weights l / l + 64, ql[64h + 32 + l]
    // weights l + 32 / l + 96; qh[32h + l] their top 2 bits at shifts 0 / 4 / 2 / 6.
    // Default quant 32 (low nibble 0, top bits 2 = 0xaa in qh) gives 0.
    std::vector<uint8_t> ql(128, 0);
    std::vector<uint8_t> qh(64, 0xaa);
    std::vector<uint8_t> scales(16, 1);
    scales[0] = 2;
    scales[4] = static_cast<uint8_t>(-3);
    scales[9] = static_cast<uint8_t>(-128);
    scales[15] = 127;
    ql[0] = 0x0f;   // e0: low nibble 15,
    qh[0] = 0x8b;   //   top bits 3 → 63 - 32 = 31 → 0.5 * 2 * 31; e64: nibble 0, bits 0 → -32
    ql[80] = 0x01;  // e144 (h = 1, l = 16, low nibble): 1 | 2 << 4 = 33 → 1 → 0.5 * -128 * 1
    ql[127] = 0x10;  // e255 (h = 1, l = 31, weight l + 96): nibble 1,
    qh[63] = 0x2a;   //   top bits (shift 6) 0 → 1 - 32 = -31 → 0.5 * 127 * -31
    auto got = dequant(TensorType::kQ6_K, Bytes().raw(ql).raw(qh).raw(scales).u16(0x3800).b, 256);
    std::vector<float> want(256, 0.f);
    want[0] = 31;
    want[64] = 48;  // 0.5 * -3 * -32
    want[144] = -64;
    want[255] = -1968.5f;
    expect_floats(got, want);
}

TEST(Dequantize, SeveralBlocksInARow) {
    // Two Q8_0 blocks: the second block's scale applies to the second 32 weights only.
    Bytes b;
    b.u16(0x3c00).fill(32, 1).u16(0x4000).fill(32, 1);
    auto got = dequant(TensorType::kQ8_0, b.b, 64);
    for (int e = 0; e < 32; ++e) EXPECT_EQ(got[e], 1.0f);
    for (int e = 32; e < 64; ++e) EXPECT_EQ(got[e], 2.0f);
}

// ---------------------------------------------------------------------------------------------
// Quantization

std::vector<float> gaussian(size_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, 1.f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

double rms_error(TensorType type, const std::vector<float>& x) {
    const TensorTypeInfo info = tensor_type_info(type);
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint8_t> q(static_cast<size_t>(row_bytes(info, n)));
    Status s = quantize_row(type, x.data(), q.data(), n);
    EXPECT_TRUE(s.ok()) << s.to_string();
    std::vector<float> y(x.size());
    dequantize_row(type, q.data(), y.data(), n);
    double sum = 0;
    for (size_t i = 0; i < x.size(); ++i) sum += (x[i] - y[i]) * double(x[i] - y[i]);
    return std::sqrt(sum / static_cast<double>(x.size()));
}

// RMS error of quantize → dequantize on 65536 N(0, 1) weights (so relative to the data's RMS),
// measured with this implementation (GCC 12, libstdc++'s normal_distribution, seed 42):
//   F16  0.000209   BF16 0.00167   Q8_0 0.00541   Q6_K 0.0178   Q5_K 0.0363   Q5_1 0.0381
//   Q5_0 0.0429     Q4_K 0.0718    Q4_1 0.0785    Q4_0 0.0863   Q3_K 0.153    Q2_K 0.299
// These sit where the step sizes predict (uniform rounding error step/sqrt(12), e.g. Q8_0:
// amax ~2.4 / 127 / 3.46 = 0.0055), the same algorithms as ggml's reference quantizers. The
// bounds leave ~10% headroom for other standard libraries' random streams.
struct RmsCase {
    TensorType type;
    double bound;
};

class QuantRoundTrip : public ::testing::TestWithParam<RmsCase> {};

TEST_P(QuantRoundTrip, RmsErrorWithinBound) {
    const RmsCase c = GetParam();
    const double rms = rms_error(c.type, gaussian(65536, 42));
    RecordProperty("rms", std::to_string(rms));
    EXPECT_LT(rms, c.bound) << tensor_type_name(c.type) << " rms " << rms;
    // Not suspiciously perfect either (a quantizer that writes F32 would pass any bound).
    if (c.type != TensorType::kF32) {
        EXPECT_GT(rms, c.bound / 20) << tensor_type_name(c.type);
    }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, QuantRoundTrip,
    ::testing::Values(RmsCase{TensorType::kF16, 0.00023}, RmsCase{TensorType::kBF16, 0.0019},
                      RmsCase{TensorType::kQ8_0, 0.0060}, RmsCase{TensorType::kQ6_K, 0.020},
                      RmsCase{TensorType::kQ5_1, 0.042}, RmsCase{TensorType::kQ5_0, 0.047},
                      RmsCase{TensorType::kQ5_K, 0.040}, RmsCase{TensorType::kQ4_1, 0.087},
                      RmsCase{TensorType::kQ4_0, 0.095}, RmsCase{TensorType::kQ4_K, 0.079},
                      RmsCase{TensorType::kQ3_K, 0.169}, RmsCase{TensorType::kQ2_K, 0.33}),
    [](const auto& param_info) { return std::string(tensor_type_name(param_info.param.type)); });

TEST(Quantize, F32IsExact) {
    auto x = gaussian(64, 1);
    EXPECT_EQ(rms_error(TensorType::kF32, x), 0.0);
}

TEST(Quantize, ZerosAndConstantsSurvive) {
    const TensorType types[] = {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1,
                                TensorType::kQ5_0, TensorType::kQ5_1, TensorType::kQ2_K,
                                TensorType::kQ3_K, TensorType::kQ4_K, TensorType::kQ5_K,
                                TensorType::kQ6_K};
    for (TensorType t : types) {
        std::vector<float> zeros(256, 0.f);
        EXPECT_EQ(rms_error(t, zeros), 0.0) << tensor_type_name(t);
        // A constant row is reproduced within a few percent.
        std::vector<float> c(256, 0.75f);
        EXPECT_LT(rms_error(t, c), 0.05) << tensor_type_name(t);
    }
}

TEST(Quantize, ScaledInputsScaleTheError) {
    // Tiny and huge (but finite in fp16 scale range) weights quantize as well as unit ones.
    auto x = gaussian(4096, 7);
    for (float scale : {1e-3f, 1e3f}) {
        std::vector<float> y = x;
        for (float& v : y) v *= scale;
        EXPECT_LT(rms_error(TensorType::kQ4_K, y) / scale, 0.079) << scale;
        EXPECT_LT(rms_error(TensorType::kQ8_0, y) / scale, 0.0060) << scale;
    }
}

TEST(Quantize, NonFiniteInputsNeverCrash) {
    std::vector<float> x(256, 1.0f);
    x[3] = std::numeric_limits<float>::quiet_NaN();
    x[70] = std::numeric_limits<float>::infinity();
    x[200] = -std::numeric_limits<float>::infinity();
    for (TensorType t :
         {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ4_1, TensorType::kQ5_0,
          TensorType::kQ5_1, TensorType::kQ2_K, TensorType::kQ3_K, TensorType::kQ4_K,
          TensorType::kQ5_K, TensorType::kQ6_K, TensorType::kF16, TensorType::kBF16}) {
        std::vector<uint8_t> q(static_cast<size_t>(row_bytes(tensor_type_info(t), 256)));
        EXPECT_TRUE(quantize_row(t, x.data(), q.data(), 256).ok()) << tensor_type_name(t);
    }
}

TEST(Quantize, RejectsBadTypesAndLengths) {
    std::vector<float> x(64, 1.f);
    std::vector<uint8_t> q(1024);
    Status s = quantize_row(TensorType::kQ8_K, x.data(), q.data(), 256);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("Q8_K"), std::string::npos) << s.message();
    s = quantize_row(TensorType::kQ4_K, x.data(), q.data(), 64);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("block size 256"), std::string::npos) << s.message();
    EXPECT_FALSE(can_quantize(TensorType::kIQ2_XXS));
    EXPECT_TRUE(can_quantize(TensorType::kQ6_K));
}

TEST(Quantize, Q8_0MatchesTheReferenceFormula) {
    // ggml's reference: d = amax / 127, q = round(x / d) (half away from zero).
    std::vector<float> x(32);
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16) * 0.125f;  // amax = 2
    std::vector<uint8_t> q(34);
    ASSERT_TRUE(quantize_row(TensorType::kQ8_0, x.data(), q.data(), 32).ok());
    uint16_t d = static_cast<uint16_t>(q[0] | q[1] << 8);
    EXPECT_EQ(d, f32_to_fp16(2.0f / 127));
    EXPECT_EQ(static_cast<int8_t>(q[2]), -127);     // -2 / (2/127)
    EXPECT_EQ(static_cast<int8_t>(q[2 + 16]), 0);   // 0
    EXPECT_EQ(static_cast<int8_t>(q[2 + 17]), 8);   // 0.125 * 63.5 = 7.9375 → 8
    EXPECT_EQ(static_cast<int8_t>(q[2 + 20]), 32);  // 0.5 * 63.5 = 31.75 → 32
}

}  // namespace
}  // namespace ward::engine
