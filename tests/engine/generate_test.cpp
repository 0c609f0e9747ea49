// Generation end to end on the real pretrained stories260K model, plus sampling and session
// behaviour that a clinician-facing server relies on.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "common/mapped_file.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/sampler.h"
#include "engine/session.h"
#include "support/tiny_model.h"

namespace ward::engine {
namespace {

const std::string kModel = std::string(WARD_SHARED_DATA) + "/models/stories260K.gguf";

std::vector<int32_t> read_ids(const std::string& path) {
    std::ifstream in(path);
    std::vector<int32_t> ids;
    int32_t id;
    while (in >> id) ids.push_back(id);
    return ids;
}

std::shared_ptr<const Model> stories() {
    static auto model = Model::load(kModel);
    EXPECT_TRUE(model) << model.error().to_string();
    return *model;
}

TEST(Generate, Stories260KGreedyMatchesReferenceImplementation) {
    auto model = stories();
    const auto expected =
        read_ids(std::string(WARD_SHARED_DATA) + "/models/stories260K.greedy-200.ids.txt");
    ASSERT_EQ(expected.size(), 200u);
    auto session = Session::create(model, {.n_ctx = 256, .n_threads = 2});
    ASSERT_TRUE(session);
    GenerateOptions options;
    options.max_tokens = 200;
    options.sampling.temperature = 0;
    options.ignore_eos = true;
    const int32_t bos = model->tokenizer().bos();
    auto result = generate(**session, std::span(&bos, 1), options);
    ASSERT_TRUE(result) << result.error().to_string();
    EXPECT_EQ(result->tokens, expected);
    // The streamed text is the published text.
    auto text = read_file(std::string(WARD_SHARED_DATA) + "/models/stories260K.greedy-200.txt");
    ASSERT_TRUE(text);
    std::string want = *text;
    while (!want.empty() && want.back() == '\n') want.pop_back();
    std::string got = result->text;
    while (!got.empty() && got.back() == '\n') got.pop_back();
    EXPECT_EQ(got, want);
}

TEST(Generate, SeedMakesSamplingReproducible) {
    auto model = stories();
    auto run = [&](uint64_t seed) {
        auto session = Session::create(model, {.n_ctx = 128, .n_threads = 1});
        GenerateOptions o;
        o.max_tokens = 40;
        o.sampling.temperature = 1.0f;
        o.sampling.seed = seed;
        auto prompt = model->tokenizer().encode("Once upon a time", true);
        return generate(**session, prompt, o).value().tokens;
    };
    EXPECT_EQ(run(7), run(7));
    EXPECT_NE(run(7), run(8));
}

TEST(Generate, StopStringEndsTextBeforeIt) {
    auto model = stories();
    auto session = Session::create(model, {.n_ctx = 256, .n_threads = 1});
    GenerateOptions o;
    o.max_tokens = 200;
    o.sampling.temperature = 0;
    o.stop = {"Lily"};
    const int32_t bos = model->tokenizer().bos();
    std::string streamed;
    auto r =
        generate(**session, std::span(&bos, 1), o, [&](std::string_view piece, const Sampled&) {
            streamed += piece;
            return true;
        });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->finish, FinishReason::kStop);
    EXPECT_EQ(r->text, "Once upon a time, there was a little girl named ");
    EXPECT_EQ(streamed, r->text);  // the held-back "Li" never reached the stream
}

TEST(Generate, CallbackCancels) {
    auto model = stories();
    auto session = Session::create(model, {.n_ctx = 64, .n_threads = 1});
    GenerateOptions o;
    o.max_tokens = 50;
    o.sampling.temperature = 0;
    int calls = 0;
    const int32_t bos = model->tokenizer().bos();
    auto r = generate(**session, std::span(&bos, 1), o,
                      [&](std::string_view, const Sampled&) { return ++calls < 3; });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->finish, FinishReason::kCancelled);
    EXPECT_EQ(calls, 3);
}

TEST(Generate, LengthLimitAndLogprobs) {
    auto model = stories();
    auto session = Session::create(model, {.n_ctx = 64, .n_threads = 1});
    GenerateOptions o;
    o.max_tokens = 5;
    o.sampling.temperature = 0;
    o.sampling.n_logprobs = 3;
    const int32_t bos = model->tokenizer().bos();
    auto r = generate(**session, std::span(&bos, 1), o);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->finish, FinishReason::kLength);
    ASSERT_EQ(r->samples.size(), 5u);
    for (const auto& s : r->samples) {
        ASSERT_EQ(s.top.size(), 3u);
        EXPECT_EQ(s.top[0].id, s.id);  // greedy picks the most likely token
        EXPECT_LE(s.logprob, 0.0f);
        EXPECT_GE(s.top[0].logprob, s.top[1].logprob);
        EXPECT_GE(s.top[1].logprob, s.top[2].logprob);
    }
}

