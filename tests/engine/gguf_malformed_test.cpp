// Malformed GGUF files: a valid writer-made file cut at every byte, and single-field
// corruptions (bad magic, versions, offsets, dimensions, types, alignment, duplicates, counts).
// Each must give a kInvalidArgument error whose message names what was wrong; none may crash
// (this suite runs under ASan/UBSan).
#include <algorithm>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "engine/gguf.h"
#include "engine/gguf_writer.h"

namespace ward::engine {
namespace {

using Bytes = std::vector<uint8_t>;

// Offset of the first occurrence of `needle` (a key or tensor name) in the file.
size_t find_text(const Bytes& bytes, std::string_view needle) {
    auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
    EXPECT_NE(it, bytes.end()) << needle;
    return static_cast<size_t>(it - bytes.begin());
}

template <typename T>
void poke(Bytes& bytes, size_t offset, T value) {
    ASSERT_LE(offset + sizeof(T), bytes.size());
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

// Parses and expects failure with a "gguf: " message containing `expected`.
void expect_error(const Bytes& bytes, std::string_view expected) {
    auto f = GgufFile::parse(bytes);
    ASSERT_FALSE(f) << "parsed a file that should fail with: " << expected;
    EXPECT_EQ(f.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(f.error().message().rfind("gguf: ", 0), 0u) << f.error().message();
    EXPECT_NE(f.error().message().find(expected), std::string::npos)
        << "message: " << f.error().message() << "\nexpected to contain: " << expected;
}

// A small valid file: 3 metadata pairs (string, u32, i32 array) and two tensors whose data sizes
// are multiples of 32, so the file ends exactly where the last tensor's data ends and any cut
// loses data.
struct Sample {
    Bytes bytes;
    size_t kv_arch;  // start of each metadata pair (its key's length)
    size_t kv_count;
    size_t kv_list;
    size_t tensor_a;  // start of each tensor info (its name's length)
    size_t tensor_b;
    size_t infos_end;  // end of the tensor infos (padding starts)
    size_t data_start;
};

Sample make_sample() {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    w.set_u32("test.count", 7);
    w.set_i32_array("test.list", {1, 2, 3});
    std::vector<float> a(32), b(64);
    for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i) * 0.25f - 3.f;
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i) * -0.5f;
    EXPECT_TRUE(w.add_tensor("tensor.a", TensorType::kF32, {8, 4}, a).ok());    // 128 bytes
    EXPECT_TRUE(w.add_tensor("tensor.b", TensorType::kQ8_0, {32, 2}, b).ok());  // 68 → pad 96
    Sample s;
    s.bytes = w.to_bytes();
    s.kv_arch = find_text(s.bytes, "general.architecture") - 8;
    s.kv_count = find_text(s.bytes, "test.count") - 8;
    s.kv_list = find_text(s.bytes, "test.list") - 8;
    s.tensor_a = find_text(s.bytes, "tensor.a") - 8;
    s.tensor_b = find_text(s.bytes, "tensor.b") - 8;
    // tensor.b info: name (8 + 8), n_dims (4), 2 dims (16), type (4), offset (8).
    s.infos_end = s.tensor_b + 16 + 4 + 16 + 4 + 8;
    s.data_start = (s.infos_end + 31) / 32 * 32;
    return s;
}

// Offset of a tensor info's fields, from the start of the info (name length).
size_t n_dims_at(size_t info, size_t name_len) {
    return info + 8 + name_len;
}
size_t dim_at(size_t info, size_t name_len, int d) {
    return n_dims_at(info, name_len) + 4 + 8 * static_cast<size_t>(d);
}
size_t type_at(size_t info, size_t name_len, int n_dims) {
    return dim_at(info, name_len, n_dims);
}
size_t offset_at(size_t info, size_t name_len, int n_dims) {
    return type_at(info, name_len, n_dims) + 4;
}

TEST(GgufMalformed, SampleIsValid) {
    Sample s = make_sample();
    auto f = GgufFile::parse(s.bytes);
    ASSERT_TRUE(f) << f.error().to_string();
    EXPECT_EQ((*f)->data_offset(), s.data_start);
    EXPECT_EQ(s.bytes.size(), s.data_start + 128 + 96);
    EXPECT_EQ((*f)->tensors()[1].offset, 128u);
}

TEST(GgufMalformed, EveryTruncationIsAnError) {
    Sample s = make_sample();
    // The Q8_0 tensor's 68 bytes of data are followed by 28 bytes of padding, so a cut inside
    // that final padding still leaves a complete file; every earlier cut must fail.
    const size_t last_data_end = s.data_start + 128 + 68;
    for (size_t cut = 0; cut < s.bytes.size(); ++cut) {
        Bytes prefix(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(cut));
        auto f = GgufFile::parse(prefix);
        if (cut >= last_data_end) {
            EXPECT_TRUE(f) << "cut at " << cut << ": " << f.error().to_string();
            continue;
        }
        ASSERT_FALSE(f) << "a file cut at byte " << cut << " of " << s.bytes.size() << " parsed";
        EXPECT_EQ(f.error().code(), StatusCode::kInvalidArgument) << cut;
        EXPECT_EQ(f.error().message().rfind("gguf: ", 0), 0u) << f.error().message();
    }
}

TEST(GgufMalformed, TruncationNamesTheSection) {
    Sample s = make_sample();
    auto cut = [&](size_t at) {
        return Bytes(s.bytes.begin(), s.bytes.begin() + static_cast<std::ptrdiff_t>(at));
    };
    // Header.
    expect_error(cut(0), "while reading magic");
    expect_error(cut(2), "while reading magic");
    expect_error(cut(6), "while reading version");
    expect_error(cut(12), "while reading tensor count");
    expect_error(cut(20), "while reading metadata count");
    // Before reading any pair the reader checks that the counts can fit in what is left (at
    // least 13 bytes per pair, 32 per tensor info), so a cut early in a section reports the count.
    expect_error(cut(s.kv_arch + 4), "metadata count 3 cannot fit in the");
    expect_error(cut(s.kv_count - 3),
                 "metadata 'general.architecture' at byte 56 has length 5 but only 2 bytes are "
                 "left");
    expect_error(cut(s.kv_count + 4), "while reading metadata key #1");
    expect_error(cut(s.kv_count + 8 + 5),
                 "metadata key #1 at byte 69 has length 10 but only 5 bytes are left");
    expect_error(cut(s.kv_count + 8 + 10 + 2), "while reading metadata 'test.count' value type");
    expect_error(cut(s.kv_count + 8 + 10 + 4 + 1), "while reading metadata 'test.count'");
    expect_error(cut(s.kv_list + 8 + 9 + 4 + 2), "while reading metadata 'test.list' element type");
    expect_error(cut(s.kv_list + 8 + 9 + 4 + 4 + 3), "while reading metadata 'test.list' length");
    expect_error(cut(s.kv_list + 8 + 9 + 4 + 4 + 8 + 6),
                 "metadata 'test.list' claims 3 elements but only 6 bytes are left");
    // Tensor infos.
    expect_error(cut(s.tensor_a + 3), "tensor count 2 cannot fit in the");
    expect_error(cut(n_dims_at(s.tensor_b, 8) + 1),
                 "while reading tensor 'tensor.b' dimension count");
    expect_error(cut(dim_at(s.tensor_b, 8, 1) + 4), "while reading tensor 'tensor.b' dimension 1");
    expect_error(cut(type_at(s.tensor_b, 8, 2) + 2), "while reading tensor 'tensor.b' type");
    expect_error(cut(offset_at(s.tensor_b, 8, 2) + 7), "while reading tensor 'tensor.b' offset");
    // Padding before the data section.
    ASSERT_LT(s.infos_end, s.data_start);
    expect_error(cut(s.infos_end + 1), "data section at");
    // Data: the first tensor, then the second.
    expect_error(cut(s.data_start), "tensor 'tensor.a'");
    expect_error(cut(s.data_start + 100),
                 "tensor 'tensor.a': 128 bytes of data at offset 0 run "
                 "past the end of the file");
    expect_error(cut(s.data_start + 130), "tensor 'tensor.b': 68 bytes of data at offset 128");
}

TEST(GgufMalformed, LongNamesCutShort) {
    // Long enough names that a cut inside them passes the count checks and hits the name.
    const std::string long_key(60, 'k');
    const std::string long_name(60, 't');
    GgufWriter w;
    w.set_u32(long_key, 1);
    EXPECT_TRUE(w.add_tensor(long_name, TensorType::kF32, {8}, std::vector<float>(8, 1.f)).ok());
    Bytes b = w.to_bytes();
    const size_t key_at = find_text(b, long_key);
    expect_error(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(key_at + 40)),
                 "metadata key #0 at byte 24 has length 60 but only 40 bytes are left");
    const size_t name_at = find_text(b, long_name);
    expect_error(Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(name_at + 40)),
                 "tensor #0 name at byte " + std::to_string(name_at - 8) +
                     " has length 60 but only 40 bytes are left");
}

