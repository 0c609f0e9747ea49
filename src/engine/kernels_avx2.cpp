// The AVX2 path (AVX2 + FMA + F16C): integer kernels for Q4_0, Q8_0, Q4_K, Q5_K and Q6_K
// against 8-bit activations, FMA kernels for F16 and F32 weights, and the F16 KV cache's
// attention steps. Compiled with -mavx2 -mfma -mf16c for this file only; used only when CPUID
// reports those features.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/kernels.h"
#include "engine/kernels_inline.h"
#include "engine/quant.h"

namespace ward::engine::kernels {
namespace {

inline float hsum(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

// Σ u[i]·s[i] of unsigned and signed bytes, as 8 lanes of int32 (pairs of products fit int16
// for every format here: at most 2·128·127).
inline __m256i dot_u8_s8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

inline __m256i load_q8(const BlockQ8& b) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.q));
}

// 16 bytes of nibbles → 32 values 0..15: low nibbles first, then high nibbles.
inline __m256i unpack_nibbles(const uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i mask = _mm_set1_epi8(0x0f);
    const __m128i lo = _mm_and_si128(bytes, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    return _mm256_set_m128i(hi, lo);
}

void quantize_q8_avx2(const float* x, BlockQ8* out, int64_t n) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / 32; ++b) {
        const float* xb = x + b * 32;
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; ++k) {
            v[k] = _mm256_loadu_ps(xb + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_mask, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float d = _mm_cvtss_f32(m) / 127.0f;
        const __m256 id = _mm256_set1_ps(d > 0 ? 1.0f / d : 0.0f);
        __m256i q32[4];
        for (int k = 0; k < 4; ++k) {
            q32[k] = _mm256_cvtps_epi32(_mm256_round_ps(
                _mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        // Pack 32 int32 → 32 int8 in order (packs interleave 128-bit lanes; permute back).
        __m256i p01 = _mm256_packs_epi32(q32[0], q32[1]);
        __m256i p23 = _mm256_packs_epi32(q32[2], q32[3]);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[b].q), p);
        int sum[2] = {0, 0};
        for (int i = 0; i < 32; ++i) sum[i / 16] += out[b].q[i];
        out[b].d = d;
        out[b].s = d * static_cast<float>(sum[0] + sum[1]);
        out[b].half_sum[0] = static_cast<int16_t>(sum[0]);
        out[b].half_sum[1] = static_cast<int16_t>(sum[1]);
    }
}

float dot_avx2(const float* a, const float* b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float s = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

// ---- F16 KV cache: halves converted with F16C ---------------------------------------------
float dot_f16_avx2(const uint16_t* a, const float* b, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 av = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + i)));
        acc = _mm256_fmadd_ps(av, _mm256_loadu_ps(b + i), acc);
    }
    float s = hsum(acc);
    for (; i < n; ++i) s += _cvtsh_ss(a[i]) * b[i];
    return s;
}

void axpy_f16_avx2(float a, const uint16_t* x, float* y, int64_t n) {
    const __m256 av = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; ++i) y[i] += a * _cvtsh_ss(x[i]);
}

void to_f16_avx2(const float* x, uint16_t* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) out[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

// Q4_0 and Q8_0 take the token count as a compile-time constant (NT = 1..kMaxTile), so the
// accumulators of a tile stay in registers; `with_tile` picks the instance.
template <template <int> class Kernel>
void with_tile(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
               int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    switch (nt) {
        case 1:
            return Kernel<1>::run(w, row_bytes, r0, r1, x, nb, t0, y, y_stride);
        case 2:
            return Kernel<2>::run(w, row_bytes, r0, r1, x, nb, t0, y, y_stride);
        case 3:
            return Kernel<3>::run(w, row_bytes, r0, r1, x, nb, t0, y, y_stride);
        default:
            return Kernel<kMaxTile>::run(w, row_bytes, r0, r1, x, nb, t0, y, y_stride);
    }
}

// ---- Q4_0: {fp16 d; 16 bytes of nibbles}; w = d·(q − 8) ----------------------------------
template <int NT>
struct Q4_0Rows {
    static void run(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                    int64_t nb, int t0, float* y, int64_t y_stride) {
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* row = w + r * row_bytes;
            __m256 acc[NT];
            float corr[NT];
            for (int t = 0; t < NT; ++t) {
                acc[t] = _mm256_setzero_ps();
                corr[t] = 0;
            }
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* blk = row + b * 18;
                prefetch_weights(blk);
                const float d = load_fp16(blk);
                const __m256i q = unpack_nibbles(blk + 2);
                for (int t = 0; t < NT; ++t) {
                    const BlockQ8& xb = x[(t0 + t) * nb + b];
                    const __m256i p = dot_u8_s8(q, load_q8(xb));
                    acc[t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * xb.d), acc[t]);
                    corr[t] += d * xb.s;  // the −8 offset: Σ(q−8)x = Σqx − 8Σx
                }
            }
            for (int t = 0; t < NT; ++t) {
                y[(t0 + t) * y_stride + r] = hsum(acc[t]) - 8.0f * corr[t];
            }
        }
    }
};

