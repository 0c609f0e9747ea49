// The AVX-512 path (F, BW, VL and VNNI): integer kernels that multiply two blocks of 32 weights
// per instruction with VPDPBUSD (64 byte products accumulated into 16 int32 lanes). Types
// without an AVX-512 kernel use the AVX2 kernels, which every AVX-512 CPU runs. Compiled with
// the AVX-512 flags for this file only; used only when CPUID reports the features.
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "engine/kernels.h"
#include "engine/kernels_inline.h"

namespace ward::engine::kernels {
namespace {

// Two 256-bit halves into one register: a in the low half, b in the high half.
inline __m512i join(__m256i a, __m256i b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
}

// Per-lane scales: a for lanes 0-7 (the first block), b for lanes 8-15 (the second).
inline __m512 scales(float a, float b) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_set1_ps(a)),
                                               _mm256_castps_pd(_mm256_set1_ps(b)), 1));
}

// Two Q4_0 blocks' nibbles → 64 values 0..15 in block order (each block: low nibbles, then
// high nibbles).
inline __m512i unpack_q4_pair(const uint8_t* blk0, const uint8_t* blk1) {
    const __m256i raw = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk1)),
                                         _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk0)));
    const __m256i mask = _mm256_set1_epi8(0x0f);
    const __m256i lo = _mm256_and_si256(raw, mask);                        // [lo0 | lo1]
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), mask);  // [hi0 | hi1]
    // [lo0, lo1, hi0, hi1] → [lo0, hi0, lo1, hi1] in 128-bit lanes.
    const __m512i z = join(lo, hi);
    return _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));
}

// The kernels below take blocks in pairs. A row with an odd block count ends with one block
// left over: the AVX2 kernel multiplies it, as a one-block row against one block of x, into
// rest[t] (0 when the count is even).
void odd_last_block(TensorType type, const uint8_t* row, int64_t block_bytes, const BlockQ8* x,
                    int64_t nb, int t0, int nt, float* rest) {
    const int64_t b = nb - 1;
    for (int t = 0; t < nt; ++t) {
        rest[t] = 0;
        if (nb % 2 == 0) continue;
        avx2_kernels().q8[static_cast<int>(type)](row + b * block_bytes, block_bytes, 0, 1,
                                                  x + (t0 + t) * nb + b, 1, 0, 1, &rest[t], 1);
    }
}

// ---- Q4_0 and Q8_0: activations prepared once per call, a compile-time token count -------
//
// Σ w·x over a pair of blocks with signed weights w (Q4_0: q − 8; Q8_0: q) and signed
// activations x: VPDPBUSD multiplies unsigned by signed bytes, so the activations are offset to
// x + 128 and the weights' part of the offset, 128·Σw, is taken back once per weight pair for
// every token: Σ w·x = Σ w·(x + 128) − 128·Σ w. Per token and pair that leaves one VPDPBUSD, a
// conversion and two FMAs, with the accumulators in registers.

// The tile's activations as the pair kernels read them, prepared once per kernel call (which
// covers a chunk of rows): per token and pair of blocks, the 64 bytes x + 128, and the two
// blocks' scales spread over 8 lanes each.
struct alignas(64) PreparedPair {
    __m512i xu;
    __m512 xd;
};

// [nt, nb / 2], valid until the thread's next call.
const PreparedPair* prepare_pairs(const BlockQ8* x, int64_t nb, int t0, int nt) {
    thread_local std::vector<PreparedPair> prepared;
    const int64_t n_pairs = nb / 2;
    prepared.resize(static_cast<size_t>(nt * n_pairs));
    const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int t = 0; t < nt; ++t) {
        const BlockQ8* xt = x + (t0 + t) * nb;
        for (int64_t p = 0; p < n_pairs; ++p) {
            const BlockQ8& x0 = xt[2 * p];
            const BlockQ8& x1 = xt[2 * p + 1];
            PreparedPair& out = prepared[static_cast<size_t>(t * n_pairs + p)];
            out.xu = _mm512_xor_si512(join(load256(x0.q), load256(x1.q)), k128);
            out.xd = scales(x0.d, x1.d);
        }
    }
    return prepared.data();
}

// Rows [r0, r1) against NT prepared tokens. Unpack(pair pointer) gives the pair's 64 signed
// weights; block_bytes is the size of one block (its fp16 scale first).
template <int NT, typename Unpack>
void pair_rows(const uint8_t* w, int64_t row_bytes, int64_t block_bytes, int prefetch_bytes,
               int64_t r0, int64_t r1, const PreparedPair* px, int64_t n_pairs, float* y,
               int64_t y_stride, int t0, const float* rest_of, Unpack unpack) {
    const __m512i k128 = _mm512_set1_epi8(static_cast<char>(0x80));
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w + r * row_bytes;
        __m512 acc[NT];
        for (int t = 0; t < NT; ++t) acc[t] = _mm512_setzero_ps();
        for (int64_t p = 0; p < n_pairs; ++p) {
            const uint8_t* blk0 = row + 2 * p * block_bytes;
            const uint8_t* blk1 = blk0 + block_bytes;
            prefetch_weights(blk0, prefetch_bytes);
            const __m512 wd = scales(load_fp16(blk0), load_fp16(blk1));
            const __m512i q = unpack(blk0, blk1);
            // −128·Σw per group of 4 bytes: the start of every token's sum.
            const __m512i start = _mm512_sub_epi32(
                _mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), k128, q));
            for (int t = 0; t < NT; ++t) {
                const __m512i dot = _mm512_dpbusd_epi32(start, px[t * n_pairs + p].xu, q);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot),
                                         _mm512_mul_ps(wd, px[t * n_pairs + p].xd), acc[t]);
            }
        }
        for (int t = 0; t < NT; ++t) {
            y[(t0 + t) * y_stride + r] =
                _mm512_reduce_add_ps(acc[t]) + (rest_of ? rest_of[(r - r0) * kMaxTile + t] : 0.0f);
        }
    }
}

