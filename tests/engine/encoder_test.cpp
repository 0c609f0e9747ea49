// The BERT encoder: embeddings against the plain reference (support/reference_bert.h) for F32,
// F16 and Q8_0 weights, mean and CLS pooling, on every kernel path this CPU runs; batching;
// concurrent use; the errors of wrong models and over-long input.
//
// Tolerance, as the largest difference of one component of the unit-length embedding:
// - 1e-5 where activations stay float: both sides decode the same weights, so only summation
//   order and float-vs-double arithmetic differ (observed: below 1e-7 on every path);
// - 2e-3 where the integer kernels round activations to 8 bits and the reference rounds them
//   the same way: observed below 1e-7 too, but a last-bit difference can round one activation
//   to its neighbouring step (1/127 of its block's largest value), which LayerNorm passes on.
// A real error in the forward pass moves components by far more: zeroing one layer's output
// bias moves them by about 7e-2 (BrokenModelIsCaught); ignoring a token, by more
// (ComparisonDetectsADifferentInput).
#include "engine/encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <thread>

#include "engine/cpu.h"
#include "engine/gguf_writer.h"
#include "engine/model_maker.h"
#include "engine/ops.h"
#include "engine/session.h"
#include "support/kernel_path_guard.h"
#include "support/reference_bert.h"
#include "support/tiny_model.h"