// Q4_0 over groups of 8 blocks, for rows of a multiple of 8 blocks. Per token, the 8 blocks'
// integer sums are folded into one vector (lane b: block b) with horizontal adds, which use the
// shuffle unit, so the multiply ports do one conversion and two FMAs per group instead of per
// block; the −8 offset is one more FMA per group against the activations' block sums. The
// 8 blocks' nibbles are unpacked once per group into a buffer that every token reads.
// x_scales, x_sums: [nt, nb] of the tile's activations (d and s), prepared once per call.
template <int NT>
struct Q4_0Groups {
    static void run(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                    int64_t nb, int t0, float* y, int64_t y_stride) {
        thread_local std::vector<float> prepared;
        prepared.resize(static_cast<size_t>(2 * NT * nb));
        float* x_scales = prepared.data();
        float* x_sums = x_scales + NT * nb;
        for (int t = 0; t < NT; ++t) {
            for (int64_t b = 0; b < nb; ++b) {
                x_scales[t * nb + b] = x[(t0 + t) * nb + b].d;
                x_sums[t * nb + b] = x[(t0 + t) * nb + b].s;
            }
        }
        const __m256i ones = _mm256_set1_epi16(1);
        const __m256 eight = _mm256_set1_ps(8.0f);
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* row = w + r * row_bytes;
            __m256 acc[NT];
            for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
            for (int64_t g = 0; g < nb; g += 8) {
                const uint8_t* blk = row + g * 18;
                prefetch_weights(blk, 192);
                __m256i q[8];
                alignas(16) uint16_t d16[8];
                for (int b = 0; b < 8; ++b) {
                    std::memcpy(&d16[b], blk + b * 18, 2);
                    q[b] = unpack_nibbles(blk + b * 18 + 2);
                }
                const __m256 wd =
                    _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(d16)));
                const __m256 wd8 = _mm256_mul_ps(wd, eight);
                for (int t = 0; t < NT; ++t) {
                    const BlockQ8* xb = x + (t0 + t) * nb + g;
                    __m256i p[8];
                    for (int b = 0; b < 8; ++b) {
                        p[b] = _mm256_madd_epi16(_mm256_maddubs_epi16(q[b], load_q8(xb[b])), ones);
                    }
                    const __m256i h01 = _mm256_hadd_epi32(p[0], p[1]);
                    const __m256i h23 = _mm256_hadd_epi32(p[2], p[3]);
                    const __m256i h45 = _mm256_hadd_epi32(p[4], p[5]);
                    const __m256i h67 = _mm256_hadd_epi32(p[6], p[7]);
                    const __m256i h0123 = _mm256_hadd_epi32(h01, h23);  // [0123 lo | 0123 hi]
                    const __m256i h4567 = _mm256_hadd_epi32(h45, h67);
                    const __m256i sums = _mm256_add_epi32(
                        _mm256_permute2x128_si256(h0123, h4567, 0x20),
                        _mm256_permute2x128_si256(h0123, h4567, 0x31));  // lane b: block b
                    const __m256 xd = _mm256_loadu_ps(x_scales + t * nb + g);
                    const __m256 xs = _mm256_loadu_ps(x_sums + t * nb + g);
                    acc[t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_mul_ps(wd, xd), acc[t]);
                    acc[t] = _mm256_fnmadd_ps(wd8, xs, acc[t]);  // Σ(q−8)x = Σqx − 8Σx
                }
            }
            for (int t = 0; t < NT; ++t) y[(t0 + t) * y_stride + r] = hsum(acc[t]);
        }
    }
};

void matmul_q4_0(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                 int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    if (nb % 8 == 0) {
        with_tile<Q4_0Groups>(w, row_bytes, r0, r1, x, nb, t0, nt, y, y_stride);
    } else {
        with_tile<Q4_0Rows>(w, row_bytes, r0, r1, x, nb, t0, nt, y, y_stride);
    }
}

// ---- Q8_0: {fp16 d; 32 int8}; w = d·q -----------------------------------------------------
template <int NT>
struct Q8_0Rows {
    static void run(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                    int64_t nb, int t0, float* y, int64_t y_stride) {
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* row = w + r * row_bytes;
            __m256 acc[NT];
            for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_ps();
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t* blk = row + b * 34;
                prefetch_weights(blk);
                const float d = load_fp16(blk);
                const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 2));
                const __m256i qa = _mm256_sign_epi8(q, q);
                for (int t = 0; t < NT; ++t) {
                    const BlockQ8& xb = x[(t0 + t) * nb + b];
                    const __m256i p = dot_u8_s8(qa, _mm256_sign_epi8(load_q8(xb), q));
                    acc[t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * xb.d), acc[t]);
                }
            }
            for (int t = 0; t < NT; ++t) y[(t0 + t) * y_stride + r] = hsum(acc[t]);
        }
    }
};

