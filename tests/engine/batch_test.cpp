// BatchEvaluator (batch.h) and Session::copy_prefix: several sessions evaluated in one forward
// pass give the logits each gives alone, on the pretrained stories260K model and on synthetic
// models of every architecture, on every kernel path this CPU can run.
//
// Tolerance, as the largest logit difference over the largest logit magnitude (at least 1), as
// in reference_forward_test.cpp: 1e-3 where activations stay float, 3e-2 where the integer
// kernels round them to 8 bits. Every row is computed by the same code in both cases, so the
// differences seen are far smaller; a row attending to another item's cache or at a wrong
// position moves logits by tens of percent.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/cpu.h"
#include "engine/model.h"
#include "engine/ops.h"
#include "engine/session.h"
#include "support/tiny_model.h"

namespace ward::engine {
namespace {

using testing::TinyModelSpec;

const std::string kStories = std::string(WARD_SHARED_DATA) + "/models/stories260K.gguf";

constexpr double kFloatTolerance = 1e-3;
constexpr double kQuantizedTolerance = 3e-2;

std::shared_ptr<const Model> stories() {
    static auto model = Model::load(kStories);
    EXPECT_TRUE(model) << model.error().to_string();
    return *model;
}

std::unique_ptr<Session> new_session(const std::shared_ptr<const Model>& model, int n_ctx = 128) {
    auto s = Session::create(model, {.n_ctx = n_ctx, .n_threads = 1});
    EXPECT_TRUE(s) << s.error().to_string();
    return std::move(*s);
}

// Largest |a - b| over the largest |b| (at least 1).
double relative_diff(std::span<const float> a, std::span<const float> b) {
    EXPECT_EQ(a.size(), b.size());
    double max_ref = 1, max_diff = 0;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        max_ref = std::max(max_ref, std::fabs(double(b[i])));
        max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
    }
    return max_diff / max_ref;
}

std::span<const float> item_logits(const std::vector<float>& logits, size_t i, int n_vocab) {
    return std::span(logits).subspan(i * size_t(n_vocab), size_t(n_vocab));
}

int32_t argmax(std::span<const float> logits) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

// Prompts of different lengths over a vocabulary of n_vocab (ids from 1 up, deterministic).
std::vector<std::vector<int32_t>> prompts(int n_vocab) {
    const int lengths[] = {5, 1, 12, 3};
    std::vector<std::vector<int32_t>> out;
    uint32_t state = 12345;
    for (int len : lengths) {
        std::vector<int32_t> p;
        for (int t = 0; t < len; ++t) {
            state = state * 1664525u + 1013904223u;
            p.push_back(1 + static_cast<int32_t>((state >> 8) % uint32_t(n_vocab - 1)));
        }
        out.push_back(p);
    }
    return out;
}

// Runs prompts through the evaluator in one call, then `steps` single-token decode steps for
// all sessions together; checks every call's logits against each session evaluated alone.
void expect_batch_matches_alone(const std::shared_ptr<const Model>& model, double tolerance,
                                int steps) {
    const int n_vocab = model->hparams().n_vocab;
    const auto ps = prompts(n_vocab);
    auto team = std::make_shared<WorkerTeam>(2);
    BatchEvaluator evaluator(model, team);
    std::vector<std::unique_ptr<Session>> batched, alone;
    for (size_t i = 0; i < ps.size(); ++i) {
        batched.push_back(new_session(model));
        alone.push_back(new_session(model));
    }
    std::vector<BatchItem> items;
    for (size_t i = 0; i < ps.size(); ++i) items.push_back({batched[i].get(), ps[i]});
    std::vector<float> logits;
    ASSERT_TRUE(evaluator.eval(items, logits).ok());
    ASSERT_EQ(logits.size(), ps.size() * size_t(n_vocab));
    std::vector<int32_t> next(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) {
        auto want = alone[i]->eval(ps[i]);
        ASSERT_TRUE(want);
        EXPECT_LT(relative_diff(item_logits(logits, i, n_vocab), *want), tolerance)
            << "prompt of item " << i;
        EXPECT_EQ(batched[i]->n_past(), int(ps[i].size()));
        EXPECT_EQ(std::vector<int32_t>(batched[i]->history().begin(), batched[i]->history().end()),
                  ps[i]);
        next[i] = argmax(*want);
    }
    for (int step = 0; step < steps; ++step) {
        items.clear();
        for (size_t i = 0; i < ps.size(); ++i) items.push_back({batched[i].get(), {&next[i], 1}});
        ASSERT_TRUE(evaluator.eval(items, logits).ok());
        for (size_t i = 0; i < ps.size(); ++i) {
            auto want = alone[i]->eval(std::span(&next[i], 1));
            ASSERT_TRUE(want);
            EXPECT_LT(relative_diff(item_logits(logits, i, n_vocab), *want), tolerance)
                << "step " << step << ", item " << i;
            next[i] = argmax(*want);
        }
    }
}

TEST(Batch, Stories260KBatchMatchesEachSessionAlone) {
    expect_batch_matches_alone(stories(), kFloatTolerance, 6);
}

// Restores the kernel path after each test.
class KernelPathGuard {
  public:
    explicit KernelPathGuard(KernelPath path) : saved_(active_kernel_path()) {
        EXPECT_TRUE(set_kernel_path(path).ok());
    }
    ~KernelPathGuard() { (void)set_kernel_path(saved_); }

