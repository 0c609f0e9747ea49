#include "support/reference_bert.h"

#include <cmath>

#include "engine/gguf.h"
#include "engine/quant.h"

namespace ward::engine::testing {
namespace {

using Matrix = std::vector<std::vector<double>>;  // a GGUF [n_in, n_out] → [n_out][n_in]
using Vector = std::vector<double>;

Result<Matrix> load(const GgufFile& f, const std::string& name) {
    const GgufTensor* t = f.find_tensor(name);
    if (!t) return not_found("reference: tensor {} missing", name);
    auto info = tensor_type_info(t->type);
    Matrix m(static_cast<size_t>(t->n_elements / t->ne[0]));
    const int64_t stride = t->ne[0] / info.block_size * info.type_size;
    std::vector<float> row(static_cast<size_t>(t->ne[0]));
    for (size_t r = 0; r < m.size(); ++r) {
        dequantize_row(t->type, t->data + static_cast<int64_t>(r) * stride, row.data(), t->ne[0]);
        m[r].assign(row.begin(), row.end());
    }
    return m;
}

Result<Vector> load_vector(const GgufFile& f, const std::string& name) {
    WARD_ASSIGN_OR_RETURN(Matrix m, load(f, name));
    return m[0];
}

// y = W x + b, x first rounded to 8-bit blocks of 32 when `quantize` (the engine's integer
// kernels do that to activations; the rounding is spelled out here on its own).
Vector linear(const Matrix& w, const Vector& b, const Vector& x_in, bool quantize) {
    Vector x = x_in;
    if (quantize && x.size() % 32 == 0) {
        for (size_t blk = 0; blk < x.size(); blk += 32) {
            float amax = 0;
            for (size_t i = blk; i < blk + 32; ++i) amax = std::max(amax, std::fabs(float(x[i])));
            const float d = amax / 127.0f;
            const float inv = d > 0 ? 1.0f / d : 0.0f;
            for (size_t i = blk; i < blk + 32; ++i) {
                x[i] = double(d) * std::nearbyint(float(x_in[i]) * inv);
            }
        }
    }
    Vector y(w.size());
    for (size_t j = 0; j < w.size(); ++j) {
        double s = b[j];
        for (size_t i = 0; i < x.size(); ++i) s += w[j][i] * x[i];
        // The engine keeps activations in float.
        y[j] = double(float(s));
    }
    return y;
}

Vector layer_norm(const Vector& x, const Vector& g, const Vector& b, double eps) {
    double mean = 0, var = 0;
    for (double v : x) mean += v;
    mean /= double(x.size());
    for (double v : x) var += (v - mean) * (v - mean);
    var /= double(x.size());
    Vector y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = (x[i] - mean) / std::sqrt(var + eps) * g[i] + b[i];
    return y;
}

}  // namespace

Result<std::vector<float>> reference_embedding(const std::string& model_path,
                                               const std::vector<int32_t>& tokens, bool quantize) {
    WARD_ASSIGN_OR_RETURN(auto file, GgufFile::open(model_path));
    const GgufFile& f = *file;
    WARD_ASSIGN_OR_RETURN(int64_t E, f.get_int("bert.embedding_length"));
    WARD_ASSIGN_OR_RETURN(int64_t L, f.get_int("bert.block_count"));
    WARD_ASSIGN_OR_RETURN(int64_t H, f.get_int("bert.attention.head_count"));
    WARD_ASSIGN_OR_RETURN(double eps, f.get_float("bert.attention.layer_norm_epsilon"));
    WARD_ASSIGN_OR_RETURN(int64_t pooling, f.get_int_or("bert.pooling_type", 1));
    const int64_t D = E / H;
    const size_t T = tokens.size();

    WARD_ASSIGN_OR_RETURN(Matrix tok, load(f, "token_embd.weight"));
    WARD_ASSIGN_OR_RETURN(Matrix pos, load(f, "position_embd.weight"));
    WARD_ASSIGN_OR_RETURN(Matrix types, load(f, "token_types.weight"));
    WARD_ASSIGN_OR_RETURN(Vector embd_g, load_vector(f, "token_embd_norm.weight"));
    WARD_ASSIGN_OR_RETURN(Vector embd_b, load_vector(f, "token_embd_norm.bias"));

    std::vector<Vector> x(T);
    for (size_t t = 0; t < T; ++t) {
        Vector e(static_cast<size_t>(E));
        for (int64_t i = 0; i < E; ++i) e[i] = tok[tokens[t]][i] + pos[t][i] + types[0][i];
        x[t] = layer_norm(e, embd_g, embd_b, eps);
    }
    for (int64_t l = 0; l < L; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        WARD_ASSIGN_OR_RETURN(Matrix wq, load(f, p + "attn_q.weight"));
        WARD_ASSIGN_OR_RETURN(Matrix wk, load(f, p + "attn_k.weight"));
        WARD_ASSIGN_OR_RETURN(Matrix wv, load(f, p + "attn_v.weight"));
        WARD_ASSIGN_OR_RETURN(Matrix wo, load(f, p + "attn_output.weight"));
        WARD_ASSIGN_OR_RETURN(Vector bq, load_vector(f, p + "attn_q.bias"));
        WARD_ASSIGN_OR_RETURN(Vector bk, load_vector(f, p + "attn_k.bias"));
        WARD_ASSIGN_OR_RETURN(Vector bv, load_vector(f, p + "attn_v.bias"));
        WARD_ASSIGN_OR_RETURN(Vector bo, load_vector(f, p + "attn_output.bias"));
        WARD_ASSIGN_OR_RETURN(Vector n1g, load_vector(f, p + "attn_output_norm.weight"));
        WARD_ASSIGN_OR_RETURN(Vector n1b, load_vector(f, p + "attn_output_norm.bias"));
        WARD_ASSIGN_OR_RETURN(Matrix up, load(f, p + "ffn_up.weight"));
        WARD_ASSIGN_OR_RETURN(Vector up_b, load_vector(f, p + "ffn_up.bias"));
        WARD_ASSIGN_OR_RETURN(Matrix down, load(f, p + "ffn_down.weight"));
        WARD_ASSIGN_OR_RETURN(Vector down_b, load_vector(f, p + "ffn_down.bias"));
        WARD_ASSIGN_OR_RETURN(Vector n2g, load_vector(f, p + "layer_output_norm.weight"));
        WARD_ASSIGN_OR_RETURN(Vector n2b, load_vector(f, p + "layer_output_norm.bias"));

        std::vector<Vector> q(T), k(T), v(T);
        for (size_t t = 0; t < T; ++t) {
            q[t] = linear(wq, bq, x[t], quantize);
            k[t] = linear(wk, bk, x[t], quantize);
            v[t] = linear(wv, bv, x[t], quantize);
        }
        std::vector<Vector> next(T);
        for (size_t t = 0; t < T; ++t) {
            // Every token attends to every token (no mask).
            Vector att(static_cast<size_t>(E), 0.0);
            for (int64_t h = 0; h < H; ++h) {
                std::vector<double> s(T);
                double mx = -1e300;
                for (size_t j = 0; j < T; ++j) {
                    double dot = 0;
                    for (int64_t i = 0; i < D; ++i) dot += q[t][h * D + i] * k[j][h * D + i];
                    s[j] = dot / std::sqrt(double(D));
                    mx = std::max(mx, s[j]);
                }
                double z = 0;
                for (double& e : s) z += (e = std::exp(e - mx));
                for (size_t j = 0; j < T; ++j) {
                    for (int64_t i = 0; i < D; ++i) att[h * D + i] += s[j] / z * v[j][h * D + i];
                }
            }
            Vector o = linear(wo, bo, att, quantize);
            for (int64_t i = 0; i < E; ++i) o[i] += x[t][i];
            Vector h1 = layer_norm(o, n1g, n1b, eps);
            Vector u = linear(up, up_b, h1, quantize);
            for (double& a : u) a = double(float(0.5 * a * (1.0 + std::erf(a / std::sqrt(2.0)))));
            Vector d = linear(down, down_b, u, quantize);
            for (int64_t i = 0; i < E; ++i) d[i] += h1[i];
            next[t] = layer_norm(d, n2g, n2b, eps);
        }
        x = std::move(next);
    }
    Vector pooled(static_cast<size_t>(E), 0.0);
    const size_t n_pooled = pooling == 2 ? 1 : T;
    for (size_t t = 0; t < n_pooled; ++t) {
        for (int64_t i = 0; i < E; ++i) pooled[i] += x[t][i] / double(n_pooled);
    }
    double norm = 0;
    for (double p : pooled) norm += p * p;
    norm = std::sqrt(norm);
    std::vector<float> out(pooled.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = float(pooled[i] / norm);
    return out;
}

}  // namespace ward::engine::testing