void matmul_q8_0(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                 int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    with_tile<Q8_0Rows>(w, row_bytes, r0, r1, x, nb, t0, nt, y, y_stride);
}

// ---- Q4_K {fp16 d, dmin; scales[12]; qs[128]} and Q5_K {fp16 d, dmin; scales[12]; qh[32];
// qs[128]}: 8 sub-blocks of 32, w = d·sc·q − dmin·m; Q5_K adds a fifth bit per weight -------
template <bool kFifthBit>
void matmul_q45_k(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                  int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    constexpr int kBlockBytes = kFifthBit ? 176 : 144;
    constexpr int kQsOffset = kFifthBit ? 48 : 16;
    const int64_t n_super = nb / 8;
    const __m256i mask = _mm256_set1_epi8(0x0f);
    const __m256i sixteen = _mm256_set1_epi8(16);
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w + r * row_bytes;
        __m256 acc[kMaxTile];
        float corr[kMaxTile];
        for (int t = 0; t < nt; ++t) {
            acc[t] = _mm256_setzero_ps();
            corr[t] = 0;
        }
        for (int64_t sb = 0; sb < n_super; ++sb) {
            const uint8_t* blk = row + sb * kBlockBytes;
            prefetch_weights(blk, 192);
            const float d = load_fp16(blk), dmin = load_fp16(blk + 2);
            const uint8_t* qs = blk + kQsOffset;
            int sc[8], mn[8];
            for (int j = 0; j < 8; ++j) scale_min_k4(j, blk + 4, sc[j], mn[j]);
            for (int j = 0; j < 4; ++j) {
                const __m256i bytes = load256(qs + 32 * j);
                __m256i lo = _mm256_and_si256(bytes, mask);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask);
                if constexpr (kFifthBit) {
                    // Bit 2j of qh[l] is the fifth bit of element l of sub-block 2j; bit 2j+1
                    // of sub-block 2j+1.
                    const __m256i qh = load256(blk + 16);
                    const __m256i bit_lo = _mm256_set1_epi8(static_cast<char>(1 << (2 * j)));
                    const __m256i bit_hi = _mm256_set1_epi8(static_cast<char>(1 << (2 * j + 1)));
                    lo = _mm256_or_si256(
                        lo, _mm256_and_si256(
                                _mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_lo), bit_lo), sixteen));
                    hi = _mm256_or_si256(
                        hi, _mm256_and_si256(
                                _mm256_cmpeq_epi8(_mm256_and_si256(qh, bit_hi), bit_hi), sixteen));
                }
                for (int t = 0; t < nt; ++t) {
                    const BlockQ8* xs = x + (t0 + t) * nb + sb * 8 + 2 * j;
                    const __m256i p0 = dot_u8_s8(lo, load_q8(xs[0]));
                    const __m256i p1 = dot_u8_s8(hi, load_q8(xs[1]));
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0),
                                             _mm256_set1_ps(d * sc[2 * j] * xs[0].d), acc[t]);
                    acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1),
                                             _mm256_set1_ps(d * sc[2 * j + 1] * xs[1].d), acc[t]);
                    corr[t] += dmin * (mn[2 * j] * xs[0].s + mn[2 * j + 1] * xs[1].s);
                }
            }
        }
        for (int t = 0; t < nt; ++t) y[(t0 + t) * y_stride + r] = hsum(acc[t]) - corr[t];
    }
}