  private:
    KernelPath saved_;
};

struct SyntheticCase {
    std::string name;
    TinyModelSpec spec;
};

void PrintTo(const SyntheticCase& c, std::ostream* os) {
    *os << c.name;
}

std::vector<SyntheticCase> synthetic_cases() {
    std::vector<SyntheticCase> cases;
    const std::pair<const char*, TensorType> combos[] = {
        {"llama", TensorType::kF32},  {"llama", TensorType::kQ4_0}, {"llama", TensorType::kQ4_K},
        {"qwen2", TensorType::kQ8_0}, {"qwen2", TensorType::kF16},  {"gemma3", TensorType::kQ6_K},
    };
    for (const auto& [arch, type] : combos) {
        TinyModelSpec s;
        s.arch = arch;
        s.type = type;
        s.n_ctx = 128;
        if (s.arch == "gemma3") {
            s.n_layer = 6;  // five sliding-window layers and one global
            s.sliding_window = 5;
            s.tied_output = true;
        }
        cases.push_back({std::string(arch) + "_" + std::string(tensor_type_name(type)), s});
    }
    return cases;
}

class BatchSynthetic : public ::testing::TestWithParam<SyntheticCase> {};

TEST_P(BatchSynthetic, BatchMatchesEachSessionAloneOnEveryPath) {
    const SyntheticCase& c = GetParam();
    const std::string path = testing::temp_path("batch_" + c.name + ".gguf");
    ASSERT_TRUE(testing::write_tiny_model(c.spec, path).ok());
    auto model = Model::load(path);
    ASSERT_TRUE(model) << model.error().to_string();
    for (KernelPath kp : {KernelPath::kPortable, KernelPath::kAvx2, KernelPath::kAvx512}) {
        if (!kernel_path_supported(kp)) continue;
        SCOPED_TRACE(std::string("kernel path ") + std::string(kernel_path_name(kp)));
        KernelPathGuard guard(kp);
        const bool quantized = matmul_quantizes_activations(c.spec.type, c.spec.n_embd);
        expect_batch_matches_alone(*model, quantized ? kQuantizedTolerance : kFloatTolerance, 8);
    }
    std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Archs, BatchSynthetic, ::testing::ValuesIn(synthetic_cases()),
                         [](const auto& param_info) { return param_info.param.name; });

// A newly admitted prompt chunk and several single-token decodes of running sessions in one
// call, as a continuous-batching server issues them.
TEST(Batch, PrefillChunkAndDecodesInOneCall) {
    auto model = stories();
    const int n_vocab = model->hparams().n_vocab;
    const auto ps = prompts(n_vocab);
    auto team = std::make_shared<WorkerTeam>(2);
    BatchEvaluator evaluator(model, team);
    std::vector<std::unique_ptr<Session>> batched, alone;
    for (size_t i = 0; i < ps.size(); ++i) {
        batched.push_back(new_session(model));
        alone.push_back(new_session(model));
    }
    // Sessions 1..3 are running: their prompts are already in.
    std::vector<int32_t> next(ps.size());
    for (size_t i = 1; i < ps.size(); ++i) {
        ASSERT_TRUE(batched[i]->eval(ps[i]));
        auto l = alone[i]->eval(ps[i]);
        ASSERT_TRUE(l);
        next[i] = argmax(*l);
    }
    // Session 0 is admitted: its prompt arrives in two chunks while the others decode.
    const std::span<const int32_t> p0 = ps[0];
    std::vector<float> logits;
    for (int chunk = 0; chunk < 2; ++chunk) {
        const auto part = chunk == 0 ? p0.first(3) : p0.subspan(3);
        std::vector<BatchItem> items = {{batched[0].get(), part}};
        for (size_t i = 1; i < ps.size(); ++i) items.push_back({batched[i].get(), {&next[i], 1}});
        ASSERT_TRUE(evaluator.eval(items, logits).ok());
        auto want0 = alone[0]->eval(part);
        ASSERT_TRUE(want0);
        EXPECT_LT(relative_diff(item_logits(logits, 0, n_vocab), *want0), kFloatTolerance)
            << "prompt chunk " << chunk;
        for (size_t i = 1; i < ps.size(); ++i) {
            auto want = alone[i]->eval(std::span(&next[i], 1));
            ASSERT_TRUE(want);
            EXPECT_LT(relative_diff(item_logits(logits, i, n_vocab), *want), kFloatTolerance)
                << "chunk " << chunk << ", decode of item " << i;
            next[i] = argmax(*want);
        }
    }
    for (size_t i = 0; i < ps.size(); ++i) {
        EXPECT_EQ(batched[i]->n_past(), alone[i]->n_past());
        EXPECT_TRUE(std::ranges::equal(batched[i]->history(), alone[i]->history()));
    }
}

// Four prompts generated greedily, interleaved step by step through the evaluator (admitted at
// different steps, as requests arrive), equal four separate greedy runs token for token.
TEST(Batch, InterleavedGreedyGenerationEqualsSeparateRuns) {
    auto model = stories();
    const int n_vocab = model->hparams().n_vocab;
    const Tokenizer& tok = model->tokenizer();
    const std::vector<std::vector<int32_t>> ps = {
        tok.encode("Once upon a time", true), tok.encode("The little dog", true),
        tok.encode("Lily wanted to play with her friend", true), tok.encode("Tom", true)};
    constexpr int kNew = 30;
    const int admitted_at[] = {0, 0, 3, 7};

    std::vector<std::vector<int32_t>> separate(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) {
        auto s = new_session(model);
        auto l = s->eval(ps[i]);
        ASSERT_TRUE(l);
        int32_t t = argmax(*l);
        for (int n = 0; n < kNew; ++n) {
            separate[i].push_back(t);
            l = s->eval(std::span(&t, 1));
            ASSERT_TRUE(l);
            t = argmax(*l);
        }
    }

    auto team = std::make_shared<WorkerTeam>(2);
    BatchEvaluator evaluator(model, team);
    std::vector<std::unique_ptr<Session>> sessions;
    for (size_t i = 0; i < ps.size(); ++i) sessions.push_back(new_session(model));
    std::vector<std::vector<int32_t>> interleaved(ps.size());
    std::vector<int32_t> next(ps.size());
    std::vector<bool> started(ps.size(), false);
    std::vector<float> logits;
    std::vector<size_t> order;
    for (int step = 0; step < 64; ++step) {
        std::vector<BatchItem> items;
        order.clear();
        for (size_t i = 0; i < ps.size(); ++i) {
            if (step < admitted_at[i] || interleaved[i].size() == size_t(kNew)) continue;
            if (!started[i]) {
                items.push_back({sessions[i].get(), ps[i]});
                started[i] = true;
            } else {
                interleaved[i].push_back(next[i]);
                if (interleaved[i].size() == size_t(kNew)) continue;
                items.push_back({sessions[i].get(), {&next[i], 1}});
            }
            order.push_back(i);
        }
        if (items.empty()) continue;
        ASSERT_TRUE(evaluator.eval(items, logits).ok());
        for (size_t k = 0; k < order.size(); ++k) {
            next[order[k]] = argmax(item_logits(logits, k, n_vocab));
        }
    }
    for (size_t i = 0; i < ps.size(); ++i) {
        EXPECT_EQ(interleaved[i], separate[i]) << "prompt " << i;
    }
}

TEST(Batch, CopyPrefixThenContinuingEqualsTheWholePrompt) {
    auto model = stories();
    const auto prompt = model->tokenizer().encode("Once upon a time there was a little girl", true);
    ASSERT_GT(prompt.size(), 6u);
    const std::span<const int32_t> whole = prompt;

    auto whole_session = new_session(model);
    auto want = whole_session->eval(whole);
    ASSERT_TRUE(want);
    const std::vector<float> want_logits(want->begin(), want->end());

    // The source holds the whole prompt and more; the copy takes the first 4 tokens.
    auto source = new_session(model);
    ASSERT_TRUE(source->eval(whole));
    auto copy = new_session(model);
    ASSERT_TRUE(copy->eval(std::vector<int32_t>{7, 8, 9}));  // overwritten by the copy
    ASSERT_TRUE(copy->copy_prefix(*source, 4).ok());
    EXPECT_EQ(copy->n_past(), 4);
    EXPECT_TRUE(std::ranges::equal(copy->history(), whole.first(4)));
    auto got = copy->eval(whole.subspan(4));
    ASSERT_TRUE(got);
    EXPECT_LT(relative_diff(*got, want_logits), kFloatTolerance);
    EXPECT_EQ(argmax(*got), argmax(want_logits));

    // Through the evaluator as well, next to another session.
    auto team = std::make_shared<WorkerTeam>(2);
    BatchEvaluator evaluator(model, team);
    auto copy2 = new_session(model);
    ASSERT_TRUE(copy2->copy_prefix(*source, 6).ok());
    auto other = new_session(model);
    const BatchItem items[] = {{other.get(), whole}, {copy2.get(), whole.subspan(6)}};
    std::vector<float> logits;
    ASSERT_TRUE(evaluator.eval(items, logits).ok());
    const int n_vocab = model->hparams().n_vocab;
    EXPECT_LT(relative_diff(item_logits(logits, 0, n_vocab), want_logits), kFloatTolerance);
    EXPECT_LT(relative_diff(item_logits(logits, 1, n_vocab), want_logits), kFloatTolerance);

    // n = 0 empties the session; copying from itself truncates.
    ASSERT_TRUE(copy2->copy_prefix(*source, 0).ok());
    EXPECT_EQ(copy2->n_past(), 0);
    ASSERT_TRUE(source->copy_prefix(*source, 2).ok());
    EXPECT_EQ(source->n_past(), 2);
}

TEST(Batch, CopyPrefixErrorsChangeNothing) {
    auto model = stories();
    auto other_model = Model::load(kStories);
    ASSERT_TRUE(other_model);
    auto source = new_session(model, 64);
    ASSERT_TRUE(source->eval(std::vector<int32_t>(40, 5)));
    auto small = new_session(model, 16);
    ASSERT_TRUE(small->eval(std::vector<int32_t>{1, 2, 3}));
    auto foreign = new_session(*other_model);

    auto expect_error = [&](Session& to, const Session& from, int n, StatusCode code) {
        const Status st = to.copy_prefix(from, n);
        EXPECT_EQ(st.code(), code) << st.to_string();
        EXPECT_EQ(small->n_past(), 3);
        EXPECT_TRUE(std::ranges::equal(small->history(), std::vector<int32_t>{1, 2, 3}));
    };
    expect_error(*small, *foreign, 0, StatusCode::kInvalidArgument);
    expect_error(*small, *source, -1, StatusCode::kInvalidArgument);
    expect_error(*small, *source, 41, StatusCode::kInvalidArgument);
    expect_error(*small, *source, 17, StatusCode::kResourceExhausted);
    ASSERT_TRUE(small->copy_prefix(*source, 16).ok());
    EXPECT_EQ(small->n_past(), 16);
}

TEST(Batch, ErrorsAreCheckedForEveryItemBeforeAnythingChanges) {
    auto model = stories();
    auto other_model = Model::load(kStories);
    ASSERT_TRUE(other_model);
    const int n_vocab = model->hparams().n_vocab;
    auto team = std::make_shared<WorkerTeam>(2);
    BatchEvaluator evaluator(model, team, /*max_rows=*/8);
    auto a = new_session(model, 16);
    auto b = new_session(model, 16);
    auto foreign = new_session(*other_model);
    ASSERT_TRUE(a->eval(std::vector<int32_t>{1, 2}));
    ASSERT_TRUE(b->eval(std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}));
    const std::vector<int32_t> one = {5}, two = {6, 7}, four = {1, 2, 3, 4};
    const std::vector<int32_t> bad_high = {5, n_vocab}, bad_low = {-1};
    const std::vector<int32_t> nine(9, 3);