TEST(GgufMalformed, BadMagic) {
    Sample s = make_sample();
    s.bytes[3] = 'X';
    expect_error(s.bytes, "not a GGUF file: bad magic 0x58554747");
}

TEST(GgufMalformed, UnsupportedVersions) {
    Sample s = make_sample();
    poke<uint32_t>(s.bytes, 4, 1);
    expect_error(s.bytes, "GGUF version 1 is not supported");
    poke<uint32_t>(s.bytes, 4, 99);
    expect_error(s.bytes, "unsupported GGUF version 99 (supported: 2, 3)");
    poke<uint32_t>(s.bytes, 4, 0x03000000);  // 3 written big-endian
    expect_error(s.bytes, "looks big-endian");
}

TEST(GgufMalformed, OffsetPastTheEnd) {
    Sample s = make_sample();
    poke<uint64_t>(s.bytes, offset_at(s.tensor_b, 8, 2), 1u << 20);
    expect_error(s.bytes, "tensor 'tensor.b': 68 bytes of data at offset 1048576 run past the end");
    // An offset near 2^64 must not wrap around.
    poke<uint64_t>(s.bytes, offset_at(s.tensor_b, 8, 2), ~uint64_t{31});
    expect_error(s.bytes, "run past the end");
}

TEST(GgufMalformed, MisalignedOffset) {
    Sample s = make_sample();
    poke<uint64_t>(s.bytes, offset_at(s.tensor_b, 8, 2), 4);
    expect_error(s.bytes, "tensor 'tensor.b' offset 4 is not a multiple of the alignment 32");
}

