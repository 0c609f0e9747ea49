#include "support/reference_forward.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/gguf.h"
#include "engine/quant.h"

namespace ward::engine::testing {
namespace {

using Matrix =
    std::vector<std::vector<float>>;  // [rows][cols]; a GGUF [n_in, n_out] → [n_out][n_in]

Result<Matrix> load(const GgufFile& f, const std::string& name) {
    const GgufTensor* t = f.find_tensor(name);
    if (!t) return not_found("reference: tensor {} missing", name);
    auto info = tensor_type_info(t->type);
    Matrix m(static_cast<size_t>(t->n_elements / t->ne[0]));
    const int64_t stride = t->ne[0] / info.block_size * info.type_size;
    for (size_t r = 0; r < m.size(); ++r) {
        m[r].resize(static_cast<size_t>(t->ne[0]));
        dequantize_row(t->type, t->data + static_cast<int64_t>(r) * stride, m[r].data(), t->ne[0]);
    }
    return m;
}

// Set per call of reference_logits: whether products round their input to 8 bits first.
thread_local bool g_quantize = false;

// x rounded to 8-bit blocks of 32: each block scaled by its largest magnitude / 127.
std::vector<double> round_to_8_bits(const std::vector<float>& x) {
    std::vector<double> out(x.size());
    for (size_t b = 0; b + 32 <= x.size(); b += 32) {
        double amax = 0;
        for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, double(std::fabs(x[i])));
        const float d = float(amax) / 127.0f;
        const float inv = d > 0 ? 1.0f / d : 0.0f;
        for (size_t i = b; i < b + 32; ++i) out[i] = double(d) * std::nearbyint(x[i] * inv);
    }
    return out;
}

std::vector<float> matvec(const Matrix& w, const std::vector<float>& x_in) {
    std::vector<double> x(x_in.begin(), x_in.end());
    if (g_quantize && x_in.size() % 32 == 0) x = round_to_8_bits(x_in);
    std::vector<float> y(w.size());
    for (size_t j = 0; j < w.size(); ++j) {
        double s = 0;
        for (size_t i = 0; i < x.size(); ++i) s += double(w[j][i]) * x[i];
        y[j] = float(s);
    }
    return y;
}

std::vector<float> rmsnorm(const std::vector<float>& x, const std::vector<float>& g, double eps) {
    double ms = 0;
    for (float v : x) ms += double(v) * v;
    ms /= double(x.size());
    std::vector<float> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = float(x[i] / std::sqrt(ms + eps) * g[i]);
    return y;
}

// Rotates pairs of a head. Llama as stored in GGUF pairs neighbours (2i, 2i+1); NeoX-style
// models (qwen2, gemma3) pair i with i + d/2.
void rotate(float* h, int d, int pos, double base, double scale, const std::vector<float>* factors,
            bool neox) {
    for (int i = 0; i < d / 2; ++i) {
        double inv_freq = 1.0 / std::pow(base, double(2 * i) / d);
        if (factors) inv_freq /= (*factors)[i];
        double angle = pos * scale * inv_freq;
        int a = neox ? i : 2 * i, b = neox ? i + d / 2 : 2 * i + 1;
        double x = h[a], y = h[b];
        h[a] = float(x * std::cos(angle) - y * std::sin(angle));
        h[b] = float(x * std::sin(angle) + y * std::cos(angle));
    }
}

}  // namespace