namespace ward::engine {
namespace {

constexpr double kFloatTolerance = 1e-5;
constexpr double kQuantizedTolerance = 2e-3;

RandomModelSpec tiny_bert(TensorType type, int pooling = 1) {
    RandomModelSpec s;
    s.arch = "bert";
    s.type = type;
    s.n_embd = 64;
    s.n_layer = 2;
    s.n_head = 4;
    s.n_head_kv = 4;
    s.n_ff = 128;
    s.n_vocab = 300;
    s.n_ctx = 24;
    s.pooling = pooling;
    return s;
}

std::shared_ptr<const Model> load_model(const std::string& path) {
    auto model = Model::load(path);
    EXPECT_TRUE(model) << model.error().to_string();
    return model ? *model : nullptr;
}

// Writes a made bert model once per spec name and deletes it at exit.
class MadeModel {
  public:
    MadeModel(const std::string& name, const RandomModelSpec& spec)
        : path_(testing::temp_path(name + ".gguf")) {
        Status st = make_random_model(spec, path_);
        EXPECT_TRUE(st.ok()) << st.to_string();
    }
    ~MadeModel() { std::remove(path_.c_str()); }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    EXPECT_EQ(a.size(), b.size());
    double d = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        d = std::max(d, std::fabs(double(a[i]) - b[i]));
    }
    return d;
}

double norm(const std::vector<float>& a) {
    double s = 0;
    for (float v : a) s += double(v) * v;
    return std::sqrt(s);
}

struct Case {
    std::string name;
    TensorType type;
    int pooling;
};

void PrintTo(const Case& c, std::ostream* os) {
    *os << c.name;
}

class EncoderReference : public ::testing::TestWithParam<Case> {};

TEST_P(EncoderReference, MatchesReferenceOnEveryPath) {
    const Case& c = GetParam();
    MadeModel made("bert_" + c.name, tiny_bert(c.type, c.pooling));
    auto model = load_model(made.path());
    ASSERT_TRUE(model);
    EncoderOptions options;
    options.n_threads = 2;
    auto encoder = Encoder::create(model, options);
    ASSERT_TRUE(encoder) << encoder.error().to_string();
    const std::string text = "The patient denies chest pain, fever; blood pressure 120/80.";
    const std::vector<int32_t> ids = (*encoder)->tokenize(text);
    ASSERT_GT(ids.size(), 10u);
    ASSERT_LE(ids.size(), 24u);
    std::map<bool, std::vector<float>> references;
    for (KernelPath kp : {KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
        if (!kernel_path_supported(kp)) continue;
        SCOPED_TRACE(std::string("kernel path ") + std::string(kernel_path_name(kp)));
        testing::KernelPathGuard guard(kp);
        const bool quantized = matmul_quantizes_activations(c.type, 64);
        if (!references.count(quantized)) {
            auto ref = testing::reference_embedding(made.path(), ids, quantized);
            ASSERT_TRUE(ref) << ref.error().to_string();
            references[quantized] = std::move(*ref);
        }
        auto got = (*encoder)->embed(text);
        ASSERT_TRUE(got) << got.error().to_string();
        ASSERT_EQ(got->size(), 64u);
        EXPECT_NEAR(norm(*got), 1.0, 1e-5);
        EXPECT_LT(max_abs_diff(*got, references[quantized]),
                  quantized ? kQuantizedTolerance : kFloatTolerance);
    }
}

INSTANTIATE_TEST_SUITE_P(
    TypesAndPooling, EncoderReference,
    ::testing::Values(Case{"F32_mean", TensorType::kF32, 1}, Case{"F16_mean", TensorType::kF16, 1},
                      Case{"Q8_0_mean", TensorType::kQ8_0, 1}, Case{"F32_cls", TensorType::kF32, 2},
                      Case{"F16_cls", TensorType::kF16, 2}, Case{"Q8_0_cls", TensorType::kQ8_0, 2},
                      Case{"Q4_0_mean", TensorType::kQ4_0, 1},
                      Case{"BF16_cls", TensorType::kBF16, 2}),
    [](const auto& param_info) { return param_info.param.name; });

// The comparison can fail: the reference of other tokens (one id changed) is far away, so a
// forward pass that ignored a token, or attended causally, would be caught.
TEST(Encoder, ComparisonDetectsADifferentInput) {
    MadeModel made("bert_detect", tiny_bert(TensorType::kF32));
    auto model = load_model(made.path());
    ASSERT_TRUE(model);
    auto encoder = Encoder::create(model);
    ASSERT_TRUE(encoder);
    std::vector<int32_t> ids = (*encoder)->tokenize("the patient pain");
    auto got = (*encoder)->embed("the patient pain");
    ASSERT_TRUE(got);
    // Change the last word: with bidirectional attention and mean pooling every row moves.
    ids[ids.size() - 2] = model->tokenizer().find_token(
        "\xe2\x96\x81"
        "fever");
    auto other = testing::reference_embedding(made.path(), ids);
    ASSERT_TRUE(other);
    EXPECT_GT(max_abs_diff(*got, *other), 100 * kFloatTolerance);
}

TEST(Encoder, BatchEqualsOneByOne) {
    MadeModel made("bert_batch", tiny_bert(TensorType::kQ8_0));
    auto model = load_model(made.path());
    ASSERT_TRUE(model);
    EncoderOptions options;
    options.n_threads = 2;
    options.max_batch_tokens = 20;  // forces several forward passes
    auto encoder = Encoder::create(model, options);
    ASSERT_TRUE(encoder);
    const std::vector<std::string> texts = {"the patient", "chest pain with fever",
                                            "blood pressure of 120/80 mg", "",
                                            "history of heart pain"};
    auto batch = (*encoder)->embed_batch(texts);
    ASSERT_TRUE(batch) << batch.error().to_string();
    ASSERT_EQ(batch->size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
        auto one = (*encoder)->embed(texts[i]);
        ASSERT_TRUE(one);
        EXPECT_LT(max_abs_diff((*batch)[i], *one), 1e-5) << texts[i];
    }
    // Different texts give different vectors; the same text the same one.
    EXPECT_GT(max_abs_diff((*batch)[0], (*batch)[1]), 1e-2);
    auto again = (*encoder)->embed(texts[0]);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, *(*encoder)->embed(texts[0]));
}

TEST(Encoder, ConcurrentCallsGiveTheSameVectors) {
    MadeModel made("bert_threads", tiny_bert(TensorType::kF16));
    auto model = load_model(made.path());
    ASSERT_TRUE(model);
    EncoderOptions options;
    options.n_threads = 2;
    auto encoder = Encoder::create(model, options);
    ASSERT_TRUE(encoder);
    const std::vector<std::string> texts = {"the patient", "chest pain", "fever and pain",
                                            "heart history"};
    std::vector<std::vector<float>> expected;
    for (const auto& t : texts) expected.push_back(*(*encoder)->embed(t));
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int th = 0; th < 4; ++th) {
        threads.emplace_back([&, th] {
            for (int i = 0; i < 20; ++i) {
                const size_t k = size_t(th + i) % texts.size();
                auto got = (*encoder)->embed(texts[k]);
                if (!got || *got != expected[k]) ++mismatches[th];
            }
        });
    }
    for (auto& t : threads) t.join();
    for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(Encoder, InputLongerThanTheContextIsAnError) {
    MadeModel made("bert_long", tiny_bert(TensorType::kF32));  // 24 positions
    auto model = load_model(made.path());
    ASSERT_TRUE(model);
    auto encoder = Encoder::create(model);
    ASSERT_TRUE(encoder);
    EXPECT_EQ((*encoder)->max_tokens(), 24);
    EXPECT_EQ((*encoder)->dim(), 64);
    std::string text;
    for (int i = 0; i < 22; ++i) text += "pain ";  // 22 words + [CLS] + [SEP] = 24: fits
    EXPECT_TRUE((*encoder)->embed(text));
    text += "pain";
    auto too_long = (*encoder)->embed(text);
    ASSERT_FALSE(too_long);
    EXPECT_EQ(too_long.error().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(too_long.error().message(),
              "input of 25 tokens is longer than the model's context of 24");
    const std::vector<std::string> texts = {"pain", text};
    auto batch = (*encoder)->embed_batch(texts);
    ASSERT_FALSE(batch);
    EXPECT_EQ(batch.error().message(),
              "input #1: input of 25 tokens is longer than the model's context of 24");
    const std::vector<std::vector<int32_t>> bad_ids = {{2, 9999, 3}};
    auto bad = (*encoder)->embed_tokens(bad_ids);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
}

TEST(Encoder, DecoderAndEncoderModelsAreKeptApart) {
    MadeModel bert("bert_apart", tiny_bert(TensorType::kF32));
    auto encoder_model = load_model(bert.path());
    ASSERT_TRUE(encoder_model);
    EXPECT_TRUE(encoder_model->hparams().is_encoder());
    auto session = Session::create(encoder_model);
    ASSERT_FALSE(session);
    EXPECT_EQ(session.error().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(session.error().message().find("encoder (embedding) model"), std::string::npos)
        << session.error().message();

    testing::TinyModelSpec llama;
    MadeModel decoder("llama_apart", llama);
    auto decoder_model = load_model(decoder.path());
    ASSERT_TRUE(decoder_model);
    auto encoder = Encoder::create(decoder_model);
    ASSERT_FALSE(encoder);
    EXPECT_EQ(encoder.error().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(encoder.error().message(),
              "encoder: model 'llama' is a decoder; embeddings need an encoder model such as bert");
}

// Rewrites a made bert file with one metadata value or tensor changed.
std::string rewrite(const std::string& from, const std::string& name,
                    const std::function<void(GgufWriter&, const GgufFile&)>& edit,
                    const std::set<std::string>& drop_tensors = {},
                    const std::set<std::string>& drop_keys = {}) {
    auto file = GgufFile::open(from);
    EXPECT_TRUE(file);
    GgufWriter w;
    for (const auto& [key, value] : (*file)->metadata()) {
        if (!drop_keys.count(std::string(key))) w.set_value(key, value);
    }
    for (const auto& t : (*file)->tensors()) {
        if (drop_tensors.count(std::string(t.name))) continue;
        std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
        EXPECT_TRUE(
            w.add_tensor_raw(t.name, t.type, ne, std::span<const uint8_t>(t.data, t.n_bytes)).ok());
    }
    edit(w, **file);
    std::string path = testing::temp_path(name + ".gguf");
    EXPECT_TRUE(w.write(path).ok());
    return path;
}

TEST(Encoder, UnsupportedVariantsAndBrokenFilesAreClearErrors) {
    MadeModel made("bert_variants", tiny_bert(TensorType::kF32, 2));
    struct Bad {
        std::string name;
        std::function<void(GgufWriter&, const GgufFile&)> edit;
        std::set<std::string> drop;
        std::string message;
    };
    const std::vector<Bad> cases = {
        {"nomic",
         [](GgufWriter& w, const GgufFile&) { w.set_string("general.architecture", "nomic-bert"); },
         {},
         "encoder architecture 'nomic-bert' is not supported"},
        {"jina",
         [](GgufWriter& w, const GgufFile&) {
             w.set_string("general.architecture", "jina-bert-v2");
         },
         {},
         "encoder architecture 'jina-bert-v2' is not supported"},
        {"pooling",
         [](GgufWriter& w, const GgufFile&) { w.set_u32("bert.pooling_type", 3); },
         {},
         "'bert.pooling_type' = 3 is not supported (1 mean, 2 cls)"},
        {"causal",
         [](GgufWriter& w, const GgufFile&) { w.set_bool("bert.attention.causal", true); },
         {},
         "attention.causal = true"},
        {"missing_norm",
         [](GgufWriter&, const GgufFile&) {},
         {"blk.1.layer_output_norm.bias"},
         "tensor 'blk.1.layer_output_norm.bias' is missing"},
        {"bert_with_spm_vocab",
         [](GgufWriter& w, const GgufFile&) { w.set_string("tokenizer.ggml.model", "llama"); },
         {},
         "needs the bert WordPiece tokenizer"},
    };
    for (const Bad& bad : cases) {
        SCOPED_TRACE(bad.name);
        std::string path = rewrite(made.path(), "bert_bad_" + bad.name, bad.edit, bad.drop);
        auto model = Model::load(path);
        ASSERT_FALSE(model);
        EXPECT_EQ(model.error().code(), StatusCode::kInvalidArgument);
        EXPECT_NE(model.error().message().find(bad.message), std::string::npos)
            << model.error().message();
        std::remove(path.c_str());
    }
    // No pooling key: mean pooling, as llama.cpp's converter leaves it for plain BERT.
    std::string path = rewrite(made.path(), "bert_no_pooling", [](GgufWriter&, const GgufFile&) {},
                               {}, {"bert.pooling_type"});
    auto model = Model::load(path);
    ASSERT_TRUE(model);
    EXPECT_EQ((*model)->hparams().pooling, Pooling::kMean);
    std::remove(path.c_str());
}

TEST(Encoder, BrokenModelIsCaught) {
    // A forward pass that skipped one attention output bias would differ from the reference by
    // far more than the tolerances: zeroing that bias in the file moves the embedding that much.
    MadeModel made("bert_broken", tiny_bert(TensorType::kF32));
    auto model = load_model(made.path());
    ASSERT_TRUE(model);
    auto encoder = Encoder::create(model);
    ASSERT_TRUE(encoder);
    auto good = (*encoder)->embed("the patient denies chest pain");
    ASSERT_TRUE(good);
    std::string path = rewrite(
        made.path(), "bert_zero_bias",
        [](GgufWriter& w, const GgufFile&) {
            std::vector<float> zeros(64, 0.0f);
            EXPECT_TRUE(w.add_tensor("blk.0.attn_output.bias", TensorType::kF32, {64}, zeros).ok());
        },
        {"blk.0.attn_output.bias"});
    auto broken_model = load_model(path);
    ASSERT_TRUE(broken_model);
    auto broken = Encoder::create(broken_model);
    ASSERT_TRUE(broken);
    auto bad = (*broken)->embed("the patient denies chest pain");
    ASSERT_TRUE(bad);
    EXPECT_GT(max_abs_diff(*good, *bad), 5 * kQuantizedTolerance);
    std::remove(path.c_str());
}

TEST(Ops, LayerNormAndGeluErf) {
    const float x[4] = {1, 2, 3, 4};
    const float g[4] = {1, 2, 1, 1};
    const float b[4] = {0, 0, 1, 0};
    float y[4];
    layer_norm(x, g, b, y, 4, 0.0f);
    // mean 2.5, variance 1.25
    const double s = 1 / std::sqrt(1.25);
    EXPECT_NEAR(y[0], -1.5 * s, 1e-6);
    EXPECT_NEAR(y[1], -0.5 * s * 2, 1e-6);
    EXPECT_NEAR(y[2], 0.5 * s + 1, 1e-6);
    EXPECT_NEAR(y[3], 1.5 * s, 1e-6);
    EXPECT_NEAR(gelu_erf(1.0f), 0.8413447460685429, 1e-6);
    EXPECT_NEAR(gelu_erf(-2.0f), -0.04550026389635842, 1e-6);
    EXPECT_FLOAT_EQ(gelu_erf(0.0f), 0.0f);
}

}  // namespace
}  // namespace ward::engine