TEST(GgufMalformed, AbsurdAndZeroDimensions) {
    Sample s = make_sample();
    Bytes b = s.bytes;
    poke<uint64_t>(b, dim_at(s.tensor_a, 8, 1), uint64_t{1} << 62);
    expect_error(b, "tensor 'tensor.a' has an absurd dimension 1 = 4611686018427387904");
    b = s.bytes;
    // Each dimension fits alone but the product overflows.
    poke<uint64_t>(b, dim_at(s.tensor_a, 8, 0), uint64_t{1} << 40);
    poke<uint64_t>(b, dim_at(s.tensor_a, 8, 1), uint64_t{1} << 40);
    expect_error(b, "tensor 'tensor.a' has an absurd dimension 1");
    b = s.bytes;
    poke<uint64_t>(b, dim_at(s.tensor_a, 8, 0), 0);
    expect_error(b, "tensor 'tensor.a' has an absurd dimension 0 = 0");
    b = s.bytes;
    poke<uint32_t>(b, n_dims_at(s.tensor_a, 8), 0);
    expect_error(b, "tensor 'tensor.a' has 0 dimensions (must be 1 to 4)");
    b = s.bytes;
    poke<uint32_t>(b, n_dims_at(s.tensor_a, 8), 5);
    expect_error(b, "tensor 'tensor.a' has 5 dimensions (must be 1 to 4)");
    b = s.bytes;
    poke<uint32_t>(b, n_dims_at(s.tensor_a, 8), 0xffffffffu);
    expect_error(b, "tensor 'tensor.a' has 4294967295 dimensions");
    b = s.bytes;
    // A big but well-formed shape whose data the file does not hold.
    poke<uint64_t>(b, dim_at(s.tensor_a, 8, 1), uint64_t{1} << 30);
    expect_error(b, "tensor 'tensor.a': 34359738368 bytes of data at offset 0 run past the end");
}

TEST(GgufMalformed, RowLengthNotAMultipleOfTheBlock) {
    Sample s = make_sample();
    poke<uint64_t>(s.bytes, dim_at(s.tensor_b, 8, 0), 33);
    expect_error(s.bytes,
                 "tensor 'tensor.b' of type Q8_0 has a row length 33 that is not a "
                 "multiple of its block size 32");
}