Result<std::vector<std::vector<float>>> reference_logits(const std::string& model_path,
                                                         const std::vector<int32_t>& tokens,
                                                         bool quantize_activations) {
    g_quantize = quantize_activations;
    WARD_ASSIGN_OR_RETURN(auto file, GgufFile::open(model_path));
    const GgufFile& f = *file;
    WARD_ASSIGN_OR_RETURN(std::string_view arch_view, f.get_string("general.architecture"));
    const std::string arch(arch_view);
    const bool gemma = arch == "gemma3", qwen = arch == "qwen2";
    WARD_ASSIGN_OR_RETURN(int64_t E, f.get_int(arch + ".embedding_length"));
    WARD_ASSIGN_OR_RETURN(int64_t L, f.get_int(arch + ".block_count"));
    WARD_ASSIGN_OR_RETURN(int64_t H, f.get_int(arch + ".attention.head_count"));
    WARD_ASSIGN_OR_RETURN(int64_t HKV, f.get_int(arch + ".attention.head_count_kv"));
    WARD_ASSIGN_OR_RETURN(double eps, f.get_float(arch + ".attention.layer_norm_rms_epsilon"));
    WARD_ASSIGN_OR_RETURN(double base, f.get_float(arch + ".rope.freq_base"));
    WARD_ASSIGN_OR_RETURN(int64_t window, f.get_int_or(arch + ".attention.sliding_window", 0));
    double scale = 1.0;
    if (f.has(arch + ".rope.scaling.factor")) {
        WARD_ASSIGN_OR_RETURN(double factor, f.get_float(arch + ".rope.scaling.factor"));
        scale = 1.0 / factor;
    }
    const int D = int(E / H);
    const int T = int(tokens.size());

    WARD_ASSIGN_OR_RETURN(Matrix embd, load(f, "token_embd.weight"));
    Matrix out_w;
    if (f.find_tensor("output.weight")) {
        WARD_ASSIGN_OR_RETURN(out_w, load(f, "output.weight"));
    } else {
        out_w = embd;
    }
    WARD_ASSIGN_OR_RETURN(Matrix out_norm, load(f, "output_norm.weight"));
    std::vector<float> factors;
    if (f.find_tensor("rope_freqs.weight")) {
        WARD_ASSIGN_OR_RETURN(Matrix m, load(f, "rope_freqs.weight"));
        factors = m[0];
    }

    // x[t]: the residual stream of token t.
    std::vector<std::vector<float>> x(T);
    for (int t = 0; t < T; ++t) {
        x[t] = embd[size_t(tokens[t])];
        if (gemma) {
            for (float& v : x[t]) v = float(v * std::sqrt(double(E)));
        }
    }
    for (int l = 0; l < L; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        std::map<std::string, Matrix> w;
        for (const char* n : {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight",
                              "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight",
                              "ffn_up.weight", "ffn_down.weight"}) {
            WARD_ASSIGN_OR_RETURN(w[n], load(f, p + n));
        }
        if (qwen) {
            for (const char* n : {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) {
                WARD_ASSIGN_OR_RETURN(w[n], load(f, p + n));
            }
        }
        if (gemma) {
            for (const char* n : {"attn_q_norm.weight", "attn_k_norm.weight",
                                  "post_attention_norm.weight", "post_ffw_norm.weight"}) {
                WARD_ASSIGN_OR_RETURN(w[n], load(f, p + n));
            }
        }
        // Gemma 3: every sixth layer is global; the others see a sliding window and use a
        // local RoPE base of 10000 without scaling.
        const bool sliding = gemma && window > 0 && (l + 1) % 6 != 0;
        const double layer_base = sliding ? 10000.0 : base;
        const double layer_scale = sliding ? 1.0 : scale;

        std::vector<std::vector<float>> q(T), k(T), v(T);
        for (int t = 0; t < T; ++t) {
            auto xn = rmsnorm(x[t], w["attn_norm.weight"][0], eps);
            q[t] = matvec(w["attn_q.weight"], xn);
            k[t] = matvec(w["attn_k.weight"], xn);
            v[t] = matvec(w["attn_v.weight"], xn);
            if (qwen) {
                for (size_t i = 0; i < q[t].size(); ++i) q[t][i] += w["attn_q.bias"][0][i];
                for (size_t i = 0; i < k[t].size(); ++i) k[t][i] += w["attn_k.bias"][0][i];
                for (size_t i = 0; i < v[t].size(); ++i) v[t][i] += w["attn_v.bias"][0][i];
            }
            for (int h = 0; h < H; ++h) {
                float* qh = q[t].data() + h * D;
                if (gemma) {
                    std::vector<float> tmp(qh, qh + D);
                    tmp = rmsnorm(tmp, w["attn_q_norm.weight"][0], eps);
                    std::copy(tmp.begin(), tmp.end(), qh);
                }
                rotate(qh, D, t, layer_base, layer_scale, factors.empty() ? nullptr : &factors,
                       arch != "llama");
            }
            for (int h = 0; h < HKV; ++h) {
                float* kh = k[t].data() + h * D;
                if (gemma) {
                    std::vector<float> tmp(kh, kh + D);
                    tmp = rmsnorm(tmp, w["attn_k_norm.weight"][0], eps);
                    std::copy(tmp.begin(), tmp.end(), kh);
                }
                rotate(kh, D, t, layer_base, layer_scale, factors.empty() ? nullptr : &factors,
                       arch != "llama");
            }
        }
        for (int t = 0; t < T; ++t) {
            std::vector<float> att(size_t(H * D), 0.0f);
            for (int h = 0; h < H; ++h) {
                const int kvh = int(h / (H / HKV));
                std::vector<double> s;
                int first = sliding ? std::max(0, t - int(window) + 1) : 0;
                for (int j = first; j <= t; ++j) {
                    double dot = 0;
                    for (int i = 0; i < D; ++i) dot += double(q[t][h * D + i]) * k[j][kvh * D + i];
                    s.push_back(dot / std::sqrt(double(D)));
                }
                double mx = *std::max_element(s.begin(), s.end()), z = 0;
                for (double& e : s) z += (e = std::exp(e - mx));
                for (int j = first; j <= t; ++j) {
                    for (int i = 0; i < D; ++i) {
                        att[h * D + i] += float(s[j - first] / z * v[j][kvh * D + i]);
                    }
                }
            }
            auto o = matvec(w["attn_output.weight"], att);
            if (gemma) o = rmsnorm(o, w["post_attention_norm.weight"][0], eps);
            for (int i = 0; i < E; ++i) x[t][i] += o[i];
            auto xn = rmsnorm(x[t], w["ffn_norm.weight"][0], eps);
            auto g = matvec(w["ffn_gate.weight"], xn);
            auto u = matvec(w["ffn_up.weight"], xn);
            for (size_t i = 0; i < g.size(); ++i) {
                double a = g[i];
                double act =
                    gemma ? 0.5 * a *
                                (1 + std::tanh(std::sqrt(2 / M_PI) * (a + 0.044715 * a * a * a)))
                          : a / (1 + std::exp(-a));
                g[i] = float(act * u[i]);
            }
            auto d = matvec(w["ffn_down.weight"], g);
            if (gemma) d = rmsnorm(d, w["post_ffw_norm.weight"][0], eps);
            for (int i = 0; i < E; ++i) x[t][i] += d[i];
        }
    }
    std::vector<std::vector<float>> logits(T);
    for (int t = 0; t < T; ++t) logits[t] = matvec(out_w, rmsnorm(x[t], out_norm[0], eps));
    return logits;
}

}  // namespace ward::engine::testing