    std::vector<float> logits = {42.0f};
    auto expect_error = [&](std::vector<BatchItem> items, StatusCode code,
                            const std::string& message_part) {
        const Status st = evaluator.eval(items, logits);
        EXPECT_EQ(st.code(), code) << st.to_string();
        EXPECT_NE(st.message().find(message_part), std::string::npos) << st.to_string();
        EXPECT_EQ(a->n_past(), 2);
        EXPECT_EQ(b->n_past(), 13);
        EXPECT_EQ(a->history().size(), 2u);
        EXPECT_EQ(logits, std::vector<float>{42.0f});
    };
    expect_error({}, StatusCode::kInvalidArgument, "no items");
    expect_error({{a.get(), one}, {b.get(), {}}}, StatusCode::kInvalidArgument, "item 1");
    expect_error({{a.get(), one}, {b.get(), bad_high}}, StatusCode::kInvalidArgument,
                 "outside the vocabulary");
    expect_error({{a.get(), bad_low}}, StatusCode::kInvalidArgument, "item 0");
    expect_error({{a.get(), one}, {foreign.get(), one}}, StatusCode::kInvalidArgument,
                 "another model");
    expect_error({{a.get(), one}, {b.get(), one}, {a.get(), one}}, StatusCode::kInvalidArgument,
                 "same session");
    expect_error({{a.get(), nine}}, StatusCode::kInvalidArgument, "limit of 8");
    // b holds 13 of 16: 4 more do not fit; the message names item 1.
    expect_error({{a.get(), two}, {b.get(), four}}, StatusCode::kResourceExhausted,
                 "item 1: session: 4 tokens do not fit");

    // The same sessions then evaluate normally.
    const BatchItem ok_items[] = {{a.get(), two}, {b.get(), {four.data(), 3}}};
    ASSERT_TRUE(evaluator.eval(ok_items, logits).ok());
    EXPECT_EQ(a->n_past(), 4);
    EXPECT_EQ(b->n_past(), 16);
    EXPECT_EQ(logits.size(), 2u * size_t(n_vocab));
}

}  // namespace
}  // namespace ward::engine