TEST(GgufMalformed, UnknownTensorType) {
    Sample s = make_sample();
    poke<uint32_t>(s.bytes, type_at(s.tensor_a, 8, 2), 99);
    expect_error(s.bytes, "tensor 'tensor.a' has unknown tensor type id 99");
    poke<uint32_t>(s.bytes, type_at(s.tensor_a, 8, 2), 4);  // Q4_2, removed from ggml
    expect_error(s.bytes, "unknown tensor type id 4");
}

TEST(GgufMalformed, UnknownValueTypes) {
    Sample s = make_sample();
    Bytes b = s.bytes;
    poke<uint32_t>(b, s.kv_count + 8 + 10, 13);
    expect_error(b, "metadata 'test.count' has unknown value type 13");
    b = s.bytes;
    poke<uint32_t>(b, s.kv_list + 8 + 9 + 4, 0x7fffffff);
    expect_error(b, "metadata 'test.list' has unknown element type 2147483647");
}

TEST(GgufMalformed, BadBool) {
    GgufWriter w;
    w.set_bool("flag", true);
    Bytes b = w.to_bytes();
    b[find_text(b, "flag") + 4 + 4] = 2;
    expect_error(b, "metadata 'flag' is a bool with invalid value 2");
}

TEST(GgufMalformed, BadAlignment) {
    for (uint32_t bad : {0u, 3u, 48u}) {
        GgufWriter w;
        w.set_u32("general.alignment", bad);
        w.set_string("general.architecture", "llama");
        expect_error(w.to_bytes(),
                     "general.alignment " + std::to_string(bad) + " is not a power of two");
    }
    GgufWriter w;
    w.set_u64("general.alignment", 32);
    expect_error(w.to_bytes(), "general.alignment must be uint32, not uint64");
}

TEST(GgufMalformed, DuplicateKey) {
    GgufWriter w;
    w.set_u32("test.aaaa", 1);
    w.set_u32("test.bbbb", 2);
    Bytes b = w.to_bytes();
    std::memcpy(b.data() + find_text(b, "test.bbbb"), "test.aaaa", 9);
    expect_error(b, "duplicate metadata key 'test.aaaa'");
}

TEST(GgufMalformed, DuplicateTensor) {
    Sample s = make_sample();
    std::memcpy(s.bytes.data() + s.tensor_b + 8, "tensor.a", 8);
    expect_error(s.bytes, "duplicate tensor name 'tensor.a'");
}

TEST(GgufMalformed, HugeCountsAndLengths) {
    Sample s = make_sample();
    Bytes b = s.bytes;
    poke<uint64_t>(b, 16, uint64_t{1} << 60);
    expect_error(b, "metadata count 1152921504606846976 cannot fit");
    b = s.bytes;
    poke<uint64_t>(b, 8, ~uint64_t{0});
    expect_error(b, "tensor count 18446744073709551615 cannot fit");
    b = s.bytes;
    poke<uint64_t>(b, s.kv_arch, uint64_t{1} << 40);  // key length
    expect_error(b, "metadata key #0 at byte 24 has length 1099511627776");
    b = s.bytes;
    poke<uint64_t>(b, s.kv_arch + 8 + 20 + 4, ~uint64_t{0});  // string value length
    expect_error(b, "metadata 'general.architecture' at byte");
    b = s.bytes;
    poke<uint64_t>(b, s.kv_list + 8 + 9 + 4 + 4, uint64_t{1} << 61);  // array length
    expect_error(b, "metadata 'test.list' claims 2305843009213693952 elements");
    b = s.bytes;
    poke<uint64_t>(b, s.tensor_a, ~uint64_t{0} - 3);  // tensor name length
    expect_error(b, "tensor #0 name at byte");
}

TEST(GgufMalformed, ArraysNestedTooDeep) {
    GgufValue v;
    v.type = GgufValueType::kArray;
    v.array_type = GgufValueType::kInt32;
    for (int depth = 0; depth < 9; ++depth) {
        GgufValue outer;
        outer.type = GgufValueType::kArray;
        outer.array_type = GgufValueType::kArray;
        outer.items.push_back(std::move(v));
        v = std::move(outer);
    }
    GgufWriter w;
    w.set_value("deep", v);
    expect_error(w.to_bytes(),
                 "metadata 'deep'[0][0][0][0][0][0][0][0] nests arrays deeper than 8");
}

TEST(GgufMalformed, EmptyAndTinyInputs) {
    expect_error({}, "file truncated at byte 0 while reading magic");
    expect_error({'G', 'G', 'U', 'F'}, "while reading version");
}

}  // namespace
}  // namespace ward::engine