TEST(Session, PromptLongerThanContextIsAClearError) {
    auto model = stories();
    auto session = Session::create(model, {.n_ctx = 16, .n_threads = 1});
    std::vector<int32_t> prompt(17, 5);
    auto r = (*session)->eval(prompt);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), StatusCode::kResourceExhausted);
    EXPECT_EQ(r.error().message(),
              "session: 17 tokens do not fit: 0 of the context of 16 are used, 16 are free");
    EXPECT_EQ((*session)->n_past(), 0);  // nothing changed
    std::vector<int32_t> bad = {1, 99999};
    auto b = (*session)->eval(bad);
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().code(), StatusCode::kInvalidArgument);
}

TEST(Session, SessionsShareOneModelIndependently) {
    auto model = stories();
    auto a = Session::create(model, {.n_ctx = 64, .n_threads = 1});
    auto b = Session::create(model, {.n_ctx = 64, .n_threads = 1});
    std::vector<int32_t> p1 = {1, 403, 407}, p2 = {1, 261};
    auto la = (*a)->eval(p1);
    std::vector<float> first(la->begin(), la->end());
    ASSERT_TRUE((*b)->eval(p2));
    // Rerunning the same prompt in a truncated session reproduces the logits exactly.
    (*a)->reset();
    auto again = (*a)->eval(p1);
    ASSERT_TRUE(again);
    EXPECT_EQ(std::vector<float>(again->begin(), again->end()), first);
}

TEST(Session, TruncateKeepsThePrefix) {
    auto model = stories();
    auto s = Session::create(model, {.n_ctx = 64, .n_threads = 1});
    std::vector<int32_t> p = {1, 403, 407, 261};
    auto full = (*s)->eval(p);
    std::vector<float> want(full->begin(), full->end());
    (*s)->truncate(2);
    EXPECT_EQ((*s)->n_past(), 2);
    auto again = (*s)->eval(std::span(p).subspan(2));
    ASSERT_TRUE(again);
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR((*again)[i], want[i], 1e-5f);
}

TEST(Sampler, GreedyPenaltiesAndTruncation) {
    std::vector<float> logits = {1.0f, 3.0f, 2.0f, -1.0f};
    Sampler greedy({.temperature = 0});
    EXPECT_EQ(greedy.sample(logits, {}).id, 1);
    // A strong repetition penalty on token 1 makes token 2 the best.
    Sampler penalised({.temperature = 0, .repeat_penalty = 2.0f});
    std::vector<int32_t> history = {1};
    EXPECT_EQ(penalised.sample(logits, history).id, 2);
    Sampler presence({.temperature = 0, .presence_penalty = 1.5f});
    EXPECT_EQ(presence.sample(logits, history).id, 2);
    // top_k = 1 always picks the best token, whatever the temperature and seed.
    for (uint64_t seed = 0; seed < 20; ++seed) {
        Sampler s({.temperature = 5.0f, .top_k = 1, .seed = seed});
        EXPECT_EQ(s.sample(logits, {}).id, 1);
    }
    // min_p = 0.5 keeps only tokens at least half as likely as the best: only token 1 here.
    for (uint64_t seed = 0; seed < 20; ++seed) {
        Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.5f, .seed = seed});
        EXPECT_EQ(s.sample(logits, {}).id, 1);
    }
}

TEST(Sampler, SamplesFollowTheDistribution) {
    // Two tokens with probabilities 0.25 and 0.75 at temperature 1.
    std::vector<float> logits = {0.0f, std::log(3.0f)};
    Sampler s({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f, .seed = 42});
    int ones = 0;
    const int n = 4000;
    for (int i = 0; i < n; ++i) ones += s.sample(logits, {}).id;
    EXPECT_NEAR(ones / double(n), 0.75, 0.03);
    Sampled x = s.sample(logits, {});
    EXPECT_NEAR(x.logprob, x.id == 1 ? std::log(0.75) : std::log(0.25), 1e-5);
}

TEST(ModelLoad, ErrorsAreClear) {
    // Unknown architecture lists the supported ones.
    testing::TinyModelSpec spec;
    spec.arch = "mamba";
    std::string path = testing::temp_path("mamba.gguf");
    ASSERT_TRUE(testing::write_tiny_model(spec, path).ok());
    auto m = Model::load(path);
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().message().find("unsupported architecture 'mamba' (supported: llama, "
                                       "qwen2, gemma3, bert)"),
              std::string::npos)
        << m.error().message();
    std::remove(path.c_str());
}

}  // namespace
}  // namespace ward::engine