template <typename Unpack>
void pair_kernel(TensorType type, int64_t block_bytes, int prefetch_bytes, const uint8_t* w,
                 int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x, int64_t nb, int t0,
                 int nt, float* y, int64_t y_stride, Unpack unpack) {
    const PreparedPair* px = prepare_pairs(x, nb, t0, nt);
    const int64_t n_pairs = nb / 2;
    // An odd block count leaves one block per row: the AVX2 kernel's, added at the end.
    thread_local std::vector<float> rest;
    const float* rest_of = nullptr;
    if (nb % 2 != 0) {
        rest.resize(static_cast<size_t>((r1 - r0) * kMaxTile));
        for (int64_t r = r0; r < r1; ++r) {
            odd_last_block(type, w + r * row_bytes, block_bytes, x, nb, t0, nt,
                           rest.data() + (r - r0) * kMaxTile);
        }
        rest_of = rest.data();
    }
    switch (nt) {
        case 1:
            return pair_rows<1>(w, row_bytes, block_bytes, prefetch_bytes, r0, r1, px, n_pairs, y,
                                y_stride, t0, rest_of, unpack);
        case 2:
            return pair_rows<2>(w, row_bytes, block_bytes, prefetch_bytes, r0, r1, px, n_pairs, y,
                                y_stride, t0, rest_of, unpack);
        case 3:
            return pair_rows<3>(w, row_bytes, block_bytes, prefetch_bytes, r0, r1, px, n_pairs, y,
                                y_stride, t0, rest_of, unpack);
        default:
            return pair_rows<kMaxTile>(w, row_bytes, block_bytes, prefetch_bytes, r0, r1, px,
                                       n_pairs, y, y_stride, t0, rest_of, unpack);
    }
}

// Q4_0: {fp16 d; 16 bytes of nibbles}; w = d·(q − 8).
void matmul_q4_0(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                 int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    const __m512i k8 = _mm512_set1_epi8(8);
    pair_kernel(TensorType::kQ4_0, 18, 64, w, row_bytes, r0, r1, x, nb, t0, nt, y, y_stride,
                [k8](const uint8_t* blk0, const uint8_t* blk1) {
                    return _mm512_sub_epi8(unpack_q4_pair(blk0 + 2, blk1 + 2), k8);
                });
}

// Q8_0: {fp16 d; 32 int8}; w = d·q.
void matmul_q8_0(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                 int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    pair_kernel(TensorType::kQ8_0, 34, 128, w, row_bytes, r0, r1, x, nb, t0, nt, y, y_stride,
                [](const uint8_t* blk0, const uint8_t* blk1) {
                    return join(load256(blk0 + 2), load256(blk1 + 2));
                });
}

// ---- Q4_K: the two sub-blocks that share 32 bytes of nibbles go in one register ------------
void matmul_q4_k(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                 int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    const int64_t n_super = nb / 8;
    const __m256i mask = _mm256_set1_epi8(0x0f);
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w + r * row_bytes;
        __m512 acc[kMaxTile];
        float corr[kMaxTile];
        for (int t = 0; t < nt; ++t) {
            acc[t] = _mm512_setzero_ps();
            corr[t] = 0;
        }
        for (int64_t sb = 0; sb < n_super; ++sb) {
            const uint8_t* blk = row + sb * 144;
            prefetch_weights(blk, 192);
            const float d = load_fp16(blk), dmin = load_fp16(blk + 2);
            int sc[8], mn[8];
            for (int j = 0; j < 8; ++j) scale_min_k4(j, blk + 4, sc[j], mn[j]);
            const uint8_t* qs = blk + 16;
            for (int j = 0; j < 4; ++j) {
                const __m256i bytes = load256(qs + 32 * j);
                const __m512i q = join(_mm256_and_si256(bytes, mask),
                                       _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask));
                for (int t = 0; t < nt; ++t) {
                    const BlockQ8* xs = x + (t0 + t) * nb + sb * 8 + 2 * j;
                    const __m512i xv = join(load256(xs[0].q), load256(xs[1].q));
                    const __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q, xv);
                    acc[t] = _mm512_fmadd_ps(
                        _mm512_cvtepi32_ps(p),
                        scales(d * sc[2 * j] * xs[0].d, d * sc[2 * j + 1] * xs[1].d), acc[t]);
                    corr[t] += dmin * (mn[2 * j] * xs[0].s + mn[2 * j + 1] * xs[1].s);
                }
            }
        }
        for (int t = 0; t < nt; ++t) {
            y[(t0 + t) * y_stride + r] = _mm512_reduce_add_ps(acc[t]) - corr[t];
        }
    }
}

}  // namespace

const KernelSet& avx512_kernels() {
    static const KernelSet set = [] {
        KernelSet k = avx2_kernels();
        k.q8[static_cast<int>(TensorType::kQ4_0)] = matmul_q4_0;
        k.q8[static_cast<int>(TensorType::kQ8_0)] = matmul_q8_0;
        k.q8[static_cast<int>(TensorType::kQ4_K)] = matmul_q4_k;
        return k;
    }();
    return set;
}

}  // namespace ward::engine::kernels