// ---- Q6_K: {ql[128]; qh[64]; int8 scales[16]; fp16 d}; w = d·sc·(q − 32), 16-wide scales ---
void matmul_q6_k(const uint8_t* w, int64_t row_bytes, int64_t r0, int64_t r1, const BlockQ8* x,
                 int64_t nb, int t0, int nt, float* y, int64_t y_stride) {
    const int64_t n_super = nb / 8;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03);
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w + r * row_bytes;
        __m256 acc[kMaxTile];
        float corr[kMaxTile];
        for (int t = 0; t < nt; ++t) {
            acc[t] = _mm256_setzero_ps();
            corr[t] = 0;
        }
        for (int64_t sb = 0; sb < n_super; ++sb) {
            const uint8_t* blk = row + sb * 210;
            prefetch_weights(blk, 256);
            const uint8_t* ql = blk;
            const uint8_t* qh = blk + 128;
            const int8_t* scales = reinterpret_cast<const int8_t*>(blk + 192);
            const float d = load_fp16(blk + 208);
            for (int half = 0; half < 2; ++half) {
                const __m256i l0 =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * half));
                const __m256i l1 =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 64 * half + 32));
                const __m256i h =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32 * half));
                // Four groups of 32 values (elements 0-31, 32-63, 64-95, 96-127 of this half).
                __m256i g[4];
                g[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                       _mm256_slli_epi16(_mm256_and_si256(h, m2), 4));
                g[1] = _mm256_or_si256(
                    _mm256_and_si256(l1, m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 2), m2), 4));
                g[2] = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 4), m2), 4));
                g[3] = _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                    _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 6), m2), 4));
                const int8_t* sc = scales + 8 * half;
                for (int k = 0; k < 4; ++k) {
                    // Scales of the two 16-element halves of group k.
                    const int s0 = sc[2 * k], s1 = sc[2 * k + 1];
                    const __m256i scale16 = _mm256_setr_epi16(s0, s0, s0, s0, s0, s0, s0, s0, s1,
                                                              s1, s1, s1, s1, s1, s1, s1);
                    for (int t = 0; t < nt; ++t) {
                        const BlockQ8& xb = x[(t0 + t) * nb + sb * 8 + 4 * half + k];
                        const __m256i p16 = _mm256_maddubs_epi16(g[k], load_q8(xb));
                        const __m256i p = _mm256_madd_epi16(p16, scale16);
                        acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d * xb.d),
                                                 acc[t]);
                        corr[t] += d * xb.d * 32.0f *
                                   static_cast<float>(s0 * xb.half_sum[0] + s1 * xb.half_sum[1]);
                    }
                }
            }
        }
        for (int t = 0; t < nt; ++t) y[(t0 + t) * y_stride + r] = hsum(acc[t]) - corr[t];
    }
}

// ---- F16 and F32 weights with float activations ----------------------------------------
template <bool kHalf>
void matmul_float(const uint8_t* w, int64_t row_bytes, int64_t n_in, int64_t r0, int64_t r1,
                  const float* x, int t0, int nt, float* y, int64_t y_stride) {
    for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w + r * row_bytes;
        __m256 acc[kMaxTile];
        for (int t = 0; t < nt; ++t) acc[t] = _mm256_setzero_ps();
        int64_t i = 0;
        for (; i + 8 <= n_in; i += 8) {
            if (i % 32 == 0) prefetch_weights(row + i * (kHalf ? 2 : 4));
            __m256 wv;
            if constexpr (kHalf) {
                wv =
                    _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
            } else {
                wv = _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
            }
            for (int t = 0; t < nt; ++t) {
                acc[t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + (t0 + t) * n_in + i), acc[t]);
            }
        }
        for (int t = 0; t < nt; ++t) {
            float s = hsum(acc[t]);
            for (int64_t k = i; k < n_in; ++k) {
                float wk = kHalf ? load_fp16(row + 2 * k) : reinterpret_cast<const float*>(row)[k];
                s += wk * x[(t0 + t) * n_in + k];
            }
            y[(t0 + t) * y_stride + r] = s;
        }
    }
}

uint64_t stream_read_avx2(const uint8_t* p, int64_t n) {
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    for (int64_t i = 0; i + 64 <= n; i += 64) {
        prefetch_weights(p + i);
        a = _mm256_add_epi64(a, load256(p + i));
        b = _mm256_add_epi64(b, load256(p + i + 32));
    }
    a = _mm256_add_epi64(a, b);
    alignas(32) uint64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

}  // namespace

const KernelSet& avx2_kernels() {
    static const KernelSet set = [] {
        KernelSet k;
        k.quantize_q8 = quantize_q8_avx2;
        k.dot = dot_avx2;
        k.dot_f16 = dot_f16_avx2;
        k.axpy_f16 = axpy_f16_avx2;
        k.to_f16 = to_f16_avx2;
        k.stream_read = stream_read_avx2;
        k.q8[static_cast<int>(TensorType::kQ4_0)] = matmul_q4_0;
        k.q8[static_cast<int>(TensorType::kQ8_0)] = matmul_q8_0;
        k.q8[static_cast<int>(TensorType::kQ4_K)] = matmul_q45_k<false>;
        k.q8[static_cast<int>(TensorType::kQ5_K)] = matmul_q45_k<true>;
        k.q8[static_cast<int>(TensorType::kQ6_K)] = matmul_q6_k;
        k.f32[static_cast<int>(TensorType::kF16)] = matmul_float<true>;
        k.f32[static_cast<int>(TensorType::kF32)] = matmul_float<false>;
        return k;
    }();
    return set;
}

}  // namespace ward::engine::kernels
